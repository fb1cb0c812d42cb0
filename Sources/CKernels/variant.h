// The kernels of one ISA variant. A variant_*.c file names its variant (VB_VARIANT_*), sets its
// tile shapes (VB_GEMM_MR, VB_GEMM_P), opens a target region and includes this file, which
// compiles every op family's body for that instruction set and exports the variant's table.
// Adding a kernel: its body in ops/, one entry in vb_kernel_table and below, one public wrapper
// in dispatch.c.
#include "kernel_table.h"
#include "vector.h"

#include "ops/elementwise.h"
#include "ops/normalization.h"
#include "ops/attention.h"
#include "ops/depthwise.h"
#include "ops/layout.h"
#include "ops/pooling.h"
#include "ops/resize.h"
#include "ops/gemm.h"
#include "ops/conv_small.h"
#include "ops/winograd.h"

const vb_kernel_table VB_VARIANT_TABLE = {
    .isa = VB_VARIANT_ISA,
    .activation_apply = k_activation_apply,
    .bias_act_residual = k_bias_act_residual,
    .depthwise_conv2d = k_depthwise_conv2d,
    .pad_nhwc = k_pad_nhwc,
    .transpose = k_transpose,
    .im2col = k_im2col,
    .pool2d = k_pool2d,
    .sum_rows = k_sum_rows,
    .layernorm = k_layernorm,
    .sum_sumsq = k_sum_sumsq,
    .channel_affine = k_channel_affine,
    .softmax = k_softmax,
    .binary = k_binary,
    .scaled_residual = k_scaled_residual,
    .attention_online_softmax = k_attention_online_softmax,
    .attention_finish = k_attention_finish,
    .gemm_packed_strided = k_gemm_packed_strided,
    .gemm_pack = k_gemm_pack,
    .conv_small = k_conv_small,
    .winograd3x3 = k_winograd3x3,
    .resize_bilinear_nhwc = k_resize_bilinear_nhwc,
};
