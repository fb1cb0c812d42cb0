// AVX2 + FMA (x86-64-v3 level): 16 ymm registers, so a 16-float vector is two of them. GEMM tile
// 6 rows × 16 columns (12 ymm accumulators, two B halves, one broadcast).
#if defined(__x86_64__) && defined(__clang__)
#include "kernel_table.h"
// System headers outside the target region: only the kernels take the variant's target.
#include <math.h>
#include <string.h>
#define VB_VARIANT_AVX2 1
#define VB_VARIANT_ISA VB_ISA_AVX2
#define VB_VARIANT_TABLE vb_kernels_avx2
#define VB_GEMM_MR 6
#define VB_GEMM_P 1
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#include "variant.h"
#pragma clang attribute pop
#endif
