// The whole single-process pipeline (noise, Wan DiT forward with dense attention through the
// policy hook, CFG, UniPC / Euler) against diffusers' WanTransformer3DModel in float64 driven by
// the official sampler formulas: tests/fixtures/pipeline_tiny.safetensors from
// tools/make_pipeline_fixtures.py; the C side loads the same weights in the official names
// (wan_tiny_official.safetensors), the reference used the diffusers file.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_config.h"
#include "runtime/vs_pipeline.h"
#include "runtime/vs_safetensors.h"
#include "runtime/vs_wan_denoiser.h"
#include "runtime/wan_model.h"
#include "tests/vs_test.h"

static vs_tensor read_tensor(const vs_st_file *f, const char *name) {
    const vs_st_entry *e = vs_st_find(f, name);
    if (!e) {
        fprintf(stderr, "fixture has no %s\n", name);
        exit(1);
    }
    vs_tensor t = vs_tensor_new(VS_F32, VS_DEV_CPU, e->ndim, e->shape);
    if (vs_st_read_f32(f, e, t.data) != 0) {
        fprintf(stderr, "%s\n", vs_last_error());
        exit(1);
    }
    return t;
}

static void test_pipeline_vs_diffusers(void) {
    const char *dir = getenv("VS_SOURCE_DIR");
    char cfg_path[1024], weights[1024], fixture[1024];
    snprintf(cfg_path, sizeof cfg_path, "%s/tests/fixtures/wan_tiny_config.json", dir ? dir : ".");
    snprintf(weights, sizeof weights, "%s/tests/fixtures/wan_tiny_official.safetensors", dir ? dir : ".");
    snprintf(fixture, sizeof fixture, "%s/tests/fixtures/pipeline_tiny.safetensors", dir ? dir : ".");
    vs_wan_config cfg;
    CHECK_MSG(vs_wan_config_load(&cfg, cfg_path) == 0, "%s", vs_last_error());
    wan_model model;
    int loaded = wan_model_load(&model, &cfg, weights, VS_DEV_CPU) == 0;
    CHECK_MSG(loaded, "%s", vs_last_error());
    vs_st_file f;
    int opened = vs_st_open(&f, fixture) == 0;
    CHECK_MSG(opened, "%s", vs_last_error());
    if (!loaded || !opened) return;
    vs_tensor ctx = read_tensor(&f, "context"), neg = read_tensor(&f, "negative_context");
    const char *names[2] = {"expected.unipc", "expected.euler"};
    for (int k = 0; k < 2; k++) {
        vs_tensor expect = read_tensor(&f, names[k]);
        vs_svg2_preset preset = vs_svg2_tiny_preset();
        vs_attention_policy policy;
        vs_attention_policy_init(&policy, VS_ATTENTION_DENSE, &preset, cfg.num_layers,
                                 cfg.num_heads, 0, cfg.dim / cfg.num_heads, 4);
        vs_wan_denoiser wd;
        vs_wan_denoiser_init(&wd, &model, &ctx, &neg, &policy);
        vs_denoiser den = vs_wan_denoiser_as_denoiser(&wd);
        vs_pipeline_params p = {4, 2, 8, 8, 4, 5.0, 5.0f, 2024,
                                k == 0 ? VS_SAMPLER_UNIPC : VS_SAMPLER_EULER, 1};
        vs_tensor lat = vs_tensor_new(VS_F32, VS_DEV_CPU, 4, expect.shape);
        vs_pipeline_timings tm;
        CHECK(vs_pipeline_run(&p, &den, &policy, NULL, NULL, &lat, &tm) == 0);
        CHECK(tm.forwards == 8);
        double err = vs_rel_l2(lat.data, expect.data, vs_tensor_numel(&expect));
        printf("%s: 4 steps with CFG vs diffusers float64: relative L2 error %.3g\n", names[k], err);
        CHECK_MSG(err < 1e-4, "%s: %g", names[k], err);
        vs_tensor_free(&lat);
        vs_tensor_free(&expect);
        vs_wan_denoiser_free(&wd);
        vs_attention_policy_free(&policy);
    }
    vs_tensor_free(&ctx);
    vs_tensor_free(&neg);
    vs_st_close(&f);
    wan_model_free(&model);
}

int main(void) {
    RUN_TEST(test_pipeline_vs_diffusers);
    return vs_test_finish();
}
