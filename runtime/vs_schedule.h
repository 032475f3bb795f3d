// The shifted flow-matching noise schedule of the official Wan sampler (wan21-spec.md 4.2).
//
// sigma_max = 0.999 rounded to f32, u = linspace(sigma_max, 0, N+1)[:N] in double,
// sigma = S u / (1 + (S-1) u), t = int64(1000 sigma) (truncated: the integer the DiT sees),
// then the sigmas are stored as f32 with a final 0. This matches generate.py, not diffusers
// (whose last t for N=50, S=5 is 96 instead of 92).
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VS_SCHEDULE_MAX_STEPS 1000

typedef struct {
    int steps;            // N
    double shift;         // S
    float *sigmas;        // [N + 1], f32 as the official code stores them; sigmas[N] == 0
    int64_t *timesteps;   // [N], what the model is conditioned on
} vs_schedule;

// steps in [1, VS_SCHEDULE_MAX_STEPS], shift > 0. Returns -1 (vs_last_error) otherwise.
int vs_schedule_init(vs_schedule *s, int steps, double shift);
void vs_schedule_free(vs_schedule *s);

#ifdef __cplusplus
}
#endif
