// Internal to the ops_cuda*.cu files: error checks, the ops stream, f32/bf16 loads and stores,
// and the (input dtype, output dtype) dispatch every elementwise kernel uses.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/cuda/ops_cuda.h"
#include "runtime/vs_check.h"
#include "runtime/vs_cuda_check.h"

#define OPS_CUDA_CHECK(call) \
    VS_CUDA_CHECK_HINT(call, "check the GPU (nvidia-smi); rerun under compute-sanitizer to locate a bad access")

// After every launch: configuration errors surface at the launch, not at the next sync.
#define OPS_LAUNCHED(name) OPS_CUDA_CHECK(cudaGetLastError())

namespace vs_ops {

cudaStream_t stream();  // ops_cuda.cu

inline unsigned blocks_for(int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 1 ? 1 : (b > 65535LL * 16 ? 65535LL * 16 : b));
}

__device__ __forceinline__ float ld(const float *p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ld(const __nv_bfloat16 *p, int64_t i) {
    return __bfloat162float(p[i]);
}
__device__ __forceinline__ void st(float *p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(__nv_bfloat16 *p, int64_t i, float v) {
    p[i] = __float2bfloat16_rn(v);
}

[[noreturn]] inline void bad_dtype(const char *op, const vs_tensor *t) {
    vs_dief(__FILE__, __LINE__, "the CUDA ops take f32 or bf16 tensors",
            "%s: CUDA tensor of dtype %s is not supported", op, vs_dtype_name(t->dtype));
}

// f(TI *, TO *) with the tensors' element types (f32 or bf16 each).
template <class F>
void dispatch_io(const char *op, const vs_tensor *in, const vs_tensor *out, F f) {
    bool in32 = in->dtype == VS_F32, out32 = out->dtype == VS_F32;
    if (!in32 && in->dtype != VS_BF16) bad_dtype(op, in);
    if (!out32 && out->dtype != VS_BF16) bad_dtype(op, out);
    if (in32 && out32) f((const float *)in->data, (float *)out->data);
    else if (in32) f((const float *)in->data, (__nv_bfloat16 *)out->data);
    else if (out32) f((const __nv_bfloat16 *)in->data, (float *)out->data);
    else f((const __nv_bfloat16 *)in->data, (__nv_bfloat16 *)out->data);
}

// An optional f32 parameter vector (norm weights, modulation): NULL stays NULL.
inline const float *param_f32(const char *op, const vs_tensor *t) {
    if (!t) return nullptr;
    if (t->dtype != VS_F32)
        vs_dief(__FILE__, __LINE__, "keep norm weights, biases and modulation in f32 on the GPU",
                "%s: parameter of dtype %s, expected f32", op, vs_dtype_name(t->dtype));
    return (const float *)t->data;
}

inline int64_t last_dim(const vs_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }

}  // namespace vs_ops
