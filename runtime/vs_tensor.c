#include "runtime/vs_tensor.h"

#include "runtime/vs_cuda_alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef VS_HAVE_CUDA
#include <cuda_runtime_api.h>
#include "runtime/vs_cuda_check.h"
#define TENSOR_CUDA_CHECK(call) \
    VS_CUDA_CHECK_HINT(call, "check that a GPU is visible (nvidia-smi) and has enough free memory")
#endif

static const size_t dtype_sizes[VS_DTYPE_COUNT] = {4, 2, 2, 4, 8};
static const char *dtype_names[VS_DTYPE_COUNT] = {"f32", "bf16", "f16", "i32", "i64"};

size_t vs_dtype_size(vs_dtype dtype) { return dtype < VS_DTYPE_COUNT ? dtype_sizes[dtype] : 0; }
const char *vs_dtype_name(vs_dtype dtype) {
    return dtype < VS_DTYPE_COUNT ? dtype_names[dtype] : "invalid";
}

int64_t vs_shape_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}
int64_t vs_tensor_numel(const vs_tensor *t) { return vs_shape_numel(t->ndim, t->shape); }
size_t vs_tensor_bytes(const vs_tensor *t) {
    return (size_t)vs_tensor_numel(t) * vs_dtype_size(t->dtype);
}

const char *vs_shape_str(int ndim, const int64_t *shape, char *buf, size_t len) {
    size_t n = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (n < len) snprintf(buf + n, len - n, "]");
    return buf;
}

vs_tensor vs_tensor_view(void *data, vs_dtype dtype, vs_device device, int ndim,
                         const int64_t *shape) {
    VS_ASSERT(ndim >= 0 && ndim <= VS_MAX_DIMS, "tensors have at most 6 dimensions");
    vs_tensor t = {0};
    t.data = data;
    t.dtype = dtype;
    t.device = device;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++) t.shape[i] = shape[i];
    return t;
}

vs_tensor vs_tensor_new(vs_dtype dtype, vs_device device, int ndim, const int64_t *shape) {
    vs_tensor t = vs_tensor_view(NULL, dtype, device, ndim, shape);
    size_t bytes = vs_tensor_bytes(&t);
    if (device == VS_DEV_CPU) {
        t.data = vs_malloc(bytes);
    } else {
#ifdef VS_HAVE_CUDA
        t.data = vs_cuda_alloc(bytes ? bytes : 1);  // cached: see runtime/vs_cuda_alloc.c
#else
        vs_die(__FILE__, __LINE__, "vs_tensor_new", "CUDA memory requested in a CPU-only build",
               "rebuild where nvcc is found, or run with the CPU backend");
#endif
    }
    t.owns = 1;
    return t;
}

void vs_tensor_free(vs_tensor *t) {
    if (t->owns && t->data) {
        if (t->device == VS_DEV_CPU) free(t->data);
#ifdef VS_HAVE_CUDA
        else vs_cuda_free(t->data);
#endif
    }
    t->data = NULL;
    t->owns = 0;
}

void vs_tensor_copy(vs_tensor *dst, const vs_tensor *src) {
    VS_ASSERT(dst->dtype == src->dtype && vs_tensor_numel(dst) == vs_tensor_numel(src),
              "copy needs equal dtypes and element counts");
    size_t bytes = vs_tensor_bytes(src);
    if (dst->device == VS_DEV_CPU && src->device == VS_DEV_CPU) {
        memcpy(dst->data, src->data, bytes);
        return;
    }
#ifdef VS_HAVE_CUDA
    TENSOR_CUDA_CHECK(cudaMemcpy(dst->data, src->data, bytes, cudaMemcpyDefault));
#else
    vs_die(__FILE__, __LINE__, "vs_tensor_copy", "CUDA memory in a CPU-only build", NULL);
#endif
}

// ---------------------------------------------------------------------------- conversions
static uint32_t f32_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

float vs_bf16_to_f32(vs_bf16 x) { return bits_f32((uint32_t)x << 16); }

vs_bf16 vs_f32_to_bf16(float x) {
    uint32_t u = f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (vs_bf16)((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
    return (vs_bf16)(u >> 16);
}

float vs_f16_to_f32(vs_f16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0) {
        if (man == 0) return bits_f32(sign);
        float v = ldexpf((float)man, -24);  // subnormal
        return sign ? -v : v;
    }
    if (exp == 31) return bits_f32(sign | 0x7f800000u | (man << 13));
    return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

vs_f16 vs_f32_to_f16(float x) {
    uint32_t u = f32_bits(x);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t absu = u & 0x7fffffffu;
    if (absu > 0x7f800000u) return (vs_f16)(sign | 0x7e00u);
    if (absu >= 0x477ff000u) return (vs_f16)(sign | 0x7c00u);  // overflow to inf
    if (absu < 0x38800000u) {                                   // subnormal or zero
        float v = bits_f32(absu) * 16777216.0f;                 // 2^24
        return (vs_f16)(sign | (uint32_t)lrintf(v));
    }
    uint32_t r = absu + 0xfffu + ((absu >> 13) & 1u) - (112u << 23);
    return (vs_f16)(sign | (r >> 13));
}

void vs_convert_to_f32(const void *src, vs_dtype dtype, int64_t n, float *dst) {
    switch (dtype) {
    case VS_F32: memcpy(dst, src, (size_t)n * 4); break;
    case VS_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = vs_bf16_to_f32(((const vs_bf16 *)src)[i]);
        break;
    case VS_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = vs_f16_to_f32(((const vs_f16 *)src)[i]);
        break;
    case VS_I32:
        for (int64_t i = 0; i < n; i++) dst[i] = (float)((const int32_t *)src)[i];
        break;
    case VS_I64:
        for (int64_t i = 0; i < n; i++) dst[i] = (float)((const int64_t *)src)[i];
        break;
    default: vs_die(__FILE__, __LINE__, "vs_convert_to_f32", "invalid dtype", NULL);
    }
}

void vs_convert_from_f32(const float *src, int64_t n, vs_dtype dtype, void *dst) {
    switch (dtype) {
    case VS_F32: memcpy(dst, src, (size_t)n * 4); break;
    case VS_BF16:
        for (int64_t i = 0; i < n; i++) ((vs_bf16 *)dst)[i] = vs_f32_to_bf16(src[i]);
        break;
    case VS_F16:
        for (int64_t i = 0; i < n; i++) ((vs_f16 *)dst)[i] = vs_f32_to_f16(src[i]);
        break;
    case VS_I32:
        for (int64_t i = 0; i < n; i++) ((int32_t *)dst)[i] = (int32_t)lrintf(src[i]);
        break;
    case VS_I64:
        for (int64_t i = 0; i < n; i++) ((int64_t *)dst)[i] = (int64_t)llrintf(src[i]);
        break;
    default: vs_die(__FILE__, __LINE__, "vs_convert_from_f32", "invalid dtype", NULL);
    }
}
