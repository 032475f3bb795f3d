// The one-launch block copy (kernels/cuda/copy_blocks_cuda.h) against its CPU twin: the Ulysses
// pack/unpack lists for uneven layouts (P = 2, 3, 4; tokens and heads that do not divide P; bf16
// and f32; head_dim 64 and 128), and hand-made lists whose offsets force 8-, 4-, 2- and 1-byte
// moves. Every destination byte must match, including the bytes no block writes (left as they
// were).
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/copy_blocks_cuda.h"
#include "kernels/cuda/ops_cuda.h"
#include "parallel/vs_ulysses.h"
#include "tests/gpu/gpu_test.h"
#include "tests/vs_test.h"

// Bytes a list touches in base `which` of one side (0: src, 1: dst).
static size_t extent(const vs_copy_block *b, int n, int side, int which) {
    size_t end = 0;
    for (int i = 0; i < n; i++) {
        if ((side ? b[i].dst : b[i].src) != which || b[i].outer == 0 || b[i].inner == 0) continue;
        int64_t off = side ? b[i].dst_off : b[i].src_off;
        int64_t so = side ? b[i].dst_outer : b[i].src_outer, si = side ? b[i].dst_inner : b[i].src_inner;
        size_t e = (size_t)(off + (b[i].outer - 1) * so + (b[i].inner - 1) * si + b[i].width);
        if (e > end) end = e;
    }
    return end;
}

static void check_list(const char *what, const vs_copy_block *blocks, int n) {
    void *hs[VS_COPY_BASES], *hd[VS_COPY_BASES], *ds[VS_COPY_BASES], *dd[VS_COPY_BASES];
    size_t ns[VS_COPY_BASES], nd[VS_COPY_BASES];
    unsigned seed = 12345;
    for (int j = 0; j < VS_COPY_BASES; j++) {
        ns[j] = extent(blocks, n, 0, j) + 1;
        nd[j] = extent(blocks, n, 1, j) + 1;
        hs[j] = malloc(ns[j]);
        hd[j] = malloc(nd[j]);
        for (size_t i = 0; i < ns[j]; i++) ((unsigned char *)hs[j])[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
        memset(hd[j], 0xAB, nd[j]);
        CUDA_OK(cudaMalloc(&ds[j], ns[j]));
        CUDA_OK(cudaMalloc(&dd[j], nd[j]));
        CUDA_OK(cudaMemcpy(ds[j], hs[j], ns[j], cudaMemcpyHostToDevice));
        CUDA_OK(cudaMemcpy(dd[j], hd[j], nd[j], cudaMemcpyHostToDevice));
    }
    vs_copy_blocks_cpu(blocks, n, hd, (const void *const *)hs);
    vs_copy_blocks_cuda c;
    vs_copy_blocks_cuda_init(&c, blocks, n);
    vs_copy_blocks_cuda_run(&c, dd, (const void *const *)ds, NULL);
    int same = 1;
    for (int j = 0; j < VS_COPY_BASES; j++) {
        void *got = malloc(nd[j]);
        CUDA_OK(cudaMemcpy(got, dd[j], nd[j], cudaMemcpyDeviceToHost));
        same &= memcmp(got, hd[j], nd[j]) == 0;
        free(got);
    }
    CHECK_MSG(same, "%s: the GPU moved other bytes than the CPU (%d blocks, unit %d)", what, n, c.unit);
    vs_copy_blocks_cuda_free(&c);
    for (int j = 0; j < VS_COPY_BASES; j++) {
        free(hs[j]);
        free(hd[j]);
        CUDA_OK(cudaFree(ds[j]));
        CUDA_OK(cudaFree(dd[j]));
    }
}

// vs_ulysses only reads rank, size and memory of its transport when it builds its lists.
static void test_ulysses_lists(void) {
    const int64_t seqs[] = {192, 30, 7};
    const int heads[] = {2, 4, 5, 12};
    const int dims[] = {64, 128};
    const vs_dtype dtypes[] = {VS_BF16, VS_F32};
    for (int P = 2; P <= 4; P++)
        for (size_t si = 0; si < sizeof seqs / sizeof seqs[0]; si++)
            for (size_t hi = 0; hi < sizeof heads / sizeof heads[0]; hi++) {
                if (heads[hi] < P) continue;
                for (int me = 0; me < P; me++) {
                    const int D = dims[(me + hi) % 2];
                    const vs_dtype dt = dtypes[(si + (size_t)me) % 2];
                    vs_transport t = {0};
                    t.name = "lists only";
                    t.rank = me;
                    t.size = P;
                    t.memory = VS_DEV_CUDA;
                    vs_ulysses *u = vs_ulysses_new(&t, seqs[si], heads[hi], D, dt);
                    char what[128];
                    for (int m = 0; m < 4; m++) {
                        snprintf(what, sizeof what, "Ulysses P %d rank %d S %lld H %d D %d %s list %d", P, me,
                                 (long long)seqs[si], heads[hi], D, vs_dtype_name(dt), m);
                        check_list(what, u->moves[m], u->n_moves[m]);
                    }
                    vs_ulysses_free(u);
                }
            }
}

static void test_narrow_units(void) {
    // offsets and widths that allow only 8, 4, 2 and 1-byte moves; two bases each side
    const int64_t odd[] = {8, 4, 2, 1};
    for (size_t k = 0; k < sizeof odd / sizeof odd[0]; k++) {
        const int64_t a = odd[k];
        vs_copy_block b[3] = {
            {0, 1, a, 3 * a, 5, 7, 40 * a, 3 * a, 31 * a, 4 * a, 3 * a},
            {1, 0, 2 * a, 0, 9, 1, 6 * a, 0, 5 * a, 0, 5 * a},
            {0, 0, 0, 100 * a, 0, 4, 0, a, 0, a, a},  // empty block: moves nothing
        };
        CHECK(vs_copy_blocks_unit(b, 3) == (int)a);
        char what[64];
        snprintf(what, sizeof what, "%lld-byte unit", (long long)a);
        check_list(what, b, 3);
    }
}

int main(void) {
    if (vs_cuda_device_count() == 0) VS_TEST_SKIP("no CUDA GPU visible");
    VS_TRY(vs_ops_cuda_init(0), "CUDA init");
    RUN_TEST(test_ulysses_lists);
    RUN_TEST(test_narrow_units);
    vs_ops_cuda_shutdown();
    return vs_test_finish();
}
