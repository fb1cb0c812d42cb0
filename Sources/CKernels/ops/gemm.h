// A GEMM for constant weights: C[m×n] = A[m×k] · B[k×n], with B packed once (at plan time, by
// packing.c) into 16-column panels and A read in place (no packing of activations, which is
// where a general BLAS spends 10–20% on the thin GEMMs of 1x1 convs). The micro-kernel keeps a
// VB_GEMM_MR × (16·VB_GEMM_P) tile of C in registers; each variant sets the tile for its
// register file (variant_*.c). A body compiled once per ISA variant (variant.h).
#define NR VB_GEMM_NR

// MR rows × P panels. A row pointers are clamped for the row remainder (the extra rows compute
// duplicates that are not stored); columns past n are stored to a scratch tile and copied.
// B is prefetched 64 rows (4 KiB per panel) ahead: the thin GEMMs of transformers at few tokens
// (LeViT's 16- and 49-token stages) stream weights larger than L2 and are bound by that stream;
// measured against no prefetch and distances 16, 32 and 128: levit_128s −7%, deit_tiny −3%.
// A prefetch past the end of the packed weights is harmless (prefetches do not fault).
// The epilogue rides on the stores: bias (the panel's P vectors, loaded once per tile), ReLU and
// a residual are applied to the accumulators as they leave the registers. Other activations are
// not (they cost more than the store pass they would save): with one, the driver passes no
// residual here and runs the activation and the residual afterwards, once over the whole block.
#define DEFINE_GEMM_KERNEL(NAME, MR, P)                                                            \
    static void NAME(const float *a, size_t lda, const float *bp, size_t ps, size_t k, float *c,   \
                     size_t ldc, size_t rows, size_t cols, int accumulate, const float *bias,      \
                     int relu, const float *res, size_t ldr, const float *next) {                  \
        v16 acc[MR][P];                                                                            \
        for (int r = 0; r < MR; r++)                                                               \
            for (int p = 0; p < P; p++) acc[r][p] = (v16){};                                       \
        const float *ar[MR];                                                                       \
        for (int r = 0; r < MR; r++) ar[r] = a + ((size_t)r < rows ? (size_t)r : rows - 1) * lda;  \
        for (size_t kk = 0; kk < k; kk++) {                                                        \
            v16 bv[P];                                                                             \
            for (int p = 0; p < P; p++) __builtin_prefetch(bp + p * ps + (kk + 64) * NR, 0, 3);    \
            if (next) __builtin_prefetch(next + kk * NR, 0, 2);                                    \
            for (int p = 0; p < P; p++) bv[p] = *(const v16u *)(bp + p * ps + kk * NR);            \
            for (int r = 0; r < MR; r++) {                                                         \
                const v16 av = splat16(ar[r][kk]);                                                  \
                for (int p = 0; p < P; p++) acc[r][p] += av * bv[p];                               \
            }                                                                                      \
        }                                                                                          \
        if (cols == (size_t)(P * NR)) {                                                            \
            v16 bias_v[P];                                                                         \
            for (int p = 0; p < P; p++) bias_v[p] = bias ? load16(bias + p * NR) : (v16){};        \
            for (size_t r = 0; r < rows; r++)                                                      \
                for (int p = 0; p < P; p++) {                                                      \
                    v16u *dst = (v16u *)(c + r * ldc + p * NR);                                    \
                    v16 v = acc[r][p];                                                             \
                    if (accumulate) v += *dst;                                                     \
                    if (bias) v += bias_v[p];                                                      \
                    if (relu) v = __builtin_elementwise_max(v, (v16){});                           \
                    if (res) v += load16(res + r * ldr + p * NR);                                  \
                    *dst = v;                                                                      \
                }                                                                                  \
        } else {                                                                                   \
            float tile[P * NR] __attribute__((aligned(64)));                                       \
            for (size_t r = 0; r < rows; r++) {                                                    \
                for (int p = 0; p < P; p++) *(v16 *)(tile + p * NR) = acc[r][p];                   \
                float *dst = c + r * ldc;                                                          \
                if (accumulate)                                                                    \
                    for (size_t j = 0; j < cols; j++) tile[j] += dst[j];                           \
                if (bias)                                                                          \
                    for (size_t j = 0; j < cols; j++) tile[j] += bias[j];                          \
                if (relu)                                                                          \
                    for (size_t j = 0; j < cols; j++) tile[j] = fmaxf(tile[j], 0.0f);              \
                if (res)                                                                           \
                    for (size_t j = 0; j < cols; j++) tile[j] += res[r * ldr + j];                 \
                memcpy(dst, tile, cols * sizeof(float));                                           \
            }                                                                                      \
        }                                                                                          \
    }

typedef void (*gemm_kernel_fn)(const float *, size_t, const float *, size_t, size_t, float *, size_t,
                               size_t, size_t, int, const float *, int, const float *, size_t,
                               const float *);

// One family per panel count P: the full MR-row tile and one kernel per row remainder (1 to 5
// rows), so that the last rows of a product are not computed as clamped duplicates. That
// mattered where rows are few: LeViT's 16- and 49-token stages (6+6+4 and 8·6+1 rows),
// DeiT's 197 tokens, and the classifier's single row, which the 6-row tile computed six times.
#define DEFINE_GEMM_FAMILY(P)                                                                      \
    DEFINE_GEMM_KERNEL(gemm_p##P##_full, VB_GEMM_MR, P)                                            \
    DEFINE_GEMM_KERNEL(gemm_p##P##_r1, 1, P)                                                       \
    DEFINE_GEMM_KERNEL(gemm_p##P##_r2, 2, P)                                                       \
    DEFINE_GEMM_KERNEL(gemm_p##P##_r3, 3, P)                                                       \
    DEFINE_GEMM_KERNEL(gemm_p##P##_r4, 4, P)                                                       \
    DEFINE_GEMM_KERNEL(gemm_p##P##_r5, 5, P)                                                       \
    static gemm_kernel_fn gemm_p##P##_for(size_t rows) {                                           \
        static const gemm_kernel_fn rem[6] = {NULL,          gemm_p##P##_r1, gemm_p##P##_r2,        \
                                              gemm_p##P##_r3, gemm_p##P##_r4, gemm_p##P##_r5};      \
        return rows >= VB_GEMM_MR ? gemm_p##P##_full : rem[rows];                                  \
    }

DEFINE_GEMM_FAMILY(1)
#if VB_GEMM_P == 2
DEFINE_GEMM_FAMILY(2)
// Three panels when an odd count leaves one over (48, 80, 112, 144 columns): a lone 16-column
// panel runs one B load per MR broadcasts and is load-bound; the third panel rides along in the
// registers the 6x32 tile leaves free.
DEFINE_GEMM_FAMILY(3)
#elif VB_GEMM_P != 1
#error "VB_GEMM_P must be 1 or 2"
#endif

// Drives the micro-kernels over a [rows × n] block: panels outermost, so that a K×(16·P) slice
// of B stays in L1/L2 while the rows stream past it. Panel p of B starts at packed + p·ps.
// Bias, ReLU and residual are applied in the micro-kernels' stores (a separate ReLU pass cost
// 16% of MobileOne's 56x56x48 1x1 convs); another activation (with the residual after it) takes
// one pass over the block at the end. Applying the whole epilogue per panel
// group or per register tile instead cost more in calls and short loops than the pass over a
// block in L2 (1x1 convs with K = 48 ran 7% slower).
static void k_gemm_packed_strided(const float *a, size_t lda, const float *packed, size_t ps,
                                  size_t k, size_t n, float *c, size_t ldc, size_t m, int acc,
                                  const float *bias, vb_activation act, const float *residual,
                                  size_t ldr) {
    enum { MR = VB_GEMM_MR };
    const size_t panels = (n + NR - 1) / NR;
    const int relu = act == VB_ACT_RELU, in_kernel = act == VB_ACT_NONE || relu;
    const float *res_in_kernel = in_kernel ? residual : NULL;
    for (size_t q = 0; q < panels;) {
        const size_t left = panels - q;
        size_t p = 1;
        gemm_kernel_fn (*pick)(size_t) = gemm_p1_for;
#if VB_GEMM_P == 2
        if (left == 3) {
            p = 3;
            pick = gemm_p3_for;
        } else if (left >= 2) {
            p = 2;
            pick = gemm_p2_for;
        }
#else
        (void)left;
#endif
        const size_t c0 = q * NR;
        const size_t cols = n - c0 < p * NR ? n - c0 : p * NR;
        // Register tile t of this panel group pulls panel q + p + t (of the next group) into L2,
        // one 64-byte line per k step: weights that come from DRAM (MobileOne-S4's and DeiT's
        // exceed L3) then stream while this group computes on panels already in cache, where
        // before only the group's first tile streamed them, bandwidth-bound, and the rest did not.
        for (size_t r = 0, t = 0; r < m; r += MR, t++) {
            const size_t rows = m - r < MR ? m - r : MR;
            const float *next = q + p + t < panels ? packed + (q + p + t) * ps : NULL;
            pick(rows)(a + r * lda, lda, packed + q * ps, ps, k, c + r * ldc + c0, ldc, rows, cols, acc,
                       bias ? bias + c0 : NULL, relu, res_in_kernel ? res_in_kernel + r * ldr + c0 : NULL, ldr,
                       t < 3 ? next : NULL);
        }
        q += p;
    }
    if (!in_kernel) k_bias_act_residual(c, m, n, ldc, NULL, act, residual, ldr);
}
#undef NR
