// SVG2 operator parameters (semantics: docs/svg2.md, after the official implementation).
#pragma once
#include <stdint.h>

typedef struct {
    int C_q;             // query clusters per head
    int C_k;             // key clusters per head
    float top_p;         // attention mass each query cluster keeps, 0 < p <= 1 (p >= 1 keeps all)
    float min_kc_ratio;  // each query cluster keeps at least floor(min_kc_ratio * C_k) key clusters
    int iters_cold;      // k-means iterations from a random start (official: 50)
    int iters_warm;      // k-means iterations from cached centroids (official: 2)
    float tol;           // stop when the largest centroid shift (L2) is below tol (official: 1e-4)
    uint64_t seed;       // seeds the random-sample initialisation
} vs_svg2_params;

// The released Wan 14B 720p settings: C_q 300, C_k 1000, p 0.9, min_kc_ratio 0.1, 50/2 iterations.
static inline vs_svg2_params vs_svg2_default_params(void) {
    vs_svg2_params p = {300, 1000, 0.9f, 0.1f, 50, 2, 1e-4f, 0};
    return p;
}
