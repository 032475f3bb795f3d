// Pointwise ops (SiLU, GELU-tanh, add, gated residual), the timestep sinusoid and 3D RoPE.
//
// RoPE angles: the CPU twin forms theta = pos * 10000^(-2j / d_axis) in double and rounds
// cos/sin to f32. Here the host builds the same f32 (cos, sin) values once per (grid, head_dim)
// into a small table per axis ([positions along the axis, pairs of the axis], a few KB), and
// the kernel only looks them up, so GPU and CPU rotate by bit-identical factors.
#include <math.h>
#include <stdlib.h>

#include "kernels/cuda/ops_cuda_common.cuh"

namespace vs_ops {
namespace {

constexpr int EW_THREADS = 256;

__device__ __forceinline__ float gelu_tanh(float x) {
    const float c = 0.7978845608028654f;  // sqrt(2/pi)
    return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
}
__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }

template <class TI, class TO>
__global__ void unary_kernel(const TI *x, TO *out, int64_t n, int act) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        float v = ld(x, i);
        st(out, i, act == VS_ACT_GELU_TANH ? gelu_tanh(v) : act == VS_ACT_SILU ? silu(v) : v);
    }
}

template <class TI, class TO>
__global__ void add_kernel(const TI *a, const TI *b, TO *out, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        st(out, i, ld(a, i) + ld(b, i));
}

// x[m, i] += y[m, i] * gate[i]  (gate NULL: 1)
template <class TY, class TX>
__global__ void gated_add_kernel(const TY *__restrict__ y, TX *x, const float *__restrict__ gate,
                                 int64_t n, int64_t D) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        st(x, i, ld(x, i) + ld(y, i) * (gate ? gate[i % D] : 1.0f));
}

// out[k] = cos(t w_k), out[half + k] = sin(t w_k), w_k = 10000^(-k/half), all in double.
__global__ void sinusoid_kernel(float *out, int64_t half, int64_t t) {
    int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= half) return;
    double arg = (double)t * exp(-log(10000.0) * (double)k / (double)half);
    out[k] = (float)cos(arg);
    out[half + k] = (float)sin(arg);
}

// One thread per (token, pair), looping over heads; the (cos, sin) pair comes from the axis
// table of the pair's axis at the token's position along that axis.
template <class T>
__global__ void rope3d_kernel(T *x, int64_t n, int H, int d, int64_t tok0, int64_t g1,
                              int64_t g2, int pt, int ph, const float2 *__restrict__ tab_t,
                              const float2 *__restrict__ tab_h, const float2 *__restrict__ tab_w) {
    const int half = d / 2;
    const int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n * half) return;
    const int64_t i = idx / half;
    const int j = (int)(idx % half);
    const int64_t g = tok0 + i;
    const int64_t f = g / (g1 * g2), hp = (g / g2) % g1, wp = g % g2;
    const int pw = half - pt - ph;
    const float2 cs = j < pt        ? tab_t[f * pt + j]
                      : j < pt + ph ? tab_h[hp * ph + (j - pt)]
                                    : tab_w[wp * pw + (j - pt - ph)];
    for (int h = 0; h < H; h++) {
        const int64_t o = (i * H + h) * d + 2 * j;
        const float a = ld(x, o), b = ld(x, o + 1);
        st(x, o, a * cs.x - b * cs.y);
        st(x, o + 1, a * cs.y + b * cs.x);
    }
}

// The cached RoPE tables for the last (grid, head_dim) seen.
struct RopeTable {
    int64_t grid[3] = {0, 0, 0};
    int d = 0;
    float2 *dev = nullptr;
    size_t cap = 0;  // float2 entries
} rope_table;

void rope_table_for(const int64_t grid[3], int d) {
    RopeTable &t = rope_table;
    if (t.dev && t.d == d && t.grid[0] == grid[0] && t.grid[1] == grid[1] && t.grid[2] == grid[2])
        return;
    const int third = d / 6, pairs[3] = {(d - 4 * third) / 2, third, third};
    size_t total = 0;
    for (int a = 0; a < 3; a++) total += (size_t)grid[a] * pairs[a];
    float2 *host = (float2 *)vs_malloc(total * sizeof(float2));
    size_t at = 0;
    for (int a = 0; a < 3; a++)
        for (int64_t pos = 0; pos < grid[a]; pos++)
            for (int j = 0; j < pairs[a]; j++) {
                double omega = pow(10000.0, -2.0 * j / (double)(2 * pairs[a]));
                double theta = (double)pos * omega;
                host[at++] = make_float2((float)cos(theta), (float)sin(theta));
            }
    if (total > t.cap) {
        // The old table may still be read by queued kernels: free it in stream order.
        if (t.dev) OPS_CUDA_CHECK(cudaFreeAsync(t.dev, stream()));
        OPS_CUDA_CHECK(cudaMallocAsync((void **)&t.dev, total * sizeof(float2), stream()));
        t.cap = total;
    }
    // Pageable source: the call returns once the host buffer has been staged, so free is safe.
    OPS_CUDA_CHECK(cudaMemcpyAsync(t.dev, host, total * sizeof(float2), cudaMemcpyHostToDevice,
                                   stream()));
    free(host);
    t.d = d;
    for (int a = 0; a < 3; a++) t.grid[a] = grid[a];
}

}  // namespace

void rope_release() {
    if (rope_table.dev) OPS_CUDA_CHECK(cudaFreeAsync(rope_table.dev, stream()));
    rope_table = RopeTable();
}

void unary(vs_tensor *out, const vs_tensor *x, vs_act act) {
    const int64_t n = vs_tensor_numel(x);
    if (n == 0) return;
    dispatch_io("vs_unary", x, out, [&](auto xi, auto yo) {
        unary_kernel<<<blocks_for(n, EW_THREADS), EW_THREADS, 0, stream()>>>(xi, yo, n, (int)act);
        OPS_LAUNCHED("unary_kernel");
    });
}

void add(vs_tensor *out, const vs_tensor *a, const vs_tensor *b) {
    if (a->dtype != b->dtype)
        vs_dief(__FILE__, __LINE__, "convert one operand first", "vs_add: operands %s and %s differ",
                vs_dtype_name(a->dtype), vs_dtype_name(b->dtype));
    const int64_t n = vs_tensor_numel(a);
    if (n == 0) return;
    const void *bp = b->data;
    dispatch_io("vs_add", a, out, [&](auto ai, auto yo) {
        add_kernel<<<blocks_for(n, EW_THREADS), EW_THREADS, 0, stream()>>>(
            ai, (decltype(ai))bp, yo, n);
        OPS_LAUNCHED("add_kernel");
    });
}

void gated_add(vs_tensor *x, const vs_tensor *y, const vs_tensor *gate) {
    const int64_t n = vs_tensor_numel(x), D = last_dim(x);
    const float *g = param_f32("vs_gated_add", gate);
    if (n == 0) return;
    dispatch_io("vs_gated_add", y, x, [&](auto yi, auto xo) {
        gated_add_kernel<<<blocks_for(n, EW_THREADS), EW_THREADS, 0, stream()>>>(yi, xo, g, n, D);
        OPS_LAUNCHED("gated_add_kernel");
    });
}

void sinusoid(vs_tensor *out, int64_t t) {
    if (out->dtype != VS_F32) bad_dtype("vs_sinusoid", out);
    const int64_t half = vs_tensor_numel(out) / 2;
    if (half == 0) return;
    sinusoid_kernel<<<blocks_for(half, EW_THREADS), EW_THREADS, 0, stream()>>>(
        (float *)out->data, half, t);
    OPS_LAUNCHED("sinusoid_kernel");
}

void rope3d(vs_tensor *x, int64_t tok0, const int64_t grid[3]) {
    const int64_t n = x->shape[0];
    const int H = (int)x->shape[1], d = (int)x->shape[2];
    if (n == 0) return;
    rope_table_for(grid, d);
    const int third = d / 6, pt = (d - 4 * third) / 2, ph = third;
    const float2 *tab_t = rope_table.dev, *tab_h = tab_t + grid[0] * pt,
                 *tab_w = tab_h + grid[1] * ph;
    const int64_t work = n * (d / 2);
    dispatch_io("vs_rope3d", x, x, [&](auto, auto xo) {
        rope3d_kernel<<<(unsigned)((work + EW_THREADS - 1) / EW_THREADS), EW_THREADS, 0,
                        stream()>>>(xo, n, H, d, tok0, grid[1], grid[2], pt, ph, tab_t, tab_h,
                                    tab_w);
        OPS_LAUNCHED("rope3d_kernel");
    });
}

}  // namespace vs_ops
