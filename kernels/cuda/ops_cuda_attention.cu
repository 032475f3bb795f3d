// vs_attention_dense on the GPU: softmax(q k^T * scale) v with Lq queries and Lk keys per head
// (Lq != Lk: cross-attention to the 512 text rows; Lq == Lk: the single-rank self-attention
// fallback).
//
// kernels/cuda/attention.h's public dense launcher assumes one S for queries and keys, but its
// flash tile loop (attention_core.cuh, attention_tile) takes the query range and the key count
// separately, so this file only adds a grid that passes Lq and Lk, and the layout moves: the op
// layer's tensors are token-major [L, H, d], the tile loop reads head-major [H, L, d], so q, k, v
// go through vs_cuda_tokens_to_heads into scratch (a 100 MB copy at 480p, ~0.1 ms) and the
// result comes back with vs_cuda_heads_to_tokens. bf16 only; head_dim 64 or 128.
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
    if (D != 64 && D != 128)
        vs_dief(__FILE__, __LINE__, "Wan models have head_dim 128 (the tiny model 64)",
                "vs_attention_dense on CUDA: head_dim %d is not 64 or 128", D);
    VS_ASSERT(Lq <= 0x7fffffff && Lk <= 0x7fffffff, "vs_attention_dense: sequence beyond 2^31");
    if (Lq == 0) return;
    if (Lk == 0) {  // no key: zeros, as the tile loop writes for rows without keys
        OPS_CUDA_CHECK(cudaMemsetAsync(out->data, 0, vs_tensor_bytes(out), stream()));
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
