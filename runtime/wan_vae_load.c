// Wan VAE decoder weights: the layout (from a config or inferred from tensor shapes), allocation
// in one block, and filling from a diffusers AutoencoderKLWan safetensors checkpoint or from a
// deterministic random generator (the built-in tiny model).
//
// Only the decoder half is read (post_quant_conv + decoder.*); encoder tensors are ignored.
// Names are the diffusers ones; tools/convert_wan_vae.py renames an official Wan2.1_VAE.pth.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "runtime/vs_check.h"
#include "runtime/vs_rng.h"
#include "runtime/vs_safetensors.h"
#include "runtime/wan_vae.h"
#include "runtime/vs_json.h"

static const float wan21_mean[16] = {-0.7571f, -0.7089f, -0.9113f, 0.1075f, -0.1745f, 0.9653f, -0.1517f, 1.5508f,
                                     0.4134f,  -0.0715f, 0.5517f,  -0.3632f, -0.1922f, -0.9497f, 0.2503f, -0.2921f};
static const float wan21_std[16] = {2.8184f, 1.4541f, 2.3275f, 2.6558f, 1.2196f, 1.7708f, 2.6052f, 2.0743f,
                                    3.2687f, 2.1526f, 2.8652f, 1.5579f, 1.6382f, 1.1253f, 2.8251f, 1.9160f};

static void config_common(vs_wan_vae_config *c) {
    memset(c, 0, sizeof *c);
    c->z_dim = 16;
    c->n_stages = 4;
    // Encoder temperal_downsample [False, True, True], reversed for the decoder.
    c->temporal_upsample[0] = c->temporal_upsample[1] = 1;
    memcpy(c->latents_mean, wan21_mean, sizeof wan21_mean);
    memcpy(c->latents_std, wan21_std, sizeof wan21_std);
}

void vs_wan_vae_config_tiny(vs_wan_vae_config *c) {
    config_common(c);
    c->base_dim = 3;
    c->num_res_blocks = 1;
    for (int i = 0; i < 4; i++) c->dim_mult[i] = 1;
}

void vs_wan_vae_config_wan21(vs_wan_vae_config *c) {
    config_common(c);
    c->base_dim = 96;
    c->num_res_blocks = 2;
    const int mult[4] = {1, 2, 4, 4};
    memcpy(c->dim_mult, mult, sizeof mult);
}

// ---------------------------------------------------------------------------- layout walk

// The layout is walked twice: once to count parameters (base == NULL), once to fill them.
typedef struct {
    float *base;
    int64_t used;
    vs_vae_fill_fn fill;
    void *ctx;
    int failed;
} builder;

static float *take(builder *b, const char *name, int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *p = b->base ? b->base + b->used : NULL;
    b->used += n;
    if (p && !b->failed && b->fill(b->ctx, name, ndim, shape, p) != 0) b->failed = 1;
    return p;
}

// Conv weight [cout, cin, kt, kh, kw] (kt == 0: a Conv2d weight [cout, cin, kh, kw]) and bias.
static vs_vae_conv conv(builder *b, const char *prefix, int cout, int cin, int kt, int kh, int kw) {
    char name[256];
    vs_vae_conv c = {NULL, NULL, cout, cin, kt ? kt : 1, kh, kw};
    int64_t shape5[5] = {cout, cin, kt, kh, kw}, shape4[4] = {cout, cin, kh, kw}, bias[1] = {cout};
    snprintf(name, sizeof name, "%s.weight", prefix);
    c.w = kt ? take(b, name, 5, shape5) : take(b, name, 4, shape4);
    snprintf(name, sizeof name, "%s.bias", prefix);
    c.b = take(b, name, 1, bias);
    return c;
}

// RMS_norm gain, stored [c, 1, 1, 1] (video) or [c, 1, 1] (images).
static float *norm_gain(builder *b, const char *name, int c, int images) {
    int64_t shape[4] = {c, 1, 1, 1};
    return take(b, name, images ? 3 : 4, shape);
}

static vs_vae_resblock resblock(builder *b, const char *prefix, int cin, int cout) {
    char name[256];
    vs_vae_resblock r = {.cin = cin, .cout = cout};
    snprintf(name, sizeof name, "%s.norm1.gamma", prefix);
    r.gamma1 = norm_gain(b, name, cin, 0);
    snprintf(name, sizeof name, "%s.conv1", prefix);
    r.conv1 = conv(b, name, cout, cin, 3, 3, 3);
    snprintf(name, sizeof name, "%s.norm2.gamma", prefix);
    r.gamma2 = norm_gain(b, name, cout, 0);
    snprintf(name, sizeof name, "%s.conv2", prefix);
    r.conv2 = conv(b, name, cout, cout, 3, 3, 3);
    if (cin != cout) {
        snprintf(name, sizeof name, "%s.conv_shortcut", prefix);
        r.shortcut = conv(b, name, cout, cin, 1, 1, 1);
    }
    return r;
}

// Mirrors diffusers WanDecoder3d.__init__ (is_residual = False): dims = base·[m[-1], m[-1], ..., m[0]],
// stage i takes dims[i] (halved for i > 0: the previous upsampler halves the channels) to dims[i+1].
static void walk(vs_wan_vae *v, builder *b) {
    const vs_wan_vae_config *c = &v->cfg;
    const int n = c->n_stages;
    int dims[VS_VAE_MAX_STAGES + 1];
    dims[0] = c->base_dim * c->dim_mult[n - 1];
    for (int i = 0; i < n; i++) dims[i + 1] = c->base_dim * c->dim_mult[n - 1 - i];
    int cached = 0;
    char name[256];
    v->post_quant = conv(b, "post_quant_conv", c->z_dim, c->z_dim, 1, 1, 1);
    v->conv_in = conv(b, "decoder.conv_in", dims[0], c->z_dim, 3, 3, 3);
    cached++;
    v->mid_res[0] = resblock(b, "decoder.mid_block.resnets.0", dims[0], dims[0]);
    v->mid_attn.c = dims[0];
    v->mid_attn.gamma = norm_gain(b, "decoder.mid_block.attentions.0.norm.gamma", dims[0], 1);
    v->mid_attn.to_qkv = conv(b, "decoder.mid_block.attentions.0.to_qkv", 3 * dims[0], dims[0], 0, 1, 1);
    v->mid_attn.proj = conv(b, "decoder.mid_block.attentions.0.proj", dims[0], dims[0], 0, 1, 1);
    v->mid_res[1] = resblock(b, "decoder.mid_block.resnets.1", dims[0], dims[0]);
    cached += 4;
    for (int i = 0; i < n; i++) {
        vs_vae_stage *st = &v->stages[i];
        int cin = i > 0 ? dims[i] / 2 : dims[i];
        const int cout = dims[i + 1];
        st->n_res = c->num_res_blocks + 1;
        for (int r = 0; r < st->n_res; r++) {
            snprintf(name, sizeof name, "decoder.up_blocks.%d.resnets.%d", i, r);
            st->res[r] = resblock(b, name, cin, cout);
            cin = cout;
            cached += 2;
        }
        st->upsample = i == n - 1 ? 0 : c->temporal_upsample[i] ? 3 : 2;
        if (st->upsample == 3) {
            snprintf(name, sizeof name, "decoder.up_blocks.%d.upsamplers.0.time_conv", i);
            st->time_conv = conv(b, name, 2 * cout, cout, 3, 1, 1);
            cached++;
        }
        if (st->upsample) {
            snprintf(name, sizeof name, "decoder.up_blocks.%d.upsamplers.0.resample.1", i);
            st->resample = conv(b, name, cout / 2, cout, 0, 3, 3);
        }
    }
    v->norm_out = norm_gain(b, "decoder.norm_out.gamma", dims[n], 0);
    v->conv_out = conv(b, "decoder.conv_out", 3, dims[n], 3, 3, 3);
    cached++;
    v->n_cached_convs = cached;
}

static int check_config(const vs_wan_vae_config *c) {
    if (c->z_dim < 1 || c->z_dim > 16)
        return VS_FAIL("VAE config: z_dim %d is outside 1..16 (Wan 2.1 uses 16)", c->z_dim);
    if (c->n_stages < 1 || c->n_stages > VS_VAE_MAX_STAGES)
        return VS_FAIL("VAE config: %d stages (len(dim_mult)) is outside 1..%d", c->n_stages, VS_VAE_MAX_STAGES);
    if (c->num_res_blocks < 0 || c->num_res_blocks + 1 > VS_VAE_MAX_RES)
        return VS_FAIL("VAE config: num_res_blocks %d is outside 0..%d", c->num_res_blocks, VS_VAE_MAX_RES - 1);
    if (c->base_dim < 1) return VS_FAIL("VAE config: base_dim %d must be positive", c->base_dim);
    for (int i = 0; i < c->n_stages; i++)
        if (c->dim_mult[i] < 1) return VS_FAIL("VAE config: dim_mult[%d] = %d must be positive", i, c->dim_mult[i]);
    for (int i = 0; i < c->z_dim; i++)
        if (!(c->latents_std[i] > 0)) return VS_FAIL("VAE config: latents_std[%d] = %g must be positive", i, c->latents_std[i]);
    return 0;
}

int vs_wan_vae_build(vs_wan_vae *vae, const vs_wan_vae_config *cfg, vs_vae_fill_fn fill, void *ctx) {
    memset(vae, 0, sizeof *vae);
    if (check_config(cfg) != 0) return -1;
    vae->cfg = *cfg;
    builder count = {0};
    walk(vae, &count);
    vae->n_params = count.used;
    vae->params = vs_malloc((size_t)count.used * sizeof(float));
    builder b = {vae->params, 0, fill, ctx, 0};
    walk(vae, &b);
    if (b.failed) {
        free(vae->params);
        memset(vae, 0, sizeof *vae);
        return -1;
    }
    return 0;
}

void vs_wan_vae_free(vs_wan_vae *vae) {
    free(vae->params);
    memset(vae, 0, sizeof *vae);
}

const char *vs_wan_vae_describe(const vs_wan_vae *vae, char *buf, size_t len) {
    const vs_wan_vae_config *c = &vae->cfg;
    int n = snprintf(buf, len, "base %d, dim_mult [", c->base_dim);
    for (int i = 0; i < c->n_stages && n > 0 && (size_t)n < len; i++)
        n += snprintf(buf + n, len - n, "%s%d", i ? "," : "", c->dim_mult[i]);
    if (n > 0 && (size_t)n < len)
        snprintf(buf + n, len - n, "], %d res blocks, z %d, %.1f M decoder params", c->num_res_blocks, c->z_dim,
                 vae->n_params / 1e6);
    return buf;
}

// ---------------------------------------------------------------------------- random weights

typedef struct {
    uint64_t seed;
} random_ctx;

static uint64_t name_hash(const char *s) {  // FNV-1a: a stream per tensor name
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int fill_random(void *ctx, const char *name, int ndim, const int64_t *shape, float *dst) {
    const random_ctx *r = ctx;
    int64_t n = 1, fan_in = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    for (int i = 1; i < ndim; i++) fan_in *= shape[i];
    const uint64_t stream = r->seed ^ name_hash(name);
    const size_t len = strlen(name);
    const int is_gamma = len >= 5 && !strcmp(name + len - 5, "gamma");
    const int is_bias = len >= 4 && !strcmp(name + len - 4, "bias");
    const double scale = is_gamma ? 0.1 : is_bias ? 0.05 : 1.0 / sqrt((double)fan_in);
    for (int64_t i = 0; i < n; i++) dst[i] = (float)((is_gamma ? 1.0 : 0.0) + scale * vs_normal_at(stream, (uint64_t)i));
    return 0;
}

int vs_wan_vae_init_random(vs_wan_vae *vae, const vs_wan_vae_config *cfg, uint64_t seed) {
    random_ctx r = {seed};
    return vs_wan_vae_build(vae, cfg, fill_random, &r);
}

// ---------------------------------------------------------------------------- safetensors

typedef struct {
    const vs_checkpoint *ck;
    const char *path;
} ckpt_ctx;

static int fill_checkpoint(void *ctx, const char *name, int ndim, const int64_t *shape, float *dst) {
    const ckpt_ctx *c = ctx;
    const vs_st_file *f = NULL;
    const vs_st_entry *e = vs_checkpoint_find(c->ck, name, &f);
    char want[96], got[96];
    if (!e)
        return VS_FAIL("VAE weights %s: tensor '%s' %s is missing (is this a Wan 2.1 AutoencoderKLWan checkpoint?)",
                       c->path, name, vs_shape_str(ndim, shape, want, sizeof want));
    int same = e->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = e->shape[i] == shape[i];
    if (!same)
        return VS_FAIL("VAE weights %s: tensor '%s' has shape %s, the layout needs %s", c->path, name,
                       vs_shape_str(e->ndim, e->shape, got, sizeof got), vs_shape_str(ndim, shape, want, sizeof want));
    return vs_st_read_f32(f, e, dst);
}

static const vs_st_entry *find(const vs_checkpoint *ck, const char *fmt, int i, int j) {
    char name[256];
    snprintf(name, sizeof name, fmt, i, j);
    return vs_checkpoint_find(ck, name, NULL);
}

// Reads the layout from the tensor shapes (see walk for the naming).
static int infer_config(const vs_checkpoint *ck, const char *path, vs_wan_vae_config *c) {
    config_common(c);
    const vs_st_entry *pq = vs_checkpoint_find(ck, "post_quant_conv.weight", NULL);
    if (!pq) {
        if (vs_checkpoint_find(ck, "conv2.weight", NULL) && vs_checkpoint_find(ck, "decoder.conv1.weight", NULL))
            return VS_FAIL("VAE weights %s use the official Wan names; convert them once with "
                           "`python3 tools/convert_wan_vae.py IN OUT_DIR`", path);
        return VS_FAIL("VAE weights %s: no 'post_quant_conv.weight'; expected a diffusers AutoencoderKLWan "
                       "checkpoint (the vae/ folder of a Wan 2.1 diffusers model)", path);
    }
    if (pq->ndim != 5) return VS_FAIL("VAE weights %s: post_quant_conv.weight is not 5-D", path);
    c->z_dim = (int)pq->shape[0];
    int n = 0;
    while (n < VS_VAE_MAX_STAGES + 1 && find(ck, "decoder.up_blocks.%d.resnets.%d.conv1.weight", n, 0)) n++;
    if (n < 1 || n > VS_VAE_MAX_STAGES)
        return VS_FAIL("VAE weights %s: found %d decoder up blocks, expected 1..%d", path, n, VS_VAE_MAX_STAGES);
    int n_res = 0;
    while (n_res < VS_VAE_MAX_RES + 1 && find(ck, "decoder.up_blocks.%d.resnets.%d.conv1.weight", 0, n_res)) n_res++;
    c->n_stages = n;
    c->num_res_blocks = n_res - 1;
    int width[VS_VAE_MAX_STAGES];
    for (int i = 0; i < n; i++) width[i] = (int)find(ck, "decoder.up_blocks.%d.resnets.%d.conv1.weight", i, 0)->shape[0];
    c->base_dim = width[n - 1];  // stage widths are base·dim_mult reversed, with dim_mult[0] = 1
    for (int i = 0; i < n; i++) {
        if (width[i] % c->base_dim)
            return VS_FAIL("VAE weights %s: stage %d width %d is not a multiple of the last stage's %d", path, i,
                           width[i], c->base_dim);
        c->dim_mult[n - 1 - i] = width[i] / c->base_dim;
    }
    for (int i = 0; i + 1 < n; i++)
        c->temporal_upsample[i] = find(ck, "decoder.up_blocks.%d.upsamplers.%d.time_conv.weight", i, 0) != NULL;
    return 0;
}

static int json_int(const cJSON *root, const char *key, int *out, const char *path) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) return 1;
    if (!cJSON_IsNumber(it)) return VS_FAIL("%s: '%s' must be a number", path, key);
    *out = it->valueint;
    return 0;
}

// Cross-checks a diffusers config.json with the layout read from the shapes, and takes
// latents_mean / latents_std from it.
static int apply_config_json(const char *json_path, vs_wan_vae_config *c, int *have_stats) {
    if (access(json_path, F_OK) != 0) return 0;  // optional
    cJSON *root = vs_json_load_object(json_path, 1u << 20, "VAE config");
    if (!root) return -1;
    int rc = 0, v = 0;
    const struct { const char *key; int have; } ints[] = {{"base_dim", c->base_dim}, {"z_dim", c->z_dim},
                                                          {"num_res_blocks", c->num_res_blocks}};
    for (int i = 0; i < 3 && rc == 0; i++) {
        int r = json_int(root, ints[i].key, &v, json_path);
        if (r < 0) rc = -1;
        else if (r == 0 && v != ints[i].have)
            rc = VS_FAIL("%s: %s = %d but the weights have %d", json_path, ints[i].key, v, ints[i].have);
    }
    if (rc == 0 && json_int(root, "decoder_base_dim", &v, json_path) == 0 && v != c->base_dim)
        rc = VS_FAIL("%s: decoder_base_dim = %d but the weights have %d", json_path, v, c->base_dim);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(root, "is_residual");
    if (rc == 0 && cJSON_IsTrue(res))
        rc = VS_FAIL("%s: is_residual = true is the Wan 2.2 VAE; only the Wan 2.1 VAE is supported", json_path);
    const cJSON *dm = cJSON_GetObjectItemCaseSensitive(root, "dim_mult");
    if (rc == 0 && cJSON_IsArray(dm)) {
        int ok = cJSON_GetArraySize(dm) == c->n_stages;
        for (int i = 0; ok && i < c->n_stages; i++) ok = cJSON_GetArrayItem(dm, i)->valueint == c->dim_mult[i];
        if (!ok) rc = VS_FAIL("%s: dim_mult does not match the weights' stage widths", json_path);
    }
    const cJSON *td = cJSON_GetObjectItemCaseSensitive(root, "temperal_downsample");
    if (rc == 0 && cJSON_IsArray(td)) {
        // The decoder upsamples in time where the encoder downsampled, in reverse order.
        int ok = cJSON_GetArraySize(td) == c->n_stages - 1;
        for (int i = 0; ok && i < c->n_stages - 1; i++)
            ok = cJSON_IsTrue(cJSON_GetArrayItem(td, c->n_stages - 2 - i)) == c->temporal_upsample[i];
        if (!ok) rc = VS_FAIL("%s: temperal_downsample does not match the weights' time_conv layers", json_path);
    }
    const char *keys[2] = {"latents_mean", "latents_std"};
    float *dst[2] = {c->latents_mean, c->latents_std};
    for (int k = 0; k < 2 && rc == 0; k++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, keys[k]);
        if (!arr) continue;
        if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != c->z_dim) {
            rc = VS_FAIL("%s: %s must be an array of z_dim = %d numbers", json_path, keys[k], c->z_dim);
            break;
        }
        for (int i = 0; i < c->z_dim; i++) dst[k][i] = (float)cJSON_GetArrayItem(arr, i)->valuedouble;
        (*have_stats)++;
    }
    cJSON_Delete(root);
    return rc;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int vs_wan_vae_load(vs_wan_vae *vae, const char *path) {
    memset(vae, 0, sizeof *vae);
    size_t len = strlen(path);
    if (len >= 4 && (!strcmp(path + len - 4, ".pth") || !strcmp(path + len - 3, ".pt")))
        return VS_FAIL("VAE weights %s: a PyTorch pickle; convert it once with "
                       "`python3 tools/convert_wan_vae.py %s OUT_DIR` and pass OUT_DIR", path, path);
    // A model root holding vae/ (the diffusers layout) means its vae/ folder.
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/vae", path);
    const char *weights = is_dir(path) && is_dir(dir) ? dir : path;
    // config.json lives in the weights' folder.
    if (is_dir(weights)) snprintf(dir, sizeof dir, "%s", weights);
    else {
        snprintf(dir, sizeof dir, "%s", weights);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else snprintf(dir, sizeof dir, ".");
    }
    vs_checkpoint ck;
    if (vs_checkpoint_open(&ck, weights) != 0) return -1;
    vs_wan_vae_config cfg;
    int rc = infer_config(&ck, weights, &cfg);
    char json[4200];
    snprintf(json, sizeof json, "%s/config.json", dir);
    int have_stats = 0;
    if (rc == 0) rc = apply_config_json(json, &cfg, &have_stats);
    if (rc == 0 && cfg.z_dim != 16 && have_stats != 2)
        rc = VS_FAIL("VAE weights %s: z_dim is %d, so the Wan 2.1 latents_mean/std do not apply; put a config.json "
                     "with latents_mean and latents_std beside the weights", weights, cfg.z_dim);
    if (rc == 0) {
        ckpt_ctx ctx = {&ck, weights};
        rc = vs_wan_vae_build(vae, &cfg, fill_checkpoint, &ctx);
    }
    vs_checkpoint_close(&ck);
    return rc;
}

int vs_wan_vae_open(vs_wan_vae *vae, const char *path_or_tiny) {
    if (!strcmp(path_or_tiny, "tiny")) {
        vs_wan_vae_config cfg;
        vs_wan_vae_config_tiny(&cfg);
        return vs_wan_vae_init_random(vae, &cfg, 0x7a1e5eedull);
    }
    return vs_wan_vae_load(vae, path_or_tiny);
}
