#include "runtime/vs_schedule.h"

#include <stdlib.h>

#include "runtime/vs_check.h"

int vs_schedule_init(vs_schedule *s, int steps, double shift) {
    s->sigmas = NULL;
    s->timesteps = NULL;
    if (steps < 1 || steps > VS_SCHEDULE_MAX_STEPS)
        return VS_FAIL("schedule: steps must be in [1, %d], got %d", VS_SCHEDULE_MAX_STEPS, steps);
    if (!(shift > 0)) return VS_FAIL("schedule: shift must be > 0, got %g", shift);
    s->steps = steps;
    s->shift = shift;
    s->sigmas = vs_malloc(sizeof(float) * (size_t)(steps + 1));
    s->timesteps = vs_malloc(sizeof(int64_t) * (size_t)steps);
    // The official scheduler derives sigma_max from an f32 tensor: 1 - 1/1000 rounded to f32.
    const double sigma_max = (double)0.999f, sigma_min = 0.0;
    for (int i = 0; i < steps; i++) {
        // np.linspace(start, stop, N + 1)[i] = start + i * (stop - start) / N
        double u = sigma_max + (double)i * ((sigma_min - sigma_max) / (double)steps);
        double sigma = shift * u / (1.0 + (shift - 1.0) * u);
        s->sigmas[i] = (float)sigma;
        s->timesteps[i] = (int64_t)(sigma * 1000.0);
    }
    s->sigmas[steps] = 0.0f;
    return 0;
}

void vs_schedule_free(vs_schedule *s) {
    free(s->sigmas);
    free(s->timesteps);
    s->sigmas = NULL;
    s->timesteps = NULL;
}
