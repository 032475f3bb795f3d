// SVG2 block selection on the CPU: which (query cluster, key cluster) blocks attention computes,
// and the density that selection gives.
//
// Scores, the size-weighted softmax and the running sum are in double, and P is never rounded to
// bf16 (the official code rounds it before the cumsum): the reference is the exact-arithmetic
// selection up to double rounding. A GPU kernel in f32 can only disagree where a prefix sum lies
// within f32 rounding of top_p, or two P values within rounding of each other.
#include <math.h>
#include <stdlib.h>

#include "kernels/cpu/svg2_cpu.h"
#include "runtime/vs_check.h"

typedef struct {
    double p;
    int j;
} ranked_cluster;

// Descending p, then ascending j: a total order, so qsort gives the stable order.
static int compare_ranked(const void *a, const void *b) {
    const ranked_cluster *x = a, *y = b;
    if (x->p > y->p) return -1;
    if (x->p < y->p) return 1;
    return (x->j > y->j) - (x->j < y->j);
}

void vs_svg2_select_cpu(const float *q_centroids, const float *k_centroids,
                        const int32_t *k_sizes, int B, int C_q, int C_k, int D, float top_p,
                        float min_kc_ratio, uint8_t *mask) {
    VS_ASSERT(B >= 1 && C_q >= 1 && C_k >= 1 && D >= 1, "selection needs B, C_q, C_k, D >= 1");
    VS_ASSERT(top_p > 0, "top_p must be > 0 (the official setting is 0.9; 1 keeps every block)");
    // Computed in f32 as written in the params, so 0.1f * 1000 gives 100 (double would see 99.99...
    // for some ratios whose f32 value lies just below the decimal one).
    float floor_f = floorf(min_kc_ratio * (float)C_k);
    int min_keep = floor_f <= 0 ? 0 : floor_f >= (float)C_k ? C_k : (int)floor_f;
    double scale = 1.0 / sqrt((double)D);
    ranked_cluster *ranked = vs_malloc((size_t)C_k * sizeof *ranked);
    for (int b = 0; b < B; b++) {
        const int32_t *sizes = k_sizes + (size_t)b * C_k;
        for (int i = 0; i < C_q; i++) {
            const float *q = q_centroids + ((size_t)b * C_q + i) * D;
            uint8_t *row = mask + ((size_t)b * C_q + i) * C_k;
            // The max runs over the non-empty key clusters only (the official code takes it over
            // all): it cancels in the ratio, and an empty cluster with a huge score can then not
            // underflow every weight to zero.
            double max_score = -INFINITY;
            for (int j = 0; j < C_k; j++) {
                const float *k = k_centroids + ((size_t)b * C_k + j) * D;
                double dot = 0;
                for (int d = 0; d < D; d++) dot += (double)q[d] * (double)k[d];
                ranked[j].p = dot * scale;
                ranked[j].j = j;
                if (sizes[j] > 0 && ranked[j].p > max_score) max_score = ranked[j].p;
            }
            double total = 0;
            for (int j = 0; j < C_k; j++) {
                ranked[j].p = sizes[j] > 0 ? (double)sizes[j] * exp(ranked[j].p - max_score) : 0;
                total += ranked[j].p;
            }
            for (int j = 0; j < C_k; j++) ranked[j].p = total > 0 ? ranked[j].p / total : 0;
            qsort(ranked, (size_t)C_k, sizeof *ranked, compare_ranked);
            double before = 0;  // sum of P over the clusters ranked above this one
            for (int r = 0; r < C_k; r++) {
                int keep = r == 0 || r < min_keep || top_p >= 1.0f || before <= (double)top_p;
                row[ranked[r].j] = (uint8_t)keep;
                before += ranked[r].p;
            }
        }
    }
    free(ranked);
}

double vs_svg2_density_cpu(const int32_t *q_offsets, const int32_t *k_offsets,
                           const uint8_t *mask, int C_q, int C_k) {
    double computed = 0;
    for (int i = 0; i < C_q; i++) {
        double rows = q_offsets[i + 1] - q_offsets[i];
        for (int j = 0; j < C_k; j++)
            if (mask[(size_t)i * C_k + j]) computed += rows * (k_offsets[j + 1] - k_offsets[j]);
    }
    double all = (double)(q_offsets[C_q] - q_offsets[0]) * (k_offsets[C_k] - k_offsets[0]);
    return all > 0 ? computed / all : 0;
}
