// AVX-512 (x86-64-v4 level: F, VL, BW, DQ): 32 zmm registers. GEMM tile 6 rows × 32 columns
// (12 accumulators, two B vectors, one broadcast).
#if defined(__x86_64__) && defined(__clang__)
#include "kernel_table.h"
// System headers outside the target region: only the kernels take the variant's target.
#include <math.h>
#include <string.h>
#define VB_VARIANT_AVX512 1
#define VB_VARIANT_ISA VB_ISA_AVX512
#define VB_VARIANT_TABLE vb_kernels_avx512
#define VB_GEMM_MR 6
#define VB_GEMM_P 2
#define VB_DW_TILE 8
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,f16c"))), apply_to = function)
#include "variant.h"
#pragma clang attribute pop
#endif
