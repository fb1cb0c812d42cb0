// The architecture's baseline, compiled with no target attributes: SSE2 on x86-64, NEON on ARM64
// (32 q registers: a 6 × 16 GEMM tile, as AVX2's ymm count halved by width), plain portable C on
// anything else. Always built, always supported.
// SSE2's GEMM tile is 2 × 16: 8 xmm accumulators, B's four quarters, the broadcast, and the
// copies its two-operand multiply needs fit the 16 registers. The 4 × 16 tile it replaced needs
// 16 for the accumulators alone and spilled: packed GEMM at 27–30 GFLOP/s against 36–37 (Zen 4,
// 1024³ and the 1x1-conv shapes 4096×48×144 to 196×640×640); 3 × 16 spills too (21–28).
#include "kernel_table.h"
// System headers outside the target region: only the kernels take the variant's target.
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#define VB_VARIANT_ISA VB_ISA_BASELINE
#define VB_GEMM_MR 2
#elif defined(__aarch64__)
#define VB_VARIANT_NEON 1
#define VB_VARIANT_ISA VB_ISA_NEON
#define VB_GEMM_MR 6
#else
#define VB_VARIANT_ISA VB_ISA_PORTABLE
#define VB_GEMM_MR 4
#endif
#define VB_VARIANT_TABLE vb_kernels_baseline
#define VB_GEMM_P 1
#include "variant.h"
