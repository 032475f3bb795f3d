// Loading Wan DiT weights from safetensors checkpoints in either naming (spec 3.2 / 3.3).
//
// Two passes: first every tensor the config implies is looked up and its shape and dtype
// checked (so a bad checkpoint fails in milliseconds, naming the tensor and the file, before
// gigabytes are read); then each is converted to f32 into the model. The naming is detected
// from the time-embedding tensor, and a "model.diffusion_model." prefix (ComfyUI files) is
// stripped.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_safetensors.h"
#include "runtime/wan_params.h"

static const char *const prefixes[] = {"", "model.diffusion_model."};

static const vs_st_entry *find(const vs_checkpoint *ck, const char *prefix, const char *name,
                               const vs_st_file **file) {
    char full[160];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return vs_checkpoint_find(ck, full, file);
}

static int is_float(vs_st_dtype dt) {
    return dt == VS_ST_F32 || dt == VS_ST_BF16 || dt == VS_ST_F16 || dt == VS_ST_F64;
}

static int check_all(const vs_checkpoint *ck, const char *path, wan_param *ps, int n,
                     const char *prefix, int diffusers, const vs_st_entry **entries,
                     const vs_st_file **files) {
    const char *naming = diffusers ? "diffusers" : "official";
    for (int i = 0; i < n; i++) {
        const char *name = diffusers ? ps[i].diffusers : ps[i].official;
        const vs_st_entry *e = find(ck, prefix, name, &files[i]);
        if (!e)
            return VS_FAIL("checkpoint '%s' (%s naming): tensor '%s%s' is missing; the "
                           "checkpoint is incomplete or not a Wan 2.1 T2V DiT",
                           path, naming, prefix, name);
        char got[96], want[96];
        vs_shape_str(e->ndim, e->shape, got, sizeof got);
        vs_shape_str(ps[i].ck_ndim, ps[i].ck_shape, want, sizeof want);
        if (e->ndim != ps[i].ck_ndim ||
            memcmp(e->shape, ps[i].ck_shape, (size_t)e->ndim * sizeof(int64_t)) != 0)
            return VS_FAIL("tensor '%s%s' in '%s' has shape %s, but the config implies %s; the "
                           "config (dim, ffn_dim, text_dim, in/out_dim, layers) does not match "
                           "the weights",
                           prefix, name, files[i]->path, got, want);
        if (!is_float(e->dtype))
            return VS_FAIL("tensor '%s%s' in '%s' has dtype %s; expected a float type",
                           prefix, name, files[i]->path, vs_st_dtype_name(e->dtype));
        entries[i] = e;
    }
    return 0;
}

int wan_model_load(wan_model *m, const vs_wan_config *cfg, const char *path, vs_device device) {
    memset(m, 0, sizeof *m);
    if (wan_config_validate(cfg) != 0) return -1;
    vs_checkpoint ck;
    if (vs_checkpoint_open(&ck, path) != 0) return -1;

    // Which prefix and which naming: look for tensors that exist in exactly one naming.
    const char *prefix = NULL;
    int diffusers = 0;
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0] && !prefix; p++) {
        if (find(&ck, prefixes[p], "time_embedding.0.weight", NULL)) {
            prefix = prefixes[p];
        } else if (find(&ck, prefixes[p], "condition_embedder.time_embedder.linear_1.weight", NULL)) {
            prefix = prefixes[p];
            diffusers = 1;
        }
    }
    if (!prefix) {
        vs_checkpoint_close(&ck);
        return VS_FAIL("checkpoint '%s' has neither 'time_embedding.0.weight' (official Wan "
                       "naming) nor 'condition_embedder.time_embedder.linear_1.weight' (diffusers "
                       "naming), with or without a 'model.diffusion_model.' prefix: not a Wan DiT",
                       path);
    }

    m->cfg = *cfg;
    m->device = VS_DEV_CPU;
    m->blocks = vs_calloc((size_t)cfg->num_layers, sizeof *m->blocks);
    int n;
    wan_param *ps = wan_params(m, &n);
    const vs_st_entry **entries = vs_calloc((size_t)n, sizeof *entries);
    const vs_st_file **files = vs_calloc((size_t)n, sizeof *files);
    int rc = check_all(&ck, path, ps, n, prefix, diffusers, entries, files);
    for (int i = 0; rc == 0 && i < n; i++) {
        *ps[i].slot = vs_tensor_new(VS_F32, VS_DEV_CPU, ps[i].ndim, ps[i].shape);
        rc = vs_st_read_f32(files[i], entries[i], ps[i].slot->data);
    }
    free(entries);
    free(files);
    free(ps);
    vs_checkpoint_close(&ck);
    if (rc != 0) {
        wan_model_free(m);  // frees what was allocated (unset slots are empty)
        return -1;
    }
    wan_model_place(m, device);
    return 0;
}
