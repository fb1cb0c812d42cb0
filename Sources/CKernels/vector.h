// The one vector vocabulary of the kernels: a 16-float vector type, loads and stores, and scalar
// math (exp, erf, tanh, activations) written so that loops calling it vectorise without libm.
// Included by each ISA variant (through variant.h) inside the variant's target region, so that
// its inline functions are compiled for that instruction set.
#ifndef VB_VECTOR_H
#define VB_VECTOR_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "vitkernels.h"

// 16 floats: one AVX-512 register, two AVX2 registers, four SSE/NEON registers.
typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));
#define VL 16

// Macros, not functions: a v16 crossing a function boundary would change the ABI per target.
#define load16(p) (*(const v16u *)(p))
#define store16(p, v) (*(v16u *)(p) = (v))
// x − 0 is x for every x (−0 included), so the compiler folds the subtraction away and
// broadcasts straight from memory; 0 + x is not x for x = −0, and `(v16){} + x` compiled to a
// scalar add and a register broadcast per use — two extra uops on the FP ports in front of every
// broadcast FMA of the GEMM and conv micro-kernels (on Zen 3's AVX2 those ports are the FMA
// ports: 1x1 convs ran at 53–68% of sgemm).
#define splat16(f) ((f) - (v16){})

// The largest of m and x[0..n), with bias[0..n) (when not NULL) first added to x in place. A
// fmaxf loop is a reduction the vectoriser leaves scalar (NaN-aware maxnum does not reassociate):
// the attention softmax's max pass ran one score per ~3 cycles, half of LeViT's attention time.
// The vector maximum is a comparison and a select (one vmaxps), not __builtin_elementwise_max,
// whose NaN-aware maxnum between two variables took a compare and a blend besides. A NaN score is
// skipped either way (as fmaxf skips it).
typedef int32_t v16i __attribute__((vector_size(64)));
#define VB_VMAX(a, b)                                                                             \
    ({                                                                                            \
        const v16 a_ = (a), b_ = (b);                                                             \
        const v16i gt_ = b_ > a_;                                                                 \
        (v16)(((v16i)b_ & gt_) | ((v16i)a_ & ~gt_));                                              \
    })
static inline float vb_max_add(float *restrict x, const float *restrict bias, size_t n, float m) {
    v16 vm[4] = {splat16(m), splat16(m), splat16(m), splat16(m)};
    size_t i = 0;
    for (; i + 4 * VL <= n; i += 4 * VL)
        for (int j = 0; j < 4; j++) {
            v16 v = load16(x + i + j * VL);
            if (bias) {
                v += load16(bias + i + j * VL);
                store16(x + i + j * VL, v);
            }
            vm[j] = VB_VMAX(vm[j], v);
        }
    for (; i + VL <= n; i += VL) {
        v16 v = load16(x + i);
        if (bias) {
            v += load16(bias + i);
            store16(x + i, v);
        }
        vm[0] = VB_VMAX(vm[0], v);
    }
    m = __builtin_reduce_max(VB_VMAX(VB_VMAX(vm[0], vm[1]), VB_VMAX(vm[2], vm[3])));
    for (; i < n; i++) {
        if (bias) x[i] += bias[i];
        m = fmaxf(m, x[i]);
    }
    return m;
}

// exp(x) to about 1.3 ulp (relative error < 2e-7), x clamped to the range where the result and
// 2^n stay normal. n = round(x / ln 2) comes from adding a magic number (1.5·2^23 + 127) whose
// low mantissa bits then hold n + 127, so that shifting them into the exponent field gives 2^n
// with no conversion; r = x − n·ln 2 in two parts (Cody & Waite); e^r a degree-5 polynomial
// (XNNPACK's rr2-p5 minimax coefficients). About 12 vector operations, against 17 for the
// round/convert/degree-7 form it replaced: the softmax of attention with head dims of 16–32
// (LeViT, MobileViT) spends as long in exp as in its two products, and SiLU runs it on every
// activation of MobileViT. Comparisons rather than fminf/fmaxf for the clamps, so that a NaN
// stays NaN.
static inline float vb_exp(float x) {
    x = x < -87.3365478515625f ? -87.3365478515625f : x;
    x = x > 88.3762626647949f ? 88.3762626647949f : x;
    const float magic = 0x1.8000FEp23f;
    const float t = x * 0x1.715476p0f + magic;
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits <<= 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    const float n = t - magic;
    float r = n * -0x1.62E400p-1f + x;
    r = n * -0x1.7F7D1Cp-20f + r;
    float p = 0x1.0F9F9Cp-7f;
    p = p * r + 0x1.573A1Ap-5f;
    p = p * r + 0x1.555A80p-3f;
    p = p * r + 0x1.FFFDC6p-2f;
    p = p * r + 0x1.FFFFF6p-1f;
    return (r * scale) * p + scale;
}

// GELU(v) = v·Φ(v), erf from Abramowitz & Stegun 7.1.28: erf(a) = 1 − (1 + a₁a + … + a₆a⁶)⁻¹⁶
// (|error| < 3e-7): a polynomial, four squarings and one division, about half the work of an
// exp-based form. Written as max(v, 0) − ½|v|·(1 + …)⁻¹⁶ (for v > 0 that is ½v(2 − q), for
// v < 0 ½v·q), with 1/√2 folded into the coefficients: no sign copy, no scaling of the argument,
// no 1 − q or 1 + erf, so 11 multiplies and multiply-adds where erf-then-GELU took 14. GELU
// runs on every hidden unit of every MLP; at 48–64 channels (the first stages of FastViT and
// PoolFormer) it costs 14–19% of the two products around it. |v| is clamped at 8.5, where the
// correction is below 1e-15·|v|, so that ±inf give inf and −0, not NaN.
static inline float vb_gelu_erf(float v) {
    float a = fabsf(v);
    a = a > 8.5f ? 8.5f : a;
    // A&S's aᵢ times (1/√2)ⁱ.
    float p = 5.3829750e-6f * a + 4.8890636e-5f;
    p = p * a + 3.8003575e-5f;
    p = p * a + 3.2776263e-3f;
    p = p * a + 2.1141006e-2f;
    p = p * a + 4.9867347e-2f;
    p = p * a + 1.0f;
    p = p * p;  // ^2
    p = p * p;  // ^4
    p = p * p;  // ^8
    p = p * p;  // ^16
    const float relu = v < 0.0f ? 0.0f : v;
    return relu - 0.5f * (a / p);
}

static inline float vb_tanh(float x) {
    float e = vb_exp(2.0f * fminf(fmaxf(x, -9.0f), 9.0f));
    return 1.0f - 2.0f / (e + 1.0f);
}

static inline float vb_act(vb_activation act, float v) {
    switch (act) {
    case VB_ACT_NONE: return v;
    case VB_ACT_RELU: return fmaxf(v, 0.0f);
    case VB_ACT_GELU_ERF: return vb_gelu_erf(v);
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
#endif
