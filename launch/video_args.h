// Command-line pieces shared by `vidsparse decode` and `vidsparse generate -o out.mp4`: what an
// output name asks for, where the VAE is by default, and the common option checks.
#pragma once
#include <stddef.h>

typedef enum { VS_OUT_UNKNOWN = 0, VS_OUT_LATENTS, VS_OUT_VIDEO } vs_output_kind;

// .safetensors -> latents; .mp4 .mkv .mov .y4m -> video.
vs_output_kind vs_output_kind_of(const char *path);

// The VAE to use when --vae is not given: "tiny" for the tiny model, MODEL/vae when it exists
// (the diffusers layout), else NULL (the caller asks for --vae).
const char *vs_default_vae(const char *model, char *buf, size_t len);

// NULL when `path`'s folder exists, else a static message naming it.
const char *vs_output_dir_problem(const char *path);

// "--vae DIR|tiny  ... " help lines for both commands.
extern const char *const vs_video_option_help;
