#include "runtime/vs_sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_check.h"

int vs_sampler_parse(const char *name, vs_sampler_kind *kind) {
    if (!strcmp(name, "unipc")) *kind = VS_SAMPLER_UNIPC;
    else if (!strcmp(name, "euler")) *kind = VS_SAMPLER_EULER;
    else return VS_FAIL("unknown sampler '%s' (choose unipc or euler)", name);
    return 0;
}

const char *vs_sampler_name(vs_sampler_kind kind) {
    return kind == VS_SAMPLER_UNIPC ? "unipc" : "euler";
}

void vs_sampler_init(vs_sampler *s, vs_sampler_kind kind, const vs_schedule *schedule, int64_t n) {
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->schedule = schedule;
    s->n = n;
    if (kind == VS_SAMPLER_UNIPC) {
        size_t bytes = sizeof(float) * (size_t)n;
        s->m_prev = vs_malloc(bytes);
        s->m_prev2 = vs_malloc(bytes);
        s->x_prev = vs_malloc(bytes);
        s->m_cur = vs_malloc(bytes);
    }
}

void vs_sampler_free(vs_sampler *s) {
    free(s->m_prev);
    free(s->m_prev2);
    free(s->x_prev);
    free(s->m_cur);
    memset(s, 0, sizeof *s);
}

int64_t vs_sampler_timestep(const vs_sampler *s) {
    VS_ASSERT(s->step < s->schedule->steps, "the sampler has already run every step");
    return s->schedule->timesteps[s->step];
}

void vs_cfg_combine(float *out, const float *v_cond, const float *v_uncond, float guide_scale,
                    int64_t n) {
    for (int64_t j = 0; j < n; j++) out[j] = v_uncond[j] + guide_scale * (v_cond[j] - v_uncond[j]);
}

// alpha(sigma) = 1 - sigma, lambda(sigma) = log alpha - log sigma (sigma > 0).
static double lambda_of(double sigma) { return log(1.0 - sigma) - log(sigma); }

static void euler_step(vs_sampler *s, float *x, const float *v) {
    const float *sig = s->schedule->sigmas;
    double dt = (double)sig[s->step + 1] - (double)sig[s->step];
    for (int64_t j = 0; j < s->n; j++) x[j] = (float)((double)x[j] + dt * (double)v[j]);
}

// UniC: corrects x (the predictor's output at sigma_i) with this step's x0 prediction m_cur,
// using the order of the predictor that produced it.
static void unipc_correct(vs_sampler *s, float *x) {
    const float *sig = s->schedule->sigmas;
    int i = s->step;
    double s_i = sig[i], s_p = sig[i - 1];
    double h = lambda_of(s_i) - lambda_of(s_p), hh = -h;
    double phi1 = expm1(hh), B = expm1(hh);  // bh2: B(h) = e^hh - 1
    double ratio = s_i / s_p, a_i = 1.0 - s_i;
    const float *m = s->m_cur, *m1 = s->m_prev, *m2 = s->m_prev2, *xp = s->x_prev;
    if (s->prev_order == 1) {
        for (int64_t j = 0; j < s->n; j++) {
            double base = ratio * xp[j] - a_i * phi1 * m1[j];
            x[j] = (float)(base - a_i * B * (0.5 * ((double)m[j] - (double)m1[j])));
        }
        return;
    }
    double r = (lambda_of(sig[i - 2]) - lambda_of(s_p)) / h;
    double g1 = phi1 / hh - 1.0, b1 = g1 / B;
    double g2 = g1 / hh - 0.5, b2 = 2.0 * g2 / B;
    double rho0 = (b1 - b2) / (1.0 - r), rho1 = b1 - rho0;
    for (int64_t j = 0; j < s->n; j++) {
        double base = ratio * xp[j] - a_i * phi1 * m1[j];
        double d1 = ((double)m2[j] - (double)m1[j]) / r;
        x[j] = (float)(base - a_i * B * (rho0 * d1 + rho1 * ((double)m[j] - (double)m1[j])));
    }
}

// UniP: predicts the sample at sigma_{i+1} from x (at sigma_i) with the given order.
static void unipc_predict(vs_sampler *s, float *x, int order) {
    const float *sig = s->schedule->sigmas;
    int i = s->step;
    const float *m = s->m_cur;
    if (sig[i + 1] == 0.0f) {  // order 1 towards sigma = 0 is exactly the x0 prediction
        memcpy(x, m, sizeof(float) * (size_t)s->n);
        return;
    }
    double s_i = sig[i], s_n = sig[i + 1];
    double h = lambda_of(s_n) - lambda_of(s_i), hh = -h;
    double phi1 = expm1(hh), B = phi1;
    double ratio = s_n / s_i, a_n = 1.0 - s_n;
    if (order == 1) {
        for (int64_t j = 0; j < s->n; j++) x[j] = (float)(ratio * x[j] - a_n * phi1 * m[j]);
        return;
    }
    double r = (lambda_of(sig[i - 1]) - lambda_of(s_i)) / h;
    const float *m1 = s->m_prev;
    for (int64_t j = 0; j < s->n; j++) {
        double d1 = ((double)m1[j] - (double)m[j]) / r;
        x[j] = (float)(ratio * x[j] - a_n * phi1 * m[j] - a_n * B * (0.5 * d1));
    }
}

static void unipc_step(vs_sampler *s, float *x, const float *v) {
    int i = s->step, N = s->schedule->steps;
    float sigma = s->schedule->sigmas[i];
    // x0 prediction from the uncorrected sample, in f32 as the official convert_model_output.
    for (int64_t j = 0; j < s->n; j++) s->m_cur[j] = x[j] - sigma * v[j];
    if (i > 0) unipc_correct(s, x);
    int order = 2;
    if (N - i < order) order = N - i;
    if (i + 1 < order) order = i + 1;
    memcpy(s->x_prev, x, sizeof(float) * (size_t)s->n);
    unipc_predict(s, x, order);
    // Shift the history: m_{i-1} becomes m_{i-2}, m_i becomes m_{i-1}.
    float *t = s->m_prev2;
    s->m_prev2 = s->m_prev;
    s->m_prev = s->m_cur;
    s->m_cur = t;
    s->prev_order = order;
}

void vs_sampler_step(vs_sampler *s, float *x, const float *v) {
    VS_ASSERT(s->step < s->schedule->steps, "the sampler has already run every step");
    if (s->kind == VS_SAMPLER_EULER) euler_step(s, x, v);
    else unipc_step(s, x, v);
    s->step++;
}
