// One ISA variant of the kernels: a table of entry points, one per ISA-dependent kernel. Each
// variant_*.c compiles the same bodies (ops/*.h, through variant.h) for one instruction set and
// exports its table; dispatch.c picks a table at start-up (the best the CPU supports) or when a
// run forces one (`vb_isa_select`), and the public functions of vitkernels.h call through it.
#ifndef VB_KERNEL_TABLE_H
#define VB_KERNEL_TABLE_H
#include "vitconvsmall.h"
#include "vitkernels.h"
#include "vitresize.h"

typedef struct vb_kernel_table {
    vb_isa isa;
    void (*activation_apply)(vb_activation, const float *, float *, size_t);
    void (*bias_act_residual)(float *, size_t, size_t, size_t, const float *, vb_activation,
                              const float *, size_t);
    void (*depthwise_conv2d)(const float *, size_t, size_t, size_t, size_t, const float *, size_t,
                             size_t, const float *, size_t, size_t, size_t, size_t, float *, size_t,
                             size_t, size_t, size_t, vb_activation, const float *);
    void (*pad_nhwc)(const float *, size_t, size_t, size_t, size_t, size_t, size_t, float *, size_t,
                     size_t);
    void (*transpose)(const float *, size_t, size_t, float *);
    void (*im2col)(const float *, size_t, size_t, size_t, size_t, size_t, size_t, size_t, size_t,
                   size_t, size_t, size_t, size_t, size_t, size_t, float *);
    void (*pool2d)(const float *, size_t, size_t, size_t, size_t, size_t, size_t, size_t, size_t,
                   size_t, int, int, float *, size_t, size_t, size_t, size_t);
    void (*sum_rows)(const float *, size_t, size_t, float *);
    void (*layernorm)(const float *, float *, size_t, size_t, size_t, const float *, const float *,
                      float);
    void (*sum_sumsq)(const float *, size_t, double *, double *);
    void (*channel_affine)(const float *, float *, size_t, size_t, const float *, const float *,
                           vb_activation);
    void (*softmax)(const float *, float *, size_t, size_t, size_t);
    void (*binary)(int, const float *, const float *, size_t, float *, size_t);
    void (*scaled_residual)(const float *, const float *, const float *, size_t, float *, size_t);
    void (*attention_online_softmax)(float *, size_t, size_t, const float *, size_t, float *,
                                     float *, float *, size_t, size_t);
    void (*attention_finish)(float *, size_t, size_t, size_t, const float *);
    void (*gemm_packed_strided)(const float *, size_t, const float *, size_t, size_t, size_t,
                                float *, size_t, size_t, int, const float *, vb_activation,
                                const float *, size_t);
    void (*gemm_pack)(const float *, size_t, int, size_t, size_t, float, float *);
    void (*conv_small)(const float *, size_t, size_t, size_t, size_t, size_t, size_t,
                       const float *, size_t, size_t, size_t, size_t, size_t, size_t, size_t,
                       float *, size_t, size_t, size_t, size_t, vb_activation, const float *);
    void (*winograd3x3)(const float *, size_t, size_t, size_t, size_t, const float *, size_t,
                        const float *, float *, size_t, size_t, vb_activation, const float *, float *);
    void (*resize_bilinear_nhwc)(const float *, size_t, size_t, const int64_t *, const float *,
                                 const int64_t *, const float *, float *, size_t, size_t, size_t);
} vb_kernel_table;

// The variants built for this architecture (dispatch.c lists them; others are not linked).
#if defined(__x86_64__) && defined(__clang__)
extern const vb_kernel_table vb_kernels_avx512;
extern const vb_kernel_table vb_kernels_avx2;
#endif
extern const vb_kernel_table vb_kernels_baseline;

// Layout constants shared by the packing functions (packing.c, ops/gemm.h) and the kernels.
#define VB_GEMM_NR VB_GEMM_PANEL_COLUMNS
#define VB_CONV_SMALL_PANEL 64
#endif
