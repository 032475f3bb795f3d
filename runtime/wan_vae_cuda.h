// The Wan 2.1 VAE decoder on one GPU: the same frame-causal, chunked computation as the CPU
// decoder (runtime/wan_vae.h), on the ops of kernels/cuda/vae_cuda.h.
//
// Weights go to the device once (vs_wan_vae_gpu_create). Activations and the latent staging come
// from a pool of exact-size blocks owned by the decoder object, the conv caches from 2 buffers per
// causal conv beside it: buffers are cudaMalloc'ed the first time they are needed and reused
// afterwards, so after the first three latent frames (frame 0 takes the time-conv bypass, frame 1
// the full path, frame 2 fills the time convs' second cache frame) a decode allocates nothing, and
// a second decode of the same frame size allocates nothing at all. Both are kept until destroy.
//
// In a build without CUDA every function fails with a message (vs_wan_vae_gpu_available is 0).
#pragma once
#include <stddef.h>

#include "runtime/wan_vae.h"

#ifdef __cplusplus
extern "C" {
#endif

// The convolution precision `vidsparse decode` and `generate` use (0 = bf16, 1 = TF32): TF32,
// because bf16 lands at 1.9e-2 relative L2 against diffusers on the base-8 real-layout fixture,
// too close to the 2e-2 bar (TF32: 1.6e-3), for 20% less time (docs/video.md).
#define VS_WAN_VAE_GPU_PRECISION 1

// 1 in a CUDA build with a visible GPU, else 0.
int vs_wan_vae_gpu_available(void);

typedef struct vs_wan_vae_gpu vs_wan_vae_gpu;

// Uploads vae's weights with the convolutions in `precision` (0 = bf16, 1 = TF32, 2 = f32; see
// kernels/cuda/vae_cuda.h). The host model may be freed afterwards. 0 or -1 (vs_last_error).
int vs_wan_vae_gpu_create(vs_wan_vae_gpu **out, const vs_wan_vae *vae, int precision);
void vs_wan_vae_gpu_destroy(vs_wan_vae_gpu *g);

// vs_wan_vae_decode on the GPU: z is host memory [z_dim, T, H, W]; emit receives host frames
// (NULL: frames stay on the device and are dropped, for benchmarks). stats->peak_bytes is the
// decoder's device working memory (pool + im2col and score buffers), stats->weight_bytes the
// device weights.
int vs_wan_vae_gpu_decode(vs_wan_vae_gpu *g, const float *z, int t, int h, int w, int chunk,
                          vs_vae_emit_fn emit, void *user, vs_wan_vae_stats *stats);

typedef struct {
    size_t pool_bytes;       // device pool (activations, latents) + conv caches
    size_t scratch_bytes;    // im2col + attention scores
    size_t weight_bytes;
    size_t device_used;      // cudaMemGetInfo: device memory in use now minus before create
    int pool_mallocs;        // cudaMalloc calls of the pool since create
    double gemm_flops;       // GEMM FLOPs of the last decode
    void *stream;            // the cudaStream_t every op runs on (for event timing)
} vs_wan_vae_gpu_info;
void vs_wan_vae_gpu_get_info(const vs_wan_vae_gpu *g, vs_wan_vae_gpu_info *info);

// Decodes to the host video [3, F, 8H, 8W] (vs_wan_vae_decode_all on the GPU).
int vs_wan_vae_gpu_decode_all(vs_wan_vae_gpu *g, const float *z, int t, int h, int w, int chunk, float *video,
                              vs_wan_vae_stats *stats);

#ifdef __cplusplus
}
#endif
