// OS facts the engine's thread pool adapts to (see ThreadPool.swift).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

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
