// LayerNorm with optional affine and modulation, and RMSNorm, one CTA per row.
//
// Statistics are f32: the mean first, then the mean squared deviation about it (two passes over
// the row, which is in L1/L2 by the second), so a large mean does not cancel the variance as
// E[x^2] - E[x]^2 would. The CPU twin accumulates in double; for D <= 5120 the f32 two-pass sums
// agree with it to ~1e-6 relative.
#include "kernels/cuda/ops_cuda_common.cuh"

namespace vs_ops {
namespace {

constexpr int NORM_THREADS = 256;

// Sum over the CTA; every thread gets the result. `red` holds NORM_THREADS / 32 floats.
__device__ __forceinline__ float block_sum(float v, float *red) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();  // red may still be read from the previous call
    if (lane == 0) red[warp] = v;
    __syncthreads();
    float s = 0.f;
#pragma unroll
    for (int w = 0; w < NORM_THREADS / 32; w++) s += red[w];
    return s;
}

template <class TI, class TO>
__global__ void __launch_bounds__(NORM_THREADS)
    layernorm_mod_kernel(const TI *x, TO *out, const float *__restrict__ w,
                         const float *__restrict__ b, const float *__restrict__ shift,
                         const float *__restrict__ scale, int64_t D, float eps) {
    __shared__ float red[NORM_THREADS / 32];
    const TI *xr = x + (int64_t)blockIdx.x * D;
    TO *yr = out + (int64_t)blockIdx.x * D;
    float s = 0.f;
    for (int64_t i = threadIdx.x; i < D; i += NORM_THREADS) s += ld(xr, i);
    const float mean = block_sum(s, red) / (float)D;
    float ss = 0.f;
    for (int64_t i = threadIdx.x; i < D; i += NORM_THREADS) {
        float d = ld(xr, i) - mean;
        ss += d * d;
    }
    const float rstd = rsqrtf(block_sum(ss, red) / (float)D + eps);
    // Every thread has read its whole share of the row before anyone writes (out may alias x):
    // block_sum ended with a barrier after the last read.
    for (int64_t i = threadIdx.x; i < D; i += NORM_THREADS) {
        float y = (ld(xr, i) - mean) * rstd;
        if (w) y *= w[i];
        if (b) y += b[i];
        if (scale) y *= 1.0f + scale[i];
        if (shift) y += shift[i];
        st(yr, i, y);
    }
}

template <class TI, class TO>
__global__ void __launch_bounds__(NORM_THREADS)
    rmsnorm_kernel(const TI *x, TO *out, const float *__restrict__ w, int64_t D,
                   float eps) {
    __shared__ float red[NORM_THREADS / 32];
    const TI *xr = x + (int64_t)blockIdx.x * D;
    TO *yr = out + (int64_t)blockIdx.x * D;
    float ss = 0.f;
    for (int64_t i = threadIdx.x; i < D; i += NORM_THREADS) {
        float v = ld(xr, i);
        ss += v * v;
    }
    const float r = rsqrtf(block_sum(ss, red) / (float)D + eps);
    for (int64_t i = threadIdx.x; i < D; i += NORM_THREADS) st(yr, i, ld(xr, i) * r * w[i]);
}

}  // namespace

void layernorm_mod(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, const vs_tensor *b,
                   const vs_tensor *shift, const vs_tensor *scale, float eps) {
    const char *op = "vs_layernorm_mod";
    const int64_t D = last_dim(x), rows = vs_tensor_numel(x) / (D ? D : 1);
    const float *pw = param_f32(op, w), *pb = param_f32(op, b);
    const float *psh = param_f32(op, shift), *psc = param_f32(op, scale);
    VS_ASSERT(rows <= 0x7fffffff, "vs_layernorm_mod: too many rows for one grid");
    if (rows == 0) return;
    dispatch_io(op, x, out, [&](auto xi, auto yo) {
        layernorm_mod_kernel<<<(unsigned)rows, NORM_THREADS, 0, stream()>>>(xi, yo, pw, pb, psh,
                                                                            psc, D, eps);
        OPS_LAUNCHED("layernorm_mod_kernel");
    });
}

void rmsnorm(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, float eps) {
    const char *op = "vs_rmsnorm";
    const int64_t D = last_dim(x), rows = vs_tensor_numel(x) / (D ? D : 1);
    const float *pw = param_f32(op, w);
    VS_ASSERT(rows <= 0x7fffffff, "vs_rmsnorm: too many rows for one grid");
    if (rows == 0) return;
    dispatch_io(op, x, out, [&](auto xi, auto yo) {
        rmsnorm_kernel<<<(unsigned)rows, NORM_THREADS, 0, stream()>>>(xi, yo, pw, D, eps);
        OPS_LAUNCHED("rmsnorm_kernel");
    });
}

}  // namespace vs_ops
