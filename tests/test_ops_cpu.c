// The CPU op backend against naive double-precision formulas, and the backend dispatch itself.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_ops.h"
#include "runtime/vs_rng.h"
#include "tests/vs_test.h"

static vs_tensor randn(uint64_t seed, int ndim, const int64_t *shape) {
    vs_tensor t = vs_tensor_new(VS_F32, VS_DEV_CPU, ndim, shape);
    for (int64_t i = 0; i < vs_tensor_numel(&t); i++)
        ((float *)t.data)[i] = vs_normal_at(seed, (uint64_t)i);
    return t;
}
#define F(t) ((float *)(t).data)

static double gelu_tanh(double x) {
    return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

static void test_linear(void) {
    // Sizes that leave edge tiles on every axis and cross the 512-wide K block.
    int64_t M = 7, N = 70, K = 600;
    int64_t xs[2] = {M, K}, ws[2] = {N, K}, bs[1] = {N}, os[2] = {M, N};
    vs_tensor x = randn(1, 2, xs), w = randn(2, 2, ws), b = randn(3, 1, bs);
    vs_tensor out = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, os);
    for (int act = 0; act < 3; act++) {
        vs_linear(&out, &x, &w, act == 1 ? NULL : &b, (vs_act)act);
        double worst = 0;
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                double acc = act == 1 ? 0 : F(b)[n];
                for (int64_t k = 0; k < K; k++) acc += (double)F(x)[m * K + k] * F(w)[n * K + k];
                if (act == 1) acc = gelu_tanh(acc);
                if (act == 2) acc = acc / (1 + exp(-acc));
                double err = fabs(acc - F(out)[m * N + n]);
                if (err > worst) worst = err;
            }
        CHECK_MSG(worst < 1e-4, "act %d: max error %g", act, worst);
    }
    // A row's result does not depend on how many rows are computed with it.
    vs_tensor x3 = vs_rows(&x, 4, 3);
    int64_t o3s[2] = {3, N};
    vs_tensor o3 = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, o3s);
    vs_linear(&out, &x, &w, &b, VS_ACT_NONE);
    vs_linear(&o3, &x3, &w, &b, VS_ACT_NONE);
    CHECK(memcmp(o3.data, F(out) + 4 * N, vs_tensor_bytes(&o3)) == 0);
    vs_tensor *all[] = {&x, &w, &b, &out, &o3};
    for (int i = 0; i < 5; i++) vs_tensor_free(all[i]);
}

static void test_norms(void) {
    int64_t M = 5, D = 33;
    int64_t xs[2] = {M, D}, vs[1] = {D};
    vs_tensor x = randn(4, 2, xs), w = randn(5, 1, vs), b = randn(6, 1, vs);
    vs_tensor sh = randn(7, 1, vs), sc = randn(8, 1, vs);
    vs_tensor y = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, xs);
    for (int64_t i = 0; i < M * D; i++) F(x)[i] = F(x)[i] * 3 + 2;  // non-zero mean
    vs_layernorm_mod(&y, &x, &w, &b, &sh, &sc, 1e-6f);
    double worst = 0;
    for (int64_t m = 0; m < M; m++) {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < D; i++) mean += F(x)[m * D + i] / (double)D;
        for (int64_t i = 0; i < D; i++) var += pow(F(x)[m * D + i] - mean, 2) / (double)D;
        for (int64_t i = 0; i < D; i++) {
            double n = (F(x)[m * D + i] - mean) / sqrt(var + 1e-6);
            double want = (n * F(w)[i] + F(b)[i]) * (1 + F(sc)[i]) + F(sh)[i];
            worst = fmax(worst, fabs(want - F(y)[m * D + i]));
        }
    }
    CHECK_MSG(worst < 1e-5, "layernorm_mod max error %g", worst);
    // In place, no affine, no modulation: each row has mean 0 and variance 1.
    vs_layernorm_mod(&x, &x, NULL, NULL, NULL, NULL, 1e-6f);
    double mean = 0, var = 0;
    for (int64_t i = 0; i < D; i++) mean += F(x)[i] / (double)D;
    for (int64_t i = 0; i < D; i++) var += pow(F(x)[i] - mean, 2) / (double)D;
    CHECK_NEAR(mean, 0, 1e-6);
    CHECK_NEAR(var, 1, 1e-4);

    vs_tensor r = randn(9, 2, xs);
    vs_rmsnorm(&y, &r, &w, 1e-6f);
    worst = 0;
    for (int64_t m = 0; m < M; m++) {
        double ss = 0;
        for (int64_t i = 0; i < D; i++) ss += pow(F(r)[m * D + i], 2);
        for (int64_t i = 0; i < D; i++)
            worst = fmax(worst, fabs(F(r)[m * D + i] / sqrt(ss / D + 1e-6) * F(w)[i] - F(y)[m * D + i]));
    }
    CHECK_MSG(worst < 1e-5, "rmsnorm max error %g", worst);
    vs_tensor *all[] = {&x, &w, &b, &sh, &sc, &y, &r};
    for (int i = 0; i < 7; i++) vs_tensor_free(all[i]);
}

static void test_elementwise_and_sinusoid(void) {
    int64_t n = 256;
    vs_tensor s = vs_tensor_new(VS_F32, VS_DEV_CPU, 1, &n);
    vs_sinusoid(&s, 999);
    // Cos first: element k is cos(999 * 10000^(-k/128)), element 128 + k the sine.
    CHECK_NEAR(F(s)[0], cos(999.0), 1e-6);
    CHECK_NEAR(F(s)[128], sin(999.0), 1e-6);
    CHECK_NEAR(F(s)[37], cos(999.0 * pow(10000.0, -37.0 / 128)), 1e-6);
    CHECK_NEAR(F(s)[128 + 100], sin(999.0 * pow(10000.0, -100.0 / 128)), 1e-6);

    int64_t sh[2] = {3, 4};
    vs_tensor a = randn(10, 2, sh), b = randn(11, 2, sh), c = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, sh);
    int64_t four = 4;
    vs_tensor g = randn(12, 1, &four);
    vs_gelu_tanh(&c, &a);
    CHECK_NEAR(F(c)[5], gelu_tanh(F(a)[5]), 1e-6);
    vs_silu(&c, &a);
    CHECK_NEAR(F(c)[7], F(a)[7] / (1 + exp(-F(a)[7])), 1e-6);
    vs_add(&c, &a, &b);
    CHECK(F(c)[11] == F(a)[11] + F(b)[11]);
    memcpy(c.data, a.data, vs_tensor_bytes(&a));
    vs_gated_add(&c, &b, &g);
    CHECK(F(c)[6] == F(a)[6] + F(b)[6] * F(g)[2]);
    int64_t ts[2] = {4, 3};
    vs_tensor t = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, ts);
    vs_transpose(&t, &a);
    CHECK(F(t)[1 * 3 + 2] == F(a)[2 * 4 + 1]);
    vs_tensor *all[] = {&s, &a, &b, &c, &g, &t};
    for (int i = 0; i < 6; i++) vs_tensor_free(all[i]);
}

static void test_attention_dense(void) {
    int64_t Lq = 5, Lk = 9, H = 3, d = 8;
    int64_t qs[3] = {Lq, H, d}, ks[3] = {Lk, H, d}, os[2] = {Lq, H * d};
    vs_tensor q = randn(13, 3, qs), k = randn(14, 3, ks), v = randn(15, 3, ks);
    vs_tensor o = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, os);
    float scale = 1.0f / sqrtf((float)d);
    vs_attention_dense(&o, &q, &k, &v, scale);
    double worst = 0;
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < Lq; i++) {
            double p[9], sum = 0;
            for (int64_t j = 0; j < Lk; j++) {
                double s = 0;
                for (int64_t c = 0; c < d; c++) s += (double)F(q)[(i * H + h) * d + c] * F(k)[(j * H + h) * d + c];
                p[j] = exp(s * scale);
                sum += p[j];
            }
            for (int64_t c = 0; c < d; c++) {
                double acc = 0;
                for (int64_t j = 0; j < Lk; j++) acc += p[j] / sum * F(v)[(j * H + h) * d + c];
                worst = fmax(worst, fabs(acc - F(o)[i * H * d + h * d + c]));
            }
        }
    CHECK_MSG(worst < 1e-5, "attention max error %g", worst);
    vs_tensor *all[] = {&q, &k, &v, &o};
    for (int i = 0; i < 4; i++) vs_tensor_free(all[i]);
}

// A backend installed for a device receives that device's ops.
static int calls;
static void counting_add(vs_tensor *out, const vs_tensor *a, const vs_tensor *b) {
    calls++;
    vs_ops_cpu_backend()->add(out, a, b);
}

static void test_dispatch(void) {
    CHECK(vs_ops_get_backend(VS_DEV_CPU) == vs_ops_cpu_backend());
    CHECK(vs_ops_get_backend(VS_DEV_CUDA) == NULL);  // until kernels/cuda installs one
    vs_ops_backend counting = *vs_ops_cpu_backend();
    counting.name = "counting";
    counting.add = counting_add;
    vs_ops_set_backend(VS_DEV_CPU, &counting);
    int64_t n = 4;
    vs_tensor a = randn(16, 1, &n), c = vs_tensor_new(VS_F32, VS_DEV_CPU, 1, &n);
    vs_add(&c, &a, &a);
    CHECK(calls == 1 && F(c)[3] == 2 * F(a)[3]);
    vs_ops_set_backend(VS_DEV_CPU, vs_ops_cpu_backend());
    vs_add(&c, &a, &a);
    CHECK(calls == 1);
    vs_tensor_free(&a);
    vs_tensor_free(&c);
}

int main(void) {
    RUN_TEST(test_linear);
    RUN_TEST(test_norms);
    RUN_TEST(test_elementwise_and_sinusoid);
    RUN_TEST(test_attention_dense);
    RUN_TEST(test_dispatch);
    return vs_test_finish();
}
