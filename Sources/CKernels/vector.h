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
            vm[j] = __builtin_elementwise_max(vm[j], v);
        }
    for (; i + VL <= n; i += VL) {
        v16 v = load16(x + i);
        if (bias) {
            v += load16(bias + i);
            store16(x + i, v);
        }
        vm[0] = __builtin_elementwise_max(vm[0], v);
    }
    m = __builtin_reduce_max(__builtin_elementwise_max(__builtin_elementwise_max(vm[0], vm[1]),
                                                       __builtin_elementwise_max(vm[2], vm[3])));
    for (; i < n; i++) {
        if (bias) x[i] += bias[i];
        m = fmaxf(m, x[i]);
    }
    return m;
}

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
#endif
