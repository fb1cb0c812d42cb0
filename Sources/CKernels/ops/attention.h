// The softmax side of streaming (flash-style) attention: the online softmax over one key block
// (with an additive bias), and the final normalisation. The products run on the GEMM.
// A body compiled once per ISA variant (variant.h).

// bias (LeViT's attention biases; may be NULL) is added in the pass that finds the row maximum,
// not in a pass of its own over the scores (levit_128 spent 3% of its time in that pass).
// On a row's first key block (m = -inf) the output holds nothing yet and is not rescaled (with a
// single key block the values' product then writes it without reading it).
static void k_attention_online_softmax(float *s, size_t rows, size_t cols, const float *bias,
                                       size_t ldb, float *m, float *l, float *o, size_t dv,
                                       size_t ldo) {
    // Sums and maxima may be reassociated: that is what lets them vectorise.
    #pragma clang fp reassociate(on)
    for (size_t r = 0; r < rows; r++) {
        float *restrict sr = s + r * cols;
        const float mx = vb_max_add(sr, bias ? bias + r * ldb : NULL, cols, m[r]);
        const int first = m[r] == -INFINITY;
        const float alpha = vb_exp(m[r] - mx);  // 0 on the first block (m = -inf)
        float sum = 0.0f;
        for (size_t c = 0; c < cols; c++) {
            sr[c] = vb_exp(sr[c] - mx);
            sum += sr[c];
        }
        l[r] = l[r] * alpha + sum;
        m[r] = mx;
        if (!first) {
            float *restrict orow = o + r * ldo;
            for (size_t c = 0; c < dv; c++) orow[c] *= alpha;
        }
    }
}

static void k_attention_finish(float *o, size_t rows, size_t dv, size_t ldo, const float *l) {
    for (size_t r = 0; r < rows; r++) {
        const float inv = 1.0f / l[r];
        float *restrict orow = o + r * ldo;
        for (size_t c = 0; c < dv; c++) orow[c] *= inv;
    }
}
