// JSON configs: the Wan DiT hyper-parameters (two naming schemes) and SVG2 presets.
//
// Model configs come from Hugging Face downloads, so unknown keys are ignored (diffusers adds
// rope_max_seq_len, _diffusers_version, ...). Presets are ours and short, so an unknown key there
// is an error: a typo such as "topp" must not silently fall back to the default.
// Keys starting with '_' are comments in presets.
#include "runtime/vs_config.h"
#include "runtime/vs_json.h"
#include "runtime/vs_check.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_BYTES (16u << 20)

// Field readers: 1 when the field is present and valid, 0 when absent (or JSON null), -1 on a
// wrong type or value.
static int get_int(const char *path, const cJSON *obj, const char *key, int *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) return 0;
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || v != floor(v) || v < INT_MIN || v > INT_MAX)
        return VS_FAIL("%s: field '%s' must be an integer, got %s", path, key,
                       cJSON_IsNumber(it) ? "a fraction or a huge number" : vs_json_type_name(it));
    *out = (int)v;
    return 1;
}

static int get_float(const char *path, const cJSON *obj, const char *key, float *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) return 0;
    if (!cJSON_IsNumber(it) || !(fabs(it->valuedouble) <= FLT_MAX))
        return VS_FAIL("%s: field '%s' must be a finite number, got %s", path, key,
                       cJSON_IsNumber(it) ? "one out of float range" : vs_json_type_name(it));
    *out = (float)it->valuedouble;
    return 1;
}

static int get_bool(const char *path, const cJSON *obj, const char *key, int *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) return 0;
    if (!cJSON_IsBool(it))
        return VS_FAIL("%s: field '%s' must be true or false, got %s", path, key, vs_json_type_name(it));
    *out = cJSON_IsTrue(it);
    return 1;
}

static int get_string(const char *path, const cJSON *obj, const char *key, const char **out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it)) return 0;
    if (!cJSON_IsString(it))
        return VS_FAIL("%s: field '%s' must be a string, got %s", path, key, vs_json_type_name(it));
    *out = it->valuestring;
    return 1;
}

// ------------------------------------------------------------------------------- Wan DiT

void vs_wan_config_defaults(vs_wan_config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->model_type, sizeof c->model_type, "t2v");
    c->freq_dim = 256;
    c->text_len = 512;
    c->text_dim = 4096;
    c->eps = 1e-6f;
    c->patch[0] = 1;
    c->patch[1] = 2;
    c->patch[2] = 2;
    c->qk_norm = 1;
    c->cross_attn_norm = 1;
}

// `where` names the config in messages (its path, or "model config").
static int check_wan(const vs_wan_config *c, const char *where) {
    static const struct {
        const char *name;
        size_t offset;
        int max;
    } sizes[] = {
        {"dim", offsetof(vs_wan_config, dim), 1 << 16},
        {"ffn_dim", offsetof(vs_wan_config, ffn_dim), 1 << 20},
        {"freq_dim", offsetof(vs_wan_config, freq_dim), 1 << 16},
        {"num_heads", offsetof(vs_wan_config, num_heads), 1024},
        {"num_layers", offsetof(vs_wan_config, num_layers), 1024},
        {"in_dim", offsetof(vs_wan_config, in_dim), 4096},
        {"out_dim", offsetof(vs_wan_config, out_dim), 4096},
        {"text_len", offsetof(vs_wan_config, text_len), 1 << 16},
        {"text_dim", offsetof(vs_wan_config, text_dim), 1 << 16},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int v = *(const int *)((const char *)c + sizes[i].offset);
        if (v <= 0 || v > sizes[i].max)
            return VS_FAIL("%s: %s is %d, must be in [1, %d]", where, sizes[i].name, v,
                           sizes[i].max);
    }
    if (strcmp(c->model_type, "t2v") && strcmp(c->model_type, "i2v") &&
        strcmp(c->model_type, "flf2v"))
        return VS_FAIL("%s: model_type '%s' is not one of t2v, i2v, flf2v", where, c->model_type);
    if (c->dim % c->num_heads)
        return VS_FAIL("%s: num_heads %d does not divide dim %d", where, c->num_heads, c->dim);
    int head_dim = c->dim / c->num_heads;
    // 3D RoPE splits head_dim into t/h/w parts of head_dim - 4*(head_dim/6), 2*(head_dim/6) and
    // 2*(head_dim/6) channels: each must be a non-empty even count.
    if (head_dim % 2 || head_dim < 6)
        return VS_FAIL("%s: head_dim = dim / num_heads = %d must be even and >= 6 for the 3D RoPE "
                       "split", where, head_dim);
    if (c->freq_dim % 2)
        return VS_FAIL("%s: freq_dim %d must be even (half sine, half cosine)", where, c->freq_dim);
    if (!(c->eps > 0.0f) || !(c->eps < 1.0f))
        return VS_FAIL("%s: eps %g must be in (0, 1)", where, (double)c->eps);
    for (int i = 0; i < 3; i++)
        if (c->patch[i] < 1 || c->patch[i] > 16)
            return VS_FAIL("%s: patch_size[%d] is %d, must be in [1, 16]", where, i, c->patch[i]);
    if (c->qk_norm != 0 && c->qk_norm != 1)
        return VS_FAIL("%s: qk_norm must be 0 or 1", where);
    if (c->cross_attn_norm != 0 && c->cross_attn_norm != 1)
        return VS_FAIL("%s: cross_attn_norm must be 0 or 1", where);
    return 0;
}

int vs_wan_config_check(const vs_wan_config *c) { return check_wan(c, "model config"); }

// patch_size: [t, h, w].
static int get_patch(const char *path, const cJSON *root, int patch[3]) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "patch_size");
    if (!it || cJSON_IsNull(it)) return 0;
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 3)
        return VS_FAIL("%s: field 'patch_size' must be an array of 3 integers [t, h, w]", path);
    int i = 0;
    for (const cJSON *d = it->child; d; d = d->next, i++) {
        if (!cJSON_IsNumber(d) || d->valuedouble != floor(d->valuedouble) || d->valuedouble < 1 ||
            d->valuedouble > 16)
            return VS_FAIL("%s: field 'patch_size[%d]' must be an integer in [1, 16]", path, i);
        patch[i] = (int)d->valuedouble;
    }
    return 1;
}

// qk_norm: true/false (official) or "rms_norm_across_heads" / null (diffusers).
static int get_qk_norm(const char *path, const cJSON *root, int *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "qk_norm");
    if (!it) return 0;
    if (cJSON_IsNull(it)) *out = 0;
    else if (cJSON_IsBool(it)) *out = cJSON_IsTrue(it);
    else if (cJSON_IsString(it) && !strcmp(it->valuestring, "rms_norm_across_heads")) *out = 1;
    else if (cJSON_IsString(it))
        return VS_FAIL("%s: field 'qk_norm' is \"%.40s\"; Wan 2.1 uses \"rms_norm_across_heads\" "
                       "(or true / false)", path, it->valuestring);
    else return VS_FAIL("%s: field 'qk_norm' must be a boolean or a string, got %s", path, vs_json_type_name(it));
    return 1;
}

// Everything the official and diffusers names can say, on top of the defaults.
static int read_wan(vs_wan_config *c, const char *path, const cJSON *root) {
    const char *s = NULL;
    int r;
    if ((r = get_string(path, root, "_class_name", &s)) < 0) return -1;
    if (r && strcmp(s, "WanModel") && strcmp(s, "WanTransformer3DModel"))
        return VS_FAIL("%s: _class_name '%.60s' is not a Wan DiT config (WanModel or "
                       "WanTransformer3DModel); for diffusers pass transformer/config.json", path, s);

    int model_type_set = get_string(path, root, "model_type", &s);
    if (model_type_set < 0) return -1;
    if (model_type_set) {
        if (strlen(s) >= sizeof c->model_type)
            return VS_FAIL("%s: field 'model_type' '%.40s' is too long", path, s);
        snprintf(c->model_type, sizeof c->model_type, "%s", s);
    }

    // Official names.
    int has_dim = get_int(path, root, "dim", &c->dim);
    int has_heads = get_int(path, root, "num_heads", &c->num_heads);
    int has_ffn = get_int(path, root, "ffn_dim", &c->ffn_dim);
    int has_layers = get_int(path, root, "num_layers", &c->num_layers);
    int has_in = get_int(path, root, "in_dim", &c->in_dim);
    int has_out = get_int(path, root, "out_dim", &c->out_dim);
    if (has_dim < 0 || has_heads < 0 || has_ffn < 0 || has_layers < 0 || has_in < 0 || has_out < 0 ||
        get_int(path, root, "freq_dim", &c->freq_dim) < 0 ||
        get_int(path, root, "text_len", &c->text_len) < 0 ||
        get_int(path, root, "text_dim", &c->text_dim) < 0 ||
        get_float(path, root, "eps", &c->eps) < 0 || get_patch(path, root, c->patch) < 0 ||
        get_qk_norm(path, root, &c->qk_norm) < 0 ||
        get_bool(path, root, "cross_attn_norm", &c->cross_attn_norm) < 0)
        return -1;

    // diffusers names; where both schemes name a value they must agree.
    int heads = 0, head_dim = 0, in_ch = 0, out_ch = 0;
    int has_dheads = get_int(path, root, "num_attention_heads", &heads);
    int has_hd = get_int(path, root, "attention_head_dim", &head_dim);
    int has_inch = get_int(path, root, "in_channels", &in_ch);
    int has_outch = get_int(path, root, "out_channels", &out_ch);
    if (has_dheads < 0 || has_hd < 0 || has_inch < 0 || has_outch < 0) return -1;
#define MERGE(has_official, official, official_name, has_diffusers, value, diffusers_name)        \
    if (has_diffusers) {                                                                         \
        if (has_official && official != value)                                                   \
            return VS_FAIL("%s: %s %d disagrees with %s %d", path, official_name, official,     \
                           diffusers_name, value);                                               \
        official = value;                                                                        \
        has_official = 1;                                                                        \
    }
    MERGE(has_heads, c->num_heads, "num_heads", has_dheads, heads, "num_attention_heads")
    MERGE(has_in, c->in_dim, "in_dim", has_inch, in_ch, "in_channels")
    MERGE(has_out, c->out_dim, "out_dim", has_outch, out_ch, "out_channels")
    if (has_hd) {
        if (!has_heads)
            return VS_FAIL("%s: attention_head_dim is given without num_attention_heads", path);
        if (head_dim <= 0 || c->num_heads <= 0 || head_dim > INT_MAX / c->num_heads)
            return VS_FAIL("%s: num_attention_heads %d x attention_head_dim %d is not a valid "
                           "width", path, c->num_heads, head_dim);
        int width = c->num_heads * head_dim;
        MERGE(has_dim, c->dim, "dim", 1, width, "num_attention_heads x attention_head_dim")
    }
#undef MERGE

    const char *missing = !has_dim      ? "dim' (or diffusers 'num_attention_heads' and 'attention_head_dim"
                          : !has_heads  ? "num_heads' (or diffusers 'num_attention_heads"
                          : !has_ffn    ? "ffn_dim"
                          : !has_layers ? "num_layers"
                          : !has_in     ? "in_dim' (or diffusers 'in_channels"
                          : !has_out    ? "out_dim' (or diffusers 'out_channels"
                                        : NULL;
    if (missing) return VS_FAIL("%s: missing field '%s'", path, missing);

    // diffusers marks image-to-video by its CLIP image width.
    const cJSON *image_dim = cJSON_GetObjectItemCaseSensitive(root, "image_dim");
    if (!model_type_set && image_dim && !cJSON_IsNull(image_dim))
        snprintf(c->model_type, sizeof c->model_type, "i2v");

    const cJSON *win = cJSON_GetObjectItemCaseSensitive(root, "window_size");
    if (win && !cJSON_IsNull(win) &&
        (!cJSON_IsArray(win) || cJSON_GetArraySize(win) != 2 || !cJSON_IsNumber(win->child) ||
         !cJSON_IsNumber(win->child->next) || win->child->valuedouble != -1 ||
         win->child->next->valuedouble != -1))
        return VS_FAIL("%s: field 'window_size' must be [-1, -1]; windowed attention is not "
                       "supported", path);
    return 0;
}

int vs_wan_config_load(vs_wan_config *c, const char *path) {
    vs_wan_config_defaults(c);
    cJSON *root = vs_json_load_object(path, CONFIG_MAX_BYTES, "config");
    if (!root) return -1;
    int rc = read_wan(c, path, root);
    cJSON_Delete(root);
    if (rc == 0) rc = check_wan(c, path);
    return rc;
}

// ------------------------------------------------------------------------------- SVG2 preset

static const char *const preset_keys[] = {
    "C_q", "C_k", "top_p", "min_kc_ratio", "kmeans_iters_cold", "kmeans_iters_warm",
    "kmeans_tol", "seed", "dense_step_fraction", "dense_layers"};

static int get_seed(const char *path, const cJSON *root, uint64_t *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (!it || cJSON_IsNull(it)) return 0;
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || v != floor(v) || v < 0 || v >= 9007199254740992.0)
        return VS_FAIL("%s: field 'seed' must be an integer in [0, 2^53)", path);
    *out = (uint64_t)v;
    return 1;
}

int vs_svg2_preset_load(vs_svg2_preset *p, const char *path) {
    p->params = vs_svg2_default_params();
    p->dense_step_fraction = 0.2f;
    p->dense_layers = 1;
    cJSON *root = vs_json_load_object(path, CONFIG_MAX_BYTES, "config");
    if (!root) return -1;
    int rc = 0;
    for (const cJSON *it = root->child; it && rc == 0; it = it->next) {
        int known = it->string[0] == '_';
        for (size_t k = 0; k < sizeof preset_keys / sizeof preset_keys[0] && !known; k++)
            known = !strcmp(it->string, preset_keys[k]);
        if (!known)
            rc = VS_FAIL("%s: unknown field '%.60s' (known: C_q, C_k, top_p, min_kc_ratio, "
                         "kmeans_iters_cold, kmeans_iters_warm, kmeans_tol, seed, "
                         "dense_step_fraction, dense_layers)", path, it->string);
    }
    vs_svg2_params *q = &p->params;
    if (rc == 0 &&
        (get_int(path, root, "C_q", &q->C_q) < 0 || get_int(path, root, "C_k", &q->C_k) < 0 ||
         get_float(path, root, "top_p", &q->top_p) < 0 ||
         get_float(path, root, "min_kc_ratio", &q->min_kc_ratio) < 0 ||
         get_int(path, root, "kmeans_iters_cold", &q->iters_cold) < 0 ||
         get_int(path, root, "kmeans_iters_warm", &q->iters_warm) < 0 ||
         get_float(path, root, "kmeans_tol", &q->tol) < 0 || get_seed(path, root, &q->seed) < 0 ||
         get_float(path, root, "dense_step_fraction", &p->dense_step_fraction) < 0 ||
         get_int(path, root, "dense_layers", &p->dense_layers) < 0))
        rc = -1;
    cJSON_Delete(root);
    if (rc != 0) return rc;

    if (q->C_q < 1) return VS_FAIL("%s: C_q is %d, must be >= 1", path, q->C_q);
    if (q->C_k < 1) return VS_FAIL("%s: C_k is %d, must be >= 1", path, q->C_k);
    if (!(q->top_p > 0.0f && q->top_p <= 1.0f))
        return VS_FAIL("%s: top_p is %g, must be in (0, 1]", path, (double)q->top_p);
    if (!(q->min_kc_ratio >= 0.0f && q->min_kc_ratio <= 1.0f))
        return VS_FAIL("%s: min_kc_ratio is %g, must be in [0, 1]", path, (double)q->min_kc_ratio);
    if (q->iters_cold < 1)
        return VS_FAIL("%s: kmeans_iters_cold is %d, must be >= 1", path, q->iters_cold);
    if (q->iters_warm < 0)
        return VS_FAIL("%s: kmeans_iters_warm is %d, must be >= 0", path, q->iters_warm);
    if (!(q->tol >= 0.0f)) return VS_FAIL("%s: kmeans_tol is %g, must be >= 0", path, (double)q->tol);
    if (!(p->dense_step_fraction >= 0.0f && p->dense_step_fraction <= 1.0f))
        return VS_FAIL("%s: dense_step_fraction is %g, must be in [0, 1]", path,
                       (double)p->dense_step_fraction);
    if (p->dense_layers < 0)
        return VS_FAIL("%s: dense_layers is %d, must be >= 0", path, p->dense_layers);
    return 0;
}
