// Which of the x86 kernels this CPU runs, detected once per kernel file: 2 for AVX-512, 1 for
// AVX2 + FMA, 0 for the SSE2 baseline. The GEMM and the small-input conv dispatch on it.
#ifndef VB_ISA_H
#define VB_ISA_H
#if defined(__x86_64__) && defined(__clang__)
static inline int vb_x86_isa(void) {
    static int isa = -1;
    if (isa < 0) {
        __builtin_cpu_init();
        isa = __builtin_cpu_supports("avx512f") ? 2 : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
    }
    return isa;
}
#endif
#endif
