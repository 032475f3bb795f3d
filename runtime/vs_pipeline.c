#include "runtime/vs_pipeline.h"

#include <string.h>

#include "runtime/vs_check.h"
#include "runtime/vs_log.h"
#include "runtime/vs_rng.h"
#include "runtime/vs_schedule.h"

void vs_pipeline_noise(uint64_t seed, int64_t first, int64_t n, float *x) {
    for (int64_t j = 0; j < n; j++) x[j] = vs_normal_at(seed, (uint64_t)(first + j));
}

int vs_pipeline_uses_uncond(const vs_pipeline_params *p) {
    return p->has_uncond && p->guide_scale != 1.0f;
}

int vs_pipeline_run(const vs_pipeline_params *p, const vs_denoiser *denoiser,
                    vs_attention_policy *policy, vs_progress_fn progress, void *progress_ctx,
                    vs_tensor *latent, vs_pipeline_timings *timings) {
    const int64_t shape[4] = {p->channels, p->frames, p->height, p->width};
    const int64_t n = vs_shape_numel(4, shape);
    VS_ASSERT(latent->ndim == 4 && vs_tensor_numel(latent) == n && latent->dtype == VS_F32 &&
                  latent->device == VS_DEV_CPU,
              "the pipeline writes an f32 CPU latent [C, T, H, W]");
    memset(timings, 0, sizeof *timings);
    vs_schedule schedule;
    if (vs_schedule_init(&schedule, p->steps, p->shift) != 0) return -1;
    vs_sampler sampler;
    vs_sampler_init(&sampler, p->sampler, &schedule, n);
    vs_tensor v_cond = vs_tensor_new(VS_F32, VS_DEV_CPU, 4, shape);
    vs_tensor v_uncond = vs_tensor_new(VS_F32, VS_DEV_CPU, 4, shape);
    float *x = latent->data;
    vs_pipeline_noise(p->seed, 0, n, x);
    const int uncond = vs_pipeline_uses_uncond(p);

    int rc = 0;
    const double t0 = vs_now_seconds();
    for (int i = 0; i < p->steps && rc == 0; i++) {
        const int64_t t = vs_sampler_timestep(&sampler);
        if (policy) vs_attention_policy_set_step(policy, i);
        double tf = vs_now_seconds();
        rc = denoiser->velocity(denoiser->ctx, VS_BRANCH_COND, t, latent, &v_cond);
        timings->forwards++;
        if (rc == 0 && uncond) {
            rc = denoiser->velocity(denoiser->ctx, VS_BRANCH_UNCOND, t, latent, &v_uncond);
            timings->forwards++;
        }
        double ts = vs_now_seconds();
        timings->forward_s += ts - tf;
        if (rc != 0) break;
        if (uncond) vs_cfg_combine(v_cond.data, v_cond.data, v_uncond.data, p->guide_scale, n);
        vs_sampler_step(&sampler, x, v_cond.data);
        timings->sampler_s += vs_now_seconds() - ts;
        VS_DEBUG("step %d/%d: t = %lld, sigma %.6f -> %.6f", i + 1, p->steps, (long long)t,
                 schedule.sigmas[i], schedule.sigmas[i + 1]);
        if (progress) progress(progress_ctx, i + 1, p->steps, vs_now_seconds() - t0);
    }
    timings->denoise_s = vs_now_seconds() - t0;
    vs_tensor_free(&v_cond);
    vs_tensor_free(&v_uncond);
    vs_sampler_free(&sampler);
    vs_schedule_free(&schedule);
    return rc;
}
