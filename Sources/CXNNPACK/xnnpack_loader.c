// Opens XNNPACK with dlopen and forwards to its operator API. The declarations below copy the
// prototypes of Debian's xnnpack.h (0.0~git20220216) for the f32 operators vitbench uses.
#define _GNU_SOURCE
#include "vitxnnpack.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef int (*initialize_fn)(const void *allocator);
typedef void *(*pool_create_fn)(size_t);
typedef void (*pool_destroy_fn)(void *);
typedef int (*run_fn)(void *, void *);
typedef int (*delete_fn)(void *);
typedef int (*conv_create_fn)(uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t,
                              uint32_t, uint32_t, uint32_t, size_t, size_t, size_t, size_t, const float *,
                              const float *, float, float, uint32_t, void **);
typedef int (*spatial_setup_fn)(void *, size_t, size_t, size_t, const float *, float *, void *);
typedef int (*fc_create_fn)(size_t, size_t, size_t, size_t, const float *, const float *, float, float, uint32_t,
                            void **);
typedef int (*rows_setup_fn)(void *, size_t, const float *, float *, void *);
typedef int (*avgpool_create_fn)(uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t,
                                 size_t, size_t, size_t, float, float, uint32_t, void **);
typedef int (*maxpool_create_fn)(uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t,
                                 uint32_t, uint32_t, size_t, size_t, size_t, float, float, uint32_t, void **);
typedef int (*gap_create_fn)(size_t, size_t, size_t, float, float, uint32_t, void **);
typedef int (*gap_setup_fn)(void *, size_t, size_t, const float *, float *, void *);
typedef int (*binary_create_fn)(float, float, uint32_t, void **);
typedef int (*binary_setup_fn)(void *, size_t, const size_t *, size_t, const size_t *, const float *,
                               const float *, float *, void *);
typedef int (*clamp_create_fn)(size_t, size_t, size_t, float, float, uint32_t, void **);
typedef int (*unary_create_fn)(size_t, size_t, size_t, uint32_t, void **);

static struct {
    initialize_fn initialize;
    pool_create_fn pool_create;
    pool_destroy_fn pool_destroy;
    run_fn run;
    delete_fn del;
    conv_create_fn conv_create;
    spatial_setup_fn conv_setup;
    fc_create_fn fc_create;
    rows_setup_fn fc_setup;
    avgpool_create_fn avgpool_create;
    spatial_setup_fn avgpool_setup;
    maxpool_create_fn maxpool_create;
    spatial_setup_fn maxpool_setup;
    gap_create_fn gap_create;
    gap_setup_fn gap_setup;
    binary_create_fn binary_create[3];
    binary_setup_fn binary_setup[3];
    clamp_create_fn clamp_create;
    rows_setup_fn clamp_setup;
    unary_create_fn hardswish_create;
    rows_setup_fn hardswish_setup;
    unary_create_fn sigmoid_create;
    rows_setup_fn sigmoid_setup;
} xnn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[512];
static char library_path[512];
static int loaded;

#define NAMED(member, symbol) {(void **)&xnn.member, symbol}

static void load_once(void) {
    // The runtime package's file first (libxnnpack0), then the development symlink.
    static const char *candidates[] = {"libXNNPACK.so.0", "libXNNPACK.so"};
    void *handle = NULL;
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates && !handle; i++) {
        handle = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (handle) {
            snprintf(library_path, sizeof library_path, "%s", candidates[i]);
        } else if (i == 0) {
            // The runtime file's reason is the one to report: the symlink is only a fallback.
            const char *why = dlerror();
            snprintf(load_error, sizeof load_error, "%s", why ? why : "libXNNPACK.so.0 not found");
        }
    }
    if (!handle) return;
    struct { void **slot; const char *name; } symbols[] = {
        NAMED(initialize, "xnn_initialize"),
        NAMED(pool_create, "pthreadpool_create"),
        NAMED(pool_destroy, "pthreadpool_destroy"),
        NAMED(run, "xnn_run_operator"),
        NAMED(del, "xnn_delete_operator"),
        NAMED(conv_create, "xnn_create_convolution2d_nhwc_f32"),
        NAMED(conv_setup, "xnn_setup_convolution2d_nhwc_f32"),
        NAMED(fc_create, "xnn_create_fully_connected_nc_f32"),
        NAMED(fc_setup, "xnn_setup_fully_connected_nc_f32"),
        NAMED(avgpool_create, "xnn_create_average_pooling2d_nhwc_f32"),
        NAMED(avgpool_setup, "xnn_setup_average_pooling2d_nhwc_f32"),
        NAMED(maxpool_create, "xnn_create_max_pooling2d_nhwc_f32"),
        NAMED(maxpool_setup, "xnn_setup_max_pooling2d_nhwc_f32"),
        NAMED(gap_create, "xnn_create_global_average_pooling_nwc_f32"),
        NAMED(gap_setup, "xnn_setup_global_average_pooling_nwc_f32"),
        NAMED(binary_create[0], "xnn_create_add_nd_f32"),
        NAMED(binary_setup[0], "xnn_setup_add_nd_f32"),
        NAMED(binary_create[1], "xnn_create_multiply_nd_f32"),
        NAMED(binary_setup[1], "xnn_setup_multiply_nd_f32"),
        NAMED(binary_create[2], "xnn_create_subtract_nd_f32"),
        NAMED(binary_setup[2], "xnn_setup_subtract_nd_f32"),
        NAMED(clamp_create, "xnn_create_clamp_nc_f32"),
        NAMED(clamp_setup, "xnn_setup_clamp_nc_f32"),
        NAMED(hardswish_create, "xnn_create_hardswish_nc_f32"),
        NAMED(hardswish_setup, "xnn_setup_hardswish_nc_f32"),
        NAMED(sigmoid_create, "xnn_create_sigmoid_nc_f32"),
        NAMED(sigmoid_setup, "xnn_setup_sigmoid_nc_f32"),
    };
    for (size_t i = 0; i < sizeof symbols / sizeof *symbols; i++) {
        *symbols[i].slot = dlsym(handle, symbols[i].name);
        if (!*symbols[i].slot) {
            snprintf(load_error, sizeof load_error,
                     "%s has no %s (vitbench uses the operator API of XNNPACK 2022, as Debian packages it)",
                     library_path, symbols[i].name);
            return;
        }
    }
    int status = xnn.initialize(NULL);
    if (status != 0) {
        snprintf(load_error, sizeof load_error, "xnn_initialize failed with status %d%s", status,
                 status == 5 ? " (this CPU lacks what XNNPACK needs)" : "");
        return;
    }
    loaded = 1;
}

int vx_load(char *error, size_t error_size) {
    pthread_once(&once, load_once);
    if (loaded) return 0;
    if (error && error_size) snprintf(error, error_size, "%s", load_error);
    return 1;
}

const char *vx_library_path(void) { return loaded ? library_path : ""; }

void *vx_threadpool_create(size_t threads) { return xnn.pool_create(threads); }
void vx_threadpool_destroy(void *threadpool) { if (threadpool) xnn.pool_destroy(threadpool); }

int vx_convolution_create(uint32_t pad_top, uint32_t pad_right, uint32_t pad_bottom, uint32_t pad_left,
                          uint32_t kernel_h, uint32_t kernel_w, uint32_t stride_h, uint32_t stride_w,
                          uint32_t groups, size_t group_in, size_t group_out,
                          const float *kernel, const float *bias, float out_min, float out_max, void **op) {
    return xnn.conv_create(pad_top, pad_right, pad_bottom, pad_left, kernel_h, kernel_w, stride_h, stride_w, 1, 1,
                           groups, group_in, group_out, groups * group_in, groups * group_out, kernel, bias,
                           out_min, out_max, 0, op);
}

int vx_convolution_setup(void *op, size_t batch, size_t height, size_t width, const float *x, float *y,
                         void *threadpool) {
    return xnn.conv_setup(op, batch, height, width, x, y, threadpool);
}

int vx_fully_connected_create(size_t in_channels, size_t out_channels, const float *kernel, const float *bias,
                              float out_min, float out_max, void **op) {
    return xnn.fc_create(in_channels, out_channels, in_channels, out_channels, kernel, bias, out_min, out_max, 0, op);
}

int vx_fully_connected_setup(void *op, size_t rows, const float *x, float *y, void *threadpool) {
    return xnn.fc_setup(op, rows, x, y, threadpool);
}

int vx_pooling_create(int is_max, uint32_t padding, uint32_t kernel, uint32_t stride, size_t channels, void **op) {
    if (is_max)
        return xnn.maxpool_create(padding, padding, padding, padding, kernel, kernel, stride, stride, 1, 1,
                                  channels, channels, channels, -INFINITY, INFINITY, 0, op);
    return xnn.avgpool_create(padding, padding, padding, padding, kernel, kernel, stride, stride, channels, channels,
                              channels, -INFINITY, INFINITY, 0, op);
}

int vx_pooling_setup(int is_max, void *op, size_t batch, size_t height, size_t width, const float *x, float *y,
                     void *threadpool) {
    return (is_max ? xnn.maxpool_setup : xnn.avgpool_setup)(op, batch, height, width, x, y, threadpool);
}

int vx_global_average_pooling_create(size_t channels, void **op) {
    return xnn.gap_create(channels, channels, channels, -INFINITY, INFINITY, 0, op);
}

int vx_global_average_pooling_setup(void *op, size_t batch, size_t pixels, const float *x, float *y,
                                    void *threadpool) {
    return xnn.gap_setup(op, batch, pixels, x, y, threadpool);
}

int vx_binary_create(int kind, void **op) {
    if (kind < 0 || kind > 2) return 2;
    return xnn.binary_create[kind](-INFINITY, INFINITY, 0, op);
}

int vx_binary_setup(int kind, void *op, size_t a_dims, const size_t *a_shape, size_t b_dims,
                    const size_t *b_shape, const float *a, const float *b, float *y, void *threadpool) {
    if (kind < 0 || kind > 2) return 2;
    return xnn.binary_setup[kind](op, a_dims, a_shape, b_dims, b_shape, a, b, y, threadpool);
}

int vx_unary_create(int kind, size_t channels, void **op) {
    switch (kind) {
    case 0: return xnn.clamp_create(channels, channels, channels, 0.0f, INFINITY, 0, op);
    case 1: return xnn.hardswish_create(channels, channels, channels, 0, op);
    case 2: return xnn.sigmoid_create(channels, channels, channels, 0, op);
    default: return 2;
    }
}

int vx_unary_setup(int kind, void *op, size_t rows, const float *x, float *y, void *threadpool) {
    switch (kind) {
    case 0: return xnn.clamp_setup(op, rows, x, y, threadpool);
    case 1: return xnn.hardswish_setup(op, rows, x, y, threadpool);
    case 2: return xnn.sigmoid_setup(op, rows, x, y, threadpool);
    default: return 2;
    }
}

int vx_run(void *op, void *threadpool) { return xnn.run(op, threadpool); }
void vx_delete(void *op) { if (op) xnn.del(op); }

void *vx_threadpool_create_confined(size_t threads, const pthread_t *peers, size_t peer_count) {
    // pthreadpool's workers inherit the creating thread's affinity: widen the caller's to every
    // CPU the engine's workers may run on, create the pool, then give the caller its own back.
    cpu_set_t own, all;
    int have_own = pthread_getaffinity_np(pthread_self(), sizeof own, &own) == 0;
    all = own;
    for (size_t i = 0; i < peer_count; i++) {
        cpu_set_t peer;
        if (pthread_getaffinity_np(peers[i], sizeof peer, &peer) == 0) CPU_OR(&all, &all, &peer);
    }
    if (have_own) pthread_setaffinity_np(pthread_self(), sizeof all, &all);
    void *pool = xnn.pool_create(threads);
    if (have_own) pthread_setaffinity_np(pthread_self(), sizeof own, &own);
    return pool;
}
