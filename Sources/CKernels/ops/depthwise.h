// Depthwise convolution. The hot path keeps a tile of VB_DW_TILE output pixels x 16 channels of
// accumulators in registers across all kh*kw taps; borders and channel tails take simpler loops.
//
// For the common kernels (3x3, 5x5, 7x7 at stride 1 or 2) the tile is specialised on kernel width
// and stride and fully unrolled, so each input vector of a kernel row is loaded once and feeds
// every output of the tile it touches (a 3x3 stride-1 row: 10 loads for 8 pixels x 3 taps, not
// 24), and the tile is wide enough to hide FMA latency (8 chains on AVX-512's 32 registers). The
// 4-pixel loop it replaced loaded an input per FMA and kept 4 chains: FMA latency, not the
// ports, bounded it (84-93 GFLOP/s at 3x3 on Zen 5; MobileOne-S0 spent 15% of its time there).

#include "depthwise_plan.h"

#define XT 4
#ifndef VB_DW_TILE
#define VB_DW_TILE 4
#endif

// The body of a tile of T output pixels (stride S apart) x 16 channels under a KW-wide kernel,
// rows ky0..ky1, from the initial accumulator b: window columns j outside [LO, HI) are skipped,
// and XAT(j) is column j of the current input row xr. ReLU is applied as the accumulators are
// stored (a pass of its own over each row cost MobileOne more).
#define DW_TILE_BODY(KW, S, T, LO, HI, XAT)                                                        \
    v16 acc[T];                                                                                    \
    _Pragma("clang loop unroll(full)") for (int t = 0; t < T; t++) acc[t] = b;                    \
    for (size_t ky = ky0; ky < ky1; ky++, xr += row) {                                             \
        const float *wr = w + ky * KW * cout;                                                      \
        v16 wv[KW];                                                                                \
        _Pragma("clang loop unroll(full)") for (int kx = 0; kx < KW; kx++) wv[kx] =                \
            load16(wr + kx * cout);                                                                \
        _Pragma("clang loop unroll(full)") for (int j = 0; j < (T - 1) * S + KW; j++) {            \
            if (j < (LO) || j >= (HI)) continue;                                                   \
            const v16 xv = load16(XAT(j));                                                         \
            _Pragma("clang loop unroll(full)") for (int t = 0; t < T; t++) {                       \
                const int kx = j - t * S;                                                          \
                if (kx >= 0 && kx < KW) acc[t] += xv * wv[kx];                                     \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    _Pragma("clang loop unroll(full)") for (int t = 0; t < T; t++) {                               \
        if (relu) acc[t] = __builtin_elementwise_max(acc[t], (v16){});                             \
        store16(y + t * cout, acc[t]);                                                             \
    }

// An interior tile: xr points at the input pixel under tap (ky0, 0) of the tile's first output,
// w at tap (0, 0).
#define DW_AT_INTERIOR(j) (xr + (j) * cin)
#define DEFINE_DW_TILE(KW, S, T, NAME)                                                             \
    static inline void NAME(const float *xr, size_t row, size_t cin, const float *w, size_t cout, \
                            size_t ky0, size_t ky1, v16 b, int relu, float *y) {                  \
        DW_TILE_BODY(KW, S, T, 0, (T - 1) * S + KW, DW_AT_INTERIOR)                                \
    }
// A 4-wide tile anywhere in a row, borders included: window columns outside the input (the
// padding) are skipped, neither loaded nor multiplied. xr is the input row (column 0) under tap
// (ky0, 0), ixb the input column of the tile's first window (negative at the left border), iw the
// row's width. One border pixel at a time (`dw_pixel_vec`) loads an input and a weight per FMA,
// about twice an interior pixel's cost; a 7x7 kernel has three such pixels at each end of a row.
#define DW_AT_EDGE(j) (xr + (size_t)(ixb + (j)) * cin)
#define DEFINE_DW_EDGE_TILE(KW, S, NAME)                                                           \
    static inline void NAME(const float *xr, long ixb, size_t iw, size_t row, size_t cin,         \
                            const float *w, size_t cout, size_t ky0, size_t ky1, v16 b, int relu, \
                            float *y) {                                                           \
        enum { COLS = 3 * S + KW };                                                                \
        const long jlo = ixb < 0 ? -ixb : 0;                                                       \
        const long jhi = (long)iw - ixb < COLS ? (long)iw - ixb : COLS;                            \
        DW_TILE_BODY(KW, S, 4, jlo, jhi, DW_AT_EDGE)                                               \
    }
// Each (kernel width, stride) as a VB_DW_TILE-wide tile and a 4-wide one for the row's tail (a
// 26-pixel interior, 28x28 maps, takes 8+8+8+4, not a last 8 shifted back over 6 done pixels),
// and the 4-wide edge tile.
#define DEFINE_DW_TILES(KW, S)                                                                     \
    DEFINE_DW_TILE(KW, S, VB_DW_TILE, dw_tile_k##KW##_s##S)                                        \
    DEFINE_DW_TILE(KW, S, 4, dw_tile4_k##KW##_s##S)                                                \
    DEFINE_DW_EDGE_TILE(KW, S, dw_edge_k##KW##_s##S)
VB_DW_TILED_SHAPES(DEFINE_DW_TILES)
#undef DEFINE_DW_TILES
#undef DEFINE_DW_EDGE_TILE
#undef DEFINE_DW_TILE
#undef DW_AT_EDGE
#undef DW_AT_INTERIOR
#undef DW_TILE_BODY

// The specialised tiles for (kw, stride): VB_DW_TILE wide, 4 wide, and the 4-wide edge tile;
// NULL when there are none.
typedef void (*dw_tile_fn)(const float *, size_t, size_t, const float *, size_t, size_t, size_t, v16,
                           int, float *);
typedef void (*dw_edge_fn)(const float *, long, size_t, size_t, size_t, const float *, size_t,
                           size_t, size_t, v16, int, float *);
static dw_tile_fn dw_tile_for(size_t kw, size_t stride, dw_tile_fn *tile4, dw_edge_fn *edge) {
#define DW_PICK(KW, S)                                                                             \
    if (kw == KW && stride == S) {                                                                 \
        *tile4 = dw_tile4_k##KW##_s##S;                                                            \
        *edge = dw_edge_k##KW##_s##S;                                                              \
        return dw_tile_k##KW##_s##S;                                                               \
    }
    VB_DW_TILED_SHAPES(DW_PICK)
#undef DW_PICK
    *tile4 = NULL;
    *edge = NULL;
    return NULL;
}

static inline void dw_pixel_generic(const float *x, size_t ih, size_t iw, size_t cin, size_t mult,
                                    const float *w, size_t kh, size_t kw, const float *bias,
                                    long iy0, long ix0, size_t c0, size_t c1, size_t cout,
                                    int relu, float *out) {
    for (size_t c = c0; c < c1; c++) out[c - c0] = bias ? bias[c] : 0.0f;
    for (size_t ky = 0; ky < kh; ky++) {
        long iy = iy0 + (long)ky;
        if (iy < 0 || iy >= (long)ih) continue;
        for (size_t kx = 0; kx < kw; kx++) {
            long ix = ix0 + (long)kx;
            if (ix < 0 || ix >= (long)iw) continue;
            const float *xp = x + ((size_t)iy * iw + (size_t)ix) * cin;
            const float *wp = w + (ky * kw + kx) * cout;
            if (mult == 1) {
                for (size_t c = c0; c < c1; c++) out[c - c0] += xp[c] * wp[c];
            } else {
                for (size_t c = c0; c < c1; c++) out[c - c0] += xp[c / mult] * wp[c];
            }
        }
    }
    if (relu)
        for (size_t c = c0; c < c1; c++) out[c - c0] = fmaxf(out[c - c0], 0.0f);
}


// One output pixel, all channels, accumulators in registers: four 16-channel chains at a time
// so that FMA latency is hidden when only one pixel can be computed (borders, remainders).
static inline void dw_pixel_vec(const float *x, size_t ih, size_t iw, size_t cin, const float *w,
                                size_t kh, size_t kw, const float *bias, long iy0, long ix0,
                                size_t ky0, size_t ky1, int relu, float *out) {
    const size_t cout = cin;
    const size_t kx0 = ix0 < 0 ? (size_t)(-ix0) : 0;
    const size_t kx1 = (long)iw - ix0 < (long)kw ? (size_t)((long)iw - ix0) : kw;
    size_t c = 0;
    for (; c + 4 * VL <= cout; c += 4 * VL) {
        v16 a0 = bias ? load16(bias + c) : splat16(0.0f);
        v16 a1 = bias ? load16(bias + c + VL) : splat16(0.0f);
        v16 a2 = bias ? load16(bias + c + 2 * VL) : splat16(0.0f);
        v16 a3 = bias ? load16(bias + c + 3 * VL) : splat16(0.0f);
        for (size_t ky = ky0; ky < ky1; ky++) {
            const float *xr = x + ((size_t)(iy0 + (long)ky) * iw) * cin + c;
            const float *wr = w + ky * kw * cout + c;
            for (size_t kx = kx0; kx < kx1; kx++) {
                const float *xp = xr + (size_t)(ix0 + (long)kx) * cin;
                const float *wp = wr + kx * cout;
                a0 += load16(xp) * load16(wp);
                a1 += load16(xp + VL) * load16(wp + VL);
                a2 += load16(xp + 2 * VL) * load16(wp + 2 * VL);
                a3 += load16(xp + 3 * VL) * load16(wp + 3 * VL);
            }
        }
        if (relu) {
            a0 = __builtin_elementwise_max(a0, (v16){});
            a1 = __builtin_elementwise_max(a1, (v16){});
            a2 = __builtin_elementwise_max(a2, (v16){});
            a3 = __builtin_elementwise_max(a3, (v16){});
        }
        store16(out + c, a0);
        store16(out + c + VL, a1);
        store16(out + c + 2 * VL, a2);
        store16(out + c + 3 * VL, a3);
    }
    // Then single vectors; a channel tail (76 = 4·16 + 12 in FastViT-MA36) as one more vector
    // over the last 16 channels, overlapping the one before (it recomputes the same values).
    while (c < cout && cout >= VL) {
        if (c + VL > cout) c = cout - VL;
        v16 a0 = bias ? load16(bias + c) : splat16(0.0f);
        for (size_t ky = ky0; ky < ky1; ky++) {
            const float *xr = x + ((size_t)(iy0 + (long)ky) * iw) * cin + c;
            const float *wr = w + ky * kw * cout + c;
            for (size_t kx = kx0; kx < kx1; kx++)
                a0 += load16(xr + (size_t)(ix0 + (long)kx) * cin) * load16(wr + kx * cout);
        }
        if (relu) a0 = __builtin_elementwise_max(a0, (v16){});
        store16(out + c, a0);
        c += VL;
    }
    if (c < cout)
        dw_pixel_generic(x, ih, iw, cin, 1, w, kh, kw, bias, iy0, ix0, c, cout, cout, relu, out + c);
}

static void k_depthwise_conv2d(const float *x, size_t ih, size_t iw, size_t cin, size_t mult,
                              const float *w, size_t kh, size_t kw, const float *bias,
                              size_t stride_h, size_t stride_w, size_t pad_h, size_t pad_w,
                              float *y, size_t oh, size_t ow, size_t oy0, size_t oy1,
                              vb_activation act, const float *residual) {
    const size_t cout = cin * mult;
    // Channels the 4-pixel tiles cover: all of them when there is at least one whole vector (a
    // tail is one more vector over the last 16 channels, overlapping the one before).
    const size_t cfull = mult == 1 && cout >= VL ? cout : 0;
    // The specialised tiles cover all channels, so they need cfull == cout.
    dw_tile_fn tile4 = NULL;
    dw_edge_fn edge = NULL;
    const dw_tile_fn tile = cfull == cout ? dw_tile_for(kw, stride_w, &tile4, &edge) : NULL;
    // ReLU is applied as outputs are stored; another activation, and a residual, take a pass
    // over each row.
    const int relu = act == VB_ACT_RELU;
    const vb_activation act_after = relu ? VB_ACT_NONE : act;
    // Output columns whose whole kernel window lies inside the input.
    size_t ox_lo, ox_hi;
    vb_dw_interior(iw, ow, kw, stride_w, pad_w, &ox_lo, &ox_hi);
    const int edges = tile && vb_dw_edges_pay(kw, stride_w, ow, ox_lo, ox_hi);
    const size_t row = iw * cin;
    for (size_t oy = oy0; oy < oy1; oy++) {
        const long iy0 = (long)(oy * stride_h) - (long)pad_h;
        size_t ky0 = iy0 < 0 ? (size_t)(-iy0) : 0;
        size_t ky1 = (long)ih - iy0 < (long)kh ? (size_t)((long)ih - iy0) : kh;
        float *yrow = y + oy * ow * cout;
        size_t ox = 0;
#define DW_PIXEL(OX)                                                                              \
    do {                                                                                          \
        const long ix0_ = (long)((OX) * stride_w) - (long)pad_w;                                  \
        if (mult == 1)                                                                            \
            dw_pixel_vec(x, ih, iw, cin, w, kh, kw, bias, iy0, ix0_, ky0, ky1, relu,              \
                         yrow + (OX) * cout);                                                     \
        else                                                                                      \
            dw_pixel_generic(x, ih, iw, cin, mult, w, kh, kw, bias, iy0, ix0_, 0, cout, cout,     \
                             relu, yrow + (OX) * cout);                                           \
    } while (0)
#define DW_TILE_AT(FN, OX)                                                                        \
    do {                                                                                          \
        const size_t ixb = (OX) * stride_w - pad_w;                                               \
        const float *xb = x + (size_t)(iy0 + (long)ky0) * row + ixb * cin;                        \
        for (size_t c0 = 0; c0 < cfull; c0 += VL) {                                               \
            const size_t c = c0 + VL <= cout ? c0 : cout - VL;                                    \
            const v16 b = bias ? load16(bias + c) : splat16(0.0f);                                \
            FN(xb + c, row, cin, w + c, cout, ky0, ky1, b, relu, yrow + (OX) * cout + c);         \
        }                                                                                         \
    } while (0)
#define DW_EDGE_AT(OX)                                                                            \
    do {                                                                                          \
        const long ixb = (long)((OX) * stride_w) - (long)pad_w;                                   \
        const float *x0 = x + (size_t)(iy0 + (long)ky0) * row;                                    \
        for (size_t c0 = 0; c0 < cfull; c0 += VL) {                                               \
            const size_t c = c0 + VL <= cout ? c0 : cout - VL;                                    \
            const v16 b = bias ? load16(bias + c) : splat16(0.0f);                                \
            edge(x0 + c, ixb, iw, row, cin, w + c, cout, ky0, ky1, b, relu,                       \
                 yrow + (OX) * cout + c);                                                         \
        }                                                                                         \
    } while (0)
        if (edges) {
            // Edge tiles at both ends; between them the interior tiles over 4..ow-5 (inside
            // [ox_lo, ox_hi), as vb_dw_edges_pay checked), a last one shifted back over done
            // pixels, or, under 4 pixels, one more edge tile.
            const size_t end = ow > 4 ? ow - 4 : 0;
            DW_EDGE_AT(0);
            for (ox = 4; ox + VB_DW_TILE <= end; ox += VB_DW_TILE)
                DW_TILE_AT(tile, ox);
            for (; ox < end && end >= 8; ox += 4) {
                if (ox + 4 > end) ox = end - 4;
                DW_TILE_AT(tile4, ox);
            }
            if (ox < end) DW_EDGE_AT(ox);
            if (end > 0) DW_EDGE_AT(end);
            ox = ow;
        }
        // Otherwise the left border, then the specialised interior tiles: VB_DW_TILE wide, then
        // 4 wide for the rest (the last one shifted left to end at ox_hi, recomputing a few
        // pixels rather than leaving them to the one-pixel path); without them, 4-wide generic
        // tiles; then the right border.
        for (; ox < ox_lo; ox++)
            DW_PIXEL(ox);
        if (tile && ox + 4 <= ox_hi) {
            for (; ox + VB_DW_TILE <= ox_hi; ox += VB_DW_TILE)
                DW_TILE_AT(tile, ox);
            for (; ox < ox_hi; ox += 4) {
                if (ox + 4 > ox_hi) ox = ox_hi - 4;
                DW_TILE_AT(tile4, ox);
            }
        }
#undef DW_EDGE_AT
#undef DW_TILE_AT
        for (; ox + XT <= ox_hi; ox += XT) {
            const size_t ixb = ox * stride_w - pad_w;
            for (size_t c0 = 0; c0 < cfull; c0 += VL) {
                const size_t c = c0 + VL <= cout ? c0 : cout - VL;
                v16 b = bias ? load16(bias + c) : splat16(0.0f);
                v16 a0 = b, a1 = b, a2 = b, a3 = b;
                for (size_t ky = ky0; ky < ky1; ky++) {
                    const float *xr = x + ((size_t)(iy0 + (long)ky) * iw + ixb) * cin + c;
                    const float *wr = w + ky * kw * cout + c;
                    for (size_t kx = 0; kx < kw; kx++) {
                        v16 wv = load16(wr + kx * cout);
                        const float *xp = xr + kx * cin;
                        a0 += load16(xp) * wv;
                        a1 += load16(xp + stride_w * cin) * wv;
                        a2 += load16(xp + 2 * stride_w * cin) * wv;
                        a3 += load16(xp + 3 * stride_w * cin) * wv;
                    }
                }
                if (relu) {
                    a0 = __builtin_elementwise_max(a0, (v16){});
                    a1 = __builtin_elementwise_max(a1, (v16){});
                    a2 = __builtin_elementwise_max(a2, (v16){});
                    a3 = __builtin_elementwise_max(a3, (v16){});
                }
                float *yp = yrow + ox * cout + c;
                store16(yp, a0);
                store16(yp + cout, a1);
                store16(yp + 2 * cout, a2);
                store16(yp + 3 * cout, a3);
            }
            if (cfull < cout)
                for (size_t t = 0; t < XT; t++)
                    dw_pixel_generic(x, ih, iw, cin, mult, w, kh, kw, bias, iy0,
                                     (long)((ox + t) * stride_w) - (long)pad_w, cfull, cout, cout,
                                     relu, yrow + (ox + t) * cout + cfull);
        }
        for (; ox < ow; ox++)
            DW_PIXEL(ox);
#undef DW_PIXEL
        if (act_after != VB_ACT_NONE || residual)
            k_bias_act_residual(yrow, 1, ow * cout, ow * cout, NULL, act_after,
                                 residual ? residual + oy * ow * cout : NULL, ow * cout);
    }
}
