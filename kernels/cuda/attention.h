// Attention on the GPU: dense flash attention and SVG2 variable-block sparse attention.
//
// bf16 tensors [H, S, D] (head dim D = 64 or 128), f32 accumulation, non-causal, scale 1/sqrt(D).
// Semantics match vs_dense_attention_cpu and vs_block_sparse_attention_cpu (kernels/cpu/svg2_cpu.h).
// Every launcher is asynchronous on `stream`, never synchronises the host and never allocates,
// so a call can be captured in a CUDA graph. Returns 0, or -1 with vs_last_error() set.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "runtime/vs_tensor.h"  // vs_bf16: bf16 bits (uint16_t); __nv_bfloat16 inside the kernels

#ifdef __cplusplus
extern "C" {
#endif

typedef struct CUstream_st *vs_cuda_stream;

// Where element (head h, row i, column c) of a tensor lies: h * head + i * row + c elements from
// its base. Contiguous [H, L, D]: {L * D, D}; token-major [L, H, D]: {D, H * D}. Both strides
// are multiples of 8 (16-byte rows).
typedef struct {
    size_t head;
    int row;
} vs_attention_layout;

// Whether the kernels can move the rows of `layout` in 16-byte pieces (row >= 0, both strides
// multiples of 8 elements).
int vs_attention_layout_ok(vs_attention_layout layout);

// o = softmax(q k^T * scale) v per head for Lq query rows and Lk key rows (Lk != Lq for
// cross-attention; Lk == 0 gives zeros), each tensor in its own layout, so the model's
// token-major activations need no transposition.
int vs_cuda_attention(const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v, vs_bf16 *o, int H,
                      int Lq, int Lk, int D, vs_attention_layout q_layout,
                      vs_attention_layout kv_layout, vs_attention_layout o_layout, float scale,
                      vs_cuda_stream stream);

// o = softmax(q k^T / sqrt(D)) v per head. q, k, v, o: device [H, S, D] bf16.
int vs_cuda_dense_attention(const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v,
                            vs_bf16 *o, int H, int S, int D, vs_cuda_stream stream);

// Bytes of device workspace vs_cuda_sparse_attention needs for these shapes (any D).
size_t vs_cuda_sparse_attention_workspace_bytes(int H, int S, int C_q, int C_k);

// Variable-block sparse attention on tensors already permuted into cluster order.
// q_offsets [H, C_q + 1], k_offsets [H, C_k + 1]: int32 cluster starts (offsets[h, C] == S);
// mask [H, C_q, C_k] uint8 (1 = block computed). All device pointers. Query rows of cluster i
// attend to the concatenated rows of every selected key cluster; rows with no key get zeros.
// The key lists and the tile schedule are planned on the GPU inside `workspace`.
int vs_cuda_sparse_attention(const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v,
                             vs_bf16 *o, int H, int S, int D, const int32_t *q_offsets,
                             const int32_t *k_offsets, const uint8_t *mask, int C_q, int C_k,
                             void *workspace, vs_cuda_stream stream);

// Timing on random inputs: median milliseconds over `reps` CUDA-event-timed runs after warm-up.
// Clusters are random sizes around S / C; each mask block is kept with probability `keep`
// (seeded by `seed`). density: the exact computed fraction of the S x S score matrix.
typedef struct {
    double dense_ms, sparse_ms;
    double dense_tflops;   // 4 S^2 D H / dense time
    double sparse_tflops;  // 4 S^2 D H * density / sparse time (FLOPs actually computed)
    double density;
} vs_cuda_attention_timing;

int vs_cuda_attention_bench(int H, int S, int D, int C_q, int C_k, double keep, int reps,
                            uint64_t seed, vs_cuda_attention_timing *out);

#ifdef __cplusplus
}
#endif
