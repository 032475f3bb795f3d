// SVG2 step 2 on the GPU: which (query cluster, key cluster) blocks the sparse attention computes,
// and the density that gives.
//
// Scores are one small f32 GEMM per head (C_q x C_k x D, tiled in shared memory), kept in f32
// because the mask is tested bit-exact against the CPU reference wherever the decision is not a
// rounding tie. Then one block per (head, query cluster): size-weighted softmax, a bitonic sort of
// 64-bit keys (~P bits, j) in shared memory, which is the stable descending order (ties: lower j),
// a block prefix sum and the top-p / min_kc_ratio rule. Reductions use fixed trees: repeatable.
#include "kernels/cuda/svg2_cuda.h"
#include "kernels/cuda/svg2_cuda_common.cuh"

#define SELECT_THREADS 256
#define MAX_KEY_CLUSTERS 4096

// grid (ceil(C_k / 64), ceil(C_q / 64), B), 256 threads, 4 x 4 outputs each.
// scores[b, i, j] = (sum_d q[b, i, d] k[b, j, d]) / sqrt(D), the sum in order of d.
__global__ void __launch_bounds__(256) centroid_scores_kernel(const float *q, const float *k,
                                                              int C_q, int C_k, int D,
                                                              float *scores) {
    __shared__ float qs[32][65], ks[32][65];  // [d][row], padded
    const int b = blockIdx.z, i0 = blockIdx.y * 64, j0 = blockIdx.x * 64;
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    const float *qb = q + (long)b * C_q * D, *kb = k + (long)b * C_k * D;
    float acc[4][4] = {};
    for (int d0 = 0; d0 < D; d0 += 32) {
        for (int e = threadIdx.x; e < 64 * 32; e += 256) {
            int r = e / 32, d = e % 32;
            qs[d][r] = (i0 + r < C_q && d0 + d < D) ? qb[(long)(i0 + r) * D + d0 + d] : 0.f;
            ks[d][r] = (j0 + r < C_k && d0 + d < D) ? kb[(long)(j0 + r) * D + d0 + d] : 0.f;
        }
        __syncthreads();
        for (int d = 0; d < 32; d++) {
            float a[4], c[4];
#pragma unroll
            for (int u = 0; u < 4; u++) {
                a[u] = qs[d][ty * 4 + u];
                c[u] = ks[d][tx * 4 + u];
            }
#pragma unroll
            for (int u = 0; u < 4; u++)
#pragma unroll
                for (int w = 0; w < 4; w++) acc[u][w] = fmaf(a[u], c[w], acc[u][w]);
        }
        __syncthreads();
    }
    const float scale = 1.0f / sqrtf((float)D);
#pragma unroll
    for (int u = 0; u < 4; u++)
#pragma unroll
        for (int w = 0; w < 4; w++) {
            int i = i0 + ty * 4 + u, j = j0 + tx * 4 + w;
            if (i < C_q && j < C_k) scores[((long)b * C_q + i) * C_k + j] = acc[u][w] * scale;
        }
}

// Block-wide reduction through a fixed tree (the same association every run).
template <bool MAX>
__device__ float block_reduce(float v, float *scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int o = 16; o > 0; o >>= 1) {
        float other = __shfl_xor_sync(0xffffffffu, v, o);
        v = MAX ? fmaxf(v, other) : v + other;
    }
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < (int)(blockDim.x >> 5) ? scratch[lane] : (MAX ? -INFINITY : 0.f);
        for (int o = 16; o > 0; o >>= 1) {
            float other = __shfl_xor_sync(0xffffffffu, v, o);
            v = MAX ? fmaxf(v, other) : v + other;
        }
        if (lane == 0) scratch[0] = v;
    }
    __syncthreads();
    return scratch[0];
}

// grid (C_q, B), SELECT_THREADS threads; dynamic shared: keys [P2] u64 + p [C_k] f32.
// Also row_keys[b, i] = number of key tokens query cluster i attends to (for the density).
__global__ void __launch_bounds__(SELECT_THREADS) select_kernel(const float *scores,
                                                                const int32_t *k_offsets, int C_q,
                                                                int C_k, int P2, float top_p,
                                                                int min_keep, uint8_t *mask,
                                                                int32_t *row_keys) {
    extern __shared__ __align__(16) unsigned char dyn[];
    unsigned long long *keys = (unsigned long long *)dyn;
    float *p = (float *)(keys + P2);
    __shared__ float scratch[32];
    __shared__ float scan_carry[SELECT_THREADS / 32];
    __shared__ int warp_keys[SELECT_THREADS / 32];
    const int i = blockIdx.x, b = blockIdx.y;
    const float *row = scores + ((long)b * C_q + i) * C_k;
    const int32_t *koff = k_offsets + (long)b * (C_k + 1);

    float local_max = -INFINITY;
    // As the CPU: the max runs over non-empty key clusters, empty ones get P = 0.
    for (int j = threadIdx.x; j < C_k; j += blockDim.x)
        if (koff[j + 1] > koff[j]) local_max = fmaxf(local_max, row[j]);
    const float max_score = block_reduce<true>(local_max, scratch);
    float local_sum = 0.f;
    for (int j = threadIdx.x; j < C_k; j += blockDim.x) {
        int size = koff[j + 1] - koff[j];
        float w = size > 0 ? (float)size * expf(row[j] - max_score) : 0.f;
        p[j] = w;
        local_sum += w;
    }
    const float total = block_reduce<false>(local_sum, scratch);
    for (int j = threadIdx.x; j < P2; j += blockDim.x) {
        unsigned long long key = ~0ull;  // padding sorts last
        if (j < C_k) {
            float pj = total > 0.f ? p[j] / total : 0.f;
            p[j] = pj;
            key = ((unsigned long long)(~__float_as_uint(pj)) << 32) | (unsigned)j;
        }
        keys[j] = key;
    }
    __syncthreads();
    // Bitonic sort, ascending keys = descending P, then ascending j.
    for (int size = 2; size <= P2; size <<= 1)
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int t = threadIdx.x; t < P2 / 2; t += blockDim.x) {
                int lo = 2 * t - (t & (stride - 1));
                int hi = lo + stride;
                bool ascending = (lo & size) == 0;
                unsigned long long a = keys[lo], c = keys[hi];
                if ((a > c) == ascending) {
                    keys[lo] = c;
                    keys[hi] = a;
                }
            }
            __syncthreads();
        }
    // Exclusive prefix sums of sorted P: each thread owns PER consecutive ranks.
    const int per = (C_k + blockDim.x - 1) / blockDim.x;
    const int first = threadIdx.x * per;
    float local = 0.f;
    for (int r = first; r < first + per && r < C_k; r++) local += p[(unsigned)keys[r]];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float incl = local;
    for (int d = 1; d < 32; d <<= 1) {
        float y = __shfl_up_sync(0xffffffffu, incl, d);
        if (lane >= d) incl += y;
    }
    if (lane == 31) scan_carry[warp] = incl;
    __syncthreads();
    if (warp == 0) {
        float w = lane < SELECT_THREADS / 32 ? scan_carry[lane] : 0.f;
        for (int d = 1; d < 32; d <<= 1) {
            float y = __shfl_up_sync(0xffffffffu, w, d);
            if (lane >= d) w += y;
        }
        if (lane < SELECT_THREADS / 32) scan_carry[lane] = w;
    }
    __syncthreads();
    float before = (warp ? scan_carry[warp - 1] : 0.f) + (incl - local);
    uint8_t *out = mask + ((long)b * C_q + i) * C_k;
    int kept_keys = 0;
    for (int r = first; r < first + per && r < C_k; r++) {
        int j = (int)(unsigned)keys[r];
        bool keep = r == 0 || r < min_keep || top_p >= 1.0f || before <= top_p;
        out[j] = keep;
        if (keep) kept_keys += koff[j + 1] - koff[j];
        before += p[j];
    }
    // Integer sum: exact in any order.
    for (int o = 16; o > 0; o >>= 1) kept_keys += __shfl_xor_sync(0xffffffffu, kept_keys, o);
    if (lane == 0) warp_keys[warp] = kept_keys;
    __syncthreads();
    if (threadIdx.x == 0) {
        int sum = 0;
        for (int w = 0; w < SELECT_THREADS / 32; w++) sum += warp_keys[w];
        row_keys[(long)b * C_q + i] = sum;
    }
}

// Opts the select kernel in to 48 KiB of dynamic shared memory plus its static arrays. Called
// once by vs_svg2_cuda_init (and by the test) before any call, so never during graph capture.
extern "C" void vs_cuda_svg2_select_setup(void) {
    VS_CUDA_CHECK(cudaFuncSetAttribute(select_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       MAX_KEY_CLUSTERS * 12));
}

extern "C" void vs_cuda_svg2_select(const float *q_centroids, const float *k_centroids,
                                    const int32_t *k_offsets, int B, int C_q, int C_k, int D,
                                    float top_p, float min_kc_ratio, float *scores, uint8_t *mask,
                                    int32_t *row_keys, cudaStream_t stream) {
    VS_ASSERT(C_k >= 1 && C_k <= MAX_KEY_CLUSTERS, "GPU selection supports 1..4096 key clusters");
    VS_ASSERT(top_p > 0, "top_p must be > 0 (official 0.9; 1 keeps every block)");
    // Same floor as vs_svg2_select_cpu, in f32.
    float floor_f = floorf(min_kc_ratio * (float)C_k);
    int min_keep = floor_f <= 0 ? 0 : floor_f >= (float)C_k ? C_k : (int)floor_f;
    centroid_scores_kernel<<<dim3(vs_ceil_div(C_k, 64), vs_ceil_div(C_q, 64), B), 256, 0, stream>>>(
        q_centroids, k_centroids, C_q, C_k, D, scores);
    VS_CUDA_LAUNCHED("centroid_scores_kernel");
    int P2 = 2;
    while (P2 < C_k) P2 <<= 1;
    size_t smem = (size_t)P2 * 8 + (size_t)C_k * 4;
    select_kernel<<<dim3(C_q, B), SELECT_THREADS, smem, stream>>>(scores, k_offsets, C_q, C_k, P2,
                                                                  top_p, min_keep, mask, row_keys);
    VS_CUDA_LAUNCHED("select_kernel");
}

// grid B, 256 threads: density[b] = sum_i |Q_i| row_keys[b, i] / (N_q N_k), the sum in 64-bit
// integers (exact, so the order does not matter).
__global__ void density_kernel(const int32_t *q_offsets, const int32_t *k_offsets,
                               const int32_t *row_keys, int C_q, int C_k, double *density) {
    __shared__ long long warp_totals[8];
    const int b = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int32_t *qo = q_offsets + (long)b * (C_q + 1), *ko = k_offsets + (long)b * (C_k + 1);
    long long total = 0;
    for (int i = threadIdx.x; i < C_q; i += blockDim.x)
        total += (long long)row_keys[(long)b * C_q + i] * (qo[i + 1] - qo[i]);
    for (int o = 16; o > 0; o >>= 1) total += __shfl_xor_sync(0xffffffffu, total, o);
    if (lane == 0) warp_totals[warp] = total;
    __syncthreads();
    if (threadIdx.x == 0) {
        long long sum = 0;
        for (int w = 0; w < 8; w++) sum += warp_totals[w];
        double all = (double)(qo[C_q] - qo[0]) * (double)(ko[C_k] - ko[0]);
        density[b] = all > 0 ? (double)sum / all : 0;
    }
}

extern "C" void vs_cuda_svg2_density(const int32_t *q_offsets, const int32_t *k_offsets,
                                     const int32_t *row_keys, int B, int C_q, int C_k,
                                     double *density, cudaStream_t stream) {
    density_kernel<<<B, 256, 0, stream>>>(q_offsets, k_offsets, row_keys, C_q, C_k, density);
    VS_CUDA_LAUNCHED("density_kernel");
}
