// Dense and variable-block sparse attention launchers (kernels/cuda/attention.h), and the GPU
// planning of the sparse schedule.
//
// Sparse planning, all on the GPU so a call needs no host synchronisation and can be captured
// in a CUDA graph (the official path copies lengths to the host to size its buffers):
//   plan_key_lists: one warp per (head, query cluster) compacts the selected non-empty key
//     clusters, in increasing index, into (end position in the concatenation, row - position)
//     pairs with a ballot + shuffle scan; the list length and total key count go to `info`.
//   plan_q_tiles: one block per head scans ceil(|Q_i| / BM) over the query clusters and writes
//     one (cluster, tile-within-cluster) entry per query tile.
// The attention grid is sized from the host-known bound ceil(S / BM) + C_q tiles per head; CTAs
// past the head's real count return at once.
//
// Workspace (strides fixed by the shapes, so any variant's BM fits):
//   lists [H * C_q * C_k] int2 | info [H * C_q] int2 | tiles [H * max_tiles] int2 | n_tiles [H]
#include <cuda_runtime.h>
#include <math.h>

#include "kernels/cuda/attention_core.cuh"
#include "kernels/cuda/attention_variants.h"
#include "runtime/vs_check.h"

using namespace vs_attn;

namespace {

constexpr int MIN_BM = 64;  // the smallest query tile of any variant: sizes the tile table

size_t align256(size_t x) { return (x + 255) & ~(size_t)255; }
size_t max_q_tiles(int S, int C_q) { return (size_t)S / MIN_BM + 1 + (size_t)C_q; }

struct Workspace {
    int2 *lists, *info, *tiles;
    int *n_tiles;
    size_t tile_stride;
};

Workspace carve(void *base, int H, int S, int C_q, int C_k) {
    Workspace w;
    char *p = (char *)base;
    w.lists = (int2 *)p;
    p += align256((size_t)H * C_q * C_k * sizeof(int2));
    w.info = (int2 *)p;
    p += align256((size_t)H * C_q * sizeof(int2));
    w.tiles = (int2 *)p;
    w.tile_stride = max_q_tiles(S, C_q);
    p += align256((size_t)H * w.tile_stride * sizeof(int2));
    w.n_tiles = (int *)p;
    return w;
}

__global__ void plan_key_lists(const uint8_t *__restrict__ mask, const int32_t *__restrict__ k_off,
                               int H, int C_q, int C_k, int2 *__restrict__ lists,
                               int2 *__restrict__ info) {
    const long long w = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (w >= (long long)H * C_q) return;
    const int h = (int)(w / C_q);
    const uint8_t *m = mask + (size_t)w * C_k;
    const int32_t *ko = k_off + (size_t)h * (C_k + 1);
    int2 *out = lists + (size_t)w * C_k;
    int count = 0, total = 0;
    for (int j0 = 0; j0 < C_k; j0 += 32) {
        const int j = j0 + lane;
        int size = 0, start = 0;
        bool sel = false;
        if (j < C_k) {
            start = ko[j];
            size = ko[j + 1] - start;
            sel = m[j] != 0 && size > 0;
        }
        const unsigned ballot = __ballot_sync(0xffffffffu, sel);
        int incl = sel ? size : 0;  // inclusive scan of selected sizes
#pragma unroll
        for (int off = 1; off < 32; off <<= 1) {
            int y = __shfl_up_sync(0xffffffffu, incl, off);
            if (lane >= off) incl += y;
        }
        if (sel) {
            int rank = __popc(ballot & ((1u << lane) - 1u));
            int end = total + incl;
            out[count + rank] = make_int2(end, start - (end - size));
        }
        count += __popc(ballot);
        total += __shfl_sync(0xffffffffu, incl, 31);
    }
    if (lane == 0) info[w] = make_int2(count, total);
}

constexpr int PLAN_THREADS = 256;

__global__ void __launch_bounds__(PLAN_THREADS)
    plan_q_tiles(const int32_t *__restrict__ q_off, int C_q, int BM, int2 *__restrict__ tiles,
                 size_t tile_stride, int *__restrict__ n_tiles) {
    __shared__ int warp_sums[PLAN_THREADS / 32];
    const int h = blockIdx.x, tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int32_t *qo = q_off + (size_t)h * (C_q + 1);
    int2 *out = tiles + (size_t)h * tile_stride;
    int carry = 0;
    for (int i0 = 0; i0 < C_q; i0 += PLAN_THREADS) {
        const int i = i0 + tid;
        int n = 0;
        if (i < C_q) {
            int len = qo[i + 1] - qo[i];
            n = len > 0 ? (len + BM - 1) / BM : 0;
        }
        int incl = n;
#pragma unroll
        for (int off = 1; off < 32; off <<= 1) {
            int y = __shfl_up_sync(0xffffffffu, incl, off);
            if (lane >= off) incl += y;
        }
        if (lane == 31) warp_sums[warp] = incl;
        __syncthreads();
        int before = 0, block_total = 0;
        for (int w = 0; w < PLAN_THREADS / 32; w++) {
            if (w < warp) before += warp_sums[w];
            block_total += warp_sums[w];
        }
        const int start = carry + before + incl - n;
        for (int t = 0; t < n; t++) out[start + t] = make_int2(i, t);
        carry += block_total;
        __syncthreads();  // warp_sums is rewritten next round
    }
    if (tid == 0) n_tiles[h] = carry;
}

template <class C>
__global__ void __launch_bounds__(C::THREADS, C::MIN_BLOCKS)
    dense_kernel(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                 const __nv_bfloat16 *__restrict__ v, __nv_bfloat16 *__restrict__ o, int S,
                 float scale_log2) {
    const size_t head = (size_t)blockIdx.y * S * C::D;
    const int q0 = blockIdx.x * C::BM;
    const int q_len = min(C::BM, S - q0);
    attention_tile<C, false>(q + head, k + head, v + head, o + head, q0, q_len, S, nullptr, 0,
                             scale_log2);
}

template <class C>
__global__ void __launch_bounds__(C::THREADS, C::MIN_BLOCKS)
    sparse_kernel(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                  const __nv_bfloat16 *__restrict__ v, __nv_bfloat16 *__restrict__ o, int S,
                  const int32_t *__restrict__ q_off, int C_q, int C_k,
                  const int2 *__restrict__ lists, const int2 *__restrict__ info,
                  const int2 *__restrict__ tiles, size_t tile_stride,
                  const int *__restrict__ n_tiles, float scale_log2) {
    const int h = blockIdx.y;
    if ((int)blockIdx.x >= n_tiles[h]) return;
    const int2 tile = tiles[(size_t)h * tile_stride + blockIdx.x];
    const int i = tile.x;
    const int32_t *qo = q_off + (size_t)h * (C_q + 1);
    const int q0 = qo[i] + tile.y * C::BM;
    const int q_len = min(C::BM, qo[i + 1] - q0);
    const size_t head = (size_t)h * S * C::D;
    const size_t hi = (size_t)h * C_q + i;
    const int2 inf = info[hi];
    attention_tile<C, true>(q + head, k + head, v + head, o + head, q0, q_len, inf.y,
                            lists + hi * C_k, inf.x, scale_log2);
}

int cuda_fail(cudaError_t e, const char *what) {
    return VS_FAIL("%s: %s (hint: check the device pointers and shapes; run under compute-sanitizer)",
                   what, cudaGetErrorString(e));
}

// Opt a kernel into more than 48 KiB of dynamic shared memory (once per kernel).
template <class Kernel>
int smem_opt_in(Kernel kernel, int bytes, int *done) {
    if (*done) return 0;
    cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
    if (e != cudaSuccess) return cuda_fail(e, "cudaFuncSetAttribute(attention shared memory)");
    *done = 1;
    return 0;
}

float scale_log2_for(int D) { return (float)(1.4426950408889634 / sqrt((double)D)); }

template <class C>
int launch_dense(const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v, vs_bf16 *o, int H, int S,
                 cudaStream_t stream) {
    static int opted = 0;
    if (smem_opt_in(dense_kernel<C>, C::SMEM_BYTES, &opted)) return -1;
    dim3 grid((unsigned)((S + C::BM - 1) / C::BM), (unsigned)H);
    dense_kernel<C><<<grid, C::THREADS, C::SMEM_BYTES, stream>>>(
        (const __nv_bfloat16 *)q, (const __nv_bfloat16 *)k, (const __nv_bfloat16 *)v,
        (__nv_bfloat16 *)o, S, scale_log2_for(C::D));
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? 0 : cuda_fail(e, "dense attention kernel launch");
}

template <class C>
int launch_sparse(const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v, vs_bf16 *o, int H, int S,
                  const int32_t *q_off, const int32_t *k_off, const uint8_t *mask, int C_q, int C_k,
                  void *workspace, cudaStream_t stream) {
    static int opted = 0;
    if (smem_opt_in(sparse_kernel<C>, C::SMEM_BYTES, &opted)) return -1;
    Workspace w = carve(workspace, H, S, C_q, C_k);
    long long warps = (long long)H * C_q;
    plan_key_lists<<<(unsigned)((warps + 3) / 4), 128, 0, stream>>>(mask, k_off, H, C_q, C_k,
                                                                   w.lists, w.info);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return cuda_fail(e, "sparse attention key-list planning launch");
    plan_q_tiles<<<(unsigned)H, PLAN_THREADS, 0, stream>>>(q_off, C_q, C::BM, w.tiles,
                                                           w.tile_stride, w.n_tiles);
    e = cudaGetLastError();
    if (e != cudaSuccess) return cuda_fail(e, "sparse attention tile planning launch");
    dim3 grid((unsigned)((S + C::BM - 1) / C::BM + C_q), (unsigned)H);
    sparse_kernel<C><<<grid, C::THREADS, C::SMEM_BYTES, stream>>>(
        (const __nv_bfloat16 *)q, (const __nv_bfloat16 *)k, (const __nv_bfloat16 *)v,
        (__nv_bfloat16 *)o, S, q_off, C_q, C_k, w.lists, w.info, w.tiles, w.tile_stride,
        w.n_tiles, scale_log2_for(C::D));
    e = cudaGetLastError();
    return e == cudaSuccess ? 0 : cuda_fail(e, "sparse attention kernel launch");
}

// The compiled configurations: <D, warps, m16 tiles per warp, key tile, stages>.
using D128_A = Config<128, 4, 2, 64, 2>;  // FA2-like: 128 query rows, 32 per warp
using D128_B = Config<128, 8, 1, 64, 2>;  // 128 query rows, 16 per warp
using D128_C = Config<128, 4, 1, 64, 3>;  // 64 query rows, 16 per warp, 3 stages
using D128_D = Config<128, 4, 2, 32, 3>;  // 128 query rows, 32 per warp, short key tiles
using D128_E = Config<128, 8, 1, 64, 2, 2>;  // as B, registers capped for 2 CTAs per SM
using D64_A = Config<64, 4, 2, 64, 3>;
using D64_B = Config<64, 8, 1, 64, 3>;

struct Variant {
    const char *name;
    int (*dense)(const vs_bf16 *, const vs_bf16 *, const vs_bf16 *, vs_bf16 *, int, int, cudaStream_t);
    int (*sparse)(const vs_bf16 *, const vs_bf16 *, const vs_bf16 *, vs_bf16 *, int, int,
                  const int32_t *, const int32_t *, const uint8_t *, int, int, void *, cudaStream_t);
};

#define VS_VARIANT(C, name) {name, launch_dense<C>, launch_sparse<C>}
const Variant variants128[] = {
    VS_VARIANT(D128_A, "bm128 4w x32rows bn64 2st"),
    VS_VARIANT(D128_B, "bm128 8w x16rows bn64 2st"),
    VS_VARIANT(D128_C, "bm64 4w x16rows bn64 3st"),
    VS_VARIANT(D128_D, "bm128 4w x32rows bn32 3st"),
    VS_VARIANT(D128_E, "bm128 8w x16rows bn64 2st 2cta"),
};
const Variant variants64[] = {
    VS_VARIANT(D64_A, "bm128 4w x32rows bn64 3st"),
    VS_VARIANT(D64_B, "bm128 8w x16rows bn64 3st"),
};
#undef VS_VARIANT

const Variant *find_variant(int D, int variant) {
    if (D == 128 && variant >= 0 && variant < (int)(sizeof variants128 / sizeof *variants128))
        return &variants128[variant];
    if (D == 64 && variant >= 0 && variant < (int)(sizeof variants64 / sizeof *variants64))
        return &variants64[variant];
    return nullptr;
}

bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

int check_common(const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v, vs_bf16 *o, int H, int S,
                 int D) {
    if (D != 64 && D != 128)
        return VS_FAIL("attention: head dim %d is not supported (hint: D must be 64 or 128)", D);
    if (H < 1 || S < 0)
        return VS_FAIL("attention: bad shape H=%d S=%d (hint: H >= 1, S >= 0)", H, S);
    if (!q || !k || !v || !o || !aligned16(q) || !aligned16(k) || !aligned16(v) || !aligned16(o))
        return VS_FAIL("attention: q/k/v/o must be non-null 16-byte-aligned device pointers");
    return 0;
}

}  // namespace

extern "C" int vs_cuda_attention_variant_count(int D) {
    return D == 128 ? (int)(sizeof variants128 / sizeof *variants128)
                    : D == 64 ? (int)(sizeof variants64 / sizeof *variants64) : 0;
}

extern "C" const char *vs_cuda_attention_variant_name(int D, int variant) {
    const Variant *var = find_variant(D, variant);
    return var ? var->name : "?";
}

extern "C" int vs_cuda_dense_attention_variant(int variant, const vs_bf16 *q, const vs_bf16 *k,
                                               const vs_bf16 *v, vs_bf16 *o, int H, int S, int D,
                                               vs_cuda_stream stream) {
    if (check_common(q, k, v, o, H, S, D)) return -1;
    const Variant *var = find_variant(D, variant);
    if (!var) return VS_FAIL("attention: no variant %d for head dim %d", variant, D);
    if (S == 0) return 0;
    return var->dense(q, k, v, o, H, S, (cudaStream_t)stream);
}

extern "C" int vs_cuda_sparse_attention_variant(int variant, const vs_bf16 *q, const vs_bf16 *k,
                                                const vs_bf16 *v, vs_bf16 *o, int H, int S, int D,
                                                const int32_t *q_offsets, const int32_t *k_offsets,
                                                const uint8_t *mask, int C_q, int C_k,
                                                void *workspace, vs_cuda_stream stream) {
    if (check_common(q, k, v, o, H, S, D)) return -1;
    const Variant *var = find_variant(D, variant);
    if (!var) return VS_FAIL("attention: no variant %d for head dim %d", variant, D);
    if (C_q < 1 || C_k < 1)
        return VS_FAIL("sparse attention: C_q=%d C_k=%d (hint: at least one cluster each)", C_q, C_k);
    if (!q_offsets || !k_offsets || !mask || !workspace || ((uintptr_t)workspace & 255))
        return VS_FAIL("sparse attention: offsets, mask and a 256-byte-aligned workspace of "
                       "vs_cuda_sparse_attention_workspace_bytes() are required");
    if (S == 0) return 0;
    return var->sparse(q, k, v, o, H, S, q_offsets, k_offsets, mask, C_q, C_k, workspace,
                       (cudaStream_t)stream);
}

extern "C" size_t vs_cuda_sparse_attention_workspace_bytes(int H, int S, int C_q, int C_k) {
    return align256((size_t)H * C_q * C_k * sizeof(int2)) + align256((size_t)H * C_q * sizeof(int2)) +
           align256((size_t)H * max_q_tiles(S, C_q) * sizeof(int2)) + align256((size_t)H * sizeof(int));
}

extern "C" int vs_cuda_dense_attention(const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v,
                                       vs_bf16 *o, int H, int S, int D, vs_cuda_stream stream) {
    return vs_cuda_dense_attention_variant(0, q, k, v, o, H, S, D, stream);
}

extern "C" int vs_cuda_sparse_attention(const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v,
                                        vs_bf16 *o, int H, int S, int D, const int32_t *q_offsets,
                                        const int32_t *k_offsets, const uint8_t *mask, int C_q,
                                        int C_k, void *workspace, vs_cuda_stream stream) {
    return vs_cuda_sparse_attention_variant(0, q, k, v, o, H, S, D, q_offsets, k_offsets, mask,
                                            C_q, C_k, workspace, stream);
}
