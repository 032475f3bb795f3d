// Batched Lloyd k-means on the CPU (squared Euclidean), the reference for the CUDA k-means.
//
// Distances are (x - c)^2 summed in double rather than the expanded |x|^2 + |c|^2 - 2 x.c the GPU
// uses: the direct form cannot go negative and has no cancellation, so the reference assignment is
// the exact one up to double rounding. Sums for the means are double too; centroids are stored f32.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/svg2_cpu.h"
#include "runtime/vs_check.h"
#include "runtime/vs_rng.h"

static double squared_distance(const float *a, const float *b, int D) {
    double sum = 0;
    for (int d = 0; d < D; d++) {
        double diff = (double)a[d] - (double)b[d];
        sum += diff * diff;
    }
    return sum;
}

// labels [N] and sizes [C] of one batch row: nearest centroid, ties to the lowest index.
static void assign_row(const float *x, int N, int D, int C, const float *centroids,
                       int32_t *labels, int32_t *sizes) {
    memset(sizes, 0, (size_t)C * sizeof *sizes);
    for (int n = 0; n < N; n++) {
        const float *point = x + (size_t)n * D;
        int best = 0;
        double best_dist = squared_distance(point, centroids, D);
        for (int c = 1; c < C; c++) {
            double dist = squared_distance(point, centroids + (size_t)c * D, D);
            if (dist < best_dist) {  // strict: an equal distance keeps the lower index
                best_dist = dist;
                best = c;
            }
        }
        labels[n] = best;
        sizes[best]++;
    }
}

// Moves each centroid of one batch row to the mean of its points (an empty cluster stays where it
// is). sums [C, D] is scratch. Returns the largest L2 shift of a centroid.
static double update_row(const float *x, int N, int D, int C, const int32_t *labels,
                         const int32_t *sizes, double *sums, float *centroids) {
    memset(sums, 0, (size_t)C * D * sizeof *sums);
    for (int n = 0; n < N; n++) {
        const float *point = x + (size_t)n * D;
        double *sum = sums + (size_t)labels[n] * D;
        for (int d = 0; d < D; d++) sum[d] += point[d];
    }
    double max_shift = 0;
    for (int c = 0; c < C; c++) {
        if (sizes[c] == 0) continue;
        float *centroid = centroids + (size_t)c * D;
        double shift_sq = 0;
        for (int d = 0; d < D; d++) {
            float mean = (float)(sums[(size_t)c * D + d] / sizes[c]);
            double diff = (double)mean - (double)centroid[d];
            shift_sq += diff * diff;
            centroid[d] = mean;
        }
        double shift = sqrt(shift_sq);
        if (shift > max_shift) max_shift = shift;
    }
    return max_shift;
}

int vs_kmeans_cpu(const float *x, int B, int N, int D, int C, int max_iters, float tol,
                  uint64_t seed, int head0, int warm, float *centroids, int32_t *labels,
                  int32_t *sizes) {
    VS_ASSERT(B >= 1 && N >= 1 && D >= 1 && C >= 1,
              "k-means needs at least one batch row, one point, one dimension and one cluster");
    VS_ASSERT(max_iters >= 0, "k-means iterations must be >= 0 (the official settings are 50 cold, 2 warm)");
    if (!warm) {
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++) {
                uint32_t n = vs_uniform_index(seed, ((uint64_t)head0 + b) * C + c, (uint32_t)N);
                memcpy(centroids + ((size_t)b * C + c) * D, x + ((size_t)b * N + n) * D,
                       (size_t)D * sizeof(float));
            }
    }
    double *sums = vs_malloc((size_t)C * D * sizeof *sums);
    int iters = 0;
    if (max_iters == 0) {
        // No update: labels and sizes describe the starting centroids, which are left unchanged.
        for (int b = 0; b < B; b++)
            assign_row(x + (size_t)b * N * D, N, D, C, centroids + (size_t)b * C * D,
                       labels + (size_t)b * N, sizes + (size_t)b * C);
    }
    // Each batch row (head) iterates on its own and stops when its own largest shift is below
    // tol, so a head's result does not depend on which other heads share the call (a rank of a
    // Ulysses group runs a different subset of heads than a single GPU does).
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * N * D;
        float *cb = centroids + (size_t)b * C * D;
        int32_t *lb = labels + (size_t)b * N, *sb = sizes + (size_t)b * C;
        int it = 0;
        while (it < max_iters) {
            assign_row(xb, N, D, C, cb, lb, sb);
            double shift = update_row(xb, N, D, C, lb, sb, sums, cb);
            it++;
            if (shift < (double)tol) break;
        }
        if (it > iters) iters = it;
    }
    free(sums);
    return iters;
}

double vs_kmeans_objective_cpu(const float *x, int B, int N, int D, int C,
                               const float *centroids, const int32_t *labels) {
    double total = 0;
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++) {
            int32_t label = labels[(size_t)b * N + n];
            VS_ASSERT(label >= 0 && label < C, "labels must lie in [0, C): pass the labels k-means wrote");
            total += squared_distance(x + ((size_t)b * N + n) * D,
                                      centroids + ((size_t)b * C + label) * D, D);
        }
    return total;
}
