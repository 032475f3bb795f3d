// A minimal test harness: checks count up, failures print file:line and go on, and the
// binary ends with the line "N passed, N failed" and a non-zero exit when anything failed.
// A test that cannot run here (a GPU test without a GPU) calls VS_TEST_SKIP: exit 77.
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int vs_test_passed_ = 0;
static int vs_test_failed_ = 0;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (cond) vs_test_passed_++;                                                         \
        else {                                                                               \
            vs_test_failed_++;                                                               \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                  \
        }                                                                                    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                 \
    do {                                                                                     \
        if (cond) vs_test_passed_++;                                                         \
        else {                                                                               \
            vs_test_failed_++;                                                               \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                  \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
        }                                                                                    \
    } while (0)

// |a - b| <= tol, NaN never passes.
#define CHECK_NEAR(a, b, tol)                                                                \
    CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%.9g vs %.9g (tol %.3g)",           \
              (double)(a), (double)(b), (double)(tol))

#define RUN_TEST(fn)                                                                         \
    do {                                                                                     \
        int failed_before_ = vs_test_failed_;                                                \
        fn();                                                                                \
        printf("%s %s\n", vs_test_failed_ == failed_before_ ? "ok  " : "FAIL", #fn);         \
    } while (0)

#define VS_TEST_SKIP(reason)                                                                 \
    do {                                                                                     \
        printf("skipped: %s\n", reason);                                                     \
        exit(77);                                                                            \
    } while (0)

static inline int vs_test_finish(void) {
    printf("%d passed, %d failed\n", vs_test_passed_, vs_test_failed_);
    return vs_test_failed_ ? 1 : 0;
}

// Relative L2 error ||a - b|| / ||b|| over n floats (double accumulation).
static inline double vs_rel_l2(const float *a, const float *b, long n) {
    double num = 0, den = 0;
    for (long i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    if (den == 0) return sqrt(num);
    return sqrt(num / den);
}
