// Reading the diffusers fixtures of tools/make_wan_fixtures.py (tests/fixtures/wan_*.safetensors):
// shared by the CPU parity test and its GPU twin.
#pragma once
#include <stdio.h>
#include <stdlib.h>

#include "runtime/vs_config.h"
#include "runtime/vs_safetensors.h"

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
