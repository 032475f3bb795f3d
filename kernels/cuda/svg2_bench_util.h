// Device-side helpers for `vidsparse bench attention`: planted-cluster inputs made on the GPU (no
// host round trip for gigabytes of tokens) and the relative error of one bf16 tensor to another.
#pragma once
#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

// q, k, v [H, S, D] bf16. Token s of head h belongs to planted cluster
// c = vs_uniform_index(seed, h * S + s, n_planted); centre_c ~ N(0, 1)^D per head;
// k = centre_c + noise * N(0, 1), q = q_scale * (centre_c + noise * N(0, 1)),
// v = vcentre_c + noise * N(0, 1) (a second set of centres). Q and K share the clusters, so each
// query cluster puts most of its attention on its own key clusters and a graded tail on the
// rest: the structure SVG2 exploits. V follows the clusters too, so the output is not a
// near-zero average of noise and the error against dense means something. q_scale sets how
// peaked the softmax is.
void vs_cuda_planted_qkv(uint16_t *q, uint16_t *k, uint16_t *v, int H, int S, int D,
                         int n_planted, float noise, float q_scale, uint64_t seed,
                         cudaStream_t stream);

// ||a - b|| / ||b|| over n bf16 values (double accumulation); synchronises the stream.
double vs_cuda_rel_l2_bf16(const uint16_t *a, const uint16_t *b, long n, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
