// The CUDA op backend (runtime/vs_ops.h's vs_ops_backend for VS_DEV_CUDA) and what the runtime
// needs around it: one-time set-up, the stream every op runs on, per-op-class timing for the
// step benchmark, head-major layout changes for the attention policy, and random weights drawn on
// the GPU.
//
// Files: ops_cuda.cu (table, init, profiling), ops_cuda_gemm.cu (cuBLASLt linear),
// ops_cuda_norm.cu (LayerNorm+modulation, RMSNorm), ops_cuda_elementwise.cu (activations, adds,
// gated residual, sinusoid, RoPE), ops_cuda_layout.cu (transpose, patchify, patch moves,
// random fill), ops_cuda_attention.cu (dense attention with Sq != Sk over the flash tile loop of
// attention_core.cuh).
//
// Dtypes: every op reads f32 or bf16 and writes whatever its `out` tensor is (f32 or bf16),
// computing in f32; GEMMs are bf16 x bf16 (or f32 x f32) with f32 accumulation; attention is
// bf16. Any other dtype dies with a message naming the op.
#pragma once
#include <stdint.h>

#include "runtime/vs_ops.h"
#include "runtime/vs_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct CUstream_st *vs_cuda_stream_t;

// Selects GPU `device`, creates the ops stream, the cuBLASLt (and cuBLAS) handles and the GEMM
// workspace, and installs the backend with vs_ops_set_backend(VS_DEV_CUDA, ...). Call once, before
// any CUDA tensor exists. Returns 0, or -1 + message (no GPU, bad index).
int vs_ops_cuda_init(int device);
// Frees what init made and the allocator's cache; uninstalls the backend.
void vs_ops_cuda_shutdown(void);
const vs_ops_backend *vs_ops_cuda_backend(void);
// Number of visible GPUs (0 when none or the driver is missing; never dies).
int vs_cuda_device_count(void);
// The stream every op is enqueued on (valid after init).
vs_cuda_stream_t vs_cuda_ops_stream(void);
// Waits for everything queued on the ops stream; dies on an asynchronous error.
void vs_cuda_sync(void);
// "NVIDIA H100 80GB HBM3" etc. of the current device.
const char *vs_cuda_device_name(void);
// Milliseconds of GPU time fn(ctx) enqueues on the ops stream (CUDA events around it; syncs).
double vs_cuda_time_ms(void (*fn)(void *ctx), void *ctx);
// Bytes of device memory in use (total - free, from the driver).
size_t vs_cuda_memory_used(void);

// ---------------------------------------------------------------------------- profiling
// Off by default. While on, every op records a CUDA event pair around itself, tagged by class;
// vs_cuda_prof_collect synchronises, sums each class's elapsed time and starts over. Events
// serialise nothing on the GPU but add a little host work per op, so time a step without them.
typedef enum {
    VS_PROF_GEMM = 0,
    VS_PROF_ATTENTION,   // dense self-/cross-attention and the sparse attention kernel
    VS_PROF_KMEANS,      // SVG2 k-means on Q and K
    VS_PROF_SELECT,      // SVG2 block selection and density
    VS_PROF_PERMUTE,     // SVG2 permutation into cluster order and back
    VS_PROF_NORM,        // LayerNorm(+modulation), RMSNorm
    VS_PROF_OTHER,       // RoPE, elementwise, residual, layout changes, patchify
    VS_PROF_CLASSES
} vs_prof_class;

const char *vs_prof_class_name(vs_prof_class c);
void vs_cuda_prof_enable(int on);
// A span on the ops stream: begin and end must pair, spans must not nest.
void vs_cuda_prof_begin(vs_prof_class c);
void vs_cuda_prof_end(void);
// Synchronises, writes milliseconds per class (VS_PROF_CLASSES values) and clears the record.
void vs_cuda_prof_collect(double *ms);

// ---------------------------------------------------------------------------- random fill
// dst[i] = a * vs_normal_at(seed, counter0 + i) + b for i < n, written as `dtype` (f32 or bf16):
// the same values the CPU draws (runtime/vs_rng.h), so random weights need no host pass.
void vs_cuda_fill_normal(void *dst, vs_dtype dtype, int64_t n, uint64_t seed, uint64_t counter0,
                         float a, float b);

#ifdef __cplusplus
}
#endif
