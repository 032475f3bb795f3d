// How the model hands self-attention to whoever runs it.
//
// The Wan forward pass computes Q, K, V for its own tokens and calls the hook; the hook decides
// everything else: dense or SVG2 (the attention policy, runtime/vs_attention_policy.h), and, in
// a multi-rank job, the Ulysses all-to-all that trades the token shard for whole heads over the
// full sequence and back (parallel/). The model knows nothing of either.
#pragma once
#include "runtime/vs_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    void *ctx;
    // q, k, v: [n_local, num_heads, head_dim] (token-major, as the QKV projection writes them,
    // after q/k RMSNorm and RoPE); out: [n_local, num_heads * head_dim]. All on the model's
    // device, f32 on the CPU, bf16 on CUDA. `layer` indexes the transformer block.
    void (*self_attention)(void *ctx, int layer, const vs_tensor *q, const vs_tensor *k,
                           const vs_tensor *v, vs_tensor *out);
} vs_attention_hook;

#ifdef __cplusplus
}
#endif
