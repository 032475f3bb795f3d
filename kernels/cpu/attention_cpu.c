// Dense and variable-block sparse attention on the CPU: O(S^2 D) per head, scores, softmax and the
// weighted sum of values all in double, so both are exact up to the final f32 store.
//
// Both call the same row kernel over a list of key ranges, so "every block selected" is the dense
// computation visited in a different key order: they agree to double rounding, not bit for bit.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/svg2_cpu.h"
#include "runtime/vs_check.h"

// One query row q [D] against the keys of n_ranges half-open row ranges [starts[r], ends[r]) of
// k, v [S, D]. scores [S] and acc [D] are scratch. A row with no key gets zeros.
static void attend_row(const float *q, const float *k, const float *v, int D, int n_ranges,
                       const int32_t *starts, const int32_t *ends, double scale, double *scores,
                       double *acc, float *out) {
    double max_score = -INFINITY;
    int count = 0;
    for (int r = 0; r < n_ranges; r++)
        for (int t = starts[r]; t < ends[r]; t++) {
            const float *key = k + (size_t)t * D;
            double dot = 0;
            for (int d = 0; d < D; d++) dot += (double)q[d] * (double)key[d];
            scores[count] = dot * scale;
            if (scores[count] > max_score) max_score = scores[count];
            count++;
        }
    memset(acc, 0, (size_t)D * sizeof *acc);
    double total = 0;
    count = 0;
    for (int r = 0; r < n_ranges; r++)
        for (int t = starts[r]; t < ends[r]; t++) {
            double weight = exp(scores[count++] - max_score);
            const float *value = v + (size_t)t * D;
            for (int d = 0; d < D; d++) acc[d] += weight * (double)value[d];
            total += weight;
        }
    for (int d = 0; d < D; d++) out[d] = total > 0 ? (float)(acc[d] / total) : 0.0f;
}

void vs_dense_attention_cpu(const float *q, const float *k, const float *v, int H, int S, int D,
                            float *out) {
    double *scores = vs_malloc((size_t)S * sizeof *scores);
    double *acc = vs_malloc((size_t)D * sizeof *acc);
    double scale = 1.0 / sqrt((double)D);
    int32_t start = 0, end = S;
    for (int h = 0; h < H; h++) {
        size_t head = (size_t)h * S * D;
        for (int s = 0; s < S; s++)
            attend_row(q + head + (size_t)s * D, k + head, v + head, D, 1, &start, &end, scale,
                       scores, acc, out + head + (size_t)s * D);
    }
    free(scores);
    free(acc);
}

void vs_block_sparse_attention_cpu(const float *q, const float *k, const float *v, int H, int S,
                                   int D, const int32_t *q_offsets, const int32_t *k_offsets,
                                   int C_q, int C_k, const uint8_t *mask, float *out) {
    double *scores = vs_malloc((size_t)S * sizeof *scores);
    double *acc = vs_malloc((size_t)D * sizeof *acc);
    int32_t *starts = vs_malloc((size_t)C_k * sizeof *starts);
    int32_t *ends = vs_malloc((size_t)C_k * sizeof *ends);
    double scale = 1.0 / sqrt((double)D);
    for (int h = 0; h < H; h++) {
        size_t head = (size_t)h * S * D;
        const int32_t *qo = q_offsets + (size_t)h * (C_q + 1);
        const int32_t *ko = k_offsets + (size_t)h * (C_k + 1);
        VS_ASSERT(qo[0] == 0 && qo[C_q] == S && ko[0] == 0 && ko[C_k] == S,
                  "cluster offsets must start at 0 and end at S: pass what vs_cluster_order_cpu wrote");
        for (int i = 0; i < C_q; i++) {
            const uint8_t *row = mask + ((size_t)h * C_q + i) * C_k;
            int n_ranges = 0;
            for (int j = 0; j < C_k; j++)
                if (row[j] && ko[j + 1] > ko[j]) {
                    starts[n_ranges] = ko[j];
                    ends[n_ranges] = ko[j + 1];
                    n_ranges++;
                }
            for (int s = qo[i]; s < qo[i + 1]; s++)
                attend_row(q + head + (size_t)s * D, k + head, v + head, D, n_ranges, starts,
                           ends, scale, scores, acc, out + head + (size_t)s * D);
        }
    }
    free(scores);
    free(acc);
    free(ends);
    free(starts);
}
