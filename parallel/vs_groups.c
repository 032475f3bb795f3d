#include "parallel/vs_groups.h"

#include <string.h>

#include "parallel/vs_mpi_check.h"
#include "runtime/vs_check.h"

int vs_layout_check(int world_size, int ulysses_degree, int cfg_degree, int num_heads) {
    if (cfg_degree != 1 && cfg_degree != 2)
        return VS_FAIL("CFG degree %d: must be 1 (no --cfg-parallel) or 2 (--cfg-parallel)", cfg_degree);
    if (ulysses_degree < 1)
        return VS_FAIL("--ulysses %d: must be at least 1", ulysses_degree);
    if (ulysses_degree * cfg_degree != world_size) {
        if (cfg_degree == 2 && world_size % 2)
            return VS_FAIL("--cfg-parallel needs an even number of ranks, this job has %d; use --ulysses %d "
                           "without --cfg-parallel", world_size, world_size);
        return VS_FAIL("layout needs --ulysses x (--cfg-parallel ? 2 : 1) == number of ranks, but %d x %d != %d; "
                       "use --ulysses %d", ulysses_degree, cfg_degree, world_size, world_size / cfg_degree);
    }
    if (ulysses_degree > num_heads)
        return VS_FAIL("--ulysses %d exceeds the model's %d attention heads: every Ulysses rank needs at "
                       "least one whole head; use --ulysses <= %d (add --cfg-parallel to use more ranks)",
                       ulysses_degree, num_heads, num_heads);
    return 0;
}

int vs_transport_kind_parse(const char *s, vs_transport_kind *out) {
    if (!strcmp(s, "mpi")) {
        *out = VS_TRANSPORT_MPI;
        return 0;
    }
    if (!strcmp(s, "nccl")) {
#ifdef VS_HAVE_NCCL
        *out = VS_TRANSPORT_NCCL;
        return 0;
#else
        return VS_FAIL("transport 'nccl' is not built in (needs CUDA and NCCL at build time); use 'mpi'");
#endif
    }
    if (!strcmp(s, "mpi-staged")) {
#ifdef VS_HAVE_CUDA
        *out = VS_TRANSPORT_MPI_STAGED;
        return 0;
#else
        return VS_FAIL("transport 'mpi-staged' is not built in (it moves GPU memory; needs CUDA at build time); use 'mpi'");
#endif
    }
    return VS_FAIL("unknown transport '%s' (use mpi, nccl or mpi-staged)", s);
}

vs_transport_kind vs_transport_kind_for_cuda(const vs_dist *d) {
    const int shared = vs_dist_shares_device(d);  // collective: every rank calls it
#ifdef VS_HAVE_NCCL
    return shared ? VS_TRANSPORT_MPI_STAGED : VS_TRANSPORT_NCCL;
#else
    (void)shared;
    return VS_TRANSPORT_MPI_STAGED;
#endif
}

#ifdef VS_HAVE_MPI
static vs_transport *make_transport(MPI_Comm comm, vs_transport_kind kind) {
#ifdef VS_HAVE_NCCL
    if (kind == VS_TRANSPORT_NCCL) return vs_transport_nccl_new(comm);
#endif
#ifdef VS_HAVE_CUDA
    if (kind == VS_TRANSPORT_MPI_STAGED) return vs_transport_staged_new(vs_transport_mpi_new(comm));
#endif
    VS_ASSERT(kind == VS_TRANSPORT_MPI, "this build has no such transport (nccl needs CUDA + NCCL, mpi-staged CUDA); use the mpi transport");
    return vs_transport_mpi_new(comm);
}
#endif

void vs_groups_init(vs_groups *g, const vs_dist *d, int ulysses_degree, int cfg_degree,
                    int num_heads, vs_transport_kind kind) {
    memset(g, 0, sizeof *g);
    if (vs_layout_check(d->world, ulysses_degree, cfg_degree, num_heads) != 0)
        vs_die(__FILE__, __LINE__, "vs_layout_check", vs_last_error(), "choose a layout that fits the rank count and the heads");
    g->world_rank = d->rank;
    g->world_size = d->world;
    g->cfg_degree = cfg_degree;
    g->ulysses_degree = ulysses_degree;
    g->cfg_branch = d->rank / ulysses_degree;
    g->ulysses_rank = d->rank % ulysses_degree;
#ifdef VS_HAVE_MPI
    MPI_Comm ulysses, pair;
    VS_MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, g->cfg_branch, g->ulysses_rank, &ulysses));
    g->ulysses = make_transport(ulysses, kind);
    VS_MPI_CHECK(MPI_Comm_free(&ulysses));
    // Every rank takes part in the split; only real pairs keep their transport.
    VS_MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, g->ulysses_rank, g->cfg_branch, &pair));
    if (cfg_degree == 2) g->cfg = make_transport(pair, kind);
    VS_MPI_CHECK(MPI_Comm_free(&pair));
    g->world = make_transport(MPI_COMM_WORLD, kind);
#else
    (void)kind;
    vs_die(__FILE__, __LINE__, "vs_groups_init", "this build has no MPI",
           "rebuild with MPI (libopenmpi-dev) to run on several ranks");
#endif
}

vs_transport *vs_transport_world_new(vs_transport_kind kind) {
#ifdef VS_HAVE_MPI
    return make_transport(MPI_COMM_WORLD, kind);
#else
    (void)kind;
    vs_die(__FILE__, __LINE__, "vs_transport_world_new", "this build has no MPI",
           "rebuild with MPI (libopenmpi-dev) to use a transport");
#endif
}

void vs_groups_free(vs_groups *g) {
    vs_transport_free(g->ulysses);
    vs_transport_free(g->cfg);
    vs_transport_free(g->world);
    memset(g, 0, sizeof *g);
}
