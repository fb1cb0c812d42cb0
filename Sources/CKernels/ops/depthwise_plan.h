// How a depthwise conv's output row is split between register tiles and one-pixel borders:
// plain arithmetic on the row's geometry, no vectors, so that dispatch.c can answer
// `vb_depthwise_edge_tiled` (whether a zero-padded copy of the input would gain anything) with
// the same decision the kernel makes.
#ifndef VB_DEPTHWISE_PLAN_H
#define VB_DEPTHWISE_PLAN_H
#include <stddef.h>

// The (kernel width, stride) pairs with specialised, fully unrolled tiles (ops/depthwise.h).
#define VB_DW_TILED_SHAPES(X) X(3, 1) X(3, 2) X(5, 1) X(5, 2) X(7, 1) X(7, 2)

static inline int vb_dw_tiled_shape(size_t kw, size_t stride_w) {
#define VB_DW_IS(KW, S) if (kw == KW && stride_w == S) return 1;
    VB_DW_TILED_SHAPES(VB_DW_IS)
#undef VB_DW_IS
    return 0;
}

// The output columns [*lo, *hi) whose whole kernel window lies inside the input.
static inline void vb_dw_interior(size_t iw, size_t ow, size_t kw, size_t stride_w, size_t pad_w,
                                  size_t *lo, size_t *hi) {
    size_t l = (pad_w + stride_w - 1) / stride_w;
    size_t h = (iw + pad_w >= kw) ? (iw + pad_w - kw) / stride_w + 1 : 0;
    if (h > ow) h = ow;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

// Whether a row is cheaper as edge tiles at both ends (0..3 and ow-4..ow-1) around tiles over
// 4..ow-5, than as border pixels one at a time around tiles over the interior [lo, hi). Costs in
// interior pixels: a tile costs its width (a last tile shifted back over done pixels costs its
// whole width), a border pixel two (one at a time, `dw_pixel_vec` loads an input and a weight
// per FMA). 14-wide 3x3 rows (MobileOne's 14x14 maps) cost 16 either way and keep the border
// pixels: there the edge plan computes two pixels twice. 3x3 at stride 2 keeps them too: the
// edge plan measured 2–5% slower there (Zen 4; one border pixel a row, on the left, missing one
// of three taps, against 4-wide tiles that load an input per FMA at stride 2).
static inline int vb_dw_edges_pay(size_t kw, size_t stride_w, size_t ow, size_t lo, size_t hi) {
    if (ow < 4 || lo > 4 || ow - hi > 4 || (kw == 3 && stride_w == 2)) return 0;
    const size_t inner = hi - lo;
    const size_t plain = (inner >= 4 ? (inner + 3) / 4 * 4 : 2 * inner) + 2 * (lo + ow - hi);
    const size_t mid = ow > 8 ? ow - 8 : 0;
    const size_t edged = (ow > 4 ? 8 : 4) + (mid + 3) / 4 * 4;
    return edged < plain;
}

// For a conv with no channel multiplier: the kernel's tiles cover all channels (a tail is one
// more vector over the last 16) when there is at least one whole vector.
static inline int vb_dw_edge_tiled(size_t iw, size_t channels, size_t kw, size_t stride_w,
                                   size_t pad_w) {
    if (channels < 16 || !vb_dw_tiled_shape(kw, stride_w)) return 0;
    if (iw + 2 * pad_w < kw) return 0;
    const size_t ow = (iw + 2 * pad_w - kw) / stride_w + 1;
    size_t lo, hi;
    vb_dw_interior(iw, ow, kw, stride_w, pad_w, &lo, &hi);
    return vb_dw_edges_pay(kw, stride_w, ow, lo, hi);
}
#endif
