// The architecture's baseline, compiled with no target attributes: SSE2 on x86-64 (16 xmm
// registers: a 4 × 16 GEMM tile), NEON on ARM64 (32 q registers: 6 × 16, as AVX2's ymm count
// halved by width), plain portable C on anything else. Always built, always supported.
#include "kernel_table.h"
// System headers outside the target region: only the kernels take the variant's target.
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#define VB_VARIANT_ISA VB_ISA_BASELINE
#define VB_GEMM_MR 4
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
