// Batches of strided byte copies, described once and run many times: the pack and unpack of the
// Ulysses all-to-all (parallel/vs_ulysses.c). One list per exchange direction and side; a run
// moves every block of the list. On the CPU (this file) it is a memcpy per contiguous run; on the
// GPU (kernels/cuda/copy_blocks_cuda.h) one kernel launch does the whole list, instead of one
// cudaMemcpy2DAsync per (peer, tensor, head). Both only move bytes, so the result is bitwise the
// same on either device.
//
// A block moves outer x inner runs of `width` bytes:
//   for o < outer, i < inner:
//     dst[b.dst] + dst_off + o * dst_outer + i * dst_inner  <-  width bytes from
//     src[b.src] + src_off + o * src_outer + i * src_inner
// `src` and `dst` index the base pointers given to each run (e.g. Q, K, V), so a list holds no
// pointer and is valid for any buffers of the shapes it was made for.
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { VS_COPY_BASES = 3 };  // base pointers per side of a run

typedef struct {
    int src, dst;  // base index, < VS_COPY_BASES
    int64_t src_off, dst_off;
    int64_t outer, inner;
    int64_t src_outer, src_inner, dst_outer, dst_inner;
    int64_t width;  // bytes of one contiguous run
} vs_copy_block;

// Moves every block of blocks[0, n) between host buffers.
void vs_copy_blocks_cpu(const vs_copy_block *blocks, int n, void *const dst[VS_COPY_BASES],
                        const void *const src[VS_COPY_BASES]);

// The largest power of two <= 16 dividing every offset, stride and width of the list (the unit a
// GPU thread moves; base pointers must be aligned to it too).
int vs_copy_blocks_unit(const vs_copy_block *blocks, int n);

#ifdef __cplusplus
}
#endif
