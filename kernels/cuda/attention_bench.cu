// Timing harness for the attention kernels: random bf16 inputs generated on the GPU, random
// cluster sizes and a random block mask, CUDA-event timing of each call after warm-up, median.
// The benchmark command and the test binary (VS_ATTN_BENCH=1) call it.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/attention_variants.h"
#include "runtime/vs_check.h"
#include "runtime/vs_rng.h"
#include "runtime/vs_tensor.h"

namespace {

__global__ void fill_normal_bf16(__nv_bfloat16 *x, size_t n, uint64_t seed) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] = __float2bfloat16(vs_normal_at(seed, i));
}

int cuda_check(cudaError_t e, const char *what) {
    if (e == cudaSuccess) return 0;
    return VS_FAIL("attention bench: %s: %s (hint: is a GPU free and is there enough memory?)",
                   what, cudaGetErrorString(e));
}

// offsets [H, C + 1]: cluster sizes proportional to uniform weights in [1 - spread, 1 + spread).
void random_offsets(int H, int S, int C, double spread, uint64_t seed, int32_t *offsets) {
    double *w = (double *)malloc((size_t)C * sizeof(double));
    for (int h = 0; h < H; h++) {
        double total = 0;
        for (int c = 0; c < C; c++) {
            w[c] = 1 - spread + 2 * spread * vs_uniform_index(seed, (uint64_t)h * C + c, 1u << 20) / (double)(1u << 20);
            total += w[c];
        }
        int32_t *o = offsets + (size_t)h * (C + 1);
        double acc = 0;
        o[0] = 0;
        for (int c = 0; c < C; c++) {
            acc += w[c];
            o[c + 1] = (int32_t)(acc / total * S + 0.5);
        }
        o[C] = S;
    }
    free(w);
}

int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Median milliseconds of `reps` timed calls of `run` after 3 warm-up calls.
template <class F>
int time_median(F run, int reps, double *ms_out) {
    cudaEvent_t start, stop;
    if (cuda_check(cudaEventCreate(&start), "cudaEventCreate") ||
        cuda_check(cudaEventCreate(&stop), "cudaEventCreate"))
        return -1;
    double *ms = (double *)malloc((size_t)reps * sizeof(double));
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) rc = run();
    for (int i = 0; i < reps && rc == 0; i++) {
        float t = 0;
        rc = cuda_check(cudaEventRecord(start, 0), "cudaEventRecord");
        if (rc == 0) rc = run();
        if (rc == 0) rc = cuda_check(cudaEventRecord(stop, 0), "cudaEventRecord");
        if (rc == 0) rc = cuda_check(cudaEventSynchronize(stop), "attention run");
        if (rc == 0) rc = cuda_check(cudaEventElapsedTime(&t, start, stop), "cudaEventElapsedTime");
        ms[i] = t;
    }
    if (rc == 0) {
        qsort(ms, (size_t)reps, sizeof(double), cmp_double);
        *ms_out = ms[reps / 2];
    }
    free(ms);
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return rc;
}

}  // namespace

extern "C" int vs_cuda_attention_bench_variant(int variant, int H, int S, int D, int C_q, int C_k,
                                               double keep, double q_spread, int reps, uint64_t seed,
                                               vs_cuda_attention_timing *out) {
    if (H < 1 || S < 1 || C_q < 1 || C_k < 1 || C_q > S || C_k > S || reps < 1)
        return VS_FAIL("attention bench: bad shape H=%d S=%d C_q=%d C_k=%d reps=%d "
                       "(hint: 1 <= C <= S, reps >= 1)", H, S, C_q, C_k, reps);
    memset(out, 0, sizeof *out);
    const size_t n = (size_t)H * S * D;
    size_t ws_bytes = vs_cuda_sparse_attention_workspace_bytes(H, S, C_q, C_k);
    int32_t *h_qo = (int32_t *)malloc((size_t)H * (C_q + 1) * sizeof(int32_t));
    int32_t *h_ko = (int32_t *)malloc((size_t)H * (C_k + 1) * sizeof(int32_t));
    uint8_t *h_mask = (uint8_t *)malloc((size_t)H * C_q * C_k);
    random_offsets(H, S, C_q, q_spread, seed ^ 0x51, h_qo);
    random_offsets(H, S, C_k, 0.5, seed ^ 0x52, h_ko);
    double density = 0;
    for (int h = 0; h < H; h++) {
        double hit = 0;
        for (int i = 0; i < C_q; i++)
            for (int j = 0; j < C_k; j++) {
                size_t idx = ((size_t)h * C_q + i) * C_k + j;
                uint8_t m = vs_uniform_index(seed ^ 0x53, idx, 1u << 24) < keep * (1u << 24);
                h_mask[idx] = m;
                if (m)
                    hit += (double)(h_qo[h * (C_q + 1) + i + 1] - h_qo[h * (C_q + 1) + i]) *
                           (h_ko[h * (C_k + 1) + j + 1] - h_ko[h * (C_k + 1) + j]);
            }
        density += hit / ((double)S * S) / H;
    }

    void *q = nullptr, *k = nullptr, *v = nullptr, *o = nullptr, *ws = nullptr;
    int32_t *qo = nullptr, *ko = nullptr;
    uint8_t *mask = nullptr;
    int rc = cuda_check(cudaMalloc(&q, n * 2), "cudaMalloc q");
    if (!rc) rc = cuda_check(cudaMalloc(&k, n * 2), "cudaMalloc k");
    if (!rc) rc = cuda_check(cudaMalloc(&v, n * 2), "cudaMalloc v");
    if (!rc) rc = cuda_check(cudaMalloc(&o, n * 2), "cudaMalloc o");
    if (!rc) rc = cuda_check(cudaMalloc(&ws, ws_bytes), "cudaMalloc workspace");
    if (!rc) rc = cuda_check(cudaMalloc(&qo, (size_t)H * (C_q + 1) * 4), "cudaMalloc q_offsets");
    if (!rc) rc = cuda_check(cudaMalloc(&ko, (size_t)H * (C_k + 1) * 4), "cudaMalloc k_offsets");
    if (!rc) rc = cuda_check(cudaMalloc(&mask, (size_t)H * C_q * C_k), "cudaMalloc mask");
    if (!rc) {
        fill_normal_bf16<<<1024, 256>>>((__nv_bfloat16 *)q, n, seed ^ 1);
        fill_normal_bf16<<<1024, 256>>>((__nv_bfloat16 *)k, n, seed ^ 2);
        fill_normal_bf16<<<1024, 256>>>((__nv_bfloat16 *)v, n, seed ^ 3);
        rc = cuda_check(cudaGetLastError(), "fill kernel launch");
    }
    if (!rc) rc = cuda_check(cudaMemcpy(qo, h_qo, (size_t)H * (C_q + 1) * 4, cudaMemcpyHostToDevice), "copy q_offsets");
    if (!rc) rc = cuda_check(cudaMemcpy(ko, h_ko, (size_t)H * (C_k + 1) * 4, cudaMemcpyHostToDevice), "copy k_offsets");
    if (!rc) rc = cuda_check(cudaMemcpy(mask, h_mask, (size_t)H * C_q * C_k, cudaMemcpyHostToDevice), "copy mask");

    const double flops = 4.0 * S * (double)S * D * H;
    if (!rc)
        rc = time_median(
            [&] {
                return vs_cuda_dense_attention_variant(variant, (const vs_bf16 *)q, (const vs_bf16 *)k,
                                                       (const vs_bf16 *)v, (vs_bf16 *)o, H, S, D, 0);
            },
            reps, &out->dense_ms);
    if (!rc)
        rc = time_median(
            [&] {
                return vs_cuda_sparse_attention_variant(variant, (const vs_bf16 *)q, (const vs_bf16 *)k,
                                                        (const vs_bf16 *)v, (vs_bf16 *)o, H, S, D, qo,
                                                        ko, mask, C_q, C_k, ws, 0);
            },
            reps, &out->sparse_ms);
    if (!rc) {
        out->density = density;
        out->dense_tflops = flops / (out->dense_ms * 1e-3) / 1e12;
        out->sparse_tflops = flops * density / (out->sparse_ms * 1e-3) / 1e12;
    }
    cudaFree(q);
    cudaFree(k);
    cudaFree(v);
    cudaFree(o);
    cudaFree(ws);
    cudaFree(qo);
    cudaFree(ko);
    cudaFree(mask);
    free(h_qo);
    free(h_ko);
    free(h_mask);
    return rc;
}

extern "C" int vs_cuda_attention_bench(int H, int S, int D, int C_q, int C_k, double keep, int reps,
                                       uint64_t seed, vs_cuda_attention_timing *out) {
    return vs_cuda_attention_bench_variant(vs_cuda_attention_default_variant(D), H, S, D, C_q, C_k,
                                           keep, 0.5, reps, seed, out);
}
