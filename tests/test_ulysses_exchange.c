// The Ulysses exchange and the collectives under it, on however many ranks launched it:
// ctest runs it as one process; tests/test_ulysses_exchange.sh under mpirun -np 2, 3, 4.
//  - seq -> heads gives, on every rank, exactly the heads it owns over the gathered sequence;
//  - heads -> seq of that returns the token shard bit for bit;
//  - token gather, CFG pair exchange, allgatherv/alltoallv/allreduce/broadcast/barrier;
// for heads and sequence lengths divisible and not divisible by the group size, f32 and bf16.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parallel/vs_dist.h"
#include "parallel/vs_groups.h"
#include "parallel/vs_ulysses.h"
#include "tests/vs_test.h"

#ifdef VS_HAVE_MPI
static vs_dist dist;

// Element (which, s, h, d) of the global Q (0), K (1), V (2) tensors [S, H, D]: distinct values,
// exact in f32 and as raw 16-bit patterns for bf16.
static uint32_t value_at(int which, int64_t s, int h, int d, int H, int D) {
    return (uint32_t)(((which * 101 + s) * H + h) * D + d + 1);
}

static void store(void *buf, vs_dtype dt, int64_t i, uint32_t v) {
    if (dt == VS_F32) ((float *)buf)[i] = (float)v;
    else ((uint16_t *)buf)[i] = (uint16_t)(v & 0xffff);
}

static void check_case(vs_transport *t, int64_t S, int H, int D, vs_dtype dt) {
    vs_ulysses *u = vs_ulysses_new(t, S, H, D, dt);
    vs_range tok = vs_ulysses_my_tokens(u), hd = vs_ulysses_my_heads(u);
    size_t e = vs_dtype_size(dt);
    void *in[3], *ref[3];
    for (int w = 0; w < 3; w++) {
        in[w] = vs_malloc((size_t)(tok.count * H * D) * e + 1);
        ref[w] = vs_malloc((size_t)(hd.count * S * D) * e + 1);
        for (int64_t s = 0; s < tok.count; s++)
            for (int h = 0; h < H; h++)
                for (int d = 0; d < D; d++)
                    store(in[w], dt, (s * H + h) * D + d, value_at(w, tok.start + s, h, d, H, D));
        // The gathered reference: my heads over the whole sequence, head-major.
        for (int64_t h = 0; h < hd.count; h++)
            for (int64_t s = 0; s < S; s++)
                for (int d = 0; d < D; d++)
                    store(ref[w], dt, (h * S + s) * D + d, value_at(w, s, (int)(hd.start + h), d, H, D));
    }
    vs_ulysses_seq_to_heads(u, in[0], in[1], in[2]);
    size_t hbytes = (size_t)(hd.count * S * D) * e;
    CHECK_MSG(!memcmp(u->qh.data, ref[0], hbytes), "Q heads layout S=%lld H=%d P=%d", (long long)S, H, t->size);
    CHECK_MSG(!memcmp(u->kh.data, ref[1], hbytes), "K heads layout S=%lld H=%d P=%d", (long long)S, H, t->size);
    CHECK_MSG(!memcmp(u->vh.data, ref[2], hbytes), "V heads layout S=%lld H=%d P=%d", (long long)S, H, t->size);

    // Round trip: heads -> seq of each of Q, K, V gives back this rank's shard exactly.
    void *back = vs_malloc((size_t)(tok.count * H * D) * e + 1);
    vs_tensor *heads[3] = {&u->qh, &u->kh, &u->vh};
    for (int w = 0; w < 3; w++) {
        memset(back, 0xff, (size_t)(tok.count * H * D) * e);
        vs_ulysses_heads_to_seq(u, heads[w]->data, back);
        CHECK_MSG(!memcmp(back, in[w], (size_t)(tok.count * H * D) * e), "round trip %d S=%lld H=%d P=%d", w,
                  (long long)S, H, t->size);
    }

    // Token gather: every rank ends with the whole Q in token order.
    size_t row = (size_t)H * (size_t)D * e;
    void *full = vs_malloc((size_t)S * row), *want = vs_malloc((size_t)S * row);
    for (int64_t s = 0; s < S; s++)
        for (int h = 0; h < H; h++)
            for (int d = 0; d < D; d++) store(want, dt, (s * H + h) * D + d, value_at(0, s, h, d, H, D));
    vs_ulysses_gather_tokens(u, in[0], row, full);
    CHECK_MSG(!memcmp(full, want, (size_t)S * row), "token gather S=%lld H=%d P=%d", (long long)S, H, t->size);

    free(full);
    free(want);
    free(back);
    for (int w = 0; w < 3; w++) {
        free(in[w]);
        free(ref[w]);
    }
    vs_ulysses_free(u);
}

static void test_split_range(void) {
    for (int64_t n = 0; n < 20; n++)
        for (int parts = 1; parts <= 6; parts++) {
            int64_t next = 0, lo = n, hi = 0;
            for (int i = 0; i < parts; i++) {
                vs_range r = vs_split_range(n, parts, i);
                CHECK(r.start == next);
                next += r.count;
                if (r.count < lo) lo = r.count;
                if (r.count > hi) hi = r.count;
                if (i > 0) CHECK(r.count <= vs_split_range(n, parts, i - 1).count);
            }
            CHECK(next == n);
            CHECK(hi - lo <= 1);
        }
}

static void test_layout_check(void) {
    CHECK(vs_layout_check(8, 4, 2, 12) == 0);
    CHECK(vs_layout_check(8, 8, 1, 12) == 0);
    CHECK(vs_layout_check(3, 3, 1, 12) == 0);
    CHECK(vs_layout_check(8, 4, 1, 12) == -1);  // 4 x 1 != 8
    CHECK(vs_layout_check(3, 1, 2, 12) == -1);  // odd world with CFG
    CHECK(vs_layout_check(16, 16, 1, 12) == -1);  // more Ulysses ranks than heads
    CHECK(strstr(vs_last_error(), "heads") != NULL);
    CHECK(vs_layout_check(4, 2, 3, 12) == -1);
}

// Every (S, H) shape class: divisible and not, fewer tokens than ranks, H == P.
static void exchange_cases(vs_transport *t) {
    int P = t->size;
    const int64_t seqs[] = {4 * P, 4 * P + 3, 1 + P / 2};
    const int heads[] = {2 * P, 2 * P + 1, P};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) {
            check_case(t, seqs[i], heads[j], 3, VS_F32);
            check_case(t, seqs[i], heads[j], 4, VS_BF16);
        }
}

static void test_ulysses_world(void) {
    vs_groups g;
    vs_groups_init(&g, &dist, dist.world, 1, 64, VS_TRANSPORT_MPI);
    CHECK(g.ulysses->size == dist.world && g.cfg == NULL);
    exchange_cases(g.ulysses);
    vs_groups_free(&g);
}

// Ulysses x CFG: groups of consecutive ranks, pairs across; then the CFG exchange.
static void test_ulysses_cfg(void) {
    if (dist.world % 2) return;
    vs_groups g;
    vs_groups_init(&g, &dist, dist.world / 2, 2, 64, VS_TRANSPORT_MPI);
    CHECK(g.cfg_branch == (dist.rank >= dist.world / 2));
    CHECK(g.ulysses->rank == dist.rank % (dist.world / 2));
    CHECK(g.cfg->size == 2 && g.cfg->rank == g.cfg_branch);
    exchange_cases(g.ulysses);
    const int64_t n = 37;
    float mine[37], both[74];
    for (int64_t i = 0; i < n; i++) mine[i] = (float)(g.ulysses_rank * 1000 + g.cfg_branch * 100) + (float)i;
    vs_cfg_exchange(g.cfg, mine, n, both);
    for (int64_t i = 0; i < n; i++) {
        CHECK(both[i] == (float)(g.ulysses_rank * 1000) + (float)i);
        CHECK(both[n + i] == (float)(g.ulysses_rank * 1000 + 100) + (float)i);
    }
    vs_groups_free(&g);
}

static void test_collectives(void) {
    vs_groups g;
    vs_groups_init(&g, &dist, dist.world, 1, 64, VS_TRANSPORT_MPI);
    vs_transport *t = g.world;
    int P = t->size, r = t->rank;
    float acc[5];
    for (int i = 0; i < 5; i++) acc[i] = (float)(r + 1) * (float)(i + 1);
    t->allreduce_sum_f32(t, acc, 5);
    for (int i = 0; i < 5; i++) CHECK(acc[i] == (float)(P * (P + 1) / 2) * (float)(i + 1));
    int32_t b[3] = {r, r, r};
    t->broadcast(t, b, sizeof b, P - 1);
    CHECK(b[0] == P - 1 && b[2] == P - 1);
    // alltoallv with per-peer counts: rank r sends (r + p + 1) ints of value 100 r + p to p.
    size_t sb[8], so[8], rb[8], ro[8], off = 0, roff = 0;
    int32_t send[64], recv[64];
    for (int p = 0; p < P; p++) {
        sb[p] = (size_t)(r + p + 1) * 4;
        so[p] = off;
        for (int i = 0; i < r + p + 1; i++) send[off / 4 + (size_t)i] = 100 * r + p;
        off += sb[p];
        rb[p] = (size_t)(p + r + 1) * 4;
        ro[p] = roff;
        roff += rb[p];
    }
    t->alltoallv(t, send, sb, so, recv, rb, ro);
    for (int p = 0; p < P; p++)
        for (int i = 0; i < p + r + 1; i++) CHECK(recv[ro[p] / 4 + (size_t)i] == 100 * p + r);
    t->barrier(t);
    CHECK(t->calls >= 3);
    vs_groups_free(&g);
}
#endif

int main(void) {
#ifdef VS_HAVE_MPI
    vs_dist_init(&dist);
    RUN_TEST(test_split_range);
    RUN_TEST(test_layout_check);
    RUN_TEST(test_collectives);
    RUN_TEST(test_ulysses_world);
    RUN_TEST(test_ulysses_cfg);
    int rc = vs_test_finish();
    vs_dist_finalize(&dist);
    return rc;
#else
    VS_TEST_SKIP("built without MPI");
#endif
}
