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

static void k_winograd3x3(const float *x, size_t ih, size_t iw, size_t cin, const float *packed,
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

#undef WINOGRAD_INPUT
#undef WINOGRAD_OUTPUT
