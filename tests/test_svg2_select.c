// SVG2 block selection (vs_svg2_select_cpu): cases worked out by hand, then properties on random
// inputs against a softmax written here.
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/svg2_cpu.h"
#include "runtime/vs_rng.h"
#include "tests/vs_test.h"

// One head, one query cluster, D = 4 (so scores are q.k / 2). k_first[j] is the first coordinate
// of key centroid j, the others are 0; the query centroid is (1, 0, 0, 0), so s_j = k_first[j] / 2.
static void select_one_row(const float *k_first, const int32_t *sizes, int C_k, float top_p,
                           float min_kc_ratio, uint8_t *mask) {
    enum { D = 4 };
    float q[D] = {1, 0, 0, 0};
    float *k = calloc((size_t)C_k * D, sizeof *k);
    for (int j = 0; j < C_k; j++) k[j * D] = k_first ? k_first[j] : 0.0f;
    vs_svg2_select_cpu(q, k, sizes, 1, 1, C_k, D, top_p, min_kc_ratio, mask);
    free(k);
}

static int mask_is(const uint8_t *mask, const char *expected) {
    for (int j = 0; expected[j]; j++)
        if (mask[j] != (uint8_t)(expected[j] == '1')) return 0;
    return 1;
}

static void test_sizes_only_and_ties(void) {
    // Equal scores: P_j = |K_j| / sum |K| exactly (binary fractions).
    // sizes {1, 4, 2, 1} -> P = {1/8, 1/2, 1/4, 1/8}.
    // Sorted: j1 (1/2), j2 (1/4), j0 (1/8), j3 (1/8)  -- the tie j0/j3 goes to the lower index.
    // Sum of P before each rank: 0, 1/2, 3/4, 7/8.
    int32_t sizes[4] = {1, 4, 2, 1};
    uint8_t mask[4];
    select_one_row(NULL, sizes, 4, 0.4f, 0, mask);    // 1/2 > 0.4: only rank 0
    CHECK(mask_is(mask, "0100"));
    select_one_row(NULL, sizes, 4, 0.5f, 0, mask);    // 1/2 <= 0.5: ranks 0, 1
    CHECK(mask_is(mask, "0110"));
    select_one_row(NULL, sizes, 4, 0.75f, 0, mask);   // 3/4 <= 0.75: j0 in, j3 (7/8) out
    CHECK(mask_is(mask, "1110"));
    select_one_row(NULL, sizes, 4, 0.8f, 0, mask);
    CHECK(mask_is(mask, "1110"));
    select_one_row(NULL, sizes, 4, 0.875f, 0, mask);  // 7/8 <= 0.875: all
    CHECK(mask_is(mask, "1111"));
    select_one_row(NULL, sizes, 4, 1.0f, 0, mask);
    CHECK(mask_is(mask, "1111"));
    select_one_row(NULL, sizes, 4, 1e-6f, 0, mask);   // tiny p still keeps rank 0
    CHECK(mask_is(mask, "0100"));

    // Four equal clusters: P = 1/4 each, order j0 j1 j2 j3, before = 0, 1/4, 1/2, 3/4.
    int32_t equal[4] = {3, 3, 3, 3};
    select_one_row(NULL, equal, 4, 0.3f, 0, mask);    // j0, j1 (1/4 <= 0.3), j2 (1/2) out
    CHECK(mask_is(mask, "1100"));
    select_one_row(NULL, equal, 4, 0.5f, 0, mask);
    CHECK(mask_is(mask, "1110"));
    // Tie in the reversed position: sizes {1, 2, 2, 4} -> P = {1/9, 2/9, 2/9, 4/9}; sorted j3, j1,
    // j2, j0; before = 0, 4/9, 6/9, 8/9. p = 0.5: j3, j1 in (4/9 <= 0.5), j2 (6/9) out.
    int32_t rev[4] = {1, 2, 2, 4};
    select_one_row(NULL, rev, 4, 0.5f, 0, mask);
    CHECK(mask_is(mask, "0101"));
}

static void test_scores_weighted_by_key_sizes(void) {
    // s = {0, ln 3, 0} (k_first = 2 s), sizes {2, 1, 1}: weights |K_j| e^{s_j} = {2, 3, 1} / 6,
    // P = {1/3, 1/2, 1/6}; sorted j1, j0, j2; before = 0, 1/2, 5/6.
    // p = 0.55: j1, j0 in, j2 out -> "110".
    // Without the size weights P would be {1/5, 3/5, 1/5} and j0 (before 3/5) out: "010".
    // Without the 1/sqrt(D) scale the weights would be {2, 9, 1}: j0 (before 3/4) out: "010".
    float k_first[3] = {0, 2.0f * logf(3.0f), 0};
    int32_t sizes[3] = {2, 1, 1};
    uint8_t mask[3];
    select_one_row(k_first, sizes, 3, 0.55f, 0, mask);
    CHECK(mask_is(mask, "110"));
    select_one_row(k_first, sizes, 3, 0.45f, 0, mask);  // 1/2 > 0.45: only j1
    CHECK(mask_is(mask, "010"));
    select_one_row(k_first, sizes, 3, 0.9f, 0, mask);   // 5/6 <= 0.9: all
    CHECK(mask_is(mask, "111"));
    // Shifting every score by the same amount changes nothing (the max is subtracted):
    // s = {200, 200 + ln 3, 200}; exp(200 + ...) alone would overflow f32 but not the softmax.
    float shifted[3] = {400, 400 + 2.0f * logf(3.0f), 400};
    select_one_row(shifted, sizes, 3, 0.55f, 0, mask);
    CHECK(mask_is(mask, "110"));
}

static void test_min_kc_ratio_floor(void) {
    // 10 clusters with P strictly decreasing in j (sizes 10..1), p tiny: top-p keeps rank 0 only,
    // the floor keeps ranks r < floor(ratio * 10).
    int32_t sizes[10];
    for (int j = 0; j < 10; j++) sizes[j] = 10 - j;
    uint8_t mask[10];
    select_one_row(NULL, sizes, 10, 1e-6f, 0.0f, mask);
    CHECK(mask_is(mask, "1000000000"));
    select_one_row(NULL, sizes, 10, 1e-6f, 0.3f, mask);   // floor(3.0000001) = 3
    CHECK(mask_is(mask, "1110000000"));
    select_one_row(NULL, sizes, 10, 1e-6f, 0.29f, mask);  // floor(2.9) = 2
    CHECK(mask_is(mask, "1100000000"));
    select_one_row(NULL, sizes, 10, 1e-6f, 0.7f, mask);   // 0.7f = 0.69999999; f32 product = 7
    CHECK(mask_is(mask, "1111111000"));
    select_one_row(NULL, sizes, 10, 1e-6f, 0.05f, mask);  // floor(0.5) = 0: rank 0 still kept
    CHECK(mask_is(mask, "1000000000"));
    select_one_row(NULL, sizes, 10, 1e-6f, 1.0f, mask);
    CHECK(mask_is(mask, "1111111111"));
    // The floor and top-p together: P = sizes / 55; before rank 3 is 27/55 = 0.49.
    // p = 0.5 keeps ranks 0..3 by top-p; ratio 0.2 (2 ranks) adds nothing, ratio 0.6 keeps 6.
    select_one_row(NULL, sizes, 10, 0.5f, 0.2f, mask);
    CHECK(mask_is(mask, "1111000000"));
    select_one_row(NULL, sizes, 10, 0.5f, 0.6f, mask);
    CHECK(mask_is(mask, "1111110000"));
}

static void test_zero_size_key_clusters(void) {
    // Cluster 0 is empty but has by far the highest score: its weight is still 0, and the softmax
    // max must come from the non-empty clusters (e^{-1000} would underflow every weight).
    // P = {0, 3/4, 1/4}; sorted j1, j2, j0; before = 0, 3/4, 1.
    float k_first[3] = {2000, 0, 0};
    int32_t sizes[3] = {0, 3, 1};
    uint8_t mask[3];
    select_one_row(k_first, sizes, 3, 0.5f, 0, mask);
    CHECK(mask_is(mask, "010"));
    select_one_row(k_first, sizes, 3, 0.9f, 0, mask);  // 3/4 <= 0.9: j2 in; before j0 is 1 > 0.9
    CHECK(mask_is(mask, "011"));
    select_one_row(k_first, sizes, 3, 1.0f, 0, mask);  // p = 1 keeps even empty clusters
    CHECK(mask_is(mask, "111"));
    select_one_row(k_first, sizes, 3, 0.5f, 1.0f, mask);
    CHECK(mask_is(mask, "111"));
    // Two empty clusters tie at P = 0 after the non-empty one; the floor keeps the lower index.
    int32_t mostly_empty[4] = {0, 0, 5, 0};
    uint8_t mask4[4];
    select_one_row(NULL, mostly_empty, 4, 0.5f, 0.5f, mask4);  // ranks j2, j0
    CHECK(mask_is(mask4, "1010"));
}

static void test_batch_layout(void) {
    // B = 2 heads, C_q = 2 query clusters, C_k = 3, D = 1 (scale 1): each (head, row) its own
    // case, so an indexing slip shows. Keys k = {0, ln 2, ln 4} -> e^s = {1, 2, 4} for q = 1.
    // head 0, sizes {1, 1, 1}: row 0 q = 1: P = {1, 2, 4}/7, sorted j2 j1 j0, before 0, 4/7, 6/7
    //                          row 1 q = -1: e^s ~ {1, 1/2, 1/4}: P = {4, 2, 1}/7, sorted j0 j1 j2
    // head 1, sizes {4, 2, 1}: row 0 q = 0: weights {4, 2, 1}: P = {4, 2, 1}/7, sorted j0 j1 j2
    //                          row 1 q = -1: weights ~ {4, 1, 1/4}: P ~ {.76, .19, .05}
    // p = 0.6: h0r0 "011" (4/7 = 0.571 <= 0.6), h0r1 "110", h1r0 "110", h1r1 "100" (0.76 > 0.6)
    // p = 0.5: h0r0 "001", h0r1 "100", h1r0 "100", h1r1 "100"
    float q[4] = {1, -1, 0, -1};
    float k[6] = {0, logf(2), logf(4), 0, logf(2), logf(4)};
    int32_t sizes[6] = {1, 1, 1, 4, 2, 1};
    uint8_t mask[12];
    vs_svg2_select_cpu(q, k, sizes, 2, 2, 3, 1, 0.6f, 0, mask);
    CHECK(mask_is(mask, "011110110100"));
    vs_svg2_select_cpu(q, k, sizes, 2, 2, 3, 1, 0.5f, 0, mask);
    CHECK(mask_is(mask, "001100100100"));
}

// Random heads: the kept set satisfies the top-p definition against a softmax computed here.
static void test_random_properties(void) {
    enum { B = 3, C_q = 17, C_k = 40, D = 8 };
    float q[B * C_q * D], k[B * C_k * D];
    int32_t sizes[B * C_k];
    uint8_t mask[B * C_q * C_k];
    for (int i = 0; i < B * C_q * D; i++) q[i] = 2.0f * vs_normal_at(51, (uint64_t)i);
    for (int i = 0; i < B * C_k * D; i++) k[i] = 2.0f * vs_normal_at(52, (uint64_t)i);
    for (int i = 0; i < B * C_k; i++) sizes[i] = (int32_t)vs_uniform_index(53, (uint64_t)i, 6);  // some 0
    const float ps[3] = {0.3f, 0.9f, 1.0f};
    const float ratios[2] = {0.0f, 0.1f};
    for (int pi = 0; pi < 3; pi++)
        for (int ri = 0; ri < 2; ri++) {
            float p = ps[pi];
            int min_keep = ri ? 4 : 0;
            vs_svg2_select_cpu(q, k, sizes, B, C_q, C_k, D, p, ratios[ri], mask);
            int ok = 1;
            for (int b = 0; b < B; b++)
                for (int i = 0; i < C_q; i++) {
                    double P[C_k], total = 0, max_s = -INFINITY, s[C_k];
                    for (int j = 0; j < C_k; j++) {
                        double dot = 0;
                        for (int d = 0; d < D; d++) dot += q[(b * C_q + i) * D + d] * (double)k[(b * C_k + j) * D + d];
                        s[j] = dot / sqrt((double)D);
                        if (sizes[b * C_k + j] > 0) max_s = fmax(max_s, s[j]);
                    }
                    for (int j = 0; j < C_k; j++) total += P[j] = sizes[b * C_k + j] * exp(s[j] - max_s);
                    for (int j = 0; j < C_k; j++) P[j] /= total;
                    const uint8_t *row = mask + (b * C_q + i) * C_k;
                    int kept = 0;
                    double kept_mass = 0, min_kept = INFINITY, max_dropped = -1;
                    for (int j = 0; j < C_k; j++) {
                        if (row[j] > 1) ok = 0;
                        if (row[j]) kept++, kept_mass += P[j], min_kept = fmin(min_kept, P[j]);
                        else max_dropped = fmax(max_dropped, P[j]);
                    }
                    if (p >= 1.0f) {
                        if (kept != C_k) ok = 0;
                        continue;
                    }
                    if (kept < (min_keep > 1 ? min_keep : 1)) ok = 0;
                    if (max_dropped > min_kept) ok = 0;  // kept = a prefix of the sorted order
                    if (kept < C_k && kept_mass <= p) ok = 0;  // the crossing cluster is kept
                    // and nothing beyond it: without the least kept cluster the mass is <= p
                    if (kept > (min_keep > 1 ? min_keep : 1) && kept_mass - min_kept > p + 1e-12) ok = 0;
                }
            CHECK_MSG(ok, "p %g ratio %g", p, ratios[ri]);
        }
}

int main(void) {
    RUN_TEST(test_sizes_only_and_ties);
    RUN_TEST(test_scores_weighted_by_key_sizes);
    RUN_TEST(test_min_kc_ratio_floor);
    RUN_TEST(test_zero_size_key_clusters);
    RUN_TEST(test_batch_layout);
    RUN_TEST(test_random_properties);
    return vs_test_finish();
}
