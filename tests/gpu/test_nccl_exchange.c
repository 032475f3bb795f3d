// The NCCL transport on GPUs: every collective and the Ulysses exchange on device memory,
// checked against host-computed expectations. ctest runs it as one rank (a communicator of one
// GPU); on a multi-GPU machine run it under MPI, one rank per GPU:
//   mpirun -np 2 build-gpu/test_nccl_exchange       (nvidia-h200-x2 and larger)
// Skips (77) without a GPU or without NCCL.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parallel/vs_dist.h"
#include "parallel/vs_groups.h"
#include "parallel/vs_ulysses.h"
#include "tests/vs_test.h"

#if defined(VS_HAVE_NCCL) && defined(VS_HAVE_MPI)
#include <cuda_runtime.h>

static vs_dist dist;

static vs_tensor to_device(const void *host, size_t bytes) {
    int64_t n = (int64_t)((bytes + 3) / 4);
    vs_tensor d = vs_tensor_new(VS_I32, VS_DEV_CUDA, 1, &n);
    vs_tensor h = vs_tensor_view((void *)host, VS_I32, VS_DEV_CPU, 1, &n);
    vs_tensor_copy(&d, &h);
    return d;
}

static void to_host(void *host, const vs_tensor *d) {
    vs_tensor h = vs_tensor_view(host, VS_I32, VS_DEV_CPU, 1, d->shape);
    vs_tensor_copy(&h, d);
}

static uint16_t value_at(int which, int64_t s, int h, int d, int H, int D) {
    return (uint16_t)(((which * 101 + s) * H + h) * D + d + 1);
}

// bf16-sized elements (raw 16-bit patterns), as the GPU path exchanges them.
static void check_case(vs_transport *t, int64_t S, int H, int D) {
    vs_ulysses *u = vs_ulysses_new(t, S, H, D, VS_BF16);
    vs_range tok = vs_ulysses_my_tokens(u), hd = vs_ulysses_my_heads(u);
    size_t in_bytes = (size_t)(tok.count * H * D) * 2 + 4, h_bytes = (size_t)(hd.count * S * D) * 2 + 4;
    uint16_t *in[3], *ref[3];
    vs_tensor din[3];
    for (int w = 0; w < 3; w++) {
        in[w] = vs_calloc(1, in_bytes);
        ref[w] = vs_calloc(1, h_bytes);
        for (int64_t s = 0; s < tok.count; s++)
            for (int h = 0; h < H; h++)
                for (int d = 0; d < D; d++) in[w][(s * H + h) * D + d] = value_at(w, tok.start + s, h, d, H, D);
        for (int64_t h = 0; h < hd.count; h++)
            for (int64_t s = 0; s < S; s++)
                for (int d = 0; d < D; d++) ref[w][(h * S + s) * D + d] = value_at(w, s, (int)(hd.start + h), d, H, D);
        din[w] = to_device(in[w], in_bytes);
    }
    vs_ulysses_seq_to_heads(u, din[0].data, din[1].data, din[2].data);
    VS_ASSERT(cudaDeviceSynchronize() == cudaSuccess, "CUDA failed after the exchange");
    uint16_t *got = vs_calloc(1, h_bytes);
    vs_tensor *heads[3] = {&u->qh, &u->kh, &u->vh};
    for (int w = 0; w < 3; w++) {
        vs_tensor v = vs_tensor_view(got, VS_BF16, VS_DEV_CPU, 3, heads[w]->shape);
        vs_tensor_copy(&v, heads[w]);
        CHECK_MSG(!memcmp(got, ref[w], h_bytes - 4), "heads layout %d S=%lld H=%d P=%d", w, (long long)S, H, t->size);
    }
    uint16_t *back = vs_calloc(1, in_bytes);
    vs_tensor dback = to_device(back, in_bytes);
    for (int w = 0; w < 3; w++) {
        vs_ulysses_heads_to_seq(u, heads[w]->data, dback.data);
        to_host(back, &dback);
        CHECK_MSG(!memcmp(back, in[w], in_bytes - 4), "round trip %d S=%lld H=%d P=%d", w, (long long)S, H, t->size);
    }
    free(got);
    free(back);
    vs_tensor_free(&dback);
    for (int w = 0; w < 3; w++) {
        free(in[w]);
        free(ref[w]);
        vs_tensor_free(&din[w]);
    }
    vs_ulysses_free(u);
}

static void test_collectives(void) {
    vs_transport *t = vs_transport_world_new(VS_TRANSPORT_NCCL);
    int P = t->size, r = t->rank;
    float acc[5];
    for (int i = 0; i < 5; i++) acc[i] = (float)(r + 1) * (float)(i + 1);
    vs_tensor d = to_device(acc, sizeof acc);
    t->allreduce_sum_f32(t, d.data, 5);
    to_host(acc, &d);
    for (int i = 0; i < 5; i++) CHECK(acc[i] == (float)(P * (P + 1) / 2) * (float)(i + 1));
    int32_t b[4] = {r, r, r, r};
    vs_tensor db = to_device(b, sizeof b);
    t->broadcast(t, db.data, sizeof b, P - 1);
    to_host(b, &db);
    CHECK(b[0] == P - 1 && b[3] == P - 1);
    t->barrier(t);
    // allgatherv with uneven blocks: rank p contributes p + 1 ints of value 7 p.
    size_t rb[16], ro[16], off = 0;
    for (int p = 0; p < P; p++) {
        rb[p] = (size_t)(p + 1) * 4;
        ro[p] = off;
        off += rb[p];
    }
    int32_t mine[16], all[256];
    for (int i = 0; i <= r; i++) mine[i] = 7 * r;
    vs_tensor dm = to_device(mine, sizeof mine), da = to_device(all, sizeof all);
    t->allgatherv(t, dm.data, rb[r], da.data, rb, ro);
    to_host(all, &da);
    for (int p = 0; p < P; p++)
        for (int i = 0; i <= p; i++) CHECK(all[ro[p] / 4 + (size_t)i] == 7 * p);
    vs_tensor_free(&d);
    vs_tensor_free(&db);
    vs_tensor_free(&dm);
    vs_tensor_free(&da);
    vs_transport_free(t);
}

static void test_ulysses(void) {
    vs_transport *t = vs_transport_world_new(VS_TRANSPORT_NCCL);
    int P = t->size;
    check_case(t, 4 * P, 2 * P, 8);
    check_case(t, 4 * P + 3, 2 * P + 1, 64);
    check_case(t, 1 + P / 2, P, 16);
    vs_transport_free(t);
}

static void test_cfg_pair(void) {
    if (dist.world % 2) return;
    vs_groups g;
    vs_groups_init(&g, &dist, dist.world / 2, 2, 64, VS_TRANSPORT_NCCL);
    float mine[33], both[66];
    for (int i = 0; i < 33; i++) mine[i] = (float)(100 * g.cfg_branch + i);
    vs_tensor dm = to_device(mine, sizeof mine), db = to_device(both, sizeof both);
    vs_cfg_exchange(g.cfg, dm.data, 33, db.data);
    to_host(both, &db);
    for (int i = 0; i < 33; i++) CHECK(both[i] == (float)i && both[33 + i] == (float)(100 + i));
    vs_tensor_free(&dm);
    vs_tensor_free(&db);
    vs_groups_free(&g);
}
#endif

int main(void) {
#if defined(VS_HAVE_NCCL) && defined(VS_HAVE_MPI)
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) VS_TEST_SKIP("no CUDA device");
    vs_dist_init(&dist);
    vs_dist_bind_device(&dist, 0);
    RUN_TEST(test_collectives);
    RUN_TEST(test_ulysses);
    RUN_TEST(test_cfg_pair);
    int rc = vs_test_finish();
    vs_dist_finalize(&dist);
    return rc;
#else
    VS_TEST_SKIP("built without NCCL or MPI");
#endif
}
