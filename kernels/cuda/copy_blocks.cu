// One launch for a whole block list (copy_blocks_cuda.h). Grid: y = block of the list, x = a
// grid-stride loop over the block's units (unit = U bytes), enumerated with the run's bytes
// fastest, then inner, then outer, so consecutive threads touch consecutive bytes of a run.
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels/cuda/copy_blocks_cuda.h"
#include "runtime/vs_check.h"
#include "runtime/vs_cuda_check.h"

#define COPY_CUDA_CHECK(call) \
    VS_CUDA_CHECK_HINT(call, "check the GPU (nvidia-smi); rerun under compute-sanitizer to locate a bad access")

namespace {

constexpr int THREADS = 256;
constexpr int64_t MAX_GRID_X = 4096;

struct Bases {
    char *dst[VS_COPY_BASES];
    const char *src[VS_COPY_BASES];
};

template <int U> struct Word;
template <> struct Word<16> { using T = uint4; };
template <> struct Word<8> { using T = uint2; };
template <> struct Word<4> { using T = uint32_t; };
template <> struct Word<2> { using T = uint16_t; };
template <> struct Word<1> { using T = uint8_t; };

template <int U>
__global__ void copy_blocks_kernel(const vs_copy_block *__restrict__ blocks, Bases bases) {
    using T = typename Word<U>::T;
    const vs_copy_block b = blocks[blockIdx.y];
    const int64_t words = b.width / U, total = words * b.inner * b.outer;
    const char *src = bases.src[b.src] + b.src_off;
    char *dst = bases.dst[b.dst] + b.dst_off;
    for (int64_t u = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; u < total;
         u += (int64_t)gridDim.x * blockDim.x) {
        const int64_t w = u % words, run = u / words, i = run % b.inner, o = run / b.inner;
        const T *s = (const T *)(src + o * b.src_outer + i * b.src_inner) + w;
        T *d = (T *)(dst + o * b.dst_outer + i * b.dst_inner) + w;
        *d = *s;
    }
}

int align_of(const void *p) {
    const uintptr_t v = (uintptr_t)p;
    int a = 16;
    while (a > 1 && (v & (uintptr_t)(a - 1))) a >>= 1;
    return a;
}

template <int U>
void launch(const vs_copy_blocks_cuda *c, const Bases &bases, cudaStream_t stream) {
    const int64_t units = c->max_words * (16 / U);  // an upper bound on a block's units
    int64_t grid_x = (units + THREADS - 1) / THREADS;
    if (grid_x > MAX_GRID_X) grid_x = MAX_GRID_X;
    if (grid_x < 1) grid_x = 1;
    copy_blocks_kernel<U><<<dim3((unsigned)grid_x, (unsigned)c->n), THREADS, 0, stream>>>(c->blocks, bases);
    COPY_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

extern "C" void vs_copy_blocks_cuda_init(vs_copy_blocks_cuda *c, const vs_copy_block *blocks, int n) {
    VS_ASSERT(n >= 0 && n <= 65535, "a block list runs as one launch: at most 65535 blocks");
    c->blocks = nullptr;
    c->n = n;
    c->unit = vs_copy_blocks_unit(blocks, n);
    c->max_words = 0;
    for (int b = 0; b < n; b++) {
        VS_ASSERT(blocks[b].src >= 0 && blocks[b].src < VS_COPY_BASES && blocks[b].dst >= 0 &&
                      blocks[b].dst < VS_COPY_BASES, "copy block base index out of range");
        const int64_t words = blocks[b].outer * blocks[b].inner * ((blocks[b].width + 15) / 16);
        if (words > c->max_words) c->max_words = words;
    }
    if (n == 0) return;
    COPY_CUDA_CHECK(cudaMalloc((void **)&c->blocks, (size_t)n * sizeof(vs_copy_block)));
    COPY_CUDA_CHECK(cudaMemcpy(c->blocks, blocks, (size_t)n * sizeof(vs_copy_block), cudaMemcpyHostToDevice));
}

extern "C" void vs_copy_blocks_cuda_free(vs_copy_blocks_cuda *c) {
    if (c->blocks) COPY_CUDA_CHECK(cudaFree(c->blocks));
    c->blocks = nullptr;
    c->n = 0;
}

extern "C" void vs_copy_blocks_cuda_run(const vs_copy_blocks_cuda *c, void *const dst[VS_COPY_BASES],
                                        const void *const src[VS_COPY_BASES], struct CUstream_st *stream) {
    if (c->n == 0) return;
    Bases bases;
    int unit = c->unit;
    for (int i = 0; i < VS_COPY_BASES; i++) {
        bases.dst[i] = (char *)dst[i];
        bases.src[i] = (const char *)src[i];
        if (dst[i] && align_of(dst[i]) < unit) unit = align_of(dst[i]);
        if (src[i] && align_of(src[i]) < unit) unit = align_of(src[i]);
    }
    cudaStream_t st = stream ? (cudaStream_t)stream : cudaStreamLegacy;
    switch (unit) {
    case 16: launch<16>(c, bases, st); break;
    case 8: launch<8>(c, bases, st); break;
    case 4: launch<4>(c, bases, st); break;
    case 2: launch<2>(c, bases, st); break;
    default: launch<1>(c, bases, st); break;
    }
}
