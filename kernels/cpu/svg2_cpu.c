// The whole SVG2 operator on the CPU (docs/svg2.md): k-means on Q and K (cold or from the centroid
// cache), block selection, permutation into cluster order, block-sparse attention, inverse
// permutation. Also the centroid cache itself.
//
// Scratch is allocated once per call, sized from the shapes; nothing is allocated inside a loop.
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/svg2_cpu.h"
#include "runtime/vs_check.h"

void vs_svg2_cache_init_cpu(vs_svg2_cache_cpu *cache, int H, int C_q, int C_k, int D) {
    VS_ASSERT(H >= 1 && C_q >= 1 && C_k >= 1 && D >= 1, "the centroid cache needs H, C_q, C_k, D >= 1");
    cache->H = H;
    cache->C_q = C_q;
    cache->C_k = C_k;
    cache->D = D;
    cache->q_centroids = vs_calloc((size_t)H * C_q * D, sizeof(float));
    cache->k_centroids = vs_calloc((size_t)H * C_k * D, sizeof(float));
    cache->valid = 0;
}

void vs_svg2_cache_free_cpu(vs_svg2_cache_cpu *cache) {
    free(cache->q_centroids);
    free(cache->k_centroids);
    memset(cache, 0, sizeof *cache);
}

void vs_svg2_attention_cpu(const vs_svg2_params *params, vs_svg2_cache_cpu *cache,
                           const float *q, const float *k, const float *v, int H, int S, int D,
                           int head0, float *out, double *density) {
    const int C_q = params->C_q, C_k = params->C_k;
    VS_ASSERT(H >= 1 && S >= 1 && D >= 1, "SVG2 attention needs H, S, D >= 1");
    VS_ASSERT(C_q >= 1 && C_k >= 1, "SVG2 needs C_q >= 1 and C_k >= 1 clusters (official: 300 and 1000)");
    VS_ASSERT(params->top_p > 0, "SVG2 top_p must be > 0 (official 0.9; 1 keeps every block)");
    VS_ASSERT(params->iters_cold >= 1 && params->iters_warm >= 0,
              "SVG2 needs iters_cold >= 1 and iters_warm >= 0 (official: 50 and 2)");
    if (cache)
        VS_ASSERT(cache->H == H && cache->C_q == C_q && cache->C_k == C_k && cache->D == D,
                  "the centroid cache was made for another shape: init it with this call's H, C_q, C_k, D");
    const int warm = cache && cache->valid;

    float *q_centroids = vs_malloc((size_t)H * C_q * D * sizeof(float));   // [H, C_q, D]
    float *k_centroids = vs_malloc((size_t)H * C_k * D * sizeof(float));   // [H, C_k, D]
    int32_t *q_labels = vs_malloc((size_t)H * S * sizeof(int32_t));        // [H, S]
    int32_t *k_labels = vs_malloc((size_t)H * S * sizeof(int32_t));        // [H, S]
    int32_t *q_sizes = vs_malloc((size_t)H * C_q * sizeof(int32_t));       // [H, C_q]
    int32_t *k_sizes = vs_malloc((size_t)H * C_k * sizeof(int32_t));       // [H, C_k]
    int32_t *q_perm = vs_malloc((size_t)H * S * sizeof(int32_t));          // [H, S]
    int32_t *k_perm = vs_malloc((size_t)H * S * sizeof(int32_t));          // [H, S]
    int32_t *q_offsets = vs_malloc((size_t)H * (C_q + 1) * sizeof(int32_t)); // [H, C_q + 1]
    int32_t *k_offsets = vs_malloc((size_t)H * (C_k + 1) * sizeof(int32_t)); // [H, C_k + 1]
    uint8_t *mask = vs_malloc((size_t)H * C_q * C_k);                      // [H, C_q, C_k]
    float *q_perm_rows = vs_malloc((size_t)H * S * D * sizeof(float));     // [H, S, D] each
    float *k_perm_rows = vs_malloc((size_t)H * S * D * sizeof(float));
    float *v_perm_rows = vs_malloc((size_t)H * S * D * sizeof(float));
    float *out_perm_rows = vs_malloc((size_t)H * S * D * sizeof(float));

    // 1. k-means on Q and on K.
    if (warm) {
        memcpy(q_centroids, cache->q_centroids, (size_t)H * C_q * D * sizeof(float));
        memcpy(k_centroids, cache->k_centroids, (size_t)H * C_k * D * sizeof(float));
    }
    int iters = warm ? params->iters_warm : params->iters_cold;
    vs_kmeans_cpu(q, H, S, D, C_q, iters, params->tol, vs_svg2_kmeans_seed(params->seed, 0), head0, warm,
                  q_centroids, q_labels, q_sizes);
    vs_kmeans_cpu(k, H, S, D, C_k, iters, params->tol, vs_svg2_kmeans_seed(params->seed, 1), head0, warm,
                  k_centroids, k_labels, k_sizes);

    // 2. Which blocks to compute.
    vs_svg2_select_cpu(q_centroids, k_centroids, k_sizes, H, C_q, C_k, D, params->top_p,
                       params->min_kc_ratio, mask);

    // 3. Cluster order: Q by its labels, K and V both by the K labels.
    vs_cluster_order_cpu(q_labels, H, S, C_q, q_perm, q_offsets);
    vs_cluster_order_cpu(k_labels, H, S, C_k, k_perm, k_offsets);
    vs_gather_rows_cpu(q, q_perm, H, S, D, q_perm_rows);
    vs_gather_rows_cpu(k, k_perm, H, S, D, k_perm_rows);
    vs_gather_rows_cpu(v, k_perm, H, S, D, v_perm_rows);

    // 4. Sparse attention, 5. back to token order.
    vs_block_sparse_attention_cpu(q_perm_rows, k_perm_rows, v_perm_rows, H, S, D, q_offsets,
                                  k_offsets, C_q, C_k, mask, out_perm_rows);
    vs_scatter_rows_cpu(out_perm_rows, q_perm, H, S, D, out);

    if (density)
        for (int h = 0; h < H; h++)
            density[h] = vs_svg2_density_cpu(q_offsets + (size_t)h * (C_q + 1),
                                              k_offsets + (size_t)h * (C_k + 1),
                                              mask + (size_t)h * C_q * C_k, C_q, C_k);
    if (cache) {
        memcpy(cache->q_centroids, q_centroids, (size_t)H * C_q * D * sizeof(float));
        memcpy(cache->k_centroids, k_centroids, (size_t)H * C_k * D * sizeof(float));
        cache->valid = 1;
    }

    free(q_centroids);
    free(k_centroids);
    free(q_labels);
    free(k_labels);
    free(q_sizes);
    free(k_sizes);
    free(q_perm);
    free(k_perm);
    free(q_offsets);
    free(k_offsets);
    free(mask);
    free(q_perm_rows);
    free(k_perm_rows);
    free(v_perm_rows);
    free(out_perm_rows);
}
