// A GEMM for constant weights: C[m×n] = A[m×k] · B[k×n], with B packed once (at plan time) into
// 16-column panels and A read in place (no packing of activations, which is where a general
// BLAS spends 10–20% on the thin GEMMs of 1x1 convs). Micro-kernels keep an MR×(16·P) tile of C
// in registers: 6×32 on AVX-512 (12 zmm), 6×16 on AVX2 and NEON, 4×16 elsewhere.
#include "vitkernels.h"
#include "isa.h"

#include <string.h>

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));
#define NR 16

size_t vb_gemm_packed_size(size_t k, size_t n) { return ((n + NR - 1) / NR) * NR * k; }

void vb_gemm_pack_b(const float *b, size_t ldb, size_t k, size_t n, float *packed) {
    const size_t panels = (n + NR - 1) / NR;
    for (size_t p = 0; p < panels; p++) {
        float *dst = packed + p * k * NR;
        const size_t c0 = p * NR, cols = n - c0 < NR ? n - c0 : NR;
        for (size_t kk = 0; kk < k; kk++) {
            for (size_t c = 0; c < cols; c++) dst[kk * NR + c] = b[kk * ldb + c0 + c];
            for (size_t c = cols; c < NR; c++) dst[kk * NR + c] = 0.0f;
        }
    }
}

void vb_gemm_pack_bt(const float *bt, size_t ldbt, size_t k, size_t n, float *packed) {
    const size_t panels = (n + NR - 1) / NR;
    for (size_t p = 0; p < panels; p++) {
        float *dst = packed + p * k * NR;
        const size_t c0 = p * NR, cols = n - c0 < NR ? n - c0 : NR;
        for (size_t c = 0; c < cols; c++) {
            const float *src = bt + (c0 + c) * ldbt;
            for (size_t kk = 0; kk < k; kk++) dst[kk * NR + c] = src[kk];
        }
        for (size_t c = cols; c < NR; c++)
            for (size_t kk = 0; kk < k; kk++) dst[kk * NR + c] = 0.0f;
    }
}

// MR rows × P panels. A row pointers are clamped for the row remainder (the extra rows compute
// duplicates that are not stored); columns past n are stored to a scratch tile and copied.
// B is prefetched 64 rows (4 KiB per panel) ahead: the thin GEMMs of transformers at few tokens
// (LeViT's 16- and 49-token stages) stream weights larger than L2 and are bound by that stream;
// measured against no prefetch and distances 16, 32 and 128: levit_128s −7%, deit_tiny −3%.
// A prefetch past the end of the packed weights is harmless (prefetches do not fault).
#define DEFINE_KERNEL(NAME, ATTR, MR, P)                                                         \
    ATTR static void NAME(const float *a, size_t lda, const float *bp, size_t ps, size_t k,      \
                          float *c, size_t ldc, size_t rows, size_t cols, int accumulate) {     \
        v16 acc[MR][P];                                                                         \
        for (int r = 0; r < MR; r++)                                                            \
            for (int p = 0; p < P; p++) acc[r][p] = (v16){};                                    \
        const float *ar[MR];                                                                    \
        for (int r = 0; r < MR; r++) ar[r] = a + ((size_t)r < rows ? (size_t)r : rows - 1) * lda; \
        for (size_t kk = 0; kk < k; kk++) {                                                     \
            v16 bv[P];                                                                          \
            for (int p = 0; p < P; p++) __builtin_prefetch(bp + p * ps + (kk + 64) * NR, 0, 3);   \
            for (int p = 0; p < P; p++) bv[p] = *(const v16u *)(bp + p * ps + kk * NR);           \
            for (int r = 0; r < MR; r++) {                                                      \
                const v16 av = (v16){} + ar[r][kk];                                             \
                for (int p = 0; p < P; p++) acc[r][p] += av * bv[p];                            \
            }                                                                                   \
        }                                                                                       \
        if (cols == (size_t)(P * NR)) {                                                         \
            for (size_t r = 0; r < rows; r++)                                                   \
                for (int p = 0; p < P; p++) {                                                   \
                    v16u *dst = (v16u *)(c + r * ldc + p * NR);                                 \
                    *dst = accumulate ? *dst + acc[r][p] : acc[r][p];                           \
                }                                                                               \
        } else {                                                                                \
            float tile[P * NR] __attribute__((aligned(64)));                                    \
            for (size_t r = 0; r < rows; r++) {                                                 \
                for (int p = 0; p < P; p++) *(v16 *)(tile + p * NR) = acc[r][p];                \
                float *dst = c + r * ldc;                                                       \
                if (accumulate)                                                                 \
                    for (size_t j = 0; j < cols; j++) dst[j] += tile[j];                        \
                else                                                                            \
                    memcpy(dst, tile, cols * sizeof(float));                                    \
            }                                                                                   \
        }                                                                                       \
    }

// Drives one micro-kernel over a [rows × n] block: panels outermost, so that a K×(16·P) slice
// of B stays in L1/L2 while the rows stream past it.
#define DEFINE_DRIVER(NAME, KERNEL, ATTR, MR, P)                                                 \
    ATTR static void NAME(const float *a, size_t lda, const float *packed, size_t ps, size_t k,  \
                          size_t n, float *c, size_t ldc, size_t m, int acc) {                  \
        const size_t panels = (n + NR - 1) / NR;                                                \
        for (size_t p0 = 0; p0 < panels; p0 += P) {                                             \
            const size_t c0 = p0 * NR;                                                          \
            const size_t cols = n - c0 < (size_t)(P * NR) ? n - c0 : (size_t)(P * NR);          \
            if (p0 + P > panels) {                                                              \
                /* Fewer than P panels left: one panel at a time. */                             \
                for (size_t q = p0; q < panels; q++) {                                          \
                    const size_t qc0 = q * NR, qcols = n - qc0 < NR ? n - qc0 : NR;             \
                    for (size_t r = 0; r < m; r += MR)                                          \
                        KERNEL##_1(a + r * lda, lda, packed + q * ps, ps, k, c + r * ldc + qc0, ldc, \
                                   m - r < MR ? m - r : MR, qcols, acc);                        \
                }                                                                               \
                break;                                                                          \
            }                                                                                   \
            for (size_t r = 0; r < m; r += MR)                                                  \
                KERNEL(a + r * lda, lda, packed + p0 * ps, ps, k, c + r * ldc + c0, ldc,         \
                       m - r < MR ? m - r : MR, cols, acc);                                     \
        }                                                                                       \
    }

#if defined(__x86_64__) && defined(__clang__)
#define AVX512 __attribute__((target("avx512f,avx512vl,fma")))
#define AVX2 __attribute__((target("avx2,fma")))
DEFINE_KERNEL(kernel_avx512, AVX512, 6, 2)
DEFINE_KERNEL(kernel_avx512_1, AVX512, 6, 1)
DEFINE_DRIVER(driver_avx512, kernel_avx512, AVX512, 6, 2)
DEFINE_KERNEL(kernel_avx2, AVX2, 6, 1)
#define kernel_avx2_1 kernel_avx2
DEFINE_DRIVER(driver_avx2, kernel_avx2, AVX2, 6, 1)
DEFINE_KERNEL(kernel_base, , 4, 1)
#define kernel_base_1 kernel_base
DEFINE_DRIVER(driver_base, kernel_base, , 4, 1)

void vb_gemm_packed_strided(const float *a, size_t lda, const float *packed, size_t panel_stride,
                            size_t k, size_t n, float *c, size_t ldc, size_t m, int accumulate) {
    const int isa = vb_x86_isa();
    if (isa == 2) driver_avx512(a, lda, packed, panel_stride, k, n, c, ldc, m, accumulate);
    else if (isa == 1) driver_avx2(a, lda, packed, panel_stride, k, n, c, ldc, m, accumulate);
    else driver_base(a, lda, packed, panel_stride, k, n, c, ldc, m, accumulate);
}
#else
// ARM64 (NEON: 32 registers hold a 6×16 tile) and other targets.
DEFINE_KERNEL(kernel_neon, , 6, 1)
#define kernel_neon_1 kernel_neon
DEFINE_DRIVER(driver_neon, kernel_neon, , 6, 1)

void vb_gemm_packed_strided(const float *a, size_t lda, const float *packed, size_t panel_stride,
                            size_t k, size_t n, float *c, size_t ldc, size_t m, int accumulate) {
    driver_neon(a, lda, packed, panel_stride, k, n, c, ldc, m, accumulate);
}
#endif

void vb_gemm_packed(const float *a, size_t lda, const float *packed, size_t k, size_t n, float *c,
                    size_t ldc, size_t m) {
    vb_gemm_packed_strided(a, lda, packed, k * NR, k, n, c, ldc, m, 0);
}
