// Ulysses sequence parallelism: the token sequence is sharded over the ranks of a Ulysses group
// for the whole transformer, except inside self-attention, where one all-to-all trades the token
// shard for whole heads over the full sequence, and a second one trades back.
//
//   before:  q, k, v  [n_local, H, D]   token shard r of S (token-major, as the QKV GEMM writes)
//   a2a 1:   q, k, v packed into ONE exchange: to peer p go this rank's tokens of p's heads
//   middle:  qh, kh, vh [h_mine, S, D]   whole heads over the full sequence (head-major)
//   a2a 2:   oh [h_mine, S, D] -> out [n_local, H * D]
//
// Shards are contiguous and differ by at most one: the first S % P ranks own one token more
// (same rule for heads). Per-peer counts differ accordingly; no padding, no masking.
//
// Packing and unpacking are block lists of strided byte moves (kernels/cpu/copy_blocks.h), built
// once per group: on the GPU each of the four (pack and unpack, each way) is one kernel launch.
//
// Layout invariance: each head is attended whole on one rank, by the same per-head function a
// single rank uses, and the exchanges only move bytes; the result is bitwise identical for every
// group size. Nothing is ever summed across ranks.
#pragma once
#include <stdint.h>

#include "kernels/cpu/copy_blocks.h"
#include "parallel/vs_transport.h"
#include "runtime/vs_attention_hook.h"
#include "runtime/vs_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t start, count;
} vs_range;

// Part `index` of `n` items split over `parts`: contiguous, the first n % parts get one more.
vs_range vs_split_range(int64_t n, int parts, int index);

typedef struct {
    vs_transport *t;
    int P, me;  // group size, this rank
    int64_t S;  // full sequence length
    int H, D;   // heads, head dim
    size_t elem;  // bytes per element
    vs_dtype dtype;
    vs_range *tok, *head;  // [P] token and head ranges of every rank
    // Buffers in the transport's memory: packed send/recv, head-major Q/K/V/O for this rank.
    vs_tensor send, recv;      // packed exchange buffers (bytes, stored as i32 words)
    vs_tensor qh, kh, vh, oh;  // [h_mine, S, D]
    size_t *send_bytes, *send_offsets, *recv_bytes, *recv_offsets;  // [P] scratch
    vs_range *same;  // [P] scratch: one range repeated for every peer
    // The moves around the exchanges: [0] Q/K/V -> send, [1] recv -> qh/kh/vh (seq -> heads),
    // [2] oh -> send, [3] recv -> out (heads -> seq); and their device copies
    // (vs_copy_blocks_cuda[4]) when the transport's memory is CUDA.
    vs_copy_block *moves[4];
    int n_moves[4];
    void *moves_cuda;
} vs_ulysses;

// All buffers are sized here once, so a step allocates nothing.
vs_ulysses *vs_ulysses_new(vs_transport *t, int64_t seq_len, int num_heads, int head_dim, vs_dtype dtype);
void vs_ulysses_free(vs_ulysses *u);

vs_range vs_ulysses_my_tokens(const vs_ulysses *u);
vs_range vs_ulysses_my_heads(const vs_ulysses *u);

// q, k, v: [n_local, H, D] (transport memory) -> u->qh, u->kh, u->vh: [h_mine, S, D].
void vs_ulysses_seq_to_heads(vs_ulysses *u, const void *q, const void *k, const void *v);
// oh: [h_mine, S, D] -> out: [n_local, H * D].
void vs_ulysses_heads_to_seq(vs_ulysses *u, const void *oh, void *out);

// Whole-sequence rows from token shards: local [n_local, row_bytes] -> full [S, row_bytes] on
// every rank of the group (the velocity at the end of a forward pass).
void vs_ulysses_gather_tokens(vs_ulysses *u, const void *local, size_t row_bytes, void *full);

// Attention on whole heads: q, k, v, out [n_heads, S, D] for global heads head_begin ..
// head_begin + n_heads - 1 of transformer block `layer` (the attention policy's per-head entry
// point, adapted by the caller; it knows the CFG branch).
typedef void (*vs_head_attention_fn)(void *ctx, int layer, int head_begin, const vs_tensor *q,
                                     const vs_tensor *k, const vs_tensor *v, vs_tensor *out);

// The model's self-attention hook for a Ulysses group: exchange, per-head attention, exchange.
typedef struct {
    vs_ulysses *u;
    vs_head_attention_fn attend;
    void *attend_ctx;
} vs_ulysses_hook_ctx;
vs_attention_hook vs_ulysses_attention_hook(vs_ulysses_hook_ctx *ctx);

// CFG parallelism: this rank holds its branch's full velocity `mine` [n floats]; afterwards
// `both` [2, n] holds the conditional (both[0..n)) and unconditional (both[n..2n)) velocities on
// both ranks of the pair, so every rank then applies the same guidance formula in the same order
// (the caller's, shared with the single-rank path). `pair` is vs_groups.cfg (rank 0 =
// conditional). Both buffers in the transport's memory.
void vs_cfg_exchange(vs_transport *pair, const float *mine, int64_t n, float *both);

#ifdef __cplusplus
}
#endif
