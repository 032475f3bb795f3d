// Core runtime: dtype conversions, tensors, counter-based RNG, error recording.
#include <string.h>

#include "runtime/vs_check.h"
#include "runtime/vs_rng.h"
#include "runtime/vs_tensor.h"
#include "tests/vs_test.h"

static void test_bf16_round_trip(void) {
    CHECK(vs_bf16_to_f32(vs_f32_to_bf16(1.0f)) == 1.0f);
    CHECK(vs_bf16_to_f32(vs_f32_to_bf16(-2.5f)) == -2.5f);
    // 1 + 2^-8 is halfway between two bf16 values: ties go to even (1.0).
    CHECK(vs_bf16_to_f32(vs_f32_to_bf16(1.0f + 1.0f / 256)) == 1.0f);
    // 1 + 3*2^-8 is halfway too: even is 1 + 2^-6.
    CHECK(vs_bf16_to_f32(vs_f32_to_bf16(1.0f + 3.0f / 256)) == 1.0f + 1.0f / 64);
    CHECK(isnan(vs_bf16_to_f32(vs_f32_to_bf16(NAN))));
    CHECK(isinf(vs_bf16_to_f32(vs_f32_to_bf16(INFINITY))));
    for (int i = 0; i < 1000; i++) {
        float x = (float)(i - 500) * 0.0137f;
        float y = vs_bf16_to_f32(vs_f32_to_bf16(x));
        CHECK(fabsf(x - y) <= fabsf(x) * (1.0f / 256) + 1e-30f);
    }
}

static void test_f16_round_trip(void) {
    float values[] = {0.0f, 1.0f, -1.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++)
        CHECK_NEAR(vs_f16_to_f32(vs_f32_to_f16(values[i])), values[i], 0);
    CHECK(isinf(vs_f16_to_f32(vs_f32_to_f16(1e6f))));
    CHECK_NEAR(vs_f16_to_f32(vs_f32_to_f16(0.1f)), 0.1f, 1e-4);
}

static void test_tensor_basics(void) {
    int64_t shape[3] = {2, 3, 4};
    vs_tensor t = vs_tensor_new(VS_BF16, VS_DEV_CPU, 3, shape);
    CHECK(vs_tensor_numel(&t) == 24);
    CHECK(vs_tensor_bytes(&t) == 48);
    char buf[64];
    CHECK(strcmp(vs_shape_str(3, shape, buf, sizeof buf), "[2, 3, 4]") == 0);
    vs_tensor u = vs_tensor_new(VS_BF16, VS_DEV_CPU, 3, shape);
    for (int i = 0; i < 24; i++) ((vs_bf16 *)t.data)[i] = vs_f32_to_bf16((float)i);
    vs_tensor_copy(&u, &t);
    float f[24];
    vs_convert_to_f32(u.data, VS_BF16, 24, f);
    for (int i = 0; i < 24; i++) CHECK(f[i] == (float)i);
    vs_tensor_free(&t);
    vs_tensor_free(&u);
    CHECK(t.data == NULL);
}

static void test_rng_is_counter_based(void) {
    // Same (seed, index) gives the same value; nearby indices differ; moments are right.
    CHECK(vs_normal_at(42, 7) == vs_normal_at(42, 7));
    CHECK(vs_normal_at(42, 7) != vs_normal_at(42, 8));
    CHECK(vs_normal_at(42, 7) != vs_normal_at(43, 7));
    double sum = 0, sq = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double x = vs_normal_at(1234, (uint64_t)i);
        sum += x;
        sq += x * x;
    }
    CHECK_NEAR(sum / n, 0.0, 0.01);
    CHECK_NEAR(sq / n, 1.0, 0.02);
    int counts[10] = {0};
    for (int i = 0; i < 100000; i++) counts[vs_uniform_index(9, (uint64_t)i, 10)]++;
    for (int i = 0; i < 10; i++) CHECK(counts[i] > 9500 && counts[i] < 10500);
}

static void test_error_recording(void) {
    vs_clear_error();
    CHECK(VS_FAIL("bad thing %d", 7) == -1);
    CHECK(strstr(vs_last_error(), "bad thing 7") != NULL);
    CHECK(strstr(vs_last_error(), "test_core.c:") != NULL);
}

int main(void) {
    RUN_TEST(test_bf16_round_trip);
    RUN_TEST(test_f16_round_trip);
    RUN_TEST(test_tensor_basics);
    RUN_TEST(test_rng_is_counter_based);
    RUN_TEST(test_error_recording);
    return vs_test_finish();
}
