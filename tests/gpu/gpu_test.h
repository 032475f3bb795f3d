// Shared by the GPU tests: a CUDA call that fails ends the test binary with file:line and the
// error (a failed test, not a skipped one); a machine without a GPU skips the whole binary.
#pragma once
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/vs_test.h"

#define CUDA_OK(call)                                                                        \
    do {                                                                                     \
        cudaError_t e_ = (call);                                                             \
        if (e_ != cudaSuccess) {                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #call,               \
                    cudaGetErrorString(e_));                                                 \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

#define VS_TEST_REQUIRE_GPU()                                                                \
    do {                                                                                     \
        int devices_ = 0;                                                                    \
        if (cudaGetDeviceCount(&devices_) != cudaSuccess || devices_ == 0)                   \
            VS_TEST_SKIP("no CUDA device");                                                  \
    } while (0)
