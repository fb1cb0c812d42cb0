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
    const size_t full = cols / VL * VL;
    for (size_t r = 0; r < rows; r++) {
        float *restrict sr = s + r * cols;
        const float mx = vb_max_add(sr, bias ? bias + r * ldb : NULL, cols, m[r]);
        // The last cols % 16 scores (196 keys: 4, DeiT's 197: 5) as one vector, not a scalar
        // exp each: the row's last 16 scores, copied before the loop overwrites any of them, go
        // through one 16-wide exp and are stored back over the row's end (the lanes the loop
        // also computed get the same values). Rows under 16 keys take a zero-padded vector.
        const size_t tail = cols - full;
        float t[VL] = {0};
        if (tail && cols >= VL) {
            memcpy(t, sr + cols - VL, sizeof t);
        } else {
            for (size_t j = 0; j < tail; j++) t[j] = sr[full + j];
        }
        float sum = 0.0f;
        for (size_t c = 0; c < full; c++) {
            sr[c] = vb_exp(sr[c] - mx);
            sum += sr[c];
        }
        if (tail) {
            for (int j = 0; j < VL; j++) t[j] = vb_exp(t[j] - mx);
            const size_t first = cols >= VL ? VL - tail : 0;
            for (size_t j = first; j < first + tail; j++) sum += t[j];
            if (cols >= VL) {
                memcpy(sr + cols - VL, t, sizeof t);
            } else {
                for (size_t j = 0; j < tail; j++) sr[j] = t[j];
            }
        }
        if (m[r] == -INFINITY) {
            l[r] = sum;  // the first block: nothing to rescale, no exp of -inf
        } else {
            const float alpha = vb_exp(m[r] - mx);
            l[r] = l[r] * alpha + sum;
            float *restrict orow = o + r * ldo;
            for (size_t c = 0; c < dv; c++) orow[c] *= alpha;
        }
        m[r] = mx;
    }
}

static void k_attention_finish(float *o, size_t rows, size_t dv, size_t ldo, const float *l) {
    for (size_t r = 0; r < rows; r++) {
        const float inv = 1.0f / l[r];
        float *restrict orow = o + r * ldo;
        for (size_t c = 0; c < dv; c++) orow[c] *= inv;
    }
}
