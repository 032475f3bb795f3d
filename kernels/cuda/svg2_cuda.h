// SVG2 on the GPU: every step except the attention kernels (kernels/cuda/attention.h), and the
// whole operator. Semantics are those of the CPU operator (kernels/cpu/svg2_cpu.h); this header
// says only where the GPU differs (precision) and how buffers are owned.
//
// Inputs are bf16 rows of D (uint16_t bit patterns here, __nv_bfloat16 in the .cu files) in a
// vs_attention_layout: contiguous [H, S, D] ({S D, D}) or the model's token-major [S, H, D]
// ({D, H D}), read and written in place; arithmetic accumulates in f32. Every function only
// enqueues work on `stream`: none allocates, none synchronises with the host, so one operator
// call can be captured in a CUDA graph.
// Every result is a pure function of the inputs (no float atomics): two runs are bit identical.
#pragma once
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "kernels/cuda/attention.h"  // vs_attention_layout
#include "runtime/vs_svg2_params.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------------------- cluster order
// Stable counting sort of labels [B, N] (values in [0, C)) per batch row: perm [B, N] holds the
// original index of each permuted position, offsets [B, C + 1] the cluster starts. Scratch:
// two int32 arrays of vs_cluster_order_scratch_len(B, N, C) elements; `counts` must be zero on
// entry and is left zero on return (zero it once when allocating).
long vs_cluster_order_scratch_len(int B, int N, int C);
void vs_cuda_cluster_order(const int32_t *labels, int B, int N, int C, int32_t *perm,
                           int32_t *offsets, int32_t *counts, int32_t *cursor,
                           cudaStream_t stream);

// dst[b, s] = src[b, perm[b, s]] for q (by q_perm) and k, v (by k_perm), rows of D bf16: the
// sources in src_layout, the destinations contiguous [B, N, D]. Any of the three may be NULL
// (then skipped). D and the strides must be multiples of 8 (16-byte row pieces).
void vs_cuda_gather_qkv(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                        vs_attention_layout src_layout, const int32_t *q_perm,
                        const int32_t *k_perm, int B, int N, int D, uint16_t *q_out,
                        uint16_t *k_out, uint16_t *v_out, cudaStream_t stream);
// dst[b, perm[b, s]] = src[b, s] (the inverse permutation of the attention output): src
// contiguous [B, N, D], dst in dst_layout.
void vs_cuda_scatter_rows(const uint16_t *src, const int32_t *perm, int B, int N, int D,
                          uint16_t *dst, vs_attention_layout dst_layout, cudaStream_t stream);

// ---------------------------------------------------------------------------- k-means
// Every buffer of one batched k-means (B rows of N points, C clusters, D = 64 or 128).
typedef struct {
    int B, N, D, C, max_iters;
    float *centroids;           // [B, C, D] f32: the result and the warm start (the cache)
    uint16_t *centroids_bf16;   // [B, C, D] bf16 copy fed to the matrix units
    float *centroid_sq;         // [B, C] squared norm of the bf16 copy
    int32_t *labels;            // [B, N]
    int32_t *perm;              // [B, N] cluster order of the last assignment
    int32_t *offsets;           // [B, C + 1] cluster starts in perm (sizes = differences)
    int32_t *counts, *cursor;   // cluster-order scratch
    uint32_t *control;          // [1 + 2B]: iterations run, per-head done flags, per-head shift bits
} vs_kmeans_cuda;

// Allocates every buffer for up to max_iters iterations. Returns 0, or -1 with vs_last_error().
int vs_kmeans_cuda_init(vs_kmeans_cuda *km, int B, int N, int D, int C, int max_iters);
void vs_kmeans_cuda_free(vs_kmeans_cuda *km);

// x: B rows of N points of D bf16 in layout xl. warm == 0: random-sample init exactly as
// vs_kmeans_cpu (seed, head0: the global index of row 0); warm != 0: starts from km->centroids.
// Enqueues `iters` (<= max_iters) iterations of assign (bf16 mma, f32 accumulation, running
// arg-min, ties to the lower index) + stable sort + fixed-order segment means; the iteration that
// finds a head's max shift < tol sets that head's device flag, which makes its later kernels return
// at once (heads converge on their own, as on the CPU). iters == 0 assigns once and leaves the
// centroids. After it: labels, perm, offsets describe each head's last assignment, centroids its
// means; control[0] = the most iterations any head ran.
void vs_kmeans_cuda_run(vs_kmeans_cuda *km, const uint16_t *x, vs_attention_layout xl, int iters,
                        float tol, uint64_t seed, int head0, int warm, cudaStream_t stream);

// ---------------------------------------------------------------------------- selection
// s_ij = q_i . k_j / sqrt(D) in f32 from f32 centroids; P = size-weighted softmax; stable
// descending sort, prefix sums and the top-p / min_kc_ratio rule of vs_svg2_select_cpu, one block
// per (head, query cluster). k_offsets [B, C_k + 1] gives the key-cluster sizes. scores
// [B, C_q, C_k] f32 scratch; mask [B, C_q, C_k]; row_keys [B, C_q]: key tokens each query
// cluster attends to (sum of its selected |K_j|). C_k <= 4096.
void vs_cuda_svg2_select(const float *q_centroids, const float *k_centroids,
                         const int32_t *k_offsets, int B, int C_q, int C_k, int D, float top_p,
                         float min_kc_ratio, float *scores, uint8_t *mask, int32_t *row_keys,
                         cudaStream_t stream);
// Opts the select kernel in to its shared memory; once per process before the first select
// (vs_svg2_cuda_init calls it), never during graph capture.
void vs_cuda_svg2_select_setup(void);
// density [B] (double) = sum_i |Q_i| row_keys_i / (N_q N_k) = sum_ij |Q_i||K_j| mask_ij / (N_q N_k),
// as vs_svg2_density_cpu, from the row_keys the selection wrote.
void vs_cuda_svg2_density(const int32_t *q_offsets, const int32_t *k_offsets,
                          const int32_t *row_keys, int B, int C_q, int C_k, double *density,
                          cudaStream_t stream);

// ---------------------------------------------------------------------------- operator
// The state of one attention site (layer, CFG branch): every buffer, sized once, and the
// centroid cache (km_q.centroids, km_k.centroids; valid after the first call).
typedef struct {
    int H, S, D;
    int head0;  // global index of head 0 (a Ulysses rank's first head): seeds the cold start
    vs_svg2_params params;
    vs_kmeans_cuda km_q, km_k;
    float *scores;                            // [H, C_q, C_k]
    uint8_t *mask;                            // [H, C_q, C_k]
    int32_t *row_keys;                        // [H, C_q]
    double *density;                          // [H] device
    uint16_t *q_perm, *k_perm, *v_perm, *o_perm;  // [H, S, D] bf16 in cluster order
    void *attn_workspace;                     // for vs_cuda_sparse_attention
    size_t attn_workspace_bytes;
    int cache_valid;                          // host flag: next call starts warm
} vs_svg2_cuda;

int vs_svg2_cuda_init(vs_svg2_cuda *st, const vs_svg2_params *params, int H, int S, int D,
                      int head0);
void vs_svg2_cuda_free(vs_svg2_cuda *st);

// out = SVG2 attention of q, k, v, all bf16 in `layout` (H heads of S rows of D). Cold
// (iters_cold) on the first call, warm (iters_warm) from the cached centroids afterwards.
// st->density is filled on the device. No allocation, no host synchronisation: capturable in a
// CUDA graph (a captured call is warm or cold as the host flag was at capture time).
void vs_svg2_attention_cuda(vs_svg2_cuda *st, const uint16_t *q, const uint16_t *k,
                            const uint16_t *v, uint16_t *out, vs_attention_layout layout,
                            cudaStream_t stream);

// The five stages separately (what vs_svg2_attention_cuda runs in order), for the benchmark.
void vs_svg2_cuda_stage_kmeans(vs_svg2_cuda *st, const uint16_t *q, const uint16_t *k,
                               vs_attention_layout layout, int warm, cudaStream_t stream);
void vs_svg2_cuda_stage_select(vs_svg2_cuda *st, cudaStream_t stream);
void vs_svg2_cuda_stage_permute(vs_svg2_cuda *st, const uint16_t *q, const uint16_t *k,
                                const uint16_t *v, vs_attention_layout layout, cudaStream_t stream);
void vs_svg2_cuda_stage_attention(vs_svg2_cuda *st, cudaStream_t stream);
void vs_svg2_cuda_stage_unpermute(vs_svg2_cuda *st, uint16_t *out, vs_attention_layout layout,
                                  cudaStream_t stream);

#ifdef __cplusplus
}
#endif
