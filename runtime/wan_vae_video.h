// Latents -> video file in one streaming pass: the VAE decoder emits frames chunk by chunk and
// each goes straight to the video writer, so neither the decoded video nor the activations of
// more than one latent frame are ever held in memory.
#pragma once
#include "runtime/vs_tensor.h"
#include "runtime/vs_video.h"
#include "runtime/wan_vae.h"

#ifdef __cplusplus
extern "C" {
#endif

// z [z_dim, T, H, W] normalised latents -> `path` (see vs_video.h for formats), decoded on
// `device` (VS_DEV_CUDA: runtime/wan_vae_cuda.h, weights uploaded for this call). written (may be
// NULL) receives the file actually written (<stem>.y4m in a build without FFmpeg). Logs one line
// with frames, size, codec, time and the decoder's peak working memory.
int vs_wan_vae_decode_to_video(const vs_wan_vae *vae, vs_device device, const float *z, int t, int h, int w,
                               const char *path, const vs_video_options *opts,
                               char *written, size_t written_len, vs_wan_vae_stats *stats);

// Reads latents from a safetensors file: the tensor "latents" (or the file's only tensor),
// [C, T, H, W] or [1, C, T, H, W]. *z is malloc'ed. 0 or -1.
int vs_latents_read(const char *path, float **z, int *c, int *t, int *h, int *w);

// The decoder's device when none is asked for: CUDA in a CUDA build with a visible GPU, else CPU.
vs_device vs_wan_vae_default_device(void);
// "cpu" / "cuda" -> *out; -1 for anything else.
int vs_wan_vae_parse_device(const char *s, vs_device *out);

#ifdef __cplusplus
}
#endif
