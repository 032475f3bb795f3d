// GPU attention kernels against their CPU twins (kernels/cpu/svg2_cpu.h), every compiled tile
// configuration, on fresh random inputs each run (the seed is printed) and adversarial shapes:
// S not a multiple of any tile, one head, D = 64 and 128, empty and single-token clusters, one
// query cluster, C_k close to S, masks with every block, none and a random subset.
// Inputs are rounded to bf16 first and the reference runs in f32/f64 on the rounded values.
// The output is poisoned with bf16 NaN before each run, so an unwritten element fails.
// VS_ATTN_BENCH=1 also times the kernels at S = 32760, H = 12 (Wan 480p) after the checks.
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/cpu/svg2_cpu.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_variants.h"
#include "runtime/vs_rng.h"
#include "runtime/vs_tensor.h"
#include "tests/gpu/gpu_test.h"
#include "tests/vs_test.h"

static uint64_t g_seed;
static uint64_t g_case;  // distinct random stream per case

// n values ~ N(0, scale^2) rounded to bf16; bits to upload, floats for the reference.
static void random_bf16(size_t n, float scale, vs_bf16 *bits, float *vals) {
    uint64_t stream = g_seed + 0x9E3779B97F4A7C15ull * ++g_case;
    for (size_t i = 0; i < n; i++) {
        bits[i] = vs_f32_to_bf16(scale * vs_normal_at(stream, i));
        vals[i] = vs_bf16_to_f32(bits[i]);
    }
}

static uint32_t rand_below(uint32_t n) {
    uint64_t stream = g_seed ^ 0xABCDEF12345ull;
    return vs_uniform_index(stream, ++g_case, n);
}

typedef struct {
    int H, S, D;
    float scale;  // input standard deviation (large values stress the online softmax)
    vs_bf16 *bits[3];
    float *vals[3];  // q, k, v
    void *dev[4];    // q, k, v, o
    vs_bf16 *out_bits;
    float *out, *ref;
} problem;

static void problem_init(problem *p, int H, int S, int D, float scale) {
    size_t n = (size_t)H * S * D;
    p->H = H, p->S = S, p->D = D, p->scale = scale;
    for (int t = 0; t < 3; t++) {
        p->bits[t] = malloc(n * sizeof(vs_bf16));
        p->vals[t] = malloc(n * sizeof(float));
        random_bf16(n, scale, p->bits[t], p->vals[t]);
    }
    for (int t = 0; t < 4; t++) {
        CUDA_OK(cudaMalloc(&p->dev[t], n * sizeof(vs_bf16) + 16));
        if (t < 3) CUDA_OK(cudaMemcpy(p->dev[t], p->bits[t], n * sizeof(vs_bf16), cudaMemcpyHostToDevice));
    }
    p->out_bits = malloc(n * sizeof(vs_bf16));
    p->out = malloc(n * sizeof(float));
    p->ref = malloc(n * sizeof(float));
}

static void problem_free(problem *p) {
    for (int t = 0; t < 3; t++) free(p->bits[t]), free(p->vals[t]);
    for (int t = 0; t < 4; t++) CUDA_OK(cudaFree(p->dev[t]));
    free(p->out_bits), free(p->out), free(p->ref);
}

static void poison_output(problem *p) {
    CUDA_OK(cudaMemset(p->dev[3], 0xFF, (size_t)p->H * p->S * p->D * sizeof(vs_bf16)));
}

// Copies the output back and checks it: every element written (no NaN), rel. L2 <= 1e-2.
static void check_output(problem *p, const char *what, int variant) {
    size_t n = (size_t)p->H * p->S * p->D;
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaMemcpy(p->out_bits, p->dev[3], n * sizeof(vs_bf16), cudaMemcpyDeviceToHost));
    size_t nan_count = 0;
    for (size_t i = 0; i < n; i++) {
        p->out[i] = vs_bf16_to_f32(p->out_bits[i]);
        if (isnan(p->out[i])) nan_count++;
    }
    double err = nan_count ? INFINITY : vs_rel_l2(p->out, p->ref, (long)n);
    CHECK_MSG(nan_count == 0 && err <= 1e-2,
              "%s variant %d (%s) H=%d S=%d D=%d: %zu NaN/unwritten, rel L2 %.3g", what, variant,
              vs_cuda_attention_variant_name(p->D, variant), p->H, p->S, p->D, nan_count, err);
}

static void dense_case(int H, int S, int D, float scale) {
    problem p;
    problem_init(&p, H, S, D, scale);
    vs_dense_attention_cpu(p.vals[0], p.vals[1], p.vals[2], H, S, D, p.ref);
    for (int var = 0; var < vs_cuda_attention_variant_count(D); var++) {
        if (!vs_cuda_attention_variant_usable(D, var)) continue;  // listed by test_variants_usable
        poison_output(&p);
        int rc = vs_cuda_dense_attention_variant(var, p.dev[0], p.dev[1], p.dev[2], p.dev[3], H, S, D, 0);
        CHECK_MSG(rc == 0, "dense launch: %s", vs_last_error());
        CUDA_OK(cudaGetLastError());
        check_output(&p, "dense", var);
    }
    problem_free(&p);
}

// vs_cuda_attention on token-major q [Lq, H, D] and k, v [Lk, H, D] (the model's layout), Lq !=
// Lk as in cross-attention, an arbitrary scale, and o written head-major [H, Lq, D] to mix
// layouts; double-precision reference from the same bf16 values. Lk = 0 must give zeros.
static void strided_case(int H, int Lq, int Lk, int D, float scale) {
    const size_t nq = (size_t)Lq * H * D, nk = (size_t)Lk * H * D;
    vs_bf16 *bits[3] = {malloc(nq * 2 + 2), malloc(nk * 2 + 2), malloc(nk * 2 + 2)};
    float *vals[3] = {malloc(nq * 4 + 4), malloc(nk * 4 + 4), malloc(nk * 4 + 4)};
    random_bf16(nq, 1.5f, bits[0], vals[0]);
    random_bf16(nk, 1.5f, bits[1], vals[1]);
    random_bf16(nk, 1.0f, bits[2], vals[2]);
    float *ref = malloc(nq * sizeof(float) + 4);
    double *w = malloc(((size_t)Lk + 1) * sizeof(double));
    for (int h = 0; h < H; h++)
        for (int i = 0; i < Lq; i++) {
            const float *qi = vals[0] + ((size_t)i * H + h) * D;
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < Lk; j++) {
                const float *kj = vals[1] + ((size_t)j * H + h) * D;
                double d = 0;
                for (int c = 0; c < D; c++) d += (double)qi[c] * kj[c];
                w[j] = d * scale;
                if (w[j] > mx) mx = w[j];
            }
            for (int j = 0; j < Lk; j++) sum += (w[j] = exp(w[j] - mx));
            for (int c = 0; c < D; c++) {
                double acc = 0;
                for (int j = 0; j < Lk; j++) acc += w[j] * vals[2][((size_t)j * H + h) * D + c];
                ref[((size_t)h * Lq + i) * D + c] = Lk ? (float)(acc / sum) : 0.f;
            }
        }
    void *dq, *dk, *dv, *dout;
    CUDA_OK(cudaMalloc(&dq, nq * 2 + 16));
    CUDA_OK(cudaMalloc(&dk, nk * 2 + 16));
    CUDA_OK(cudaMalloc(&dv, nk * 2 + 16));
    CUDA_OK(cudaMalloc(&dout, nq * 2 + 16));
    CUDA_OK(cudaMemcpy(dq, bits[0], nq * 2, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dk, bits[1], nk * 2, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dv, bits[2], nk * 2, cudaMemcpyHostToDevice));
    const vs_attention_layout tokens = {(size_t)D, H * D}, heads = {(size_t)Lq * D, D};
    vs_bf16 *out_bits = malloc(nq * 2 + 2);
    float *out = malloc(nq * 4 + 4);
    for (int var = 0; var < vs_cuda_attention_variant_count(D); var++) {
        if (!vs_cuda_attention_variant_usable(D, var)) continue;
        CUDA_OK(cudaMemset(dout, 0xFF, nq * 2));
        int rc = vs_cuda_attention_variant(var, dq, dk, dv, dout, H, Lq, Lk, D, tokens, tokens, heads,
                                           scale, 0);
        CHECK_MSG(rc == 0, "strided launch: %s", vs_last_error());
        CUDA_OK(cudaDeviceSynchronize());
        CUDA_OK(cudaMemcpy(out_bits, dout, nq * 2, cudaMemcpyDeviceToHost));
        size_t nan_count = 0;
        double e2 = 0, r2 = 0;
        for (size_t i = 0; i < nq; i++) {
            out[i] = vs_bf16_to_f32(out_bits[i]);
            if (isnan(out[i])) nan_count++;
            e2 += (out[i] - ref[i]) * (double)(out[i] - ref[i]);
            r2 += (double)ref[i] * ref[i];
        }
        const double err = Lk ? sqrt(e2 / r2) : sqrt(e2);
        CHECK_MSG(nan_count == 0 && err <= 1e-2,
                  "token-major variant %d (%s) H=%d Lq=%d Lk=%d D=%d: %zu NaN/unwritten, error %.3g",
                  var, vs_cuda_attention_variant_name(D, var), H, Lq, Lk, D, nan_count, err);
    }
    const vs_attention_layout odd = {(size_t)D, H * D + 4};  // rows not 16-byte aligned
    CHECK(vs_cuda_attention(dq, dk, dv, dout, H, Lq, Lk, D, odd, tokens, heads, scale, 0) == -1);
    CUDA_OK(cudaFree(dq));
    CUDA_OK(cudaFree(dk));
    CUDA_OK(cudaFree(dv));
    CUDA_OK(cudaFree(dout));
    for (int t = 0; t < 3; t++) free(bits[t]), free(vals[t]);
    free(ref), free(w), free(out_bits), free(out);
}

static void test_token_major(void) {
    strided_case(3, 300, 77, 128, 0.3f);
    strided_case(2, 1000, 512, 128, 0.0883883f);  // Wan cross-attention: 512 text rows
    strided_case(2, 129, 1000, 64, 0.125f);
    strided_case(2, 65, 0, 128, 0.1f);             // no keys: zeros
    strided_case(1, 5, 1, 64, 1.0f);
}

// Cluster offsets [H, C + 1] from C - 1 sorted random cut points (repeats make empty clusters).
// mode 1: additionally force cluster 0 empty and cluster 1 a single token where C allows.
// mode 2: sizes on either side of multiples of 64 rows (a consumer warpgroup's share) up to
// several 128-row query tiles and a remainder, in a random rotation (the last cluster takes
// what is left).
static void random_offsets(int H, int S, int C, int mode, int32_t *off) {
    static const int edges[] = {64, 65, 1, 128, 129, 63, 0, 191, 193, 127, 192, 2, 256, 257, 385, 449};
    const int n_edges = (int)(sizeof edges / sizeof *edges);
    for (int h = 0; h < H; h++) {
        int32_t *o = off + (size_t)h * (C + 1);
        if (mode == 2) {
            const int rot = (int)rand_below((uint32_t)n_edges);
            o[0] = 0;
            for (int c = 1; c < C; c++) {
                const int next = o[c - 1] + edges[(c + rot) % n_edges];
                o[c] = next < S ? next : S;
            }
            o[C] = S;
            continue;
        }
        o[0] = 0;
        for (int c = 1; c < C; c++) o[c] = (int32_t)rand_below((uint32_t)S + 1);
        o[C] = S;
        for (int a = 1; a < C; a++)  // insertion sort of the cut points
            for (int b = a; b > 1 && o[b - 1] > o[b]; b--) {
                int32_t t = o[b];
                o[b] = o[b - 1];
                o[b - 1] = t;
            }
        if (mode == 1 && C >= 3 && S >= 1) {
            o[1] = 0;  // cluster 0 empty
            o[2] = 1;  // cluster 1 = token 0
            for (int c = 3; c < C; c++) if (o[c] < 1) o[c] = 1;
        }
    }
}

typedef enum { MASK_ALL, MASK_NONE, MASK_RANDOM } mask_mode;

// A sparse problem's cluster offsets and mask on the host (filled by the caller) and on the
// device (sparse_plan_upload), with the kernel's workspace.
typedef struct {
    int H, C_q, C_k;
    int32_t *qo, *ko, *d_qo, *d_ko;
    uint8_t *mask, *d_mask;
    void *ws;
    size_t ws_bytes;
} sparse_plan;

static void sparse_plan_init(sparse_plan *sp, int H, int S, int C_q, int C_k) {
    *sp = (sparse_plan){.H = H, .C_q = C_q, .C_k = C_k};
    sp->qo = malloc((size_t)H * (C_q + 1) * sizeof *sp->qo);
    sp->ko = malloc((size_t)H * (C_k + 1) * sizeof *sp->ko);
    sp->mask = malloc((size_t)H * C_q * C_k);
    sp->ws_bytes = vs_cuda_sparse_attention_workspace_bytes(H, S, C_q, C_k);
    CUDA_OK(cudaMalloc((void **)&sp->d_qo, (size_t)H * (C_q + 1) * sizeof *sp->qo));
    CUDA_OK(cudaMalloc((void **)&sp->d_ko, (size_t)H * (C_k + 1) * sizeof *sp->ko));
    CUDA_OK(cudaMalloc((void **)&sp->d_mask, (size_t)H * C_q * C_k));
    CUDA_OK(cudaMalloc(&sp->ws, sp->ws_bytes));
}

static void sparse_plan_upload(const sparse_plan *sp) {
    const size_t H = (size_t)sp->H;
    CUDA_OK(cudaMemcpy(sp->d_qo, sp->qo, H * (sp->C_q + 1) * sizeof *sp->qo, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(sp->d_ko, sp->ko, H * (sp->C_k + 1) * sizeof *sp->ko, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(sp->d_mask, sp->mask, H * sp->C_q * sp->C_k, cudaMemcpyHostToDevice));
}

static void sparse_plan_free(sparse_plan *sp) {
    CUDA_OK(cudaFree(sp->d_qo));
    CUDA_OK(cudaFree(sp->d_ko));
    CUDA_OK(cudaFree(sp->d_mask));
    CUDA_OK(cudaFree(sp->ws));
    free(sp->qo), free(sp->ko), free(sp->mask);
}

static void sparse_case(int H, int S, int D, int C_q, int C_k, mask_mode mode, double keep,
                        int offsets_mode, float scale) {
    problem p;
    problem_init(&p, H, S, D, scale);
    sparse_plan sp;
    sparse_plan_init(&sp, H, S, C_q, C_k);
    random_offsets(H, S, C_q, offsets_mode, sp.qo);
    random_offsets(H, S, C_k, offsets_mode, sp.ko);
    for (size_t i = 0; i < (size_t)H * C_q * C_k; i++)
        sp.mask[i] = mode == MASK_ALL ? 1 : mode == MASK_NONE ? 0 : rand_below(1u << 20) < keep * (1u << 20);
    vs_block_sparse_attention_cpu(p.vals[0], p.vals[1], p.vals[2], H, S, D, sp.qo, sp.ko, C_q, C_k,
                                  sp.mask, p.ref);
    sparse_plan_upload(&sp);
    char what[96];
    snprintf(what, sizeof what, "sparse C_q=%d C_k=%d mask=%s", C_q, C_k,
             mode == MASK_ALL ? "all" : mode == MASK_NONE ? "none" : "random");
    for (int var = 0; var < vs_cuda_attention_variant_count(D); var++) {
        if (!vs_cuda_attention_variant_usable(D, var)) continue;
        CUDA_OK(cudaMemset(sp.ws, 0xA5, sp.ws_bytes));  // stale plans must not leak into this run
        poison_output(&p);
        int rc = vs_cuda_sparse_attention_variant(var, p.dev[0], p.dev[1], p.dev[2], p.dev[3], H, S,
                                                  D, sp.d_qo, sp.d_ko, sp.d_mask, C_q, C_k, sp.ws, 0);
        CHECK_MSG(rc == 0, "sparse launch: %s", vs_last_error());
        CUDA_OK(cudaGetLastError());
        check_output(&p, what, var);
    }
    sparse_plan_free(&sp);
    problem_free(&p);
}

// Which variants run here; on an sm_90 GPU with the sm_90a code built, the wgmma ones must (a
// silent fall-back to mma.sync would leave them untested and the fast path unused).
static void test_variants_usable(void) {
    int dev = 0, major = 0, minor = 0;
    CUDA_OK(cudaGetDevice(&dev));
    CUDA_OK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    CUDA_OK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
    const int Ds[] = {128, 64};
    for (int di = 0; di < 2; di++)
        for (int var = 0; var < vs_cuda_attention_variant_count(Ds[di]); var++)
            printf("  D=%d variant %d (%s): %s\n", Ds[di], var, vs_cuda_attention_variant_name(Ds[di], var),
                   vs_cuda_attention_variant_usable(Ds[di], var) ? "usable" : "not usable on this device");
#ifdef VS_BUILT_SM90A
    if (major == 9 && minor == 0) {
        CHECK_MSG(vs_cuda_attention_default_variant(128) == 0 && vs_cuda_attention_variant_usable(128, 0),
                  "sm_90 GPU with sm_90a code: the wgmma kernels must be the default");
        CHECK(vs_cuda_attention_default_variant(64) == 0);
    }
#endif
    CHECK(vs_cuda_attention_default_variant(96) == -1);
    CHECK(vs_cuda_attention_default_variant(128) >= 0 && vs_cuda_attention_default_variant(64) >= 0);
}

static void test_dense_shapes(void) {
    dense_case(1, 1, 64, 1.0f);
    dense_case(1, 7, 128, 1.0f);
    dense_case(2, 255, 128, 1.0f);  // around the 128-row tiles of the wgmma kernels
    dense_case(1, 257, 64, 1.0f);
    dense_case(1, 3000, 128, 4.0f);  // very peaked: the max moves between key tiles
    dense_case(2, 129, 64, 1.0f);
    dense_case(1, 1000, 128, 1.0f);
    dense_case(3, 300, 128, 3.0f);  // peaked softmax: scores up to ~ +-40
    dense_case(1, 4099, 128, 1.0f);
    dense_case(2, 777, 64, 2.0f);
}

static void test_sparse_shapes(void) {
    sparse_case(2, 1000, 128, 7, 13, MASK_RANDOM, 0.5, 0, 1.0f);
    sparse_case(1, 129, 64, 1, 1, MASK_ALL, 1, 0, 1.0f);           // one cluster each
    sparse_case(2, 4099, 128, 33, 4000, MASK_RANDOM, 0.3, 0, 1.0f); // C_k close to S
    sparse_case(2, 300, 64, 5, 9, MASK_NONE, 0, 0, 1.0f);          // nothing computed: zeros
    sparse_case(3, 777, 128, 20, 50, MASK_ALL, 1, 1, 2.0f);
    sparse_case(1, 1, 128, 3, 2, MASK_ALL, 1, 0, 1.0f);            // S = 1, empty clusters
    sparse_case(1, 7, 64, 7, 7, MASK_RANDOM, 0.5, 1, 1.0f);        // single-token clusters
    sparse_case(1, 1500, 128, 2, 40, MASK_RANDOM, 0.6, 1, 1.0f);   // large query clusters
    sparse_case(2, 2000, 64, 37, 1000, MASK_RANDOM, 0.9, 0, 1.0f); // tiny key clusters
    sparse_case(1, 2000, 128, 1500, 60, MASK_RANDOM, 0.2, 1, 1.0f); // tiny query clusters
    sparse_case(2, 3000, 128, 19, 23, MASK_RANDOM, 0.5, 0, 1.0f);  // ~160-row clusters: 128 + tail
    sparse_case(1, 3000, 64, 19, 23, MASK_RANDOM, 0.5, 1, 1.0f);
    // Query clusters of 64 / 65 / 128 / 129 ... rows (tiles whose second warpgroup is full,
    // partial or idle), and ~80-row clusters with unequal key lists.
    sparse_case(2, 3000, 128, 40, 37, MASK_RANDOM, 0.4, 2, 1.0f);
    sparse_case(1, 3000, 64, 40, 37, MASK_RANDOM, 0.4, 2, 1.0f);
    sparse_case(2, 4000, 128, 50, 60, MASK_RANDOM, 0.3, 0, 1.5f);
    sparse_case(1, 2500, 128, 41, 29, MASK_ALL, 1, 2, 1.0f);
    // More query tiles than SMs, so each CTA of the persistent kernel runs several in a row:
    // key lists of every length including none between non-empty ones, 1- to 193-row tiles.
    sparse_case(3, 4099, 128, 150, 12, MASK_RANDOM, 0.25, 0, 1.0f);
    sparse_case(2, 4099, 64, 150, 12, MASK_RANDOM, 0.25, 0, 1.0f);
    sparse_case(3, 5000, 128, 52, 300, MASK_RANDOM, 0.3, 2, 1.0f);
    sparse_case(2, 5000, 64, 52, 300, MASK_RANDOM, 0.3, 2, 1.0f);
    // Tiles of <= 64 rows, whose key tiles the persistent kernel splits over both consumer
    // warpgroups and merges: key lists of 0 to ~20 tiles of either parity, peaked scores so
    // the two halves' maxima differ by far.
    sparse_case(2, 3000, 128, 100, 12, MASK_RANDOM, 0.6, 0, 4.0f);
    sparse_case(2, 3000, 128, 100, 200, MASK_RANDOM, 0.05, 1, 4.0f);
    sparse_case(1, 3000, 64, 100, 12, MASK_RANDOM, 0.6, 0, 4.0f);
    // The same with key lists of 0 to ~2 tiles of 5-row key clusters: the second 64 keys of
    // the only or the last key tile are often empty (one warpgroup with no keys at all).
    sparse_case(2, 3000, 128, 100, 600, MASK_RANDOM, 0.02, 0, 4.0f);
}

// The sparse call captured in a CUDA graph (no host sync, no allocation) gives the same output.
static void test_sparse_graph_capture(void) {
    const int H = 2, S = 1000, D = 128, C_q = 10, C_k = 30;
    problem p;
    problem_init(&p, H, S, D, 1.0f);
    sparse_plan sp;
    sparse_plan_init(&sp, H, S, C_q, C_k);
    random_offsets(H, S, C_q, 0, sp.qo);
    random_offsets(H, S, C_k, 0, sp.ko);
    for (int i = 0; i < H * C_q * C_k; i++) sp.mask[i] = rand_below(2);
    vs_block_sparse_attention_cpu(p.vals[0], p.vals[1], p.vals[2], H, S, D, sp.qo, sp.ko, C_q, C_k,
                                  sp.mask, p.ref);
    sparse_plan_upload(&sp);
    cudaStream_t stream;
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    CUDA_OK(cudaStreamCreate(&stream));
    poison_output(&p);
    CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
    int rc = vs_cuda_sparse_attention(p.dev[0], p.dev[1], p.dev[2], p.dev[3], H, S, D, sp.d_qo,
                                      sp.d_ko, sp.d_mask, C_q, C_k, sp.ws, stream);
    CUDA_OK(cudaStreamEndCapture(stream, &graph));
    CHECK_MSG(rc == 0, "captured sparse launch: %s", vs_last_error());
    CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
    CUDA_OK(cudaGraphLaunch(exec, stream));
    CUDA_OK(cudaStreamSynchronize(stream));
    check_output(&p, "sparse in a CUDA graph", 0);
    CUDA_OK(cudaGraphExecDestroy(exec));
    CUDA_OK(cudaGraphDestroy(graph));
    CUDA_OK(cudaStreamDestroy(stream));
    sparse_plan_free(&sp);
    problem_free(&p);
}

// The default sparse kernel run many times on work items that mostly leave the second consumer
// warpgroup idle (query clusters of <= 64 rows) with short key lists, so the persistent kernel's
// item hand-overs come fast: every run must match the CPU operator and repeat bit for bit (a
// Q tile reloaded too early, or any other race between items, shows as a difference).
static void test_sparse_repeat(void) {
    static const int sizes[] = {33, 64, 1, 50, 129, 20, 64, 7, 40, 193};
    const int H = 3, S = 3000, D = 128, C_k = 120, runs = 40;
    int C_q = 0;
    for (int rows = 0; rows < S; C_q++) rows += sizes[C_q % 10];
    problem p;
    problem_init(&p, H, S, D, 1.0f);
    sparse_plan sp;
    sparse_plan_init(&sp, H, S, C_q, C_k);
    for (int h = 0; h < H; h++) {
        int32_t *o = sp.qo + (size_t)h * (C_q + 1);
        o[0] = 0;
        for (int c = 0; c < C_q; c++) o[c + 1] = o[c] + sizes[(c + h) % 10] < S ? o[c] + sizes[(c + h) % 10] : S;
        o[C_q] = S;
    }
    random_offsets(H, S, C_k, 0, sp.ko);
    for (size_t i = 0; i < (size_t)H * C_q * C_k; i++) sp.mask[i] = rand_below(100) < 8;
    vs_block_sparse_attention_cpu(p.vals[0], p.vals[1], p.vals[2], H, S, D, sp.qo, sp.ko, C_q, C_k,
                                  sp.mask, p.ref);
    sparse_plan_upload(&sp);
    const size_t n = (size_t)H * S * D;
    vs_bf16 *first = malloc(n * sizeof *first);
    int differing_runs = 0;
    for (int r = 0; r < runs; r++) {
        poison_output(&p);
        int rc = vs_cuda_sparse_attention(p.dev[0], p.dev[1], p.dev[2], p.dev[3], H, S, D, sp.d_qo,
                                          sp.d_ko, sp.d_mask, C_q, C_k, sp.ws, 0);
        CHECK_MSG(rc == 0, "sparse launch: %s", vs_last_error());
        if (r == 0) {
            check_output(&p, "sparse, short items, first run", vs_cuda_attention_default_variant(D));
            memcpy(first, p.out_bits, n * sizeof *first);
            continue;
        }
        CUDA_OK(cudaMemcpy(p.out_bits, p.dev[3], n * sizeof(vs_bf16), cudaMemcpyDeviceToHost));
        differing_runs += memcmp(first, p.out_bits, n * sizeof *first) != 0;
    }
    CHECK_MSG(differing_runs == 0, "sparse attention (C_q=%d, %d runs): %d runs differ from the first",
              C_q, runs, differing_runs);
    sparse_plan_free(&sp);
    free(first);
    problem_free(&p);
}

static void test_bad_arguments(void) {
    void *x;
    CUDA_OK(cudaMalloc(&x, 4096));
    CHECK(vs_cuda_dense_attention(x, x, x, x, 1, 4, 96, 0) == -1);  // unsupported head dim
    CHECK(vs_cuda_dense_attention(x, x, x, NULL, 1, 4, 64, 0) == -1);
    CHECK(vs_cuda_sparse_attention(x, x, x, x, 1, 4, 64, x, x, x, 0, 1, x, 0) == -1);
    CUDA_OK(cudaFree(x));
}

// Wan 480p shape: dense and sparse at a few mask densities (VS_ATTN_BENCH=1), every variant with
// VS_ATTN_BENCH_ALL=1; variant 0 also with fewer, larger query clusters.
// VS_ATTN_BENCH_SHAPE=S,H,C_q: that shape instead, D = 128 only; VS_ATTN_BENCH_VARIANTS=N: the
// first N variants; VS_ATTN_BENCH_Q_SPREAD=x: query cluster sizes uniform in (1 +- x) x the mean
// (default 0.5; 0: all equal, to separate query-tile padding from the rest).
static void bench(void) {
    int H = 12, S = 32760, n_D = 2;
    const int reps = 10;
    const double keeps[] = {0.1, 0.25, 0.5};
    int Ds[] = {128, 64}, C_qs[] = {200, 100};
    const double q_spread = getenv("VS_ATTN_BENCH_Q_SPREAD") ? atof(getenv("VS_ATTN_BENCH_Q_SPREAD")) : 0.5;
    const char *shape = getenv("VS_ATTN_BENCH_SHAPE");
    if (shape) {
        if (sscanf(shape, "%d,%d,%d", &S, &H, &C_qs[0]) != 3 || S < 1 || H < 1 || C_qs[0] < 1) {
            printf("bench: VS_ATTN_BENCH_SHAPE='%s' is not S,H,C_q\n", shape);
            return;
        }
        C_qs[1] = C_qs[0] / 2;
        n_D = 1;
    }
    for (int di = 0; di < n_D; di++) {
        int D = Ds[di];
        int n_var = getenv("VS_ATTN_BENCH_ALL") ? vs_cuda_attention_variant_count(D) : 1;
        if (getenv("VS_ATTN_BENCH_VARIANTS")) n_var = atoi(getenv("VS_ATTN_BENCH_VARIANTS"));
        for (int var = 0; var < n_var; var++)
            for (int ci = 0; vs_cuda_attention_variant_usable(D, var) && ci < (var == 0 ? 2 : 1); ci++)
                for (int ki = 0; ki < 3; ki++) {
                    vs_cuda_attention_timing t;
                    int C_q = C_qs[ci], C_k = 1000;
                    if (vs_cuda_attention_bench_variant(var, H, S, D, C_q, C_k, keeps[ki], q_spread, reps, g_seed, &t)) {
                        printf("bench failed: %s\n", vs_last_error());
                        return;
                    }
                    printf("bench D=%d S=%d H=%d v%d (%s): dense %.3f ms %.1f TFLOP/s | sparse C_q=%d "
                           "C_k=%d density %.3f: %.3f ms %.1f TFLOP/s ratio %.2f\n",
                           D, S, H, var, vs_cuda_attention_variant_name(D, var), t.dense_ms,
                           t.dense_tflops, C_q, C_k, t.density, t.sparse_ms, t.sparse_tflops,
                           t.sparse_ms / (t.density * t.dense_ms));
                    fflush(stdout);
                }
    }
}

int main(void) {
    VS_TEST_REQUIRE_GPU();
    g_seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
    printf("seed %llu\n", (unsigned long long)g_seed);
    RUN_TEST(test_sparse_graph_capture);  // first: the very first launch happens under capture
    RUN_TEST(test_bad_arguments);
    RUN_TEST(test_variants_usable);
    RUN_TEST(test_dense_shapes);
    RUN_TEST(test_token_major);
    RUN_TEST(test_sparse_shapes);
    RUN_TEST(test_sparse_repeat);
    const char *b = getenv("VS_ATTN_BENCH");
    if (b && !strcmp(b, "1")) bench();
    return vs_test_finish();
}
