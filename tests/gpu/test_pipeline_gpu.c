// `vidsparse generate`'s single-process path on CUDA, through the library: the tiny model's whole
// denoising loop (pipeline on the CPU, model behind vs_device_denoiser on the GPU) against the
// same loop on the CPU, and run twice on the GPU (bitwise equal). Plus the property the
// multi-rank GPU invariance test (tests/test_generate_gpu.sh) rests on: a GEMM computes a row the
// same bits whatever other rows share the call (token shards of different sizes).
//
// Tolerances (relative L2 of the final latent against the f32 CPU run): the GPU runs bf16
// matrices and activations with f32 accumulation (docs/wan.md); a single forward is within 2e-2
// of float64 (tests/gpu/test_wan_gpu.c), and guidance (scale 5) amplifies the error of the
// difference v_cond - v_uncond, so dense attention gets 5e-2. SVG2 may assign a near-tie token to
// another cluster when Q/K are bf16, which moves whole blocks in or out of the attention mask: its
// bound is 1.5e-1. A layout or indexing bug gives errors of order 1. The measured values are
// printed, to tighten the bounds from.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/ops_cuda.h"
#include "runtime/vs_device_denoiser.h"
#include "runtime/vs_ops.h"
#include "runtime/vs_rng.h"
#include "runtime/vs_wan_denoiser.h"
#include "runtime/wan_model.h"
#include "tests/vs_test.h"

#define TOL_DENSE 5e-2
#define TOL_SVG2 1.5e-1

enum { WEIGHTS_SEED = 7, CONTEXT_TOKENS = 16 };

// The tiny context cmd_generate builds (any fixed values would do; these match the binary).
static vs_tensor context(const vs_wan_config *cfg, uint64_t seed) {
    const int64_t shape[2] = {CONTEXT_TOKENS, cfg->text_dim};
    vs_tensor t = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, shape);
    for (int64_t i = 0; i < vs_tensor_numel(&t); i++) ((float *)t.data)[i] = vs_normal_at(seed, (uint64_t)i);
    return t;
}

// The tiny model at 128x128, 9 frames (latent [16, 3, 16, 16], 192 tokens), 4 UniPC steps with
// guidance, on `device`; writes the final latent (malloc'ed) to *out.
static void run(const vs_wan_config *cfg, vs_device device, vs_attention_mode mode, float **out, int64_t *n) {
    wan_model m;
    VS_TRY(wan_model_random(&m, cfg, WEIGHTS_SEED, device), "tiny model");
    vs_tensor cond = context(cfg, 0x7079636f6e64ull), uncond = context(cfg, 0x70796e6567ull);
    vs_svg2_preset preset = vs_svg2_tiny_preset();
    const vs_pipeline_params pp = {cfg->out_dim, 3, 16, 16, 4, 5.0, 5.0f, 42, VS_SAMPLER_UNIPC, 1};
    vs_attention_policy policy;
    vs_attention_policy_init(&policy, mode, &preset, cfg->num_layers, cfg->num_heads, 0,
                             cfg->dim / cfg->num_heads, pp.steps);
    vs_wan_denoiser wd;
    vs_wan_denoiser_init(&wd, &m, &cond, &uncond, &policy);
    const int64_t shape[4] = {pp.channels, pp.frames, pp.height, pp.width};
    vs_device_denoiser dd;
    vs_device_denoiser_init(&dd, vs_wan_denoiser_as_denoiser(&wd), device, shape);
    vs_denoiser den = vs_device_denoiser_as_denoiser(&dd);
    vs_tensor latent = vs_tensor_new(VS_F32, VS_DEV_CPU, 4, shape);
    vs_pipeline_timings tm;
    CHECK(vs_pipeline_run(&pp, &den, &policy, NULL, NULL, &latent, &tm) == 0);
    CHECK(tm.forwards == 2 * pp.steps);
    *n = vs_tensor_numel(&latent);
    *out = malloc((size_t)*n * sizeof(float));
    memcpy(*out, latent.data, (size_t)*n * sizeof(float));
    vs_tensor_free(&latent);
    vs_device_denoiser_free(&dd);
    vs_wan_denoiser_free(&wd);
    vs_attention_policy_free(&policy);
    wan_model_free(&m);
    vs_tensor_free(&cond);
    vs_tensor_free(&uncond);
}

static int all_finite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static void check_mode(const vs_wan_config *cfg, vs_attention_mode mode, double tol) {
    const char *name = mode == VS_ATTENTION_SVG2 ? "svg2" : "dense";
    float *cpu, *gpu, *again;
    int64_t n, n2, n3;
    run(cfg, VS_DEV_CPU, mode, &cpu, &n);
    run(cfg, VS_DEV_CUDA, mode, &gpu, &n2);
    run(cfg, VS_DEV_CUDA, mode, &again, &n3);
    CHECK(n == n2 && n == n3);
    CHECK(all_finite(gpu, n));
    const double err = vs_rel_l2(gpu, cpu, (long)n);
    printf("  %s, %d heads of %d: GPU vs CPU latent relative L2 %.3g (limit %.0e)\n", name,
           cfg->num_heads, cfg->dim / cfg->num_heads, err, tol);
    CHECK_MSG(err <= tol, "%s: GPU latent differs from the CPU one by %.3g", name, err);
    CHECK_MSG(memcmp(gpu, again, (size_t)n * sizeof(float)) == 0,
              "%s: two GPU runs differ (the GPU path must be deterministic)", name);
    free(cpu);
    free(gpu);
    free(again);
}

static void test_dense(void) {
    vs_wan_config cfg = wan_tiny_config();  // 2 heads of 64
    check_mode(&cfg, VS_ATTENTION_DENSE, TOL_DENSE);
}

static void test_svg2(void) {
    vs_wan_config cfg = wan_tiny_config();
    check_mode(&cfg, VS_ATTENTION_SVG2, TOL_SVG2);
}

static void test_head_dim_128(void) {
    vs_wan_config cfg = wan_tiny_config();
    cfg.num_heads = 1;  // `generate --model tiny --tiny-heads 1`
    check_mode(&cfg, VS_ATTENTION_DENSE, TOL_DENSE);
}

// vs_linear over rows [0, M) in one call and over shards of them: the shard's rows must be the
// same bits (token shards of a Ulysses layout run the same GEMMs on fewer rows).
static void test_gemm_rows_do_not_depend_on_the_shard(void) {
    const int64_t M = 192;
    const int64_t NK[][2] = {{128, 64}, {128, 128}, {256, 128}, {128, 256}, {64, 128}};
    const int64_t cuts[] = {96, 67, 1};  // 2 ranks, an uneven split, one token
    for (size_t c = 0; c < sizeof NK / sizeof NK[0]; c++) {
        const int64_t N = NK[c][0], K = NK[c][1];
        vs_tensor xh = vs_tensor_new(VS_BF16, VS_DEV_CPU, 2, (int64_t[]){M, K});
        vs_tensor wh = vs_tensor_new(VS_BF16, VS_DEV_CPU, 2, (int64_t[]){N, K});
        vs_tensor bh = vs_tensor_new(VS_F32, VS_DEV_CPU, 1, (int64_t[]){N});
        for (int64_t i = 0; i < M * K; i++) ((uint16_t *)xh.data)[i] = vs_f32_to_bf16(vs_normal_at(11, (uint64_t)i));
        for (int64_t i = 0; i < N * K; i++) ((uint16_t *)wh.data)[i] = vs_f32_to_bf16(vs_normal_at(12, (uint64_t)i));
        for (int64_t i = 0; i < N; i++) ((float *)bh.data)[i] = 0.1f * vs_normal_at(13, (uint64_t)i);
        vs_tensor x = vs_tensor_new(VS_BF16, VS_DEV_CUDA, 2, xh.shape), w = vs_tensor_new(VS_BF16, VS_DEV_CUDA, 2, wh.shape);
        vs_tensor b = vs_tensor_new(VS_F32, VS_DEV_CUDA, 1, bh.shape);
        vs_tensor_copy(&x, &xh);
        vs_tensor_copy(&w, &wh);
        vs_tensor_copy(&b, &bh);
        vs_tensor full = vs_tensor_new(VS_BF16, VS_DEV_CUDA, 2, (int64_t[]){M, N});
        vs_linear(&full, &x, &w, &b, VS_ACT_NONE);
        vs_tensor full_h = vs_tensor_new(VS_BF16, VS_DEV_CPU, 2, full.shape);
        vs_cuda_sync();
        vs_tensor_copy(&full_h, &full);
        for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
            const int64_t m = cuts[k];
            vs_tensor xs = vs_rows(&x, M - m, m);  // the last m rows: a shard that starts mid-way
            vs_tensor part = vs_tensor_new(VS_BF16, VS_DEV_CUDA, 2, (int64_t[]){m, N});
            vs_linear(&part, &xs, &w, &b, VS_ACT_NONE);
            vs_tensor part_h = vs_tensor_new(VS_BF16, VS_DEV_CPU, 2, part.shape);
            vs_cuda_sync();
            vs_tensor_copy(&part_h, &part);
            CHECK_MSG(memcmp(part_h.data, (uint16_t *)full_h.data + (M - m) * N, (size_t)(m * N) * 2) == 0,
                      "GEMM N %lld K %lld: rows of a %lld-row call differ from the same rows of the "
                      "%lld-row call (cuBLASLt picked a different reduction order for the smaller M; "
                      "multi-rank GPU runs cannot then match one rank bit for bit)",
                      (long long)N, (long long)K, (long long)m, (long long)M);
            vs_tensor_free(&part);
            vs_tensor_free(&part_h);
        }
        vs_tensor *ts[] = {&xh, &wh, &bh, &x, &w, &b, &full, &full_h};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) vs_tensor_free(ts[i]);
    }
}

int main(void) {
    if (vs_cuda_device_count() == 0) VS_TEST_SKIP("no CUDA GPU visible");
    VS_TRY(vs_ops_cuda_init(0), "CUDA init");
    RUN_TEST(test_dense);
    RUN_TEST(test_svg2);
    RUN_TEST(test_head_dim_128);
    RUN_TEST(test_gemm_rows_do_not_depend_on_the_shard);
    vs_ops_cuda_shutdown();
    return vs_test_finish();
}
