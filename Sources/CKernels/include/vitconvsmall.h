#pragma once
// Direct convolution for few input channels: the stems and patch embeddings that read the image.
//
// With 3 input channels an im2col column has only kh·kw·3 entries (27 for a 3x3 stem), so a GEMM
// over it spends its time on packing and short K loops. This kernel instead broadcasts each input
// value once per tap and multiplies it into 16-wide vectors of output channels, keeping a tile of
// several output pixels × several channel vectors in registers across all taps.
#include <stddef.h>

#include "vitkernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Floats `vb_conv_small_pack` writes: the weights with cout rounded up to a multiple of 16, then
/// the bias (also rounded up).
size_t vb_conv_small_packed_size(size_t cout, size_t cin, size_t kh, size_t kw);

/// Packs PyTorch weights [cout, cin, kh, kw] in panels of 64 output channels,
/// [panel][kh][kw][cin][64] (the last panel as wide as the channels left, rounded up to 16),
/// followed by the bias [cout rounded up to 16] (zeros where bias is NULL and in the padding).
void vb_conv_small_pack(const float *weight, const float *bias, size_t cout, size_t cin, size_t kh,
                        size_t kw, float *packed);

/// Convolution with groups = 1 of one image, output rows [oy0, oy1), output NHWC [oh, ow, cout].
/// Input value (iy, ix, c) is x[iy·row_stride + ix·pixel_stride + c·channel_stride], so the
/// input may be NHWC (iw·cin, cin, 1) or NCHW (iw, 1, ih·iw). `packed` comes from
/// `vb_conv_small_pack`. Epilogue: act, then + residual ([oh, ow, cout], may be NULL).
/// kw·cin must be at most VB_CONV_SMALL_MAX_ROW_TAPS.
void vb_conv_small(const float *x, size_t ih, size_t iw, size_t cin, size_t row_stride,
                   size_t pixel_stride, size_t channel_stride, const float *packed, size_t cout,
                   size_t kh, size_t kw, size_t stride_h, size_t stride_w, size_t pad_h,
                   size_t pad_w, float *y, size_t oh, size_t ow, size_t oy0, size_t oy1,
                   vb_activation act, const float *residual);

/// The most input values one kernel row reads per output pixel (kw·cin).
#define VB_CONV_SMALL_MAX_ROW_TAPS 256

#ifdef __cplusplus
}
#endif
