// Shared by the SVG2 .cu files: CUDA error checks that name the call and give a hint.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "runtime/vs_check.h"

#define VS_CUDA_CHECK(call)                                                                  \
    do {                                                                                     \
        cudaError_t err_ = (call);                                                           \
        if (err_ != cudaSuccess)                                                             \
            vs_die(__FILE__, __LINE__, #call, cudaGetErrorString(err_),                      \
                   "check the GPU (nvidia-smi) and that the buffers were sized for this shape"); \
    } while (0)

// After every kernel launch: launch-configuration errors surface here, not at the next sync.
#define VS_CUDA_LAUNCHED(name) VS_CUDA_CHECK(cudaGetLastError())

static inline int vs_ceil_div(long a, long b) { return (int)((a + b - 1) / b); }
