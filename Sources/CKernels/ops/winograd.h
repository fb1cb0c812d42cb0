// 3x3 convolutions at stride 1 with one pixel of zero padding, by Winograd's minimal filtering
// F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): each
// 2x2 block of output pixels (a tile) comes from its 4x4 input patch as Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A,
// so the products over input channels become 16 GEMMs of [tiles × cin] by [cin × cout], one per
// position ξ of the 4x4 transformed tile: 16 multiplies per tile and channel pair where the
// direct conv needs 36 (2.25x fewer). The transforms only add and subtract (B, A) or halve (G,
// applied once to the weights when they are packed; packing.c), so the rounding stays that of a
// direct conv's sum of nine products (reference test: the same tolerance as im2col's). F(4x4, 3x3)
// would save 4x but multiplies inputs by up to 8 and outputs by up to 8 again in fp32.
//
// One call runs tiles [t0, t1) of one image (tiles in raster order, ceil(oh/2) × ceil(ow/2) of
// them): the input transform of every tile into V[ξ][tile][cin], the 16 GEMMs into
// M[ξ][tile][cout] (the packed-weight micro-kernels, so every ISA variant's tile shapes apply),
// then the output transform with the bias, and the activation and residual on each finished
// tile. Tiles are vectorised over channels, 16 at a time, the NHWC rows giving each tap's
// channels contiguously. A body compiled once per ISA variant (variant.h).

// Bᵀ d B for one 4x4 patch d (rows i, columns j), in place of d's 16 values, of type T (a 16-
// channel vector or one float for the channel tail).
#define WINOGRAD_INPUT(T, d)                                                                       \
    do {                                                                                           \
        for (int j = 0; j < 4; j++) {                                                              \
            const T r0 = d[0][j], r1 = d[1][j], r2 = d[2][j], r3 = d[3][j];                        \
            d[0][j] = r0 - r2;                                                                     \
            d[1][j] = r1 + r2;                                                                     \
            d[2][j] = r2 - r1;                                                                     \
            d[3][j] = r1 - r3;                                                                     \
        }                                                                                          \
        for (int i = 0; i < 4; i++) {                                                              \
            const T c0 = d[i][0], c1 = d[i][1], c2 = d[i][2], c3 = d[i][3];                        \
            d[i][0] = c0 - c2;                                                                     \
            d[i][1] = c1 + c2;                                                                     \
            d[i][2] = c2 - c1;                                                                     \
            d[i][3] = c1 - c3;                                                                     \
        }                                                                                          \
    } while (0)

// Aᵀ m A for one transformed tile m (4x4) into the 2x2 outputs o, of type T.
#define WINOGRAD_OUTPUT(T, m, o)                                                                   \
    do {                                                                                           \
        T t[2][4];                                                                                 \
        for (int j = 0; j < 4; j++) {                                                              \
            t[0][j] = m[0][j] + m[1][j] + m[2][j];                                                 \
            t[1][j] = m[1][j] - m[2][j] - m[3][j];                                                 \
        }                                                                                          \
        for (int i = 0; i < 2; i++) {                                                              \
            o[i][0] = t[i][0] + t[i][1] + t[i][2];                                                 \
            o[i][1] = t[i][1] - t[i][2] - t[i][3];                                                 \
        }                                                                                          \
    } while (0)

static void winograd3x3_s1(const float *x, size_t ih, size_t iw, size_t cin, const float *packed,
                           size_t cout, const float *bias, float *y, size_t t0, size_t t1,
                           vb_activation act, const float *residual, float *scratch) {
    const size_t tw = (iw + 1) / 2, tiles = t1 - t0;
    const size_t cv = cin / VL * VL, ov = cout / VL * VL;
    float *v = scratch, *m = scratch + 16 * tiles * cin;
    // Input transform: V[ξ][t][c].
    for (size_t t = 0; t < tiles; t++) {
        const long ty = (long)((t0 + t) / tw), tx = (long)((t0 + t) % tw);
        const float *p[4][4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                const long iy = 2 * ty - 1 + i, ix = 2 * tx - 1 + j;
                p[i][j] = iy >= 0 && iy < (long)ih && ix >= 0 && ix < (long)iw ? x + ((size_t)iy * iw + (size_t)ix) * cin : NULL;
            }
        float *vt = v + t * cin;
        for (size_t c = 0; c < cv; c += VL) {
            v16 d[4][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) d[i][j] = p[i][j] ? load16(p[i][j] + c) : (v16){};
            WINOGRAD_INPUT(v16, d);
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) store16(vt + (size_t)(i * 4 + j) * tiles * cin + c, d[i][j]);
        }
        for (size_t c = cv; c < cin; c++) {
            float d[4][4];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) d[i][j] = p[i][j] ? p[i][j][c] : 0.0f;
            WINOGRAD_INPUT(float, d);
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) vt[(size_t)(i * 4 + j) * tiles * cin + c] = d[i][j];
        }
    }
    // M[ξ] = V[ξ] · U[ξ].
    const size_t ps = vb_gemm_packed_size(cin, cout);
    for (size_t xi = 0; xi < 16; xi++)
        k_gemm_packed_strided(v + xi * tiles * cin, cin, packed + xi * ps, cin * VB_GEMM_NR, cin, cout,
                              m + xi * tiles * cout, cout, tiles, 0, NULL, VB_ACT_NONE, NULL, 0);
    // Output transform, bias, then the activation and residual on the tile's valid pixels.
    const size_t oh = ih, ow = iw;
    for (size_t t = 0; t < tiles; t++) {
        const size_t ty = (t0 + t) / tw, tx = (t0 + t) % tw;
        const size_t rows = oh - 2 * ty < 2 ? oh - 2 * ty : 2, cols = ow - 2 * tx < 2 ? ow - 2 * tx : 2;
        const float *mt = m + t * cout;
        float *yt = y + (2 * ty * ow + 2 * tx) * cout;
        for (size_t c = 0; c < ov; c += VL) {
            v16 mm[4][4], o[2][2];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) mm[i][j] = load16(mt + (size_t)(i * 4 + j) * tiles * cout + c);
            WINOGRAD_OUTPUT(v16, mm, o);
            const v16 b = bias ? load16(bias + c) : (v16){};
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < cols; j++) store16(yt + (i * ow + j) * cout + c, o[i][j] + b);
        }
        for (size_t c = ov; c < cout; c++) {
            float mm[4][4], o[2][2];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) mm[i][j] = mt[(size_t)(i * 4 + j) * tiles * cout + c];
            WINOGRAD_OUTPUT(float, mm, o);
            const float b = bias ? bias[c] : 0.0f;
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < cols; j++) yt[(i * ow + j) * cout + c] = o[i][j] + b;
        }
        if (act != VB_ACT_NONE || residual)
            k_bias_act_residual(yt, rows, cols * cout, ow * cout, NULL, act,
                                residual ? residual + (2 * ty * ow + 2 * tx) * cout : NULL, ow * cout);
    }
}

// Stride 2. Along each axis, a tile's two outputs read a window of five input rows (local 0–4):
// output 0 rows 0–2, output 1 rows 2–4. The outer taps (0 and 2) then form a 2-tap conv at
// stride 1 over rows 0, 2, 4, which F(2, 2) computes from three samples, O0 = r0 − r2, O1 = r2,
// O2 = r4 − r2, against the taps w0, w0 + w2, w2 (3 multiplies for 2 outputs, not 4); the centre
// tap reads rows 1 and 3 (C0, C1) against w1. Output 0 sums O0, O1, C0; output 1 O1, O2, C1.
// In 2-D that is 25 sample positions (u, v) per tile against 36 products of a direct conv (1.44x
// fewer), and as C0 and C1 share a filter, 16 distinct weight matrices: the positions of each
// (filter row, filter column) pair stack into one GEMM of 1, 2 or 4 row blocks of `tiles` rows.
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

// Position u of an axis: its filter (0: w0, 1: w0 + w2, 2: w2, 3: w1) and its block within that
// filter's stack (the centre's two samples).
static const int winograd_s2_filter[5] = {0, 1, 2, 3, 3}, winograd_s2_sub[5] = {0, 0, 0, 0, 1};

static void winograd3x3_s2(const float *x, size_t ih, size_t iw, size_t cin, const float *packed,
                           size_t cout, const float *bias, float *y, size_t t0, size_t t1,
                           vb_activation act, const float *residual, float *scratch) {
    const size_t oh = (ih - 1) / 2 + 1, ow = (iw - 1) / 2 + 1, tw = (ow + 1) / 2, tiles = t1 - t0;
    const size_t cv = cin / VL * VL, ov = cout / VL * VL;
    float *v = scratch, *m = scratch + 25 * tiles * cin;
    // Row block (of `tiles` rows) of each position in V and M, the 16 stacks one after another.
    size_t first[16], block[5][5];
    for (int k = 0, at = 0; k < 16; k++) {
        first[k] = (size_t)at;
        at += (k / 4 == 3 ? 2 : 1) * (k % 4 == 3 ? 2 : 1);
    }
    for (int u = 0; u < 5; u++)
        for (int w = 0; w < 5; w++) {
            const int fu = winograd_s2_filter[u], fv = winograd_s2_filter[w];
            block[u][w] = first[fu * 4 + fv] + (size_t)(winograd_s2_sub[u] * (fv == 3 ? 2 : 1) + winograd_s2_sub[w]);
        }
    for (size_t t = 0; t < tiles; t++) {
        const long ty = (long)((t0 + t) / tw), tx = (long)((t0 + t) % tw);
        const float *p[5][5];
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++) {
                const long iy = 4 * ty - 1 + i, ix = 4 * tx - 1 + j;
                p[i][j] = iy >= 0 && iy < (long)ih && ix >= 0 && ix < (long)iw ? x + ((size_t)iy * iw + (size_t)ix) * cin : NULL;
            }
        float *vt = v + t * cin;
        for (size_t c = 0; c < cv; c += VL) {
            v16 d[5][5], e[5][5];
            for (int i = 0; i < 5; i++)
                for (int j = 0; j < 5; j++) d[i][j] = p[i][j] ? load16(p[i][j] + c) : (v16){};
            WINOGRAD_S2_INPUT(v16, d, e);
            for (int u = 0; u < 5; u++)
                for (int w = 0; w < 5; w++) store16(vt + block[u][w] * tiles * cin + c, e[u][w]);
        }
        for (size_t c = cv; c < cin; c++) {
            float d[5][5], e[5][5];
            for (int i = 0; i < 5; i++)
                for (int j = 0; j < 5; j++) d[i][j] = p[i][j] ? p[i][j][c] : 0.0f;
            WINOGRAD_S2_INPUT(float, d, e);
            for (int u = 0; u < 5; u++)
                for (int w = 0; w < 5; w++) vt[block[u][w] * tiles * cin + c] = e[u][w];
        }
    }
    const size_t ps = vb_gemm_packed_size(cin, cout);
    for (int k = 0; k < 16; k++) {
        const size_t rows = (size_t)((k / 4 == 3 ? 2 : 1) * (k % 4 == 3 ? 2 : 1)) * tiles;
        k_gemm_packed_strided(v + first[k] * tiles * cin, cin, packed + (size_t)k * ps, cin * VB_GEMM_NR, cin,
                              cout, m + first[k] * tiles * cout, cout, rows, 0, NULL, VB_ACT_NONE, NULL, 0);
    }
    for (size_t t = 0; t < tiles; t++) {
        const size_t ty = (t0 + t) / tw, tx = (t0 + t) % tw;
        const size_t rows = oh - 2 * ty < 2 ? oh - 2 * ty : 2, cols = ow - 2 * tx < 2 ? ow - 2 * tx : 2;
        const float *mt = m + t * cout;
        float *yt = y + (2 * ty * ow + 2 * tx) * cout;
        for (size_t c = 0; c < ov; c += VL) {
            v16 mm[5][5], o[2][2];
            for (int u = 0; u < 5; u++)
                for (int w = 0; w < 5; w++) mm[u][w] = load16(mt + block[u][w] * tiles * cout + c);
            WINOGRAD_S2_OUTPUT(v16, mm, o);
            const v16 b = bias ? load16(bias + c) : (v16){};
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < cols; j++) store16(yt + (i * ow + j) * cout + c, o[i][j] + b);
        }
        for (size_t c = ov; c < cout; c++) {
            float mm[5][5], o[2][2];
            for (int u = 0; u < 5; u++)
                for (int w = 0; w < 5; w++) mm[u][w] = mt[block[u][w] * tiles * cout + c];
            WINOGRAD_S2_OUTPUT(float, mm, o);
            const float b = bias ? bias[c] : 0.0f;
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < cols; j++) yt[(i * ow + j) * cout + c] = o[i][j] + b;
        }
        if (act != VB_ACT_NONE || residual)
            k_bias_act_residual(yt, rows, cols * cout, ow * cout, NULL, act,
                                residual ? residual + (2 * ty * ow + 2 * tx) * cout : NULL, ow * cout);
    }
}

static void k_winograd3x3(const float *x, size_t ih, size_t iw, size_t cin, size_t stride,
                          const float *packed, size_t cout, const float *bias, float *y, size_t t0,
                          size_t t1, vb_activation act, const float *residual, float *scratch) {
    (stride == 2 ? winograd3x3_s2 : winograd3x3_s1)(x, ih, iw, cin, packed, cout, bias, y, t0, t1, act,
                                                      residual, scratch);
}

#undef WINOGRAD_INPUT
#undef WINOGRAD_OUTPUT
#undef WINOGRAD_S2_INPUT
#undef WINOGRAD_S2_OUTPUT
