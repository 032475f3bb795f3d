// CPU parity of the Wan DiT forward with diffusers' WanTransformer3DModel (float64 reference,
// tools/make_wan_fixtures.py): hidden states after every block and the final velocity, at two
// timesteps, for a tiny model in both namings and for one shaped like the real model (head_dim
// 128, text padded to 512). Tolerance: relative L2 error <= 1e-4.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_safetensors.h"
#include "runtime/wan_model.h"
#include "tests/vs_test.h"
#include "tests/wan_fixture.h"

#define TOL 1e-4

typedef struct {
    const vs_st_file *ref;
    int timestep;
    int layers_seen;
    double worst;
} block_check;

static void after_block(void *ctx, int layer, const vs_tensor *x) {
    block_check *bc = ctx;
    char name[64];
    snprintf(name, sizeof name, "t%d.block.%d", bc->timestep, layer);
    int64_t n;
    float *want = wan_fixture_read(bc->ref, name, &n, NULL);
    CHECK_MSG(n == vs_tensor_numel(x), "%s: %lld values vs %lld", name, (long long)n,
              (long long)vs_tensor_numel(x));
    if (n == vs_tensor_numel(x)) {
        double err = vs_rel_l2(x->data, want, (long)n);
        CHECK_MSG(err <= TOL, "%s: rel L2 %.3g", name, err);
        if (err > bc->worst) bc->worst = err;
    }
    bc->layers_seen++;
    free(want);
}

// Loads `weights` (either naming), runs every timestep of the reference file `ref_name`.
static void check_fixture(const char *weights, const char *ref_name) {
    wan_case wc;
    if (wan_case_open(&wc, weights, ref_name, VS_DEV_CPU) != 0) return;
    const vs_tensor *latent = &wc.latent;
    int64_t L = latent->shape[1] * (latent->shape[2] / 2) * (latent->shape[3] / 2);
    int64_t row_shape[2] = {L, (int64_t)wc.cfg.out_dim * 4};
    vs_tensor rows = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, row_shape);
    int64_t vel_shape[4] = {wc.cfg.out_dim, latent->shape[1], latent->shape[2], latent->shape[3]};
    vs_tensor vel = vs_tensor_new(VS_F32, VS_DEV_CPU, 4, vel_shape);
    wan_text text;  // one prompt: built once, used at every timestep
    VS_TRY(wan_text_init(&text, &wc.m, &wc.context), "text");
    for (int64_t i = 0; i < wc.n_ts; i++) {
        int t = (int)wc.ts[i];
        wan_cond c;
        VS_TRY(wan_cond_init(&c, &wc.m, t), "cond");
        block_check bc = {&wc.ref, t, 0, 0.0};
        wan_probe probe = {&bc, after_block};
        VS_TRY(wan_forward(&wc.m, &c, &text, latent, 0, L, NULL, &rows, &probe), "forward");
        wan_unpatchify(&rows, &vel);
        char name[64];
        snprintf(name, sizeof name, "t%d.out", t);
        int64_t n;
        float *want = wan_fixture_read(&wc.ref, name, &n, NULL);
        CHECK(n == vs_tensor_numel(&vel));
        double err = vs_rel_l2(vel.data, want, (long)n);
        CHECK_MSG(err <= TOL, "%s %s: rel L2 %.3g", weights, name, err);
        CHECK(bc.layers_seen == wc.cfg.num_layers);
        printf("  %-32s t=%-4d blocks worst rel L2 %.2e, output rel L2 %.2e\n", weights, t,
               bc.worst, err);
        free(want);
        wan_cond_free(&c);
    }
    wan_text_free(&text);
    vs_tensor_free(&rows);
    vs_tensor_free(&vel);
    wan_case_close(&wc);
}

static void test_tiny_diffusers(void) {
    check_fixture("wan_tiny_diffusers.safetensors", "wan_tiny_diffusers.safetensors");
}
static void test_tiny_official(void) {
    check_fixture("wan_tiny_official.safetensors", "wan_tiny_diffusers.safetensors");
}
static void test_head_dim_128(void) {
    check_fixture("wan_h128_diffusers.safetensors", "wan_h128_diffusers.safetensors");
}

int main(void) {
    RUN_TEST(test_tiny_diffusers);
    RUN_TEST(test_tiny_official);
    RUN_TEST(test_head_dim_128);
    return vs_test_finish();
}
