// Average and max pooling, NHWC. A body compiled once per ISA variant (variant.h).

static void k_pool2d(const float *x, size_t ih, size_t iw, size_t c, size_t kh, size_t kw,
                     size_t stride_h, size_t stride_w, size_t pad_h, size_t pad_w, int is_max,
                     int count_include_pad, float *y, size_t oh, size_t ow, size_t oy0,
                     size_t oy1) {
    (void)oh;
    for (size_t oy = oy0; oy < oy1; oy++) {
        const long iy0 = (long)(oy * stride_h) - (long)pad_h;
        const long ya = iy0 < 0 ? 0 : iy0;
        const long yb = iy0 + (long)kh > (long)ih ? (long)ih : iy0 + (long)kh;
        // PyTorch's divisor with count_include_pad counts padding but not the overhang past it.
        const long ypa = iy0, ypb = iy0 + (long)kh > (long)(ih + pad_h) ? (long)(ih + pad_h) : iy0 + (long)kh;
        for (size_t ox = 0; ox < ow; ox++) {
            const long ix0 = (long)(ox * stride_w) - (long)pad_w;
            const long xa = ix0 < 0 ? 0 : ix0;
            const long xb = ix0 + (long)kw > (long)iw ? (long)iw : ix0 + (long)kw;
            float *restrict d = y + (oy * ow + ox) * c;
            if (is_max) {
                for (size_t ch = 0; ch < c; ch++) d[ch] = -INFINITY;
                for (long iy = ya; iy < yb; iy++)
                    for (long ix = xa; ix < xb; ix++) {
                        const float *restrict s = x + ((size_t)iy * iw + (size_t)ix) * c;
                        for (size_t ch = 0; ch < c; ch++) d[ch] = fmaxf(d[ch], s[ch]);
                    }
            } else {
                for (size_t ch = 0; ch < c; ch++) d[ch] = 0.0f;
                for (long iy = ya; iy < yb; iy++)
                    for (long ix = xa; ix < xb; ix++) {
                        const float *restrict s = x + ((size_t)iy * iw + (size_t)ix) * c;
                        for (size_t ch = 0; ch < c; ch++) d[ch] += s[ch];
                    }
                long n;
                if (count_include_pad) {
                    const long xpb = ix0 + (long)kw > (long)(iw + pad_w) ? (long)(iw + pad_w) : ix0 + (long)kw;
                    n = (ypb - ypa) * (xpb - ix0);
                } else {
                    n = (yb - ya) * (xb - xa);
                }
                const float inv = n > 0 ? 1.0f / (float)n : 0.0f;
                for (size_t ch = 0; ch < c; ch++) d[ch] *= inv;
            }
        }
    }
}
