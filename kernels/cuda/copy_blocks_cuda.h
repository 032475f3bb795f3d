// Block lists of kernels/cpu/copy_blocks.h on the GPU: the list is uploaded once, and each run is
// one kernel launch that moves every block (threads move 16, 8, 4, 2 or 1 bytes, the widest the
// list's offsets, strides and the run's base pointers allow). Bitwise moves only.
#pragma once
#include <stdint.h>

#include "kernels/cpu/copy_blocks.h"

#ifdef __cplusplus
extern "C" {
#endif

struct CUstream_st;  // cudaStream_t without the CUDA headers

typedef struct {
    vs_copy_block *blocks;  // [n] in device memory (NULL when n == 0)
    int n;
    int unit;               // vs_copy_blocks_unit of the list
    int64_t max_words;      // the largest block in 16-byte words, rounded up (sizes the grid)
} vs_copy_blocks_cuda;

void vs_copy_blocks_cuda_init(vs_copy_blocks_cuda *c, const vs_copy_block *blocks, int n);
void vs_copy_blocks_cuda_free(vs_copy_blocks_cuda *c);
// Enqueues the moves on `stream`, NULL meaning the legacy default stream (ordered with every
// blocking stream, as the transports' collectives are). Device pointers; no host synchronisation.
void vs_copy_blocks_cuda_run(const vs_copy_blocks_cuda *c, void *const dst[VS_COPY_BASES],
                             const void *const src[VS_COPY_BASES], struct CUstream_st *stream);

#ifdef __cplusplus
}
#endif
