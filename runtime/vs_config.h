// JSON configuration: model configs (Wan official config.json, diffusers transformer/config.json,
// or ours in configs/) and SVG2 presets. Read with cJSON; every missing or mistyped field gives a
// message naming the file and the field (configs/README.md lists the fields).
// Model configs ignore unknown keys (downloads carry extra ones); presets reject them, except
// keys starting with '_' (comments), so a typo cannot silently fall back to a default.
#pragma once
#include "runtime/vs_svg2_params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char model_type[16];  // "t2v"; "i2v" and "flf2v" pass the checks (the model decides support)
    int dim;              // D, model width
    int ffn_dim;
    int freq_dim;         // sinusoidal time-embedding width (256)
    int num_heads;
    int num_layers;
    int in_dim;           // latent channels in (16)
    int out_dim;          // latent channels out (16)
    int text_len;         // context rows after zero-padding (512)
    int text_dim;         // umT5 width (4096)
    float eps;            // LayerNorm / RMSNorm epsilon (1e-6)
    int patch[3];         // (t, h, w) = (1, 2, 2)
    int qk_norm;          // 1
    int cross_attn_norm;  // 1
} vs_wan_config;

// Defaults the official config.json omits: patch (1,2,2), qk_norm, cross_attn_norm, text_dim 4096,
// freq_dim 256, text_len 512, eps 1e-6, model_type t2v.
void vs_wan_config_defaults(vs_wan_config *c);
// Reads the official (dim, num_heads, ...) or the diffusers (num_attention_heads,
// attention_head_dim, in_channels, ...) field names, on top of the defaults; where both name a
// value they must agree. Required: dim, num_heads, ffn_dim, num_layers, in_dim, out_dim (or their
// diffusers forms). Then checks the values as vs_wan_config_check does.
int vs_wan_config_load(vs_wan_config *c, const char *path);
// Sizes positive and sane, num_heads divides dim, head_dim even and >= 6 (3D RoPE split),
// freq_dim even, 0 < eps < 1, patch in [1, 16], known model_type.
int vs_wan_config_check(const vs_wan_config *c);

typedef struct {
    vs_svg2_params params;
    float dense_step_fraction;  // first floor(f * steps) denoising steps run dense (0.2)
    int dense_layers;           // the first dense_layers blocks always run dense (1)
} vs_svg2_preset;

// configs/svg2-*.json: {"C_q", "C_k", "top_p", "min_kc_ratio", "kmeans_iters_cold",
// "kmeans_iters_warm", "kmeans_tol", "seed", "dense_step_fraction", "dense_layers"}. Absent fields
// take vs_svg2_default_params() (and 0.2, 1); out-of-range values are errors naming the field.
int vs_svg2_preset_load(vs_svg2_preset *p, const char *path);

#ifdef __cplusplus
}
#endif
