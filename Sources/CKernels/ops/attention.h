// The softmax side of streaming (flash-style) attention: score scaling and bias, the online
// softmax over one key block, and the final normalisation. The products run on the GEMM.
// A body compiled once per ISA variant (variant.h).

static void k_scale_add_bias(float *s, size_t rows, size_t cols, float scale, const float *bias,
                             size_t ldb) {
    for (size_t r = 0; r < rows; r++) {
        float *restrict d = s + r * cols;
        if (bias) {
            const float *restrict b = bias + r * ldb;
            for (size_t c = 0; c < cols; c++) d[c] = d[c] * scale + b[c];
        } else {
            for (size_t c = 0; c < cols; c++) d[c] *= scale;
        }
    }
}

static void k_attention_online_softmax(float *s, size_t rows, size_t cols, float *m, float *l,
                                       float *o, size_t dv, size_t ldo) {
    // Sums and maxima may be reassociated: that is what lets them vectorise.
    #pragma clang fp reassociate(on)
    for (size_t r = 0; r < rows; r++) {
        float *restrict sr = s + r * cols;
        float mx = m[r];
        for (size_t c = 0; c < cols; c++) mx = fmaxf(mx, sr[c]);
        const float alpha = vb_exp(m[r] - mx);  // 0 on the first block (m = -inf)
        float sum = 0.0f;
        for (size_t c = 0; c < cols; c++) {
            sr[c] = vb_exp(sr[c] - mx);
            sum += sr[c];
        }
        l[r] = l[r] * alpha + sum;
        m[r] = mx;
        float *restrict orow = o + r * ldo;
        for (size_t c = 0; c < dv; c++) orow[c] *= alpha;
    }
}

static void k_attention_finish(float *o, size_t rows, size_t dv, size_t ldo, const float *l) {
    for (size_t r = 0; r < rows; r++) {
        const float inv = 1.0f / l[r];
        float *restrict orow = o + r * ldo;
        for (size_t c = 0; c < dv; c++) orow[c] *= inv;
    }
}
