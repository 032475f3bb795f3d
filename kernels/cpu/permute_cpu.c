// The semantic-aware permutation on the CPU: a stable counting sort of the cluster labels, and the
// row gather/scatter that moves tokens into cluster order and back.
//
// Stable (tokens of one cluster keep their original order) where the official code uses an
// unstable torch.argsort: the permuted layout is then a pure function of the labels.
#include <string.h>

#include "kernels/cpu/svg2_cpu.h"
#include "runtime/vs_check.h"

void vs_cluster_order_cpu(const int32_t *labels, int B, int N, int C, int32_t *perm,
                          int32_t *offsets) {
    for (int b = 0; b < B; b++) {
        const int32_t *lb = labels + (size_t)b * N;
        int32_t *ob = offsets + (size_t)b * (C + 1);
        int32_t *pb = perm + (size_t)b * N;
        memset(ob, 0, (size_t)(C + 1) * sizeof *ob);
        for (int n = 0; n < N; n++) {
            VS_ASSERT(lb[n] >= 0 && lb[n] < C, "labels must lie in [0, C): pass the labels k-means wrote");
            ob[lb[n] + 1]++;
        }
        for (int c = 0; c < C; c++) ob[c + 1] += ob[c];
        // ob[c] now is the start of cluster c; use a running cursor per cluster, then restore.
        for (int n = 0; n < N; n++) pb[ob[lb[n]]++] = n;
        for (int c = C; c > 0; c--) ob[c] = ob[c - 1];
        ob[0] = 0;
    }
}

void vs_gather_rows_cpu(const float *src, const int32_t *perm, int B, int N, int D, float *dst) {
    for (int b = 0; b < B; b++)
        for (int s = 0; s < N; s++)
            memcpy(dst + ((size_t)b * N + s) * D, src + ((size_t)b * N + perm[(size_t)b * N + s]) * D,
                   (size_t)D * sizeof(float));
}

void vs_scatter_rows_cpu(const float *src, const int32_t *perm, int B, int N, int D, float *dst) {
    for (int b = 0; b < B; b++)
        for (int s = 0; s < N; s++)
            memcpy(dst + ((size_t)b * N + perm[(size_t)b * N + s]) * D, src + ((size_t)b * N + s) * D,
                   (size_t)D * sizeof(float));
}
