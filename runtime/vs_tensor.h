// Tensors: a typed, shaped block of memory on the CPU or a CUDA device. Row-major, contiguous.
// A tensor either owns its memory (vs_tensor_new) or views someone else's (vs_tensor_view).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "runtime/vs_check.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { VS_F32 = 0, VS_BF16, VS_F16, VS_I32, VS_I64, VS_DTYPE_COUNT } vs_dtype;
typedef enum { VS_DEV_CPU = 0, VS_DEV_CUDA } vs_device;

#define VS_MAX_DIMS 6

typedef struct {
    void *data;
    vs_dtype dtype;
    vs_device device;
    int ndim;
    int64_t shape[VS_MAX_DIMS];
    int owns;  // 1: freed by vs_tensor_free
} vs_tensor;

size_t vs_dtype_size(vs_dtype dtype);
const char *vs_dtype_name(vs_dtype dtype);
int64_t vs_shape_numel(int ndim, const int64_t *shape);
int64_t vs_tensor_numel(const vs_tensor *t);
size_t vs_tensor_bytes(const vs_tensor *t);
// "[2, 3, 4]" into buf
const char *vs_shape_str(int ndim, const int64_t *shape, char *buf, size_t len);

// Allocates (dies on out-of-memory, naming the size). CUDA memory needs a CUDA build.
vs_tensor vs_tensor_new(vs_dtype dtype, vs_device device, int ndim, const int64_t *shape);
vs_tensor vs_tensor_view(void *data, vs_dtype dtype, vs_device device, int ndim,
                         const int64_t *shape);
void vs_tensor_free(vs_tensor *t);
// Copies between any two devices; shapes and dtypes must match.
void vs_tensor_copy(vs_tensor *dst, const vs_tensor *src);

// Scalar conversions. bf16 and f16 are stored as uint16_t; rounding is to nearest even.
typedef uint16_t vs_bf16;
typedef uint16_t vs_f16;
float vs_bf16_to_f32(vs_bf16 x);
vs_bf16 vs_f32_to_bf16(float x);
float vs_f16_to_f32(vs_f16 x);
vs_f16 vs_f32_to_f16(float x);

// Converts n elements of a CPU buffer of any float or int dtype to f32.
void vs_convert_to_f32(const void *src, vs_dtype dtype, int64_t n, float *dst);
void vs_convert_from_f32(const float *src, int64_t n, vs_dtype dtype, void *dst);

#ifdef __cplusplus
}
#endif
