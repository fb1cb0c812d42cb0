// Weight packing for the small-input conv. Runs once per plan, so it is plain C with no ISA
// variants; the layout is what ops/conv_small.h reads. The GEMM's panels are packed by its
// variants (ops/gemm.h: attention packs K and V on every pass).
#include "kernel_table.h"

#include <string.h>

#define NR VB_GEMM_NR
#define PANEL VB_CONV_SMALL_PANEL

size_t vb_gemm_packed_size(size_t k, size_t n) { return ((n + NR - 1) / NR) * NR * k; }

static size_t round_up16(size_t n) { return (n + 15) / 16 * 16; }

size_t vb_conv_small_packed_size(size_t cout, size_t cin, size_t kh, size_t kw) {
    return (kh * kw * cin + 1) * round_up16(cout);
}

// Weights are stored in panels of PANEL output channels ([panel][kh][kw][cin][PANEL], the last
// panel as wide as the channels left, rounded up to 16), so that the taps of one channel group
// are contiguous: with a single [tap][cout] array, a 768-channel patch embedding read its 16x16x3
// taps 3 KB apart and ran a quarter slower. Every variant's channel group (VMAX·16) divides PANEL.
void vb_conv_small_pack(const float *weight, const float *bias, size_t cout, size_t cin, size_t kh,
                        size_t kw, float *packed) {
    const size_t cp = round_up16(cout), taps = kh * kw * cin;
    memset(packed, 0, vb_conv_small_packed_size(cout, cin, kh, kw) * sizeof(float));
    for (size_t o = 0; o < cout; o++) {
        const size_t q0 = o / PANEL * PANEL, width = cp - q0 < PANEL ? cp - q0 : PANEL;
        float *panel = packed + q0 * taps;
        for (size_t c = 0; c < cin; c++)
            for (size_t ky = 0; ky < kh; ky++)
                for (size_t kx = 0; kx < kw; kx++)
                    panel[((ky * kw + kx) * cin + c) * width + o - q0] = weight[((o * cin + c) * kh + ky) * kw + kx];
    }
    if (bias) memcpy(packed + taps * cp, bias, cout * sizeof(float));
}

size_t vb_winograd3x3_packed_size(size_t cin, size_t cout) { return 16 * vb_gemm_packed_size(cin, cout); }

size_t vb_winograd3x3_scratch_floats(size_t cin, size_t cout, size_t tiles, size_t stride) {
    return (stride == 2 ? 25 : 16) * tiles * (cin + cout);
}

// One axis of the weight transform: a filter's three taps g to the four filters its positions
// multiply. Stride 1: G g, G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]. Stride 2: w0, w0 + w2, w2, w1 (the
// outer taps' F(2, 2) and the centre tap).
static void winograd_filter_axis(const float g[3], size_t stride, float out[4]) {
    if (stride == 2) {
        out[0] = g[0], out[1] = g[0] + g[2], out[2] = g[2], out[3] = g[1];
    } else {
        out[0] = g[0], out[1] = 0.5f * (g[0] + g[1] + g[2]), out[2] = 0.5f * (g[0] - g[1] + g[2]), out[3] = g[2];
    }
}

// U[i·4 + j] for every (output, input) channel pair: the axis transform on the filter's columns,
// then on its rows (G g Gᵀ at stride 1), as 16 [cin × cout] matrices, each packed into the GEMM's
// panels (ops/winograd.h reads them).
void vb_winograd3x3_pack(const float *weight, size_t cin, size_t cout, size_t stride, float *u,
                         float *packed) {
    for (size_t o = 0; o < cout; o++)
        for (size_t c = 0; c < cin; c++) {
            const float *g = weight + (o * cin + c) * 9;
            float t[4][3], r[4];
            for (int j = 0; j < 3; j++) {
                const float column[3] = {g[j], g[3 + j], g[6 + j]};
                float f[4];
                winograd_filter_axis(column, stride, f);
                for (int i = 0; i < 4; i++) t[i][j] = f[i];
            }
            for (int i = 0; i < 4; i++) {
                winograd_filter_axis(t[i], stride, r);
                for (int j = 0; j < 4; j++) u[((size_t)(i * 4 + j) * cin + c) * cout + o] = r[j];
            }
        }
    const size_t ps = vb_gemm_packed_size(cin, cout);
    for (size_t xi = 0; xi < 16; xi++) vb_gemm_pack_b(u + xi * cin * cout, cout, cin, cout, packed + xi * ps);
}
