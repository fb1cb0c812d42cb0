#pragma once
// Optimised CPU kernels of vitbench's engine, in portable C.
//
// Every kernel works on channels-last (NHWC / [rows, C]) float32 buffers and on a sub-range of
// its outer loop ([begin, end)), so that the engine's own thread pool splits the work and the
// kernels never start threads. The kernels are compiled once per instruction-set variant (on
// x86-64: AVX-512, AVX2+FMA and baseline SSE2; on ARM64: NEON; elsewhere: portable C) from one
// source (ops/*.h); the best variant the CPU supports runs unless `vb_isa_select` forces another.
// The reference oracles live in Swift (Sources/VitEngine/Reference), written independently.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Activation fused into a kernel's epilogue.
typedef enum {
    VB_ACT_NONE = 0,
    VB_ACT_RELU = 1,
    VB_ACT_GELU_ERF = 2,
    VB_ACT_GELU_TANH = 3,
    VB_ACT_SILU = 4,
    VB_ACT_HARDSWISH = 5,
    VB_ACT_HARDSIGMOID = 6,
    VB_ACT_SIGMOID = 7,
} vb_activation;

/// A spin-wait hint (PAUSE on x86, YIELD on ARM).
static inline void vb_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// The instruction-set variants of the kernels.
typedef enum {
    VB_ISA_PORTABLE = 0,  ///< plain C: architectures with no tuned variant
    VB_ISA_BASELINE = 1,  ///< x86-64 baseline (SSE2)
    VB_ISA_AVX2 = 2,      ///< x86-64-v3 (AVX2 + FMA)
    VB_ISA_AVX512 = 3,    ///< x86-64-v4 (AVX-512 F/VL/BW/DQ)
    VB_ISA_NEON = 4,      ///< ARM64 (NEON)
} vb_isa;

/// 1 if this build contains the variant and this CPU (and OS) can run it, else 0.
int vb_isa_supported(vb_isa isa);

/// The fastest supported variant: what runs unless `vb_isa_select` chose another.
vb_isa vb_isa_best(void);

/// Makes every kernel call, on every thread, run `isa`'s variant from now on. Returns 0, or -1
/// (changing nothing) when the variant is not supported here. Not to be called while kernels run.
int vb_isa_select(vb_isa isa);

/// The variant kernels run now.
vb_isa vb_isa_selected(void);

/// Short name ("avx512", "avx2", "baseline", "neon", "portable") and description
/// ("x86-64-v4 (AVX-512)", …) of a variant.
const char *vb_isa_name(vb_isa isa);
const char *vb_isa_description(vb_isa isa);

/// The description of the selected variant (for `vitbench env` and logs).
const char *vb_kernel_isa(void);

/// Nanoseconds the calling thread has spent runnable but waiting for a CPU (Linux schedstat), or
/// -1 where the OS does not say: a worker that waits a lot shares its core with other work.
long long vb_thread_run_delay_ns(void);

/// Atomically adds `value` to `*counter` (relaxed order) and returns the old value: the thread
/// pool's per-worker task counters, which live in a plain array.
long vb_fetch_add(long *counter, long value);

/// The CPU features the OS reports through the auxiliary vector (AT_HWCAP, AT_HWCAP2), as the
/// names Linux's /proc/cpuinfo uses on this architecture ("fp asimd ... asimddp sve ... sve2 i8mm
/// bf16"), space-separated; "" where the architecture or OS has none of these (x86-64 reads its
/// flags elsewhere). The emulator's CPU under qemu, not the host's.
const char *vb_cpu_hwcap_features(void);

/// MIDR_EL1 of the CPU the calling thread runs on, read with `mrs` where the kernel lets user
/// space read ID registers (aarch64 Linux with HWCAP_CPUID; qemu user mode too); 0 elsewhere.
uint64_t vb_cpu_midr(void);

/// y[i] = act(x[i]) for i in [0, n). x and y may alias.
void vb_activation_apply(vb_activation act, const float *x, float *y, size_t n);

/// The epilogue of a GEMM or conv over a [rows, cols] block with leading dimension ld:
/// y = act(y + bias[col]) and then, if residual is non-NULL, y += residual (leading dim ldr).
/// bias may be NULL.
void vb_bias_act_residual(float *y, size_t rows, size_t cols, size_t ld, const float *bias,
                          vb_activation act, const float *residual, size_t ldr);

/// Depthwise (or channel-multiplier) 2-D convolution, NHWC, one image, output rows [oy0, oy1).
/// Input [ih, iw, cin]; output [oh, ow, cout] with cout = cin * mult; output channel o reads
/// input channel o / mult. Weights [kh, kw, cout], bias [cout] (may be NULL).
/// Epilogue: act, then + residual ([oh, ow, cout], may be NULL).
void vb_depthwise_conv2d(const float *x, size_t ih, size_t iw, size_t cin, size_t mult,
                         const float *w, size_t kh, size_t kw, const float *bias,
                         size_t stride_h, size_t stride_w, size_t pad_h, size_t pad_w,
                         float *y, size_t oh, size_t ow, size_t oy0, size_t oy1,
                         vb_activation act, const float *residual);

/// Whether vb_depthwise_conv2d, with no channel multiplier, runs the padded borders of this
/// shape's rows in register tiles (edge tiles that skip the padding), so that a zero-padded copy
/// of the input gains nothing: input width iw, channels, kernel width, stride and padding along
/// the width. The same decision for every kernel variant.
int vb_depthwise_edge_tiled(size_t iw, size_t channels, size_t kw, size_t stride_w, size_t pad_w);

/// Writes rows [r0, r1) of the zero-padded image ((ih + 2·pad_h) x (iw + 2·pad_w) x c·mult) of x,
/// each input channel repeated `mult` times (so that a channel-multiplier conv becomes a
/// depthwise one).
void vb_pad_nhwc(const float *x, size_t ih, size_t iw, size_t c, size_t mult, size_t pad_h,
                 size_t pad_w, float *y, size_t r0, size_t r1);

/// y[c, r] = x[r, c]: a [rows × cols] matrix transposed.
void vb_transpose(const float *x, size_t rows, size_t cols, float *y);

/// im2col for NHWC convolutions: output pixels [p0, p1) (flattened oy*ow+ox of one image) become
/// rows of a [p1-p0, kh*kw*cin] matrix (padding reads as zero), column order (ky, kx, ci).
/// Input channels are taken from [c0, c0+cg) of a tensor with cstride channels (grouped convs).
void vb_im2col(const float *x, size_t ih, size_t iw, size_t cstride, size_t c0, size_t cg,
               size_t kh, size_t kw, size_t stride_h, size_t stride_w, size_t pad_h, size_t pad_w,
               size_t ow, size_t p0, size_t p1, float *col);

/// Average (count_include_pad selects the divisor) or max pooling, NHWC, one image, output rows
/// [oy0, oy1). Padding never wins a max.
void vb_pool2d(const float *x, size_t ih, size_t iw, size_t c, size_t kh, size_t kw,
               size_t stride_h, size_t stride_w, size_t pad_h, size_t pad_w, int is_max,
               int count_include_pad, float *y, size_t oh, size_t ow, size_t oy0, size_t oy1);

/// Sum over rows of a [rows, c] matrix into acc[c] (acc is added to, not overwritten).
void vb_sum_rows(const float *x, size_t rows, size_t c, float *acc);

/// LayerNorm over the last dimension of rows [r0, r1) of a [rows, c] matrix.
void vb_layernorm(const float *x, float *y, size_t c, size_t r0, size_t r1, const float *gamma,
                  const float *beta, float eps);

/// Sum and sum of squares (in double) of x[0..n), for GroupNorm statistics.
void vb_sum_sumsq(const float *x, size_t n, double *sum, double *sumsq);

/// y[r, c] = x[r, c] * scale[c] + shift[c] for rows [0, rows); then act. x and y may alias.
void vb_channel_affine(const float *x, float *y, size_t rows, size_t c, const float *scale,
                       const float *shift, vb_activation act);

/// Softmax over the last dimension of rows [r0, r1) of a [rows, c] matrix; x and y may alias.
void vb_softmax(const float *x, float *y, size_t c, size_t r0, size_t r1);

/// Elementwise binary op on n elements: op 0 add, 1 mul, 2 sub. b is either n elements
/// (b_period == n) or broadcast with period b_period (per-channel vectors: b_period == C).
void vb_binary(int op, const float *a, const float *b, size_t b_period, float *y, size_t n);

/// y = a + s ⊙ b, s per channel (period c) — the residual of a layer-scaled branch.
void vb_scaled_residual(const float *a, const float *b, const float *s, size_t c, float *y,
                        size_t n);

/// One key block of streaming (flash-style) attention for a block of query rows.
/// s: [rows, cols] scaled scores; bias [rows, cols] (leading dim ldb; may be NULL) is added to
/// them first. On return s holds exp(s + bias - m_new).
/// m, l: running max and running sum per row; o: [rows, dv] running output (leading dim ldo),
/// rescaled by exp(m_old - m_new) so that the caller then adds P·V into it.
void vb_attention_online_softmax(float *s, size_t rows, size_t cols, const float *bias,
                                 size_t ldb, float *m, float *l, float *o, size_t dv, size_t ldo);

/// o[r, :] /= l[r] for rows [0, rows).
void vb_attention_finish(float *o, size_t rows, size_t dv, size_t ldo, const float *l);

/// Columns per panel of packed weights: a window of columns starting at a multiple of this is
/// a window of whole panels (see `vb_gemm_packed_strided`).
#define VB_GEMM_PANEL_COLUMNS 16

/// Floats `vb_gemm_pack_b` writes for a k×n matrix (n rounded up to 16-column panels).
size_t vb_gemm_packed_size(size_t k, size_t n);

/// Packs B [k×n] (row-major, leading dim ldb) into 16-column panels for `vb_gemm_packed`.
void vb_gemm_pack_b(const float *b, size_t ldb, size_t k, size_t n, float *packed);

/// Packs B = Btᵀ, given Bt [n×k] (leading dim ldbt): keys of attention become columns.
void vb_gemm_pack_bt(const float *bt, size_t ldbt, size_t k, size_t n, float *packed);

/// `vb_gemm_pack_bt` of scale·Btᵀ: attention's keys with the softmax scale folded in.
void vb_gemm_pack_bt_scaled(const float *bt, size_t ldbt, size_t k, size_t n, float scale,
                            float *packed);

/// C[m×n] = A[m×k] · B, B packed by `vb_gemm_pack_b`; A and C row-major with leading dims.
/// Single-threaded: the engine splits m across its workers.
void vb_gemm_packed(const float *a, size_t lda, const float *packed, size_t k, size_t n, float *c,
                    size_t ldc, size_t m);

/// The general form: panel p of B starts at packed + p·panel_stride (row kk of a panel at
/// + kk·16), so that a window of rows of a larger packed matrix can be used; with `accumulate`,
/// C += A·B instead of C = A·B.
void vb_gemm_packed_strided(const float *a, size_t lda, const float *packed, size_t panel_stride,
                            size_t k, size_t n, float *c, size_t ldc, size_t m, int accumulate);

/// `vb_gemm_packed_strided` (without accumulation) with the epilogue y = act(y + bias) + residual:
/// bias and residual are added as the micro-kernel's registers are stored, an activation takes
/// one pass at the end. bias [n] and residual [m×n] (leading dim ldr) may be NULL.
void vb_gemm_packed_epilogue(const float *a, size_t lda, const float *packed, size_t panel_stride,
                             size_t k, size_t n, float *c, size_t ldc, size_t m, const float *bias,
                             vb_activation act, const float *residual, size_t ldr);

/// 3x3 convs at stride 1 or 2 with one pixel of zero padding, one group, by Winograd's minimal
/// filtering (ops/winograd.h): F(2x2, 3x3) at stride 1, F(2, 2) on the outer taps at stride 2.
/// Floats `vb_winograd3x3_pack` writes for cin → cout channels (either stride).
size_t vb_winograd3x3_packed_size(size_t cin, size_t cout);
/// Transforms OIHW weights [cout, cin, 3, 3] for `stride` (1 or 2) into 16 [cin × cout]
/// matrices (`work`: 16·cin·cout floats) and packs each for the GEMM.
void vb_winograd3x3_pack(const float *weight, size_t cin, size_t cout, size_t stride, float *work,
                         float *packed);
/// Scratch floats one call over `tiles` tiles needs at `stride`.
size_t vb_winograd3x3_scratch_floats(size_t cin, size_t cout, size_t tiles, size_t stride);
/// Output tiles [t0, t1) of one NHWC image [ih, iw, cin] → y [oh, ow, cout] (oh = ih at stride 1,
/// (ih − 1) / 2 + 1 at stride 2; ow alike): tiles are the 2x2 output blocks in raster order,
/// ceil(oh/2) × ceil(ow/2) of them. Epilogue: y = act(conv + bias) + residual ([oh, ow, cout],
/// may be NULL); bias may be NULL.
void vb_winograd3x3_conv(const float *x, size_t ih, size_t iw, size_t cin, size_t stride,
                         const float *packed, size_t cout, const float *bias, float *y, size_t t0,
                         size_t t1, vb_activation act, const float *residual, float *scratch);

#ifdef __cplusplus
}
#endif
