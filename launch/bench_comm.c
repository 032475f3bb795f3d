// `vidsparse bench comm`: all-to-all over every rank of the job, swept over message sizes, in the
// conventions of nccl-tests (doc/PERFORMANCE.md) so the figures compare with alltoall_perf:
//   size  = bytes each rank sends, its own block included (size / n to each peer)
//   time  = mean time of one all-to-all over --iters, after --warmup; the slowest rank's
//   algbw = size / time
//   busbw = algbw * (n - 1) / n   (1/n of the data stays on the rank)
// Each size is then checked once: rank r's block for peer p holds a pattern of (r, p, index);
// #wrong counts mismatching 32-bit words on this rank, summed over ranks.
//
//   mpirun -np 8 vidsparse bench comm --transport nccl -b 1K -e 256M -f 2
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "launch/bench.h"
#include "parallel/vs_dist.h"
#include "parallel/vs_groups.h"
#include "parallel/vs_transport.h"
#include "runtime/vs_tensor.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: [mpirun -np N] vidsparse bench comm [options]\n"
            "  --transport mpi|nccl  collectives library (default: nccl when built in, else mpi);\n"
            "                        mpi-staged: GPU buffers moved by MPI through host memory\n"
            "  -b, --min-bytes SIZE  smallest message: bytes each rank sends (default 1K)\n"
            "  -e, --max-bytes SIZE  largest message (default 64M); SIZE takes K, M, G suffixes\n"
            "  -f, --factor F        size multiplier between rows (default 2)\n"
            "  -n, --iters N         timed all-to-alls per size (default 20)\n"
            "  -w, --warmup N        untimed all-to-alls per size (default 5)\n");
}

static int parse_size(const char *s, size_t *out) {
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || v <= 0) return -1;
    if (*end == 'K' || *end == 'k') v *= 1024.0, end++;
    else if (*end == 'M' || *end == 'm') v *= 1024.0 * 1024.0, end++;
    else if (*end == 'G' || *end == 'g') v *= 1024.0 * 1024.0 * 1024.0, end++;
    if (*end) return -1;
    *out = (size_t)v;
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint32_t pattern(int from, int to, size_t i) { return (uint32_t)from * 0x01000193u ^ (uint32_t)to * 0x9E3779B9u ^ (uint32_t)i; }

int vs_bench_comm(int argc, char **argv) {
#ifdef VS_HAVE_NCCL
    const char *transport = "nccl";
#else
    const char *transport = "mpi";
#endif
    size_t min_bytes = 1024, max_bytes = 64u << 20;
    double factor = 2;
    int iters = 20, warmup = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--transport") && has) transport = argv[++i];
        else if ((!strcmp(a, "-b") || !strcmp(a, "--min-bytes")) && has) {
            if (parse_size(argv[++i], &min_bytes)) { fprintf(stderr, "bench comm: bad size '%s'\n", argv[i]); return 2; }
        } else if ((!strcmp(a, "-e") || !strcmp(a, "--max-bytes")) && has) {
            if (parse_size(argv[++i], &max_bytes)) { fprintf(stderr, "bench comm: bad size '%s'\n", argv[i]); return 2; }
        } else if ((!strcmp(a, "-f") || !strcmp(a, "--factor")) && has) factor = atof(argv[++i]);
        else if ((!strcmp(a, "-n") || !strcmp(a, "--iters")) && has) iters = atoi(argv[++i]);
        else if ((!strcmp(a, "-w") || !strcmp(a, "--warmup")) && has) warmup = atoi(argv[++i]);
        else {
            fprintf(stderr, "bench comm: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    vs_transport_kind kind;
    if (vs_transport_kind_parse(transport, &kind) != 0) {
        fprintf(stderr, "bench comm: %s\n", vs_last_error());
        return 2;
    }
    if (factor <= 1 || iters < 1 || warmup < 0 || min_bytes > max_bytes) {
        fprintf(stderr, "bench comm: need --factor > 1, --iters >= 1, --warmup >= 0, --min-bytes <= --max-bytes\n");
        return 2;
    }

    vs_dist dist;
    vs_dist_init(&dist);
    if (kind != VS_TRANSPORT_MPI) vs_dist_bind_device(&dist, 0);  // GPU buffers
    vs_transport *t = vs_transport_world_new(kind);
    const int n = t->size;
    // Blocks are whole 32-bit words: the largest size rounded down to n words per rank.
    const size_t max_block = max_bytes / (size_t)n / 4 * 4;
    if (max_block == 0) {
        fprintf(stderr, "bench comm: --max-bytes must be at least 4 x ranks (%d)\n", 4 * n);
        return 2;
    }
    vs_tensor send = vs_tensor_new(VS_I32, t->memory, 1, (int64_t[]){(int64_t)(max_block / 4) * n});
    vs_tensor recv = vs_tensor_new(VS_I32, t->memory, 1, (int64_t[]){(int64_t)(max_block / 4) * n});
    vs_tensor host_send = vs_tensor_new(VS_I32, VS_DEV_CPU, 1, send.shape);
    vs_tensor host_recv = vs_tensor_new(VS_I32, VS_DEV_CPU, 1, recv.shape);
    int any_wrong = 0;
    size_t *bytes = calloc((size_t)n, sizeof(size_t)), *offsets = calloc((size_t)n, sizeof(size_t));

    vs_print0("# vidsparse bench comm: all-to-all, %d ranks, transport %s, %d warm-up + %d timed per size\n"
              "# size  = bytes each rank sends, its own block included (size / %d to each peer)\n"
              "# time  = mean of one all-to-all, slowest rank\n"
              "# algbw = size / time;  busbw = algbw * (n - 1) / n = algbw * %d/%d   (nccl-tests conventions)\n"
              "# #wrong = 32-bit words differing from the expected pattern, all ranks\n",
              n, t->name, warmup, iters, n, n - 1, n);
    for (int r = 0; r < n; r++) {  // one line per rank, in rank order (as far as stdout merging allows)
        if (r == dist.rank) {
            printf("# rank %d of %d on %s, local rank %d, device %d\n", dist.rank, n, vs_hostname(), dist.local_rank, dist.device);
            fflush(stdout);
        }
        t->barrier(t);
    }
    vs_print0("#%14s %12s %12s %13s %13s %8s\n", "size(B)", "count(i32)", "time(us)", "algbw(GB/s)", "busbw(GB/s)", "#wrong");

    for (double s = (double)min_bytes; s <= (double)max_bytes * (1 + 1e-9); s *= factor) {
        size_t block = (size_t)s / (size_t)n / 4 * 4;
        if (block == 0) continue;
        for (int p = 0; p < n; p++) {
            bytes[p] = block;
            offsets[p] = (size_t)p * block;
        }
        uint32_t *hs = host_send.data;
        for (int p = 0; p < n; p++)
            for (size_t i = 0; i < block / 4; i++) hs[(size_t)p * block / 4 + i] = pattern(dist.rank, p, i);
        vs_tensor_copy(&send, &host_send);
        for (int i = 0; i < warmup; i++) t->alltoallv(t, send.data, bytes, offsets, recv.data, bytes, offsets);
        t->barrier(t);
        double t0 = now_s();
        for (int i = 0; i < iters; i++) t->alltoallv(t, send.data, bytes, offsets, recv.data, bytes, offsets);
        double dt = vs_dist_max((now_s() - t0) / iters);
        vs_tensor_copy(&host_recv, &recv);
        const uint32_t *hr = host_recv.data;
        double wrong = 0;
        for (int p = 0; p < n; p++)
            for (size_t i = 0; i < block / 4; i++) wrong += hr[(size_t)p * block / 4 + i] != pattern(p, dist.rank, i);
        wrong = vs_dist_sum(wrong);
        any_wrong |= wrong > 0;
        double size = (double)block * n;
        double algbw = size / dt / 1e9, busbw = algbw * (n - 1) / n;
        vs_print0("%15.0f %12.0f %12.2f %13.3f %13.3f %8.0f\n", size, size / 4, dt * 1e6, algbw, busbw, wrong);
    }
    free(bytes);
    free(offsets);
    vs_tensor_free(&send);
    vs_tensor_free(&recv);
    vs_tensor_free(&host_send);
    vs_tensor_free(&host_recv);
    vs_transport_free(t);
    if (any_wrong) vs_print0("# FAILED: the all-to-all delivered wrong data (see #wrong)\n");
    vs_dist_finalize(&dist);
    return any_wrong ? 1 : 0;
}
