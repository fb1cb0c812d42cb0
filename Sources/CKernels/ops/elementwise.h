// Elementwise kernels: activations, GEMM/conv epilogues, per-channel affines, binary ops and
// reductions. A body compiled once per ISA variant (variant.h), not a standalone header.

static void k_activation_apply(vb_activation act, const float *x, float *y, size_t n) {
    VB_ACT_LOOP(act, for (size_t i = 0; i < n; i++) y[i] = vb_act(A_, x[i]))
}

static void k_bias_act_residual(float *y, size_t rows, size_t cols, size_t ld, const float *bias,
                                vb_activation act, const float *residual, size_t ldr) {
    for (size_t r = 0; r < rows; r++) {
        float *restrict yr = y + r * ld;
        if (bias) {
            VB_ACT_LOOP(act, for (size_t c = 0; c < cols; c++) yr[c] = vb_act(A_, yr[c] + bias[c]))
        } else if (act != VB_ACT_NONE) {
            VB_ACT_LOOP(act, for (size_t c = 0; c < cols; c++) yr[c] = vb_act(A_, yr[c]))
        }
        if (residual) {
            const float *restrict rr = residual + r * ldr;
            for (size_t c = 0; c < cols; c++) yr[c] += rr[c];
        }
    }
}

static void k_channel_affine(const float *x, float *y, size_t rows, size_t c, const float *scale,
                             const float *shift, vb_activation act) {
    VB_ACT_LOOP(act, for (size_t r = 0; r < rows; r++) {
        const float *s = x + r * c;
        float *d = y + r * c;
        for (size_t ch = 0; ch < c; ch++) d[ch] = vb_act(A_, s[ch] * scale[ch] + shift[ch]);
    })
}

static void k_binary(int op, const float *a, const float *b, size_t b_period, float *y, size_t n) {
    if (b_period == n) {
        switch (op) {
        case 0: for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i]; break;
        case 1: for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i]; break;
        default: for (size_t i = 0; i < n; i++) y[i] = a[i] - b[i]; break;
        }
        return;
    }
    for (size_t base = 0; base < n; base += b_period) {
        const float *restrict ar = a + base;
        float *restrict yr = y + base;
        switch (op) {
        case 0: for (size_t i = 0; i < b_period; i++) yr[i] = ar[i] + b[i]; break;
        case 1: for (size_t i = 0; i < b_period; i++) yr[i] = ar[i] * b[i]; break;
        default: for (size_t i = 0; i < b_period; i++) yr[i] = ar[i] - b[i]; break;
        }
    }
}

static void k_scaled_residual(const float *a, const float *b, const float *s, size_t c, float *y,
                              size_t n) {
    for (size_t base = 0; base < n; base += c)
        for (size_t i = 0; i < c; i++) y[base + i] = a[base + i] + s[i] * b[base + i];
}

static void k_sum_rows(const float *x, size_t rows, size_t c, float *acc) {
    for (size_t r = 0; r < rows; r++) {
        const float *restrict s = x + r * c;
        for (size_t ch = 0; ch < c; ch++) acc[ch] += s[ch];
    }
}

static void k_sum_sumsq(const float *x, size_t n, double *sum, double *sumsq) {
    // Sums and maxima may be reassociated: that is what lets them vectorise.
    #pragma clang fp reassociate(on)
    // Blocks of float partial sums, accumulated into double: fast and accurate enough for
    // millions of elements.
    double s = 0.0, q = 0.0;
    for (size_t b = 0; b < n; b += 4096) {
        size_t e = b + 4096 < n ? b + 4096 : n;
        float fs = 0.0f, fq = 0.0f;
        for (size_t i = b; i < e; i++) {
            fs += x[i];
            fq += x[i] * x[i];
        }
        s += fs;
        q += fq;
    }
    *sum += s;
    *sumsq += q;
}
