// Bilinear resampling, NHWC (see include/vitresize.h). A body compiled once per ISA variant
// (variant.h).

static void k_resize_bilinear_nhwc(const float *x, size_t iw, size_t c, const int64_t *rows,
                                   const float *row_weights, const int64_t *cols,
                                   const float *col_weights, float *y, size_t ow, size_t oy0,
                                   size_t oy1) {
    for (size_t oy = oy0; oy < oy1; oy++) {
        const float *top = x + (size_t)rows[2 * oy] * iw * c;
        const float *bottom = x + (size_t)rows[2 * oy + 1] * iw * c;
        const float wy0 = row_weights[2 * oy], wy1 = row_weights[2 * oy + 1];
        for (size_t ox = 0; ox < ow; ox++) {
            const size_t c0 = (size_t)cols[2 * ox] * c, c1 = (size_t)cols[2 * ox + 1] * c;
            const float wx0 = col_weights[2 * ox], wx1 = col_weights[2 * ox + 1];
            const float *restrict a = top + c0, *restrict b = top + c1;
            const float *restrict d = bottom + c0, *restrict e = bottom + c1;
            float *restrict out = y + (oy * ow + ox) * c;
            // Channels are contiguous: this loop is the one the compiler vectorises.
            for (size_t ch = 0; ch < c; ch++) {
                out[ch] = wy0 * (wx0 * a[ch] + wx1 * b[ch]) + wy1 * (wx0 * d[ch] + wx1 * e[ch]);
            }
        }
    }
}
