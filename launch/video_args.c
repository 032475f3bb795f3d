#include "launch/video_args.h"

#include <stdio.h>
#include <string.h>

#include "launch/args.h"

static int ends_with_ci(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    if (n < m) return 0;
    for (size_t i = 0; i < m; i++) {
        char c = s[n - m + i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != suffix[i]) return 0;
    }
    return 1;
}

vs_output_kind vs_output_kind_of(const char *path) {
    if (ends_with_ci(path, ".safetensors")) return VS_OUT_LATENTS;
    static const char *const video[] = {".mp4", ".mkv", ".mov", ".y4m"};
    for (size_t i = 0; i < sizeof video / sizeof video[0]; i++)
        if (ends_with_ci(path, video[i])) return VS_OUT_VIDEO;
    return VS_OUT_UNKNOWN;
}

const char *vs_default_vae(const char *model, char *buf, size_t len) {
    if (!model) return NULL;
    if (!strcmp(model, "tiny")) return "tiny";
    snprintf(buf, len, "%s/vae", model);
    return vs_is_dir(buf) ? buf : NULL;
}

const char *vs_output_dir_problem(const char *path) {
    static char msg[4200];
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return NULL;
    *slash = '\0';
    if (!dir[0] || vs_is_dir(dir)) return NULL;
    snprintf(msg, sizeof msg, "the output folder '%s' does not exist", dir);
    return msg;
}

const char *const vs_video_option_help =
    "  --vae DIR|tiny         Wan 2.1 VAE: a diffusers AutoencoderKLWan folder (vae/ of a diffusers\n"
    "                         model, or a .safetensors file), or the built-in random tiny VAE; an\n"
    "                         official Wan2.1_VAE.pth: convert once with tools/convert_wan_vae.py\n"
    "  --fps N                frame rate of the video (default 16, Wan's native rate)\n"
    "  --crf N                H.264 quality, 0..51, lower is better (default 18)\n";
