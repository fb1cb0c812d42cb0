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
#define DEFINE_GEMM_KERNEL(NAME, MR, P)                                                            \
    static void NAME(const float *a, size_t lda, const float *bp, size_t ps, size_t k, float *c,   \
                     size_t ldc, size_t rows, size_t cols, int accumulate) {                       \
        v16 acc[MR][P];                                                                            \
        for (int r = 0; r < MR; r++)                                                               \
            for (int p = 0; p < P; p++) acc[r][p] = (v16){};                                       \
        const float *ar[MR];                                                                       \
        for (int r = 0; r < MR; r++) ar[r] = a + ((size_t)r < rows ? (size_t)r : rows - 1) * lda;  \
        for (size_t kk = 0; kk < k; kk++) {                                                        \
            v16 bv[P];                                                                             \
            for (int p = 0; p < P; p++) __builtin_prefetch(bp + p * ps + (kk + 64) * NR, 0, 3);    \
            for (int p = 0; p < P; p++) bv[p] = *(const v16u *)(bp + p * ps + kk * NR);            \
            for (int r = 0; r < MR; r++) {                                                         \
                const v16 av = splat16(ar[r][kk]);                                                  \
                for (int p = 0; p < P; p++) acc[r][p] += av * bv[p];                               \
            }                                                                                      \
        }                                                                                          \
        if (cols == (size_t)(P * NR)) {                                                            \
            for (size_t r = 0; r < rows; r++)                                                      \
                for (int p = 0; p < P; p++) {                                                      \
                    v16u *dst = (v16u *)(c + r * ldc + p * NR);                                    \
                    *dst = accumulate ? *dst + acc[r][p] : acc[r][p];                              \
                }                                                                                  \
        } else {                                                                                   \
            float tile[P * NR] __attribute__((aligned(64)));                                       \
            for (size_t r = 0; r < rows; r++) {                                                    \
                for (int p = 0; p < P; p++) *(v16 *)(tile + p * NR) = acc[r][p];                   \
                float *dst = c + r * ldc;                                                          \
                if (accumulate)                                                                    \
                    for (size_t j = 0; j < cols; j++) dst[j] += tile[j];                           \
                else                                                                               \
                    memcpy(dst, tile, cols * sizeof(float));                                       \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_GEMM_KERNEL(gemm_tile, VB_GEMM_MR, VB_GEMM_P)
#if VB_GEMM_P > 1
DEFINE_GEMM_KERNEL(gemm_tile_1, VB_GEMM_MR, 1)
#else
#define gemm_tile_1 gemm_tile
#endif

// Drives the micro-kernel over a [rows × n] block: panels outermost, so that a K×(16·P) slice
// of B stays in L1/L2 while the rows stream past it. Panel p of B starts at packed + p·ps.
static void k_gemm_packed_strided(const float *a, size_t lda, const float *packed, size_t ps,
                                  size_t k, size_t n, float *c, size_t ldc, size_t m, int acc) {
    enum { MR = VB_GEMM_MR, P = VB_GEMM_P };
    const size_t panels = (n + NR - 1) / NR;
    for (size_t p0 = 0; p0 < panels; p0 += P) {
        const size_t c0 = p0 * NR;
        const size_t cols = n - c0 < (size_t)(P * NR) ? n - c0 : (size_t)(P * NR);
        if (p0 + P > panels) {
            // Fewer than P panels left: one panel at a time.
            for (size_t q = p0; q < panels; q++) {
                const size_t qc0 = q * NR, qcols = n - qc0 < NR ? n - qc0 : NR;
                for (size_t r = 0; r < m; r += MR)
                    gemm_tile_1(a + r * lda, lda, packed + q * ps, ps, k, c + r * ldc + qc0, ldc,
                                m - r < MR ? m - r : MR, qcols, acc);
            }
            break;
        }
        for (size_t r = 0; r < m; r += MR)
            gemm_tile(a + r * lda, lda, packed + p0 * ps, ps, k, c + r * ldc + c0, ldc,
                      m - r < MR ? m - r : MR, cols, acc);
    }
}
#undef NR
