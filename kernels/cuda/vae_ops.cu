// VAE decoder ops other than the convolutions: channel RMS norm (+ SiLU), frame attention, clamp.
// The norm reduces over channels, which are n floats apart, so one thread owns one position and
// walks its channels: neighbouring threads read neighbouring floats (coalesced) at every step.
// Attention runs per block of query rows: scores = K^T Q on cuBLAS (TF32; f32 in VS_VAE_F32), a row softmax in f32,
// then V P^T, so the score buffer is bounded (VAE_ATTN_SCORE_BYTES) whatever the frame size.
#include <math.h>

#include "kernels/cuda/vae_cuda_common.cuh"

#define VAE_ATTN_SCORE_BYTES ((size_t)128 << 20)

__global__ void rms_norm_kernel(float *out, const float *x, const float *gamma, int c, long long n,
                                long long total, int silu) {
    const long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= total) return;
    const long long f = idx / n, p = idx - f * n;
    const float *xs = x + f * c * n + p;
    float *os = out + f * c * n + p;
    float ss = 0.0f;
    for (int ch = 0; ch < c; ch++) {
        const float v = xs[(long long)ch * n];
        ss += v * v;
    }
    const float scale = sqrtf((float)c) / fmaxf(sqrtf(ss), 1e-12f);
    for (int ch = 0; ch < c; ch++) {
        float v = xs[(long long)ch * n] * scale * gamma[ch];
        if (silu) v = v / (1.0f + expf(-v));
        os[(long long)ch * n] = v;
    }
}

void vs_vae_rms_norm_gpu(vs_vae_cuda *g, float *out, const float *x, const float *gamma, int frames, int c,
                         int64_t n, int silu) {
    const long long total = (long long)frames * n;
    rms_norm_kernel<<<vae_blocks(total, 256), 256, 0, g->stream>>>(out, x, gamma, c, n, total, silu);
    VAE_LAUNCHED("rms_norm_kernel");
}

// In place on each row of s [rows][n] (one block per row): softmax over the row.
__global__ void softmax_rows_kernel(float *s, int n) {
    __shared__ float red[32];
    float *row = s + (long long)blockIdx.x * n;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < n; j += blockDim.x) mx = fmaxf(mx, row[j]);
    for (int o = 16; o; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    if (lane == 0) red[warp] = mx;
    __syncthreads();
    mx = red[0];
    for (int i = 1; i < warps; i++) mx = fmaxf(mx, red[i]);
    __syncthreads();
    float sum = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        const float e = expf(row[j] - mx);
        row[j] = e;
        sum += e;
    }
    for (int o = 16; o; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    if (lane == 0) red[warp] = sum;
    __syncthreads();
    sum = 0.0f;
    for (int i = 0; i < warps; i++) sum += red[i];
    const float inv = 1.0f / sum;
    for (int j = threadIdx.x; j < n; j += blockDim.x) row[j] *= inv;
}

void vs_vae_attention_gpu(vs_vae_cuda *g, float *out, const float *qkv, int c, int n) {
    // Query rows per block: as many as fit VAE_ATTN_SCORE_BYTES (a multiple of 64), at most n.
    long long rows = (long long)(VAE_ATTN_SCORE_BYTES / (sizeof(float) * (size_t)n)) / 64 * 64;
    if (rows < 64) rows = 64;
    if (rows > n) rows = n;
    const size_t need = (size_t)rows * n * sizeof(float);
    if (need > g->scores_bytes) {  // grows once, to the largest frame
        VAE_CUDA_CHECK(cudaStreamSynchronize(g->stream));
        VAE_CUDA_CHECK(cudaFree(g->scores));
        VAE_CUDA_CHECK(cudaMalloc(&g->scores, need));
        g->scores_bytes = need;
    }
    const float *q = qkv, *k = qkv + (long long)c * n, *v = qkv + 2LL * c * n;
    const float scale = 1.0f / sqrtf((float)c), one = 1.0f, zero = 0.0f;
    const cublasComputeType_t compute =
        g->precision == VS_VAE_F32 ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_TF32;
    for (int i0 = 0; i0 < n; i0 += (int)rows) {
        const int m = n - i0 < rows ? n - i0 : (int)rows;
        // scores (n x m, col-major, ld n) = K (n x c) · Q_blk^T: row i of the row-major [m][n]
        // matrix holds query i0+i against every key.
        VAE_CUBLAS_CHECK(cublasGemmEx(g->blas, CUBLAS_OP_N, CUBLAS_OP_T, n, m, c, &scale, k, CUDA_R_32F, n, q + i0,
                                      CUDA_R_32F, n, &zero, g->scores, CUDA_R_32F, n, compute,
                                      CUBLAS_GEMM_DEFAULT));
        softmax_rows_kernel<<<m, 256, 0, g->stream>>>(g->scores, n);
        VAE_LAUNCHED("softmax_rows_kernel");
        // out[:, i0 : i0+m] (m x c, col-major, ld n) = P (m x n) · V (n x c).
        VAE_CUBLAS_CHECK(cublasGemmEx(g->blas, CUBLAS_OP_T, CUBLAS_OP_N, m, c, n, &one, g->scores, CUDA_R_32F, n, v,
                                      CUDA_R_32F, n, &zero, out + i0, CUDA_R_32F, n, compute,
                                      CUBLAS_GEMM_DEFAULT));
        g->flops += 4.0 * m * (double)n * c;
    }
}

__global__ void clamp_kernel(float *x, long long n) {
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = fminf(fmaxf(x[i], -1.0f), 1.0f);
}

void vs_vae_clamp_gpu(vs_vae_cuda *g, float *x, int64_t n) {
    clamp_kernel<<<vae_blocks(n, 256), 256, 0, g->stream>>>(x, n);
    VAE_LAUNCHED("clamp_kernel");
}
