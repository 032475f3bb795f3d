// The CUDA path of the attention policy (runtime/vs_attention_policy_cuda.c): what
// vs_attention_policy_run and the single-process hook call for tensors on a GPU.
#pragma once
#include "runtime/vs_attention_policy.h"

#ifdef __cplusplus
extern "C" {
#endif

// As vs_attention_policy_run, for bf16 [heads, S, head_dim] tensors on the GPU: dense through
// kernels/cuda/attention.h, SVG2 through kernels/cuda/svg2_cuda.h with one centroid cache per
// (layer, branch). Dies in a build without CUDA.
void vs_attention_policy_run_cuda(vs_attention_policy *p, int layer, int branch,
                                  const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                                  vs_tensor *out);
// The same for the model's token-major q, k, v [n, heads, head_dim] and out [n, heads*head_dim]
// (n = the whole sequence): moved head-major into scratch on the GPU and back.
void vs_attention_policy_run_tokens_cuda(vs_attention_policy *p, int layer, int branch,
                                         const vs_tensor *q, const vs_tensor *k,
                                         const vs_tensor *v, vs_tensor *out);
// Mean SVG2 density of a layer over the CUDA calls so far (-1: never sparse). Synchronises.
double vs_attention_policy_cuda_mean_density(const vs_attention_policy *p, int layer);
void vs_attention_policy_free_cuda(vs_attention_policy *p);

#ifdef __cplusplus
}
#endif
