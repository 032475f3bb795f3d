// The denoising loop against a hand-written loop over the same sampler, on an analytic denoiser:
// noise by flat index (shards draw the same numbers), CFG, the uncond pass skipped when it
// cannot matter, the policy told the step, progress reported every step.
#include <math.h>
#include <string.h>

#include "runtime/vs_pipeline.h"
#include "runtime/vs_rng.h"
#include "tests/vs_test.h"

typedef struct {
    int calls[2];
    int last_step_seen;
    vs_attention_policy *policy;
} toy;

// v = 0.3 x + (t / 1000) * (branch ? -1 : 1) * (1 + j % 3)
static int toy_velocity(void *ctx, int branch, int64_t t, const vs_tensor *x, vs_tensor *v) {
    toy *m = ctx;
    m->calls[branch]++;
    if (m->policy) m->last_step_seen = m->policy->step;
    const float *xs = x->data;
    float *vs = v->data;
    for (int64_t j = 0; j < vs_tensor_numel(x); j++)
        vs[j] = 0.3f * xs[j] + (float)t / 1000.0f * (branch ? -1.0f : 1.0f) * (float)(1 + j % 3);
    return 0;
}

static int progress_calls = 0, progress_last = 0;
static void on_progress(void *ctx, int done, int steps, double elapsed) {
    (void)ctx;
    progress_calls++;
    progress_last = done;
    CHECK(steps == 3 && elapsed >= 0);
}

static void test_noise_shards(void) {
    float whole[100], part[40];
    vs_pipeline_noise(9, 0, 100, whole);
    vs_pipeline_noise(9, 60, 40, part);
    CHECK(memcmp(whole + 60, part, sizeof part) == 0);
    double mean = 0, var = 0;
    for (int i = 0; i < 100; i++) mean += whole[i] / 100.0;
    for (int i = 0; i < 100; i++) var += (whole[i] - mean) * (whole[i] - mean) / 100.0;
    CHECK(fabs(mean) < 0.4 && var > 0.5 && var < 1.6);
    float other[100];
    vs_pipeline_noise(10, 0, 100, other);
    CHECK(memcmp(whole, other, sizeof whole) != 0);
}

static void test_loop_matches_manual(void) {
    vs_pipeline_params p = {2, 1, 3, 4, 3, 5.0, 4.0f, 77, VS_SAMPLER_UNIPC, 1};
    const int64_t shape[4] = {2, 1, 3, 4};
    const int64_t n = 24;
    vs_svg2_preset pre = vs_svg2_tiny_preset();
    vs_attention_policy policy;
    vs_attention_policy_init(&policy, VS_ATTENTION_SVG2, &pre, 2, 1, 4, 3);
    toy m = {{0, 0}, -1, &policy};
    vs_denoiser den = {&m, toy_velocity};
    vs_tensor lat = vs_tensor_new(VS_F32, VS_DEV_CPU, 4, shape);
    vs_pipeline_timings tm;
    CHECK(vs_pipeline_run(&p, &den, &policy, on_progress, NULL, &lat, &tm) == 0);
    CHECK(m.calls[0] == 3 && m.calls[1] == 3 && tm.forwards == 6);
    CHECK(m.last_step_seen == 2);
    CHECK(progress_calls == 3 && progress_last == 3);

    // The same by hand.
    vs_schedule sch;
    vs_schedule_init(&sch, 3, 5.0);
    vs_sampler smp;
    vs_sampler_init(&smp, VS_SAMPLER_UNIPC, &sch, n);
    float x[24], vc[24], vu[24];
    for (int j = 0; j < n; j++) x[j] = vs_normal_at(77, (uint64_t)j);
    toy m2 = {{0, 0}, -1, NULL};
    const int64_t flat[1] = {24};
    vs_tensor tx = vs_tensor_view(x, VS_F32, VS_DEV_CPU, 1, flat);
    vs_tensor tc = vs_tensor_view(vc, VS_F32, VS_DEV_CPU, 1, flat);
    vs_tensor tu = vs_tensor_view(vu, VS_F32, VS_DEV_CPU, 1, flat);
    for (int i = 0; i < 3; i++) {
        int64_t t = vs_sampler_timestep(&smp);
        toy_velocity(&m2, 0, t, &tx, &tc);
        toy_velocity(&m2, 1, t, &tx, &tu);
        vs_cfg_combine(vc, vc, vu, 4.0f, n);
        vs_sampler_step(&smp, x, vc);
    }
    CHECK(memcmp(x, lat.data, sizeof x) == 0);
    vs_sampler_free(&smp);
    vs_schedule_free(&sch);

    // guide_scale 1, or no negative context: one pass per step.
    p.guide_scale = 1.0f;
    m.calls[0] = m.calls[1] = 0;
    progress_calls = 0;
    CHECK(vs_pipeline_run(&p, &den, NULL, on_progress, NULL, &lat, &tm) == 0);
    CHECK(m.calls[0] == 3 && m.calls[1] == 0 && tm.forwards == 3);
    p.guide_scale = 5.0f;
    p.has_uncond = 0;
    m.calls[0] = m.calls[1] = 0;
    progress_calls = 0;
    CHECK(vs_pipeline_run(&p, &den, NULL, on_progress, NULL, &lat, &tm) == 0);
    CHECK(m.calls[1] == 0);
    vs_tensor_free(&lat);
    vs_attention_policy_free(&policy);
}

int main(void) {
    RUN_TEST(test_noise_shards);
    RUN_TEST(test_loop_matches_manual);
    return vs_test_finish();
}
