// Reading the diffusers fixtures of tools/make_wan_fixtures.py (tests/fixtures/wan_*.safetensors):
// shared by the CPU parity test and its GPU twin.
#pragma once
#include <stdio.h>
#include <stdlib.h>

#include "runtime/vs_config.h"
#include "runtime/vs_safetensors.h"
#include "runtime/wan_model.h"
#include "tests/vs_test.h"

// tests/fixtures/<name> under the source tree ctest passes in VS_SOURCE_DIR.
static const char *wan_fixture(const char *name) {
    static char path[1024];
    const char *root = getenv("VS_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", root ? root : ".", name);
    return path;
}

// One fixture tensor as f32 (malloc'd); *numel its size, *view a CPU view of it (each may be
// NULL). Exits if the tensor is absent: the fixture is broken.
static float *wan_fixture_read(const vs_st_file *f, const char *name, int64_t *numel,
                               vs_tensor *view) {
    const vs_st_entry *e = vs_st_find(f, name);
    if (!e) {
        fprintf(stderr, "fixture %s lacks %s: rerun tools/make_wan_fixtures.py\n", f->path, name);
        exit(1);
    }
    float *d = malloc((size_t)vs_st_numel(e) * sizeof(float));
    VS_TRY(vs_st_read_f32(f, e, d), "fixture unreadable: rerun tools/make_wan_fixtures.py");
    if (numel) *numel = vs_st_numel(e);
    if (view) *view = vs_tensor_view(d, VS_F32, VS_DEV_CPU, e->ndim, e->shape);
    return d;
}

// The model config the fixture was made with ("meta.config": dim, heads, ffn, layers, in, out,
// text_dim, text_len, freq_dim).
static vs_wan_config wan_fixture_config(const vs_st_file *f) {
    int64_t n;
    float *v = wan_fixture_read(f, "meta.config", &n, NULL);
    vs_wan_config c;
    vs_wan_config_defaults(&c);
    c.dim = (int)v[0];
    c.num_heads = (int)v[1];
    c.ffn_dim = (int)v[2];
    c.num_layers = (int)v[3];
    c.in_dim = (int)v[4];
    c.out_dim = (int)v[5];
    c.text_dim = (int)v[6];
    c.text_len = (int)v[7];
    c.freq_dim = (int)v[8];
    free(v);
    return c;
}

// One parity case: the reference file, the model loaded from a weights file (either naming),
// and the reference inputs (latent and text context as CPU views; the timesteps).
typedef struct {
    vs_st_file ref;
    vs_wan_config cfg;
    wan_model m;
    vs_tensor latent, context;
    float *latent_d, *context_d, *ts;
    int64_t n_ts;
} wan_case;

// Opens tests/fixtures/<ref_name> and loads <weights> on `device`. On failure records a failed
// check and returns -1 with nothing left open.
static int wan_case_open(wan_case *wc, const char *weights, const char *ref_name,
                         vs_device device) {
    if (vs_st_open(&wc->ref, wan_fixture(ref_name)) != 0) {
        CHECK_MSG(0, "cannot open %s: %s", ref_name, vs_last_error());
        return -1;
    }
    wc->cfg = wan_fixture_config(&wc->ref);
    if (wan_model_load(&wc->m, &wc->cfg, wan_fixture(weights), device) != 0) {
        CHECK_MSG(0, "load %s on %s: %s", weights, device == VS_DEV_CUDA ? "CUDA" : "the CPU",
                  vs_last_error());
        vs_st_close(&wc->ref);
        return -1;
    }
    wc->latent_d = wan_fixture_read(&wc->ref, "input.latent", NULL, &wc->latent);
    wc->context_d = wan_fixture_read(&wc->ref, "input.context", NULL, &wc->context);
    wc->ts = wan_fixture_read(&wc->ref, "meta.timesteps", &wc->n_ts, NULL);
    return 0;
}

static void wan_case_close(wan_case *wc) {
    free(wc->ts);
    free(wc->latent_d);
    free(wc->context_d);
    wan_model_free(&wc->m);
    vs_st_close(&wc->ref);
}
