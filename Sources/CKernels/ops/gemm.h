// A GEMM for constant weights: C[m×n] = A[m×k] · B[k×n], with B packed once (at plan time, by
// k_gemm_pack at the end of this file) into 16-column panels and A read in place (no packing of
// activations, which is where a general BLAS spends 10–20% on the thin GEMMs of 1x1 convs). The
// micro-kernel keeps a VB_GEMM_MR × (16·VB_GEMM_P) tile of C in registers; each variant sets
// the tile for its register file (variant_*.c). A body compiled once per ISA variant (variant.h).
#define NR VB_GEMM_NR

// MR rows × P panels, over `m` rows (a multiple of MR): one call covers every register tile of
// a panel group, so that the call, the zeroing and the pointer set-up are not paid per 6-row
// tile (K = 48 1x1 convs: a tile is only 288 cycles of FMAs), and the row count is a constant,
// so the stores unroll with the accumulators in registers. Columns past `cols` (a last, partial
// panel group) go to a scratch tile and are copied.
// B is prefetched 64 rows (4 KiB per panel) ahead: the thin GEMMs of transformers at few tokens
// (LeViT's 16- and 49-token stages) stream weights larger than L2 and are bound by that stream;
// measured against no prefetch and distances 16, 32 and 128: levit_128s −7%, deit_tiny −3%.
// Register tile t < `nnext` also pulls panel t of `next` (the next panel group) into L2, one line
// per k step (see the driver). A prefetch past the end of the packed weights is harmless.
// The epilogue rides on the stores: bias (the panel's P vectors, loaded once per call), ReLU and
// a residual are applied to the accumulators as they leave the registers. Other activations are
// not (they cost more than the store pass they would save): with one, the driver passes no
// residual here and runs the activation and the residual afterwards, once over the whole block.
#define DEFINE_GEMM_KERNEL(NAME, MR, P)                                                            \
    static void NAME(const float *a, size_t lda, const float *bp, size_t ps, size_t k, float *c,   \
                     size_t ldc, size_t m, size_t cols, int accumulate, const float *bias,         \
                     int relu, const float *res, size_t ldr, const float *next, size_t nnext) {    \
        const int whole = cols == (size_t)(P * NR);                                                \
        v16 bias_v[P];                                                                             \
        for (int p = 0; p < P; p++) bias_v[p] = bias && whole ? load16(bias + p * NR) : (v16){};   \
        for (size_t r0 = 0, t = 0; r0 < m; r0 += MR, t++) {                                        \
            const float *nx = t < nnext ? next + t * ps : NULL;                                    \
            v16 acc[MR][P];                                                                        \
            for (int r = 0; r < MR; r++)                                                           \
                for (int p = 0; p < P; p++) acc[r][p] = (v16){};                                   \
            const float *ar = a + r0 * lda;                                                        \
            for (size_t kk = 0; kk < k; kk++) {                                                    \
                v16 bv[P];                                                                         \
                for (int p = 0; p < P; p++) __builtin_prefetch(bp + p * ps + (kk + 64) * NR, 0, 3); \
                if (nx) __builtin_prefetch(nx + kk * NR, 0, 2);                                    \
                for (int p = 0; p < P; p++) bv[p] = *(const v16u *)(bp + p * ps + kk * NR);        \
                for (int r = 0; r < MR; r++) {                                                     \
                    const v16 av = splat16(ar[r * lda + kk]);                                      \
                    for (int p = 0; p < P; p++) acc[r][p] += av * bv[p];                           \
                }                                                                                  \
            }                                                                                      \
            float *cr = c + r0 * ldc;                                                              \
            const float *rr = res ? res + r0 * ldr : NULL;                                         \
            if (whole) {                                                                           \
                for (int r = 0; r < MR; r++)                                                       \
                    for (int p = 0; p < P; p++) {                                                  \
                        v16u *dst = (v16u *)(cr + r * ldc + p * NR);                               \
                        v16 v = acc[r][p];                                                         \
                        if (accumulate) v += *dst;                                                 \
                        if (bias) v += bias_v[p];                                                  \
                        if (relu) v = __builtin_elementwise_max(v, (v16){});                       \
                        if (rr) v += load16(rr + r * ldr + p * NR);                                \
                        *dst = v;                                                                  \
                    }                                                                              \
            } else {                                                                               \
                float tile[P * NR] __attribute__((aligned(64)));                                   \
                for (int r = 0; r < MR; r++) {                                                     \
                    for (int p = 0; p < P; p++) *(v16 *)(tile + p * NR) = acc[r][p];               \
                    float *dst = cr + r * ldc;                                                     \
                    if (accumulate)                                                                \
                        for (size_t j = 0; j < cols; j++) tile[j] += dst[j];                       \
                    if (bias)                                                                      \
                        for (size_t j = 0; j < cols; j++) tile[j] += bias[j];                      \
                    if (relu)                                                                      \
                        for (size_t j = 0; j < cols; j++) tile[j] = fmaxf(tile[j], 0.0f);          \
                    if (rr)                                                                        \
                        for (size_t j = 0; j < cols; j++) tile[j] += rr[r * ldr + j];              \
                    memcpy(dst, tile, cols * sizeof(float));                                       \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

typedef void (*gemm_kernel_fn)(const float *, size_t, const float *, size_t, size_t, float *, size_t,
                               size_t, size_t, int, const float *, int, const float *, size_t,
                               const float *, size_t);

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
    static const gemm_kernel_fn gemm_p##P[6] = {gemm_p##P##_full, gemm_p##P##_r1,         \
                                                        gemm_p##P##_r2,   gemm_p##P##_r3,         \
                                                        gemm_p##P##_r4,   gemm_p##P##_r5};

// Index 0: the full MR-row tile; index r: exactly r rows.
#if VB_GEMM_MR > 6
#error "VB_GEMM_MR above 6 needs more row-remainder kernels"
#endif
DEFINE_GEMM_FAMILY(1)
#if VB_GEMM_P >= 2
DEFINE_GEMM_FAMILY(2)
// Three panels when an odd count leaves one over (48, 80, 112, 144 columns): a lone 16-column
// panel runs one B load per MR broadcasts and is load-bound; the third panel rides along in the
// registers the 6x32 tile leaves free.
DEFINE_GEMM_FAMILY(3)
#endif
#if VB_GEMM_P != 1 && VB_GEMM_P != 2
#error "VB_GEMM_P must be 1 or 2"
#endif

// Panels of the next group: two, or three where three are left (no lone panel at the end).
static size_t gemm_group(size_t left, const gemm_kernel_fn **family) {
#if VB_GEMM_P >= 2
    if (left == 3) {
        *family = gemm_p3;
        return 3;
    }
    if (left >= 2) {
        *family = gemm_p2;
        return 2;
    }
#endif
    (void)left;
    *family = gemm_p1;
    return 1;
}

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
    // The rows over the last full tile: 1 or 2 (a 7- or 8-row tail) run as 4 + 3 or 4 + 4 rows
    // where there are 6-row tiles: a 1- or 2-row kernel keeps 2 or 4 accumulators and waits on
    // FMA latency about as long as a 4-row one (LeViT's 49-token stages: 48 + 1). The same split
    // serves every panel group.
    size_t full = m / MR * MR, tail[2] = {m - full, 0};
    if (MR == 6 && full >= MR && tail[0] >= 1 && tail[0] <= 2) {
        full -= MR;
        tail[0] = 4;
        tail[1] = m - full - 4;
    }
    const size_t tiles = full / MR;
    for (size_t q = 0; q < panels;) {
        const gemm_kernel_fn *family;
        const size_t p = gemm_group(panels - q, &family);
        const size_t c0 = q * NR;
        const size_t cols = n - c0 < p * NR ? n - c0 : p * NR;
        const float *bq = packed + q * ps, *bias_q = bias ? bias + c0 : NULL;
        const float *res_q = res_in_kernel ? res_in_kernel + c0 : NULL;
        // Register tile t ≤ p of this panel group pulls panel q + p + t (the next group's, and
        // one more) into L2, one 64-byte line per k step: weights that come from DRAM (MobileOne-
        // S4's and DeiT's exceed L3) then stream while this group computes on panels already in
        // cache, where before only the group's first tile streamed them, bandwidth-bound.
        const size_t after = panels - q - p, nnext = after < p + 1 ? after : p + 1;
        const float *next = nnext ? packed + (q + p) * ps : NULL;
        if (full)
            family[0](a, lda, bq, ps, k, c + c0, ldc, full, cols, acc, bias_q, relu, res_q, ldr, next, nnext);
        for (size_t i = 0, r = full; i < 2 && tail[i]; r += tail[i], i++) {
            const int pf = tiles + i < nnext;
            family[tail[i]](a + r * lda, lda, bq, ps, k, c + r * ldc + c0, ldc, tail[i], cols, acc, bias_q,
                            relu, res_q ? res_q + r * ldr : NULL, ldr, pf ? next + (tiles + i) * ps : NULL, pf);
        }
        q += p;
    }
    if (!in_kernel) k_bias_act_residual(c, m, n, ldc, NULL, act, residual, ldr);
}

// Packing B into the panels above, per ISA variant: weights are packed once per plan, but
// attention packs each head's K (transposed, the scale folded in) and V on every pass, O(T·d)
// against the O(T²·d) products, yet a scalar transpose with 16-float strides took 8% of DeiT-S's
// attention and 6% of MobileViT's. The transpose runs on 8×8 blocks in registers, three rounds of
// interleaves (a perfect shuffle), which every variant's shuffles do well: 16×16 blocks were as
// fast on AVX-512 and eight times slower on AVX2, whose shuffles do not cross 128-bit lanes.
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));
#define V8_LO(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#define V8_HI(a, b) __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15)

// packed[p][kk][c] = scale · B[kk][16p + c] (0 past n), where B[kk][j] is b[kk·ldb + j], or with
// `transposed`, b[j·ldb + kk].
static void k_gemm_pack(const float *b, size_t ldb, int transposed, size_t k, size_t n, float scale,
                        float *packed) {
    const size_t panels = (n + NR - 1) / NR;
    for (size_t p = 0; p < panels; p++) {
        float *dst = packed + p * k * NR;
        const size_t c0 = p * NR, cols = n - c0 < NR ? n - c0 : NR;
        if (!transposed) {
            for (size_t kk = 0; kk < k; kk++) {
                const float *src = b + kk * ldb + c0;
                float *d = dst + kk * NR;
                if (cols == NR) {
                    store16(d, load16(src) * splat16(scale));
                } else {
                    for (size_t c = 0; c < cols; c++) d[c] = src[c] * scale;
                    for (size_t c = cols; c < NR; c++) d[c] = 0.0f;
                }
            }
            continue;
        }
        // Bᵀ: rows c0 .. c0 + cols of b, 8 at a time, each an 8×8 block per 8 values of kk.
        for (size_t h = 0; h < NR; h += 8) {
            const size_t rows = cols > h ? (cols - h < 8 ? cols - h : 8) : 0;
            const float *src = b + (c0 + h) * ldb;
            size_t kk = 0;
            for (; kk + 8 <= k; kk += 8) {
                v8 r[8];
                for (size_t i = 0; i < 8; i++)
                    r[i] = i < rows ? *(const v8u *)(src + i * ldb + kk) * scale : (v8){};
                for (int round = 0; round < 3; round++) {
                    v8 t[8];
                    for (int i = 0; i < 4; i++) {
                        t[2 * i] = V8_LO(r[i], r[i + 4]);
                        t[2 * i + 1] = V8_HI(r[i], r[i + 4]);
                    }
                    for (int i = 0; i < 8; i++) r[i] = t[i];
                }
                for (int i = 0; i < 8; i++) *(v8u *)(dst + (kk + i) * NR + h) = r[i];
            }
            for (; kk < k; kk++)
                for (size_t i = 0; i < 8; i++) dst[kk * NR + h + i] = i < rows ? src[i * ldb + kk] * scale : 0.0f;
        }
    }
}
#undef V8_LO
#undef V8_HI
#undef NR
