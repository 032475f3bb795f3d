// SVG2 semantic-aware sparse attention on the CPU, in f32: the reference every GPU kernel and
// every distributed layout is tested against. Plain loops, obviously right, no speed tricks.
//
// Tensors are per head: Q, K, V and the output are [H, S, D], row-major. All k-means and
// selection arrays are batched over B = H independent heads. Steps (docs/svg2.md):
//   1. k-means on Q (C_q clusters) and, separately, on K (C_k clusters)
//   2. centroid scores -> softmax weighted by key-cluster sizes -> top-p key clusters per query cluster
//   3. stable permutation making each cluster contiguous (Q by Q labels, K and V by K labels)
//   4. variable-block sparse attention over the selected (query cluster, key cluster) blocks
//   5. inverse permutation of the output
#pragma once
#include <stdint.h>

#include "runtime/vs_svg2_params.h"

#ifdef __cplusplus
extern "C" {
#endif

// Batched k-means, squared Euclidean distance. x [B, N, D]; centroids [B, C, D]; labels [B, N];
// sizes [B, C].
// warm == 0: centroids start as C tokens drawn uniformly with replacement by vs_uniform_index
//            (seed, (head0 + b) * C + c); warm != 0: centroids holds the starting centroids on entry.
//            head0 is the global index of batch row 0, so a head draws the same start whichever
//            rank runs it (a Ulysses rank holds heads head0 .. head0 + B - 1).
// Each iteration assigns every point to its nearest centroid (ties: lowest index), then moves
// each centroid to the mean of its points; an empty cluster keeps its old centroid. The loop
// stops after max_iters or when the largest centroid shift (L2) of that batch row is < tol: each
// row converges on its own, so the result for one head does not depend on the others in the call.
// On return: labels and sizes describe the last assignment, centroids are the means of that
// assignment (unlike the official code, which returns pre-update centroids on early stop).
// max_iters == 0 only assigns: labels and sizes describe the starting centroids, left unchanged.
// Distances and means are computed in double; the result is a pure function of the inputs.
// Returns the largest number of iterations any row ran (>= 1 when max_iters >= 1).
int vs_kmeans_cpu(const float *x, int B, int N, int D, int C, int max_iters, float tol,
                  uint64_t seed, int head0, int warm, float *centroids, int32_t *labels,
                  int32_t *sizes);

// The two k-means seeds of one operator call (which = 0: Q, 1: K), so that Q and K centroids
// are not drawn from the same token positions.
static inline uint64_t vs_svg2_kmeans_seed(uint64_t seed, int which) {
    return which ? seed ^ 0x9E3779B97F4A7C15ull : seed;
}

// Sum over all points of the squared distance to their assigned centroid (double precision).
double vs_kmeans_objective_cpu(const float *x, int B, int N, int D, int C,
                               const float *centroids, const int32_t *labels);

// Per head b and query cluster i: s_ij = q_i . k_j / sqrt(D);
// P_ij = |K_j| exp(s_ij - max_j s_ij) / sum_j |K_j| exp(s_ij - max); sort P_i descending (ties:
// lower j first); keep j in sorted position r when r == 0, or r < floor(min_kc_ratio * C_k), or
// the sum of the entries before it is <= top_p; top_p >= 1 keeps every cluster. r counts from 0,
// the floor is taken of the f32 product. An empty key cluster has P = 0 (it ranks after every
// non-empty one); the max in the softmax runs over non-empty clusters only. Scores, P and the
// sums are in double; P is not rounded to bf16.
// mask [B, C_q, C_k]: 1 = block computed.
void vs_svg2_select_cpu(const float *q_centroids, const float *k_centroids,
                        const int32_t *k_sizes, int B, int C_q, int C_k, int D, float top_p,
                        float min_kc_ratio, uint8_t *mask);

// Stable counting sort of labels [B, N] into cluster order: perm[b, s] is the original index of
// the token at permuted position s; offsets [B, C + 1] are cluster starts (offsets[b, C] == N).
void vs_cluster_order_cpu(const int32_t *labels, int B, int N, int C, int32_t *perm,
                          int32_t *offsets);

// dst[b, s] = src[b, perm[b, s]] (gather into cluster order), rows of D floats.
void vs_gather_rows_cpu(const float *src, const int32_t *perm, int B, int N, int D, float *dst);
// dst[b, perm[b, s]] = src[b, s] (the inverse permutation).
void vs_scatter_rows_cpu(const float *src, const int32_t *perm, int B, int N, int D, float *dst);

// softmax(q k^T / sqrt(D)) v per head, non-causal. out [H, S, D].
void vs_dense_attention_cpu(const float *q, const float *k, const float *v, int H, int S, int D,
                            float *out);

// Variable-block sparse attention on permuted tensors: query rows of cluster i
// (q_offsets[h, i] .. q_offsets[h, i+1]) attend to the keys of every key cluster j with
// mask[h, i, j] (rows k_offsets[h, j] .. k_offsets[h, j+1]). A query row with no key at all
// (only possible when every selected key cluster is empty) gets zeros.
void vs_block_sparse_attention_cpu(const float *q, const float *k, const float *v, int H, int S,
                                   int D, const int32_t *q_offsets, const int32_t *k_offsets,
                                   int C_q, int C_k, const uint8_t *mask, float *out);

// Fraction of the S x S score matrix computed for one head:
// sum_ij |Q_i| |K_j| mask_ij / (sum_i |Q_i|)(sum_j |K_j|).
double vs_svg2_density_cpu(const int32_t *q_offsets, const int32_t *k_offsets,
                           const uint8_t *mask, int C_q, int C_k);

// Centroid cache for one attention site (one layer, CFG branch): [H, C_q, D] and [H, C_k, D].
typedef struct {
    int H, C_q, C_k, D;
    float *q_centroids;
    float *k_centroids;
    int valid;  // 0: next call starts cold
} vs_svg2_cache_cpu;

void vs_svg2_cache_init_cpu(vs_svg2_cache_cpu *cache, int H, int C_q, int C_k, int D);
void vs_svg2_cache_free_cpu(vs_svg2_cache_cpu *cache);

// The whole operator on heads head0 .. head0 + H - 1 of the model (head0 = 0 on one rank).
// cache may be NULL (always cold). density [H] may be NULL.
// Cold (no cache, or cache->valid == 0): k-means from a seeded random start, params->iters_cold
// iterations, Q seeded with vs_svg2_kmeans_seed(params->seed, 0), K with (params->seed, 1).
// Warm (cache->valid): k-means starts from the cached centroids, params->iters_warm iterations.
// Either way the cache then holds this call's final centroids and is valid.
void vs_svg2_attention_cpu(const vs_svg2_params *params, vs_svg2_cache_cpu *cache,
                           const float *q, const float *k, const float *v, int H, int S, int D,
                           int head0, float *out, double *density);

#ifdef __cplusplus
}
#endif
