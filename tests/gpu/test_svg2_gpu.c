// The CUDA SVG2 steps (kernels/cuda/svg2_cuda.h) against the CPU operator (kernels/cpu/svg2_cpu.h),
// on fresh random and planted-cluster inputs, shapes chosen to hit the edges: S not a multiple of
// any tile (128 points, 64 centroids, 256-token sort chunks), empty and single-token clusters,
// C_q = 1, C_k close to S, H = 1. The CPU side always gets the same bf16-rounded inputs.
//
// Tolerances:
//  - cluster order (perm, offsets), gather, scatter: exact.
//  - k-means assignment from the same centroids: the GPU label's exact distance is within
//    1e-4 * (|x|^2 + |c|^2) of the best one (bf16 inputs are exact; only f32 accumulation order
//    differs, so only near-ties may flip); random-sample init: bit identical to the CPU's;
//    after iterations: GPU objective <= CPU objective * (1 + 1e-2) from the same init.
//  - selection from the same f32 centroids: the mask is exact, except where the CPU (double)
//    prefix sum before a cluster lies within 1e-4 of top_p (f32 summation may cross either way);
//    ties in P (duplicated centroids) must be ordered exactly as on the CPU. Density: equal
//    (1e-12) to the CPU density of the GPU mask.
//  - operator: relative L2 error of the output <= 2e-2 against vs_svg2_attention_cpu. On planted
//    inputs, or with top_p = 1 on random ones: on random tokens at top_p < 1 a k-means near-tie
//    may move one token to another cluster, which legitimately changes which keys it sees.
//  - determinism: two runs are bit identical; a CUDA graph replay of one call equals the eager call.
//  - layouts: k-means, gather, scatter and the operator on token-major [N, B, D] rows (and rows
//    with a padded stride) give exactly the bits of the contiguous [B, N, D] run.
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/svg2_cpu.h"
#include "kernels/cuda/svg2_cuda.h"
#include "runtime/vs_rng.h"
#include "runtime/vs_tensor.h"
#include "tests/gpu/gpu_test.h"
#include "tests/vs_test.h"


static void *dev_alloc(size_t bytes) {
    void *p = NULL;
    CUDA_OK(cudaMalloc(&p, bytes ? bytes : 1));
    return p;
}
static void *dev_copy(const void *host, size_t bytes) {
    void *p = dev_alloc(bytes);
    CUDA_OK(cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice));
    return p;
}
static void to_host(void *host, const void *dev, size_t bytes) {
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost));
}

// Contiguous [B, N, D] and the same rows token-major, [N, B, D] with `pad` spare elements after
// each token's B rows (pad keeps 16-byte rows when a multiple of 8).
static vs_attention_layout heads_layout(int N, int D) { return (vs_attention_layout){(size_t)N * D, D}; }
static vs_attention_layout tokens_layout(int B, int D, int pad) {
    return (vs_attention_layout){(size_t)D, B * D + pad};
}
static size_t tokens_len(int B, int N, int D, int pad) { return (size_t)N * (B * D + pad); }
// Copies rows between the two layouts (to_tokens: heads -> tokens, else back).
static void relayout(uint16_t *heads, uint16_t *tokens, int B, int N, int D, int pad, int to_tokens) {
    for (long b = 0; b < B; b++)
        for (long n = 0; n < N; n++) {
            uint16_t *h = heads + (b * N + n) * D, *t = tokens + n * ((long)B * D + pad) + b * D;
            if (to_tokens) memcpy(t, h, (size_t)D * 2);
            else memcpy(h, t, (size_t)D * 2);
        }
}
// A device copy of contiguous rows in the token-major layout (spare elements poisoned).
static uint16_t *dev_tokens(const uint16_t *heads, int B, int N, int D, int pad) {
    size_t len = tokens_len(B, N, D, pad);
    uint16_t *t = malloc(len * 2);
    memset(t, 0xff, len * 2);
    relayout((uint16_t *)heads, t, B, N, D, pad, 1);
    uint16_t *d = dev_copy(t, len * 2);
    free(t);
    return d;
}

// x [B, N, D]: planted (n_planted > 0: centre + noise * N(0,1), centres N(0,1)) or N(0,1).
// Written as bf16 and as the f32 values of those bf16 (what the CPU side sees).
static void make_points(uint64_t seed, int B, int N, int D, int n_planted, float noise,
                        uint16_t *bf, float *f) {
    for (long b = 0; b < B; b++)
        for (long n = 0; n < N; n++) {
            uint32_t c = n_planted ? vs_uniform_index(seed + 1, (uint64_t)(b * N + n), (uint32_t)n_planted) : 0;
            for (long d = 0; d < D; d++) {
                long i = (b * N + n) * D + d;
                float value = vs_normal_at(seed, (uint64_t)i);
                if (n_planted) value = vs_normal_at(seed + 2, (uint64_t)((b * n_planted + c) * D + d)) + noise * value;
                bf[i] = vs_f32_to_bf16(value);
                f[i] = vs_bf16_to_f32(bf[i]);
            }
        }
}

// ---------------------------------------------------------------------------- cluster order
static void check_cluster_order(int B, int N, int C, int used, uint64_t seed) {
    int32_t *labels = malloc((size_t)B * N * sizeof *labels);
    for (long i = 0; i < (long)B * N; i++) {
        // Only `used` of the C labels occur (the rest are empty clusters); label C - 1 once per row
        // at the end makes a single-token cluster when used < C.
        labels[i] = (int32_t)vs_uniform_index(seed, (uint64_t)i, (uint32_t)used) * (C / used);
        if (i % N == N - 1 && used < C) labels[i] = C - 1;
    }
    int32_t *perm = malloc((size_t)B * N * sizeof *perm), *perm_gpu = malloc((size_t)B * N * sizeof *perm);
    int32_t *off = malloc((size_t)B * (C + 1) * sizeof *off), *off_gpu = malloc((size_t)B * (C + 1) * sizeof *off);
    vs_cluster_order_cpu(labels, B, N, C, perm, off);
    long scratch = vs_cluster_order_scratch_len(B, N, C);
    int32_t *d_labels = dev_copy(labels, (size_t)B * N * 4), *d_perm = dev_alloc((size_t)B * N * 4);
    int32_t *d_off = dev_alloc((size_t)B * (C + 1) * 4);
    int32_t *d_counts = dev_alloc((size_t)scratch * 4), *d_cursor = dev_alloc((size_t)scratch * 4);
    CUDA_OK(cudaMemset(d_counts, 0, (size_t)scratch * 4));
    for (int rep = 0; rep < 2; rep++) {  // the second run checks that the counts came back to zero
        CUDA_OK(cudaMemset(d_perm, 0xff, (size_t)B * N * 4));
        vs_cuda_cluster_order(d_labels, B, N, C, d_perm, d_off, d_counts, d_cursor, 0);
        to_host(perm_gpu, d_perm, (size_t)B * N * 4);
        to_host(off_gpu, d_off, (size_t)B * (C + 1) * 4);
        CHECK_MSG(!memcmp(perm, perm_gpu, (size_t)B * N * 4), "perm B=%d N=%d C=%d rep %d", B, N, C, rep);
        CHECK_MSG(!memcmp(off, off_gpu, (size_t)B * (C + 1) * 4), "offsets B=%d N=%d C=%d", B, N, C);
    }
    cudaFree(d_labels), cudaFree(d_perm), cudaFree(d_off), cudaFree(d_counts), cudaFree(d_cursor);
    free(labels), free(perm), free(perm_gpu), free(off), free(off_gpu);
}

static void test_cluster_order(void) {
    check_cluster_order(3, 1000, 300, 300, 11);   // N not a multiple of the 256 chunk
    check_cluster_order(2, 777, 400, 50, 12);     // mostly empty clusters, a single-token one
    check_cluster_order(1, 300, 290, 290, 13);    // C close to N
    check_cluster_order(2, 513, 1, 1, 14);        // one cluster
    check_cluster_order(1, 5000, 4096, 4096, 15); // the most clusters supported
}

static void test_gather_scatter(void) {
    const int B = 2, N = 1001, D = 128, C = 37;
    size_t n = (size_t)B * N * D;
    uint16_t *bf = malloc(n * 2), *back = malloc(n * 2), *gathered = malloc(n * 2);
    float *f = malloc(n * 4), *ref = malloc(n * 4);
    make_points(21, B, N, D, 0, 0, bf, f);
    int32_t *labels = malloc((size_t)B * N * 4), *perm = malloc((size_t)B * N * 4), *off = malloc((size_t)B * (C + 1) * 4);
    for (long i = 0; i < (long)B * N; i++) labels[i] = (int32_t)vs_uniform_index(22, (uint64_t)i, C);
    vs_cluster_order_cpu(labels, B, N, C, perm, off);
    vs_gather_rows_cpu(f, perm, B, N, D, ref);
    uint16_t *d_x = dev_copy(bf, n * 2), *d_out = dev_alloc(n * 2), *d_back = dev_alloc(n * 2);
    int32_t *d_perm = dev_copy(perm, (size_t)B * N * 4);
    const vs_attention_layout heads = heads_layout(N, D);
    vs_cuda_gather_qkv(NULL, d_x, NULL, heads, NULL, d_perm, B, N, D, NULL, d_out, NULL, 0);
    to_host(gathered, d_out, n * 2);
    int same = 1;
    for (size_t i = 0; i < n; i++) same &= vs_bf16_to_f32(gathered[i]) == ref[i];
    CHECK_MSG(same, "gather differs from vs_gather_rows_cpu");
    vs_cuda_scatter_rows(d_out, d_perm, B, N, D, d_back, heads, 0);
    to_host(back, d_back, n * 2);
    CHECK_MSG(!memcmp(back, bf, n * 2), "scatter(gather(x)) != x");
    // Token-major sources and destinations, packed and with padded rows: the same bits.
    for (int pad = 0; pad <= 8; pad += 8) {
        const vs_attention_layout tokens = tokens_layout(B, D, pad);
        size_t len = tokens_len(B, N, D, pad);
        uint16_t *d_t = dev_tokens(bf, B, N, D, pad), *d_t_back = dev_alloc(len * 2);
        uint16_t *t_back = malloc(len * 2), *g2 = malloc(n * 2);
        CUDA_OK(cudaMemset(d_out, 0xff, n * 2));
        vs_cuda_gather_qkv(NULL, d_t, NULL, tokens, NULL, d_perm, B, N, D, NULL, d_out, NULL, 0);
        to_host(g2, d_out, n * 2);
        CHECK_MSG(!memcmp(g2, gathered, n * 2), "token-major gather (pad %d) differs", pad);
        CUDA_OK(cudaMemset(d_t_back, 0xff, len * 2));
        vs_cuda_scatter_rows(d_out, d_perm, B, N, D, d_t_back, tokens, 0);
        to_host(t_back, d_t_back, len * 2);
        relayout(back, t_back, B, N, D, pad, 0);
        CHECK_MSG(!memcmp(back, bf, n * 2), "token-major scatter (pad %d) differs", pad);
        cudaFree(d_t), cudaFree(d_t_back);
        free(t_back), free(g2);
    }
    cudaFree(d_x), cudaFree(d_out), cudaFree(d_back), cudaFree(d_perm);
    free(bf), free(back), free(gathered), free(f), free(ref), free(labels), free(perm), free(off);
}

// ---------------------------------------------------------------------------- k-means
static double sqdist(const float *a, const float *b, int D) {
    double s = 0;
    for (int d = 0; d < D; d++) s += ((double)a[d] - b[d]) * ((double)a[d] - b[d]);
    return s;
}

static void check_kmeans(int B, int N, int D, int C, int n_planted, float noise, int iters, uint64_t seed) {
    size_t n = (size_t)B * N * D;
    uint16_t *bf = malloc(n * 2);
    float *f = malloc(n * 4);
    make_points(seed, B, N, D, n_planted, noise, bf, f);
    float *cent = malloc((size_t)B * C * D * 4), *cent_gpu = malloc((size_t)B * C * D * 4);
    float *cent_init = malloc((size_t)B * C * D * 4);
    int32_t *labels = malloc((size_t)B * N * 4), *labels_gpu = malloc((size_t)B * N * 4);
    int32_t *sizes = malloc((size_t)B * C * 4), *off_gpu = malloc((size_t)B * (C + 1) * 4);
    uint16_t *d_x = dev_copy(bf, n * 2);
    vs_kmeans_cuda km;
    CHECK(vs_kmeans_cuda_init(&km, B, N, D, C, iters) == 0);

    // Init and one assignment: the same centroids as the CPU, labels up to near-ties.
    vs_kmeans_cpu(f, B, N, D, C, 0, 1e-4f, seed, 0, 0, cent_init, labels, sizes);
    vs_kmeans_cuda_run(&km, d_x, heads_layout(N, D), 0, 1e-4f, seed, 0, 0, 0);
    to_host(cent_gpu, km.centroids, (size_t)B * C * D * 4);
    to_host(labels_gpu, km.labels, (size_t)B * N * 4);
    CHECK_MSG(!memcmp(cent_gpu, cent_init, (size_t)B * C * D * 4), "random-sample init differs");
    int bad = 0;
    for (long i = 0; i < (long)B * N; i++) {
        long b = i / N;
        const float *x = f + i * D;
        double best = sqdist(x, cent_init + (b * C + labels[i]) * D, D);
        double got = sqdist(x, cent_init + (b * C + labels_gpu[i]) * D, D);
        double norm = 0;
        for (int d = 0; d < D; d++) norm += (double)x[d] * x[d];
        for (int d = 0; d < D; d++) norm += (double)cent_init[(b * C + labels_gpu[i]) * D + d] * cent_init[(b * C + labels_gpu[i]) * D + d];
        bad += got - best > 1e-4 * norm;
    }
    CHECK_MSG(bad == 0, "%d assignments are not the nearest centroid (B=%d N=%d C=%d)", bad, B, N, C);

    // One iteration: a cluster that the first assignment leaves empty keeps its initial centroid.
    vs_kmeans_cuda_run(&km, d_x, heads_layout(N, D), 1, 1e-4f, seed, 0, 0, 0);
    to_host(cent_gpu, km.centroids, (size_t)B * C * D * 4);
    to_host(off_gpu, km.offsets, (size_t)B * (C + 1) * 4);
    int empty_ok = 1, first_empties = 0;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            if (off_gpu[b * (C + 1) + c + 1] == off_gpu[b * (C + 1) + c]) {
                first_empties++;
                empty_ok &= !memcmp(cent_gpu + ((long)b * C + c) * D, cent_init + ((long)b * C + c) * D, (size_t)D * 4);
            }
    CHECK_MSG(empty_ok, "a cluster left empty by the first assignment moved");

    // Iterations from the same init: objective within 1% of the CPU's.
    int cpu_iters = vs_kmeans_cpu(f, B, N, D, C, iters, 1e-4f, seed, 0, 0, cent, labels, sizes);
    vs_kmeans_cuda_run(&km, d_x, heads_layout(N, D), iters, 1e-4f, seed, 0, 0, 0);
    to_host(cent_gpu, km.centroids, (size_t)B * C * D * 4);
    to_host(labels_gpu, km.labels, (size_t)B * N * 4);
    to_host(off_gpu, km.offsets, (size_t)B * (C + 1) * 4);
    uint32_t control[1];  // control[0]: the most iterations any head ran
    to_host(control, km.control, sizeof control);
    double obj_cpu = vs_kmeans_objective_cpu(f, B, N, D, C, cent, labels);
    double obj_gpu = vs_kmeans_objective_cpu(f, B, N, D, C, cent_gpu, labels_gpu);
    CHECK_MSG(obj_gpu <= obj_cpu * (1 + 1e-2), "objective GPU %.6g CPU %.6g (B=%d N=%d D=%d C=%d)",
              obj_gpu, obj_cpu, B, N, D, C);
    // Sizes from offsets match the labels.
    int sizes_ok = 1, empties = 0;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            int count = 0;
            for (int i = 0; i < N; i++) count += labels_gpu[b * N + i] == c;
            int size = off_gpu[b * (C + 1) + c + 1] - off_gpu[b * (C + 1) + c];
            sizes_ok &= count == size;
            empties += size == 0;
        }
    CHECK(sizes_ok);
    CHECK_MSG(control[0] >= 1 && (int)control[0] <= iters, "GPU ran %u iterations of %d", control[0], iters);
    if (n_planted && noise < 0.05f)  // well separated: converges and stops early, like the CPU
        CHECK_MSG((int)control[0] < iters && cpu_iters < iters, "no early stop: GPU %u CPU %d of %d",
                  control[0], cpu_iters, iters);
    printf("  k-means B=%d N=%d D=%d C=%d planted=%d: objective GPU %.6g CPU %.6g, iterations GPU %u "
           "CPU %d, empty clusters %d after the first assignment, %d at the end\n", B, N, D, C, n_planted, obj_gpu,
           obj_cpu, control[0], cpu_iters, first_empties, empties);

    // Determinism: a second run is bit identical.
    float *cent2 = malloc((size_t)B * C * D * 4);
    int32_t *labels2 = malloc((size_t)B * N * 4);
    vs_kmeans_cuda_run(&km, d_x, heads_layout(N, D), iters, 1e-4f, seed, 0, 0, 0);
    to_host(cent2, km.centroids, (size_t)B * C * D * 4);
    to_host(labels2, km.labels, (size_t)B * N * 4);
    CHECK(!memcmp(cent2, cent_gpu, (size_t)B * C * D * 4));
    CHECK(!memcmp(labels2, labels_gpu, (size_t)B * N * 4));
    // The same points token-major, rows padded: the same bits.
    uint16_t *d_t = dev_tokens(bf, B, N, D, 8);
    vs_kmeans_cuda_run(&km, d_t, tokens_layout(B, D, 8), iters, 1e-4f, seed, 0, 0, 0);
    to_host(cent2, km.centroids, (size_t)B * C * D * 4);
    to_host(labels2, km.labels, (size_t)B * N * 4);
    CHECK_MSG(!memcmp(cent2, cent_gpu, (size_t)B * C * D * 4) &&
                  !memcmp(labels2, labels_gpu, (size_t)B * N * 4),
              "token-major k-means differs from the contiguous run");
    cudaFree(d_t);

    vs_kmeans_cuda_free(&km);
    cudaFree(d_x);
    free(bf), free(f), free(cent), free(cent_gpu), free(cent_init), free(labels), free(labels_gpu);
    free(sizes), free(off_gpu), free(cent2), free(labels2);
}

static void test_kmeans(void) {
    check_kmeans(2, 1000, 128, 50, 0, 0, 10, 31);     // random, N % 128 != 0, C % 64 != 0
    check_kmeans(3, 777, 128, 20, 20, 0.02f, 30, 32); // planted, separated: early stop
    check_kmeans(1, 300, 128, 280, 0, 0, 5, 33);      // C close to N: single-token and empty clusters
    check_kmeans(2, 400, 128, 1, 0, 0, 3, 34);        // C = 1
    check_kmeans(1, 500, 128, 30, 4, 0.0f, 5, 35);    // 4 distinct points: duplicate centroids, empty clusters
    check_kmeans(2, 600, 64, 70, 10, 0.3f, 8, 36);    // head dim 64
}

// ---------------------------------------------------------------------------- selection
static void check_select(int B, int C_q, int C_k, int D, float top_p, float min_kc, int dup, uint64_t seed) {
    float *q = malloc((size_t)B * C_q * D * 4), *k = malloc((size_t)B * C_k * D * 4);
    for (long i = 0; i < (long)B * C_q * D; i++) q[i] = 0.5f * vs_normal_at(seed, (uint64_t)i);
    for (long i = 0; i < (long)B * C_k * D; i++)
        k[i] = 0.5f * vs_normal_at(seed + 1, (uint64_t)(dup ? i % (4 * D) : i));  // dup: 4 distinct rows
    int32_t *sizes = malloc((size_t)B * C_k * 4), *off = malloc((size_t)B * (C_k + 1) * 4);
    int32_t *q_off = malloc((size_t)B * (C_q + 1) * 4);
    for (int b = 0; b < B; b++) {
        off[b * (C_k + 1)] = 0;
        for (int j = 0; j < C_k; j++) {
            sizes[b * C_k + j] = dup ? 3 : (int)vs_uniform_index(seed + 2, (uint64_t)(b * C_k + j), 40);  // zeros: empty
            off[b * (C_k + 1) + j + 1] = off[b * (C_k + 1) + j] + sizes[b * C_k + j];
        }
        q_off[b * (C_q + 1)] = 0;
        for (int i = 0; i < C_q; i++)
            q_off[b * (C_q + 1) + i + 1] = q_off[b * (C_q + 1) + i] + 1 + (int)vs_uniform_index(seed + 3, (uint64_t)(b * C_q + i), 30);
    }
    uint8_t *mask = malloc((size_t)B * C_q * C_k), *mask_gpu = malloc((size_t)B * C_q * C_k);
    vs_svg2_select_cpu(q, k, sizes, B, C_q, C_k, D, top_p, min_kc, mask);
    float *d_q = dev_copy(q, (size_t)B * C_q * D * 4), *d_k = dev_copy(k, (size_t)B * C_k * D * 4);
    int32_t *d_off = dev_copy(off, (size_t)B * (C_k + 1) * 4), *d_qoff = dev_copy(q_off, (size_t)B * (C_q + 1) * 4);
    float *d_scores = dev_alloc((size_t)B * C_q * C_k * 4);
    uint8_t *d_mask = dev_alloc((size_t)B * C_q * C_k);
    int32_t *d_row_keys = dev_alloc((size_t)B * C_q * 4);
    double *d_density = dev_alloc((size_t)B * 8);
    vs_cuda_svg2_select(d_q, d_k, d_off, B, C_q, C_k, D, top_p, min_kc, d_scores, d_mask, d_row_keys, 0);
    to_host(mask_gpu, d_mask, (size_t)B * C_q * C_k);

    // Every mismatch must sit where the exact prefix sum before the cluster is within 1e-4 of top_p.
    int mismatches = 0, unexplained = 0;
    double *p = malloc((size_t)C_k * 8), scale = 1.0 / sqrt((double)D);
    int *order = malloc((size_t)C_k * sizeof *order);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < C_q; i++) {
            long row = ((long)b * C_q + i) * C_k;
            if (!memcmp(mask + row, mask_gpu + row, (size_t)C_k)) continue;
            double mx = -INFINITY, total = 0;
            for (int j = 0; j < C_k; j++) {
                double dot = 0;
                for (int d = 0; d < D; d++) dot += (double)q[(row / C_k) * D + d] * k[((long)b * C_k + j) * D + d];
                p[j] = dot * scale;
                if (p[j] > mx) mx = p[j];
            }
            for (int j = 0; j < C_k; j++) total += p[j] = sizes[b * C_k + j] * exp(p[j] - mx);
            for (int j = 0; j < C_k; j++) order[j] = j;
            for (int a = 1; a < C_k; a++)  // insertion sort: descending p, ascending j
                for (int c = a; c > 0 && (p[order[c]] > p[order[c - 1]]); c--) {
                    int t = order[c]; order[c] = order[c - 1]; order[c - 1] = t;
                }
            double before = 0;
            for (int r = 0; r < C_k; r++) {
                int j = order[r];
                if (mask[row + j] != mask_gpu[row + j]) {
                    mismatches++;
                    unexplained += fabs(before / total - top_p) > 1e-4;
                }
                before += p[j];
            }
        }
    CHECK_MSG(unexplained == 0, "%d of %d mask differences are not top-p rounding ties (C_q=%d C_k=%d p=%g)",
              unexplained, mismatches, C_q, C_k, top_p);
    if (dup) CHECK_MSG(mismatches == 0, "tied P ordered differently from the CPU");

    // Density from the GPU selection equals the CPU density of the GPU mask.
    vs_cuda_svg2_density(d_qoff, d_off, d_row_keys, B, C_q, C_k, d_density, 0);
    double density[8];
    to_host(density, d_density, (size_t)B * 8);
    for (int b = 0; b < B; b++)
        CHECK_NEAR(density[b], vs_svg2_density_cpu(q_off + b * (C_q + 1), off + b * (C_k + 1),
                                                    mask_gpu + (long)b * C_q * C_k, C_q, C_k), 1e-12);
    // Determinism: a second selection writes the same mask.
    uint8_t *mask2 = malloc((size_t)B * C_q * C_k);
    vs_cuda_svg2_select(d_q, d_k, d_off, B, C_q, C_k, D, top_p, min_kc, d_scores, d_mask, d_row_keys, 0);
    to_host(mask2, d_mask, (size_t)B * C_q * C_k);
    CHECK(!memcmp(mask2, mask_gpu, (size_t)B * C_q * C_k));
    free(mask2);
    cudaFree(d_q), cudaFree(d_k), cudaFree(d_off), cudaFree(d_qoff), cudaFree(d_scores), cudaFree(d_mask), cudaFree(d_density);
    cudaFree(d_row_keys);
    free(q), free(k), free(sizes), free(off), free(q_off), free(mask), free(mask_gpu), free(p), free(order);
}

static void test_select(void) {
    vs_cuda_svg2_select_setup();
    check_select(2, 7, 50, 128, 0.9f, 0.1f, 0, 41);
    check_select(3, 65, 1000, 128, 0.5f, 0.0f, 0, 42);
    check_select(1, 1, 1, 128, 0.9f, 0.1f, 0, 43);      // C_q = C_k = 1
    check_select(1, 3, 4096, 128, 0.95f, 0.05f, 0, 44); // the largest C_k
    check_select(2, 5, 300, 64, 1.0f, 0.1f, 0, 45);     // top_p 1 keeps everything
    check_select(1, 4, 200, 128, 0.6f, 0.0f, 1, 46);    // duplicated centroids: exact ties
}

// ---------------------------------------------------------------------------- operator
typedef struct { int H, S, C_q, C_k, planted; float top_p; } op_case;

static void run_op(vs_svg2_cuda *st, const uint16_t *dq, const uint16_t *dk, const uint16_t *dv,
                   uint16_t *dout, uint16_t *host_out, size_t n) {
    vs_svg2_attention_cuda(st, dq, dk, dv, dout, heads_layout(st->S, st->D), 0);
    to_host(host_out, dout, n * 2);
}

static void check_operator(op_case c, uint64_t seed) {
    const int D = 128;
    size_t n = (size_t)c.H * c.S * D;
    uint16_t *q = malloc(n * 2), *k = malloc(n * 2), *v = malloc(n * 2);
    float *qf = malloc(n * 4), *kf = malloc(n * 4), *vf = malloc(n * 4), *ref = malloc(n * 4), *got = malloc(n * 4);
    make_points(seed, c.H, c.S, D, c.planted, 0.3f, q, qf);
    make_points(seed, c.H, c.S, D, c.planted, 0.3f, k, kf);  // same structure as Q: attention has clusters to find
    make_points(seed + 7, c.H, c.S, D, 0, 0, v, vf);
    for (size_t i = 0; i < n; i++) {  // scale q so the softmax is peaked but not one-hot
        q[i] = vs_f32_to_bf16(0.3f * qf[i]);
        qf[i] = vs_bf16_to_f32(q[i]);
    }
    vs_svg2_params params = vs_svg2_default_params();
    params.C_q = c.C_q;
    params.C_k = c.C_k;
    params.top_p = c.top_p;
    params.iters_cold = 20;
    params.seed = seed;
    vs_svg2_cache_cpu cache;
    vs_svg2_cache_init_cpu(&cache, c.H, c.C_q, c.C_k, D);
    double density_cpu[64], density_gpu[64];

    vs_svg2_cuda st, st2, st_tokens;
    CHECK(vs_svg2_cuda_init(&st, &params, c.H, c.S, D, 0) == 0);
    CHECK(vs_svg2_cuda_init(&st2, &params, c.H, c.S, D, 0) == 0);
    CHECK(vs_svg2_cuda_init(&st_tokens, &params, c.H, c.S, D, 0) == 0);
    const int pad = 8;  // token-major rows with spare elements between tokens
    const size_t len = tokens_len(c.H, c.S, D, pad);
    uint16_t *dq_t = dev_tokens(q, c.H, c.S, D, pad), *dk_t = dev_tokens(k, c.H, c.S, D, pad);
    uint16_t *dv_t = dev_tokens(v, c.H, c.S, D, pad), *dout_t = dev_alloc(len * 2);
    uint16_t *out_t = malloc(len * 2);
    uint16_t *dq = dev_copy(q, n * 2), *dk = dev_copy(k, n * 2), *dv = dev_copy(v, n * 2), *dout = dev_alloc(n * 2);
    uint16_t *out = malloc(n * 2), *out2 = malloc(n * 2), *out_graph = malloc(n * 2);

    for (int call = 0; call < 2; call++) {  // cold, then warm from the cache
        vs_svg2_attention_cpu(&params, &cache, qf, kf, vf, c.H, c.S, D, 0, ref, density_cpu);
        run_op(&st, dq, dk, dv, dout, out, n);
        to_host(density_gpu, st.density, (size_t)c.H * 8);
        for (size_t i = 0; i < n; i++) got[i] = vs_bf16_to_f32(out[i]);
        double err = vs_rel_l2(got, ref, (long)n);
        CHECK_MSG(err <= 2e-2, "operator H=%d S=%d C_q=%d C_k=%d call %d: rel L2 %.3g", c.H, c.S, c.C_q, c.C_k, call, err);
        printf("  operator H=%d S=%d C_q=%d C_k=%d p=%.2f %s: rel L2 %.2e, density GPU %.4f CPU %.4f\n", c.H,
               c.S, c.C_q, c.C_k, c.top_p, call ? "warm" : "cold", err, density_gpu[0], density_cpu[0]);
        // Determinism: an independent state given the same calls gives the same bits.
        run_op(&st2, dq, dk, dv, dout, out2, n);
        CHECK_MSG(!memcmp(out, out2, n * 2), "two runs differ (call %d)", call);
        // The model's token-major rows, read and written in place: the same bits.
        CUDA_OK(cudaMemset(dout_t, 0xff, len * 2));
        vs_svg2_attention_cuda(&st_tokens, dq_t, dk_t, dv_t, dout_t, tokens_layout(c.H, D, pad), 0);
        to_host(out_t, dout_t, len * 2);
        relayout(out2, out_t, c.H, c.S, D, pad, 0);
        CHECK_MSG(!memcmp(out, out2, n * 2), "token-major operator differs (call %d)", call);
    }
    vs_svg2_cuda_free(&st_tokens);
    cudaFree(dq_t), cudaFree(dk_t), cudaFree(dv_t), cudaFree(dout_t);
    free(out_t);

    // Heads split over two states (as Ulysses ranks split them), each seeded from its global head
    // index: the cold call gives the same bits as the whole. Heads converge on their own, so the
    // split cannot change when any head stops.
    if (c.H >= 2) {
        int h1 = c.H / 2;
        size_t n1 = (size_t)h1 * c.S * D;
        vs_svg2_cuda whole, lo, hi;
        CHECK(vs_svg2_cuda_init(&whole, &params, c.H, c.S, D, 0) == 0);
        CHECK(vs_svg2_cuda_init(&lo, &params, h1, c.S, D, 0) == 0);
        CHECK(vs_svg2_cuda_init(&hi, &params, c.H - h1, c.S, D, h1) == 0);
        uint16_t *split = malloc(n * 2);
        run_op(&whole, dq, dk, dv, dout, out, n);
        run_op(&lo, dq, dk, dv, dout, split, n1);
        vs_svg2_attention_cuda(&hi, dq + n1, dk + n1, dv + n1, dout, heads_layout(c.S, D), 0);
        to_host(split + n1, dout, (n - n1) * 2);
        CHECK_MSG(!memcmp(out, split, n * 2), "heads split over two states differ from one state");
        vs_svg2_cuda_free(&whole), vs_svg2_cuda_free(&lo), vs_svg2_cuda_free(&hi);
        free(split);
    }

    // CUDA graph: capture one warm call, replay it from the same cache, compare with the eager call.
    size_t qc = (size_t)c.H * c.C_q * D * 4, kc = (size_t)c.H * c.C_k * D * 4;
    float *save_q = dev_alloc(qc), *save_k = dev_alloc(kc);
    CUDA_OK(cudaMemcpy(save_q, st.km_q.centroids, qc, cudaMemcpyDeviceToDevice));
    CUDA_OK(cudaMemcpy(save_k, st.km_k.centroids, kc, cudaMemcpyDeviceToDevice));
    run_op(&st, dq, dk, dv, dout, out, n);  // eager warm call
    cudaStream_t stream;
    CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
    vs_svg2_attention_cuda(&st, dq, dk, dv, dout, heads_layout(c.S, D), stream);
    CUDA_OK(cudaStreamEndCapture(stream, &graph));
    CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
    for (int replay = 0; replay < 2; replay++) {
        CUDA_OK(cudaMemcpy(st.km_q.centroids, save_q, qc, cudaMemcpyDeviceToDevice));
        CUDA_OK(cudaMemcpy(st.km_k.centroids, save_k, kc, cudaMemcpyDeviceToDevice));
        CUDA_OK(cudaMemset(dout, 0, n * 2));
        CUDA_OK(cudaGraphLaunch(exec, stream));
        CUDA_OK(cudaStreamSynchronize(stream));
        to_host(out_graph, dout, n * 2);
        CHECK_MSG(!memcmp(out, out_graph, n * 2), "graph replay %d differs from the eager call", replay);
    }
    CUDA_OK(cudaGraphExecDestroy(exec));
    CUDA_OK(cudaGraphDestroy(graph));
    CUDA_OK(cudaStreamDestroy(stream));

    cudaFree(save_q), cudaFree(save_k), cudaFree(dq), cudaFree(dk), cudaFree(dv), cudaFree(dout);
    vs_svg2_cuda_free(&st);
    vs_svg2_cuda_free(&st2);
    vs_svg2_cache_free_cpu(&cache);
    free(q), free(k), free(v), free(qf), free(kf), free(vf), free(ref), free(got), free(out), free(out2), free(out_graph);
}

static void test_operator(void) {
    check_operator((op_case){2, 1000, 10, 50, 8, 0.9f}, 51);   // planted, S % 128 != 0
    check_operator((op_case){1, 777, 1, 40, 0, 1.0f}, 52);     // H = 1, C_q = 1, random, every block
    check_operator((op_case){1, 777, 1, 40, 5, 0.7f}, 55);     // H = 1, C_q = 1, planted
    check_operator((op_case){1, 300, 12, 290, 6, 0.9f}, 53);   // C_k close to S
    check_operator((op_case){3, 513, 16, 64, 12, 0.5f}, 54);   // low density
}

int main(void) {
    VS_TEST_REQUIRE_GPU();
    RUN_TEST(test_cluster_order);
    RUN_TEST(test_gather_scatter);
    RUN_TEST(test_kmeans);
    RUN_TEST(test_select);
    RUN_TEST(test_operator);
    return vs_test_finish();
}
