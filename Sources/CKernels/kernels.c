// Optimised kernels; see include/vitkernels.h for the contract of each.
#include "vitkernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__clang__) && !defined(VB_NO_CLONES)
// One body, three instruction sets; the loader's ifunc resolver picks one per CPU.
#define VB_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VB_CLONES
#endif

// 16 floats: one AVX-512 register, two AVX2 registers, four SSE/NEON registers.
typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));
#define VL 16

// Macros, not functions: a v16 crossing a function boundary would change the ABI per target.
#define load16(p) (*(const v16u *)(p))
#define store16(p, v) (*(v16u *)(p) = (v))
#define splat16(f) ((v16){} + (f))

const char *vb_kernel_isa(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "x86-64-v4 (AVX-512)";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "x86-64-v3 (AVX2+FMA)";
    return "x86-64 baseline (SSE2)";
#elif defined(__aarch64__)
    return "aarch64 (NEON)";
#else
    return "portable C";
#endif
}

// ---------------------------------------------------------------------------------------------
// Scalar math written so that the compiler vectorises loops that call it (no libm calls).

static inline float vb_exp(float x) {
    x = fminf(fmaxf(x, -87.3365478515625f), 88.3762626647949f);
    float n = __builtin_rintf(x * 1.44269504088896341f);
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

// Abramowitz & Stegun 7.1.28: erf(x) = 1 − (1 + a₁x + … + a₆x⁶)⁻¹⁶, |error| < 3e-7 — a
// polynomial, four squarings and one division: about half the work of an exp-based form, which
// matters because GELU runs on every hidden unit of every MLP.
static inline float vb_erf(float x) {
    float a = fminf(fabsf(x), 6.0f);
    float p = ((((((0.0000430638f * a + 0.0002765672f) * a + 0.0001520143f) * a + 0.0092705272f) * a +
                 0.0422820123f) * a + 0.0705230784f) * a + 1.0f);
    p = p * p;  // ^2
    p = p * p;  // ^4
    p = p * p;  // ^8
    p = p * p;  // ^16
    return copysignf(1.0f - 1.0f / p, x);
}

static inline float vb_tanh(float x) {
    float e = vb_exp(2.0f * fminf(fmaxf(x, -9.0f), 9.0f));
    return 1.0f - 2.0f / (e + 1.0f);
}

static inline float vb_act(vb_activation act, float v) {
    switch (act) {
    case VB_ACT_NONE: return v;
    case VB_ACT_RELU: return fmaxf(v, 0.0f);
    case VB_ACT_GELU_ERF: return 0.5f * v * (1.0f + vb_erf(v * 0.70710678118654752f));
    case VB_ACT_GELU_TANH:
        return 0.5f * v * (1.0f + vb_tanh(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    case VB_ACT_SILU: return v / (1.0f + vb_exp(-v));
    case VB_ACT_HARDSWISH: return v * fminf(fmaxf(v + 3.0f, 0.0f), 6.0f) * (1.0f / 6.0f);
    case VB_ACT_HARDSIGMOID: return fminf(fmaxf(v + 3.0f, 0.0f), 6.0f) * (1.0f / 6.0f);
    case VB_ACT_SIGMOID: return 1.0f / (1.0f + vb_exp(-v));
    }
    return v;
}

// The switch is hoisted out of the loop by instantiating one loop per activation.
#define VB_ACT_LOOP(ACT, BODY)                                                                \
    switch (ACT) {                                                                            \
    case VB_ACT_NONE: { const vb_activation A_ = VB_ACT_NONE; BODY; } break;                  \
    case VB_ACT_RELU: { const vb_activation A_ = VB_ACT_RELU; BODY; } break;                  \
    case VB_ACT_GELU_ERF: { const vb_activation A_ = VB_ACT_GELU_ERF; BODY; } break;          \
    case VB_ACT_GELU_TANH: { const vb_activation A_ = VB_ACT_GELU_TANH; BODY; } break;        \
    case VB_ACT_SILU: { const vb_activation A_ = VB_ACT_SILU; BODY; } break;                  \
    case VB_ACT_HARDSWISH: { const vb_activation A_ = VB_ACT_HARDSWISH; BODY; } break;        \
    case VB_ACT_HARDSIGMOID: { const vb_activation A_ = VB_ACT_HARDSIGMOID; BODY; } break;    \
    case VB_ACT_SIGMOID: { const vb_activation A_ = VB_ACT_SIGMOID; BODY; } break;            \
    }

VB_CLONES void vb_activation_apply(vb_activation act, const float *x, float *y, size_t n) {
    VB_ACT_LOOP(act, for (size_t i = 0; i < n; i++) y[i] = vb_act(A_, x[i]))
}

VB_CLONES void vb_bias_act_residual(float *y, size_t rows, size_t cols, size_t ld,
                                    const float *bias, vb_activation act, const float *residual,
                                    size_t ldr) {
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

// ---------------------------------------------------------------------------------------------
// Depthwise convolution. The hot path keeps a 4-pixel x 16-channel tile of accumulators in
// registers across all kh*kw taps (one weight load feeds four FMAs); borders and channel tails
// take a simple loop.

#define XT 4

static inline void dw_pixel_generic(const float *x, size_t ih, size_t iw, size_t cin, size_t mult,
                                    const float *w, size_t kh, size_t kw, const float *bias,
                                    long iy0, long ix0, size_t c0, size_t c1, size_t cout,
                                    float *out) {
    for (size_t c = c0; c < c1; c++) out[c - c0] = bias ? bias[c] : 0.0f;
    for (size_t ky = 0; ky < kh; ky++) {
        long iy = iy0 + (long)ky;
        if (iy < 0 || iy >= (long)ih) continue;
        for (size_t kx = 0; kx < kw; kx++) {
            long ix = ix0 + (long)kx;
            if (ix < 0 || ix >= (long)iw) continue;
            const float *xp = x + ((size_t)iy * iw + (size_t)ix) * cin;
            const float *wp = w + (ky * kw + kx) * cout;
            if (mult == 1) {
                for (size_t c = c0; c < c1; c++) out[c - c0] += xp[c] * wp[c];
            } else {
                for (size_t c = c0; c < c1; c++) out[c - c0] += xp[c / mult] * wp[c];
            }
        }
    }
}


// One output pixel, all channels, accumulators in registers: four 16-channel chains at a time
// so that FMA latency is hidden when only one pixel can be computed (borders, remainders).
static inline void dw_pixel_vec(const float *x, size_t ih, size_t iw, size_t cin, const float *w,
                                size_t kh, size_t kw, const float *bias, long iy0, long ix0,
                                size_t ky0, size_t ky1, float *out) {
    const size_t cout = cin;
    const size_t kx0 = ix0 < 0 ? (size_t)(-ix0) : 0;
    const size_t kx1 = (long)iw - ix0 < (long)kw ? (size_t)((long)iw - ix0) : kw;
    size_t c = 0;
    for (; c + 4 * VL <= cout; c += 4 * VL) {
        v16 a0 = bias ? load16(bias + c) : splat16(0.0f);
        v16 a1 = bias ? load16(bias + c + VL) : splat16(0.0f);
        v16 a2 = bias ? load16(bias + c + 2 * VL) : splat16(0.0f);
        v16 a3 = bias ? load16(bias + c + 3 * VL) : splat16(0.0f);
        for (size_t ky = ky0; ky < ky1; ky++) {
            const float *xr = x + ((size_t)(iy0 + (long)ky) * iw) * cin + c;
            const float *wr = w + ky * kw * cout + c;
            for (size_t kx = kx0; kx < kx1; kx++) {
                const float *xp = xr + (size_t)(ix0 + (long)kx) * cin;
                const float *wp = wr + kx * cout;
                a0 += load16(xp) * load16(wp);
                a1 += load16(xp + VL) * load16(wp + VL);
                a2 += load16(xp + 2 * VL) * load16(wp + 2 * VL);
                a3 += load16(xp + 3 * VL) * load16(wp + 3 * VL);
            }
        }
        store16(out + c, a0);
        store16(out + c + VL, a1);
        store16(out + c + 2 * VL, a2);
        store16(out + c + 3 * VL, a3);
    }
    for (; c + VL <= cout; c += VL) {
        v16 a0 = bias ? load16(bias + c) : splat16(0.0f);
        for (size_t ky = ky0; ky < ky1; ky++) {
            const float *xr = x + ((size_t)(iy0 + (long)ky) * iw) * cin + c;
            const float *wr = w + ky * kw * cout + c;
            for (size_t kx = kx0; kx < kx1; kx++)
                a0 += load16(xr + (size_t)(ix0 + (long)kx) * cin) * load16(wr + kx * cout);
        }
        store16(out + c, a0);
    }
    if (c < cout)
        dw_pixel_generic(x, ih, iw, cin, 1, w, kh, kw, bias, iy0, ix0, c, cout, cout, out + c);
}

VB_CLONES void vb_depthwise_conv2d(const float *x, size_t ih, size_t iw, size_t cin, size_t mult,
                                   const float *w, size_t kh, size_t kw, const float *bias,
                                   size_t stride_h, size_t stride_w, size_t pad_h, size_t pad_w,
                                   float *y, size_t oh, size_t ow, size_t oy0, size_t oy1,
                                   vb_activation act, const float *residual) {
    const size_t cout = cin * mult;
    const size_t cfull = mult == 1 ? cout / VL * VL : 0;
    // Output columns whose whole kernel window lies inside the input.
    size_t ox_lo = (pad_w + stride_w - 1) / stride_w;
    size_t ox_hi = (iw + pad_w >= kw) ? (iw + pad_w - kw) / stride_w + 1 : 0;
    if (ox_hi > ow) ox_hi = ow;
    if (ox_lo > ox_hi) ox_lo = ox_hi;
    for (size_t oy = oy0; oy < oy1; oy++) {
        const long iy0 = (long)(oy * stride_h) - (long)pad_h;
        size_t ky0 = iy0 < 0 ? (size_t)(-iy0) : 0;
        size_t ky1 = (long)ih - iy0 < (long)kh ? (size_t)((long)ih - iy0) : kh;
        float *yrow = y + oy * ow * cout;
        size_t ox = 0;
#define DW_PIXEL(OX)                                                                              \
    do {                                                                                          \
        const long ix0_ = (long)((OX) * stride_w) - (long)pad_w;                                  \
        if (mult == 1)                                                                            \
            dw_pixel_vec(x, ih, iw, cin, w, kh, kw, bias, iy0, ix0_, ky0, ky1, yrow + (OX) * cout); \
        else                                                                                      \
            dw_pixel_generic(x, ih, iw, cin, mult, w, kh, kw, bias, iy0, ix0_, 0, cout, cout,     \
                             yrow + (OX) * cout);                                                 \
    } while (0)
        // Left border, then 4-wide interior tiles, then the rest.
        for (; ox < ox_lo; ox++)
            DW_PIXEL(ox);
        for (; ox + XT <= ox_hi; ox += XT) {
            const size_t ixb = ox * stride_w - pad_w;
            for (size_t c = 0; c < cfull; c += VL) {
                v16 b = bias ? load16(bias + c) : splat16(0.0f);
                v16 a0 = b, a1 = b, a2 = b, a3 = b;
                for (size_t ky = ky0; ky < ky1; ky++) {
                    const float *xr = x + ((size_t)(iy0 + (long)ky) * iw + ixb) * cin + c;
                    const float *wr = w + ky * kw * cout + c;
                    for (size_t kx = 0; kx < kw; kx++) {
                        v16 wv = load16(wr + kx * cout);
                        const float *xp = xr + kx * cin;
                        a0 += load16(xp) * wv;
                        a1 += load16(xp + stride_w * cin) * wv;
                        a2 += load16(xp + 2 * stride_w * cin) * wv;
                        a3 += load16(xp + 3 * stride_w * cin) * wv;
                    }
                }
                float *yp = yrow + ox * cout + c;
                store16(yp, a0);
                store16(yp + cout, a1);
                store16(yp + 2 * cout, a2);
                store16(yp + 3 * cout, a3);
            }
            if (cfull < cout)
                for (size_t t = 0; t < XT; t++)
                    dw_pixel_generic(x, ih, iw, cin, mult, w, kh, kw, bias, iy0,
                                     (long)((ox + t) * stride_w) - (long)pad_w, cfull, cout, cout,
                                     yrow + (ox + t) * cout + cfull);
        }
        for (; ox < ow; ox++)
            DW_PIXEL(ox);
#undef DW_PIXEL
        if (act != VB_ACT_NONE || residual)
            vb_bias_act_residual(yrow, 1, ow * cout, ow * cout, NULL, act,
                                 residual ? residual + oy * ow * cout : NULL, ow * cout);
    }
}

VB_CLONES void vb_pad_nhwc(const float *x, size_t ih, size_t iw, size_t c, size_t mult, size_t pad_h,
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

VB_CLONES void vb_transpose(const float *x, size_t rows, size_t cols, float *y) {
    // Blocks of 16 rows keep both sides' cache lines live.
    for (size_t r0 = 0; r0 < rows; r0 += 16) {
        const size_t r1 = r0 + 16 < rows ? r0 + 16 : rows;
        for (size_t c = 0; c < cols; c++)
            for (size_t r = r0; r < r1; r++) y[c * rows + r] = x[r * cols + c];
    }
}

VB_CLONES void vb_im2col(const float *x, size_t ih, size_t iw, size_t cstride, size_t c0,
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

VB_CLONES void vb_pool2d(const float *x, size_t ih, size_t iw, size_t c, size_t kh, size_t kw,
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

VB_CLONES void vb_sum_rows(const float *x, size_t rows, size_t c, float *acc) {
    for (size_t r = 0; r < rows; r++) {
        const float *restrict s = x + r * c;
        for (size_t ch = 0; ch < c; ch++) acc[ch] += s[ch];
    }
}

VB_CLONES void vb_layernorm(const float *x, float *y, size_t c, size_t r0, size_t r1,
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

VB_CLONES void vb_sum_sumsq(const float *x, size_t n, double *sum, double *sumsq) {
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

VB_CLONES void vb_channel_affine(const float *x, float *y, size_t rows, size_t c,
                                 const float *scale, const float *shift, vb_activation act) {
    VB_ACT_LOOP(act, for (size_t r = 0; r < rows; r++) {
        const float *s = x + r * c;
        float *d = y + r * c;
        for (size_t ch = 0; ch < c; ch++) d[ch] = vb_act(A_, s[ch] * scale[ch] + shift[ch]);
    })
}

VB_CLONES void vb_softmax(const float *x, float *y, size_t c, size_t r0, size_t r1) {
    // Sums and maxima may be reassociated: that is what lets them vectorise.
    #pragma clang fp reassociate(on)
    // The rows are copied first when not in place, so that every loop below reads and writes one
    // pointer: with two that may alias (attention maps are softmaxed in place), the compiler's
    // run-time overlap check fails and the exp loop ran scalar — 5x slower.
    for (size_t r = r0; r < r1; r++) {
        float *restrict d = y + r * c;
        if (x != y) memcpy(d, x + r * c, c * sizeof(float));
        float m = -INFINITY;
        for (size_t i = 0; i < c; i++) m = fmaxf(m, d[i]);
        float sum = 0.0f;
        for (size_t i = 0; i < c; i++) {
            d[i] = vb_exp(d[i] - m);
            sum += d[i];
        }
        const float inv = 1.0f / sum;
        for (size_t i = 0; i < c; i++) d[i] *= inv;
    }
}

VB_CLONES void vb_binary(int op, const float *a, const float *b, size_t b_period, float *y,
                         size_t n) {
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

VB_CLONES void vb_scaled_residual(const float *a, const float *b, const float *s, size_t c,
                                  float *y, size_t n) {
    for (size_t base = 0; base < n; base += c)
        for (size_t i = 0; i < c; i++) y[base + i] = a[base + i] + s[i] * b[base + i];
}

VB_CLONES void vb_scale_add_bias(float *s, size_t rows, size_t cols, float scale,
                                 const float *bias, size_t ldb) {
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

VB_CLONES void vb_attention_online_softmax(float *s, size_t rows, size_t cols, float *m, float *l,
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

VB_CLONES void vb_attention_finish(float *o, size_t rows, size_t dv, size_t ldo, const float *l) {
    for (size_t r = 0; r < rows; r++) {
        const float inv = 1.0f / l[r];
        float *restrict orow = o + r * ldo;
        for (size_t c = 0; c < dv; c++) orow[c] *= inv;
    }
}
