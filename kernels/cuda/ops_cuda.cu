// The CUDA op backend table, its one-time set-up, and per-op-class timing (ops_cuda.h).
//
// Every entry of the table wraps the op's implementation (ops_cuda_*.cu) in a profiling span of
// its class; with profiling off (the default) a span costs one branch.
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/ops_cuda_common.cuh"
#include "runtime/vs_cuda_alloc.h"

namespace vs_ops {

// ops_cuda_gemm.cu
void gemm_init();
void gemm_shutdown();
void linear(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, const vs_tensor *b, vs_act act);
// ops_cuda_norm.cu
void layernorm_mod(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, const vs_tensor *b,
                   const vs_tensor *shift, const vs_tensor *scale, float eps);
void rmsnorm(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, float eps);
// ops_cuda_elementwise.cu
void unary(vs_tensor *out, const vs_tensor *x, vs_act act);
void add(vs_tensor *out, const vs_tensor *a, const vs_tensor *b);
void gated_add(vs_tensor *x, const vs_tensor *y, const vs_tensor *gate);
void sinusoid(vs_tensor *out, int64_t t);
void rope3d(vs_tensor *x, int64_t tok0, const int64_t grid[3]);
void rope_release();
// ops_cuda_layout.cu
void transpose(vs_tensor *out, const vs_tensor *x);
void patchify(vs_tensor *out, const vs_tensor *x, int64_t tok0);
void unpatchify(vs_tensor *out, const vs_tensor *rows);
// ops_cuda_attention.cu
void attention_dense(vs_tensor *out, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                     float scale);

namespace {
cudaStream_t ops_stream = nullptr;
}
cudaStream_t stream() {
    VS_ASSERT(ops_stream != nullptr, "call vs_ops_cuda_init before any CUDA op");
    return ops_stream;
}

// ---------------------------------------------------------------------------- profiling
namespace {

struct Span {
    cudaEvent_t start, stop;
    vs_prof_class cls;
};

struct Profiler {
    bool on = false;
    bool open = false;
    Span *spans = nullptr;
    int n = 0, cap = 0;     // spans recorded / event pairs created
} prof;

}  // namespace

}  // namespace vs_ops

using namespace vs_ops;

extern "C" const char *vs_prof_class_name(vs_prof_class c) {
    static const char *names[VS_PROF_CLASSES] = {"GEMM", "attention", "SVG2 k-means",
                                                 "SVG2 selection", "SVG2 permutation",
                                                 "norms", "other"};
    return c >= 0 && c < VS_PROF_CLASSES ? names[c] : "?";
}

extern "C" void vs_cuda_prof_enable(int on) { prof.on = on != 0; }

extern "C" void vs_cuda_prof_begin(vs_prof_class c) {
    if (!prof.on) return;
    VS_ASSERT(!prof.open, "profiling spans must not nest");
    if (prof.n == prof.cap) {
        int cap = prof.cap ? 2 * prof.cap : 1024;
        Span *grown = (Span *)realloc(prof.spans, (size_t)cap * sizeof(Span));
        VS_ASSERT(grown != nullptr, "out of host memory");
        prof.spans = grown;
        for (int i = prof.cap; i < cap; i++) {
            OPS_CUDA_CHECK(cudaEventCreate(&prof.spans[i].start));
            OPS_CUDA_CHECK(cudaEventCreate(&prof.spans[i].stop));
        }
        prof.cap = cap;
    }
    Span *s = &prof.spans[prof.n];
    s->cls = c;
    OPS_CUDA_CHECK(cudaEventRecord(s->start, stream()));
    prof.open = true;
}

extern "C" void vs_cuda_prof_end(void) {
    if (!prof.on) return;
    VS_ASSERT(prof.open, "vs_cuda_prof_end without vs_cuda_prof_begin");
    OPS_CUDA_CHECK(cudaEventRecord(prof.spans[prof.n].stop, stream()));
    prof.n++;
    prof.open = false;
}

extern "C" void vs_cuda_prof_collect(double *ms) {
    for (int c = 0; c < VS_PROF_CLASSES; c++) ms[c] = 0;
    OPS_CUDA_CHECK(cudaStreamSynchronize(stream()));
    for (int i = 0; i < prof.n; i++) {
        float t = 0;
        OPS_CUDA_CHECK(cudaEventElapsedTime(&t, prof.spans[i].start, prof.spans[i].stop));
        ms[prof.spans[i].cls] += t;
    }
    prof.n = 0;
}

// ---------------------------------------------------------------------------- the table
namespace {

struct ProfSpan {
    explicit ProfSpan(vs_prof_class c) { vs_cuda_prof_begin(c); }
    ~ProfSpan() { vs_cuda_prof_end(); }
};

void cuda_linear(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, const vs_tensor *b,
                 vs_act act) {
    ProfSpan s(VS_PROF_GEMM);
    linear(out, x, w, b, act);
}
void cuda_layernorm_mod(vs_tensor *out, const vs_tensor *x, const vs_tensor *w,
                        const vs_tensor *b, const vs_tensor *shift, const vs_tensor *scale,
                        float eps) {
    ProfSpan s(VS_PROF_NORM);
    layernorm_mod(out, x, w, b, shift, scale, eps);
}
void cuda_rmsnorm(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, float eps) {
    ProfSpan s(VS_PROF_NORM);
    rmsnorm(out, x, w, eps);
}
void cuda_rope3d(vs_tensor *x, int64_t tok0, const int64_t grid[3]) {
    ProfSpan s(VS_PROF_OTHER);
    rope3d(x, tok0, grid);
}
void cuda_unary(vs_tensor *out, const vs_tensor *x, vs_act act) {
    ProfSpan s(VS_PROF_OTHER);
    unary(out, x, act);
}
void cuda_add(vs_tensor *out, const vs_tensor *a, const vs_tensor *b) {
    ProfSpan s(VS_PROF_OTHER);
    add(out, a, b);
}
void cuda_gated_add(vs_tensor *x, const vs_tensor *y, const vs_tensor *gate) {
    ProfSpan s(VS_PROF_OTHER);
    gated_add(x, y, gate);
}
void cuda_sinusoid(vs_tensor *out, int64_t t) {
    ProfSpan s(VS_PROF_OTHER);
    sinusoid(out, t);
}
void cuda_attention_dense(vs_tensor *out, const vs_tensor *q, const vs_tensor *k,
                          const vs_tensor *v, float scale) {
    ProfSpan s(VS_PROF_ATTENTION);
    attention_dense(out, q, k, v, scale);
}
void cuda_transpose(vs_tensor *out, const vs_tensor *x) {
    ProfSpan s(VS_PROF_OTHER);
    transpose(out, x);
}
void cuda_patchify(vs_tensor *out, const vs_tensor *x, int64_t tok0) {
    ProfSpan s(VS_PROF_OTHER);
    patchify(out, x, tok0);
}
void cuda_unpatchify(vs_tensor *out, const vs_tensor *rows) {
    ProfSpan s(VS_PROF_OTHER);
    unpatchify(out, rows);
}

const vs_ops_backend cuda_backend = {
    "cuda",         cuda_linear,   cuda_layernorm_mod, cuda_rmsnorm,
    cuda_rope3d,    cuda_unary,    cuda_add,           cuda_gated_add,
    cuda_sinusoid,  cuda_attention_dense, cuda_transpose, cuda_patchify,
    cuda_unpatchify,
};

}  // namespace

extern "C" const vs_ops_backend *vs_ops_cuda_backend(void) { return &cuda_backend; }

extern "C" int vs_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

extern "C" int vs_ops_cuda_init(int device) {
    if (ops_stream) return 0;
    int n = vs_cuda_device_count();
    if (n == 0)
        return VS_FAIL("no CUDA GPU is visible (hint: check nvidia-smi and CUDA_VISIBLE_DEVICES, "
                       "or run on the CPU)");
    if (device < 0 || device >= n)
        return VS_FAIL("GPU %d requested but %d visible (hint: pick 0..%d)", device, n, n - 1);
    OPS_CUDA_CHECK(cudaSetDevice(device));
    // A blocking stream: host<->device copies on the legacy stream order themselves with it,
    // which the caching allocator relies on (runtime/vs_cuda_alloc.c).
    OPS_CUDA_CHECK(cudaStreamCreate(&ops_stream));
    gemm_init();
    vs_ops_set_backend(VS_DEV_CUDA, &cuda_backend);
    return 0;
}

extern "C" void vs_ops_cuda_shutdown(void) {
    if (!ops_stream) return;
    OPS_CUDA_CHECK(cudaStreamSynchronize(ops_stream));
    gemm_shutdown();
    rope_release();
    for (int i = 0; i < prof.cap; i++) {
        OPS_CUDA_CHECK(cudaEventDestroy(prof.spans[i].start));
        OPS_CUDA_CHECK(cudaEventDestroy(prof.spans[i].stop));
    }
    free(prof.spans);
    prof = Profiler();
    OPS_CUDA_CHECK(cudaStreamSynchronize(ops_stream));
    OPS_CUDA_CHECK(cudaStreamDestroy(ops_stream));
    ops_stream = nullptr;
    vs_cuda_cache_release();
    vs_ops_set_backend(VS_DEV_CUDA, nullptr);
}

extern "C" vs_cuda_stream_t vs_cuda_ops_stream(void) { return (vs_cuda_stream_t)stream(); }

extern "C" void vs_cuda_sync(void) {
    OPS_CUDA_CHECK(cudaStreamSynchronize(stream()));
    OPS_CUDA_CHECK(cudaGetLastError());
}

extern "C" const char *vs_cuda_device_name(void) {
    static cudaDeviceProp prop;
    int dev = 0;
    OPS_CUDA_CHECK(cudaGetDevice(&dev));
    OPS_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
    return prop.name;
}

extern "C" double vs_cuda_time_ms(void (*fn)(void *ctx), void *ctx) {
    cudaEvent_t start, stop;
    OPS_CUDA_CHECK(cudaEventCreate(&start));
    OPS_CUDA_CHECK(cudaEventCreate(&stop));
    OPS_CUDA_CHECK(cudaEventRecord(start, stream()));
    fn(ctx);
    OPS_CUDA_CHECK(cudaEventRecord(stop, stream()));
    OPS_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    OPS_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    OPS_CUDA_CHECK(cudaEventDestroy(start));
    OPS_CUDA_CHECK(cudaEventDestroy(stop));
    return ms;
}

extern "C" size_t vs_cuda_memory_used(void) {
    size_t free_b = 0, total_b = 0;
    OPS_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    return total_b - free_b;
}
