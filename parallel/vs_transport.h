// The collectives the distributed runtime needs, behind one interface with two implementations:
//   MPI  (parallel/vs_transport_mpi.c):  host memory; CPU runs, tests, and a fallback anywhere.
//   NCCL (parallel/vs_transport_nccl.c): CUDA device memory; the GPU path (VS_HAVE_NCCL builds).
// and a wrapper, MPI-staged (parallel/vs_transport_staged.c): CUDA device memory moved by MPI
// through pinned host buffers, for ranks that share a GPU (NCCL refuses those).
// Callers never see which one runs. Data movement is in bytes (the caller knows its dtype);
// offsets and counts are per peer, so uneven splits (heads or tokens that do not divide the
// group size) need no padding. Every call returns with its results ready to read.
//
// Every failure is fatal (vs_die: rank, host, file:line, the call, a hint, then MPI_Abort).
//
// A watchdog thread aborts the job when one collective runs longer than VS_COMM_TIMEOUT_S
// seconds (default 600): a stuck peer never leaves the others waiting forever.
//
// Test hooks (docs/distributed.md): with VS_TEST_FAIL_RANK=k, world rank k dies through vs_die at
// its VS_TEST_FAIL_AFTER-th collective (default 3); with VS_TEST_STALL_RANK=k it stops there
// forever instead (alive, silent), which only the other ranks' watchdogs can end.
#pragma once
#include <stddef.h>

#include "runtime/vs_tensor.h"

#ifdef VS_HAVE_MPI
#include <mpi.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { VS_TRANSPORT_MPI = 0, VS_TRANSPORT_NCCL, VS_TRANSPORT_MPI_STAGED } vs_transport_kind;

typedef struct vs_transport vs_transport;
struct vs_transport {
    const char *name;  // "mpi", "nccl" or "mpi-staged"
    int rank, size;    // this process within the group
    vs_device memory;  // where every buffer passed to the calls below must live

    // Rank r sends send_bytes[p] bytes from send + send_offsets[p] to every peer p, and receives
    // recv_bytes[p] bytes from p at recv + recv_offsets[p]. Counts must agree pairwise.
    void (*alltoallv)(vs_transport *t, const void *send, const size_t *send_bytes,
                      const size_t *send_offsets, void *recv, const size_t *recv_bytes,
                      const size_t *recv_offsets);
    // Every rank contributes send_bytes (== recv_bytes[rank]); rank p's block lands at
    // recv + recv_offsets[p] on every rank.
    void (*allgatherv)(vs_transport *t, const void *send, size_t send_bytes, void *recv,
                       const size_t *recv_bytes, const size_t *recv_offsets);
    // In place. Not used on the generation path (bitwise layout invariance forbids reducing
    // across ranks there); kept for benchmarks and statistics.
    void (*allreduce_sum_f32)(vs_transport *t, float *data, size_t count);
    void (*broadcast)(vs_transport *t, void *data, size_t bytes, int root);
    void (*barrier)(vs_transport *t);
    void (*destroy)(vs_transport *t);

    void *impl;
    long calls;      // collectives issued so far (the failure test hook counts these)
    double seconds;  // wall time spent inside them (host clock, from issue to completion)
    double begun;    // start of the collective in progress
};

#ifdef VS_HAVE_MPI
// Over an MPI communicator (duplicated; the caller keeps its own).
vs_transport *vs_transport_mpi_new(MPI_Comm comm);
#ifdef VS_HAVE_NCCL
// Over the same ranks as `comm`: rank 0 of comm makes the ncclUniqueId, MPI broadcasts it, every
// rank calls ncclCommInitRank. The CUDA device must be bound first (vs_dist_bind_device).
// A watchdog thread polls ncclCommGetAsyncError and aborts the job (see vs_transport_nccl.c).
vs_transport *vs_transport_nccl_new(MPI_Comm comm);
#endif
#ifdef VS_HAVE_CUDA
// Device memory over a host transport (takes ownership of `host`, which must have memory CPU):
// each collective stages its bytes through pinned host buffers.
vs_transport *vs_transport_staged_new(vs_transport *host);
#endif
#endif

void vs_transport_free(vs_transport *t);

// Implementations bracket every collective with these: begin counts it, runs the test hooks and
// starts the watchdog's clock; end stops it.
void vs_transport_begin(vs_transport *t);
void vs_transport_end(vs_transport *t);
// For a device transport whose collective queues behind work issued earlier (the model's kernels):
// called when that work is done, so `seconds` counts from when the inputs were ready, not from
// the issue (the watchdog still counts from the issue).
void vs_transport_inputs_ready(vs_transport *t);
// Run by the watchdog before it aborts the job (NCCL: ncclCommAbort on every communicator).
void vs_transport_add_abort_hook(void (*hook)(void));
void vs_transport_abort_all(void);

#ifdef __cplusplus
}
#endif
