// Glue between the VAE decoder's frame callback and the video writer, and the latents reader.
#include "runtime/wan_vae_video.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_check.h"
#include "runtime/vs_log.h"
#include "runtime/vs_safetensors.h"
#include "runtime/wan_vae_cuda.h"

typedef struct {
    vs_video_writer *writer;
} emit_ctx;

static int emit_frames(void *user, const float *frames, int first, int n, int h, int w) {
    emit_ctx *e = user;
    for (int i = 0; i < n; i++)
        if (vs_video_write_frame(e->writer, frames + (size_t)i * 3 * h * w) != 0) return -1;
    VS_DEBUG("decode: frames %d..%d written", first, first + n - 1);
    return 0;
}

vs_device vs_wan_vae_default_device(void) { return vs_wan_vae_gpu_available() ? VS_DEV_CUDA : VS_DEV_CPU; }

int vs_wan_vae_parse_device(const char *s, vs_device *out) {
    if (!strcmp(s, "cpu")) *out = VS_DEV_CPU;
    else if (!strcmp(s, "cuda")) *out = VS_DEV_CUDA;
    else return -1;
    return 0;
}

int vs_wan_vae_decode_to_video(const vs_wan_vae *vae, vs_device device, const float *z, int t, int h, int w,
                               const char *path, const vs_video_options *opts,
                               char *written, size_t written_len, vs_wan_vae_stats *stats) {
    const int s = vs_wan_vae_spatial_factor(vae);
    emit_ctx e = {0};
    if (vs_video_open(&e.writer, path, s * w, s * h, opts) != 0) return -1;
    if (written) snprintf(written, written_len, "%s", vs_video_path(e.writer));
    vs_wan_vae_stats st;
    int rc;
    if (device == VS_DEV_CUDA) {
        vs_wan_vae_gpu *g;
        rc = vs_wan_vae_gpu_create(&g, vae, VS_WAN_VAE_GPU_PRECISION);
        if (rc == 0) rc = vs_wan_vae_gpu_decode(g, z, t, h, w, 1, emit_frames, &e, &st);
        vs_wan_vae_gpu_destroy(g);
    } else {
        rc = vs_wan_vae_decode(vae, z, t, h, w, 1, emit_frames, &e, &st);
    }
    char codec[64];
    snprintf(codec, sizeof codec, "%s", vs_video_codec(e.writer));
    const int frames = vs_video_frames(e.writer);
    char out[1024];
    snprintf(out, sizeof out, "%s", vs_video_path(e.writer));
    // Closed even after a failure: the frames written so far stay playable.
    if (vs_video_close(e.writer) != 0) rc = -1;
    if (rc == 0) {
        VS_INFO("decode: latents [%d, %d, %d, %d] -> %d frames %dx%d on %s in %.2f s (%d chunks, %.2f s/frame); "
                "peak working memory %.1f MiB (activations + conv caches%s; weights %.1f MiB) -> %s (%s)",
                vae->cfg.z_dim, t, h, w, frames, st.width, st.height, device == VS_DEV_CUDA ? "cuda" : "cpu",
                st.seconds, st.chunks, st.seconds / (frames ? frames : 1), st.peak_bytes / 1048576.0,
                device == VS_DEV_CUDA ? " + im2col/score buffers" : "", st.weight_bytes / 1048576.0, out, codec);
        if (stats) *stats = st;
    }
    return rc;
}

int vs_latents_read(const char *path, float **z, int *c, int *t, int *h, int *w) {
    *z = NULL;
    vs_st_file f;
    if (vs_st_open(&f, path) != 0) return -1;
    const vs_st_entry *e = vs_st_find(&f, "latents");
    if (!e && f.n_entries == 1) e = &f.entries[0];
    int rc = 0;
    if (!e) rc = VS_FAIL("%s: no tensor \"latents\" (and more than one tensor to choose from)", path);
    else {
        const int off = e->ndim == 5 ? 1 : 0;
        if (!(e->ndim == 4 || (e->ndim == 5 && e->shape[0] == 1))) {
            char s[96];
            rc = VS_FAIL("%s: \"%s\" has shape %s; expected [C, T, H, W] or [1, C, T, H, W]", path, e->name,
                         vs_shape_str(e->ndim, e->shape, s, sizeof s));
        } else {
            *c = (int)e->shape[off];
            *t = (int)e->shape[off + 1];
            *h = (int)e->shape[off + 2];
            *w = (int)e->shape[off + 3];
            if (*c < 1 || *t < 1 || *h < 1 || *w < 1) rc = VS_FAIL("%s: \"%s\" is empty", path, e->name);
            else {
                *z = vs_malloc((size_t)vs_st_numel(e) * sizeof(float));
                rc = vs_st_read_f32(&f, e, *z);
                if (rc) {
                    free(*z);
                    *z = NULL;
                }
            }
        }
    }
    vs_st_close(&f);
    return rc;
}
