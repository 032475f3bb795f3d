// The attention policy: dense warm-up by step and layer, SVG2 after it with one centroid cache
// per (layer, branch), density bookkeeping, and the single-process hook's transposition.
#include <math.h>
#include <string.h>

#include "runtime/vs_attention_policy.h"
#include "runtime/vs_attention_single.h"
#include "runtime/vs_rng.h"
#include "tests/vs_test.h"

enum { H = 2, S = 40, D = 8, LAYERS = 3 };

static void fill(float *x, int64_t n, uint64_t seed) {
    for (int64_t i = 0; i < n; i++) x[i] = vs_normal_at(seed, (uint64_t)i);
}

static void test_warmup_schedule(void) {
    vs_svg2_preset pre = vs_svg2_tiny_preset();
    pre.dense_step_fraction = 0.2f;
    pre.dense_layers = 1;
    vs_attention_policy p;
    vs_attention_policy_init(&p, VS_ATTENTION_SVG2, &pre, LAYERS, H, D, 10);
    CHECK(p.dense_steps == 2);
    vs_attention_policy_set_step(&p, 1);
    CHECK(vs_attention_policy_is_dense(&p, 2));
    vs_attention_policy_set_step(&p, 2);
    CHECK(!vs_attention_policy_is_dense(&p, 2) && !vs_attention_policy_is_dense(&p, 1));
    CHECK(vs_attention_policy_is_dense(&p, 0));
    vs_attention_policy_free(&p);
    vs_attention_policy_init(&p, VS_ATTENTION_DENSE, &pre, LAYERS, H, D, 10);
    vs_attention_policy_set_step(&p, 9);
    CHECK(vs_attention_policy_is_dense(&p, 2));
    vs_attention_policy_free(&p);
    vs_attention_mode m;
    CHECK(vs_attention_mode_parse("svg2", &m) == 0 && m == VS_ATTENTION_SVG2);
    CHECK(vs_attention_mode_parse("dense", &m) == 0 && m == VS_ATTENTION_DENSE);
    CHECK(vs_attention_mode_parse("sparse", &m) == -1);
}

static void test_run_and_cache(void) {
    static float q[H * S * D], k[H * S * D], v[H * S * D], out[H * S * D], ref[H * S * D];
    fill(q, H * S * D, 1);
    fill(k, H * S * D, 2);
    fill(v, H * S * D, 3);
    vs_dense_attention_cpu(q, k, v, H, S, D, ref);
    const int64_t shape[3] = {H, S, D};
    vs_tensor tq = vs_tensor_view(q, VS_F32, VS_DEV_CPU, 3, shape);
    vs_tensor tk = vs_tensor_view(k, VS_F32, VS_DEV_CPU, 3, shape);
    vs_tensor tv = vs_tensor_view(v, VS_F32, VS_DEV_CPU, 3, shape);
    vs_tensor to = vs_tensor_view(out, VS_F32, VS_DEV_CPU, 3, shape);

    // top_p = 1 keeps every block: SVG2 equals dense, density 1.
    vs_svg2_preset pre = vs_svg2_tiny_preset();
    pre.params.top_p = 1.0f;
    pre.dense_step_fraction = 0.5f;
    vs_attention_policy p;
    vs_attention_policy_init(&p, VS_ATTENTION_SVG2, &pre, LAYERS, H, D, 4);
    vs_attention_policy_set_step(&p, 0);
    vs_attention_policy_run(&p, 2, VS_BRANCH_COND, &tq, &tk, &tv, &to);  // warm-up: dense
    CHECK(vs_rel_l2(out, ref, H * S * D) < 1e-6);
    CHECK(vs_attention_policy_mean_density(&p, 2) == -1.0);
    CHECK(p.caches[2 * VS_BRANCHES].q_centroids == NULL);
    vs_attention_policy_set_step(&p, 2);
    vs_attention_policy_run(&p, 2, VS_BRANCH_COND, &tq, &tk, &tv, &to);
    CHECK(vs_rel_l2(out, ref, H * S * D) < 1e-5);
    CHECK_NEAR(vs_attention_policy_mean_density(&p, 2), 1.0, 1e-12);
    CHECK(p.caches[2 * VS_BRANCHES + VS_BRANCH_COND].valid == 1);
    CHECK(p.caches[2 * VS_BRANCHES + VS_BRANCH_UNCOND].q_centroids == NULL);
    vs_attention_policy_run(&p, 2, VS_BRANCH_UNCOND, &tq, &tk, &tv, &to);
    CHECK(p.caches[2 * VS_BRANCHES + VS_BRANCH_UNCOND].valid == 1);
    CHECK(p.density_calls[2] == 2 && p.density_calls[1] == 0);
    vs_attention_policy_free(&p);

    // A small top_p computes a fraction of the blocks; cluster counts are capped at S.
    pre = vs_svg2_tiny_preset();
    pre.params.top_p = 0.3f;
    pre.params.min_kc_ratio = 0.0f;
    pre.params.C_k = 1000;
    pre.dense_step_fraction = 0.0f;
    vs_attention_policy_init(&p, VS_ATTENTION_SVG2, &pre, LAYERS, H, D, 4);
    vs_attention_policy_run(&p, 1, VS_BRANCH_COND, &tq, &tk, &tv, &to);
    double dens = vs_attention_policy_mean_density(&p, 1);
    CHECK_MSG(dens > 0 && dens < 0.9, "density %g", dens);
    CHECK(p.caches[VS_BRANCHES].C_k == S);
    double err = vs_rel_l2(out, ref, H * S * D);
    CHECK_MSG(err > 1e-4 && isfinite(err), "a sparse result differs from dense (%g)", err);
    vs_attention_policy_free(&p);
}

static void test_single_hook(void) {
    // q, k, v token-major [S, H, D]; the hook must equal dense attention per head.
    static float q[S * H * D], k[S * H * D], v[S * H * D], out[S * H * D];
    static float qh[H * S * D], kh[H * S * D], vh[H * S * D], ref[H * S * D];
    fill(q, S * H * D, 4);
    fill(k, S * H * D, 5);
    fill(v, S * H * D, 6);
    for (int i = 0; i < S; i++)
        for (int h = 0; h < H; h++)
            for (int d = 0; d < D; d++) {
                qh[(h * S + i) * D + d] = q[(i * H + h) * D + d];
                kh[(h * S + i) * D + d] = k[(i * H + h) * D + d];
                vh[(h * S + i) * D + d] = v[(i * H + h) * D + d];
            }
    vs_dense_attention_cpu(qh, kh, vh, H, S, D, ref);
    vs_svg2_preset pre = vs_svg2_tiny_preset();
    vs_attention_policy p;
    vs_attention_policy_init(&p, VS_ATTENTION_DENSE, &pre, LAYERS, H, D, 4);
    vs_attention_single s;
    vs_attention_single_init(&s, &p);
    vs_attention_hook hook = vs_attention_single_hook(&s);
    const int64_t shape[3] = {S, H, D}, oshape[2] = {S, H * D};
    vs_tensor tq = vs_tensor_view(q, VS_F32, VS_DEV_CPU, 3, shape);
    vs_tensor tk = vs_tensor_view(k, VS_F32, VS_DEV_CPU, 3, shape);
    vs_tensor tv = vs_tensor_view(v, VS_F32, VS_DEV_CPU, 3, shape);
    vs_tensor to = vs_tensor_view(out, VS_F32, VS_DEV_CPU, 2, oshape);
    hook.self_attention(hook.ctx, 1, &tq, &tk, &tv, &to);
    double worst = 0;
    for (int i = 0; i < S; i++)
        for (int h = 0; h < H; h++)
            for (int d = 0; d < D; d++)
                worst = fmax(worst, fabs(out[(i * H + h) * D + d] - ref[(h * S + i) * D + d]));
    CHECK_MSG(worst < 1e-6, "hook vs head-major dense: %g", worst);
    vs_attention_single_free(&s);
    vs_attention_policy_free(&p);
}

int main(void) {
    RUN_TEST(test_warmup_schedule);
    RUN_TEST(test_run_and_cache);
    RUN_TEST(test_single_hook);
    return vs_test_finish();
}
