// Convolutions of the VAE decoder as im2col + one cuBLAS GEMM per tile of output positions.
//
// out[Cout, P] = W[Cout, K_pad] · col[K_pad, P] where col row k = (ic, j, ky, kx) holds the input
// value each output position sees through that tap (0 outside the frame or for a NULL causal
// frame), row K is ones (the bias column of W) and the rest zeros. In cuBLAS' column-major terms
// this is C (P x Cout, ld P) = col' (P x K_pad, ld tile) · W' (K_pad x Cout, ld K_pad): the
// positions are the long M dimension, so Cout = 3 (conv_out) is as cheap as it can be.
// The positions of a frame go through the fixed-size column buffer in tiles; a tile is a
// multiple of 64 positions so every column of col stays 16-byte aligned for the tensor cores.
#include <cuda_bf16.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/vae_cuda_common.cuh"

const char *vs_vae_precision_name(vs_vae_precision p) {
    return p == VS_VAE_BF16 ? "bf16" : p == VS_VAE_TF32 ? "tf32" : "f32";
}

static size_t elem_bytes(vs_vae_precision p) { return p == VS_VAE_BF16 ? 2 : 4; }

vs_vae_cuda *vs_vae_cuda_create(vs_vae_precision p, size_t col_bytes) {
    vs_vae_cuda *g = (vs_vae_cuda *)vs_calloc(1, sizeof *g);
    g->precision = p;
    g->col_bytes = col_bytes;
    VAE_CUDA_CHECK(cudaStreamCreate(&g->stream));
    VAE_CUBLAS_CHECK(cublasCreate(&g->blas));
    VAE_CUBLAS_CHECK(cublasSetStream(g->blas, g->stream));
    VAE_CUDA_CHECK(cudaMalloc(&g->col, col_bytes));
    return g;
}

void vs_vae_cuda_destroy(vs_vae_cuda *g) {
    if (!g) return;
    VAE_CUDA_CHECK(cudaStreamSynchronize(g->stream));
    VAE_CUDA_CHECK(cudaFree(g->col));
    VAE_CUDA_CHECK(cudaFree(g->scores));
    VAE_CUBLAS_CHECK(cublasDestroy(g->blas));
    VAE_CUDA_CHECK(cudaStreamDestroy(g->stream));
    free(g);
}

void *vs_vae_cuda_stream(const vs_vae_cuda *g) { return g->stream; }
vs_vae_precision vs_vae_cuda_precision(const vs_vae_cuda *g) { return g->precision; }
size_t vs_vae_cuda_scratch_bytes(const vs_vae_cuda *g) { return g->col_bytes + g->scores_bytes; }
double vs_vae_cuda_flops(const vs_vae_cuda *g) { return g->flops; }

void vs_vae_conv_gpu_upload(const vs_vae_cuda *g, vs_vae_conv_gpu *d, const float *w, const float *b,
                            int cout, int cin, int kt, int kh, int kw) {
    memset(d, 0, sizeof *d);
    d->cout = cout;
    d->cin = cin;
    d->kt = kt;
    d->kh = kh;
    d->kw = kw;
    d->k = cin * kt * kh * kw;
    d->k_pad = (d->k + 1 + 7) / 8 * 8;
    const size_t n = (size_t)cout * d->k_pad, es = elem_bytes(g->precision);
    void *host = vs_calloc(n, es);
    for (int oc = 0; oc < cout; oc++)
        for (int k = 0; k <= d->k; k++) {
            const float v = k < d->k ? w[(size_t)oc * d->k + k] : (b ? b[oc] : 0.0f);
            const size_t i = (size_t)oc * d->k_pad + k;
            if (g->precision != VS_VAE_BF16) ((float *)host)[i] = v;
            else ((__nv_bfloat16 *)host)[i] = __float2bfloat16_rn(v);
        }
    VAE_CUDA_CHECK(cudaMalloc(&d->w, n * es));
    VAE_CUDA_CHECK(cudaMemcpy(d->w, host, n * es, cudaMemcpyHostToDevice));
    free(host);
}

void vs_vae_conv_gpu_free(vs_vae_conv_gpu *d) {
    if (d->w) VAE_CUDA_CHECK(cudaFree(d->w));
    d->w = NULL;
}

size_t vs_vae_conv_gpu_bytes(const vs_vae_cuda *g, const vs_vae_conv_gpu *d) {
    return (size_t)d->cout * d->k_pad * elem_bytes(g->precision);
}

struct frame_ptrs {
    const float *f[3];
};

template <typename T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// Four consecutive column entries in one store (8 bytes bf16, 16 bytes f32; aligned because the
// column stride is a multiple of 64 and a thread's first position a multiple of 4).
__device__ __forceinline__ void store4(float *dst, const float *v) {
    *reinterpret_cast<float4 *>(dst) = make_float4(v[0], v[1], v[2], v[3]);
}
__device__ __forceinline__ void store4(__nv_bfloat16 *dst, const float *v) {
    __nv_bfloat162 lo = __floats2bfloat162_rn(v[0], v[1]), hi = __floats2bfloat162_rn(v[2], v[3]);
    uint2 u;
    u.x = *reinterpret_cast<unsigned *>(&lo);
    u.y = *reinterpret_cast<unsigned *>(&hi);
    *reinterpret_cast<uint2 *>(dst) = u;
}

// col[row, i .. i+3] for rows [0, k_pad) (grid y) and tile positions i = 4·thread in [0, count):
// the input value output position p0 + i reads through tap `row`. Frames are [cin][h][w], or
// [cin][h/2][w/2] read nearest-upsampled when up. Index math is 32-bit (positions < 2^24): a
// 64-bit division per element would cost more than the copy itself.
template <typename T>
__global__ void im2col_kernel(T *col, int ld, frame_ptrs fr, int kt, int kh, int kw, int h, int w, int up, int p0,
                              int count, int k) {
    const int row = blockIdx.y;
    const int i0 = (blockIdx.x * blockDim.x + threadIdx.x) * 4;
    if (i0 >= count) return;
    float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (row >= k) {
        const float c = row == k ? 1.0f : 0.0f;  // the bias row, then zero padding
        v[0] = v[1] = v[2] = v[3] = c;
    } else {
        const int kx = row % kw, r1 = row / kw;
        const int ky = r1 % kh, r2 = r1 / kh;
        const int j = r2 % kt, ic = r2 / kt;
        const float *src = j == 0 ? fr.f[0] : j == 1 ? fr.f[1] : fr.f[2];
        if (src) {
            const int hs = up ? h >> 1 : h, ws = up ? w >> 1 : w;
            const float *plane = src + (long long)ic * hs * ws;
            const int p = p0 + i0;
            int y = p / w, x = p - y * w;
            for (int e = 0; e < 4; e++) {
                const int sy = y + ky - kh / 2, sx = x + kx - kw / 2;
                if (i0 + e < count && sy >= 0 && sy < h && sx >= 0 && sx < w)
                    v[e] = up ? plane[(sy >> 1) * ws + (sx >> 1)] : plane[sy * ws + sx];
                if (++x == w) {
                    x = 0;
                    y++;
                }
            }
        }
    }
    T *dst = col + (long long)row * ld + i0;
    if (i0 + 4 <= count) store4(dst, v);
    else
        for (int e = 0; i0 + e < count; e++) dst[e] = from_f32<T>(v[e]);
}

void vs_vae_conv_frame_gpu(vs_vae_cuda *g, const vs_vae_conv_gpu *cv, float *out, const float *const *frames,
                           int h, int w, int upsample2x, int accumulate) {
    VS_ASSERT(cv->kt >= 1 && cv->kt <= 3, "internal: VAE convs have kt in 1..3");
    const long long positions = (long long)h * w;
    const size_t es = elem_bytes(g->precision);
    long long tile = (long long)(g->col_bytes / (es * (size_t)cv->k_pad)) / 64 * 64;
    VS_ASSERT(tile >= 64, "the VAE im2col buffer is too small for this conv: raise its size");
    if (tile > positions) tile = positions;
    const int ld = (int)((tile + 63) / 64 * 64);
    frame_ptrs fr = {{NULL, NULL, NULL}};
    for (int j = 0; j < cv->kt; j++) fr.f[j] = frames[j];
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    const int bf16 = g->precision == VS_VAE_BF16;
    const cudaDataType_t ab = bf16 ? CUDA_R_16BF : CUDA_R_32F;
    const cublasComputeType_t compute =
        g->precision == VS_VAE_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    VS_ASSERT(positions < (1 << 24), "a VAE frame has at most 2^24 positions (4096 x 4096)");
    for (int p0 = 0; p0 < positions; p0 += (int)tile) {
        const int count = (int)(positions - p0 < tile ? positions - p0 : tile);
        const dim3 grid(vae_blocks((count + 3) / 4, 256), (unsigned)cv->k_pad);
        if (bf16)
            im2col_kernel<__nv_bfloat16><<<grid, 256, 0, g->stream>>>((__nv_bfloat16 *)g->col, ld, fr, cv->kt, cv->kh,
                                                                      cv->kw, h, w, upsample2x, p0, count, cv->k);
        else
            im2col_kernel<float><<<grid, 256, 0, g->stream>>>((float *)g->col, ld, fr, cv->kt, cv->kh, cv->kw, h, w,
                                                              upsample2x, p0, count, cv->k);
        VAE_LAUNCHED("im2col_kernel");
        VAE_CUBLAS_CHECK(cublasGemmEx(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, count, cv->cout, cv->k_pad, &alpha, g->col, ab,
                                      ld, cv->w, ab, cv->k_pad, &beta, out + p0, CUDA_R_32F, (int)positions, compute,
                                      CUBLAS_GEMM_DEFAULT));
        g->flops += 2.0 * count * cv->cout * cv->k;
    }
}
