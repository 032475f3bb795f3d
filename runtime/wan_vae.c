// Wan VAE decoder forward pass, frame-causal and chunked (spec §5.2–5.4).
//
// Activations are frame-major, [t][C][H][W]: each frame is a contiguous image, which is what the
// per-frame ops (norms, attention, spatial upsampling) want, and it makes the upsample3d time
// interleave free: the time conv's output frame τ, [2C][H][W], is exactly the two consecutive
// output frames 2τ and 2τ+1 of C channels.
//
// Every causal conv with k_t = 3 owns a cache of its last 2 input frames (zeros before the
// stream starts), visited in a fixed order per chunk; so decoding chunk by chunk is the same
// computation as one causal pass over the whole sequence. The upsample3d time conv skips the
// very first frame of its stream (the official 'Rep' marker): that frame is only upsampled
// spatially, and the time conv's stream starts at the second frame with zero history.
//
// Every working buffer goes through walloc/wfree, which count bytes, so the decode log can give
// the real peak working memory.
#include "runtime/wan_vae.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/vae_conv_cpu.h"
#include "kernels/cpu/vae_ops_cpu.h"
#include "runtime/vs_check.h"
#include "runtime/vs_log.h"

typedef struct {
    float *d;  // [t][c][h][w]
    int t, c, h, w;
} act;

typedef struct {
    float *frame[2];  // the last 2 input frames, older first; valid from index 2 - n
    int n;            // frames held (0..2); missing ones are the causal zero padding
    int started;      // upsample3d time conv: the stream's first frame has gone past
} conv_cache;

typedef struct {
    const vs_wan_vae *vae;
    conv_cache *caches;
    int n_caches, next;  // next: cache of the next causal conv in visiting order
    size_t cur, peak;    // tracked working bytes
} dec_state;

// ---------------------------------------------------------------------------- tracked memory

#define HDR 16  // keeps 16-byte alignment and holds the block size

static float *walloc(dec_state *s, int64_t n) {
    size_t bytes = (size_t)n * sizeof(float);
    char *p = vs_malloc(bytes + HDR);
    memcpy(p, &bytes, sizeof bytes);
    s->cur += bytes;
    if (s->cur > s->peak) s->peak = s->cur;
    return (float *)(p + HDR);
}

static void wfree(dec_state *s, float *x) {
    if (!x) return;
    char *p = (char *)x - HDR;
    size_t bytes;
    memcpy(&bytes, p, sizeof bytes);
    s->cur -= bytes;
    free(p);
}

static act act_new(dec_state *s, int t, int c, int h, int w) {
    act a = {walloc(s, (int64_t)t * c * h * w), t, c, h, w};
    return a;
}

static int64_t frame_size(const act *a) { return (int64_t)a->c * a->h * a->w; }
static float *frame_at(const act *a, int i) { return a->d + (int64_t)i * frame_size(a); }

// ---------------------------------------------------------------------------- building blocks

static conv_cache *next_cache(dec_state *s) {
    VS_ASSERT(s->next < s->n_caches, "internal: the decoder visits more causal convs than it counted");
    return &s->caches[s->next++];
}

static void cache_push(dec_state *s, conv_cache *cc, const float *frame, int64_t size) {
    float *old = cc->frame[0];
    cc->frame[0] = cc->frame[1];
    if (!old) old = walloc(s, size);
    memcpy(old, frame, (size_t)size * sizeof(float));
    cc->frame[1] = old;
    if (cc->n < 2) cc->n++;
}

// Causal conv (k_t = 3) of the n input frames xf (each [cin, h, w]) behind the cache, into out
// [n][cout, h, w]; then the cache holds the stream's last 2 input frames.
static void cached_conv(dec_state *s, conv_cache *cc, const vs_vae_conv *cv, const float *const *xf,
                        int n, int h, int w, float *out) {
    VS_ASSERT(cv->kt == 3, "internal: a cached causal conv must have k_t = 3");
    const float **frames = vs_malloc((size_t)(n + 2) * sizeof *frames);
    frames[0] = cc->n >= 2 ? cc->frame[0] : NULL;
    frames[1] = cc->n >= 1 ? cc->frame[1] : NULL;
    for (int i = 0; i < n; i++) frames[2 + i] = xf[i];
    vs_causal_conv3d_f32(out, frames, n, cv->w, cv->b, cv->cin, cv->cout, h, w, cv->kt, cv->kh, cv->kw);
    free(frames);
    const int64_t size = (int64_t)cv->cin * h * w;
    for (int i = n < 2 ? 0 : n - 2; i < n; i++) cache_push(s, cc, xf[i], size);
}

// The next cached conv over all frames of x; returns a new activation (x is kept).
static act conv_step(dec_state *s, const vs_vae_conv *cv, const act *x) {
    act y = act_new(s, x->t, cv->cout, x->h, x->w);
    const float **xf = vs_malloc((size_t)x->t * sizeof *xf);
    for (int i = 0; i < x->t; i++) xf[i] = frame_at(x, i);
    cached_conv(s, next_cache(s), cv, xf, x->t, x->h, x->w, y.d);
    free(xf);
    return y;
}

// Per-frame 1×1 (×1) conv: post_quant_conv, conv_shortcut, to_qkv, proj.
static act pointwise(dec_state *s, const vs_vae_conv *cv, const act *x) {
    act y = act_new(s, x->t, cv->cout, x->h, x->w);
    for (int i = 0; i < x->t; i++)
        vs_conv2d_f32(frame_at(&y, i), frame_at(x, i), cv->w, cv->b, cv->cin, cv->cout, x->h, x->w, 1);
    return y;
}

static void norm_silu(act *x, const float *gamma) {
    for (int i = 0; i < x->t; i++) vs_rms_norm_channels_f32(frame_at(x, i), gamma, x->c, (int64_t)x->h * x->w);
    vs_silu_f32(x->d, (int64_t)x->t * frame_size(x));
}

// x + shortcut(x) path of a residual block; consumes x.
static act resblock(dec_state *s, const vs_vae_resblock *r, act x) {
    act h, a;
    if (r->shortcut.w) {
        h = pointwise(s, &r->shortcut, &x);
        a = x;  // x is not needed any more: normalise it in place
    } else {
        h = x;
        a = act_new(s, x.t, x.c, x.h, x.w);
        memcpy(a.d, x.d, (size_t)(x.t * frame_size(&x)) * sizeof(float));
    }
    norm_silu(&a, r->gamma1);
    act b = conv_step(s, &r->conv1, &a);
    wfree(s, a.d);
    norm_silu(&b, r->gamma2);
    act c = conv_step(s, &r->conv2, &b);
    wfree(s, b.d);
    const int64_t n = (int64_t)c.t * frame_size(&c);
    for (int64_t i = 0; i < n; i++) c.d[i] += h.d[i];
    wfree(s, h.d);
    return c;
}

// Single-head attention within each frame, plus the identity; in place on x.
static void attention(dec_state *s, const vs_vae_attn *at, act *x) {
    const int c = x->c;
    const int64_t n = (int64_t)x->h * x->w;
    float *xn = walloc(s, c * n), *qkv = walloc(s, 3 * c * n), *o = walloc(s, c * n), *p = walloc(s, c * n);
    float *scratch = walloc(s, vs_attention_scratch_floats(c, n));
    for (int i = 0; i < x->t; i++) {
        float *f = frame_at(x, i);
        memcpy(xn, f, (size_t)(c * n) * sizeof(float));
        vs_rms_norm_channels_f32(xn, at->gamma, c, n);
        vs_conv2d_f32(qkv, xn, at->to_qkv.w, at->to_qkv.b, c, 3 * c, x->h, x->w, 1);
        vs_attention_single_head_f32(o, qkv, c, n, scratch);
        vs_conv2d_f32(p, o, at->proj.w, at->proj.b, c, c, x->h, x->w, 1);
        for (int64_t j = 0; j < c * n; j++) f[j] += p[j];
    }
    wfree(s, scratch);
    wfree(s, p);
    wfree(s, o);
    wfree(s, qkv);
    wfree(s, xn);
}

// upsample3d time conv: C -> 2C channels, read as 2 frames of C each; the stream's first frame
// bypasses it. Consumes x; returns (bypass ? 1 : 0) + 2·(frames through the conv) frames.
static act time_upsample(dec_state *s, const vs_vae_conv *tc, act x) {
    conv_cache *cc = next_cache(s);
    const int bypass = !cc->started;
    cc->started = 1;
    const int n_conv = x.t - bypass;
    act y = act_new(s, bypass + 2 * n_conv, x.c, x.h, x.w);
    if (bypass) memcpy(y.d, x.d, (size_t)frame_size(&x) * sizeof(float));
    if (n_conv > 0) {
        const float **xf = vs_malloc((size_t)n_conv * sizeof *xf);
        for (int i = 0; i < n_conv; i++) xf[i] = frame_at(&x, bypass + i);
        cached_conv(s, cc, tc, xf, n_conv, x.h, x.w, frame_at(&y, bypass));
        free(xf);
    }
    wfree(s, x.d);
    return y;
}

// Nearest ×2 then Conv2d 3×3 (C -> C/2), per frame; consumes x.
static act spatial_upsample(dec_state *s, const vs_vae_conv *rs, act x) {
    act y = act_new(s, x.t, rs->cout, 2 * x.h, 2 * x.w);
    float *up = walloc(s, (int64_t)x.c * y.h * y.w);
    for (int i = 0; i < x.t; i++) {
        vs_upsample_nearest2x_f32(up, frame_at(&x, i), x.c, x.h, x.w);
        vs_conv2d_f32(frame_at(&y, i), up, rs->w, rs->b, rs->cin, rs->cout, y.h, y.w, rs->kh);
    }
    wfree(s, up);
    wfree(s, x.d);
    return y;
}

// One chunk through the decoder: x = post-quant latents [t][z][h][w] (consumed) -> RGB frames.
static act decode_chunk(dec_state *s, act x) {
    const vs_wan_vae *v = s->vae;
    s->next = 0;
    act y = conv_step(s, &v->conv_in, &x);
    wfree(s, x.d);
    y = resblock(s, &v->mid_res[0], y);
    attention(s, &v->mid_attn, &y);
    y = resblock(s, &v->mid_res[1], y);
    for (int i = 0; i < v->cfg.n_stages; i++) {
        const vs_vae_stage *st = &v->stages[i];
        for (int r = 0; r < st->n_res; r++) y = resblock(s, &st->res[r], y);
        if (st->upsample == 3) y = time_upsample(s, &st->time_conv, y);
        if (st->upsample) y = spatial_upsample(s, &st->resample, y);
    }
    norm_silu(&y, v->norm_out);
    act out = conv_step(s, &v->conv_out, &y);
    wfree(s, y.d);
    VS_ASSERT(s->next == s->n_caches, "internal: the decoder visited fewer causal convs than it counted");
    return out;
}

int vs_wan_vae_decode(const vs_wan_vae *vae, const float *z, int t, int h, int w, int chunk,
                      vs_vae_emit_fn emit, void *user, vs_wan_vae_stats *stats) {
    if (t < 1 || h < 1 || w < 1)
        return VS_FAIL("VAE decode: latent shape [%d, %d, %d, %d] is empty; expected [z, T>=1, H>=1, W>=1]",
                       vae->cfg.z_dim, t, h, w);
    if (chunk < 1) chunk = 1;
    if (chunk > t) chunk = t;
    const double t0 = vs_now_seconds();
    dec_state s = {.vae = vae, .n_caches = vae->n_cached_convs};
    s.caches = vs_calloc((size_t)s.n_caches, sizeof *s.caches);
    const int zc = vae->cfg.z_dim;
    const int64_t plane = (int64_t)h * w;
    int produced = 0, chunks = 0, rc = 0, out_h = 0, out_w = 0;
    for (int c0 = 0; c0 < t && rc == 0; c0 += chunk, chunks++) {
        const int n = chunk < t - c0 ? chunk : t - c0;
        // z_raw = z·std + mean, gathered from [z, T, H, W] into frames [n][z][h][w].
        act zr = act_new(&s, n, zc, h, w);
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < zc; ch++) {
                const float *src = z + ((int64_t)ch * t + c0 + i) * plane;
                float *dst = frame_at(&zr, i) + ch * plane;
                const float sd = vae->cfg.latents_std[ch], mu = vae->cfg.latents_mean[ch];
                for (int64_t p = 0; p < plane; p++) dst[p] = src[p] * sd + mu;
            }
        act pq = pointwise(&s, &vae->post_quant, &zr);
        wfree(&s, zr.d);
        act out = decode_chunk(&s, pq);
        const int64_t n_out = (int64_t)out.t * frame_size(&out);
        for (int64_t i = 0; i < n_out; i++) out.d[i] = out.d[i] < -1.0f ? -1.0f : out.d[i] > 1.0f ? 1.0f : out.d[i];
        out_h = out.h;
        out_w = out.w;
        if (emit && emit(user, out.d, produced, out.t, out.h, out.w) != 0) {
            char why[512];  // vs_fail writes the buffer vs_last_error() points into
            snprintf(why, sizeof why, "%s", vs_last_error());
            rc = VS_FAIL("VAE decode: writing frames %d..%d failed: %s", produced, produced + out.t - 1, why);
        }
        produced += out.t;
        wfree(&s, out.d);
    }
    for (int i = 0; i < s.n_caches; i++) {
        wfree(&s, s.caches[i].frame[0]);
        wfree(&s, s.caches[i].frame[1]);
    }
    free(s.caches);
    if (stats) {
        stats->frames = produced;
        stats->height = out_h;
        stats->width = out_w;
        stats->chunks = chunks;
        stats->peak_bytes = s.peak;
        stats->weight_bytes = (size_t)vae->n_params * sizeof(float);
        stats->seconds = vs_now_seconds() - t0;
    }
    return rc;
}

int vs_wan_vae_frames_out(const vs_wan_vae *vae, int t_latent) {
    int factor = 1;
    for (int i = 0; i < vae->cfg.n_stages; i++)
        if (vae->stages[i].upsample == 3) factor *= 2;
    return t_latent > 0 ? 1 + factor * (t_latent - 1) : 0;
}

int vs_wan_vae_spatial_factor(const vs_wan_vae *vae) {
    int factor = 1;
    for (int i = 0; i < vae->cfg.n_stages; i++)
        if (vae->stages[i].upsample) factor *= 2;
    return factor;
}

int vs_vae_collect_frames(void *collector, const float *frames, int first, int n, int h, int w) {
    vs_vae_collector *c = collector;
    VS_ASSERT(first + n <= c->frames, "internal: the decoder produced more frames than expected");
    const int64_t plane = (int64_t)h * w;
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < 3; ch++)
            memcpy(c->video + ((int64_t)ch * c->frames + first + i) * plane, frames + ((int64_t)i * 3 + ch) * plane,
                   (size_t)plane * sizeof(float));
    return 0;
}

int vs_wan_vae_decode_all(const vs_wan_vae *vae, const float *z, int t, int h, int w, int chunk,
                          float *video, vs_wan_vae_stats *stats) {
    vs_vae_collector c = {video, vs_wan_vae_frames_out(vae, t)};
    return vs_wan_vae_decode(vae, z, t, h, w, chunk, vs_vae_collect_frames, &c, stats);
}
