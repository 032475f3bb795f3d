// Wan VAE decoder forward pass on the GPU. The structure is runtime/wan_vae.c step for step
// (frame-major activations, per-conv caches of the last 2 input frames visited in a fixed order,
// the upsample3d time conv skipping the stream's first frame), with three GPU-specific choices:
//  - a residual block's second conv accumulates straight into the shortcut buffer, and the
//    attention's proj into the activation, so there is no separate add pass (the GEMM's beta);
//  - upsample2d/3d read the low-resolution frame through a nearest x2 index inside im2col, so the
//    upsampled frame is never stored;
//  - every buffer comes from a size-keyed pool (see runtime/wan_vae_cuda.h).
#include "runtime/wan_vae_cuda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_check.h"
#include "runtime/vs_log.h"

#ifdef VS_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "kernels/cuda/vae_cuda.h"
#include "runtime/vs_cuda_check.h"

#define CUDA_CHECK(call) \
    VS_CUDA_CHECK_HINT(call, "check the GPU (nvidia-smi) and its free memory, or decode with --device cpu")

// The im2col buffer: large enough that the widest conv (K = 384·27) tiles a 480p frame in a few
// GEMMs of >= 6k positions, small next to the activations.
#define COL_BYTES ((size_t)256 << 20)

// ---------------------------------------------------------------------------- device pool

typedef struct {
    void *p;
    size_t bytes;
    int used;
} pool_block;

typedef struct {
    pool_block *b;
    int n, cap;
    size_t reserved;
    int mallocs;
} pool;

// The 2 frame buffers of one causal conv's cache, kept across decodes of the same frame size.
typedef struct {
    float *buf[2];
    size_t bytes;
} cache_slot;

typedef struct {
    vs_vae_conv_gpu conv1, conv2, shortcut;  // shortcut.w == NULL: identity
    float *gamma1, *gamma2;
} res_gpu;

typedef struct {
    int n_res, upsample;
    res_gpu res[VS_VAE_MAX_RES];
    vs_vae_conv_gpu time_conv, resample;
} stage_gpu;

struct vs_wan_vae_gpu {
    vs_wan_vae_config cfg;
    int n_cached_convs;
    vs_vae_cuda *ops;
    vs_vae_conv_gpu post_quant, conv_in, conv_out, to_qkv, proj;
    res_gpu mid_res[2];
    float *attn_gamma, *norm_out;
    stage_gpu stages[VS_VAE_MAX_STAGES];
    size_t weight_bytes, used_before;
    double flops_last;
    pool pool;               // activations and staging
    cache_slot *cache_slots; // [n_cached_convs]: conv caches, outside the pool
};

// A free block of exactly this size, else a new one. Exact sizes make the pool's growth a
// function of the peak number of live buffers of each size, which is the same for every latent
// frame after the first, so a decode stops allocating there (a best-fit pool could hand a block
// to another size and need a new one later). The conv caches live outside the pool (cache_slot):
// they are held for the whole decode, so taking them from the free list would withdraw blocks the
// activations of later frames expect.
static void *pool_get(pool *P, size_t bytes) {
    int best = -1;
    for (int i = 0; i < P->n && best < 0; i++)
        if (!P->b[i].used && P->b[i].bytes == bytes) best = i;
    if (best < 0) {
        if (P->n == P->cap) {
            P->cap = P->cap ? 2 * P->cap : 64;
            pool_block *nb = vs_calloc((size_t)P->cap, sizeof *nb);
            if (P->n) memcpy(nb, P->b, (size_t)P->n * sizeof *nb);
            free(P->b);
            P->b = nb;
        }
        void *p;
        CUDA_CHECK(cudaMalloc(&p, bytes));
        P->b[P->n] = (pool_block){p, bytes, 0};
        best = P->n++;
        P->reserved += bytes;
        P->mallocs++;
    }
    P->b[best].used = 1;
    return P->b[best].p;
}

// Work queued on the one stream before this call still reads the block; work queued after it
// that reuses the block runs later on the same stream, so giving it back at once is safe.
static void pool_put(pool *P, void *p) {
    if (!p) return;
    for (int i = 0; i < P->n; i++)
        if (P->b[i].p == p) {
            VS_ASSERT(P->b[i].used, "internal: a VAE pool block was given back twice");
            P->b[i].used = 0;
            return;
        }
    VS_ASSERT(0, "internal: a pointer given back to the VAE pool is not from it");
}

// ---------------------------------------------------------------------------- weights

static float *upload_f32(vs_wan_vae_gpu *g, const float *x, size_t n) {
    float *d;
    CUDA_CHECK(cudaMalloc((void **)&d, n * sizeof(float)));
    CUDA_CHECK(cudaMemcpy(d, x, n * sizeof(float), cudaMemcpyHostToDevice));
    g->weight_bytes += n * sizeof(float);
    return d;
}

static void upload_conv(vs_wan_vae_gpu *g, vs_vae_conv_gpu *d, const vs_vae_conv *c) {
    vs_vae_conv_gpu_upload(g->ops, d, c->w, c->b, c->cout, c->cin, c->kt, c->kh, c->kw);
    g->weight_bytes += vs_vae_conv_gpu_bytes(g->ops, d);
}

static void upload_res(vs_wan_vae_gpu *g, res_gpu *d, const vs_vae_resblock *r) {
    d->gamma1 = upload_f32(g, r->gamma1, (size_t)r->cin);
    d->gamma2 = upload_f32(g, r->gamma2, (size_t)r->cout);
    upload_conv(g, &d->conv1, &r->conv1);
    upload_conv(g, &d->conv2, &r->conv2);
    if (r->shortcut.w) upload_conv(g, &d->shortcut, &r->shortcut);
}

static void free_res(res_gpu *d) {
    CUDA_CHECK(cudaFree(d->gamma1));
    CUDA_CHECK(cudaFree(d->gamma2));
    vs_vae_conv_gpu_free(&d->conv1);
    vs_vae_conv_gpu_free(&d->conv2);
    vs_vae_conv_gpu_free(&d->shortcut);
}

int vs_wan_vae_gpu_available(void) {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

static size_t device_used(void) {
    size_t free_b, total_b;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    return total_b - free_b;
}

int vs_wan_vae_gpu_create(vs_wan_vae_gpu **out, const vs_wan_vae *vae, int precision) {
    *out = NULL;
    if (!vs_wan_vae_gpu_available())
        return VS_FAIL("VAE on CUDA: no CUDA GPU is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES, "
                       "or decode with --device cpu)");
    if (precision < VS_VAE_BF16 || precision > VS_VAE_F32)
        return VS_FAIL("VAE on CUDA: unknown convolution precision %d (0 bf16, 1 tf32, 2 f32)", precision);
    vs_wan_vae_gpu *g = vs_calloc(1, sizeof *g);
    g->used_before = device_used();
    g->cfg = vae->cfg;
    g->n_cached_convs = vae->n_cached_convs;
    g->ops = vs_vae_cuda_create((vs_vae_precision)precision, COL_BYTES);
    g->cache_slots = vs_calloc((size_t)g->n_cached_convs, sizeof *g->cache_slots);
    upload_conv(g, &g->post_quant, &vae->post_quant);
    upload_conv(g, &g->conv_in, &vae->conv_in);
    for (int i = 0; i < 2; i++) upload_res(g, &g->mid_res[i], &vae->mid_res[i]);
    g->attn_gamma = upload_f32(g, vae->mid_attn.gamma, (size_t)vae->mid_attn.c);
    upload_conv(g, &g->to_qkv, &vae->mid_attn.to_qkv);
    upload_conv(g, &g->proj, &vae->mid_attn.proj);
    for (int s = 0; s < vae->cfg.n_stages; s++) {
        const vs_vae_stage *st = &vae->stages[s];
        stage_gpu *d = &g->stages[s];
        d->n_res = st->n_res;
        d->upsample = st->upsample;
        for (int r = 0; r < st->n_res; r++) upload_res(g, &d->res[r], &st->res[r]);
        if (st->upsample == 3) upload_conv(g, &d->time_conv, &st->time_conv);
        if (st->upsample) upload_conv(g, &d->resample, &st->resample);
    }
    g->norm_out = upload_f32(g, vae->norm_out, (size_t)vae->conv_out.cin);
    upload_conv(g, &g->conv_out, &vae->conv_out);
    *out = g;
    return 0;
}

void vs_wan_vae_gpu_destroy(vs_wan_vae_gpu *g) {
    if (!g) return;
    vs_vae_cuda_destroy(g->ops);  // synchronises the stream first
    vs_vae_conv_gpu_free(&g->post_quant);
    vs_vae_conv_gpu_free(&g->conv_in);
    vs_vae_conv_gpu_free(&g->conv_out);
    vs_vae_conv_gpu_free(&g->to_qkv);
    vs_vae_conv_gpu_free(&g->proj);
    for (int i = 0; i < 2; i++) free_res(&g->mid_res[i]);
    CUDA_CHECK(cudaFree(g->attn_gamma));
    CUDA_CHECK(cudaFree(g->norm_out));
    for (int s = 0; s < g->cfg.n_stages; s++) {
        stage_gpu *d = &g->stages[s];
        for (int r = 0; r < d->n_res; r++) free_res(&d->res[r]);
        vs_vae_conv_gpu_free(&d->time_conv);
        vs_vae_conv_gpu_free(&d->resample);
    }
    for (int i = 0; i < g->pool.n; i++) CUDA_CHECK(cudaFree(g->pool.b[i].p));
    free(g->pool.b);
    for (int i = 0; i < g->n_cached_convs; i++) {
        CUDA_CHECK(cudaFree(g->cache_slots[i].buf[0]));
        CUDA_CHECK(cudaFree(g->cache_slots[i].buf[1]));
    }
    free(g->cache_slots);
    free(g);
}

void vs_wan_vae_gpu_get_info(const vs_wan_vae_gpu *g, vs_wan_vae_gpu_info *info) {
    info->pool_bytes = g->pool.reserved;
    info->scratch_bytes = vs_vae_cuda_scratch_bytes(g->ops);
    info->weight_bytes = g->weight_bytes;
    const size_t now = device_used();
    info->device_used = now > g->used_before ? now - g->used_before : 0;
    info->pool_mallocs = g->pool.mallocs;
    info->gemm_flops = g->flops_last;
    info->stream = vs_vae_cuda_stream(g->ops);
}

// ---------------------------------------------------------------------------- forward pass

typedef struct {
    float *d;  // device [t][c][h][w]
    int t, c, h, w;
} act;

typedef struct {
    float *frame[2];  // the last 2 input frames, older first; valid from index 2 - n
    int n, started;
} conv_cache;

typedef struct {
    vs_wan_vae_gpu *g;
    conv_cache *caches;
    int next;
} dec_state;

static act act_new(dec_state *s, int t, int c, int h, int w) {
    act a = {pool_get(&s->g->pool, (size_t)t * c * h * w * sizeof(float)), t, c, h, w};
    return a;
}

static void act_free(dec_state *s, act *a) {
    pool_put(&s->g->pool, a->d);
    a->d = NULL;
}

static int64_t frame_size(const act *a) { return (int64_t)a->c * a->h * a->w; }
static float *frame_at(const act *a, int i) { return a->d + (int64_t)i * frame_size(a); }
static cudaStream_t stream_of(dec_state *s) { return (cudaStream_t)vs_vae_cuda_stream(s->g->ops); }

static conv_cache *next_cache(dec_state *s) {
    VS_ASSERT(s->next < s->g->n_cached_convs, "internal: the decoder visits more causal convs than it counted");
    return &s->caches[s->next++];
}

// The slot buffer a cache holding cc->n (< 2) frames fills next: buf[0] first, then buf[1].
// Allocated on first use and kept for later decodes of the same frame size.
static float *cache_buffer(dec_state *s, conv_cache *cc, size_t bytes) {
    cache_slot *slot = &s->g->cache_slots[cc - s->caches];
    if (slot->bytes != bytes) {
        VS_ASSERT(cc->n == 0, "internal: a conv cache changed its frame size within a decode");
        for (int i = 0; i < 2; i++) {
            if (slot->buf[i]) {
                CUDA_CHECK(cudaFree(slot->buf[i]));
                s->g->pool.reserved -= slot->bytes;
            }
            slot->buf[i] = NULL;
        }
        slot->bytes = bytes;
    }
    float **b = &slot->buf[cc->n];
    if (!*b) {
        CUDA_CHECK(cudaMalloc((void **)b, bytes));
        s->g->pool.reserved += bytes;
        s->g->pool.mallocs++;
    }
    return *b;
}

static void cache_push(dec_state *s, conv_cache *cc, const float *frame, int64_t size) {
    float *old = cc->frame[0];
    cc->frame[0] = cc->frame[1];
    if (!old) old = cache_buffer(s, cc, (size_t)size * sizeof(float));
    CUDA_CHECK(cudaMemcpyAsync(old, frame, (size_t)size * sizeof(float), cudaMemcpyDeviceToDevice, stream_of(s)));
    cc->frame[1] = old;
    if (cc->n < 2) cc->n++;
}

// Causal conv (k_t = 3) of the n frames xf behind the cache into out [n][cout, h, w] (added to it
// when accumulate); then the cache holds the stream's last 2 input frames.
static void cached_conv(dec_state *s, conv_cache *cc, const vs_vae_conv_gpu *cv, const float *const *xf, int n,
                        int h, int w, float *out, int accumulate) {
    VS_ASSERT(cv->kt == 3, "internal: a cached causal conv must have k_t = 3");
    const int64_t out_size = (int64_t)cv->cout * h * w;
    for (int i = 0; i < n; i++) {
        // Input frames i-2, i-1, i of the stream: from the cache for i < 2.
        const float *fr[3];
        for (int j = 0; j < 3; j++) {
            const int src = i + j - 2;
            fr[j] = src >= 0 ? xf[src] : (cc->n >= -src ? cc->frame[2 + src] : NULL);
        }
        vs_vae_conv_frame_gpu(s->g->ops, cv, out + i * out_size, fr, h, w, 0, accumulate);
    }
    const int64_t size = (int64_t)cv->cin * h * w;
    for (int i = n < 2 ? 0 : n - 2; i < n; i++) cache_push(s, cc, xf[i], size);
}

// The next cached conv over all frames of x, into out (accumulate: added to it).
static void conv_step_into(dec_state *s, const vs_vae_conv_gpu *cv, const act *x, float *out, int accumulate) {
    const float **xf = vs_malloc((size_t)x->t * sizeof *xf);
    for (int i = 0; i < x->t; i++) xf[i] = frame_at(x, i);
    cached_conv(s, next_cache(s), cv, xf, x->t, x->h, x->w, out, accumulate);
    free(xf);
}

static act conv_step(dec_state *s, const vs_vae_conv_gpu *cv, const act *x) {
    act y = act_new(s, x->t, cv->cout, x->h, x->w);
    conv_step_into(s, cv, x, y.d, 0);
    return y;
}

// Per-frame 1×1 conv into out frames (accumulate: added to them).
static void pointwise_into(dec_state *s, const vs_vae_conv_gpu *cv, const act *x, float *out, int accumulate) {
    const int64_t out_size = (int64_t)cv->cout * x->h * x->w;
    for (int i = 0; i < x->t; i++) {
        const float *fr[1] = {frame_at(x, i)};
        vs_vae_conv_frame_gpu(s->g->ops, cv, out + i * out_size, fr, x->h, x->w, 0, accumulate);
    }
}

// x + shortcut(x); consumes x. The second conv adds into the shortcut's buffer.
static act resblock(dec_state *s, const res_gpu *r, act x) {
    act h, a;
    if (r->shortcut.w) {
        h = act_new(s, x.t, r->shortcut.cout, x.h, x.w);
        pointwise_into(s, &r->shortcut, &x, h.d, 0);
        a = x;  // x is not needed any more: normalise it in place
    } else {
        h = x;
        a = act_new(s, x.t, x.c, x.h, x.w);
    }
    vs_vae_rms_norm_gpu(s->g->ops, a.d, x.d, r->gamma1, x.t, x.c, (int64_t)x.h * x.w, 1);
    act b = conv_step(s, &r->conv1, &a);
    act_free(s, &a);
    vs_vae_rms_norm_gpu(s->g->ops, b.d, b.d, r->gamma2, b.t, b.c, (int64_t)b.h * b.w, 1);
    conv_step_into(s, &r->conv2, &b, h.d, 1);
    act_free(s, &b);
    return h;
}

// Single-head attention within each frame, plus the identity; in place on x.
static void attention(dec_state *s, act *x) {
    vs_wan_vae_gpu *g = s->g;
    const int c = x->c, n = x->h * x->w;
    act xn = act_new(s, 1, c, x->h, x->w), qkv = act_new(s, 1, 3 * c, x->h, x->w), o = act_new(s, 1, c, x->h, x->w);
    for (int i = 0; i < x->t; i++) {
        float *f = frame_at(x, i);
        vs_vae_rms_norm_gpu(g->ops, xn.d, f, g->attn_gamma, 1, c, n, 0);
        pointwise_into(s, &g->to_qkv, &xn, qkv.d, 0);
        vs_vae_attention_gpu(g->ops, o.d, qkv.d, c, n);
        pointwise_into(s, &g->proj, &o, f, 1);
    }
    act_free(s, &o);
    act_free(s, &qkv);
    act_free(s, &xn);
}

// upsample3d time conv (C -> 2C = two output frames of C); the stream's first frame bypasses it.
static act time_upsample(dec_state *s, const vs_vae_conv_gpu *tc, act x) {
    conv_cache *cc = next_cache(s);
    const int bypass = !cc->started;
    cc->started = 1;
    const int n_conv = x.t - bypass;
    act y = act_new(s, bypass + 2 * n_conv, x.c, x.h, x.w);
    if (bypass)
        CUDA_CHECK(cudaMemcpyAsync(y.d, x.d, (size_t)frame_size(&x) * sizeof(float), cudaMemcpyDeviceToDevice,
                                   stream_of(s)));
    if (n_conv > 0) {
        const float **xf = vs_malloc((size_t)n_conv * sizeof *xf);
        for (int i = 0; i < n_conv; i++) xf[i] = frame_at(&x, bypass + i);
        cached_conv(s, cc, tc, xf, n_conv, x.h, x.w, frame_at(&y, bypass), 0);
        free(xf);
    }
    act_free(s, &x);
    return y;
}

// Nearest ×2 (inside im2col) then Conv2d 3×3 (C -> C/2), per frame; consumes x.
static act spatial_upsample(dec_state *s, const vs_vae_conv_gpu *rs, act x) {
    act y = act_new(s, x.t, rs->cout, 2 * x.h, 2 * x.w);
    for (int i = 0; i < x.t; i++) {
        const float *fr[1] = {frame_at(&x, i)};
        vs_vae_conv_frame_gpu(s->g->ops, rs, frame_at(&y, i), fr, y.h, y.w, 1, 0);
    }
    act_free(s, &x);
    return y;
}

static act decode_chunk(dec_state *s, act x) {
    vs_wan_vae_gpu *g = s->g;
    s->next = 0;
    act y = conv_step(s, &g->conv_in, &x);
    act_free(s, &x);
    y = resblock(s, &g->mid_res[0], y);
    attention(s, &y);
    y = resblock(s, &g->mid_res[1], y);
    for (int i = 0; i < g->cfg.n_stages; i++) {
        const stage_gpu *st = &g->stages[i];
        for (int r = 0; r < st->n_res; r++) y = resblock(s, &st->res[r], y);
        if (st->upsample == 3) y = time_upsample(s, &st->time_conv, y);
        if (st->upsample) y = spatial_upsample(s, &st->resample, y);
    }
    vs_vae_rms_norm_gpu(g->ops, y.d, y.d, g->norm_out, y.t, y.c, (int64_t)y.h * y.w, 1);
    act out = conv_step(s, &g->conv_out, &y);
    act_free(s, &y);
    VS_ASSERT(s->next == g->n_cached_convs, "internal: the decoder visited fewer causal convs than it counted");
    return out;
}

int vs_wan_vae_gpu_decode(vs_wan_vae_gpu *g, const float *z, int t, int h, int w, int chunk, vs_vae_emit_fn emit,
                          void *user, vs_wan_vae_stats *stats) {
    if (t < 1 || h < 1 || w < 1)
        return VS_FAIL("VAE decode: latent shape [%d, %d, %d, %d] is empty; expected [z, T>=1, H>=1, W>=1]",
                       g->cfg.z_dim, t, h, w);
    if (chunk < 1) chunk = 1;
    if (chunk > t) chunk = t;
    const double t0 = vs_now_seconds(), flops0 = vs_vae_cuda_flops(g->ops);
    dec_state s = {.g = g};
    s.caches = vs_calloc((size_t)g->n_cached_convs, sizeof *s.caches);
    const int zc = g->cfg.z_dim;
    const int64_t plane = (int64_t)h * w;
    float *zr_host = vs_malloc((size_t)chunk * zc * plane * sizeof(float));
    float *frames_host = NULL;
    size_t frames_host_bytes = 0;
    int produced = 0, chunks = 0, rc = 0, out_h = 0, out_w = 0;
    for (int c0 = 0; c0 < t && rc == 0; c0 += chunk, chunks++) {
        const int n = chunk < t - c0 ? chunk : t - c0;
        // z_raw = z·std + mean, gathered from [z, T, H, W] into frames [n][z][h][w] on the host.
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < zc; ch++) {
                const float *src = z + ((int64_t)ch * t + c0 + i) * plane;
                float *dst = zr_host + ((int64_t)i * zc + ch) * plane;
                const float sd = g->cfg.latents_std[ch], mu = g->cfg.latents_mean[ch];
                for (int64_t p = 0; p < plane; p++) dst[p] = src[p] * sd + mu;
            }
        act zr = act_new(&s, n, zc, h, w);
        CUDA_CHECK(cudaMemcpyAsync(zr.d, zr_host, (size_t)n * zc * plane * sizeof(float), cudaMemcpyHostToDevice,
                                   stream_of(&s)));
        act pq = act_new(&s, n, g->post_quant.cout, h, w);
        pointwise_into(&s, &g->post_quant, &zr, pq.d, 0);
        act_free(&s, &zr);
        act out = decode_chunk(&s, pq);
        const int64_t n_out = (int64_t)out.t * frame_size(&out);
        vs_vae_clamp_gpu(g->ops, out.d, n_out);
        out_h = out.h;
        out_w = out.w;
        if (emit) {
            if ((size_t)n_out * sizeof(float) > frames_host_bytes) {
                free(frames_host);
                frames_host_bytes = (size_t)n_out * sizeof(float);
                frames_host = vs_malloc(frames_host_bytes);
            }
            CUDA_CHECK(cudaMemcpyAsync(frames_host, out.d, (size_t)n_out * sizeof(float), cudaMemcpyDeviceToHost,
                                       stream_of(&s)));
            CUDA_CHECK(cudaStreamSynchronize(stream_of(&s)));
            if (emit(user, frames_host, produced, out.t, out.h, out.w) != 0) {
                char why[512];
                snprintf(why, sizeof why, "%s", vs_last_error());
                rc = VS_FAIL("VAE decode: writing frames %d..%d failed: %s", produced, produced + out.t - 1, why);
            }
        } else {
            // The host staging of z is rewritten next chunk: wait for its upload.
            CUDA_CHECK(cudaStreamSynchronize(stream_of(&s)));
        }
        produced += out.t;
        act_free(&s, &out);
    }
    CUDA_CHECK(cudaStreamSynchronize(stream_of(&s)));
    free(s.caches);
    free(zr_host);
    free(frames_host);
    g->flops_last = vs_vae_cuda_flops(g->ops) - flops0;
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->frames = produced;
        stats->height = out_h;
        stats->width = out_w;
        stats->chunks = chunks;
        stats->peak_bytes = g->pool.reserved + vs_vae_cuda_scratch_bytes(g->ops);
        stats->weight_bytes = g->weight_bytes;
        stats->seconds = vs_now_seconds() - t0;
    }
    return rc;
}

int vs_wan_vae_gpu_decode_all(vs_wan_vae_gpu *g, const float *z, int t, int h, int w, int chunk, float *video,
                              vs_wan_vae_stats *stats) {
    int factor = 1;
    for (int i = 0; i < g->cfg.n_stages; i++)
        if (g->stages[i].upsample == 3) factor *= 2;
    vs_vae_collector c = {video, t > 0 ? 1 + factor * (t - 1) : 0};
    return vs_wan_vae_gpu_decode(g, z, t, h, w, chunk, vs_vae_collect_frames, &c, stats);
}

#else  // no CUDA in this build

int vs_wan_vae_gpu_available(void) { return 0; }

int vs_wan_vae_gpu_create(vs_wan_vae_gpu **out, const vs_wan_vae *vae, int precision) {
    *out = NULL;
    return VS_FAIL("VAE on CUDA: this vidsparse was built without CUDA (rebuild where nvcc is found, "
                   "or decode with --device cpu)");
}

void vs_wan_vae_gpu_destroy(vs_wan_vae_gpu *g) {}

int vs_wan_vae_gpu_decode(vs_wan_vae_gpu *g, const float *z, int t, int h, int w, int chunk, vs_vae_emit_fn emit,
                          void *user, vs_wan_vae_stats *stats) {
    return VS_FAIL("VAE on CUDA: this vidsparse was built without CUDA");
}

void vs_wan_vae_gpu_get_info(const vs_wan_vae_gpu *g, vs_wan_vae_gpu_info *info) { memset(info, 0, sizeof *info); }

int vs_wan_vae_gpu_decode_all(vs_wan_vae_gpu *g, const float *z, int t, int h, int w, int chunk, float *video,
                              vs_wan_vae_stats *stats) {
    return VS_FAIL("VAE on CUDA: this vidsparse was built without CUDA");
}

#endif
