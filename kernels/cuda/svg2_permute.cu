// SVG2 steps 3 and 5 on the GPU: the stable counting sort of cluster labels, the gather of Q, K,
// V into cluster order and the scatter of the output back to token order.
//
// The counting sort is stable with no ordering trick that depends on timing: tokens are cut into
// chunks of CHUNK; counts[b, chunk, c] (integer atomics) are prefix-summed along the chunks for
// each cluster, cluster sizes are scanned into offsets, and inside its chunk a token's rank is
// the number of earlier tokens of the chunk with the same label (CHUNK compares against a
// shared-memory copy). Exact and repeatable. The same sort serves the k-means update (segment
// sums in a fixed order) and the permutation.
#include "kernels/cuda/svg2_cuda.h"
#include "kernels/cuda/svg2_cuda_common.cuh"

#define CHUNK 256

static int n_chunks(int N) { return vs_ceil_div(N, CHUNK); }

extern "C" long vs_cluster_order_scratch_len(int B, int N, int C) {
    return (long)B * C * (n_chunks(N) + 1);  // cursor also keeps the sizes row
}

// counts[b, chunk, c] = tokens of the chunk with label c (counts is zero on entry).
__global__ void count_labels_kernel(const int32_t *labels, int N, int C, int chunks,
                                    int32_t *counts, const uint32_t *skip) {
    int b = blockIdx.y;
    if (skip && skip[b]) return;
    int n = blockIdx.x * CHUNK + threadIdx.x;
    if (n >= N) return;
    int c = labels[(long)b * N + n];
    atomicAdd(&counts[((long)b * chunks + blockIdx.x) * C + c], 1);
}

// One thread per (b, c): cursor[b, chunk, c] = tokens of cluster c in earlier chunks; the total
// is the cluster size, kept in cursor[b, chunks, c]. counts goes back to zero.
__global__ void scan_chunks_kernel(int32_t *counts, int32_t *cursor, int C, int chunks,
                                   const uint32_t *skip) {
    int b = blockIdx.y;
    if (skip && skip[b]) return;
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    long base = (long)b * (chunks + 1) * C + c;
    int32_t *cnt = counts + (long)b * chunks * C + c;
    int32_t running = 0;
#pragma unroll 8
    for (int chunk = 0; chunk < chunks; chunk++) {
        int32_t x = cnt[(long)chunk * C];
        cnt[(long)chunk * C] = 0;
        cursor[base + (long)chunk * C] = running;
        running += x;
    }
    cursor[base + (long)chunks * C] = running;
}

// One block of 1024 per batch row: offsets = exclusive scan of the cluster sizes (C <= 4096).
__global__ void scan_sizes_kernel(const int32_t *cursor, int C, int chunks, int32_t *offsets,
                                  const uint32_t *skip) {
    __shared__ int32_t warp_sums[32];
    int b = blockIdx.x;
    if (skip && skip[b]) return;
    const int32_t *sizes = cursor + ((long)b * (chunks + 1) + chunks) * C;
    int32_t *off = offsets + (long)b * (C + 1);
    const int per = (C + blockDim.x - 1) / blockDim.x;  // consecutive clusters per thread
    int first = threadIdx.x * per;
    int32_t local = 0;
    for (int i = 0; i < per; i++)
        if (first + i < C) local += sizes[first + i];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int32_t incl = local;
    for (int d = 1; d < 32; d <<= 1) {
        int32_t y = __shfl_up_sync(0xffffffffu, incl, d);
        if (lane >= d) incl += y;
    }
    if (lane == 31) warp_sums[warp] = incl;
    __syncthreads();
    if (warp == 0) {
        int32_t w = warp_sums[lane];
        for (int d = 1; d < 32; d <<= 1) {
            int32_t y = __shfl_up_sync(0xffffffffu, w, d);
            if (lane >= d) w += y;
        }
        warp_sums[lane] = w;
    }
    __syncthreads();
    int32_t running = (warp ? warp_sums[warp - 1] : 0) + incl - local;
    for (int i = 0; i < per; i++)
        if (first + i < C) {
            off[first + i] = running;
            running += sizes[first + i];
        }
    if (threadIdx.x == blockDim.x - 1) off[C] = running;
}

// One block per (chunk, b): perm[offsets[c] + cursor[chunk, c] + rank] = n, where rank counts the
// earlier tokens of the chunk with the same label.
__global__ void scatter_order_kernel(const int32_t *labels, int N, int C, int chunks,
                                     const int32_t *cursor, const int32_t *offsets, int32_t *perm,
                                     const uint32_t *skip) {
    __shared__ int32_t chunk_labels[CHUNK];
    int b = blockIdx.y;
    if (skip && skip[b]) return;
    int n = blockIdx.x * CHUNK + threadIdx.x;
    int label = n < N ? labels[(long)b * N + n] : -1;
    chunk_labels[threadIdx.x] = label;
    __syncthreads();
    if (n >= N) return;
    int rank = 0;
    for (int m = 0; m < (int)threadIdx.x; m++) rank += chunk_labels[m] == label;
    long pos = (long)offsets[(long)b * (C + 1) + label] +
               cursor[((long)b * (chunks + 1) + blockIdx.x) * C + label] + rank;
    perm[(long)b * N + pos] = n;
}

void vs_cluster_order_launch(const int32_t *labels, int B, int N, int C, int32_t *perm,
                             int32_t *offsets, int32_t *counts, int32_t *cursor,
                             const uint32_t *skip, cudaStream_t stream) {
    VS_ASSERT(C <= 4096, "at most 4096 clusters per head");
    int chunks = n_chunks(N);
    count_labels_kernel<<<dim3(chunks, B), CHUNK, 0, stream>>>(labels, N, C, chunks, counts, skip);
    VS_CUDA_LAUNCHED("count_labels_kernel");
    scan_chunks_kernel<<<dim3(vs_ceil_div(C, 128), B), 128, 0, stream>>>(counts, cursor, C, chunks,
                                                                        skip);
    VS_CUDA_LAUNCHED("scan_chunks_kernel");
    scan_sizes_kernel<<<B, 1024, 0, stream>>>(cursor, C, chunks, offsets, skip);
    VS_CUDA_LAUNCHED("scan_sizes_kernel");
    scatter_order_kernel<<<dim3(chunks, B), CHUNK, 0, stream>>>(labels, N, C, chunks, cursor,
                                                                offsets, perm, skip);
    VS_CUDA_LAUNCHED("scatter_order_kernel");
}

extern "C" void vs_cuda_cluster_order(const int32_t *labels, int B, int N, int C, int32_t *perm,
                                      int32_t *offsets, int32_t *counts, int32_t *cursor,
                                      cudaStream_t stream) {
    vs_cluster_order_launch(labels, B, N, C, perm, offsets, counts, cursor, NULL, stream);
}

// One thread per 16-byte piece of a row: dst[b, s] = src[b, perm[b, s]] (or the scatter); the
// permuted side is contiguous [B, N, D], the other in `layout` (strides in 16-byte pieces here).
template <bool GATHER>
__global__ void permute_rows_kernel(const uint4 *src, const int32_t *perm, int N, int pieces,
                                    long total, long head_pieces, long row_pieces, uint4 *dst) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    long row = i / pieces;  // b * N + s
    int piece = (int)(i - row * pieces);
    long b = row / N;
    long other = b * head_pieces + perm[row] * row_pieces + piece;
    if (GATHER) dst[row * pieces + piece] = src[other];
    else dst[other] = src[row * pieces + piece];
}

extern "C" void vs_cuda_gather_qkv(const uint16_t *q, const uint16_t *k, const uint16_t *v,
                                   vs_attention_layout src_layout, const int32_t *q_perm,
                                   const int32_t *k_perm, int B, int N, int D, uint16_t *q_out,
                                   uint16_t *k_out, uint16_t *v_out, cudaStream_t stream) {
    vs_svg2_check_rows(src_layout, D);
    int pieces = D / 8;
    long total = (long)B * N * pieces;
    const uint16_t *src[3] = {q, k, v};
    const int32_t *perm[3] = {q_perm, k_perm, k_perm};
    uint16_t *dst[3] = {q_out, k_out, v_out};
    for (int t = 0; t < 3; t++) {
        if (!src[t]) continue;
        permute_rows_kernel<true><<<vs_ceil_div(total, 256), 256, 0, stream>>>(
            (const uint4 *)src[t], perm[t], N, pieces, total, (long)src_layout.head / 8,
            src_layout.row / 8, (uint4 *)dst[t]);
        VS_CUDA_LAUNCHED("permute_rows_kernel<gather>");
    }
}

extern "C" void vs_cuda_scatter_rows(const uint16_t *src, const int32_t *perm, int B, int N,
                                     int D, uint16_t *dst, vs_attention_layout dst_layout,
                                     cudaStream_t stream) {
    vs_svg2_check_rows(dst_layout, D);
    int pieces = D / 8;
    long total = (long)B * N * pieces;
    permute_rows_kernel<false><<<vs_ceil_div(total, 256), 256, 0, stream>>>(
        (const uint4 *)src, perm, N, pieces, total, (long)dst_layout.head / 8, dst_layout.row / 8,
        (uint4 *)dst);
    VS_CUDA_LAUNCHED("permute_rows_kernel<scatter>");
}
