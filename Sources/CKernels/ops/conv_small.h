// Direct convolution for few input channels (stems, patch embeddings); see
// include/vitconvsmall.h for the contract and packing.c for the weight layout.
//
// Output pixels whose window lies inside the input in x ("interior") run a register tile of
// P pixels × V 16-channel vectors: per tap, V weight vectors are loaded once and each of the P
// input values is broadcast once, for P·V FMAs. Rows are clipped per output row (no per-tap
// checks); the few border columns run one pixel at a time with clipped taps. The activation and
// residual are applied to each finished output row while it is still in L1.
// A body compiled once per ISA variant (variant.h); the tile shapes are chosen per variant below.

static size_t conv_small_round_up16(size_t n) { return (n + VL - 1) / VL * VL; }

static size_t conv_small_panel_width(size_t cp, size_t c0) {
    return cp - c0 < VB_CONV_SMALL_PANEL ? cp - c0 : VB_CONV_SMALL_PANEL;
}

// One register tile: `count` ≤ P output pixels of one row × V channel vectors, the first pixel
// reading its window at x (already moved to the first unclipped kernel row), the next ones `step`
// floats further. `off` holds the offsets of the kw·cin values of one kernel row; `w` the packed
// weights of the first unclipped row, at the group's first channel, `cp` floats per tap. With
// count < P the last pixel is repeated in the spare registers and only the real ones are stored.
#define DEFINE_TILE(NAME, P, V)                                                                    \
    static inline void NAME(const float *x, size_t step, size_t count, size_t rows,                \
                                 size_t row_stride, const ptrdiff_t *off, size_t taps,             \
                                 const float *w, size_t cp, const float *bias, float *y,           \
                                 size_t ldy, size_t cols) {                                        \
        v16 acc[P][V];                                                                             \
        for (int v = 0; v < V; v++) {                                                              \
            const v16 b = load16(bias + v * VL);                                                   \
            for (int p = 0; p < P; p++) acc[p][v] = b;                                             \
        }                                                                                          \
        const float *xp[P];                                                                        \
        for (int p = 0; p < P; p++) xp[p] = x + ((size_t)p < count ? (size_t)p : count - 1) * step; \
        for (size_t r = 0; r < rows; r++) {                                                        \
            for (size_t t = 0; t < taps; t++) {                                                    \
                v16 wv[V];                                                                         \
                for (int v = 0; v < V; v++) wv[v] = load16(w + t * cp + v * VL);                   \
                const ptrdiff_t o = off[t];                                                        \
                for (int p = 0; p < P; p++) {                                                      \
                    const v16 xv = splat16(xp[p][o]);                                               \
                    for (int v = 0; v < V; v++) acc[p][v] += xv * wv[v];                           \
                }                                                                                  \
            }                                                                                      \
            w += taps * cp;                                                                        \
            for (int p = 0; p < P; p++) xp[p] += row_stride;                                       \
        }                                                                                          \
        if (cols == (size_t)(V * VL)) {                                                            \
            for (size_t p = 0; p < count; p++)                                                     \
                for (int v = 0; v < V; v++) store16(y + p * ldy + v * VL, acc[p][v]);              \
        } else {                                                                                   \
            float tile[V * VL] __attribute__((aligned(64)));                                       \
            for (size_t p = 0; p < count; p++) {                                                   \
                for (int v = 0; v < V; v++) *(v16 *)(tile + v * VL) = acc[p][v];                   \
                memcpy(y + p * ldy, tile, cols * sizeof(float));                                   \
            }                                                                                      \
        }                                                                                          \
    }

// The interior of one output row for one channel group: n pixels in tiles of P, and the last
// P + r < 2P pixels in tiles of PR ≤ P, so that a narrow output wastes few register slots on
// repeated pixels (DeiT's 14-pixel rows: 6 + 4 + 4 instead of 6 + 6 + 6, 20% less work).
#define DEFINE_SPAN(NAME, TILE, P, TILE_REST, PR)                                                  \
    static void NAME(const float *x, size_t step, size_t n, size_t rows, size_t row_stride,        \
                          const ptrdiff_t *off, size_t taps, const float *w, size_t cp,            \
                          const float *bias, float *y, size_t ldy, size_t cols) {                  \
        size_t i = 0;                                                                              \
        for (; n - i >= (size_t)(P + PR) || n - i == (size_t)P; i += P)                            \
            TILE(x + i * step, step, P, rows, row_stride, off, taps, w, cp, bias, y + i * ldy, ldy, cols); \
        for (; i < n; i += PR)                                                                     \
            TILE_REST(x + i * step, step, n - i < (size_t)PR ? n - i : (size_t)PR, rows, row_stride, \
                      off, taps, w, cp, bias, y + i * ldy, ldy, cols);                             \
    }

typedef void (*span_fn)(const float *, size_t, size_t, size_t, size_t, const ptrdiff_t *, size_t,
                        const float *, size_t, const float *, float *, size_t, size_t);

// One pixel whose window crosses the left or right edge (rows are clipped by the caller too):
// taps outside the input are skipped. nv ≤ VMAX vectors from the group's first channel.
#define DEFINE_BORDER(NAME, VMAX)                                                                  \
    static void NAME(const float *x, long ix0, size_t iw, size_t cin, size_t pixel_stride,         \
                          size_t channel_stride, size_t row_stride, size_t rows, size_t kw,        \
                          const float *w, size_t cp, size_t nv, const float *bias, float *y,       \
                          size_t cols) {                                                           \
        v16 acc[VMAX];                                                                             \
        for (size_t v = 0; v < VMAX; v++) acc[v] = v < nv ? load16(bias + v * VL) : (v16){};       \
        const size_t kx0 = ix0 < 0 ? (size_t)(-ix0) : 0;                                           \
        const long right = (long)iw - ix0;                                                         \
        const size_t kx1 = right <= 0 ? 0 : right < (long)kw ? (size_t)right : kw;                 \
        for (size_t r = 0; r < rows; r++)                                                          \
            for (size_t kx = kx0; kx < kx1; kx++) {                                                \
                const float *xv = x + r * row_stride + (size_t)(ix0 + (long)kx) * pixel_stride;    \
                const float *wt = w + (r * kw + kx) * cin * cp;                                    \
                for (size_t c = 0; c < cin; c++) {                                                 \
                    const v16 b = splat16(xv[c * channel_stride]);                                  \
                    for (size_t v = 0; v < VMAX; v++)                                              \
                        if (v < nv) acc[v] += b * load16(wt + c * cp + v * VL);                    \
                }                                                                                  \
            }                                                                                      \
        float tile[VMAX * VL] __attribute__((aligned(64)));                                        \
        for (size_t v = 0; v < VMAX; v++) *(v16 *)(tile + v * VL) = acc[v];                        \
        memcpy(y, tile, cols * sizeof(float));                                                     \
    }

// Asks for the input rows that the next output row reads and this one does not, so that they
// arrive while this row is computed. Stems read the image straight from memory (it is the plan's
// input, cold after a whole forward pass), and an NCHW image is cin short streams per row, too
// short for the hardware prefetchers to pick up: without this, a 3→16 3x3/2 stem on a cold
// 224x224 NCHW image ran ~2x slower than on a cached one.
static void prefetch_next_rows(const float *x, size_t ih, size_t iw, size_t cin, size_t rs, size_t ps,
                               size_t cs, long iy0, size_t kh, size_t sh) {
    const long first = iy0 + (long)(sh > kh ? sh : kh), end = iy0 + (long)(sh + kh);
    // Interleaved channels (NHWC) share one span per row; planar ones (NCHW) have one each.
    const size_t spans = cs < ps ? 1 : cin, span = (iw - 1) * ps + (cs < ps ? cin : 1);
    for (long iy = first < 0 ? 0 : first; iy < end && iy < (long)ih; iy++)
        for (size_t c = 0; c < spans; c++) {
            const char *p = (const char *)(x + (size_t)iy * rs + c * cs);
            for (size_t b = 0; b < span * sizeof(float); b += 64) __builtin_prefetch(p + b);
        }
}

// The whole kernel for one instruction set: channel groups of up to VMAX vectors, SPANS[nv - 1]
// running a group of nv vectors.
#define DEFINE_DRIVER(NAME, VMAX, SPANS, BORDER)                                                   \
    static void NAME(const float *x, size_t ih, size_t iw, size_t cin, size_t rs, size_t ps,       \
                          size_t cs, const float *packed, size_t cout, size_t kh, size_t kw,       \
                          size_t sh, size_t sw, size_t ph, size_t pw, float *y, size_t oh,         \
                          size_t ow, size_t oy0, size_t oy1, vb_activation act,                    \
                          const float *residual) {                                                 \
        (void)oh;                                                                                  \
        const size_t cp = conv_small_round_up16(cout), nvec = cp / VL, taps = kw * cin;            \
        const float *bias = packed + kh * taps * cp;                                               \
        ptrdiff_t off[VB_CONV_SMALL_MAX_ROW_TAPS];                                                 \
        for (size_t kx = 0; kx < kw; kx++)                                                         \
            for (size_t c = 0; c < cin; c++) off[kx * cin + c] = (ptrdiff_t)(kx * ps + c * cs);    \
        /* Output columns whose whole window lies inside the input. */                             \
        size_t ox_lo = (pw + sw - 1) / sw;                                                         \
        size_t ox_hi = iw + pw >= kw ? (iw + pw - kw) / sw + 1 : 0;                                \
        if (ox_hi > ow) ox_hi = ow;                                                                \
        if (ox_lo > ox_hi) ox_lo = ox_hi;                                                          \
        for (size_t oy = oy0; oy < oy1; oy++) {                                                    \
            const long iy0 = (long)(oy * sh) - (long)ph;                                           \
            const size_t ky0 = iy0 < 0 ? (size_t)(-iy0) : 0;                                       \
            const long below = (long)ih - iy0;                                                     \
            size_t ky1 = below <= 0 ? 0 : below < (long)kh ? (size_t)below : kh;                   \
            if (ky1 < ky0) ky1 = ky0;                                                              \
            const size_t rows = ky1 - ky0;                                                         \
            /* Row ky0 of the input window; not read when every kernel row is clipped. */          \
            const float *xr = rows ? x + (size_t)(iy0 + (long)ky0) * rs : x;                       \
            float *yrow = y + oy * ow * cout;                                                      \
            if (oy + 1 < oy1) prefetch_next_rows(x, ih, iw, cin, rs, ps, cs, iy0, kh, sh);         \
            for (size_t g = 0; g < nvec; g += VMAX) {                                              \
                const size_t nv = nvec - g < VMAX ? nvec - g : VMAX, c0 = g * VL;                  \
                const size_t cols = cout - c0 < nv * VL ? cout - c0 : nv * VL;                     \
                const size_t q0 = c0 / VB_CONV_SMALL_PANEL * VB_CONV_SMALL_PANEL;                  \
                const size_t pwid = conv_small_panel_width(cp, q0);                                \
                const float *wg = packed + q0 * kh * taps + ky0 * taps * pwid + c0 - q0;           \
                const float *bg = bias + c0;                                                       \
                for (size_t ox = 0; ox < ox_lo; ox++)                                              \
                    BORDER(xr, (long)(ox * sw) - (long)pw, iw, cin, ps, cs, rs, rows, kw, wg,      \
                           pwid, nv, bg, yrow + ox * cout + c0, cols);                             \
                if (ox_hi > ox_lo)                                                                 \
                    SPANS[nv - 1](xr + (ox_lo * sw - pw) * ps, sw * ps, ox_hi - ox_lo, rows, rs,   \
                                  off, taps, wg, pwid, bg, yrow + ox_lo * cout + c0, cout, cols);  \
                for (size_t ox = ox_hi; ox < ow; ox++)                                             \
                    BORDER(xr, (long)(ox * sw) - (long)pw, iw, cin, ps, cs, rs, rows, kw, wg,      \
                           pwid, nv, bg, yrow + ox * cout + c0, cols);                             \
            }                                                                                      \
            if (act != VB_ACT_NONE || residual)                                                    \
                k_bias_act_residual(yrow, 1, ow * cout, ow * cout, NULL, act,                      \
                                     residual ? residual + oy * ow * cout : NULL, ow * cout);      \
        }                                                                                          \
    }

// Tile shapes, measured one-threaded on the stems (3→16 and 3→48 3x3/2, 3→64 7x7/4) and a
// 16x16 patch embedding: with AVX-512's 32 registers, 8 pixels for one or two vectors and 6 for
// three or four (up to 24 accumulators) beat 4, 5, 10, 12 and 16; a 16-float vector is two ymm
// registers under AVX2 (16 of them), where 4 pixels × 1 vector ran 2.5x faster than 6 pixels
// (which spill) and than 3 × 2. SSE2 and NEON (16 and 32 four-float registers) get 2 and 6.
#if defined(VB_VARIANT_AVX512)
DEFINE_TILE(tile_8x1, 8, 1)
DEFINE_TILE(tile_4x1, 4, 1)
DEFINE_TILE(tile_8x2, 8, 2)
DEFINE_TILE(tile_4x2, 4, 2)
DEFINE_TILE(tile_6x3, 6, 3)
DEFINE_TILE(tile_4x3, 4, 3)
DEFINE_TILE(tile_6x4, 6, 4)
DEFINE_TILE(tile_4x4, 4, 4)
DEFINE_SPAN(span_1, tile_8x1, 8, tile_4x1, 4)
DEFINE_SPAN(span_2, tile_8x2, 8, tile_4x2, 4)
DEFINE_SPAN(span_3, tile_6x3, 6, tile_4x3, 4)
DEFINE_SPAN(span_4, tile_6x4, 6, tile_4x4, 4)
static const span_fn conv_small_spans[] = {span_1, span_2, span_3, span_4};
#define CONV_SMALL_VMAX 4
#elif defined(VB_VARIANT_AVX2)
DEFINE_TILE(tile_4x1, 4, 1)
DEFINE_TILE(tile_2x1, 2, 1)
DEFINE_SPAN(span_1, tile_4x1, 4, tile_2x1, 2)
static const span_fn conv_small_spans[] = {span_1};
#define CONV_SMALL_VMAX 1
#elif defined(VB_VARIANT_NEON)
DEFINE_TILE(tile_6x1, 6, 1)
DEFINE_TILE(tile_4x1, 4, 1)
DEFINE_SPAN(span_1, tile_6x1, 6, tile_4x1, 4)
static const span_fn conv_small_spans[] = {span_1};
#define CONV_SMALL_VMAX 1
#else
DEFINE_TILE(tile_2x1, 2, 1)
DEFINE_TILE(tile_1x1, 1, 1)
DEFINE_SPAN(span_1, tile_2x1, 2, tile_1x1, 1)
static const span_fn conv_small_spans[] = {span_1};
#define CONV_SMALL_VMAX 1
#endif
DEFINE_BORDER(conv_small_border, CONV_SMALL_VMAX)
DEFINE_DRIVER(k_conv_small, CONV_SMALL_VMAX, conv_small_spans, conv_small_border)
