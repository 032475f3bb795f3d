// Device-side helpers for `vidsparse bench attention` (see svg2_bench_util.h).
#include "kernels/cuda/svg2_bench_util.h"
#include "kernels/cuda/svg2_cuda_common.cuh"
#include "runtime/vs_rng.h"

__global__ void planted_qkv_kernel(__nv_bfloat16 *q, __nv_bfloat16 *k, __nv_bfloat16 *v, int H,
                                   int S, int D, int n_planted, float noise, float q_scale,
                                   uint64_t seed) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    long total = (long)H * S * D;
    if (i >= total) return;
    long token = i / D;  // h * S + s
    int d = (int)(i % D);
    long h = token / S;
    uint32_t c = vs_uniform_index(seed, (uint64_t)token, (uint32_t)n_planted);
    float centre = vs_normal_at(seed + 1, (uint64_t)((h * n_planted + c) * D + d));
    k[i] = __float2bfloat16(centre + noise * vs_normal_at(seed + 2, (uint64_t)i));
    q[i] = __float2bfloat16(q_scale * (centre + noise * vs_normal_at(seed + 3, (uint64_t)i)));
    float centre_v = vs_normal_at(seed + 5, (uint64_t)((h * n_planted + c) * D + d));
    v[i] = __float2bfloat16(centre_v + noise * vs_normal_at(seed + 4, (uint64_t)i));
}

extern "C" void vs_cuda_planted_qkv(uint16_t *q, uint16_t *k, uint16_t *v, int H, int S, int D,
                                    int n_planted, float noise, float q_scale, uint64_t seed,
                                    cudaStream_t stream) {
    long total = (long)H * S * D;
    planted_qkv_kernel<<<vs_ceil_div(total, 256), 256, 0, stream>>>(
        (__nv_bfloat16 *)q, (__nv_bfloat16 *)k, (__nv_bfloat16 *)v, H, S, D, n_planted, noise,
        q_scale, seed);
    VS_CUDA_LAUNCHED("planted_qkv_kernel");
}

__global__ void sq_diff_kernel(const __nv_bfloat16 *a, const __nv_bfloat16 *b, long n,
                               double *sums) {
    __shared__ double s_num[256], s_den[256];
    double num = 0, den = 0;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        double x = __bfloat162float(a[i]), y = __bfloat162float(b[i]);
        num += (x - y) * (x - y);
        den += y * y;
    }
    s_num[threadIdx.x] = num;
    s_den[threadIdx.x] = den;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) {
            s_num[threadIdx.x] += s_num[threadIdx.x + s];
            s_den[threadIdx.x] += s_den[threadIdx.x + s];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        sums[2 * blockIdx.x] = s_num[0];
        sums[2 * blockIdx.x + 1] = s_den[0];
    }
}

extern "C" double vs_cuda_rel_l2_bf16(const uint16_t *a, const uint16_t *b, long n,
                                      cudaStream_t stream) {
    enum { BLOCKS = 1024 };
    double *d_sums, sums[2 * BLOCKS];
    VS_CUDA_CHECK(cudaMalloc(&d_sums, sizeof sums));
    sq_diff_kernel<<<BLOCKS, 256, 0, stream>>>((const __nv_bfloat16 *)a, (const __nv_bfloat16 *)b, n,
                                               d_sums);
    VS_CUDA_LAUNCHED("sq_diff_kernel");
    VS_CUDA_CHECK(cudaMemcpyAsync(sums, d_sums, sizeof sums, cudaMemcpyDeviceToHost, stream));
    VS_CUDA_CHECK(cudaStreamSynchronize(stream));
    VS_CUDA_CHECK(cudaFree(d_sums));
    double num = 0, den = 0;
    for (int i = 0; i < BLOCKS; i++) {
        num += sums[2 * i];
        den += sums[2 * i + 1];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}
