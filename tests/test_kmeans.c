// CPU k-means (vs_kmeans_cpu): Lloyd's objective never increases, planted clusters are found,
// a converged result is a fixed point of a warm start, empty clusters, seeding.
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/svg2_cpu.h"
#include "runtime/vs_rng.h"
#include "tests/vs_test.h"

static float *random_points(uint64_t seed, size_t count) {
    float *x = malloc(count * sizeof *x);
    for (size_t i = 0; i < count; i++) x[i] = vs_normal_at(seed, i);
    return x;
}

// Invariants of any k-means result: labels in range, sizes their histogram, and every non-empty
// centroid the mean of its points.
static void check_consistent(const float *x, int B, int N, int D, int C, const float *centroids,
                             const int32_t *labels, const int32_t *sizes) {
    int32_t *count = calloc((size_t)C, sizeof *count);
    double *sum = calloc((size_t)C * D, sizeof *sum);
    for (int b = 0; b < B; b++) {
        memset(count, 0, (size_t)C * sizeof *count);
        memset(sum, 0, (size_t)C * D * sizeof *sum);
        int in_range = 1;
        for (int n = 0; n < N; n++) {
            int32_t l = labels[(size_t)b * N + n];
            if (l < 0 || l >= C) {
                in_range = 0;
                continue;
            }
            count[l]++;
            for (int d = 0; d < D; d++) sum[(size_t)l * D + d] += x[((size_t)b * N + n) * D + d];
        }
        CHECK(in_range);
        int sizes_ok = 1, means_ok = 1;
        for (int c = 0; c < C; c++) {
            if (count[c] != sizes[(size_t)b * C + c]) sizes_ok = 0;
            if (count[c] == 0) continue;
            for (int d = 0; d < D; d++)
                if (fabs(sum[(size_t)c * D + d] / count[c] - centroids[((size_t)b * C + c) * D + d]) > 1e-5)
                    means_ok = 0;
        }
        CHECK(sizes_ok);
        CHECK(means_ok);
    }
    free(count);
    free(sum);
}

static void test_objective_never_increases(void) {
    // Gaussian noise (no structure: many small moves) and a heavy-tailed mix with duplicates.
    enum { B = 2, N = 300, D = 8, C = 12, MAX = 12 };
    float *x = random_points(11, (size_t)B * N * D);
    for (int n = 0; n < 40; n++)  // duplicate points and a few far outliers
        memcpy(x + (size_t)(N + n) * D, x + (size_t)n * D, D * sizeof(float));
    for (int d = 0; d < D; d++) x[(size_t)(N + 100) * D + d] = 50.0f;
    float centroids[B * C * D];
    int32_t labels[B * N], sizes[B * C];
    double previous = INFINITY, first = 0;
    int monotone = 1;
    for (int iters = 1; iters <= MAX; iters++) {
        int ran = vs_kmeans_cpu(x, B, N, D, C, iters, 0.0f, 7, 0, 0, centroids, labels, sizes);
        CHECK(ran == iters);  // tol 0 never stops early
        double objective = vs_kmeans_objective_cpu(x, B, N, D, C, centroids, labels);
        if (iters == 1) first = objective;
        if (objective > previous * (1 + 1e-12)) {
            monotone = 0;
            fprintf(stderr, "objective rose at %d iterations: %.12g -> %.12g\n", iters, previous, objective);
        }
        previous = objective;
        check_consistent(x, B, N, D, C, centroids, labels, sizes);
    }
    CHECK(monotone);
    CHECK(previous < first * 0.99);  // the iterations did something
    free(x);
}

// 5 tight blobs 20 standard deviations apart in shuffled order; the point of blob g is a member
// of cluster g in the planted truth.
enum { PB = 2, PN = 250, PD = 6, PC = 5 };
static void planted_points(float *x, int32_t *truth, float *centers) {
    for (int b = 0; b < PB; b++) {
        for (int g = 0; g < PC; g++)
            for (int d = 0; d < PD; d++)
                centers[((size_t)b * PC + g) * PD + d] = 20.0f * vs_normal_at(100 + b, (uint64_t)g * PD + d);
        for (int n = 0; n < PN; n++) {
            int g = (int)vs_uniform_index(200 + b, (uint64_t)n, PC);
            if (n < PC) g = n;  // every blob has points
            truth[b * PN + n] = g;
            for (int d = 0; d < PD; d++)
                x[((size_t)b * PN + n) * PD + d] = centers[((size_t)b * PC + g) * PD + d] +
                                                   0.05f * vs_normal_at(300 + b, (uint64_t)n * PD + d);
        }
    }
}

// labels equal truth up to a bijection of cluster ids, in every batch row.
static int same_partition(const int32_t *labels, const int32_t *truth, int B, int N, int C) {
    for (int b = 0; b < B; b++) {
        int to_label[64], to_truth[64];
        for (int c = 0; c < C; c++) to_label[c] = to_truth[c] = -1;
        for (int n = 0; n < N; n++) {
            int t = truth[b * N + n], l = labels[b * N + n];
            if (to_label[t] == -1 && to_truth[l] == -1) {
                to_label[t] = l;
                to_truth[l] = t;
            }
            if (to_label[t] != l || to_truth[l] != t) return 0;
        }
    }
    return 1;
}

static void test_planted_clusters_recovered(void) {
    float x[PB * PN * PD], centers[PB * PC * PD], centroids[PB * PC * PD];
    int32_t truth[PB * PN], labels[PB * PN], sizes[PB * PC];
    planted_points(x, truth, centers);
    // Cold: random-sample init can put two seeds in one blob (a local minimum Lloyd cannot leave),
    // so take the best of several seeds, as k-means restarts do.
    double best = INFINITY;
    int32_t best_labels[PB * PN];
    for (uint64_t seed = 0; seed < 16; seed++) {
        int ran = vs_kmeans_cpu(x, PB, PN, PD, PC, 50, 1e-6f, seed, 0, 0, centroids, labels, sizes);
        CHECK(ran >= 1 && ran <= 50);
        double objective = vs_kmeans_objective_cpu(x, PB, PN, PD, PC, centroids, labels);
        if (objective < best) {
            best = objective;
            memcpy(best_labels, labels, sizeof labels);
        }
    }
    CHECK(same_partition(best_labels, truth, PB, PN, PC));
    // Warm from each blob's center pushed off by 3 per coordinate (60 noise sigmas, still well
    // inside its own blob's region): recovered exactly, cluster g stays cluster g, and the
    // centroids are the blob means.
    for (int i = 0; i < PB * PC * PD; i++) centroids[i] = centers[i] + 3.0f * vs_normal_at(400, (uint64_t)i);
    vs_kmeans_cpu(x, PB, PN, PD, PC, 50, 1e-6f, 0, 0, 1, centroids, labels, sizes);
    CHECK(memcmp(labels, truth, sizeof labels) == 0);
    check_consistent(x, PB, PN, PD, PC, centroids, labels, sizes);
    double max_err = 0;
    for (int i = 0; i < PB * PC * PD; i++) max_err = fmax(max_err, fabs(centroids[i] - centers[i]));
    CHECK(max_err < 0.05);  // blob means lie within a few noise sigmas / sqrt(50) of the centers
}

static void test_converged_is_fixed_point(void) {
    enum { B = 3, N = 200, D = 5, C = 9 };
    float *x = random_points(21, (size_t)B * N * D);
    float centroids[B * C * D], again[B * C * D];
    int32_t labels[B * N], sizes[B * C], labels2[B * N], sizes2[B * C];
    int ran = vs_kmeans_cpu(x, B, N, D, C, 500, 1e-12f, 3, 0, 0, centroids, labels, sizes);
    CHECK(ran < 500);  // converged: the last step moved no centroid
    for (int max_iters = 0; max_iters <= 2; max_iters++) {
        memcpy(again, centroids, sizeof centroids);
        int ran2 = vs_kmeans_cpu(x, B, N, D, C, max_iters, 1e-12f, 99, 0, 1, again, labels2, sizes2);
        CHECK(ran2 == (max_iters ? 1 : 0));  // zero shift stops after the first iteration
        CHECK(memcmp(labels, labels2, sizeof labels) == 0);
        CHECK(memcmp(sizes, sizes2, sizeof sizes) == 0);
        double max_diff = 0;
        for (int i = 0; i < B * C * D; i++) max_diff = fmax(max_diff, fabs(again[i] - centroids[i]));
        CHECK(max_diff <= 1e-6);
    }
    free(x);
}

static void test_empty_clusters(void) {
    // 5 distinct points, 8 clusters (init draws with replacement: duplicates leave clusters empty,
    // and more clusters than points must leave at least 3 empty).
    enum { N = 5, D = 3, C = 8 };
    float x[N * D];
    for (int i = 0; i < N * D; i++) x[i] = (float)(i % 7) - 2.5f * (float)(i / D);
    float centroids[C * D], init[C * D];
    int32_t labels[N], sizes[C];
    const uint64_t seed = 5;
    for (int c = 0; c < C; c++)
        memcpy(init + c * D, x + vs_uniform_index(seed, (uint64_t)c, N) * D, D * sizeof(float));
    vs_kmeans_cpu(x, 1, N, D, C, 10, 1e-6f, seed, 0, 0, centroids, labels, sizes);
    check_consistent(x, 1, N, D, C, centroids, labels, sizes);
    int empty = 0, empty_kept = 1;
    for (int c = 0; c < C; c++)
        if (sizes[c] == 0) {
            empty++;
            if (memcmp(centroids + c * D, init + c * D, D * sizeof(float)) != 0) empty_kept = 0;
        }
    CHECK(empty >= C - N);
    CHECK(empty_kept);
    // A point sits on its own centroid, so the objective is 0 iff every point got one; here each
    // point's label must at least be the nearest centroid, ties to the lowest index.
    int nearest = 1;
    for (int n = 0; n < N; n++) {
        double best = INFINITY;
        int arg = -1;
        for (int c = 0; c < C; c++) {
            double dist = 0;
            for (int d = 0; d < D; d++) dist += pow(x[n * D + d] - centroids[c * D + d], 2);
            if (dist < best) best = dist, arg = c;
        }
        if (labels[n] != arg) nearest = 0;
    }
    CHECK(nearest);

    // All points identical: every centroid starts on the same point, ties go to cluster 0.
    float same[10 * D];
    for (int i = 0; i < 10 * D; i++) same[i] = 1.25f;
    int32_t labels_same[10];
    int ran = vs_kmeans_cpu(same, 1, 10, D, C, 10, 1e-6f, seed, 0, 0, centroids, labels_same, sizes);
    CHECK(ran == 1);
    CHECK(sizes[0] == 10);
    int all_zero = 1;
    for (int n = 0; n < 10; n++) all_zero &= labels_same[n] == 0;
    CHECK(all_zero);
    CHECK(vs_kmeans_objective_cpu(same, 1, 10, D, C, centroids, labels_same) == 0);

    // One point, one cluster; one point, many clusters.
    float one[D] = {1, 2, 3};
    int32_t label_one;
    vs_kmeans_cpu(one, 1, 1, D, 1, 3, 1e-6f, seed, 0, 0, centroids, &label_one, sizes);
    CHECK(label_one == 0 && sizes[0] == 1 && centroids[2] == 3.0f);
    vs_kmeans_cpu(one, 1, 1, D, C, 3, 1e-6f, seed, 0, 0, centroids, &label_one, sizes);
    CHECK(label_one == 0 && sizes[0] == 1);
}

static void test_seeding(void) {
    enum { B = 2, N = 120, D = 4, C = 6 };
    float *x = random_points(31, (size_t)B * N * D);
    float c1[B * C * D], c2[B * C * D], c3[B * C * D];
    int32_t l1[B * N], l2[B * N], l3[B * N], s1[B * C], s2[B * C], s3[B * C];
    vs_kmeans_cpu(x, B, N, D, C, 20, 1e-6f, 42, 0, 0, c1, l1, s1);
    vs_kmeans_cpu(x, B, N, D, C, 20, 1e-6f, 42, 0, 0, c2, l2, s2);
    CHECK(memcmp(c1, c2, sizeof c1) == 0 && memcmp(l1, l2, sizeof l1) == 0 && memcmp(s1, s2, sizeof s1) == 0);
    // max_iters 0: the centroids are the init itself, token vs_uniform_index(seed, b*C + c, N).
    vs_kmeans_cpu(x, B, N, D, C, 0, 1e-6f, 42, 0, 0, c1, l1, s1);
    vs_kmeans_cpu(x, B, N, D, C, 0, 1e-6f, 43, 0, 0, c3, l3, s3);
    CHECK(memcmp(c1, c3, sizeof c1) != 0);
    int init_ok = 1;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            uint32_t n = vs_uniform_index(42, (uint64_t)b * C + c, N);
            if (memcmp(c1 + (b * C + c) * D, x + ((size_t)b * N + n) * D, D * sizeof(float)) != 0) init_ok = 0;
        }
    CHECK(init_ok);
    // Early stop: a huge tol stops after one iteration; tol 0 never stops early.
    CHECK(vs_kmeans_cpu(x, B, N, D, C, 20, 1e30f, 42, 0, 0, c1, l1, s1) == 1);
    CHECK(vs_kmeans_cpu(x, B, N, D, C, 20, 0.0f, 42, 0, 0, c1, l1, s1) == 20);
    free(x);
}

int main(void) {
    RUN_TEST(test_objective_never_increases);
    RUN_TEST(test_planted_clusters_recovered);
    RUN_TEST(test_converged_is_fixed_point);
    RUN_TEST(test_empty_clusters);
    RUN_TEST(test_seeding);
    return vs_test_finish();
}
