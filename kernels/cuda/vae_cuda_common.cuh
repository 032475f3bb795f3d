// Shared by the VAE .cu files: the op context and CUDA / cuBLAS checks that name the call.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "kernels/cuda/vae_cuda.h"
#include "runtime/vs_check.h"
#include "runtime/vs_cuda_check.h"

#define VAE_CUDA_CHECK(call) \
    VS_CUDA_CHECK_HINT(call, "check the GPU (nvidia-smi) and its free memory: the VAE needs ~10-25 GB at 480p-720p")

#define VAE_CUBLAS_CHECK(call)                                                               \
    do {                                                                                     \
        cublasStatus_t st_ = (call);                                                         \
        if (st_ != CUBLAS_STATUS_SUCCESS)                                                    \
            vs_die(__FILE__, __LINE__, #call, cublasGetStatusString(st_),                    \
                   "a cuBLAS GEMM of the VAE failed: check the shapes and the free GPU memory"); \
    } while (0)

#define VAE_LAUNCHED(name)                                                                   \
    do {                                                                                     \
        cudaError_t err_ = cudaGetLastError();                                               \
        if (err_ != cudaSuccess)                                                             \
            vs_die(__FILE__, __LINE__, "launch of " name, cudaGetErrorString(err_),          \
                   "a VAE kernel launch failed: check the shapes against the grid limits");  \
    } while (0)

struct vs_vae_cuda {
    vs_vae_precision precision;
    cudaStream_t stream;
    cublasHandle_t blas;
    void *col;            // im2col buffer, col_bytes
    size_t col_bytes;
    float *scores;        // attention scores [rows, n], scores_bytes (grows to the largest frame)
    size_t scores_bytes;
    double flops;
};

static inline unsigned vae_blocks(long long n, int threads) { return (unsigned)((n + threads - 1) / threads); }
