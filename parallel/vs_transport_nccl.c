// The NCCL transport: CUDA device memory, one communicator per group of ranks.
//
// Bootstrap (NCCL's documented MPI pattern): group rank 0 calls ncclGetUniqueId, MPI_Bcast hands
// the id to the group, MPI_Barrier, then every rank calls ncclCommInitRank. Each group (Ulysses,
// CFG pair, world) gets its own id over its own MPI communicator, so sub-communicators need no
// ncclCommSplit. The uneven all-to-all is ncclSend/ncclRecv per peer inside one
// ncclGroupStart/End: it works on every NCCL version and lets per-peer counts differ.
//
// Failure handling. A blocking NCCL call cannot notice that a peer died; it spins forever. So:
//  - every call is checked (VS_NCCL_CHECK: ncclGetErrorString + ncclGetLastError -> vs_die);
//  - the host waits for a collective by polling cudaStreamQuery and ncclCommGetAsyncError, never
//    with cudaStreamSynchronize, so an asynchronous NCCL error surfaces at once;
//  - a watchdog thread polls ncclCommGetAsyncError on every live communicator every 100 ms; on an
//    error it calls ncclCommAbort on every communicator and vs_die, whose handler is MPI_Abort:
//    mpirun then ends every rank. A collective that never finishes (a stuck peer) is caught by
//    the transports' common timeout watchdog (VS_COMM_TIMEOUT_S, parallel/vs_transport.c), which
//    runs the same ncclCommAbort first. A rank killed outright is seen by mpirun itself.
// Streams: collectives run on the legacy default stream (ordered after the model's work on any
// blocking stream) and every call returns with its results ready.
// Timing: the host issues a collective while the model's kernels before it may still be queued;
// an event recorded on the legacy stream ahead of the collective completes when they are done,
// and `seconds` counts from then (vs_transport_inputs_ready), so queued compute is not charged
// to communication.
#include "parallel/vs_transport.h"

#if defined(VS_HAVE_MPI) && defined(VS_HAVE_NCCL)
#include <cuda_runtime.h>
#include <nccl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "parallel/vs_mpi_check.h"
#include "runtime/vs_cuda_check.h"

static void nccl_die(const char *file, int line, const char *call, ncclResult_t r, ncclComm_t comm) {
    char what[1024];
    snprintf(what, sizeof what, "%s%s%s", ncclGetErrorString(r), comm ? ": " : "",
             comm ? ncclGetLastError(comm) : "");
    vs_die(file, line, call, what,
           "rerun with NCCL_DEBUG=WARN (or INFO) for NCCL's own log; a 'remote process exited' or "
           "network error usually means another rank died first (see its message)");
}
#define VS_NCCL_CHECK(call, comm)                                                          \
    do {                                                                                   \
        ncclResult_t vs_nccl_rc_ = (call);                                                 \
        if (vs_nccl_rc_ != ncclSuccess) nccl_die(__FILE__, __LINE__, #call, vs_nccl_rc_, (comm)); \
    } while (0)
#define VS_CUDA_CHECK(call) \
    VS_CUDA_CHECK_HINT(call, "check nvidia-smi for a faulty or busy GPU; rerun with CUDA_LAUNCH_BLOCKING=1")

typedef struct {
    MPI_Comm comm;
    ncclComm_t nccl;
    cudaStream_t stream;
    float *scratch;  // one float on the device, for the barrier
    cudaEvent_t inputs_ready;  // recorded ahead of each collective (see Timing above)
} nccl_impl;

// ------------------------------------------------------------------------------- watchdog
#define MAX_COMMS 32
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static ncclComm_t g_comms[MAX_COMMS];
static int g_n_comms = 0;
static int g_watchdog_started = 0;

// Also run by the timeout watchdog; no lock: the process is about to die either way.
static void abort_all_comms(void) {
    for (int i = 0; i < g_n_comms; i++)
        if (g_comms[i]) ncclCommAbort(g_comms[i]);  // best effort: we are dying anyway
    g_n_comms = 0;
}

static void *watchdog(void *arg) {
    (void)arg;
    const struct timespec tick = {0, 100 * 1000 * 1000};
    for (;;) {
        nanosleep(&tick, NULL);
        pthread_mutex_lock(&g_lock);
        for (int i = 0; i < g_n_comms; i++) {
            ncclResult_t async = ncclSuccess;
            ncclResult_t r = ncclCommGetAsyncError(g_comms[i], &async);
            if (r != ncclSuccess || (async != ncclSuccess && async != ncclInProgress)) {
                char what[512];
                snprintf(what, sizeof what, "asynchronous NCCL error on communicator %d: %s", i,
                         ncclGetErrorString(r != ncclSuccess ? r : async));
                abort_all_comms();
                vs_die(__FILE__, __LINE__, "ncclCommGetAsyncError (watchdog)", what,
                       "rerun with NCCL_DEBUG=WARN; check the links between the GPUs/hosts and that no rank died");
            }
        }
        pthread_mutex_unlock(&g_lock);
    }
    return NULL;
}

static void watch(ncclComm_t comm) {
    pthread_mutex_lock(&g_lock);
    VS_ASSERT(g_n_comms < MAX_COMMS, "too many NCCL communicators for the watchdog; raise MAX_COMMS");
    g_comms[g_n_comms++] = comm;
    if (!g_watchdog_started) {
        pthread_t th;
        if (pthread_create(&th, NULL, watchdog, NULL) != 0)
            vs_die(__FILE__, __LINE__, "pthread_create", "cannot start the NCCL watchdog thread",
                   "raise the process/thread limit (ulimit -u)");
        pthread_detach(th);
        g_watchdog_started = 1;
        vs_transport_add_abort_hook(abort_all_comms);
    }
    pthread_mutex_unlock(&g_lock);
}

static void unwatch(ncclComm_t comm) {
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < g_n_comms; i++)
        if (g_comms[i] == comm) g_comms[i] = g_comms[--g_n_comms];
    pthread_mutex_unlock(&g_lock);
}

// ------------------------------------------------------------------------------- calls
static nccl_impl *impl_of(vs_transport *t) { return (nccl_impl *)t->impl; }

static void begin(vs_transport *t) {
    vs_transport_begin(t);
    VS_CUDA_CHECK(cudaEventRecord(impl_of(t)->inputs_ready, impl_of(t)->stream));
}

// Waits for the stream without blocking inside CUDA, so NCCL's asynchronous errors surface.
static void finish(vs_transport *t) {
    nccl_impl *n = impl_of(t);
    int ready = 0;
    for (;;) {
        if (!ready) {
            cudaError_t e = cudaEventQuery(n->inputs_ready);
            if (e != cudaErrorNotReady) VS_CUDA_CHECK(e);
            if (e == cudaSuccess) vs_transport_inputs_ready(t), ready = 1;
        }
        cudaError_t q = cudaStreamQuery(n->stream);
        if (q == cudaSuccess) break;
        if (q != cudaErrorNotReady) VS_CUDA_CHECK(q);
        ncclResult_t async = ncclSuccess;
        VS_NCCL_CHECK(ncclCommGetAsyncError(n->nccl, &async), n->nccl);
        if (async != ncclSuccess && async != ncclInProgress) nccl_die(__FILE__, __LINE__, "NCCL collective", async, n->nccl);
        sched_yield();
    }
    vs_transport_end(t);
}

static void nccl_alltoallv(vs_transport *t, const void *send, const size_t *send_bytes,
                           const size_t *send_offsets, void *recv, const size_t *recv_bytes,
                           const size_t *recv_offsets) {
    nccl_impl *n = impl_of(t);
    begin(t);
    VS_NCCL_CHECK(ncclGroupStart(), n->nccl);
    for (int p = 0; p < t->size; p++) {
        if (send_bytes[p])
            VS_NCCL_CHECK(ncclSend((const char *)send + send_offsets[p], send_bytes[p], ncclUint8, p, n->nccl, n->stream), n->nccl);
        if (recv_bytes[p])
            VS_NCCL_CHECK(ncclRecv((char *)recv + recv_offsets[p], recv_bytes[p], ncclUint8, p, n->nccl, n->stream), n->nccl);
    }
    VS_NCCL_CHECK(ncclGroupEnd(), n->nccl);
    finish(t);
}

// Grouped broadcasts: ncclAllGather needs equal blocks, these may differ.
static void nccl_allgatherv(vs_transport *t, const void *send, size_t send_bytes, void *recv,
                            const size_t *recv_bytes, const size_t *recv_offsets) {
    nccl_impl *n = impl_of(t);
    VS_ASSERT(send_bytes == recv_bytes[t->rank], "allgatherv: this rank's block size must equal recv_bytes[rank]");
    begin(t);
    VS_NCCL_CHECK(ncclGroupStart(), n->nccl);
    for (int p = 0; p < t->size; p++)
        if (recv_bytes[p])
            VS_NCCL_CHECK(ncclBroadcast(p == t->rank ? send : (const char *)recv + recv_offsets[p],
                                        (char *)recv + recv_offsets[p], recv_bytes[p], ncclUint8, p,
                                        n->nccl, n->stream), n->nccl);
    VS_NCCL_CHECK(ncclGroupEnd(), n->nccl);
    finish(t);
}

static void nccl_allreduce_sum_f32(vs_transport *t, float *data, size_t count) {
    nccl_impl *n = impl_of(t);
    begin(t);
    VS_NCCL_CHECK(ncclAllReduce(data, data, count, ncclFloat32, ncclSum, n->nccl, n->stream), n->nccl);
    finish(t);
}

static void nccl_broadcast(vs_transport *t, void *data, size_t bytes, int root) {
    nccl_impl *n = impl_of(t);
    begin(t);
    VS_NCCL_CHECK(ncclBroadcast(data, data, bytes, ncclUint8, root, n->nccl, n->stream), n->nccl);
    finish(t);
}

// A one-float all-reduce: returns on every rank only once all have issued it.
static void nccl_barrier(vs_transport *t) {
    nccl_impl *n = impl_of(t);
    begin(t);
    VS_NCCL_CHECK(ncclAllReduce(n->scratch, n->scratch, 1, ncclFloat32, ncclSum, n->nccl, n->stream), n->nccl);
    finish(t);
}

static void nccl_destroy(vs_transport *t) {
    nccl_impl *n = impl_of(t);
    unwatch(n->nccl);
    VS_NCCL_CHECK(ncclCommFinalize(n->nccl), n->nccl);
    VS_NCCL_CHECK(ncclCommDestroy(n->nccl), NULL);
    VS_CUDA_CHECK(cudaFree(n->scratch));
    VS_CUDA_CHECK(cudaEventDestroy(n->inputs_ready));
    VS_MPI_CHECK(MPI_Comm_free(&n->comm));
    free(n);
    free(t);
}

vs_transport *vs_transport_nccl_new(MPI_Comm comm) {
    vs_transport *t = vs_calloc(1, sizeof *t);
    nccl_impl *n = vs_calloc(1, sizeof *n);
    VS_MPI_CHECK(MPI_Comm_dup(comm, &n->comm));
    VS_MPI_CHECK(MPI_Comm_set_errhandler(n->comm, MPI_ERRORS_RETURN));
    VS_MPI_CHECK(MPI_Comm_rank(n->comm, &t->rank));
    VS_MPI_CHECK(MPI_Comm_size(n->comm, &t->size));
    ncclUniqueId id;
    if (t->rank == 0) VS_NCCL_CHECK(ncclGetUniqueId(&id), NULL);
    VS_MPI_CHECK(MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, n->comm));
    VS_MPI_CHECK(MPI_Barrier(n->comm));
    t->name = "nccl init";
    vs_transport_begin(t);  // a peer that never joins (wrong network, dead host) hits the timeout
    VS_NCCL_CHECK(ncclCommInitRank(&n->nccl, t->size, id, t->rank), NULL);
    vs_transport_end(t);
    n->stream = cudaStreamLegacy;
    VS_CUDA_CHECK(cudaMalloc((void **)&n->scratch, sizeof(float)));
    VS_CUDA_CHECK(cudaMemset(n->scratch, 0, sizeof(float)));
    VS_CUDA_CHECK(cudaEventCreateWithFlags(&n->inputs_ready, cudaEventDisableTiming));
    watch(n->nccl);
    t->name = "nccl";
    t->memory = VS_DEV_CUDA;
    t->alltoallv = nccl_alltoallv;
    t->allgatherv = nccl_allgatherv;
    t->allreduce_sum_f32 = nccl_allreduce_sum_f32;
    t->broadcast = nccl_broadcast;
    t->barrier = nccl_barrier;
    t->destroy = nccl_destroy;
    t->impl = n;
    return t;
}
#endif
