// Flow-matching samplers over the schedule of vs_schedule.h: UniPC (the official Wan solver:
// multistep order 2, bh2, x0 prediction, corrector on, lower order on the first and last step)
// and Euler, plus classifier-free guidance.
//
// The state is explicit: the x0-prediction history and the sample before the last predictor
// live in vs_sampler, so a step is a pure function of (state, x, velocity). Every update is
// elementwise, so a rank may step its own shard of the latent with its own vs_sampler of n_local
// elements and get the same numbers as a single process. Coefficients are computed in double
// from the f32 sigmas; each element is updated in double and stored as f32.
#pragma once
#include <stdint.h>

#include "runtime/vs_schedule.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { VS_SAMPLER_UNIPC = 0, VS_SAMPLER_EULER = 1 } vs_sampler_kind;

typedef struct {
    vs_sampler_kind kind;
    const vs_schedule *schedule;  // borrowed; outlives the sampler
    int64_t n;                    // elements per latent (or per shard)
    int step;                     // index i of the next step, 0..N
    int prev_order;               // order of the last predictor (the corrector's order)
    float *m_prev;                // [n] x0 prediction of step i-1 (UniPC)
    float *m_prev2;               // [n] x0 prediction of step i-2 (UniPC)
    float *x_prev;                // [n] the (corrected) sample the last predictor started from
    float *m_cur;                 // [n] scratch: this step's x0 prediction
} vs_sampler;

// "unipc" / "euler" -> kind; returns -1 for an unknown name.
int vs_sampler_parse(const char *name, vs_sampler_kind *kind);
const char *vs_sampler_name(vs_sampler_kind kind);

void vs_sampler_init(vs_sampler *s, vs_sampler_kind kind, const vs_schedule *schedule, int64_t n);
void vs_sampler_free(vs_sampler *s);

// The timestep the model sees at the next step (schedule->timesteps[step]).
int64_t vs_sampler_timestep(const vs_sampler *s);

// One step: x [n] holds the sample at sigma_i on entry and the sample at sigma_{i+1} on return;
// v [n] is the (guided) velocity the model predicted at (x, t_i). After the last step x is the
// final latent x0.
void vs_sampler_step(vs_sampler *s, float *x, const float *v);

// v = v_u + g (v_c - v_u), n elements; out may alias v_c or v_u.
void vs_cfg_combine(float *out, const float *v_cond, const float *v_uncond, float guide_scale,
                    int64_t n);

#ifdef __cplusplus
}
#endif
