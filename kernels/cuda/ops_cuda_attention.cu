// vs_attention_dense on the GPU: softmax(q k^T * scale) v with Lq queries and Lk keys per head
// (Lq != Lk: cross-attention to the 512 text rows; Lq == Lk: the single-rank self-attention
// fallback).
//
// kernels/cuda/attention.h's public dense launcher assumes one S for queries and keys, but its
// flash tile loop (attention_core.cuh, attention_tile) takes the query range and the key count
// separately, so this file only adds a grid that passes Lq and Lk, and the layout moves: the op
// layer's tensors are token-major [L, H, d], the tile loop reads head-major [H, L, d], so q, k, v
// go through vs_cuda_tokens_to_heads into scratch (a 100 MB copy at 480p, ~0.1 ms) and the
// result comes back with vs_cuda_heads_to_tokens. bf16 only.
//
// Other head dims (the tiny test configs, e.g. 12) take a plain kernel: one CTA per (query,
// head) holding the query's Lk scores in shared memory, three passes (scores and max, exp and
// sum, P V). Correct for any D, and for Lk up to what shared memory holds; not fast.
#include <math.h>

#include "kernels/cuda/attention_core.cuh"
#include "kernels/cuda/ops_cuda_common.cuh"

namespace vs_ops {
namespace {

using Cfg128 = vs_attn::Config<128, 4, 2, 64, 2>;  // 128 query rows per CTA, 32 per warp
using Cfg64 = vs_attn::Config<64, 4, 2, 64, 3>;

template <class C>
__global__ void __launch_bounds__(C::THREADS, C::MIN_BLOCKS)
    attention_qk_kernel(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                        const __nv_bfloat16 *__restrict__ v, __nv_bfloat16 *__restrict__ o,
                        int Lq, int Lk, float scale_log2) {
    const size_t hq = (size_t)blockIdx.y * Lq * C::D, hk = (size_t)blockIdx.y * Lk * C::D;
    const int q0 = blockIdx.x * C::BM;
    const int q_len = min(C::BM, Lq - q0);
    vs_attn::attention_tile<C, false>(q + hq, k + hk, v + hk, o + hq, q0, q_len, Lk, nullptr, 0,
                                      scale_log2);
}

template <class C>
void launch(const uint16_t *q, const uint16_t *k, const uint16_t *v, uint16_t *o, int H, int Lq,
            int Lk, float scale) {
    static bool opted = false;
    if (!opted) {
        OPS_CUDA_CHECK(cudaFuncSetAttribute(attention_qk_kernel<C>,
                                            cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            C::SMEM_BYTES));
        opted = true;
    }
    dim3 grid((unsigned)((Lq + C::BM - 1) / C::BM), (unsigned)H);
    attention_qk_kernel<C><<<grid, C::THREADS, C::SMEM_BYTES, stream()>>>(
        (const __nv_bfloat16 *)q, (const __nv_bfloat16 *)k, (const __nv_bfloat16 *)v,
        (__nv_bfloat16 *)o, Lq, Lk, (float)(scale * 1.4426950408889634));
    OPS_LAUNCHED("attention_qk_kernel");
}

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
    const int64_t qs[3] = {H, Lq, D}, ks[3] = {H, Lk, D};
    vs_tensor qh = vs_tensor_new(VS_BF16, VS_DEV_CUDA, 3, qs);
    vs_tensor kh = vs_tensor_new(VS_BF16, VS_DEV_CUDA, 3, ks);
    vs_tensor vh = vs_tensor_new(VS_BF16, VS_DEV_CUDA, 3, ks);
    vs_tensor oh = vs_tensor_new(VS_BF16, VS_DEV_CUDA, 3, qs);
    vs_cuda_tokens_to_heads((const uint16_t *)q->data, Lq, H, D, (uint16_t *)qh.data);
    vs_cuda_tokens_to_heads((const uint16_t *)k->data, Lk, H, D, (uint16_t *)kh.data);
    vs_cuda_tokens_to_heads((const uint16_t *)v->data, Lk, H, D, (uint16_t *)vh.data);
    if (D == 128)
        launch<Cfg128>((const uint16_t *)qh.data, (const uint16_t *)kh.data,
                       (const uint16_t *)vh.data, (uint16_t *)oh.data, H, (int)Lq, (int)Lk, scale);
    else
        launch<Cfg64>((const uint16_t *)qh.data, (const uint16_t *)kh.data,
                      (const uint16_t *)vh.data, (uint16_t *)oh.data, H, (int)Lq, (int)Lk, scale);
    vs_cuda_heads_to_tokens((const uint16_t *)oh.data, Lq, H, D, (uint16_t *)out->data);
    vs_tensor *tmp[] = {&qh, &kh, &vh, &oh};
    for (vs_tensor *t : tmp) vs_tensor_free(t);
}

}  // namespace vs_ops
