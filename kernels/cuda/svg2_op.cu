// The whole SVG2 operator on the GPU: k-means on Q and K (cold, or warm from the centroid cache),
// block selection, density, permutation, variable-block sparse attention (kernels/cuda/
// attention.h), inverse permutation. Every buffer is made by vs_svg2_cuda_init from
// (H, S, D, C_q, C_k), so a call only enqueues kernels: no allocation, no host synchronisation,
// and a call can be captured in a CUDA graph and replayed.
//
// The centroid cache is the k-means state itself (km_q.centroids, km_k.centroids): a warm call
// starts from whatever the previous call left there. The permutation reuses the stable order the
// last k-means iteration already computed for its update (same labels), so it costs no extra sort.
#include "kernels/cpu/svg2_cpu.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/svg2_cuda.h"
#include "kernels/cuda/svg2_cuda_common.cuh"


extern "C" int vs_svg2_cuda_init(vs_svg2_cuda *st, const vs_svg2_params *params, int H, int S,
                                 int D, int head0) {
    memset(st, 0, sizeof *st);
    const int C_q = params->C_q, C_k = params->C_k;
    if (H < 1 || S < 1) return VS_FAIL("SVG2 needs H, S >= 1 (got H=%d S=%d)", H, S);
    if (C_q < 1 || C_k < 1 || C_q > S || C_k > S || C_k > 4096)
        return VS_FAIL("SVG2 clusters must satisfy 1 <= C_q, C_k <= S and C_k <= 4096 (got C_q=%d "
                       "C_k=%d S=%d)", C_q, C_k, S);
    if (params->iters_cold < 1 || params->iters_warm < 0 || !(params->top_p > 0))
        return VS_FAIL("SVG2 needs iters_cold >= 1, iters_warm >= 0 and top_p > 0 (official: 50, 2, 0.9)");
    st->H = H;
    st->S = S;
    st->D = D;
    st->head0 = head0;
    st->params = *params;
    int max_iters = params->iters_cold > params->iters_warm ? params->iters_cold : params->iters_warm;
    if (vs_kmeans_cuda_init(&st->km_q, H, S, D, C_q, max_iters) ||
        vs_kmeans_cuda_init(&st->km_k, H, S, D, C_k, max_iters))
        return -1;
    size_t rows = (size_t)H * S * D * sizeof(uint16_t);
    VS_CUDA_CHECK(cudaMalloc(&st->scores, (size_t)H * C_q * C_k * sizeof(float)));
    VS_CUDA_CHECK(cudaMalloc(&st->mask, (size_t)H * C_q * C_k));
    VS_CUDA_CHECK(cudaMalloc(&st->row_keys, (size_t)H * C_q * sizeof(int32_t)));
    VS_CUDA_CHECK(cudaMalloc(&st->density, (size_t)H * sizeof(double)));
    VS_CUDA_CHECK(cudaMalloc(&st->q_perm, rows));
    VS_CUDA_CHECK(cudaMalloc(&st->k_perm, rows));
    VS_CUDA_CHECK(cudaMalloc(&st->v_perm, rows));
    VS_CUDA_CHECK(cudaMalloc(&st->o_perm, rows));
    st->attn_workspace_bytes = vs_cuda_sparse_attention_workspace_bytes(H, S, C_q, C_k);
    if (st->attn_workspace_bytes)
        VS_CUDA_CHECK(cudaMalloc(&st->attn_workspace, st->attn_workspace_bytes));
    vs_cuda_svg2_select_setup();
    return 0;
}

extern "C" void vs_svg2_cuda_free(vs_svg2_cuda *st) {
    vs_kmeans_cuda_free(&st->km_q);
    vs_kmeans_cuda_free(&st->km_k);
    void *bufs[] = {st->scores, st->mask, st->row_keys, st->density, st->q_perm, st->k_perm, st->v_perm,
                    st->o_perm, st->attn_workspace};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) VS_CUDA_CHECK(cudaFree(bufs[i]));
    memset(st, 0, sizeof *st);
}

extern "C" void vs_svg2_cuda_stage_kmeans(vs_svg2_cuda *st, const uint16_t *q, const uint16_t *k,
                                          vs_attention_layout layout, int warm,
                                          cudaStream_t stream) {
    const vs_svg2_params *p = &st->params;
    int iters = warm ? p->iters_warm : p->iters_cold;
    vs_kmeans_cuda_run(&st->km_q, q, layout, iters, p->tol, vs_svg2_kmeans_seed(p->seed, 0),
                       st->head0, warm, stream);
    vs_kmeans_cuda_run(&st->km_k, k, layout, iters, p->tol, vs_svg2_kmeans_seed(p->seed, 1),
                       st->head0, warm, stream);
}

extern "C" void vs_svg2_cuda_stage_select(vs_svg2_cuda *st, cudaStream_t stream) {
    const vs_svg2_params *p = &st->params;
    vs_cuda_svg2_select(st->km_q.centroids, st->km_k.centroids, st->km_k.offsets, st->H, p->C_q,
                        p->C_k, st->D, p->top_p, p->min_kc_ratio, st->scores, st->mask,
                        st->row_keys, stream);
    vs_cuda_svg2_density(st->km_q.offsets, st->km_k.offsets, st->row_keys, st->H, p->C_q, p->C_k,
                         st->density, stream);
}

extern "C" void vs_svg2_cuda_stage_permute(vs_svg2_cuda *st, const uint16_t *q, const uint16_t *k,
                                           const uint16_t *v, vs_attention_layout layout,
                                           cudaStream_t stream) {
    vs_cuda_gather_qkv(q, k, v, layout, st->km_q.perm, st->km_k.perm, st->H, st->S, st->D,
                       st->q_perm, st->k_perm, st->v_perm, stream);
}

extern "C" void vs_svg2_cuda_stage_attention(vs_svg2_cuda *st, cudaStream_t stream) {
    VS_TRY(vs_cuda_sparse_attention(st->q_perm, st->k_perm, st->v_perm, st->o_perm, st->H, st->S,
                                    st->D, st->km_q.offsets, st->km_k.offsets, st->mask,
                                    st->params.C_q, st->params.C_k, st->attn_workspace, stream),
           "the sparse attention kernel refused these shapes (see the message above)");
}

extern "C" void vs_svg2_cuda_stage_unpermute(vs_svg2_cuda *st, uint16_t *out,
                                             vs_attention_layout layout, cudaStream_t stream) {
    vs_cuda_scatter_rows(st->o_perm, st->km_q.perm, st->H, st->S, st->D, out, layout, stream);
}

extern "C" void vs_svg2_attention_cuda(vs_svg2_cuda *st, const uint16_t *q, const uint16_t *k,
                                       const uint16_t *v, uint16_t *out, vs_attention_layout layout,
                                       cudaStream_t stream) {
    vs_svg2_cuda_stage_kmeans(st, q, k, layout, st->cache_valid, stream);
    vs_svg2_cuda_stage_select(st, stream);
    vs_svg2_cuda_stage_permute(st, q, k, v, layout, stream);
    vs_svg2_cuda_stage_attention(st, stream);
    vs_svg2_cuda_stage_unpermute(st, out, layout, stream);
    st->cache_valid = 1;
}
