// Schedule, UniPC, Euler and CFG: the spec's timestep lists, exactness and convergence order on
// analytic velocity fields, and whole trajectories against tools/make_sampler_fixtures.py
// (official formulas in numpy float64, cross-checked there against diffusers).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_check.h"
#include "runtime/vs_sampler.h"
#include "runtime/vs_schedule.h"
#include "tests/vs_test.h"

static void test_schedule_values(void) {
    vs_schedule s;
    CHECK(vs_schedule_init(&s, 50, 5.0) == 0);
    const int64_t head[6] = {999, 995, 991, 987, 982, 978};
    for (int i = 0; i < 6; i++) CHECK_MSG(s.timesteps[i] == head[i], "t[%d] = %lld", i, (long long)s.timesteps[i]);
    CHECK(s.timesteps[47] == 241 && s.timesteps[48] == 172 && s.timesteps[49] == 92);
    CHECK_NEAR(s.sigmas[0], 0.99980, 1e-5);
    CHECK_NEAR(s.sigmas[1], 0.995732, 1e-6);
    CHECK_NEAR(s.sigmas[2], 0.99153, 1e-5);
    CHECK_NEAR(s.sigmas[48], 0.172265, 1e-6);
    CHECK_NEAR(s.sigmas[49], 0.092507, 1e-6);
    CHECK(s.sigmas[50] == 0.0f);
    for (int i = 0; i < 50; i++) CHECK(s.sigmas[i + 1] < s.sigmas[i]);
    vs_schedule_free(&s);

    CHECK(vs_schedule_init(&s, 50, 3.0) == 0);
    CHECK(s.timesteps[0] == 999 && s.timesteps[1] == 992 && s.timesteps[2] == 985);
    CHECK(s.timesteps[47] == 160 && s.timesteps[48] == 111 && s.timesteps[49] == 57);
    vs_schedule_free(&s);
    CHECK(vs_schedule_init(&s, 40, 3.0) == 0);
    CHECK(s.timesteps[0] == 999 && s.timesteps[1] == 991 && s.timesteps[2] == 982);
    CHECK(s.timesteps[37] == 195 && s.timesteps[38] == 136 && s.timesteps[39] == 71);
    vs_schedule_free(&s);

    CHECK(vs_schedule_init(&s, 0, 5.0) == -1);
    CHECK(vs_schedule_init(&s, 10, 0.0) == -1);
    vs_sampler_kind k;
    CHECK(vs_sampler_parse("unipc", &k) == 0 && k == VS_SAMPLER_UNIPC);
    CHECK(vs_sampler_parse("euler", &k) == 0 && k == VS_SAMPLER_EULER);
    CHECK(vs_sampler_parse("ddim", &k) == -1);
}

static void test_cfg(void) {
    float c[3] = {1, 2, 3}, u[3] = {0.5f, 2, -1}, out[3];
    vs_cfg_combine(out, c, u, 5.0f, 3);
    CHECK_NEAR(out[0], 3.0, 1e-6);
    CHECK_NEAR(out[1], 2.0, 1e-6);
    CHECK_NEAR(out[2], 19.0, 1e-6);
    vs_cfg_combine(out, c, u, 1.0f, 3);  // g = 1 is the conditional velocity alone
    for (int i = 0; i < 3; i++) CHECK_NEAR(out[i], c[i], 1e-6);
}

// Gaussian data x0 ~ N(mu, s^2) per element: the exact flow velocity is v = (x - E[x0|x]) / sigma
// and the exact ODE solution keeps the z-score z = (x - (1-sigma) mu) / sqrt((1-sigma)^2 s^2 + sigma^2).
// With s == 0 the field is linear and both solvers are exact.
#define N_EL 8
static const double g_mu[N_EL] = {0.5, -1.0, 2.0, 0.0, -0.3, 1.2, 3.0, -2.0};

static void gaussian_velocity(const float *x, double sigma, double s, float *v) {
    for (int j = 0; j < N_EL; j++) {
        double a = 1.0 - sigma, var = a * a * s * s + sigma * sigma;
        double x0 = g_mu[j] + a * s * s / var * ((double)x[j] - a * g_mu[j]);
        v[j] = (float)(((double)x[j] - x0) / sigma);
    }
}

// Max |x_final - exact| after a whole run.
static double solve_gaussian(vs_sampler_kind kind, int steps, double shift, double s) {
    vs_schedule sch;
    VS_TRY(vs_schedule_init(&sch, steps, shift), "bad schedule");
    vs_sampler smp;
    vs_sampler_init(&smp, kind, &sch, N_EL);
    float x[N_EL], v[N_EL];
    double exact[N_EL];
    double s0 = sch.sigmas[0], a0 = 1.0 - s0;
    for (int j = 0; j < N_EL; j++) {
        x[j] = (float)(0.7 * (j - 3.5) + a0 * g_mu[j]);
        double z = ((double)x[j] - a0 * g_mu[j]) / sqrt(a0 * a0 * s * s + s0 * s0);
        exact[j] = g_mu[j] + s * z;
    }
    for (int i = 0; i < steps; i++) {
        gaussian_velocity(x, sch.sigmas[i], s, v);
        vs_sampler_step(&smp, x, v);
    }
    double err = 0;
    for (int j = 0; j < N_EL; j++) err = fmax(err, fabs(x[j] - exact[j]));
    vs_sampler_free(&smp);
    vs_schedule_free(&sch);
    return err;
}

static void test_analytic(void) {
    // Linear field (point data): exact up to f32 rounding for any step count.
    CHECK_MSG(solve_gaussian(VS_SAMPLER_UNIPC, 5, 5.0, 0.0) < 1e-5, "unipc, linear field");
    CHECK_MSG(solve_gaussian(VS_SAMPLER_EULER, 5, 5.0, 0.0) < 1e-5, "euler, linear field");
    // Curved field: errors fall with the solver's order (asymptotically; numbers agree with the
    // numpy version in tools/make_sampler_fixtures.py).
    double e_eu_20 = solve_gaussian(VS_SAMPLER_EULER, 20, 1.0, 2.0);
    double e_eu_40 = solve_gaussian(VS_SAMPLER_EULER, 40, 1.0, 2.0);
    double e_un_20 = solve_gaussian(VS_SAMPLER_UNIPC, 20, 1.0, 2.0);
    double e_un_40 = solve_gaussian(VS_SAMPLER_UNIPC, 40, 1.0, 2.0);
    double e_un_80 = solve_gaussian(VS_SAMPLER_UNIPC, 80, 1.0, 2.0);
    printf("gaussian field: euler 20/40 steps %.3g %.3g, unipc 20/40/80 steps %.3g %.3g %.3g\n",
           e_eu_20, e_eu_40, e_un_20, e_un_40, e_un_80);
    CHECK_MSG(e_eu_40 / e_eu_20 > 0.4 && e_eu_40 / e_eu_20 < 0.6, "euler is first order");
    CHECK_MSG(e_un_40 / e_un_20 < 0.3 && e_un_80 / e_un_40 < 0.3, "unipc is second order");
    CHECK(e_un_20 < e_eu_20 * 0.05);
    CHECK(e_un_80 < 1e-3);
}

static int read_exact(FILE *f, void *dst, size_t bytes) { return fread(dst, 1, bytes, f) == bytes; }

static void test_trajectory_fixture(void) {
    const char *dir = getenv("VS_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/sampler_trajectories.bin", dir ? dir : ".");
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot open %s (set VS_SOURCE_DIR)", path);
    if (!f) return;
    char magic[8];
    int32_t dims[3];
    double shift;
    float g;
    CHECK(read_exact(f, magic, 8) && !memcmp(magic, "VSSAMP1", 8));
    CHECK(read_exact(f, dims, sizeof dims) && read_exact(f, &shift, 8) && read_exact(f, &g, 4));
    int n = dims[0], hid = dims[1], steps = dims[2];
    float *W1 = malloc(sizeof(float) * hid * n), *bc = malloc(sizeof(float) * hid);
    float *bu = malloc(sizeof(float) * hid), *W2 = malloc(sizeof(float) * n * hid);
    float *x_init = malloc(sizeof(float) * n), *sig = malloc(sizeof(float) * (steps + 1));
    int64_t *ts = malloc(sizeof(int64_t) * steps);
    float *ref[2] = {malloc(sizeof(float) * steps * n), malloc(sizeof(float) * steps * n)};
    int ok = read_exact(f, W1, sizeof(float) * hid * n) && read_exact(f, bc, sizeof(float) * hid) &&
             read_exact(f, bu, sizeof(float) * hid) && read_exact(f, W2, sizeof(float) * n * hid) &&
             read_exact(f, x_init, sizeof(float) * n) && read_exact(f, sig, sizeof(float) * (steps + 1)) &&
             read_exact(f, ts, sizeof(int64_t) * steps) &&
             read_exact(f, ref[0], sizeof(float) * steps * n) && read_exact(f, ref[1], sizeof(float) * steps * n);
    fclose(f);
    CHECK(ok);
    vs_schedule sch;
    CHECK(vs_schedule_init(&sch, steps, shift) == 0);
    for (int i = 0; i <= steps; i++) CHECK(sch.sigmas[i] == sig[i]);
    for (int i = 0; i < steps; i++) CHECK(sch.timesteps[i] == ts[i]);

    float *x = malloc(sizeof(float) * n), *vc = malloc(sizeof(float) * n), *vu = malloc(sizeof(float) * n);
    float *hbuf = malloc(sizeof(float) * hid);
    for (int kind = 0; kind < 2; kind++) {
        vs_sampler smp;
        vs_sampler_init(&smp, kind == 0 ? VS_SAMPLER_UNIPC : VS_SAMPLER_EULER, &sch, n);
        memcpy(x, x_init, sizeof(float) * n);
        double worst = 0;
        for (int i = 0; i < steps; i++) {
            float t = (float)vs_sampler_timestep(&smp);
            for (int br = 0; br < 2; br++) {  // v = W2 tanh(W1 x + t/1000 b)
                const float *b = br == 0 ? bc : bu;
                float *v = br == 0 ? vc : vu;
                for (int r = 0; r < hid; r++) {
                    double acc = 0;
                    for (int c = 0; c < n; c++) acc += (double)W1[r * n + c] * x[c];
                    hbuf[r] = (float)tanh(acc + t / 1000.0 * b[r]);
                }
                for (int r = 0; r < n; r++) {
                    double acc = 0;
                    for (int c = 0; c < hid; c++) acc += (double)W2[r * hid + c] * hbuf[c];
                    v[r] = (float)acc;
                }
            }
            vs_cfg_combine(vc, vc, vu, g, n);
            vs_sampler_step(&smp, x, vc);
            double rel = vs_rel_l2(x, ref[kind] + (size_t)i * n, n);
            if (rel > worst) worst = rel;
        }
        printf("%s trajectory vs numpy float64: worst relative L2 error %.3g\n",
               kind == 0 ? "unipc" : "euler", worst);
        CHECK_MSG(worst < 1e-4, "%s trajectory", kind == 0 ? "unipc" : "euler");
        vs_sampler_free(&smp);
    }
    vs_schedule_free(&sch);
    free(W1); free(bc); free(bu); free(W2); free(x_init); free(sig); free(ts);
    free(ref[0]); free(ref[1]); free(x); free(vc); free(vu); free(hbuf);
}

int main(void) {
    RUN_TEST(test_schedule_values);
    RUN_TEST(test_cfg);
    RUN_TEST(test_analytic);
    RUN_TEST(test_trajectory_fixture);
    return vs_test_finish();
}
