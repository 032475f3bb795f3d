// Dense and variable-block sparse attention launchers (kernels/cuda/attention.h), and the GPU
// planning of the sparse schedule.
//
// Sparse planning, all on the GPU so a call needs no host synchronisation and can be captured
// in a CUDA graph (the official path copies lengths to the host to size its buffers):
//   plan_key_lists: one warp per (head, query cluster) compacts the selected non-empty key
//     clusters, in increasing index, into (end position in the concatenation, row - position)
//     pairs with a ballot + shuffle scan; the list length and total key count go to `info`.
//   plan_q_tiles: one block per head scans the query tiles of each cluster and writes one
//     (cluster, first row within the cluster) entry per tile, longest key list first (for the
//     persistent kernel the last two heads share one block and one list).
// The per-tile kernels' grid is sized from the host-known bound ceil(S / BM) + C_q tiles per
// head; CTAs past the head's real count return at once. The persistent kernel (the D = 128
// default on sm_90a) runs one CTA per SM over all heads' tiles instead
// (sparse_persistent_wgmma).
//
// What separates the sparse kernel from density x dense time (docs/attention-kernels.md):
// - Per-CTA start-up. A CTA per tile pays for loading Q and its first key tiles, the pipeline's
//   ramp and its stores, against key lists a fraction of the dense one; measured with query
//   clusters of exactly 128 rows, 1.31x at 10% density against 1.10x at 50%. The persistent
//   kernel overlaps most of it with the previous tile.
// - Query-tile padding: a query cluster of n rows needs ceil(n / BM) passes over its key list,
//   and a tile of <= 64 rows loads the same keys for half the rows or fewer. With one consumer
//   warpgroup on it, it cost 0.58-0.69 of a full tile; the persistent kernel puts both on it,
//   each on every other key tile (consumer_loop_split), so it is bound by its loads (~0.5).
//   The "+ bm64 tails" variants send such remainders to a second kernel with half-height
//   tiles, smaller CTAs and more of them per SM (it pays for mma.sync, not for wgmma).
//
// Workspace (strides fixed by the shapes, so any variant's BM fits):
//   lists [H * C_q * C_k] int2 | info [H * C_q] int2 | tiles [H * max_tiles] int2 |
//   tail tiles [H * C_q] int2 | n_tiles [2 H] (main, tail) | next item of the persistent kernel
#include <cuda_runtime.h>
#include <math.h>
#include <stdlib.h>

#include <type_traits>

#include "kernels/cuda/attention_core.cuh"
#include "kernels/cuda/attention_hopper.cuh"
#include "kernels/cuda/attention_variants.h"
#include "runtime/vs_check.h"

using namespace vs_attn;

namespace {

constexpr int MIN_BM = 64;  // the smallest query tile of any variant: sizes the tile table

size_t align256(size_t x) { return (x + 255) & ~(size_t)255; }
size_t max_q_tiles(int S, int C_q) { return (size_t)S / MIN_BM + 1 + (size_t)C_q; }

struct Workspace {
    int2 *lists, *info, *tiles, *tail_tiles;
    int *n_tiles;  // [2 H + 1]: main tiles per head, tail tiles per head, the item counter
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
    w.tail_tiles = (int2 *)p;
    p += align256((size_t)H * C_q * sizeof(int2));
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
    // Rounds of 32 clusters, ROUNDS at a time: all their loads are issued before the first
    // round's scan, so a warp waits for memory once per ROUNDS rounds (the rounds chain only
    // by their sums).
    constexpr int ROUNDS = 8;
    for (int c0 = 0; c0 < C_k; c0 += 32 * ROUNDS) {
        int start[ROUNDS], end[ROUNDS];
        uint8_t picked[ROUNDS];
#pragma unroll
        for (int r = 0; r < ROUNDS; r++) {
            const int j = c0 + 32 * r + lane;
            const bool in = j < C_k;
            start[r] = in ? ko[j] : 0;
            end[r] = in ? ko[j + 1] : 0;
            picked[r] = in ? m[j] : 0;
        }
#pragma unroll
        for (int r = 0; r < ROUNDS; r++) {
            const int size = end[r] - start[r];
            const bool sel = picked[r] != 0 && size > 0;
            const unsigned ballot = __ballot_sync(0xffffffffu, sel);
            int incl = sel ? size : 0;  // inclusive scan of selected sizes
#pragma unroll
            for (int off = 1; off < 32; off <<= 1) {
                int y = __shfl_up_sync(0xffffffffu, incl, off);
                if (lane >= off) incl += y;
            }
            if (sel) {
                int rank = __popc(ballot & ((1u << lane) - 1u));
                int e = total + incl;
                out[count + rank] = make_int2(e, start[r] - (e - size));
            }
            count += __popc(ballot);
            total += __shfl_sync(0xffffffffu, incl, 31);
        }
    }
    if (lane == 0) info[w] = make_int2(count, total);
}

constexpr int PLAN_THREADS = 256;

// Block-wide exclusive scan step over PLAN_THREADS values: returns this thread's offset, adds
// the block total to *carry (uniform).
__device__ int block_scan(int n, int *warp_sums, int *carry) {
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
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
    const int start = *carry + before + incl - n;
    *carry += block_total;
    __syncthreads();  // warp_sums is rewritten by the next call
    return start;
}

constexpr int PLAN_BUCKETS = 1024;  // key-list lengths in key tiles; longer ones share the last

// Query tiles of one head. Cluster of n rows: floor(n / BM) full tiles plus a remainder r; with
// tail_bm > 0 a remainder r <= tail_bm goes to the tail list, otherwise it is one more main tile.
// The main tiles are ordered by the length of their key list, longest first (a counting sort
// over key tiles of BN), so the CTAs that finish a head last run its shortest tiles. Ties and the
// tail list are in no fixed order: a tile's result does not depend on where it is scheduled.
// One block per head, except that the last block sorts the last `merged` heads as one list
// (for the persistent kernel, which runs no tails; below): the list sits in the first head's
// rows of `tiles` and n_tiles, the other heads count 0, and a tile's x is (head - first head) *
// C_q + cluster. With merged = 1, x is the cluster.
__global__ void __launch_bounds__(PLAN_THREADS)
    plan_q_tiles(const int32_t *__restrict__ q_off, const int2 *__restrict__ info, int H, int C_q,
                 int BM, int BN, int tail_bm, int merged, int2 *__restrict__ tiles,
                 size_t tile_stride, int2 *__restrict__ tail_tiles, int *__restrict__ n_tiles) {
    __shared__ int bucket_next[PLAN_BUCKETS];
    __shared__ int warp_sums[PLAN_THREADS / 32];
    __shared__ int tail_count;
    const int h = blockIdx.x, tid = threadIdx.x;
    const int heads = h == (int)gridDim.x - 1 ? merged : 1;
    const int entries = heads * C_q;  // (head, cluster) pairs of this block
    int2 *out = tiles + (size_t)h * tile_stride;
    int2 *tail_out = tail_tiles + (size_t)h * C_q;
    struct Split { int full, n_main, n_tail, bucket; };
    const auto split = [&](int e) {
        const size_t hc = (size_t)h * C_q + e;  // the entry's (head, cluster), head-major
        const int32_t *qo = q_off + hc + hc / C_q;  // rows of q_off are C_q + 1 long
        const int len = max(0, qo[1] - qo[0]);
        const int full = len / BM, rem = len - full * BM;
        const int n_tail = rem > 0 && rem <= tail_bm;
        const int key_tiles = (info[hc].y + BN - 1) / BN;
        return Split{full, full + (rem > 0 && !n_tail), n_tail,
                     PLAN_BUCKETS - 1 - min(key_tiles, PLAN_BUCKETS - 1)};
    };
    for (int j = tid; j < PLAN_BUCKETS; j += PLAN_THREADS) bucket_next[j] = 0;
    if (tid == 0) tail_count = 0;
    __syncthreads();
    for (int e = tid; e < entries; e += PLAN_THREADS) {
        const Split sp = split(e);
        if (sp.n_main) atomicAdd(&bucket_next[sp.bucket], sp.n_main);
    }
    __syncthreads();
    // bucket counts -> first positions: each thread scans PER consecutive buckets
    constexpr int PER = PLAN_BUCKETS / PLAN_THREADS;
    static_assert(PLAN_BUCKETS % PLAN_THREADS == 0, "buckets per thread");
    int counts[PER], sum = 0, carry = 0;
    for (int j = 0; j < PER; j++) sum += counts[j] = bucket_next[tid * PER + j];
    int pos = block_scan(sum, warp_sums, &carry);
    for (int j = 0; j < PER; j++) {
        bucket_next[tid * PER + j] = pos;
        pos += counts[j];
    }
    __syncthreads();
    for (int e = tid; e < entries; e += PLAN_THREADS) {
        const Split sp = split(e);
        if (sp.n_main) {
            const int start = atomicAdd(&bucket_next[sp.bucket], sp.n_main);
            for (int t = 0; t < sp.n_main; t++) out[start + t] = make_int2(e, t * BM);
        }
        if (sp.n_tail) tail_out[atomicAdd(&tail_count, 1)] = make_int2(e, sp.full * BM);
    }
    __syncthreads();
    if (tid == 0) {
        for (int g = 0; g < heads; g++) {
            n_tiles[h + g] = g == 0 ? carry : 0;
            n_tiles[H + h + g] = g == 0 ? tail_count : 0;
        }
        if (h == 0) n_tiles[2 * H] = 0;  // the persistent kernel's item counter
    }
}

// Head strides and row strides (elements) of q, k / v and o for the dense kernel.
struct DenseLayout {
    size_t q_head, kv_head, o_head;
    int ld_q, ld_kv, ld_o;
};

template <class C>
__global__ void __launch_bounds__(C::THREADS, C::MIN_BLOCKS)
    dense_kernel(const __nv_bfloat16 *__restrict__ q, const __nv_bfloat16 *__restrict__ k,
                 const __nv_bfloat16 *__restrict__ v, __nv_bfloat16 *__restrict__ o, int Lq,
                 int Lk, DenseLayout L, float scale_log2) {
    const size_t h = blockIdx.y;
    const int q0 = blockIdx.x * C::BM;
    const int q_len = min(C::BM, Lq - q0);
    if constexpr (C::HOPPER)
        attention_tile_wgmma<C, false>(q + h * L.q_head, k + h * L.kv_head, v + h * L.kv_head,
                                       o + h * L.o_head, q0, q_len, Lk, nullptr, 0, scale_log2,
                                       L.ld_q, L.ld_kv, L.ld_o);
    else
        attention_tile<C, false>(q + h * L.q_head, k + h * L.kv_head, v + h * L.kv_head,
                                 o + h * L.o_head, q0, q_len, Lk, nullptr, 0, scale_log2, L.ld_q,
                                 L.ld_kv, L.ld_o);
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
    const int q0 = qo[i] + tile.y;
    const int q_len = min(C::BM, qo[i + 1] - q0);
    const size_t head = (size_t)h * S * C::D;
    const size_t hi = (size_t)h * C_q + i;
    const int2 inf = info[hi];
    if constexpr (C::HOPPER)
        attention_tile_wgmma<C, true>(q + head, k + head, v + head, o + head, q0, q_len, inf.y,
                                      lists + hi * C_k, inf.x, scale_log2, C::D, C::D, C::D);
    else
        attention_tile<C, true>(q + head, k + head, v + head, o + head, q0, q_len, inf.y,
                                lists + hi * C_k, inf.x, scale_log2, C::D, C::D, C::D);
}

int cuda_fail(cudaError_t e, const char *what) {
    return VS_FAIL("%s: %s (hint: check the device pointers and shapes; run under compute-sanitizer)",
                   what, cudaGetErrorString(e));
}

// Opt a kernel into more than 48 KiB of dynamic shared memory, once per kernel and device
// (bit d of *done_mask: device d done; the attribute is per device context). Not a stream
// operation, so it is allowed while a stream is being captured into a graph.
template <class Kernel>
int smem_opt_in(Kernel kernel, int bytes, unsigned long long *done_mask) {
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return cuda_fail(e, "cudaGetDevice");
    const unsigned long long bit = dev < 64 ? 1ull << dev : 0;
    if (*done_mask & bit) return 0;
    e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
    if (e != cudaSuccess) return cuda_fail(e, "cudaFuncSetAttribute(attention shared memory)");
    *done_mask |= bit;
    return 0;
}

float scale_log2_for(int D) { return (float)(1.4426950408889634 / sqrt((double)D)); }

template <class C>
int launch_dense(const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v, vs_bf16 *o, int H, int Lq,
                 int Lk, const DenseLayout &layout, float scale_log2, cudaStream_t stream) {
    static unsigned long long opted = 0;
    if (smem_opt_in(dense_kernel<C>, C::SMEM_BYTES, &opted)) return -1;
    dim3 grid((unsigned)((Lq + C::BM - 1) / C::BM), (unsigned)H);
    dense_kernel<C><<<grid, C::THREADS, C::SMEM_BYTES, stream>>>(
        (const __nv_bfloat16 *)q, (const __nv_bfloat16 *)k, (const __nv_bfloat16 *)v,
        (__nv_bfloat16 *)o, Lq, Lk, layout, scale_log2);
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? 0 : cuda_fail(e, "dense attention kernel launch");
}

template <class C>
int launch_sparse_tiles(const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v, vs_bf16 *o, int H,
                        int S, const int32_t *q_off, int C_q, int C_k, const Workspace &w,
                        const int2 *tiles, size_t tile_stride, const int *n_tiles,
                        unsigned max_tiles, cudaStream_t stream) {
    static unsigned long long opted = 0;
    if (smem_opt_in(sparse_kernel<C>, C::SMEM_BYTES, &opted)) return -1;
    dim3 grid(max_tiles, (unsigned)H);
    sparse_kernel<C><<<grid, C::THREADS, C::SMEM_BYTES, stream>>>(
        (const __nv_bfloat16 *)q, (const __nv_bfloat16 *)k, (const __nv_bfloat16 *)v,
        (__nv_bfloat16 *)o, S, q_off, C_q, C_k, w.lists, w.info, tiles, tile_stride, n_tiles,
        scale_log2_for(C::D));
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? 0 : cuda_fail(e, "sparse attention kernel launch");
}

// The persistent kernel's tiles: head after head, each head's longest key lists first, except
// that the last heads form one list (plan_q_tiles' `merged`). Key-list lengths are skewed (Wan
// 1.3B at 13% density: 4 to 167 key tiles, median 13), and a head's longest tiles can outlast
// the CTAs' whole time on that head: with the last head on its own, a few CTAs ran its longest
// tiles 60-75 us after the others had finished, 3.2% of the call. Sorted together, two heads'
// longest tiles start a head earlier and the call ends on short ones from both (3% faster
// there); two heads' K/V (34 MB at Wan 1.3B) still fit in L2 together, and three or four heads
// merged measured slower (docs/attention-kernels.md, session 15).
constexpr int PERSISTENT_MERGED_HEADS = 2;

// The work of the persistent sparse kernel: the planned tiles of all heads, head after head,
// handed out by a counter (claim()). get() moves a caller's cursor over the heads, so a CTA's
// increasing indices cost O(H) in all.
// (Kept constant so it stays in the parameter bank instead of taking registers.)
struct SparseWork {
    const __nv_bfloat16 *q, *k, *v;
    __nv_bfloat16 *o;
    const int32_t *q_off;
    const int2 *lists, *info, *tiles;
    const int *n_tiles;
    int *counter;  // items claimed so far beyond the first gridDim.x; zeroed by plan_q_tiles
    size_t tile_stride;
    int H, S, D, BM, C_q, C_k;

#ifdef VS_WGMMA  // the items interface of sparse_persistent_wgmma, whose code is sm_90a only
    __device__ int size() const {
        int n = 0;
        for (int i = 0; i < H; i++) n += n_tiles[i];
        return n;
    }
    __device__ int claim() const { return (int)gridDim.x + atomicAdd(counter, 1); }
    // cursor: (h, base) with items of heads < h at [0, base); start at (0, 0)
    __device__ SparseItem get(int index, int2 &cursor) const {
        int h = cursor.x, base = cursor.y;
        while (index >= base + n_tiles[h]) base += n_tiles[h++];
        cursor = make_int2(h, base);
        int2 tile = tiles[(size_t)h * tile_stride + (index - base)];
        h += tile.x / C_q, tile.x %= C_q;  // a tile of the merged list names its head
        const int32_t *qo = q_off + (size_t)h * (C_q + 1);
        const size_t hi = (size_t)h * C_q + tile.x, head = (size_t)h * S * D;
        const int2 inf = info[hi];
        SparseItem it;
        it.q = q + head, it.k = k + head, it.v = v + head, it.o = o + head;
        it.list = lists + hi * C_k;
        it.list_len = inf.x, it.n_keys = inf.y;
        it.q_row0 = qo[tile.x] + tile.y;
        it.q_len = min(BM, qo[tile.x + 1] - it.q_row0);
        return it;
    }
#endif
};

template <class C>
__global__ void __launch_bounds__(C::THREADS, 1)
    sparse_persistent_kernel(const __grid_constant__ SparseWork work, float scale_log2) {
    sparse_persistent_wgmma<C>(work, scale_log2);
}

// SMs of the current device, cached per device.
int sm_count() {
    static int counts[64];
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev >= 64) return 0;
    if (counts[dev] == 0 &&
        cudaDeviceGetAttribute(&counts[dev], cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
        counts[dev] = 0;
    return counts[dev];
}

template <class C>
int launch_sparse_persistent(const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v, vs_bf16 *o,
                             int H, int S, const int32_t *q_off, int C_q, int C_k,
                             const Workspace &w, cudaStream_t stream) {
    static unsigned long long opted = 0;
    if (smem_opt_in(sparse_persistent_kernel<C>, C::SMEM_BYTES, &opted)) return -1;
    const int sms = sm_count();
    if (sms < 1) return VS_FAIL("sparse attention: could not read the GPU's SM count");
    const SparseWork work = {(const __nv_bfloat16 *)q, (const __nv_bfloat16 *)k,
                             (const __nv_bfloat16 *)v, (__nv_bfloat16 *)o, q_off, w.lists, w.info,
                             w.tiles, w.n_tiles, w.n_tiles + 2 * H, w.tile_stride, H, S, C::D, C::BM, C_q, C_k};
    sparse_persistent_kernel<C><<<(unsigned)sms, C::THREADS, C::SMEM_BYTES, stream>>>(
        work, scale_log2_for(C::D));
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? 0 : cuda_fail(e, "sparse attention (persistent) kernel launch");
}

// Main tiles of config C; with Tail != C, remainders of <= Tail::BM rows by config Tail;
// PERSISTENT: one CTA per SM walking the tiles (sparse_persistent_wgmma), no tails.
template <class C, class Tail = C, bool PERSISTENT = false>
int launch_sparse(const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v, vs_bf16 *o, int H, int S,
                  const int32_t *q_off, const int32_t *k_off, const uint8_t *mask, int C_q, int C_k,
                  void *workspace, cudaStream_t stream) {
    constexpr bool split = !std::is_same<C, Tail>::value;
    static_assert(!split || Tail::BM <= C::BM / 2, "tail tiles hold at most half a main tile");
    static_assert(!(split && PERSISTENT), "the persistent kernel takes every tile");
    Workspace w = carve(workspace, H, S, C_q, C_k);
    long long warps = (long long)H * C_q;
    plan_key_lists<<<(unsigned)((warps + 3) / 4), 128, 0, stream>>>(mask, k_off, H, C_q, C_k,
                                                                   w.lists, w.info);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return cuda_fail(e, "sparse attention key-list planning launch");
    const int merged = PERSISTENT ? min(H, PERSISTENT_MERGED_HEADS) : 1;
    plan_q_tiles<<<(unsigned)(H - merged + 1), PLAN_THREADS, 0, stream>>>(
        q_off, w.info, H, C_q, C::BM, C::BN, split ? Tail::BM : 0, merged, w.tiles, w.tile_stride,
        w.tail_tiles, w.n_tiles);
    e = cudaGetLastError();
    if (e != cudaSuccess) return cuda_fail(e, "sparse attention tile planning launch");
    if constexpr (PERSISTENT) return launch_sparse_persistent<C>(q, k, v, o, H, S, q_off, C_q, C_k, w, stream);
    if (launch_sparse_tiles<C>(q, k, v, o, H, S, q_off, C_q, C_k, w, w.tiles, w.tile_stride,
                               w.n_tiles, (unsigned)((S + C::BM - 1) / C::BM + C_q), stream))
        return -1;
    if (!split) return 0;
    return launch_sparse_tiles<Tail>(q, k, v, o, H, S, q_off, C_q, C_k, w, w.tail_tiles,
                                     (size_t)C_q, w.n_tiles + H, (unsigned)C_q, stream);
}

// The compiled configurations. mma.sync: <D, warps, m16 tiles per warp, key tile, stages, min
// CTAs/SM>; wgmma (sm_90a): <D, warpgroups, key tile, stages, schedule, min CTAs/SM>.
// Others measured and dropped (docs/attention-kernels.md): mma.sync with 16 query rows per warp,
// BN = 32 with 3 stages, registers capped for 2 CTAs of 8 warps, 3 CTAs of BM = 64; wgmma with
// FA3's intra-warpgroup overlap but no warp specialisation (no faster than plain), pingpong with
// 3 stages and 64-row tails, sparse CTAs whose two warpgroups serve different query clusters.
using D128_A = Config<128, 4, 2, 64, 2>;     // FA2-like: 128 query rows, 32 per warp
using D128_H = Config<128, 2, 2, 32, 2, 4>;  // 64 query rows, 32 per warp, 4 CTAs per SM
using D64_A = Config<64, 4, 2, 64, 3>;
constexpr Schedule PP = Schedule::PINGPONG, PO = Schedule::PINGPONG_OVERLAP, PL = Schedule::PLAIN;
using W128_PO = HopperConfig<128, 2, 128, 3, PO>;   // producer + 2 consumers, each overlapping
using W128_PP = HopperConfig<128, 2, 128, 2, PP>;   // producer + 2 consumers
using W128_P = HopperConfig<128, 2, 128, 2, PL>;    // 2 warpgroups, all load
using W128_T = HopperConfig<128, 1, 64, 2, PL, 2>;  // remainders <= 64 rows
using W64_PO = HopperConfig<64, 2, 128, 3, PO>;
using W64_PP = HopperConfig<64, 2, 128, 3, PP>;
using W64_P = HopperConfig<64, 2, 128, 2, PL>;
using W64_T = HopperConfig<64, 1, 64, 2, PL, 2>;

struct Variant {
    const char *name;
    bool hopper;  // wgmma kernels: usable only where the sm_90a code is loaded
    int (*dense)(const vs_bf16 *, const vs_bf16 *, const vs_bf16 *, vs_bf16 *, int, int, int,
                 const DenseLayout &, float, cudaStream_t);
    int (*sparse)(const vs_bf16 *, const vs_bf16 *, const vs_bf16 *, vs_bf16 *, int, int,
                  const int32_t *, const int32_t *, const uint8_t *, int, int, void *, cudaStream_t);
};

// The public launchers use the first variant the device can run: the order is by measured speed
// (docs/attention-kernels.md). wgmma: for D = 128 the persistent sparse kernel measured up to 5%
// faster than a CTA per tile in `bench attention` (most where key lists are shortest; the dense
// kernels of the two are the same); for D = 64, where a key tile is half the work, it measured
// up to 7% slower at 50% density. Pingpong with intra-warpgroup overlap beats plain pingpong by
// 4-8% dense (most at long S) and plain by ~12%; with pingpong, sending short remainders to the
// 1-warpgroup kernel no longer pays. mma.sync: for D = 128, A with H taking the short remainders
// is the fastest sparse kernel.
const Variant variants128[] = {
    {"wgmma pingpong+overlap bm128 bn128 3st, persistent sparse", true, launch_dense<W128_PO>, launch_sparse<W128_PO, W128_PO, true>},
    {"wgmma pingpong+overlap bm128 bn128 3st", true, launch_dense<W128_PO>, launch_sparse<W128_PO>},
    {"wgmma pingpong bm128 bn128 2st", true, launch_dense<W128_PP>, launch_sparse<W128_PP>},
    {"wgmma plain bm128 bn128 2st + bm64 tails", true, launch_dense<W128_P>, launch_sparse<W128_P, W128_T>},
    {"mma bm128 4w x32rows bn64 2st + bm64 tails", false, launch_dense<D128_A>, launch_sparse<D128_A, D128_H>},
    {"mma bm64 2w x32rows bn32 2st 4cta", false, launch_dense<D128_H>, launch_sparse<D128_H>},
};
const Variant variants64[] = {
    {"wgmma pingpong+overlap bm128 bn128 3st", true, launch_dense<W64_PO>, launch_sparse<W64_PO>},
    {"wgmma pingpong+overlap bm128 bn128 3st, persistent sparse", true, launch_dense<W64_PO>, launch_sparse<W64_PO, W64_PO, true>},
    {"wgmma pingpong bm128 bn128 3st + bm64 tails", true, launch_dense<W64_PP>, launch_sparse<W64_PP, W64_T>},
    {"wgmma plain bm128 bn128 2st + bm64 tails", true, launch_dense<W64_P>, launch_sparse<W64_P, W64_T>},
    {"mma bm128 4w x32rows bn64 3st", false, launch_dense<D64_A>, launch_sparse<D64_A>},
};

const Variant *find_variant(int D, int variant) {
    if (D == 128 && variant >= 0 && variant < (int)(sizeof variants128 / sizeof *variants128))
        return &variants128[variant];
    if (D == 64 && variant >= 0 && variant < (int)(sizeof variants64 / sizeof *variants64))
        return &variants64[variant];
    return nullptr;
}

// Whether the current device runs the wgmma kernels: a compute capability 9.0 device with the
// sm_90a machine code loaded (a build without the 90a target, or a device that JIT-compiles the
// portable PTX, gets kernels whose body only traps). Cached per device.
bool hopper_ready() {
    static unsigned long long known = 0, ready = 0;
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev >= 64) return false;
    const unsigned long long bit = 1ull << dev;
    if (!(known & bit)) {
        int major = 0, minor = 0;
        cudaFuncAttributes attr;
        bool ok = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
                  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) == cudaSuccess &&
                  major == 9 && minor == 0 &&
                  cudaFuncGetAttributes(&attr, dense_kernel<W128_P>) == cudaSuccess &&
                  attr.binaryVersion == 90 && attr.ptxVersion >= 90;
        cudaGetLastError();  // a failed query above must not leak into the next launch check
        if (ok) ready |= bit;
        known |= bit;
    }
    return (ready & bit) != 0;
}

bool variant_usable(const Variant *var) { return var && (!var->hopper || hopper_ready()); }

// VS_ATTENTION_VARIANT=N makes variant N the default for every head dim (to compare kernels in
// `bench attention` or `bench step`, or to step around one); the launchers reject an N that the
// head dim or the device does not have, with its name in the message.
int default_variant(int D) {
    static const char *forced = getenv("VS_ATTENTION_VARIANT");
    if (forced && *forced) {
        char *end;
        const long n = strtol(forced, &end, 10);
        return *end || n < 0 || n > 1000 ? -1 : (int)n;  // not a variant number: rejected
    }
    for (int i = 0;; i++) {
        const Variant *var = find_variant(D, i);
        if (!var || variant_usable(var)) return var ? i : -1;
    }
}

// Variant `variant` for head dim D if this device runs it; otherwise records why and returns null.
const Variant *usable_variant(int D, int variant) {
    const Variant *var = find_variant(D, variant);
    if (!var) {
        VS_FAIL("attention: no variant %d for head dim %d (hint: 0..%d; VS_ATTENTION_VARIANT "
                "sets the default)", variant, D, vs_cuda_attention_variant_count(D) - 1);
        return nullptr;
    }
    if (!variant_usable(var)) {
        VS_FAIL("attention: variant '%s' needs an sm_90 GPU and a build with the 90a target",
                var->name);
        return nullptr;
    }
    return var;
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

extern "C" int vs_attention_layout_ok(vs_attention_layout l) {
    return l.row >= 0 && l.row % 8 == 0 && l.head % 8 == 0;
}

extern "C" int vs_cuda_attention_variant_count(int D) {
    return D == 128 ? (int)(sizeof variants128 / sizeof *variants128)
                    : D == 64 ? (int)(sizeof variants64 / sizeof *variants64) : 0;
}

extern "C" int vs_cuda_attention_default_variant(int D) { return default_variant(D); }

extern "C" int vs_cuda_attention_variant_usable(int D, int variant) {
    return variant_usable(find_variant(D, variant));
}

extern "C" const char *vs_cuda_attention_variant_name(int D, int variant) {
    const Variant *var = find_variant(D, variant);
    return var ? var->name : "?";
}


extern "C" int vs_cuda_attention_variant(int variant, const vs_bf16 *q, const vs_bf16 *k,
                                         const vs_bf16 *v, vs_bf16 *o, int H, int Lq, int Lk, int D,
                                         vs_attention_layout q_layout, vs_attention_layout kv_layout,
                                         vs_attention_layout o_layout, float scale,
                                         vs_cuda_stream stream) {
    if (check_common(q, k, v, o, H, Lq, D)) return -1;
    if (Lk < 0) return VS_FAIL("attention: bad key count Lk=%d (hint: Lk >= 0)", Lk);
    if (!vs_attention_layout_ok(q_layout) || !vs_attention_layout_ok(kv_layout) ||
        !vs_attention_layout_ok(o_layout))
        return VS_FAIL("attention: head and row strides must be multiples of 8 elements (16-byte "
                       "rows for the asynchronous copies)");
    if (!(scale > 0.f) || !isfinite(scale))
        return VS_FAIL("attention: softmax scale %g (hint: 1/sqrt(head_dim))", (double)scale);
    const Variant *var = usable_variant(D, variant);
    if (!var) return -1;
    if (Lq == 0) return 0;
    const DenseLayout L = {q_layout.head, kv_layout.head, o_layout.head,
                           q_layout.row, kv_layout.row, o_layout.row};
    return var->dense(q, k, v, o, H, Lq, Lk, L, (float)(scale * 1.4426950408889634),
                      (cudaStream_t)stream);
}

extern "C" int vs_cuda_attention(const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v, vs_bf16 *o,
                                 int H, int Lq, int Lk, int D, vs_attention_layout q_layout,
                                 vs_attention_layout kv_layout, vs_attention_layout o_layout,
                                 float scale, vs_cuda_stream stream) {
    return vs_cuda_attention_variant(default_variant(D), q, k, v, o, H, Lq, Lk, D, q_layout,
                                     kv_layout, o_layout, scale, stream);
}

extern "C" int vs_cuda_dense_attention_variant(int variant, const vs_bf16 *q, const vs_bf16 *k,
                                               const vs_bf16 *v, vs_bf16 *o, int H, int S, int D,
                                               vs_cuda_stream stream) {
    const vs_attention_layout heads = {(size_t)S * D, D};
    return vs_cuda_attention_variant(variant, q, k, v, o, H, S, S, D, heads, heads, heads,
                                     (float)(1.0 / sqrt((double)D)), stream);
}

extern "C" int vs_cuda_sparse_attention_variant(int variant, const vs_bf16 *q, const vs_bf16 *k,
                                                const vs_bf16 *v, vs_bf16 *o, int H, int S, int D,
                                                const int32_t *q_offsets, const int32_t *k_offsets,
                                                const uint8_t *mask, int C_q, int C_k,
                                                void *workspace, vs_cuda_stream stream) {
    if (check_common(q, k, v, o, H, S, D)) return -1;
    const Variant *var = usable_variant(D, variant);
    if (!var) return -1;
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
           align256((size_t)H * max_q_tiles(S, C_q) * sizeof(int2)) +
           align256((size_t)H * C_q * sizeof(int2)) + align256((size_t)(2 * H + 1) * sizeof(int));
}

extern "C" int vs_cuda_dense_attention(const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v,
                                       vs_bf16 *o, int H, int S, int D, vs_cuda_stream stream) {
    return vs_cuda_dense_attention_variant(default_variant(D), q, k, v, o, H, S, D, stream);
}

extern "C" int vs_cuda_sparse_attention(const vs_bf16 *q, const vs_bf16 *k, const vs_bf16 *v,
                                        vs_bf16 *o, int H, int S, int D, const int32_t *q_offsets,
                                        const int32_t *k_offsets, const uint8_t *mask, int C_q,
                                        int C_k, void *workspace, vs_cuda_stream stream) {
    return vs_cuda_sparse_attention_variant(default_variant(D), q, k, v, o, H, S, D, q_offsets, k_offsets, mask,
                                            C_q, C_k, workspace, stream);
}
