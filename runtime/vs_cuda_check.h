// The check around every CUDA runtime call in host code (C files and .cu files alike): on failure,
// vs_die names rank, host, file:line, the call and CUDA's error string, with a hint fitting the
// caller. Each module defines its own short name with its hint, e.g.
//   #define OPS_CUDA_CHECK(call) VS_CUDA_CHECK_HINT(call, "check the GPU (nvidia-smi)")
#pragma once
#include <cuda_runtime_api.h>

#include "runtime/vs_check.h"

#define VS_CUDA_CHECK_HINT(call, hint)                                                        \
    do {                                                                                      \
        cudaError_t vs_cuda_err_ = (call);                                                    \
        if (vs_cuda_err_ != cudaSuccess)                                                      \
            vs_die(__FILE__, __LINE__, #call, cudaGetErrorString(vs_cuda_err_), (hint));      \
    } while (0)
