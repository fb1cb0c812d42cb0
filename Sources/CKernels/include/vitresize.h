#pragma once
// Resampling kernels of vitbench's engine (same conventions as vitkernels.h: NHWC float32, a
// sub-range of the outer loop per call, no threads of their own).
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Bilinear resampling of one NHWC image [ih, iw, c] into output rows [oy0, oy1) of [oh, ow, c].
/// The source positions come as tables built once per shape: output row oy blends input rows
/// rows[2·oy] and rows[2·oy+1] with weights row_weights[2·oy] and row_weights[2·oy+1], and
/// likewise columns (cols, col_weights, 2·ow entries each). Output pixel (oy, ox) is
/// wy0·(wx0·x[r0,c0] + wx1·x[r0,c1]) + wy1·(wx0·x[r1,c0] + wx1·x[r1,c1]).
void vb_resize_bilinear_nhwc(const float *x, size_t iw, size_t c, const int64_t *rows,
                             const float *row_weights, const int64_t *cols,
                             const float *col_weights, float *y, size_t ow, size_t oy0,
                             size_t oy1);

#ifdef __cplusplus
}
#endif
