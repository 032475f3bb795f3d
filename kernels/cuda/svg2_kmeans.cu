// SVG2 step 1 on the GPU: batched k-means (squared Euclidean) with no host round trip.
//
// Assign: one block takes 128 points into registers (bf16 mma.sync A fragments) and streams the
// centroids through shared memory in tiles of 64 (cp.async double buffer); distances
// ||c||^2 - 2 x.c (||x||^2 is the same for every centroid of a point) come out of the matrix
// units in f32 and feed a running arg-min, so the N x C distance matrix never exists.
// Update: the labels are stably sorted (svg2_permute.cu), then one block per cluster sums its
// members in sorted order in 4 fixed slices combined in a fixed order: no float atomics, so the
// centroids repeat bit for bit. Each head's max shift is an integer atomicMax on the f32 bits (a
// max does not depend on order). A small kernel per iteration compares every head's shift with
// tol and raises that head's done flag, which turns its remaining kernels into immediate returns:
// heads converge on their own, as on the CPU, so a head's result does not depend on the others.
#include "kernels/cuda/svg2_cuda.h"
#include "kernels/cuda/svg2_cuda_common.cuh"
#include "runtime/vs_rng.h"

#define ASSIGN_POINTS 128  // points per block: 4 warps x 32
#define ASSIGN_CENTROIDS 64  // centroids per shared-memory tile
#define ROW_PAD 8          // bf16 padding per shared row: rows start 16 bytes apart mod 128

// control layout: [0] iterations run (max over heads), [1, 1 + B) done flags, [1 + B, 1 + 2B)
// the current iteration's largest shift per head (f32 bits).
enum { CTRL_ITERS = 0, CTRL_DONE = 1 };
#define CTRL_SHIFT(B) (CTRL_DONE + (B))
static long control_len(int B) { return 1 + 2L * B; }

// ---------------------------------------------------------------------------- init, prepare
// One warp per centroid: cold start copies point vs_uniform_index(seed, (head0 + b)*C + c, N)
// (as the CPU); then the bf16 copy and its squared norm.
__global__ void prepare_centroids_kernel(const __nv_bfloat16 *x, vs_attention_layout xl, int B,
                                         int N, int D, int C, uint64_t seed, int head0, int cold,
                                         float *centroids,
                                         __nv_bfloat16 *centroids_bf16, float *centroid_sq) {
    long row = (long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);  // b * C + c
    int lane = threadIdx.x & 31;
    if (row >= (long)B * C) return;
    long b = row / C;
    float *cent = centroids + row * D;
    const __nv_bfloat16 *src = NULL;
    if (cold) {
        uint64_t draw = ((uint64_t)head0 + (uint64_t)b) * (uint64_t)C + (uint64_t)(row - b * C);
        src = x + b * xl.head + (long)vs_uniform_index(seed, draw, (uint32_t)N) * xl.row;
    }
    float sq = 0;
    for (int d = lane; d < D; d += 32) {
        float value = cold ? __bfloat162float(src[d]) : cent[d];
        if (cold) cent[d] = value;
        __nv_bfloat16 rounded = __float2bfloat16(value);
        centroids_bf16[row * D + d] = rounded;
        float r = __bfloat162float(rounded);
        sq += r * r;
    }
    for (int o = 16; o > 0; o >>= 1) sq += __shfl_xor_sync(0xffffffffu, sq, o);
    if (lane == 0) centroid_sq[row] = sq;
}

// ---------------------------------------------------------------------------- assign
__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void *smem) {
    uint32_t addr = (uint32_t)__cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

__device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void cp_async_16(void *smem, const void *global, bool valid) {
    uint32_t addr = (uint32_t)__cvta_generic_to_shared(smem);
    int bytes = valid ? 16 : 0;  // 0: fill with zeros
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(addr), "l"(global),
                 "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

template <int D>
__device__ __forceinline__ void load_centroid_tile(const __nv_bfloat16 *cents, const float *csq,
                                                   int C, int tile, __nv_bfloat16 *smem,
                                                   float *smem_sq) {
    constexpr int PIECES = D / 8, STRIDE = D + ROW_PAD;
    for (int i = threadIdx.x; i < ASSIGN_CENTROIDS * PIECES; i += blockDim.x) {
        int r = i / PIECES, piece = i % PIECES;
        int c = tile * ASSIGN_CENTROIDS + r;
        bool valid = c < C;
        cp_async_16(smem + r * STRIDE + piece * 8, cents + (long)(valid ? c : 0) * D + piece * 8,
                    valid);
    }
    if (threadIdx.x < ASSIGN_CENTROIDS) {
        int c = tile * ASSIGN_CENTROIDS + threadIdx.x;
        smem_sq[threadIdx.x] = c < C ? csq[c] : INFINITY;  // padding columns never win
    }
}

// grid (ceil(N / 128), B), 128 threads. labels[b, n] = argmin_c ||c||^2 - 2 x.c, ties to lower c.
template <int D>
__global__ void __launch_bounds__(128) assign_kernel(const __nv_bfloat16 *x, vs_attention_layout xl,
                                                     int N, int C,
                                                     const __nv_bfloat16 *centroids_bf16,
                                                     const float *centroid_sq, int32_t *labels,
                                                     const uint32_t *control) {
    if (control[CTRL_DONE + blockIdx.y]) return;
    constexpr int STRIDE = D + ROW_PAD, KSTEPS = D / 16, PIECES = D / 8;
    constexpr int TILE_ELEMS = ASSIGN_CENTROIDS * STRIDE;
    static_assert(ASSIGN_POINTS * STRIDE <= 2 * TILE_ELEMS, "point tile must fit the two buffers");
    __shared__ __align__(16) __nv_bfloat16 smem[2 * TILE_ELEMS];
    __shared__ float smem_sq[2][ASSIGN_CENTROIDS];

    const int b = blockIdx.y, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t4 = lane & 3;
    const long n0 = (long)blockIdx.x * ASSIGN_POINTS;
    const __nv_bfloat16 *xb = x + b * xl.head;
    const __nv_bfloat16 *cents = centroids_bf16 + (long)b * C * D;
    const float *csq = centroid_sq + (long)b * C;

    // Points -> shared -> A fragments in registers (rows past N are zeros, never written out).
    for (int i = threadIdx.x; i < ASSIGN_POINTS * PIECES; i += blockDim.x) {
        int r = i / PIECES, piece = i % PIECES;
        long n = n0 + r;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (n < N) v = *(const uint4 *)(xb + n * xl.row + piece * 8);
        *(uint4 *)(smem + r * STRIDE + piece * 8) = v;
    }
    __syncthreads();
    uint32_t afrag[2][KSTEPS][4];
#pragma unroll
    for (int mt = 0; mt < 2; mt++)
#pragma unroll
        for (int ks = 0; ks < KSTEPS; ks++) {
            int row = warp * 32 + mt * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
            int col = ks * 16 + (lane >> 4) * 8;
            ldmatrix_x4(afrag[mt][ks], smem + row * STRIDE + col);
        }
    __syncthreads();

    float best[2][2];
    int best_idx[2][2];
#pragma unroll
    for (int mt = 0; mt < 2; mt++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            best[mt][h] = INFINITY;
            best_idx[mt][h] = 0;
        }

    const int tiles = (C + ASSIGN_CENTROIDS - 1) / ASSIGN_CENTROIDS;
    load_centroid_tile<D>(cents, csq, C, 0, smem, smem_sq[0]);
    cp_async_commit();
    for (int tile = 0; tile < tiles; tile++) {
        const int buf = tile & 1;
        if (tile + 1 < tiles) {
            load_centroid_tile<D>(cents, csq, C, tile + 1, smem + (buf ^ 1) * TILE_ELEMS,
                                  smem_sq[buf ^ 1]);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        const __nv_bfloat16 *ctile = smem + buf * TILE_ELEMS;
        float acc[2][8][4];
#pragma unroll
        for (int mt = 0; mt < 2; mt++)
#pragma unroll
            for (int nt = 0; nt < 8; nt++)
#pragma unroll
                for (int e = 0; e < 4; e++) acc[mt][nt][e] = 0.f;
#pragma unroll
        for (int ks = 0; ks < KSTEPS; ks++) {
#pragma unroll
            for (int np = 0; np < 4; np++) {
                uint32_t bfrag[4];
                int n = np * 16 + (lane >> 4) * 8 + (lane & 7);
                int k = ks * 16 + ((lane >> 3) & 1) * 8;
                ldmatrix_x4(bfrag, ctile + n * STRIDE + k);
#pragma unroll
                for (int mt = 0; mt < 2; mt++) {
                    mma_bf16(acc[mt][2 * np], afrag[mt][ks], bfrag[0], bfrag[1]);
                    mma_bf16(acc[mt][2 * np + 1], afrag[mt][ks], bfrag[2], bfrag[3]);
                }
            }
        }
        // Columns grow with nt and e, tiles in order: strict < keeps the lowest index per thread.
#pragma unroll
        for (int nt = 0; nt < 8; nt++)
#pragma unroll
            for (int e = 0; e < 2; e++) {
                int col = nt * 8 + t4 * 2 + e;
                float sq = smem_sq[buf][col];
                int c = tile * ASSIGN_CENTROIDS + col;
#pragma unroll
                for (int mt = 0; mt < 2; mt++)
#pragma unroll
                    for (int h = 0; h < 2; h++) {
                        float dist = fmaf(-2.f, acc[mt][nt][h * 2 + e], sq);
                        if (dist < best[mt][h]) {
                            best[mt][h] = dist;
                            best_idx[mt][h] = c;
                        }
                    }
            }
        __syncthreads();  // the buffer is refilled by the next iteration's prefetch
    }

    // The four lanes of a quad hold different columns of the same rows: reduce, ties to lower c.
#pragma unroll
    for (int mt = 0; mt < 2; mt++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            float v = best[mt][h];
            int idx = best_idx[mt][h];
#pragma unroll
            for (int o = 1; o < 4; o <<= 1) {
                float ov = __shfl_xor_sync(0xffffffffu, v, o);
                int oi = __shfl_xor_sync(0xffffffffu, idx, o);
                if (ov < v || (ov == v && oi < idx)) {
                    v = ov;
                    idx = oi;
                }
            }
            long n = n0 + warp * 32 + mt * 16 + h * 8 + g;
            if (t4 == 0 && n < N) labels[(long)b * N + n] = idx;
        }
}

// ---------------------------------------------------------------------------- update
// grid (C, B), 128 threads = 4 slices x 32 lanes, D / 32 dims per lane. Members in sorted order;
// slice s sums its quarter in order, the quarters are added as (s0 + s1) + (s2 + s3).
template <int D>
__global__ void __launch_bounds__(128) update_kernel(const __nv_bfloat16 *x, vs_attention_layout xl,
                                                     int N, int C,
                                                     const int32_t *perm, const int32_t *offsets,
                                                     float *centroids, __nv_bfloat16 *centroids_bf16,
                                                     float *centroid_sq, uint32_t *control) {
    if (control[CTRL_DONE + blockIdx.y]) return;
    constexpr int PER = D / 32;
    __shared__ float partial[4][D];
    const int c = blockIdx.x, b = blockIdx.y;
    const int lane = threadIdx.x & 31, slice = threadIdx.x >> 5;
    const int32_t *off = offsets + (long)b * (C + 1);
    const int lo = off[c], count = off[c + 1] - lo;
    const int begin = lo + (int)((long)count * slice / 4), end = lo + (int)((long)count * (slice + 1) / 4);
    const int32_t *members = perm + (long)b * N;
    const __nv_bfloat16 *xb = x + b * xl.head + lane * PER;
    float sum[PER];
#pragma unroll
    for (int e = 0; e < PER; e++) sum[e] = 0.f;
#pragma unroll 4
    for (int i = begin; i < end; i++) {
        const __nv_bfloat16 *row = xb + (long)members[i] * xl.row;
        if constexpr (PER == 4) {
            uint2 raw = *(const uint2 *)row;
            float2 lo2 = __bfloat1622float2(*(const __nv_bfloat162 *)&raw.x);
            float2 hi2 = __bfloat1622float2(*(const __nv_bfloat162 *)&raw.y);
            sum[0] += lo2.x;
            sum[1] += lo2.y;
            sum[2] += hi2.x;
            sum[3] += hi2.y;
        } else {
#pragma unroll
            for (int e = 0; e < PER; e++) sum[e] += __bfloat162float(row[e]);
        }
    }
#pragma unroll
    for (int e = 0; e < PER; e++) partial[slice][lane * PER + e] = sum[e];
    __syncthreads();
    if (slice != 0) return;
    float *cent = centroids + ((long)b * C + c) * D + lane * PER;
    __nv_bfloat16 *cent16 = centroids_bf16 + ((long)b * C + c) * D + lane * PER;
    float shift_sq = 0, sq = 0;
#pragma unroll
    for (int e = 0; e < PER; e++) {
        int d = lane * PER + e;
        float old = cent[e];
        float mean = old;  // an empty cluster keeps its centroid
        if (count > 0)
            mean = ((partial[0][d] + partial[1][d]) + (partial[2][d] + partial[3][d])) / (float)count;
        float diff = mean - old;
        shift_sq += diff * diff;
        cent[e] = mean;
        __nv_bfloat16 rounded = __float2bfloat16(mean);
        cent16[e] = rounded;
        float r = __bfloat162float(rounded);
        sq += r * r;
    }
    for (int o = 16; o > 0; o >>= 1) {
        shift_sq += __shfl_xor_sync(0xffffffffu, shift_sq, o);
        sq += __shfl_xor_sync(0xffffffffu, sq, o);
    }
    if (lane == 0) {
        centroid_sq[(long)b * C + c] = sq;
        atomicMax(&control[CTRL_SHIFT(gridDim.y) + b], __float_as_uint(sqrtf(shift_sq)));
    }
}

// One thread per head: count the iteration, stop the head once its largest shift is below tol,
// and clear the shift for the next iteration.
__global__ void converged_kernel(uint32_t *control, int B, int iter, float tol) {
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B || control[CTRL_DONE + b]) return;
    atomicMax(&control[CTRL_ITERS], (uint32_t)(iter + 1));
    uint32_t *shift = &control[CTRL_SHIFT(B) + b];
    if (__uint_as_float(*shift) < tol) control[CTRL_DONE + b] = 1;
    *shift = 0;
}

// ---------------------------------------------------------------------------- host side
extern "C" int vs_kmeans_cuda_init(vs_kmeans_cuda *km, int B, int N, int D, int C, int max_iters) {
    memset(km, 0, sizeof *km);
    if (B < 1 || N < 1 || C < 1 || max_iters < 0)
        return VS_FAIL("k-means needs B, N, C >= 1 and max_iters >= 0 (got B=%d N=%d C=%d iters=%d)",
                       B, N, C, max_iters);
    if (D != 64 && D != 128)
        return VS_FAIL("GPU k-means supports head dim 64 or 128, got %d", D);
    if (C > 4096) return VS_FAIL("GPU k-means supports at most 4096 clusters, got %d", C);
    km->B = B;
    km->N = N;
    km->D = D;
    km->C = C;
    km->max_iters = max_iters;
    long scratch = vs_cluster_order_scratch_len(B, N, C);
    VS_CUDA_CHECK(cudaMalloc(&km->centroids, (size_t)B * C * D * sizeof(float)));
    VS_CUDA_CHECK(cudaMalloc(&km->centroids_bf16, (size_t)B * C * D * sizeof(uint16_t)));
    VS_CUDA_CHECK(cudaMalloc(&km->centroid_sq, (size_t)B * C * sizeof(float)));
    VS_CUDA_CHECK(cudaMalloc(&km->labels, (size_t)B * N * sizeof(int32_t)));
    VS_CUDA_CHECK(cudaMalloc(&km->perm, (size_t)B * N * sizeof(int32_t)));
    VS_CUDA_CHECK(cudaMalloc(&km->offsets, (size_t)B * (C + 1) * sizeof(int32_t)));
    VS_CUDA_CHECK(cudaMalloc(&km->counts, (size_t)scratch * sizeof(int32_t)));
    VS_CUDA_CHECK(cudaMalloc(&km->cursor, (size_t)scratch * sizeof(int32_t)));
    VS_CUDA_CHECK(cudaMalloc(&km->control, (size_t)control_len(B) * sizeof(uint32_t)));
    VS_CUDA_CHECK(cudaMemset(km->counts, 0, (size_t)scratch * sizeof(int32_t)));
    VS_CUDA_CHECK(cudaMemset(km->centroids, 0, (size_t)B * C * D * sizeof(float)));
    return 0;
}

extern "C" void vs_kmeans_cuda_free(vs_kmeans_cuda *km) {
    void *bufs[] = {km->centroids, km->centroids_bf16, km->centroid_sq, km->labels, km->perm,
                    km->offsets, km->counts, km->cursor, km->control};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i]) VS_CUDA_CHECK(cudaFree(bufs[i]));
    memset(km, 0, sizeof *km);
}

template <int D>
static void run_iterations(vs_kmeans_cuda *km, const __nv_bfloat16 *x, vs_attention_layout xl,
                           int iters, float tol, cudaStream_t stream) {
    const int B = km->B, N = km->N, C = km->C;
    __nv_bfloat16 *cents16 = (__nv_bfloat16 *)km->centroids_bf16;
    dim3 assign_grid(vs_ceil_div(N, ASSIGN_POINTS), B);
    // iters == 0: one assignment and its order, centroids untouched.
    for (int it = 0; it < (iters ? iters : 1); it++) {
        assign_kernel<D><<<assign_grid, 128, 0, stream>>>(x, xl, N, C, cents16, km->centroid_sq,
                                                          km->labels, km->control);
        VS_CUDA_LAUNCHED("assign_kernel");
        vs_cluster_order_launch(km->labels, B, N, C, km->perm, km->offsets, km->counts,
                                km->cursor, km->control + CTRL_DONE, stream);  // per-head skip
        if (!iters) break;
        update_kernel<D><<<dim3(C, B), 128, 0, stream>>>(x, xl, N, C, km->perm, km->offsets,
                                                         km->centroids, cents16, km->centroid_sq,
                                                         km->control);
        VS_CUDA_LAUNCHED("update_kernel");
        converged_kernel<<<vs_ceil_div(B, 128), 128, 0, stream>>>(km->control, B, it, tol);
        VS_CUDA_LAUNCHED("converged_kernel");
    }
}

extern "C" void vs_kmeans_cuda_run(vs_kmeans_cuda *km, const uint16_t *x, vs_attention_layout xl,
                                   int iters, float tol, uint64_t seed, int head0, int warm,
                                   cudaStream_t stream) {
    VS_ASSERT(iters >= 0 && iters <= km->max_iters,
              "k-means iterations exceed the max_iters the buffers were made for: init with more");
    vs_svg2_check_rows(xl, km->D);
    const __nv_bfloat16 *xb = (const __nv_bfloat16 *)x;
    VS_CUDA_CHECK(cudaMemsetAsync(km->control, 0, (size_t)control_len(km->B) * sizeof(uint32_t),
                                  stream));
    long rows = (long)km->B * km->C;
    prepare_centroids_kernel<<<vs_ceil_div(rows, 8), 256, 0, stream>>>(
        xb, xl, km->B, km->N, km->D, km->C, seed, head0, !warm, km->centroids,
        (__nv_bfloat16 *)km->centroids_bf16, km->centroid_sq);
    VS_CUDA_LAUNCHED("prepare_centroids_kernel");
    if (km->D == 128) run_iterations<128>(km, xb, xl, iters, tol, stream);
    else run_iterations<64>(km, xb, xl, iters, tol, stream);
}
