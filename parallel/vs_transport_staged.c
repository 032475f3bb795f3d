// A device-memory transport over a host-memory one: every buffer the caller passes lives on the
// GPU; each collective copies its send bytes device -> pinned host buffer, runs the host
// transport (MPI) there, and copies the received bytes host -> device.
//
// Why: NCCL refuses a communicator whose ranks share a GPU ("duplicate GPU"), yet tests (and
// small machines) run several ranks on one GPU (VS_SHARE_GPU=1). With this wrapper the callers
// (vs_ulysses, the CFG exchange) see one kind of transport with memory = VS_DEV_CUDA whatever
// moves the bytes, so they need no special case. It only moves bytes, so results are bitwise the
// same as over NCCL.
//
// Ordering: copies are synchronous cudaMemcpy calls on the legacy default stream, which
// waits for all earlier work of the blocking ops stream (kernels/cuda/ops_cuda.h) and blocks later
// work: a collective sees every kernel queued before it, and the kernels after it see its data.
// Staging buffers are pinned, grow to the largest call and are reused (no allocation per step).
#include "parallel/vs_transport.h"

#if defined(VS_HAVE_MPI) && defined(VS_HAVE_CUDA)
#include <cuda_runtime.h>
#include <stdlib.h>

#include "runtime/vs_check.h"
#include "runtime/vs_cuda_check.h"

#define STAGED_CUDA_CHECK(call) \
    VS_CUDA_CHECK_HINT(call, "check the GPU (nvidia-smi), its free memory and the pinned-memory limit (ulimit -l)")

typedef struct {
    vs_transport *host;  // the MPI transport that moves the bytes
    void *send, *recv;   // pinned host staging buffers
    size_t send_cap, recv_cap;
} staged_impl;

static staged_impl *impl_of(vs_transport *t) { return (staged_impl *)t->impl; }

// Grows a pinned buffer to at least `bytes` (contents are not kept).
static void reserve(void **buf, size_t *cap, size_t bytes) {
    if (bytes <= *cap) return;
    if (*buf) STAGED_CUDA_CHECK(cudaFreeHost(*buf));
    STAGED_CUDA_CHECK(cudaMallocHost(buf, bytes));
    *cap = bytes;
}

// The end of the furthest block: the span of a buffer a collective touches.
static size_t extent(int n, const size_t *bytes, const size_t *offsets) {
    size_t end = 0;
    for (int p = 0; p < n; p++)
        if (bytes[p] && offsets[p] + bytes[p] > end) end = offsets[p] + bytes[p];
    return end;
}

static void to_host(void *host, const void *dev, size_t bytes) {
    if (bytes) STAGED_CUDA_CHECK(cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost));
}

// Only the received blocks go back: the bytes between them on the device stay untouched.
static void blocks_to_device(void *dev, const void *host, int n, const size_t *bytes,
                             const size_t *offsets) {
    for (int p = 0; p < n; p++)
        if (bytes[p])
            STAGED_CUDA_CHECK(cudaMemcpy((char *)dev + offsets[p], (const char *)host + offsets[p],
                                         bytes[p], cudaMemcpyHostToDevice));
}

static void staged_alltoallv(vs_transport *t, const void *send, const size_t *send_bytes,
                             const size_t *send_offsets, void *recv, const size_t *recv_bytes,
                             const size_t *recv_offsets) {
    staged_impl *s = impl_of(t);
    const size_t out = extent(t->size, send_bytes, send_offsets);
    const size_t in = extent(t->size, recv_bytes, recv_offsets);
    reserve(&s->send, &s->send_cap, out);
    reserve(&s->recv, &s->recv_cap, in);
    to_host(s->send, send, out);
    s->host->alltoallv(s->host, s->send, send_bytes, send_offsets, s->recv, recv_bytes, recv_offsets);
    blocks_to_device(recv, s->recv, t->size, recv_bytes, recv_offsets);
    t->calls = s->host->calls;
    t->seconds = s->host->seconds;
}

static void staged_allgatherv(vs_transport *t, const void *send, size_t send_bytes, void *recv,
                              const size_t *recv_bytes, const size_t *recv_offsets) {
    staged_impl *s = impl_of(t);
    reserve(&s->send, &s->send_cap, send_bytes);
    reserve(&s->recv, &s->recv_cap, extent(t->size, recv_bytes, recv_offsets));
    to_host(s->send, send, send_bytes);
    s->host->allgatherv(s->host, s->send, send_bytes, s->recv, recv_bytes, recv_offsets);
    blocks_to_device(recv, s->recv, t->size, recv_bytes, recv_offsets);
    t->calls = s->host->calls;
    t->seconds = s->host->seconds;
}

static void staged_allreduce_sum_f32(vs_transport *t, float *data, size_t count) {
    staged_impl *s = impl_of(t);
    const size_t bytes = count * sizeof(float);
    reserve(&s->send, &s->send_cap, bytes);
    to_host(s->send, data, bytes);
    s->host->allreduce_sum_f32(s->host, s->send, count);
    if (bytes) STAGED_CUDA_CHECK(cudaMemcpy(data, s->send, bytes, cudaMemcpyHostToDevice));
    t->calls = s->host->calls;
    t->seconds = s->host->seconds;
}

static void staged_broadcast(vs_transport *t, void *data, size_t bytes, int root) {
    staged_impl *s = impl_of(t);
    reserve(&s->send, &s->send_cap, bytes);
    if (t->rank == root) to_host(s->send, data, bytes);
    s->host->broadcast(s->host, s->send, bytes, root);
    if (t->rank != root && bytes)
        STAGED_CUDA_CHECK(cudaMemcpy(data, s->send, bytes, cudaMemcpyHostToDevice));
    t->calls = s->host->calls;
    t->seconds = s->host->seconds;
}

static void staged_barrier(vs_transport *t) {
    staged_impl *s = impl_of(t);
    STAGED_CUDA_CHECK(cudaDeviceSynchronize());  // what came before is done, as with NCCL
    s->host->barrier(s->host);
    t->calls = s->host->calls;
    t->seconds = s->host->seconds;
}

static void staged_destroy(vs_transport *t) {
    staged_impl *s = impl_of(t);
    vs_transport_free(s->host);
    if (s->send) STAGED_CUDA_CHECK(cudaFreeHost(s->send));
    if (s->recv) STAGED_CUDA_CHECK(cudaFreeHost(s->recv));
    free(s);
    free(t);
}

vs_transport *vs_transport_staged_new(vs_transport *host) {
    VS_ASSERT(host && host->memory == VS_DEV_CPU, "the staged transport wraps a host-memory transport (mpi)");
    vs_transport *t = vs_calloc(1, sizeof *t);
    staged_impl *s = vs_calloc(1, sizeof *s);
    s->host = host;
    t->name = "mpi-staged";
    t->rank = host->rank;
    t->size = host->size;
    t->memory = VS_DEV_CUDA;
    t->alltoallv = staged_alltoallv;
    t->allgatherv = staged_allgatherv;
    t->allreduce_sum_f32 = staged_allreduce_sum_f32;
    t->broadcast = staged_broadcast;
    t->barrier = staged_barrier;
    t->destroy = staged_destroy;
    t->impl = s;
    return t;
}
#endif
