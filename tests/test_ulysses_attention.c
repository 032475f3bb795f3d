// Layout invariance of Ulysses attention: the model's self-attention hook run on a token shard
// per rank (exchange, per-head attention, exchange) gives, bit for bit, the output one rank
// computes for the whole sequence with the same per-head function. Run by ctest on one rank
// and by tests/test_ulysses_exchange.sh on 2, 3 and 4, Ulysses-only and Ulysses x CFG.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parallel/vs_dist.h"
#include "parallel/vs_groups.h"
#include "parallel/vs_ulysses.h"
#include "runtime/vs_rng.h"
#include "tests/vs_test.h"

#ifdef VS_HAVE_MPI
static vs_dist dist;

typedef struct {
    int calls, heads_seen;
} attend_stats;

// Plain softmax attention per head, f32, in a fixed order. The scale depends on the global head
// and the layer, so a wrong head_begin or layer changes the result.
static void dense_heads(void *ctx, int layer, int head_begin, const vs_tensor *q, const vs_tensor *k,
                        const vs_tensor *v, vs_tensor *out) {
    attend_stats *st = (attend_stats *)ctx;
    const int64_t h_n = q->shape[0], S = q->shape[1], D = q->shape[2];
    const float *Q = q->data, *K = k->data, *V = v->data;
    float *O = out->data;
    float *w = malloc((size_t)S * sizeof(float));
    for (int64_t h = 0; h < h_n; h++) {
        float scale = 1.0f / sqrtf((float)D) * (1.0f + 0.125f * (float)(head_begin + h) + 0.5f * (float)layer);
        for (int64_t i = 0; i < S; i++) {
            const float *qi = Q + (h * S + i) * D;
            float mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < S; j++) {
                const float *kj = K + (h * S + j) * D;
                float dot = 0;
                for (int64_t d = 0; d < D; d++) dot += qi[d] * kj[d];
                w[j] = dot * scale;
                if (w[j] > mx) mx = w[j];
            }
            for (int64_t j = 0; j < S; j++) sum += (w[j] = expf(w[j] - mx));
            float *oi = O + (h * S + i) * D;
            for (int64_t d = 0; d < D; d++) oi[d] = 0;
            for (int64_t j = 0; j < S; j++)
                for (int64_t d = 0; d < D; d++) oi[d] += w[j] / sum * V[(h * S + j) * D + d];
        }
    }
    free(w);
    st->calls++;
    st->heads_seen += (int)h_n;
}

// Global [S, H, D] tensor `which` (0 q, 1 k, 2 v) of branch `branch`, token-major.
static float input_at(int branch, int which, int64_t s, int h, int d, int H, int D) {
    return vs_normal_at(1234 + 10 * (uint64_t)branch + (uint64_t)which, (uint64_t)((s * H + h) * D + d));
}

// Reference on this rank alone: head-major copy of all heads, dense_heads over all of them.
static void reference(int branch, int layer, int64_t S, int H, int D, float *out /* [S, H*D] */) {
    int64_t shape[3] = {H, S, D};
    vs_tensor t[4];
    for (int w = 0; w < 4; w++) t[w] = vs_tensor_new(VS_F32, VS_DEV_CPU, 3, shape);
    for (int w = 0; w < 3; w++)
        for (int h = 0; h < H; h++)
            for (int64_t s = 0; s < S; s++)
                for (int d = 0; d < D; d++)
                    ((float *)t[w].data)[((int64_t)h * S + s) * D + d] = input_at(branch, w, s, h, d, H, D);
    attend_stats st = {0, 0};
    dense_heads(&st, layer, 0, &t[0], &t[1], &t[2], &t[3]);
    for (int h = 0; h < H; h++)
        for (int64_t s = 0; s < S; s++)
            for (int d = 0; d < D; d++) out[(s * H + h) * D + d] = ((float *)t[3].data)[((int64_t)h * S + s) * D + d];
    for (int w = 0; w < 4; w++) vs_tensor_free(&t[w]);
}

static void check_layout(int ulysses, int cfg, int64_t S, int H, int D) {
    vs_groups g;
    vs_groups_init(&g, &dist, ulysses, cfg, H, VS_TRANSPORT_MPI);
    vs_ulysses *u = vs_ulysses_new(g.ulysses, S, H, D, VS_F32);
    attend_stats st = {0, 0};
    vs_ulysses_hook_ctx hc = {u, dense_heads, &st};
    vs_attention_hook hook = vs_ulysses_attention_hook(&hc);
    vs_range tok = vs_ulysses_my_tokens(u);
    int64_t shape[3] = {tok.count, H, D};
    vs_tensor in[3];
    for (int w = 0; w < 3; w++) {
        in[w] = vs_tensor_new(VS_F32, VS_DEV_CPU, 3, shape);
        for (int64_t s = 0; s < tok.count; s++)
            for (int h = 0; h < H; h++)
                for (int d = 0; d < D; d++)
                    ((float *)in[w].data)[(s * H + h) * D + d] = input_at(g.cfg_branch, w, tok.start + s, h, d, H, D);
    }
    int64_t oshape[2] = {tok.count, (int64_t)H * D};
    vs_tensor out = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, oshape);
    float *full = vs_malloc((size_t)(S * H * D) * sizeof(float));
    float *want = vs_malloc((size_t)(S * H * D) * sizeof(float));
    for (int layer = 0; layer < 2; layer++) {
        hook.self_attention(hook.ctx, layer, &in[0], &in[1], &in[2], &out);
        vs_ulysses_gather_tokens(u, out.data, (size_t)H * (size_t)D * sizeof(float), full);
        reference(g.cfg_branch, layer, S, H, D, want);
        CHECK_MSG(!memcmp(full, want, (size_t)(S * H * D) * sizeof(float)),
                  "ulysses %d cfg %d S=%lld H=%d layer %d: not bitwise equal to one rank", ulysses, cfg,
                  (long long)S, H, layer);
    }
    CHECK(st.calls == 2 && st.heads_seen == 2 * (int)vs_ulysses_my_heads(u).count);
    for (int w = 0; w < 3; w++) vs_tensor_free(&in[w]);
    vs_tensor_free(&out);
    free(full);
    free(want);
    vs_ulysses_free(u);
    vs_groups_free(&g);
}

static void test_ulysses_only(void) {
    int P = dist.world;
    check_layout(P, 1, 4 * P, 2 * P, 8);          // both divisible
    check_layout(P, 1, 4 * P + 3, 2 * P + 1, 8);  // neither divisible
    check_layout(P, 1, 5, P, 4);                  // one head per rank, short sequence
}

static void test_ulysses_cfg(void) {
    if (dist.world % 2) return;
    int P = dist.world / 2;
    check_layout(P, 2, 4 * P + 1, 2 * P + 1, 8);
    check_layout(P, 2, 6 * P, 3 * P, 8);
}
#endif

int main(void) {
#ifdef VS_HAVE_MPI
    vs_dist_init(&dist);
    RUN_TEST(test_ulysses_only);
    RUN_TEST(test_ulysses_cfg);
    int rc = vs_test_finish();
    vs_dist_finalize(&dist);
    return rc;
#else
    VS_TEST_SKIP("built without MPI");
#endif
}
