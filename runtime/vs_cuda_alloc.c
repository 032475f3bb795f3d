// A caching allocator for CUDA tensors (see vs_cuda_alloc.h).
//
// Why: the forward pass makes and frees a few dozen activation tensors per call, and cudaMalloc /
// cudaFree cost tens of microseconds to milliseconds each, and cudaFree synchronises the whole
// device. Keeping freed blocks in free lists by size class makes a steady-state step allocate
// nothing from the driver.
//
// Size classes: a request is rounded up to a quarter power of two (2^k, 1.25*2^k, 1.5*2^k,
// 1.75*2^k; at least 512 bytes), so a block serves any request of its class and at most ~25% is
// wasted. Freed blocks wait in an unsorted free list; a request takes the first block of its
// exact class. Live blocks are remembered in an open-addressing table keyed by pointer, so a
// free needs no size from the caller. Everything runs on the host under one mutex.
//
// Stream safety: all CUDA work of the runtime is enqueued on one stream (kernels/cuda's ops
// stream, a blocking stream) and host<->device copies use the legacy stream, which orders itself
// with blocking streams. A block freed on the host and handed out again is therefore only
// written after every kernel queued earlier that read it.
//
// When cudaMalloc fails, the cached free blocks are released and the allocation is retried once.
// vs_cuda_cache_release() returns every free block to the driver (the ops shutdown calls it).
#include "runtime/vs_cuda_alloc.h"

#ifdef VS_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_check.h"

#define ALLOC_CHECK(call)                                                                    \
    do {                                                                                     \
        cudaError_t err_ = (call);                                                           \
        if (err_ != cudaSuccess)                                                             \
            vs_die(__FILE__, __LINE__, #call, cudaGetErrorString(err_),                      \
                   "check that a GPU is visible (nvidia-smi) and has enough free memory");   \
    } while (0)

typedef struct {
    void *ptr;
    size_t bytes;  // the class size
} block;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static block *free_list;            // cached free blocks
static size_t n_free, cap_free;
static block *live;                 // hash table of blocks handed out; ptr NULL = empty slot
static size_t live_cap, live_count;  // live_cap is a power of two (or 0)
static size_t cached_bytes;          // sum over free_list

static size_t size_class(size_t bytes) {
    if (bytes <= 512) return 512;
    size_t p = 1;
    while (p < bytes) p <<= 1;  // p = 2^k >= bytes
    size_t step = p >> 3;       // quarter steps of the octave below p: (p/2) * {1, 1.25, 1.5, 1.75}
    return (bytes + step - 1) / step * step;
}

static size_t hash_ptr(const void *p) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}

static void live_insert(block b);

static void live_grow(void) {
    size_t old_cap = live_cap;
    block *old = live;
    live_cap = old_cap ? 2 * old_cap : 1024;
    live = vs_calloc(live_cap, sizeof *live);
    live_count = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].ptr) live_insert(old[i]);
    free(old);
}

static void live_insert(block b) {
    if (2 * (live_count + 1) > live_cap) live_grow();
    size_t i = hash_ptr(b.ptr) & (live_cap - 1);
    while (live[i].ptr) i = (i + 1) & (live_cap - 1);
    live[i] = b;
    live_count++;
}

// Removes ptr from the live table (backward-shift deletion); returns its class size.
static size_t live_remove(void *ptr) {
    VS_ASSERT(live_cap > 0, "vs_cuda_free of a pointer vs_cuda_alloc never returned");
    size_t mask = live_cap - 1, i = hash_ptr(ptr) & mask;
    while (live[i].ptr != ptr) {
        VS_ASSERT(live[i].ptr != NULL, "vs_cuda_free of a pointer vs_cuda_alloc never returned");
        i = (i + 1) & mask;
    }
    size_t bytes = live[i].bytes;
    live[i].ptr = NULL;
    live_count--;
    // Re-seat the entries after the hole that would no longer be found.
    for (size_t j = (i + 1) & mask; live[j].ptr; j = (j + 1) & mask) {
        block b = live[j];
        live[j].ptr = NULL;
        live_count--;
        live_insert(b);
    }
    return bytes;
}

static void release_free_locked(void) {
    for (size_t i = 0; i < n_free; i++) ALLOC_CHECK(cudaFree(free_list[i].ptr));
    n_free = 0;
    cached_bytes = 0;
}

void *vs_cuda_alloc(size_t bytes) {
    size_t cls = size_class(bytes);
    pthread_mutex_lock(&lock);
    void *ptr = NULL;
    for (size_t i = 0; i < n_free; i++)
        if (free_list[i].bytes == cls) {
            ptr = free_list[i].ptr;
            free_list[i] = free_list[--n_free];
            cached_bytes -= cls;
            break;
        }
    if (!ptr) {
        cudaError_t e = cudaMalloc(&ptr, cls);
        if (e != cudaSuccess) {
            (void)cudaGetLastError();  // clear the sticky-free error state before retrying
            release_free_locked();
            e = cudaMalloc(&ptr, cls);
        }
        if (e != cudaSuccess) {
            pthread_mutex_unlock(&lock);
            vs_dief(__FILE__, __LINE__,
                    "the GPU is out of memory: use a smaller size or fewer frames, or a GPU with "
                    "more memory",
                    "cudaMalloc(%zu bytes) failed: %s", cls, cudaGetErrorString(e));
        }
    }
    block b = {ptr, cls};
    live_insert(b);
    pthread_mutex_unlock(&lock);
    return ptr;
}

void vs_cuda_free(void *ptr) {
    if (!ptr) return;
    pthread_mutex_lock(&lock);
    size_t cls = live_remove(ptr);
    if (n_free == cap_free) {
        cap_free = cap_free ? 2 * cap_free : 256;
        block *grown = realloc(free_list, cap_free * sizeof *grown);
        VS_ASSERT(grown != NULL, "out of host memory");
        free_list = grown;
    }
    free_list[n_free].ptr = ptr;
    free_list[n_free].bytes = cls;
    n_free++;
    cached_bytes += cls;
    pthread_mutex_unlock(&lock);
}

void vs_cuda_cache_release(void) {
    pthread_mutex_lock(&lock);
    release_free_locked();
    pthread_mutex_unlock(&lock);
}

size_t vs_cuda_cache_bytes(void) {
    pthread_mutex_lock(&lock);
    size_t b = cached_bytes;
    pthread_mutex_unlock(&lock);
    return b;
}

#else  // CPU-only build: nothing to cache.

void vs_cuda_cache_release(void) {}
size_t vs_cuda_cache_bytes(void) { return 0; }

#endif
