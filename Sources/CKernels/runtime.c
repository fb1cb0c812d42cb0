// OS facts the engine's thread pool adapts to (see ThreadPool.swift), and what the OS says about
// the CPU where /proc/cpuinfo cannot be trusted (MachineInfo.swift).
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__aarch64__) && defined(__linux__)
#include <pthread.h>
#include <sys/auxv.h>
#endif

#include "vitkernels.h"

long long vb_thread_run_delay_ns(void) {
    // "<ns on the CPU> <ns runnable but waiting for a CPU> <time slices>" (CONFIG_SCHED_INFO).
    int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[96];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *end;
    strtoll(buf, &end, 10);
    if (end == buf) return -1;
    char *delay_end;
    long long delay = strtoll(end, &delay_end, 10);
    return delay_end == end ? -1 : delay;
}

long vb_fetch_add(long *counter, long value) { return __atomic_fetch_add(counter, value, __ATOMIC_RELAXED); }

#if defined(__aarch64__) && defined(__linux__)
// Linux's names for the arm64 hwcaps (arch/arm64/kernel/cpuinfo.c), bit by bit; a name is
// reported only when glibc's headers know the bit.
struct hwcap_name {
    int word;  // 1: AT_HWCAP, 2: AT_HWCAP2
    unsigned long bit;
    const char *name;
};
#define HW1(bit, name) {1, bit, name},
#define HW2(bit, name) {2, bit, name},
static const struct hwcap_name hwcap_names[] = {
#ifdef HWCAP_FP
    HW1(HWCAP_FP, "fp")
#endif
#ifdef HWCAP_ASIMD
    HW1(HWCAP_ASIMD, "asimd")
#endif
#ifdef HWCAP_AES
    HW1(HWCAP_AES, "aes")
#endif
#ifdef HWCAP_PMULL
    HW1(HWCAP_PMULL, "pmull")
#endif
#ifdef HWCAP_SHA1
    HW1(HWCAP_SHA1, "sha1")
#endif
#ifdef HWCAP_SHA2
    HW1(HWCAP_SHA2, "sha2")
#endif
#ifdef HWCAP_CRC32
    HW1(HWCAP_CRC32, "crc32")
#endif
#ifdef HWCAP_ATOMICS
    HW1(HWCAP_ATOMICS, "atomics")
#endif
#ifdef HWCAP_FPHP
    HW1(HWCAP_FPHP, "fphp")
#endif
#ifdef HWCAP_ASIMDHP
    HW1(HWCAP_ASIMDHP, "asimdhp")
#endif
#ifdef HWCAP_CPUID
    HW1(HWCAP_CPUID, "cpuid")
#endif
#ifdef HWCAP_ASIMDRDM
    HW1(HWCAP_ASIMDRDM, "asimdrdm")
#endif
#ifdef HWCAP_FCMA
    HW1(HWCAP_FCMA, "fcma")
#endif
#ifdef HWCAP_LRCPC
    HW1(HWCAP_LRCPC, "lrcpc")
#endif
#ifdef HWCAP_DCPOP
    HW1(HWCAP_DCPOP, "dcpop")
#endif
#ifdef HWCAP_ASIMDDP
    HW1(HWCAP_ASIMDDP, "asimddp")
#endif
#ifdef HWCAP_ASIMDFHM
    HW1(HWCAP_ASIMDFHM, "asimdfhm")
#endif
#ifdef HWCAP_SVE
    HW1(HWCAP_SVE, "sve")
#endif
#ifdef HWCAP2_SVE2
    HW2(HWCAP2_SVE2, "sve2")
#endif
#ifdef HWCAP2_SVEI8MM
    HW2(HWCAP2_SVEI8MM, "svei8mm")
#endif
#ifdef HWCAP2_SVEBF16
    HW2(HWCAP2_SVEBF16, "svebf16")
#endif
#ifdef HWCAP2_I8MM
    HW2(HWCAP2_I8MM, "i8mm")
#endif
#ifdef HWCAP2_BF16
    HW2(HWCAP2_BF16, "bf16")
#endif
#ifdef HWCAP2_SME
    HW2(HWCAP2_SME, "sme")
#endif
#ifdef HWCAP2_SME2
    HW2(HWCAP2_SME2, "sme2")
#endif
};
#endif

#if defined(__aarch64__) && defined(__linux__)
static char hwcap_text[512];
static pthread_once_t hwcap_once = PTHREAD_ONCE_INIT;

static void hwcap_read(void) {
    unsigned long words[3] = {0, getauxval(AT_HWCAP), getauxval(AT_HWCAP2)};
    for (size_t i = 0; i < sizeof hwcap_names / sizeof hwcap_names[0]; i++) {
        if (!(words[hwcap_names[i].word] & hwcap_names[i].bit)) continue;
        if (hwcap_text[0]) strncat(hwcap_text, " ", sizeof hwcap_text - strlen(hwcap_text) - 1);
        strncat(hwcap_text, hwcap_names[i].name, sizeof hwcap_text - strlen(hwcap_text) - 1);
    }
}
#endif

const char *vb_cpu_hwcap_features(void) {
#if defined(__aarch64__) && defined(__linux__)
    pthread_once(&hwcap_once, hwcap_read);
    return hwcap_text;
#else
    return "";
#endif
}

uint64_t vb_cpu_midr(void) {
#if defined(__aarch64__) && defined(__linux__) && defined(HWCAP_CPUID)
    if (getauxval(AT_HWCAP) & HWCAP_CPUID) {
        uint64_t midr;
        __asm__ __volatile__("mrs %0, MIDR_EL1" : "=r"(midr));
        return midr;
    }
#endif
    return 0;
}
