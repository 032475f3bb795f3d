// Permutation, dense and block-sparse attention, and the whole SVG2 operator on the CPU, against
// a masked softmax written directly here on the unpermuted tensors.
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/svg2_cpu.h"
#include "runtime/vs_rng.h"
#include "tests/vs_test.h"

static float *normal_tensor(uint64_t seed, size_t n, float scale) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = scale * vs_normal_at(seed, i);
    return x;
}

static int32_t *random_labels(uint64_t seed, int H, int S, int C) {
    int32_t *labels = malloc((size_t)H * S * sizeof *labels);
    for (size_t i = 0; i < (size_t)H * S; i++) labels[i] = (int32_t)vs_uniform_index(seed, i, (uint32_t)C);
    return labels;
}

// out[h, s] = softmax over the keys t with mask[h, q_labels[h, s], k_labels[h, t]] of
// q.k / sqrt(D), times v; zeros when no key is allowed. Tokens in original order.
static void masked_attention_reference(const float *q, const float *k, const float *v, int H, int S,
                                       int D, const int32_t *q_labels, const int32_t *k_labels,
                                       int C_q, int C_k, const uint8_t *mask, float *out) {
    double *scores = malloc((size_t)S * sizeof *scores);
    for (int h = 0; h < H; h++)
        for (int s = 0; s < S; s++) {
            const float *qs = q + ((size_t)h * S + s) * D;
            const uint8_t *row = mask + ((size_t)h * C_q + q_labels[h * S + s]) * C_k;
            double max_score = -INFINITY;
            for (int t = 0; t < S; t++) {
                if (!row[k_labels[h * S + t]]) continue;
                double dot = 0;
                for (int d = 0; d < D; d++) dot += (double)qs[d] * k[((size_t)h * S + t) * D + d];
                scores[t] = dot / sqrt((double)D);
                max_score = fmax(max_score, scores[t]);
            }
            for (int d = 0; d < D; d++) {
                double num = 0, den = 0;
                for (int t = 0; t < S; t++) {
                    if (!row[k_labels[h * S + t]]) continue;
                    double w = exp(scores[t] - max_score);
                    num += w * v[((size_t)h * S + t) * D + d];
                    den += w;
                }
                out[((size_t)h * S + s) * D + d] = den > 0 ? (float)(num / den) : 0.0f;
            }
        }
    free(scores);
}

// Block-sparse attention through the permutation: gather Q by q_labels, K and V by k_labels,
// attend, scatter back.
static void permuted_sparse_attention(const float *q, const float *k, const float *v, int H, int S,
                                      int D, const int32_t *q_labels, const int32_t *k_labels,
                                      int C_q, int C_k, const uint8_t *mask, float *out) {
    size_t n = (size_t)H * S * D;
    int32_t *q_perm = malloc((size_t)H * S * sizeof *q_perm), *k_perm = malloc((size_t)H * S * sizeof *k_perm);
    int32_t *q_off = malloc((size_t)H * (C_q + 1) * sizeof *q_off), *k_off = malloc((size_t)H * (C_k + 1) * sizeof *k_off);
    float *qp = malloc(n * sizeof *qp), *kp = malloc(n * sizeof *kp), *vp = malloc(n * sizeof *vp),
          *op = malloc(n * sizeof *op);
    vs_cluster_order_cpu(q_labels, H, S, C_q, q_perm, q_off);
    vs_cluster_order_cpu(k_labels, H, S, C_k, k_perm, k_off);
    vs_gather_rows_cpu(q, q_perm, H, S, D, qp);
    vs_gather_rows_cpu(k, k_perm, H, S, D, kp);
    vs_gather_rows_cpu(v, k_perm, H, S, D, vp);
    vs_block_sparse_attention_cpu(qp, kp, vp, H, S, D, q_off, k_off, C_q, C_k, mask, op);
    vs_scatter_rows_cpu(op, q_perm, H, S, D, out);
    free(q_perm), free(k_perm), free(q_off), free(k_off), free(qp), free(kp), free(vp), free(op);
}

static void test_permutation_round_trip(void) {
    enum { H = 3, S = 101, D = 7, C = 13 };
    float *x = normal_tensor(1, (size_t)H * S * D, 1.0f);
    float *permuted = malloc(sizeof(float) * H * S * D), *back = malloc(sizeof(float) * H * S * D);
    int32_t *labels = random_labels(2, H, S, C);
    labels[0] = C - 1;  // make sure the last cluster is used and some are empty in head 2
    for (int s = 0; s < S; s++) labels[2 * S + s] = (s * 5) % 3 * 4;
    int32_t perm[H * S], offsets[H * (C + 1)];
    vs_cluster_order_cpu(labels, H, S, C, perm, offsets);
    int ok = 1;
    for (int h = 0; h < H; h++) {
        const int32_t *p = perm + h * S, *o = offsets + h * (C + 1);
        int seen[S] = {0};
        if (o[0] != 0 || o[C] != S) ok = 0;
        for (int c = 0; c < C; c++)
            for (int s = o[c]; s < o[c + 1]; s++) {
                if (p[s] < 0 || p[s] >= S || seen[p[s]]++) ok = 0;
                else if (labels[h * S + p[s]] != c) ok = 0;   // cluster c occupies o[c] .. o[c+1]
                if (s > o[c] && p[s] <= p[s - 1]) ok = 0;     // stable: original order kept
            }
    }
    CHECK(ok);
    CHECK(offsets[2 * (C + 1) + 1] == offsets[2 * (C + 1) + 4]);  // head 2: clusters 1..3 empty
    vs_gather_rows_cpu(x, perm, H, S, D, permuted);
    CHECK(memcmp(permuted + (size_t)(S + 5) * D, x + ((size_t)S + perm[S + 5]) * D, D * sizeof(float)) == 0);
    vs_scatter_rows_cpu(permuted, perm, H, S, D, back);
    CHECK(memcmp(back, x, sizeof(float) * H * S * D) == 0);
    free(x), free(permuted), free(back), free(labels);
}

static void test_all_blocks_equal_dense(void) {
    enum { H = 2, S = 97, D = 16, C_q = 7, C_k = 11 };
    size_t n = (size_t)H * S * D;
    float *q = normal_tensor(10, n, 1.0f), *k = normal_tensor(11, n, 1.0f), *v = normal_tensor(12, n, 1.0f);
    float *dense = malloc(n * sizeof *dense), *sparse = malloc(n * sizeof *sparse);
    int32_t *q_labels = random_labels(13, H, S, C_q), *k_labels = random_labels(14, H, S, C_k);
    uint8_t mask[H * C_q * C_k];
    memset(mask, 1, sizeof mask);
    vs_dense_attention_cpu(q, k, v, H, S, D, dense);
    permuted_sparse_attention(q, k, v, H, S, D, q_labels, k_labels, C_q, C_k, mask, sparse);
    CHECK(vs_rel_l2(sparse, dense, (long)n) <= 1e-6);
    // Dense against the reference with every key allowed (one cluster each side).
    int32_t zeros[H * S] = {0};
    uint8_t one_block[H] = {1, 1};  // [H, 1, 1]
    float *reference = malloc(n * sizeof *reference);
    masked_attention_reference(q, k, v, H, S, D, zeros, zeros, 1, 1, one_block, reference);
    CHECK(vs_rel_l2(dense, reference, (long)n) <= 1e-6);
    free(q), free(k), free(v), free(dense), free(sparse), free(reference), free(q_labels), free(k_labels);
}

static void test_random_mask_equals_reference(void) {
    enum { H = 3, S = 83, D = 12, C_q = 9, C_k = 14 };
    size_t n = (size_t)H * S * D;
    // Scores up to ~+-100: a softmax without the max subtraction would overflow in f32.
    float *q = normal_tensor(20, n, 6.0f), *k = normal_tensor(21, n, 6.0f), *v = normal_tensor(22, n, 1.0f);
    float *sparse = malloc(n * sizeof *sparse), *reference = malloc(n * sizeof *reference);
    int32_t *q_labels = random_labels(23, H, S, C_q), *k_labels = random_labels(24, H, S, C_k);
    for (int s = 0; s < S; s++) k_labels[S + s] = k_labels[S + s] % 5;  // head 1: clusters 5.. empty
    uint8_t mask[H * C_q * C_k];
    for (int i = 0; i < H * C_q * C_k; i++) mask[i] = vs_uniform_index(25, (uint64_t)i, 3) == 0;
    memset(mask + C_k * 2, 0, C_k);           // head 0, query cluster 2: no key at all -> zeros
    memset(mask + C_q * C_k + C_k * 3, 0, 5); // head 1, query cluster 3: only empty key clusters
    mask[C_q * C_k + C_k * 3 + 9] = 1;
    masked_attention_reference(q, k, v, H, S, D, q_labels, k_labels, C_q, C_k, mask, reference);
    permuted_sparse_attention(q, k, v, H, S, D, q_labels, k_labels, C_q, C_k, mask, sparse);
    CHECK(vs_rel_l2(sparse, reference, (long)n) <= 1e-6);
    double max_zero_row = 0;
    int zero_rows = 0;
    for (int h = 0; h < 2; h++)
        for (int s = 0; s < S; s++)
            if (q_labels[h * S + s] == (h ? 3 : 2)) {
                zero_rows++;
                for (int d = 0; d < D; d++) max_zero_row = fmax(max_zero_row, fabs(sparse[((size_t)h * S + s) * D + d]));
            }
    CHECK(zero_rows > 0 && max_zero_row == 0);
    int finite = 1;
    for (size_t i = 0; i < n; i++) finite &= isfinite(sparse[i]) != 0;
    CHECK(finite);
    free(q), free(k), free(v), free(sparse), free(reference), free(q_labels), free(k_labels);
}

// The operator against its own definition: k-means (seeded as documented), selection, then the
// masked softmax on the unpermuted tokens. Checks output, density and, at p >= 1, dense equality.
// A valid cache makes it a warm call, replayed from the cached centroids. Returns 1 when all matched.
static int check_operator(const vs_svg2_params *params, vs_svg2_cache_cpu *cache, const float *q,
                          const float *k, const float *v, int H, int S, int D) {
    const int C_q = params->C_q, C_k = params->C_k;
    size_t n = (size_t)H * S * D;
    int warm = cache && cache->valid;
    float *q_cent = malloc((size_t)H * C_q * D * sizeof(float)), *k_cent = malloc((size_t)H * C_k * D * sizeof(float));
    int32_t *q_labels = malloc((size_t)H * S * sizeof(int32_t)), *k_labels = malloc((size_t)H * S * sizeof(int32_t));
    int32_t *q_sizes = malloc((size_t)H * C_q * sizeof(int32_t)), *k_sizes = malloc((size_t)H * C_k * sizeof(int32_t));
    uint8_t *mask = malloc((size_t)H * C_q * C_k);
    float *out = malloc(n * sizeof *out), *reference = malloc(n * sizeof *reference);
    double *density = malloc((size_t)H * sizeof *density);
    if (warm) {
        memcpy(q_cent, cache->q_centroids, (size_t)H * C_q * D * sizeof(float));
        memcpy(k_cent, cache->k_centroids, (size_t)H * C_k * D * sizeof(float));
    }
    int iters = warm ? params->iters_warm : params->iters_cold;
    vs_kmeans_cpu(q, H, S, D, C_q, iters, params->tol, vs_svg2_kmeans_seed(params->seed, 0), 0, warm, q_cent, q_labels, q_sizes);
    vs_kmeans_cpu(k, H, S, D, C_k, iters, params->tol, vs_svg2_kmeans_seed(params->seed, 1), 0, warm, k_cent, k_labels, k_sizes);
    vs_svg2_select_cpu(q_cent, k_cent, k_sizes, H, C_q, C_k, D, params->top_p, params->min_kc_ratio, mask);
    masked_attention_reference(q, k, v, H, S, D, q_labels, k_labels, C_q, C_k, mask, reference);

    vs_svg2_attention_cpu(params, cache, q, k, v, H, S, D, 0, out, density);
    int ok = 1;
    double err = vs_rel_l2(out, reference, (long)n);
    if (!(err <= 1e-6)) ok = 0, fprintf(stderr, "operator vs masked reference: rel err %g\n", err);
    for (int h = 0; h < H; h++) {
        // Density straight from the token labels: allowed (s, t) pairs / S^2.
        long allowed = 0;
        for (int s = 0; s < S; s++)
            for (int t = 0; t < S; t++)
                allowed += mask[((size_t)h * C_q + q_labels[h * S + s]) * C_k + k_labels[h * S + t]];
        double expected = (double)allowed / ((double)S * S);
        if (!(density[h] >= 0 && density[h] <= 1 && fabs(density[h] - expected) <= 1e-12))
            ok = 0, fprintf(stderr, "head %d density %g, expected %g\n", h, density[h], expected);
        if (params->top_p >= 1.0f && density[h] != 1.0) ok = 0, fprintf(stderr, "p = 1 density %g\n", density[h]);
    }
    if (params->top_p >= 1.0f) {
        vs_dense_attention_cpu(q, k, v, H, S, D, reference);
        err = vs_rel_l2(out, reference, (long)n);
        if (!(err <= 1e-6)) ok = 0, fprintf(stderr, "p = 1 operator vs dense: rel err %g\n", err);
    }
    if (cache) {
        if (!cache->valid) ok = 0;
        if (memcmp(cache->q_centroids, q_cent, (size_t)H * C_q * D * sizeof(float)) != 0 ||
            memcmp(cache->k_centroids, k_cent, (size_t)H * C_k * D * sizeof(float)) != 0)
            ok = 0, fprintf(stderr, "cache does not hold the final centroids\n");
    }
    free(q_cent), free(k_cent), free(q_labels), free(k_labels), free(q_sizes), free(k_sizes);
    free(mask), free(out), free(reference), free(density);
    return ok;
}

static vs_svg2_params small_params(int C_q, int C_k, float top_p, float min_kc_ratio) {
    vs_svg2_params p = vs_svg2_default_params();
    p.C_q = C_q;
    p.C_k = C_k;
    p.top_p = top_p;
    p.min_kc_ratio = min_kc_ratio;
    p.iters_cold = 10;
    p.seed = 1234;
    return p;
}

// Tokens around a few shared "semantic" centers, so clusters are real and selection is sparse.
static float *clustered_tensor(uint64_t seed, int H, int S, int D, int groups) {
    float *x = malloc((size_t)H * S * D * sizeof *x);
    for (int h = 0; h < H; h++)
        for (int s = 0; s < S; s++) {
            uint32_t g = vs_uniform_index(seed, (uint64_t)h * S + s, (uint32_t)groups);
            for (int d = 0; d < D; d++)
                x[((size_t)h * S + s) * D + d] = 3.0f * vs_normal_at(seed + 1, ((uint64_t)h * groups + g) * D + d) +
                                                 0.3f * vs_normal_at(seed + 2, ((uint64_t)h * S + s) * D + d);
        }
    return x;
}

// Heads split over two calls (as Ulysses ranks split them) give bit-identical results to one call:
// the init draws from the global head index and each head converges on its own.
static void test_operator_head_split_invariance(void) {
    enum { H = 4, S = 120, D = 16 };
    size_t n = (size_t)H * S * D, half = n / 2;
    float *q = clustered_tensor(60, H, S, D, 5), *k = clustered_tensor(61, H, S, D, 7);
    float *v = normal_tensor(62, n, 1.0f);
    float *whole = malloc(n * sizeof *whole), *split = malloc(n * sizeof *split);
    vs_svg2_params p = small_params(4, 9, 0.8f, 0.1f);
    p.iters_cold = 20;
    p.tol = 1e-3f;  // heads converge after different iteration counts
    double density_whole[H], density_split[H];
    vs_svg2_attention_cpu(&p, NULL, q, k, v, H, S, D, 0, whole, density_whole);
    vs_svg2_attention_cpu(&p, NULL, q, k, v, H / 2, S, D, 0, split, density_split);
    vs_svg2_attention_cpu(&p, NULL, q + half, k + half, v + half, H / 2, S, D, H / 2, split + half,
                          density_split + H / 2);
    CHECK(memcmp(whole, split, n * sizeof *whole) == 0);
    for (int h = 0; h < H; h++) CHECK(density_whole[h] == density_split[h]);
    // And the split really matters for the draw: a wrong head0 gives another result.
    vs_svg2_attention_cpu(&p, NULL, q + half, k + half, v + half, H / 2, S, D, 0, split + half, NULL);
    CHECK(memcmp(whole + half, split + half, half * sizeof *whole) != 0);
    free(q), free(k), free(v), free(whole), free(split);
}

static void test_operator_p1_equals_dense(void) {
    enum { H = 2, S = 90, D = 16 };
    size_t n = (size_t)H * S * D;
    float *q = normal_tensor(30, n, 1.0f), *k = normal_tensor(31, n, 1.0f), *v = normal_tensor(32, n, 1.0f);
    vs_svg2_params p = small_params(6, 10, 1.0f, 0.0f);
    CHECK(check_operator(&p, NULL, q, k, v, H, S, D));
    p.top_p = 1.5f;  // anything >= 1 keeps everything
    CHECK(check_operator(&p, NULL, q, k, v, H, S, D));
    free(q), free(k), free(v);
}

static void test_operator_sparse(void) {
    enum { H = 3, S = 150, D = 8 };
    size_t n = (size_t)H * S * D;
    float *q = clustered_tensor(40, H, S, D, 5), *k = clustered_tensor(43, H, S, D, 7), *v = normal_tensor(46, n, 1.0f);
    vs_svg2_params p = small_params(8, 12, 0.5f, 0.0f);
    CHECK(check_operator(&p, NULL, q, k, v, H, S, D));
    double density[H];
    float *out = malloc(n * sizeof *out);
    vs_svg2_attention_cpu(&p, NULL, q, k, v, H, S, D, 0, out, density);
    int sparse = 1;
    for (int h = 0; h < H; h++) sparse &= density[h] < 0.9;
    CHECK(sparse);  // clustered data at p = 0.5 skips most blocks
    p.min_kc_ratio = 0.25f;
    CHECK(check_operator(&p, NULL, q, k, v, H, S, D));
    // Same seed, same output, bit for bit.
    float *again = malloc(n * sizeof *again);
    vs_svg2_attention_cpu(&p, NULL, q, k, v, H, S, D, 0, out, NULL);
    vs_svg2_attention_cpu(&p, NULL, q, k, v, H, S, D, 0, again, NULL);
    CHECK(memcmp(out, again, n * sizeof *out) == 0);
    free(q), free(k), free(v), free(out), free(again);

    // A larger head closer to the real shape (D = 64, official p and min_kc_ratio).
    enum { H2 = 2, S2 = 600, D2 = 64 };
    float *q2 = clustered_tensor(100, H2, S2, D2, 12), *k2 = clustered_tensor(103, H2, S2, D2, 20);
    float *v2 = normal_tensor(106, (size_t)H2 * S2 * D2, 1.0f);
    vs_svg2_params p2 = small_params(20, 50, 0.9f, 0.1f);
    CHECK(check_operator(&p2, NULL, q2, k2, v2, H2, S2, D2));
    free(q2), free(k2), free(v2);
}

static void test_operator_shapes(void) {
    // S < C, C_q = 1, H = 1, S = 1, odd S and D, C_k = 1.
    const int shapes[][5] = {{2, 5, 4, 8, 16}, {1, 33, 8, 1, 5}, {1, 1, 3, 3, 3}, {3, 61, 5, 4, 1},
                             {2, 47, 1, 6, 6}};
    const float ps[2] = {1.0f, 0.3f};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int pi = 0; pi < 2; pi++) {
            int H = shapes[i][0], S = shapes[i][1], D = shapes[i][2];
            size_t n = (size_t)H * S * D;
            float *q = normal_tensor(50 + i, n, 1.0f), *k = normal_tensor(60 + i, n, 1.0f), *v = normal_tensor(70 + i, n, 1.0f);
            vs_svg2_params p = small_params(shapes[i][3], shapes[i][4], ps[pi], 0.1f);
            CHECK_MSG(check_operator(&p, NULL, q, k, v, H, S, D), "shape %zu p %g", i, ps[pi]);
            if (S == 1) {  // one token attends to itself only
                float out[3];
                vs_svg2_attention_cpu(&p, NULL, q, k, v, H, S, D, 0, out, NULL);
                CHECK(memcmp(out, v, sizeof out) == 0);
            }
            free(q), free(k), free(v);
        }
}

static void test_operator_adversarial(void) {
    enum { H = 2, S = 64, D = 8 };
    size_t n = (size_t)H * S * D;
    // Huge scores (|q.k| / sqrt(D) in the thousands): needs the max-subtracted softmax.
    float *q = normal_tensor(80, n, 30.0f), *k = normal_tensor(81, n, 30.0f), *v = normal_tensor(82, n, 1.0f);
    vs_svg2_params p = small_params(5, 9, 0.9f, 0.1f);
    CHECK(check_operator(&p, NULL, q, k, v, H, S, D));
    float *out = malloc(n * sizeof *out);
    vs_svg2_attention_cpu(&p, NULL, q, k, v, H, S, D, 0, out, NULL);
    int finite = 1;
    for (size_t i = 0; i < n; i++) finite &= isfinite(out[i]) != 0;
    CHECK(finite);
    // Every token identical: one cluster holds everything, the rest are empty; output = mean of v.
    for (size_t i = 0; i < n; i++) q[i] = k[i] = 0.5f;
    CHECK(check_operator(&p, NULL, q, k, v, H, S, D));
    vs_svg2_attention_cpu(&p, NULL, q, k, v, H, S, D, 0, out, NULL);
    double mean = 0;
    for (int s = 0; s < S; s++) mean += v[(size_t)s * D];
    CHECK_NEAR(out[0], mean / S, 1e-6);
    free(q), free(k), free(v), free(out);
}

static void test_operator_warm_cache(void) {
    enum { H = 2, S = 120, D = 8 };
    size_t n = (size_t)H * S * D;
    float *q = clustered_tensor(90, H, S, D, 6), *k = clustered_tensor(93, H, S, D, 6), *v = normal_tensor(96, n, 1.0f);
    vs_svg2_params p = small_params(7, 11, 0.7f, 0.1f);
    p.iters_cold = 1;  // far from converged, so every warm iteration moves the centroids
    p.iters_warm = 2;
    p.tol = 0.0f;
    vs_svg2_cache_cpu cache;
    vs_svg2_cache_init_cpu(&cache, H, p.C_q, p.C_k, D);
    CHECK(cache.valid == 0);
    CHECK(check_operator(&p, &cache, q, k, v, H, S, D));  // cold, 1 iteration; cache filled
    CHECK(cache.valid == 1);
    float *cold_q = malloc((size_t)H * p.C_q * D * sizeof(float));
    memcpy(cold_q, cache.q_centroids, (size_t)H * p.C_q * D * sizeof(float));
    // Second call: warm, iters_warm = 2 from the cached centroids (check_operator replays it).
    CHECK(check_operator(&p, &cache, q, k, v, H, S, D));
    // ... and it really ran 2 iterations: 1 or 3 from the same start give other centroids.
    float *c1 = malloc((size_t)H * p.C_q * D * sizeof(float)), *c3 = malloc((size_t)H * p.C_q * D * sizeof(float));
    int32_t labels[H * S], sizes[H * 16];  // sizes: room for C_q
    memcpy(c1, cold_q, (size_t)H * p.C_q * D * sizeof(float));
    memcpy(c3, cold_q, (size_t)H * p.C_q * D * sizeof(float));
    vs_kmeans_cpu(q, H, S, D, p.C_q, 1, 0.0f, 0, 0, 1, c1, labels, sizes);
    vs_kmeans_cpu(q, H, S, D, p.C_q, 3, 0.0f, 0, 0, 1, c3, labels, sizes);
    CHECK(memcmp(c1, cache.q_centroids, (size_t)H * p.C_q * D * sizeof(float)) != 0);
    CHECK(memcmp(c3, cache.q_centroids, (size_t)H * p.C_q * D * sizeof(float)) != 0);
    // iters_warm = 0: the cached centroids are used as they are and stay unchanged.
    memcpy(c1, cache.q_centroids, (size_t)H * p.C_q * D * sizeof(float));
    p.iters_warm = 0;
    CHECK(check_operator(&p, &cache, q, k, v, H, S, D));
    CHECK(memcmp(c1, cache.q_centroids, (size_t)H * p.C_q * D * sizeof(float)) == 0);
    // Invalidating the cache makes the next call cold again (same as a first call).
    cache.valid = 0;
    CHECK(check_operator(&p, &cache, q, k, v, H, S, D));
    CHECK(memcmp(cold_q, cache.q_centroids, (size_t)H * p.C_q * D * sizeof(float)) == 0);
    vs_svg2_cache_free_cpu(&cache);
    CHECK(cache.q_centroids == NULL && cache.valid == 0);
    free(q), free(k), free(v), free(cold_q), free(c1), free(c3);
}

int main(void) {
    RUN_TEST(test_permutation_round_trip);
    RUN_TEST(test_all_blocks_equal_dense);
    RUN_TEST(test_random_mask_equals_reference);
    RUN_TEST(test_operator_p1_equals_dense);
    RUN_TEST(test_operator_head_split_invariance);
    RUN_TEST(test_operator_sparse);
    RUN_TEST(test_operator_shapes);
    RUN_TEST(test_operator_adversarial);
    RUN_TEST(test_operator_warm_cache);
    return vs_test_finish();
}
