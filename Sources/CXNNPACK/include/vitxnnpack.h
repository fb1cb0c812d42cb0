// XNNPACK's f32 operators, opened at run time: vitbench builds and runs without XNNPACK, and the
// `xnnpack` backend says how to install it where it is missing. The signatures are those of the
// operator API of XNNPACK as Debian packages it (libxnnpack-dev 0.0~git20220216: create, setup
// with pointers, run); `vx_load` checks that every entry point is there before any is called.
#ifndef VITXNNPACK_H
#define VITXNNPACK_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Opens libXNNPACK and initialises it, once per process. 0 on success; otherwise writes why
/// into `error` and returns non-zero (every later call does the same).
int vx_load(char *error, size_t error_size);
/// The file the library was opened from ("" before a successful `vx_load`).
const char *vx_library_path(void);

/// pthreadpool (XNNPACK's thread pool): `threads` threads, the caller being one of them. Its
/// worker threads inherit the creating thread's CPU affinity.
void *vx_threadpool_create(size_t threads);
/// The same, its threads confined to the CPUs the calling thread and `peers` may run on (the
/// engine's pinned workers): XNNPACK's threads stay on the PUs the configuration pinned.
void *vx_threadpool_create_confined(size_t threads, const pthread_t *peers, size_t peer_count);
void vx_threadpool_destroy(void *threadpool);

/// Every function below returns XNNPACK's status: 0 success, 2 invalid parameter, 4 unsupported
/// parameter, 6 out of memory, ...
int vx_convolution_create(uint32_t pad_top, uint32_t pad_right, uint32_t pad_bottom, uint32_t pad_left,
                          uint32_t kernel_h, uint32_t kernel_w, uint32_t stride_h, uint32_t stride_w,
                          uint32_t groups, size_t group_in, size_t group_out,
                          const float *kernel, const float *bias, float out_min, float out_max, void **op);
int vx_convolution_setup(void *op, size_t batch, size_t height, size_t width, const float *x, float *y,
                         void *threadpool);

int vx_fully_connected_create(size_t in_channels, size_t out_channels, const float *kernel, const float *bias,
                              float out_min, float out_max, void **op);
int vx_fully_connected_setup(void *op, size_t rows, const float *x, float *y, void *threadpool);

int vx_pooling_create(int is_max, uint32_t padding, uint32_t kernel, uint32_t stride, size_t channels, void **op);
int vx_pooling_setup(int is_max, void *op, size_t batch, size_t height, size_t width, const float *x, float *y,
                     void *threadpool);

int vx_global_average_pooling_create(size_t channels, void **op);
int vx_global_average_pooling_setup(void *op, size_t batch, size_t pixels, const float *x, float *y,
                                    void *threadpool);

/// kind: 0 add, 1 multiply, 2 subtract (numpy broadcasting between the two shapes).
int vx_binary_create(int kind, void **op);
int vx_binary_setup(int kind, void *op, size_t a_dims, const size_t *a_shape, size_t b_dims,
                    const size_t *b_shape, const float *a, const float *b, float *y, void *threadpool);

/// kind: 0 clamp at zero (ReLU), 1 hardswish, 2 sigmoid; on `rows` rows of `channels` values.
int vx_unary_create(int kind, size_t channels, void **op);
int vx_unary_setup(int kind, void *op, size_t rows, const float *x, float *y, void *threadpool);

int vx_run(void *op, void *threadpool);
void vx_delete(void *op);

#ifdef __cplusplus
}
#endif

#endif
