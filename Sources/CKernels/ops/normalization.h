// LayerNorm and softmax over rows. A body compiled once per ISA variant (variant.h).

static void k_layernorm(const float *x, float *y, size_t c, size_t r0, size_t r1,
                        const float *gamma, const float *beta, float eps) {
    // Sums and maxima may be reassociated: that is what lets them vectorise.
    #pragma clang fp reassociate(on)
    for (size_t r = r0; r < r1; r++) {
        const float *restrict s = x + r * c;
        float *restrict d = y + r * c;
        float mean = 0.0f;
        for (size_t i = 0; i < c; i++) mean += s[i];
        mean /= (float)c;
        float var = 0.0f;
        for (size_t i = 0; i < c; i++) {
            float t = s[i] - mean;
            var += t * t;
        }
        var /= (float)c;
        const float rstd = 1.0f / sqrtf(var + eps);
        for (size_t i = 0; i < c; i++) d[i] = (s[i] - mean) * rstd * gamma[i] + beta[i];
    }
}

static void k_softmax(const float *x, float *y, size_t c, size_t r0, size_t r1) {
    // Sums and maxima may be reassociated: that is what lets them vectorise.
    #pragma clang fp reassociate(on)
    // The rows are copied first when not in place, so that every loop below reads and writes one
    // pointer: with two that may alias (attention maps are softmaxed in place), the compiler's
    // run-time overlap check fails and the exp loop ran scalar — 5x slower.
    for (size_t r = r0; r < r1; r++) {
        float *restrict d = y + r * c;
        if (x != y) memcpy(d, x + r * c, c * sizeof(float));
        const float m = vb_max_add(d, NULL, c, -INFINITY);
        float sum = 0.0f;
        for (size_t i = 0; i < c; i++) {
            d[i] = vb_exp(d[i] - m);
            sum += d[i];
        }
        const float inv = 1.0f / sum;
        for (size_t i = 0; i < c; i++) d[i] *= inv;
    }
}
