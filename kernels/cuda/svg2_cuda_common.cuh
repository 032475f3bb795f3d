// Shared by the SVG2 .cu files: CUDA error checks that name the call and give a hint, the
// cluster-order launcher, and the row-layout check.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/attention.h"  // vs_attention_layout
#include "runtime/vs_check.h"
#include "runtime/vs_cuda_check.h"

#define VS_CUDA_CHECK(call) \
    VS_CUDA_CHECK_HINT(call, "check the GPU (nvidia-smi) and that the buffers were sized for this shape")

// After every kernel launch: launch-configuration errors surface here, naming the kernel.
#define VS_CUDA_LAUNCHED(name)                                                               \
    do {                                                                                     \
        cudaError_t err_ = cudaGetLastError();                                               \
        if (err_ != cudaSuccess)                                                             \
            vs_die(__FILE__, __LINE__, "launch of " name, cudaGetErrorString(err_),          \
                   "a launch failed: check the shapes against the limits in svg2_cuda.h");   \
    } while (0)

// The stable cluster-order sort (svg2_permute.cu); skip: per-row device flags [B] that turn it
// into a no-op for that row (a head whose k-means converged), or NULL.
void vs_cluster_order_launch(const int32_t *labels, int B, int N, int C, int32_t *perm,
                             int32_t *offsets, int32_t *counts, int32_t *cursor,
                             const uint32_t *skip, cudaStream_t stream);

static inline int vs_ceil_div(long a, long b) { return (int)((a + b - 1) / b); }

// k-means, the gather and the scatter move rows of D in 16-byte pieces, one row per point.
static inline void vs_svg2_check_rows(vs_attention_layout layout, int D) {
    VS_ASSERT(D % 8 == 0 && vs_attention_layout_ok(layout) && layout.row >= D,
              "SVG2 rows: head dim and strides must be multiples of 8 elements, rows must not overlap");
}
