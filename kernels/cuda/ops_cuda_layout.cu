// Data movement: 2-D transpose, patch gather/scatter, and random weights drawn on the GPU with
// the CPU's counter-based generator.
#include "kernels/cuda/ops_cuda_common.cuh"
#include "runtime/vs_rng.h"

namespace vs_ops {
namespace {

constexpr int TILE = 32, TILE_ROWS = 8, MOVE_THREADS = 256;

// out[N, M] = x[M, N]^T through a padded shared tile (both sides coalesced).
template <class TI, class TO>
__global__ void transpose_kernel(const TI *__restrict__ x, TO *__restrict__ out, int64_t M,
                                 int64_t N) {
    __shared__ float tile[TILE][TILE + 1];
    const int64_t m0 = (int64_t)blockIdx.y * TILE, n0 = (int64_t)blockIdx.x * TILE;
    for (int r = threadIdx.y; r < TILE; r += TILE_ROWS) {
        int64_t m = m0 + r, n = n0 + threadIdx.x;
        if (m < M && n < N) tile[r][threadIdx.x] = ld(x, m * N + n);
    }
    __syncthreads();
    for (int r = threadIdx.y; r < TILE; r += TILE_ROWS) {
        int64_t n = n0 + r, m = m0 + threadIdx.x;
        if (m < M && n < N) st(out, n * M + m, tile[threadIdx.x][r]);
    }
}

// out[i, c*4 + dh*2 + dw] = x[c, f, 2hp + dh, 2wp + dw] for token g = tok0 + i = (f, hp, wp).
template <class TI, class TO>
__global__ void patchify_kernel(const TI *__restrict__ x, TO *__restrict__ out, int64_t C,
                                int64_t T, int64_t H, int64_t W, int64_t tok0, int64_t n) {
    const int64_t total = n * C * 4, Hp = H / 2, Wp = W / 2;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t i = idx / (C * 4), r = idx % (C * 4);
        const int64_t c = r / 4, dh = (r / 2) % 2, dw = r % 2;
        const int64_t g = tok0 + i, f = g / (Hp * Wp), hp = (g / Wp) % Hp, wp = g % Wp;
        st(out, idx, ld(x, ((c * T + f) * H + 2 * hp + dh) * W + 2 * wp + dw));
    }
}

// out[c, f, 2hp + dh, 2wp + dw] = rows[g, dh*2C + dw*C + c]; one thread per output element.
template <class TI, class TO>
__global__ void unpatchify_kernel(const TI *__restrict__ rows, TO *__restrict__ out, int64_t C,
                                  int64_t T, int64_t H, int64_t W) {
    const int64_t total = C * T * H * W, Hp = H / 2, Wp = W / 2;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t x = idx % W, y = (idx / W) % H, f = (idx / (W * H)) % T, c = idx / (W * H * T);
        const int64_t g = (f * Hp + y / 2) * Wp + x / 2;
        st(out, idx, ld(rows, g * C * 4 + (y % 2) * 2 * C + (x % 2) * C + c));
    }
}

template <class T>
__global__ void fill_normal_kernel(T *__restrict__ dst, int64_t n, uint64_t seed,
                                   uint64_t counter0, float a, float b) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        // Separately rounded multiply and add (no FMA), as the CPU computes a * z + b.
        st(dst, i, __fadd_rn(__fmul_rn(a, vs_normal_at(seed, counter0 + (uint64_t)i)), b));
}

}  // namespace

void transpose(vs_tensor *out, const vs_tensor *x) {
    const int64_t M = x->shape[0], N = x->shape[1];
    if (M == 0 || N == 0) return;
    VS_ASSERT((M + TILE - 1) / TILE <= 65535, "vs_transpose: more than 2M rows");
    dim3 grid((unsigned)((N + TILE - 1) / TILE), (unsigned)((M + TILE - 1) / TILE));
    dispatch_io("vs_transpose", x, out, [&](auto xi, auto yo) {
        transpose_kernel<<<grid, dim3(TILE, TILE_ROWS), 0, stream()>>>(xi, yo, M, N);
        OPS_LAUNCHED("transpose_kernel");
    });
}

void patchify(vs_tensor *out, const vs_tensor *x, int64_t tok0) {
    const int64_t C = x->shape[0], T = x->shape[1], H = x->shape[2], W = x->shape[3];
    const int64_t n = out->shape[0];
    if (n == 0) return;
    dispatch_io("vs_patchify", x, out, [&](auto xi, auto yo) {
        patchify_kernel<<<blocks_for(n * C * 4, MOVE_THREADS), MOVE_THREADS, 0, stream()>>>(
            xi, yo, C, T, H, W, tok0, n);
        OPS_LAUNCHED("patchify_kernel");
    });
}

void unpatchify(vs_tensor *out, const vs_tensor *rows) {
    const int64_t C = out->shape[0], T = out->shape[1], H = out->shape[2], W = out->shape[3];
    const int64_t total = C * T * H * W;
    if (total == 0) return;
    dispatch_io("vs_unpatchify", rows, out, [&](auto ri, auto yo) {
        unpatchify_kernel<<<blocks_for(total, MOVE_THREADS), MOVE_THREADS, 0, stream()>>>(
            ri, yo, C, T, H, W);
        OPS_LAUNCHED("unpatchify_kernel");
    });
}

}  // namespace vs_ops

extern "C" void vs_cuda_fill_normal(void *dst, vs_dtype dtype, int64_t n, uint64_t seed,
                                    uint64_t counter0, float a, float b) {
    using namespace vs_ops;
    if (n == 0) return;
    if (dtype == VS_F32)
        fill_normal_kernel<<<blocks_for(n, MOVE_THREADS), MOVE_THREADS, 0, stream()>>>(
            (float *)dst, n, seed, counter0, a, b);
    else if (dtype == VS_BF16)
        fill_normal_kernel<<<blocks_for(n, MOVE_THREADS), MOVE_THREADS, 0, stream()>>>(
            (__nv_bfloat16 *)dst, n, seed, counter0, a, b);
    else
        vs_dief(__FILE__, __LINE__, "fill f32 or bf16 tensors", "vs_cuda_fill_normal: dtype %s",
                vs_dtype_name(dtype));
    OPS_LAUNCHED("fill_normal_kernel");
}
