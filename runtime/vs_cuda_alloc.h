// Device memory for CUDA tensors through a caching allocator (runtime/vs_cuda_alloc.c says why
// and how). vs_tensor_new / vs_tensor_free on VS_DEV_CUDA go through it; nothing else needs to.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef VS_HAVE_CUDA
// At least `bytes` of device memory (256-byte aligned); dies naming the size when out of memory.
void *vs_cuda_alloc(size_t bytes);
// Returns a block to the cache (NULL is a no-op). Dies on a pointer it never handed out.
void vs_cuda_free(void *ptr);
#endif
// Gives every cached free block back to the driver (live blocks stay). No-op without CUDA.
void vs_cuda_cache_release(void);
// Bytes held in the cache's free lists.
size_t vs_cuda_cache_bytes(void);

#ifdef __cplusplus
}
#endif
