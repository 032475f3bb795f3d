// How the ranks of a job are laid out: world = cfg_degree x ulysses_degree.
//
//   world rank r:  cfg branch b = r / ulysses_degree   (0: conditional, 1: unconditional)
//                  Ulysses rank u = r % ulysses_degree
// Ulysses groups are runs of consecutive ranks, so with one rank per GPU and ranks filled host by
// host, the all-to-all heavy Ulysses traffic stays inside a node (NVLink) and only the once-per-
// step CFG exchange crosses nodes. CFG pairs are {u, ulysses_degree + u}.
#pragma once

#include "parallel/vs_dist.h"
#include "parallel/vs_transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int world_rank, world_size;
    int cfg_degree;      // 1: both CFG branches on every rank (serially); 2: one branch per group
    int ulysses_degree;  // ranks per Ulysses group
    int cfg_branch;      // this rank's branch when cfg_degree == 2, else 0
    int ulysses_rank;    // index within the Ulysses group (owns token shard ulysses_rank)
    vs_transport *ulysses;  // the Ulysses group (size ulysses_degree)
    vs_transport *cfg;      // this rank and its pair in the other branch (size 2, rank =
                            // cfg_branch), NULL when cfg_degree == 1
    vs_transport *world;    // all ranks
} vs_groups;

// Checks a layout before any work: world == cfg_degree * ulysses, cfg_degree in {1, 2},
// 1 <= ulysses <= num_heads (every rank must own at least one head). Returns 0, or -1 with a
// message (vs_last_error) that says which layouts would work.
int vs_layout_check(int world_size, int ulysses_degree, int cfg_degree, int num_heads);

// Builds the groups and a transport for each (collective over MPI_COMM_WORLD: every rank calls
// it with the same arguments). Dies with vs_layout_check's message on a bad layout.
void vs_groups_init(vs_groups *g, const vs_dist *d, int ulysses_degree, int cfg_degree,
                    int num_heads, vs_transport_kind kind);
void vs_groups_free(vs_groups *g);

// One transport over all ranks (collective over MPI_COMM_WORLD), for benchmarks.
vs_transport *vs_transport_world_new(vs_transport_kind kind);

// Parses "mpi" / "nccl" / "mpi-staged"; returns -1 (with a message) for anything else or for a
// transport the build lacks (nccl: CUDA + NCCL; mpi-staged: CUDA).
int vs_transport_kind_parse(const char *s, vs_transport_kind *out);

// The transport for a model on the GPU (collective; ranks bound with vs_dist_bind_device): NCCL
// when every rank has a GPU of its own; MPI with host staging when ranks share a GPU (NCCL
// refuses a communicator with a duplicate GPU) or the build has no NCCL. Same answer on every rank.
vs_transport_kind vs_transport_kind_for_cuda(const vs_dist *d);

#ifdef __cplusplus
}
#endif
