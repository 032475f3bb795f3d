// Process bootstrap for multi-rank jobs: who am I, how many of us, which GPU is mine.
//
// A job is N processes started by mpirun or srun. vs_dist_init brings MPI up (when the build has
// it), records rank/host for every error message (vs_set_identity) and installs an abort handler
// so that any vs_die on any rank ends the whole job through MPI_Abort instead of leaving the
// other ranks blocked in a collective. The local rank (index among the processes on this host)
// comes from MPI_Comm_split_type(MPI_COMM_TYPE_SHARED), which works under every launcher.
//
// A build without MPI runs as rank 0 of 1 and refuses to start when a launcher says otherwise.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int rank, world;             // in MPI_COMM_WORLD
    int local_rank, local_size;  // among the ranks on this host
    int device;                  // the CUDA device this rank drives, -1 when none was bound
    int mpi;                     // 1 when this process initialised MPI (and must finalise it)
} vs_dist;

// How many ranks the launcher (mpirun, srun) started, from its environment, without starting
// MPI: 1 when not launched as part of a job.
int vs_dist_launcher_size(void);

// Idempotent per process: a second call returns the same description.
void vs_dist_init(vs_dist *d);

// Binds this rank to one CUDA device: device = local_rank. More ranks on a host than GPUs is an
// error (two ranks of one NCCL communicator on one device may hang) unless `share` is set, in
// which case device = local_rank % count (tests only; env VS_SHARE_GPU=1 sets it too). Returns
// the device, or -1 in a build without CUDA (CPU run).
int vs_dist_bind_device(vs_dist *d, int share);

// 1 when ranks share a GPU somewhere in the job: on some host more ranks than visible GPUs
// (collective over all ranks; call after vs_dist_bind_device). NCCL refuses such groups.
int vs_dist_shares_device(const vs_dist *d);

// printf on rank 0 only (progress, tables).
void vs_print0(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

// The largest x over all ranks (host values; timings). x itself in a single process.
double vs_dist_max(double x);
// The sum of x over all ranks (host values; counts).
double vs_dist_sum(double x);

// For a rank whose run failed: returns when every rank of the job failed too (then each may
// exit with its code cleanly); otherwise, after 5 s, ends the whole job with `code`
// (vs_dist_abort), since the others may wait for this rank forever.
void vs_dist_fail(int code);

// Ends every rank of the job with exit code `code` (MPI_Abort); exit(code) in one process.
void vs_dist_abort(int code);

// Finalises MPI if vs_dist_init started it. Call once, after the last collective.
void vs_dist_finalize(vs_dist *d);

#ifdef __cplusplus
}
#endif
