// vs_attention_dense on the GPU: softmax(q k^T * scale) v with Lq queries and Lk keys per head
// (Lq != Lk: cross-attention to the 512 text rows; Lq == Lk: the single-rank self-attention
// fallback), on the op layer's token-major [L, H, d] tensors.
//
// Head dims 64 and 128 go to the flash kernels of kernels/cuda/attention.h, which read and write
// token-major rows in place (a layout per tensor), so nothing is transposed.
//
// Other head dims (the tiny test configs, e.g. 12) take a plain kernel: one CTA per (query,
// head) holding the query's Lk scores in shared memory, three passes (scores and max, exp and
// sum, P V). Correct for any D, and for Lk up to what shared memory holds; not fast.
#include <math.h>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/ops_cuda_common.cuh"

namespace vs_ops {
namespace {

constexpr int PLAIN_THREADS = 128;

__device__ __forceinline__ float cta_reduce(float v, float *red, bool is_max) {
    for (int o = 16; o > 0; o >>= 1) {
        float w = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, w) : v + w;
    }
    __syncthreads();
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    float r = red[0];
    for (int w = 1; w < PLAIN_THREADS / 32; w++) r = is_max ? fmaxf(r, red[w]) : r + red[w];
    return r;
}

// Token-major q [Lq, H, D], k, v [Lk, H, D], out [Lq, H * D]; grid (Lq, H); smem Lk floats.
__global__ void __launch_bounds__(PLAIN_THREADS)
    attention_plain_kernel(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                           const __nv_bfloat16 *__restrict__ v, __nv_bfloat16 *__restrict__ o,
                           int Lk, int H, int D, float scale) {
    extern __shared__ float p[];  // [Lk]
    __shared__ float red[PLAIN_THREADS / 32];
    const int i = blockIdx.x, h = blockIdx.y;
    const __nv_bfloat16 *qi = q + ((size_t)i * H + h) * D;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < Lk; j += PLAIN_THREADS) {
        const __nv_bfloat16 *kj = k + ((size_t)j * H + h) * D;
        float s = 0.f;
        for (int d = 0; d < D; d++) s += __bfloat162float(qi[d]) * __bfloat162float(kj[d]);
        p[j] = s * scale;
        mx = fmaxf(mx, p[j]);
    }
    mx = cta_reduce(mx, red, true);
    float sum = 0.f;
    for (int j = threadIdx.x; j < Lk; j += PLAIN_THREADS) {
        p[j] = __expf(p[j] - mx);
        sum += p[j];
    }
    sum = cta_reduce(sum, red, false);  // its barriers also publish p[]
    for (int d = threadIdx.x; d < D; d += PLAIN_THREADS) {
        float acc = 0.f;
        for (int j = 0; j < Lk; j++) acc += p[j] * __bfloat162float(v[((size_t)j * H + h) * D + d]);
        o[(size_t)i * H * D + (size_t)h * D + d] = __float2bfloat16_rn(acc / sum);
    }
}

void launch_plain(const vs_tensor *q, const vs_tensor *k, const vs_tensor *v, vs_tensor *out,
                  int64_t Lq, int64_t Lk, int H, int D, float scale) {
    const size_t smem = (size_t)Lk * sizeof(float);
    if (smem > 96 * 1024 || Lq > 0x7fffffff || H > 65535)
        vs_dief(__FILE__, __LINE__, "head_dim 64 or 128 takes the flash kernel with no such limit",
                "vs_attention_dense on CUDA: head_dim %d with %lld keys exceeds the plain "
                "kernel's shared memory", D, (long long)Lk);
    static bool opted = false;
    if (!opted) {
        OPS_CUDA_CHECK(cudaFuncSetAttribute(attention_plain_kernel,
                                            cudaFuncAttributeMaxDynamicSharedMemorySize, 96 * 1024));
        opted = true;
    }
    attention_plain_kernel<<<dim3((unsigned)Lq, (unsigned)H), PLAIN_THREADS, smem, stream()>>>(
        (const __nv_bfloat16 *)q->data, (const __nv_bfloat16 *)k->data,
        (const __nv_bfloat16 *)v->data, (__nv_bfloat16 *)out->data, (int)Lk, H, D, scale);
    OPS_LAUNCHED("attention_plain_kernel");
}

}  // namespace

void attention_dense(vs_tensor *out, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                     float scale) {
    const int64_t Lq = q->shape[0], Lk = k->shape[0];
    const int H = (int)q->shape[1], D = (int)q->shape[2];
    const vs_tensor *all[] = {out, q, k, v};
    for (const vs_tensor *t : all)
        if (t->dtype != VS_BF16)
            vs_dief(__FILE__, __LINE__, "attention on CUDA takes bf16 q, k, v and out",
                    "vs_attention_dense: a tensor is %s", vs_dtype_name(t->dtype));
    VS_ASSERT(Lq <= 0x7fffffff && Lk <= 0x7fffffff, "vs_attention_dense: sequence beyond 2^31");
    if (Lq == 0) return;
    if (Lk == 0) {  // no key: zeros, as the tile loop writes for rows without keys
        OPS_CUDA_CHECK(cudaMemsetAsync(out->data, 0, vs_tensor_bytes(out), stream()));
        return;
    }
    if (D != 64 && D != 128) {
        launch_plain(q, k, v, out, Lq, Lk, H, D, scale);
        return;
    }
    const vs_attention_layout tokens = {(size_t)D, H * D};  // [L, H, D]
    if (vs_cuda_attention((const vs_bf16 *)q->data, (const vs_bf16 *)k->data,
                          (const vs_bf16 *)v->data, (vs_bf16 *)out->data, H, (int)Lq, (int)Lk, D,
                          tokens, tokens, tokens, scale, (vs_cuda_stream)stream()))
        vs_dief(__FILE__, __LINE__, "check the attention shapes and that the tensors are on the GPU",
                "vs_attention_dense on CUDA: %s", vs_last_error());
}

}  // namespace vs_ops
