// The Wan 2.1 VAE decoder on the CPU, f32: normalised latents [16, T, H, W] -> video frames
// [3, 1 + 4(T-1), 8H, 8W] in [-1, 1].
//
// Decoding is frame-causal and chunked like the official code: latent frames go through the
// decoder `chunk` at a time (1 by default) and every causal Conv3d keeps a cache of its last 2
// input frames, so the working memory depends on the frame size, not on the frame count. The
// first latent frame bypasses both upsample3d time convs (it yields 1 video frame, every later
// latent frame 4). Any chunk size gives the same result (tests/test_vae_parity.c checks it).
//
// The channel layout (base_dim, dim_mult, num_res_blocks, temporal upsampling) is read from the
// tensor shapes, and checked against a diffusers config.json beside the weights when present, so
// the real model (96, [1,2,4,4], 2) and the small test models load through the same code.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VS_VAE_MAX_STAGES 6
#define VS_VAE_MAX_RES 8

typedef struct {
    int z_dim;                             // latent channels (16)
    int base_dim;                          // 96 (Wan 2.1), 3 (diffusers test model)
    int n_stages;                          // len(dim_mult) (4)
    int dim_mult[VS_VAE_MAX_STAGES];       // [1, 2, 4, 4]
    int num_res_blocks;                    // 2; each decoder stage has num_res_blocks + 1
    int temporal_upsample[VS_VAE_MAX_STAGES - 1];  // decoder order: [1, 1, 0]
    float latents_mean[16], latents_std[16];       // z_raw = z·std + mean (only z_dim used)
} vs_wan_vae_config;

// The diffusers test model (spec §8): base 3, z 16, dim_mult [1,1,1,1], num_res_blocks 1, with the
// Wan 2.1 mean/std. vs_wan_vae_config_wan21 gives the real model (96, [1,2,4,4], 2).
void vs_wan_vae_config_tiny(vs_wan_vae_config *c);
void vs_wan_vae_config_wan21(vs_wan_vae_config *c);

typedef struct {
    float *w, *b;                // w [cout, cin, kt, kh, kw]
    int cout, cin, kt, kh, kw;
} vs_vae_conv;

typedef struct {
    int cin, cout;
    float *gamma1, *gamma2;      // [cin], [cout]
    vs_vae_conv conv1, conv2;    // 3×3×3
    vs_vae_conv shortcut;        // 1×1×1 when cin != cout, else w == NULL
} vs_vae_resblock;

typedef struct {
    int c;
    float *gamma;                // [c]
    vs_vae_conv to_qkv, proj;    // 1×1 Conv2d: [3c, c], [c, c]
} vs_vae_attn;

typedef struct {
    int n_res;
    vs_vae_resblock res[VS_VAE_MAX_RES];
    int upsample;                // 0 none, 2 upsample2d, 3 upsample3d
    vs_vae_conv time_conv;       // upsample3d: [2c, c, 3, 1, 1]
    vs_vae_conv resample;        // Conv2d 3×3 c -> c/2 after nearest ×2
} vs_vae_stage;

typedef struct {
    vs_wan_vae_config cfg;
    vs_vae_conv post_quant;      // diffusers post_quant_conv (official conv2), 1×1×1
    vs_vae_conv conv_in;
    vs_vae_resblock mid_res[2];
    vs_vae_attn mid_attn;
    vs_vae_stage stages[VS_VAE_MAX_STAGES];
    float *norm_out;
    vs_vae_conv conv_out;
    float *params;               // one block holding every tensor above
    int64_t n_params;
    int n_cached_convs;          // causal convs with a temporal cache (k_t = 3)
} vs_wan_vae;

// Fills one named tensor (diffusers name, e.g. "decoder.conv_in.weight") of the given shape.
typedef int (*vs_vae_fill_fn)(void *ctx, const char *name, int ndim, const int64_t *shape, float *dst);

// Allocates a decoder of layout cfg and fills every tensor through fill. 0 or -1 (vs_last_error).
int vs_wan_vae_build(vs_wan_vae *vae, const vs_wan_vae_config *cfg, vs_vae_fill_fn fill, void *ctx);
// Deterministic random weights (Philox, seed) of layout cfg: weights N(0, 1/fan_in), biases and
// norm gains near 0 and 1. For `--model tiny` and smoke tests.
int vs_wan_vae_init_random(vs_wan_vae *vae, const vs_wan_vae_config *cfg, uint64_t seed);
// Loads diffusers AutoencoderKLWan weights: `path` is a .safetensors file or a directory holding
// diffusion_pytorch_model.safetensors (optionally with config.json), or a model root with vae/.
// Official Wan2.1_VAE.pth files go through tools/convert_wan_vae.py first.
int vs_wan_vae_load(vs_wan_vae *vae, const char *path);
// "tiny" -> the built-in random tiny model, anything else -> vs_wan_vae_load.
int vs_wan_vae_open(vs_wan_vae *vae, const char *path_or_tiny);
void vs_wan_vae_free(vs_wan_vae *vae);

// "base 96, dim_mult [1,2,4,4], 2 res blocks, z 16, temporal up [1,1,0]" into buf.
const char *vs_wan_vae_describe(const vs_wan_vae *vae, char *buf, size_t len);

// Video frames from t latent frames: 1 + 2^(temporal upsamplings)·(t - 1), i.e. 1 + 4(t - 1) for
// Wan 2.1 (21 -> 81). Spatial factor: 2^(upsampling stages) (8).
int vs_wan_vae_frames_out(const vs_wan_vae *vae, int t_latent);
int vs_wan_vae_spatial_factor(const vs_wan_vae *vae);

// Receives decoded frames as they are produced: frames [n][3, h, w] in [-1, 1] (clamped),
// first = index of frames[0] in the video. Returns 0, or -1 to stop decoding.
typedef int (*vs_vae_emit_fn)(void *user, const float *frames, int first, int n, int h, int w);

// An emit target that gathers every frame into video [3, frames, h, w] (the decode_all helpers
// of the CPU and the GPU decoder): pass vs_vae_collect_frames with a vs_vae_collector as user.
typedef struct {
    float *video;  // [3, frames, H, W]
    int frames;
} vs_vae_collector;
int vs_vae_collect_frames(void *collector, const float *frames, int first, int n, int h, int w);

typedef struct {
    int frames;                  // video frames produced
    int height, width;
    int chunks;
    size_t peak_bytes;           // peak working memory: activations + conv caches (weights excluded)
    size_t weight_bytes;
    double seconds;
} vs_wan_vae_stats;

// Decodes normalised latents z [z_dim, T, H, W] (the DiT's space; z_raw = z·std + mean is done
// here), `chunk` latent frames at a time (1 = the official schedule; T = one full-sequence pass).
// Frames go to emit in order. 0 or -1 with vs_last_error().
int vs_wan_vae_decode(const vs_wan_vae *vae, const float *z, int t, int h, int w, int chunk,
                      vs_vae_emit_fn emit, void *user, vs_wan_vae_stats *stats);
// Convenience: decodes into video [3, F, 8H, 8W] (F = vs_wan_vae_frames_out(vae, t)).
int vs_wan_vae_decode_all(const vs_wan_vae *vae, const float *z, int t, int h, int w, int chunk,
                          float *video, vs_wan_vae_stats *stats);

#ifdef __cplusplus
}
#endif
