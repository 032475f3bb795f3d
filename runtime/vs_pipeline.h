// The denoising loop: initial noise, then per step the conditional and unconditional velocity,
// classifier-free guidance and one sampler step; the result is the final latent [C, T, H, W].
//
// The loop knows nothing of the model: it asks a vs_denoiser for velocities. A single process
// uses the Wan denoiser (runtime/vs_wan_denoiser.h); a multi-rank job supplies its own (token
// shards, Ulysses hook, CFG branches on separate rank groups) and reuses the noise, sampler and
// CFG pieces, which are all elementwise over a latent or a shard of it.
#pragma once
#include <stdint.h>

#include "runtime/vs_attention_policy.h"
#include "runtime/vs_sampler.h"
#include "runtime/vs_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    void *ctx;
    // v [C, T, H, W] = the model's velocity at latent x [C, T, H, W] (f32, CPU) and integer
    // timestep t, with the context of `branch` (VS_BRANCH_COND or VS_BRANCH_UNCOND).
    // Returns 0, or -1 with vs_last_error().
    int (*velocity)(void *ctx, int branch, int64_t t, const vs_tensor *x, vs_tensor *v);
} vs_denoiser;

typedef struct {
    int channels, frames, height, width;  // latent [C, T, H, W]
    int steps;
    double shift;
    float guide_scale;
    uint64_t seed;
    vs_sampler_kind sampler;
    int has_uncond;  // 0: no negative context; with guide_scale == 1 the uncond pass is skipped too
} vs_pipeline_params;

typedef struct {
    double denoise_s;   // the whole loop
    double forward_s;   // inside the denoiser
    double sampler_s;   // CFG + sampler updates
    int forwards;       // denoiser calls
} vs_pipeline_timings;

// Called after every step with the steps done so far and the seconds since the loop started.
typedef void (*vs_progress_fn)(void *ctx, int done, int steps, double elapsed_s);

// Element j of the initial noise of `seed`: vs_normal_at(seed, j), the flat index over
// [C, T, H, W]. Fills x[0, n) with elements first .. first + n - 1, so any shard of any rank
// layout draws the same numbers.
void vs_pipeline_noise(uint64_t seed, int64_t first, int64_t n, float *x);

// 1 when the run needs the unconditional pass.
int vs_pipeline_uses_uncond(const vs_pipeline_params *p);

// Runs the loop. latent: [C, T, H, W] f32 CPU, written with the final x0. policy (may be NULL)
// gets the step index before each step. Returns 0, or -1 when the denoiser failed.
int vs_pipeline_run(const vs_pipeline_params *p, const vs_denoiser *denoiser,
                    vs_attention_policy *policy, vs_progress_fn progress, void *progress_ctx,
                    vs_tensor *latent, vs_pipeline_timings *timings);

#ifdef __cplusplus
}
#endif
