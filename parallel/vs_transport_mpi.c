// The MPI transport: host memory, any MPI. Used for CPU runs and every test on this machine.
#include "parallel/vs_transport.h"

#ifdef VS_HAVE_MPI
#include <stdlib.h>

#include "parallel/vs_mpi_check.h"

typedef struct {
    MPI_Comm comm;
    int *counts, *displs, *rcounts, *rdispls;  // [size] scratch for the v-collectives
} mpi_impl;

static mpi_impl *impl_of(vs_transport *t) { return (mpi_impl *)t->impl; }

static void to_int(const size_t *bytes, const size_t *offsets, int n, int *counts, int *displs) {
    for (int p = 0; p < n; p++) {
        counts[p] = VS_MPI_COUNT(bytes[p]);
        displs[p] = VS_MPI_COUNT(offsets[p]);
    }
}

static void mpi_alltoallv(vs_transport *t, const void *send, const size_t *send_bytes,
                          const size_t *send_offsets, void *recv, const size_t *recv_bytes,
                          const size_t *recv_offsets) {
    vs_transport_begin(t);
    mpi_impl *m = impl_of(t);
    to_int(send_bytes, send_offsets, t->size, m->counts, m->displs);
    to_int(recv_bytes, recv_offsets, t->size, m->rcounts, m->rdispls);
    VS_MPI_CHECK(MPI_Alltoallv(send, m->counts, m->displs, MPI_BYTE, recv, m->rcounts, m->rdispls,
                               MPI_BYTE, m->comm));
    vs_transport_end(t);
}

static void mpi_allgatherv(vs_transport *t, const void *send, size_t send_bytes, void *recv,
                           const size_t *recv_bytes, const size_t *recv_offsets) {
    vs_transport_begin(t);
    mpi_impl *m = impl_of(t);
    VS_ASSERT(send_bytes == recv_bytes[t->rank], "allgatherv: this rank's block size must equal recv_bytes[rank]");
    to_int(recv_bytes, recv_offsets, t->size, m->rcounts, m->rdispls);
    VS_MPI_CHECK(MPI_Allgatherv(send, VS_MPI_COUNT(send_bytes), MPI_BYTE, recv, m->rcounts,
                                m->rdispls, MPI_BYTE, m->comm));
    vs_transport_end(t);
}

static void mpi_allreduce_sum_f32(vs_transport *t, float *data, size_t count) {
    vs_transport_begin(t);
    VS_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, VS_MPI_COUNT(count), MPI_FLOAT, MPI_SUM, impl_of(t)->comm));
    vs_transport_end(t);
}

static void mpi_broadcast(vs_transport *t, void *data, size_t bytes, int root) {
    vs_transport_begin(t);
    VS_MPI_CHECK(MPI_Bcast(data, VS_MPI_COUNT(bytes), MPI_BYTE, root, impl_of(t)->comm));
    vs_transport_end(t);
}

static void mpi_barrier(vs_transport *t) {
    vs_transport_begin(t);
    VS_MPI_CHECK(MPI_Barrier(impl_of(t)->comm));
    vs_transport_end(t);
}

static void mpi_destroy(vs_transport *t) {
    mpi_impl *m = impl_of(t);
    VS_MPI_CHECK(MPI_Comm_free(&m->comm));
    free(m->counts);
    free(m->displs);
    free(m->rcounts);
    free(m->rdispls);
    free(m);
    free(t);
}

vs_transport *vs_transport_mpi_new(MPI_Comm comm) {
    vs_transport *t = vs_calloc(1, sizeof *t);
    mpi_impl *m = vs_calloc(1, sizeof *m);
    VS_MPI_CHECK(MPI_Comm_dup(comm, &m->comm));
    VS_MPI_CHECK(MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN));
    VS_MPI_CHECK(MPI_Comm_rank(m->comm, &t->rank));
    VS_MPI_CHECK(MPI_Comm_size(m->comm, &t->size));
    m->counts = vs_calloc((size_t)t->size, sizeof(int));
    m->displs = vs_calloc((size_t)t->size, sizeof(int));
    m->rcounts = vs_calloc((size_t)t->size, sizeof(int));
    m->rdispls = vs_calloc((size_t)t->size, sizeof(int));
    t->name = "mpi";
    t->memory = VS_DEV_CPU;
    t->alltoallv = mpi_alltoallv;
    t->allgatherv = mpi_allgatherv;
    t->allreduce_sum_f32 = mpi_allreduce_sum_f32;
    t->broadcast = mpi_broadcast;
    t->barrier = mpi_barrier;
    t->destroy = mpi_destroy;
    t->impl = m;
    return t;
}
#endif
