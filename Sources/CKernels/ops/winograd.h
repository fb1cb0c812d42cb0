// 3x3 convolutions with one pixel of zero padding, at stride 1 and 2, by Winograd's minimal
// filtering (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016). Each 2x2
// block of output pixels (a tile) comes from its input window through a transform of the window
// (V), products with transformed weights (U) at each of its sample positions, and a transform of
// those products back to the four outputs, so the products over input channels become GEMMs of
// [tiles × cin] by [cin × cout], one per kind of position:
// - stride 1, F(2x2, 3x3): a 4x4 window, Bᵀ d B, 16 positions, Aᵀ m A: 16 multiplies per tile and
//   channel pair where a direct conv needs 36 (2.25x fewer);
// - stride 2: along each axis a tile's two outputs read five input rows (local 0–4), output 0
//   rows 0–2 and output 1 rows 2–4. The outer taps (0 and 2) form a 2-tap conv at stride 1 over
//   rows 0, 2, 4, which F(2, 2) computes from three samples, O0 = r0 − r2, O1 = r2, O2 = r4 − r2,
//   against the taps w0, w0 + w2, w2; the centre tap reads rows 1 and 3 (C0, C1) against w1.
//   Output 0 sums O0, O1, C0; output 1 O1, O2, C1. In 2-D: 25 positions against 36 products
//   (1.44x fewer), and as C0 and C1 share a filter, 16 distinct weight matrices: the positions
//   of one (filter row, filter column) pair stack into one GEMM of 1, 2 or 4 blocks of rows.
// The transforms only add and subtract, and the weights' (packing.c, once per plan) add or halve,
// so the rounding stays that of a direct conv's sum of nine products (reference test: the same
// tolerance as im2col's). F(4x4, 3x3) would save 4x but scales inputs and outputs by up to 8.
//
// One call runs tiles [t0, t1) of one image (tiles in raster order, ceil(oh/2) × ceil(ow/2) of
// them): the input transform of every tile into V[position][tile][cin], the 16 GEMMs into
// M[position][tile][cout] (the packed-weight micro-kernels, so every ISA variant's tile shapes
// apply), then the output transform with the bias, and the activation and residual on each
// finished tile. Tiles are vectorised over channels, 16 at a time, the NHWC rows giving each
// tap's channels contiguously. A body compiled once per ISA variant (variant.h).

// Bᵀ d B: a 4x4 window d (rows i, columns j) to its 16 samples e, of type T (a 16-channel vector
// or one float for the channel tail).
#define WINOGRAD_S1_INPUT(T, d, e)                                                                 \
    do {                                                                                           \
        T t_[4][4];                                                                                \
        for (int j = 0; j < 4; j++) {                                                              \
            t_[0][j] = d[0][j] - d[2][j];                                                          \
            t_[1][j] = d[1][j] + d[2][j];                                                          \
            t_[2][j] = d[2][j] - d[1][j];                                                          \
            t_[3][j] = d[1][j] - d[3][j];                                                          \
        }                                                                                          \
        for (int i = 0; i < 4; i++) {                                                              \
            e[i][0] = t_[i][0] - t_[i][2];                                                         \
            e[i][1] = t_[i][1] + t_[i][2];                                                         \
            e[i][2] = t_[i][2] - t_[i][1];                                                         \
            e[i][3] = t_[i][1] - t_[i][3];                                                         \
        }                                                                                          \
    } while (0)

// Aᵀ m A: the 16 products m of one tile to its 2x2 outputs o.
#define WINOGRAD_S1_OUTPUT(T, m, o)                                                                \
    do {                                                                                           \
        T t_[2][4];                                                                                \
        for (int j = 0; j < 4; j++) {                                                              \
            t_[0][j] = m[0][j] + m[1][j] + m[2][j];                                                \
            t_[1][j] = m[1][j] - m[2][j] - m[3][j];                                                \
        }                                                                                          \
        for (int i = 0; i < 2; i++) {                                                              \
            o[i][0] = t_[i][0] + t_[i][1] + t_[i][2];                                              \
            o[i][1] = t_[i][1] - t_[i][2] - t_[i][3];                                              \
        }                                                                                          \
    } while (0)

// Stride 2: a 5x5 window to its 25 samples (O0, O1, O2, C0, C1 along each axis).
#define WINOGRAD_S2_INPUT(T, d, e)                                                                 \
    do {                                                                                           \
        T t_[5][5];                                                                                \
        for (int j = 0; j < 5; j++) {                                                              \
            t_[0][j] = d[0][j] - d[2][j];                                                          \
            t_[1][j] = d[2][j];                                                                    \
            t_[2][j] = d[4][j] - d[2][j];                                                          \
            t_[3][j] = d[1][j];                                                                    \
            t_[4][j] = d[3][j];                                                                    \
        }                                                                                          \
        for (int u = 0; u < 5; u++) {                                                              \
            e[u][0] = t_[u][0] - t_[u][2];                                                         \
            e[u][1] = t_[u][2];                                                                    \
            e[u][2] = t_[u][4] - t_[u][2];                                                         \
            e[u][3] = t_[u][1];                                                                    \
            e[u][4] = t_[u][3];                                                                    \
        }                                                                                          \
    } while (0)

// Stride 2: output 0 sums positions O0, O1, C0 of each axis, output 1 O1, O2, C1.
#define WINOGRAD_S2_OUTPUT(T, m, o)                                                                \
    do {                                                                                           \
        T z_[5][2];                                                                                \
        for (int u = 0; u < 5; u++) {                                                              \
            z_[u][0] = m[u][0] + m[u][1] + m[u][3];                                                \
            z_[u][1] = m[u][1] + m[u][2] + m[u][4];                                                \
        }                                                                                          \
        for (int q = 0; q < 2; q++) {                                                              \
            o[0][q] = z_[0][q] + z_[1][q] + z_[3][q];                                              \
            o[1][q] = z_[1][q] + z_[2][q] + z_[4][q];                                              \
        }                                                                                          \
    } while (0)

// Position u of an axis: the filter row (or column) of U it multiplies, and its block within
// that filter's stack of positions. Stride 1: one position per filter. Stride 2: the filters w0,
// w0 + w2, w2 and w1, the centre's two samples stacked on w1.
static const int winograd_s1_filter[4] = {0, 1, 2, 3}, winograd_s1_sub[4] = {0, 0, 0, 0};
static const int winograd_s2_filter[5] = {0, 1, 2, 3, 3}, winograd_s2_sub[5] = {0, 0, 0, 0, 1};

// One stride's kernel: S the stride, W the window's side, P its positions per axis.
#define DEFINE_WINOGRAD(NAME, S, W, P, FILTER, SUB, INPUT, OUTPUT)                                 \
    static void NAME(const float *x, size_t ih, size_t iw, size_t cin, const float *packed,       \
                     size_t cout, const float *bias, float *y, size_t t0, size_t t1,               \
                     vb_activation act, const float *residual, float *scratch) {                   \
        const size_t oh = (ih - 1) / S + 1, ow = (iw - 1) / S + 1, tw = (ow + 1) / 2;              \
        const size_t tiles = t1 - t0, cv = cin / VL * VL, ov = cout / VL * VL;                     \
        float *v = scratch, *m = scratch + P * P * tiles * cin;                                    \
        /* Each position's block of `tiles` rows in V and M: the 16 stacks one after another. */   \
        size_t per_filter[4] = {0}, first[16], block[P][P];                                        \
        for (int u = 0; u < P; u++) per_filter[FILTER[u]]++;                                       \
        for (size_t k = 0, at = 0; k < 16; at += per_filter[k / 4] * per_filter[k % 4], k++)      \
            first[k] = at;                                                                         \
        for (int u = 0; u < P; u++)                                                                \
            for (int w = 0; w < P; w++)                                                            \
                block[u][w] = first[FILTER[u] * 4 + FILTER[w]] +                                   \
                              (size_t)SUB[u] * per_filter[FILTER[w]] + (size_t)SUB[w];             \
        for (size_t t = 0; t < tiles; t++) {                                                       \
            const long ty = (long)((t0 + t) / tw), tx = (long)((t0 + t) % tw);                     \
            const float *p[W][W];                                                                  \
            for (int i = 0; i < W; i++)                                                            \
                for (int j = 0; j < W; j++) {                                                      \
                    const long iy = 2 * S * ty - 1 + i, ix = 2 * S * tx - 1 + j;                   \
                    const int inside = iy >= 0 && iy < (long)ih && ix >= 0 && ix < (long)iw;       \
                    p[i][j] = inside ? x + ((size_t)iy * iw + (size_t)ix) * cin : NULL;           \
                }                                                                                  \
            float *vt = v + t * cin;                                                               \
            for (size_t c = 0; c < cv; c += VL) {                                                  \
                v16 d[W][W], e[P][P];                                                              \
                for (int i = 0; i < W; i++)                                                        \
                    for (int j = 0; j < W; j++) d[i][j] = p[i][j] ? load16(p[i][j] + c) : (v16){}; \
                INPUT(v16, d, e);                                                                  \
                for (int u = 0; u < P; u++)                                                        \
                    for (int w = 0; w < P; w++) store16(vt + block[u][w] * tiles * cin + c, e[u][w]); \
            }                                                                                      \
            for (size_t c = cv; c < cin; c++) {                                                    \
                float d[W][W], e[P][P];                                                            \
                for (int i = 0; i < W; i++)                                                        \
                    for (int j = 0; j < W; j++) d[i][j] = p[i][j] ? p[i][j][c] : 0.0f;             \
                INPUT(float, d, e);                                                                \
                for (int u = 0; u < P; u++)                                                        \
                    for (int w = 0; w < P; w++) vt[block[u][w] * tiles * cin + c] = e[u][w];       \
            }                                                                                      \
        }                                                                                          \
        const size_t ps = vb_gemm_packed_size(cin, cout);                                          \
        for (size_t k = 0; k < 16; k++)                                                            \
            k_gemm_packed_strided(v + first[k] * tiles * cin, cin, packed + k * ps,                \
                                  cin * VB_GEMM_NR, cin, cout, m + first[k] * tiles * cout, cout,  \
                                  per_filter[k / 4] * per_filter[k % 4] * tiles, 0, NULL,          \
                                  VB_ACT_NONE, NULL, 0);                                           \
        for (size_t t = 0; t < tiles; t++) {                                                       \
            const size_t ty = (t0 + t) / tw, tx = (t0 + t) % tw;                                   \
            const size_t rows = oh - 2 * ty < 2 ? oh - 2 * ty : 2;                                 \
            const size_t cols = ow - 2 * tx < 2 ? ow - 2 * tx : 2;                                 \
            const float *mt = m + t * cout;                                                        \
            float *yt = y + (2 * ty * ow + 2 * tx) * cout;                                         \
            for (size_t c = 0; c < ov; c += VL) {                                                  \
                v16 mm[P][P], o[2][2];                                                             \
                for (int u = 0; u < P; u++)                                                        \
                    for (int w = 0; w < P; w++) mm[u][w] = load16(mt + block[u][w] * tiles * cout + c); \
                OUTPUT(v16, mm, o);                                                                \
                const v16 b = bias ? load16(bias + c) : (v16){};                                   \
                for (size_t i = 0; i < rows; i++)                                                  \
                    for (size_t j = 0; j < cols; j++) store16(yt + (i * ow + j) * cout + c, o[i][j] + b); \
            }                                                                                      \
            for (size_t c = ov; c < cout; c++) {                                                   \
                float mm[P][P], o[2][2];                                                           \
                for (int u = 0; u < P; u++)                                                        \
                    for (int w = 0; w < P; w++) mm[u][w] = mt[block[u][w] * tiles * cout + c];     \
                OUTPUT(float, mm, o);                                                              \
                const float b = bias ? bias[c] : 0.0f;                                             \
                for (size_t i = 0; i < rows; i++)                                                  \
                    for (size_t j = 0; j < cols; j++) yt[(i * ow + j) * cout + c] = o[i][j] + b;   \
            }                                                                                      \
            if (act != VB_ACT_NONE || residual)                                                    \
                k_bias_act_residual(yt, rows, cols * cout, ow * cout, NULL, act,                   \
                                    residual ? residual + (2 * ty * ow + 2 * tx) * cout : NULL,    \
                                    ow * cout);                                                    \
        }                                                                                          \
    }

DEFINE_WINOGRAD(winograd3x3_s1, 1, 4, 4, winograd_s1_filter, winograd_s1_sub, WINOGRAD_S1_INPUT,
                WINOGRAD_S1_OUTPUT)
DEFINE_WINOGRAD(winograd3x3_s2, 2, 5, 5, winograd_s2_filter, winograd_s2_sub, WINOGRAD_S2_INPUT,
                WINOGRAD_S2_OUTPUT)

static void k_winograd3x3(const float *x, size_t ih, size_t iw, size_t cin, size_t stride,
                          const float *packed, size_t cout, const float *bias, float *y, size_t t0,
                          size_t t1, vb_activation act, const float *residual, float *scratch) {
    (stride == 2 ? winograd3x3_s2 : winograd3x3_s1)(x, ih, iw, cin, packed, cout, bias, y, t0, t1, act,
                                                      residual, scratch);
}

#undef DEFINE_WINOGRAD
#undef WINOGRAD_S1_INPUT
#undef WINOGRAD_S1_OUTPUT
#undef WINOGRAD_S2_INPUT
#undef WINOGRAD_S2_OUTPUT
