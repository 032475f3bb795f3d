// Internal to kernels/cuda: the tile configurations of the attention kernels, selectable by
// index so the timing harness can compare them. Variant 0 is what the public launchers use.
#pragma once
#include "kernels/cuda/attention.h"

#ifdef __cplusplus
extern "C" {
#endif

// Number of configurations compiled for head dim D, and a short name for one. A variant may be
// compiled but not usable on the current device (the wgmma ones need sm_90a code on an sm_90
// GPU); the public launchers use the first usable one.
int vs_cuda_attention_variant_count(int D);
int vs_cuda_attention_variant_usable(int D, int variant);
int vs_cuda_attention_default_variant(int D);  // -1 for an unsupported D
const char *vs_cuda_attention_variant_name(int D, int variant);

int vs_cuda_attention_variant(int variant, const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v,
                              vs_bf16 *o, int H, int Lq, int Lk, int D,
                              vs_attention_layout q_layout, vs_attention_layout kv_layout,
                              vs_attention_layout o_layout, float scale, vs_cuda_stream stream);
int vs_cuda_dense_attention_variant(int variant, const vs_bf16 *q, const vs_bf16 *k,
                                    const vs_bf16 *v, vs_bf16 *o, int H, int S, int D,
                                    vs_cuda_stream stream);
int vs_cuda_sparse_attention_variant(int variant, const vs_bf16 *q, const vs_bf16 *k,
                                     const vs_bf16 *v, vs_bf16 *o, int H, int S, int D,
                                     const int32_t *q_offsets, const int32_t *k_offsets,
                                     const uint8_t *mask, int C_q, int C_k, void *workspace,
                                     vs_cuda_stream stream);
// q_spread: query cluster sizes proportional to weights uniform in [1 - q_spread, 1 + q_spread)
// (vs_cuda_attention_bench uses 0.5; 0 gives equal sizes).
int vs_cuda_attention_bench_variant(int variant, int H, int S, int D, int C_q, int C_k,
                                    double keep, double q_spread, int reps, uint64_t seed,
                                    vs_cuda_attention_timing *out);

#ifdef __cplusplus
}
#endif
