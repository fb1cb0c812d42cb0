// Layout kernels: zero padding, transposes and im2col. A body compiled once per ISA variant
// (variant.h).

static void k_pad_nhwc(const float *x, size_t ih, size_t iw, size_t c, size_t mult, size_t pad_h,
                       size_t pad_w, float *y, size_t r0, size_t r1) {
    const size_t pw = iw + 2 * pad_w, co = c * mult;
    for (size_t r = r0; r < r1; r++) {
        float *dst = y + r * pw * co;
        if (r < pad_h || r >= ih + pad_h) {
            memset(dst, 0, pw * co * sizeof(float));
            continue;
        }
        memset(dst, 0, pad_w * co * sizeof(float));
        const float *src = x + (r - pad_h) * iw * c;
        if (mult == 1) {
            memcpy(dst + pad_w * co, src, iw * c * sizeof(float));
        } else if (mult == 2) {
            float *d = dst + pad_w * co;
            for (size_t i = 0; i < iw * c; i++) {
                d[2 * i] = src[i];
                d[2 * i + 1] = src[i];
            }
        } else {
            for (size_t px = 0; px < iw; px++)
                for (size_t o = 0; o < co; o++) dst[(pad_w + px) * co + o] = src[px * c + o / mult];
        }
        memset(dst + (pad_w + iw) * co, 0, pad_w * co * sizeof(float));
    }
}

static void k_transpose(const float *x, size_t rows, size_t cols, float *y) {
    // Blocks of 16 rows keep both sides' cache lines live.
    for (size_t r0 = 0; r0 < rows; r0 += 16) {
        const size_t r1 = r0 + 16 < rows ? r0 + 16 : rows;
        for (size_t c = 0; c < cols; c++)
            for (size_t r = r0; r < r1; r++) y[c * rows + r] = x[r * cols + c];
    }
}

static void k_im2col(const float *x, size_t ih, size_t iw, size_t cstride, size_t c0,
                     size_t cg, size_t kh, size_t kw, size_t stride_h, size_t stride_w,
                     size_t pad_h, size_t pad_w, size_t ow, size_t p0, size_t p1, float *col) {
    const size_t kcols = kh * kw * cg;
    for (size_t p = p0; p < p1; p++) {
        const size_t oy = p / ow, ox = p % ow;
        float *dst = col + (p - p0) * kcols;
        for (size_t ky = 0; ky < kh; ky++) {
            const long iy = (long)(oy * stride_h + ky) - (long)pad_h;
            for (size_t kx = 0; kx < kw; kx++) {
                const long ix = (long)(ox * stride_w + kx) - (long)pad_w;
                float *d = dst + (ky * kw + kx) * cg;
                const int inside = iy >= 0 && iy < (long)ih && ix >= 0 && ix < (long)iw;
                if (cg < 16) {
                    // Stems (3 channels): a call to memcpy per tap would cost more than the copy.
                    const float *src = x + ((size_t)(inside ? iy : 0) * iw + (size_t)(inside ? ix : 0)) * cstride + c0;
                    for (size_t c = 0; c < cg; c++) d[c] = inside ? src[c] : 0.0f;
                } else if (!inside) {
                    memset(d, 0, cg * sizeof(float));
                } else {
                    memcpy(d, x + ((size_t)iy * iw + (size_t)ix) * cstride + c0, cg * sizeof(float));
                }
            }
        }
    }
}
