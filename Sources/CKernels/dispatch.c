// Which ISA variant runs: detected once (the best the CPU supports), changed by `vb_isa_select`
// (`--isa`, tests that run every variant). Every public kernel calls through the selected
// variant's table: one indirect call per kernel call (per row block or tile of work), nothing
// per element.
#include "kernel_table.h"
#include "ops/depthwise_plan.h"

static const char *const names[] = {"portable", "baseline", "avx2", "avx512", "neon"};
static const char *const descriptions[] = {"portable C", "x86-64 baseline (SSE2)",
                                           "x86-64-v3 (AVX2+FMA)", "x86-64-v4 (AVX-512)",
                                           "aarch64 (NEON)"};

static const vb_kernel_table *table_for(vb_isa isa) {
    switch (isa) {
#if defined(__x86_64__) && defined(__clang__)
    case VB_ISA_AVX512: return &vb_kernels_avx512;
    case VB_ISA_AVX2: return &vb_kernels_avx2;
#endif
    default: return vb_kernels_baseline.isa == isa ? &vb_kernels_baseline : NULL;
    }
}

int vb_isa_supported(vb_isa isa) {
    if (!table_for(isa)) return 0;
#if defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    // The features each variant is compiled with (variant_avx512.c, variant_avx2.c); the
    // runtime checks include the OS's support for saving the wider registers.
    if (isa == VB_ISA_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    if (isa == VB_ISA_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c");
#endif
    return 1;
}

vb_isa vb_isa_best(void) {
    static const vb_isa order[] = {VB_ISA_AVX512, VB_ISA_AVX2, VB_ISA_NEON, VB_ISA_BASELINE,
                                   VB_ISA_PORTABLE};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (vb_isa_supported(order[i])) return order[i];
    return vb_kernels_baseline.isa;
}

static const vb_kernel_table *selected;

static inline const vb_kernel_table *K(void) {
    const vb_kernel_table *t = __atomic_load_n(&selected, __ATOMIC_ACQUIRE);
    if (__builtin_expect(t == NULL, 0)) {
        t = table_for(vb_isa_best());
        __atomic_store_n(&selected, t, __ATOMIC_RELEASE);
    }
    return t;
}

int vb_isa_select(vb_isa isa) {
    if (!vb_isa_supported(isa)) return -1;
    __atomic_store_n(&selected, table_for(isa), __ATOMIC_RELEASE);
    return 0;
}

vb_isa vb_isa_selected(void) { return K()->isa; }

const char *vb_isa_name(vb_isa isa) {
    return (unsigned)isa < sizeof names / sizeof names[0] ? names[isa] : "unknown";
}

const char *vb_isa_description(vb_isa isa) {
    return (unsigned)isa < sizeof descriptions / sizeof descriptions[0] ? descriptions[isa] : "unknown";
}

const char *vb_kernel_isa(void) { return vb_isa_description(vb_isa_selected()); }

// ---------------------------------------------------------------------------------------------
// The public kernels (contracts in vitkernels.h, vitconvsmall.h, vitresize.h).

void vb_activation_apply(vb_activation act, const float *x, float *y, size_t n) {
    K()->activation_apply(act, x, y, n);
}

void vb_bias_act_residual(float *y, size_t rows, size_t cols, size_t ld, const float *bias,
                          vb_activation act, const float *residual, size_t ldr) {
    K()->bias_act_residual(y, rows, cols, ld, bias, act, residual, ldr);
}

void vb_depthwise_conv2d(const float *x, size_t ih, size_t iw, size_t cin, size_t mult,
                         const float *w, size_t kh, size_t kw, const float *bias,
                         size_t stride_h, size_t stride_w, size_t pad_h, size_t pad_w,
                         float *y, size_t oh, size_t ow, size_t oy0, size_t oy1,
                         vb_activation act, const float *residual) {
    K()->depthwise_conv2d(x, ih, iw, cin, mult, w, kh, kw, bias, stride_h, stride_w, pad_h, pad_w,
                          y, oh, ow, oy0, oy1, act, residual);
}

int vb_depthwise_edge_tiled(size_t iw, size_t channels, size_t kw, size_t stride_w, size_t pad_w) {
    return vb_dw_edge_tiled(iw, channels, kw, stride_w, pad_w);
}

void vb_pad_nhwc(const float *x, size_t ih, size_t iw, size_t c, size_t mult, size_t pad_h,
                 size_t pad_w, float *y, size_t r0, size_t r1) {
    K()->pad_nhwc(x, ih, iw, c, mult, pad_h, pad_w, y, r0, r1);
}

void vb_transpose(const float *x, size_t rows, size_t cols, float *y) {
    K()->transpose(x, rows, cols, y);
}

void vb_im2col(const float *x, size_t ih, size_t iw, size_t cstride, size_t c0, size_t cg,
               size_t kh, size_t kw, size_t stride_h, size_t stride_w, size_t pad_h, size_t pad_w,
               size_t ow, size_t p0, size_t p1, float *col) {
    K()->im2col(x, ih, iw, cstride, c0, cg, kh, kw, stride_h, stride_w, pad_h, pad_w, ow, p0, p1,
                col);
}

void vb_pool2d(const float *x, size_t ih, size_t iw, size_t c, size_t kh, size_t kw,
               size_t stride_h, size_t stride_w, size_t pad_h, size_t pad_w, int is_max,
               int count_include_pad, float *y, size_t oh, size_t ow, size_t oy0, size_t oy1) {
    K()->pool2d(x, ih, iw, c, kh, kw, stride_h, stride_w, pad_h, pad_w, is_max, count_include_pad,
                y, oh, ow, oy0, oy1);
}

void vb_sum_rows(const float *x, size_t rows, size_t c, float *acc) {
    K()->sum_rows(x, rows, c, acc);
}

void vb_layernorm(const float *x, float *y, size_t c, size_t r0, size_t r1, const float *gamma,
                  const float *beta, float eps) {
    K()->layernorm(x, y, c, r0, r1, gamma, beta, eps);
}

void vb_sum_sumsq(const float *x, size_t n, double *sum, double *sumsq) {
    K()->sum_sumsq(x, n, sum, sumsq);
}

void vb_channel_affine(const float *x, float *y, size_t rows, size_t c, const float *scale,
                       const float *shift, vb_activation act) {
    K()->channel_affine(x, y, rows, c, scale, shift, act);
}

void vb_softmax(const float *x, float *y, size_t c, size_t r0, size_t r1) {
    K()->softmax(x, y, c, r0, r1);
}

void vb_binary(int op, const float *a, const float *b, size_t b_period, float *y, size_t n) {
    K()->binary(op, a, b, b_period, y, n);
}

void vb_scaled_residual(const float *a, const float *b, const float *s, size_t c, float *y,
                        size_t n) {
    K()->scaled_residual(a, b, s, c, y, n);
}

void vb_attention_online_softmax(float *s, size_t rows, size_t cols, const float *bias,
                                 size_t ldb, float *m, float *l, float *o, size_t dv, size_t ldo) {
    K()->attention_online_softmax(s, rows, cols, bias, ldb, m, l, o, dv, ldo);
}

void vb_attention_finish(float *o, size_t rows, size_t dv, size_t ldo, const float *l) {
    K()->attention_finish(o, rows, dv, ldo, l);
}

void vb_gemm_pack_b(const float *b, size_t ldb, size_t k, size_t n, float *packed) {
    K()->gemm_pack(b, ldb, 0, k, n, 1.0f, packed);
}

void vb_gemm_pack_bt(const float *bt, size_t ldbt, size_t k, size_t n, float *packed) {
    K()->gemm_pack(bt, ldbt, 1, k, n, 1.0f, packed);
}

void vb_gemm_pack_bt_scaled(const float *bt, size_t ldbt, size_t k, size_t n, float scale,
                            float *packed) {
    K()->gemm_pack(bt, ldbt, 1, k, n, scale, packed);
}

void vb_gemm_packed_strided(const float *a, size_t lda, const float *packed, size_t panel_stride,
                            size_t k, size_t n, float *c, size_t ldc, size_t m, int accumulate) {
    K()->gemm_packed_strided(a, lda, packed, panel_stride, k, n, c, ldc, m, accumulate, NULL,
                             VB_ACT_NONE, NULL, 0);
}

void vb_gemm_packed_epilogue(const float *a, size_t lda, const float *packed, size_t panel_stride,
                             size_t k, size_t n, float *c, size_t ldc, size_t m, const float *bias,
                             vb_activation act, const float *residual, size_t ldr) {
    K()->gemm_packed_strided(a, lda, packed, panel_stride, k, n, c, ldc, m, 0, bias, act, residual,
                             ldr);
}

void vb_gemm_packed(const float *a, size_t lda, const float *packed, size_t k, size_t n, float *c,
                    size_t ldc, size_t m) {
    K()->gemm_packed_strided(a, lda, packed, k * VB_GEMM_NR, k, n, c, ldc, m, 0, NULL, VB_ACT_NONE,
                             NULL, 0);
}

void vb_winograd3x3_conv(const float *x, size_t ih, size_t iw, size_t cin, size_t stride,
                         const float *packed, size_t cout, const float *bias, float *y, size_t t0,
                         size_t t1, vb_activation act, const float *residual, float *scratch) {
    K()->winograd3x3(x, ih, iw, cin, stride, packed, cout, bias, y, t0, t1, act, residual, scratch);
}

void vb_conv_small(const float *x, size_t ih, size_t iw, size_t cin, size_t row_stride,
                   size_t pixel_stride, size_t channel_stride, const float *packed, size_t cout,
                   size_t kh, size_t kw, size_t stride_h, size_t stride_w, size_t pad_h,
                   size_t pad_w, float *y, size_t oh, size_t ow, size_t oy0, size_t oy1,
                   vb_activation act, const float *residual) {
    K()->conv_small(x, ih, iw, cin, row_stride, pixel_stride, channel_stride, packed, cout, kh, kw,
                    stride_h, stride_w, pad_h, pad_w, y, oh, ow, oy0, oy1, act, residual);
}

void vb_resize_bilinear_nhwc(const float *x, size_t iw, size_t c, const int64_t *rows,
                             const float *row_weights, const int64_t *cols,
                             const float *col_weights, float *y, size_t ow, size_t oy0,
                             size_t oy1) {
    K()->resize_bilinear_nhwc(x, iw, c, rows, row_weights, cols, col_weights, y, ow, oy0, oy1);
}
