#include "parallel/vs_dist.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parallel/vs_mpi_check.h"
#include "runtime/vs_check.h"

#ifdef VS_HAVE_CUDA
#include <cuda_runtime.h>
#endif

static vs_dist g_dist;
#ifdef VS_HAVE_MPI
static MPI_Comm g_vote_comm = MPI_COMM_NULL;  // used only by vs_dist_fail
#endif
static int g_dist_ready = 0;

#ifdef VS_HAVE_MPI
void vs_mpi_die(const char *file, int line, const char *call, int code) {
    char msg[MPI_MAX_ERROR_STRING + 64];
    int len = 0;
    if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "MPI error %d", code);
    vs_die(file, line, call, msg,
           "another rank probably died first (look for its message above); otherwise check the "
           "launcher (mpirun/srun), the network and that all ranks run the same binary and options");
}

int vs_mpi_count(size_t bytes, const char *file, int line) {
    if (bytes > (size_t)2147483647)
        vs_dief(file, line, "use more ranks or a smaller size; MPI counts are 32-bit",
                "message of %zu bytes is too large for one MPI call", bytes);
    return (int)bytes;
}

// vs_die -> MPI_Abort: mpirun then kills every rank of the job, so nobody waits forever.
static void abort_job(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
#endif

// A launcher that started several ranks, seen from a build that cannot join them.
int vs_dist_launcher_size(void) {
    // SLURM_STEP_NUM_TASKS, not SLURM_NTASKS: the latter is also set in a batch script outside srun.
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *s = getenv(vars[i]);
        if (s && atoi(s) > 1) return atoi(s);
    }
    return 1;
}

void vs_dist_init(vs_dist *d) {
    if (g_dist_ready) {
        *d = g_dist;
        return;
    }
    memset(&g_dist, 0, sizeof g_dist);
    g_dist.world = 1;
    g_dist.local_size = 1;
    g_dist.device = -1;
#ifdef VS_HAVE_MPI
    int initialised = 0;
    VS_MPI_CHECK(MPI_Initialized(&initialised));
    if (!initialised) {
        // THREAD_MULTIPLE: the NCCL watchdog thread may call MPI_Abort while the main thread is
        // inside a collective. A library that grants less still works; only that abort is racier.
        int provided = 0;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
            vs_die(__FILE__, __LINE__, "MPI_Init_thread", "MPI failed to start",
                   "launch with mpirun/srun from the same MPI the binary was built with");
        g_dist.mpi = 1;
    }
    VS_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    VS_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &g_dist.rank));
    VS_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &g_dist.world));
    vs_set_identity(g_dist.rank, g_dist.world);
    vs_set_abort_handler(abort_job);
    MPI_Comm node;
    VS_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_dist.rank, MPI_INFO_NULL, &node));
    VS_MPI_CHECK(MPI_Comm_rank(node, &g_dist.local_rank));
    VS_MPI_CHECK(MPI_Comm_size(node, &g_dist.local_size));
    VS_MPI_CHECK(MPI_Comm_free(&node));
    VS_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &g_vote_comm));
#else
    int n = vs_dist_launcher_size();
    if (n > 1)
        vs_dief(__FILE__, __LINE__, "rebuild with MPI (apt-get install libopenmpi-dev, then cmake again) or run one process",
                "launched as one of %d ranks, but this vidsparse was built without MPI", n);
#endif
    g_dist_ready = 1;
    *d = g_dist;
}

int vs_dist_bind_device(vs_dist *d, int share) {
#ifdef VS_HAVE_CUDA
    const char *env = getenv("VS_SHARE_GPU");
    if (env && atoi(env) > 0) share = 1;
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0)
        vs_dief(__FILE__, __LINE__, "run on a GPU node, check CUDA_VISIBLE_DEVICES and the driver (nvidia-smi)",
                "no CUDA device visible to this rank (%s)", err != cudaSuccess ? cudaGetErrorString(err) : "count 0");
    if (d->local_size > count && !share)
        vs_dief(__FILE__, __LINE__,
                "start at most one rank per GPU on each host (mpirun -npernode <GPUs>); VS_SHARE_GPU=1 lets ranks share GPUs for testing only",
                "%d ranks on this host but only %d CUDA devices", d->local_size, count);
    d->device = d->local_rank % count;
    err = cudaSetDevice(d->device);
    if (err != cudaSuccess)
        vs_die(__FILE__, __LINE__, "cudaSetDevice", cudaGetErrorString(err),
               "check that the device is not in exclusive-process mode held by another job (nvidia-smi)");
    g_dist.device = d->device;
    return d->device;
#else
    (void)share;
    d->device = -1;
    return -1;
#endif
}

int vs_dist_shares_device(const vs_dist *d) {
    int shared = 0;
#ifdef VS_HAVE_CUDA
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) (void)cudaGetLastError();
    shared = d->device >= 0 && d->local_size > count;
#else
    (void)d;
#endif
    return vs_dist_max(shared) > 0;
}

void vs_print0(const char *fmt, ...) {
    if (vs_rank() != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

#ifdef VS_HAVE_MPI
static double allreduce_double(double x, MPI_Op op) {
    if (!g_dist_ready || g_dist.world == 1) return x;
    double out = x;
    VS_MPI_CHECK(MPI_Allreduce(&x, &out, 1, MPI_DOUBLE, op, MPI_COMM_WORLD));
    return out;
}
double vs_dist_max(double x) { return allreduce_double(x, MPI_MAX); }
double vs_dist_sum(double x) { return allreduce_double(x, MPI_SUM); }
#else
double vs_dist_max(double x) { return x; }
double vs_dist_sum(double x) { return x; }
#endif

void vs_dist_abort(int code) {
    fflush(stdout);
    fflush(stderr);
#ifdef VS_HAVE_MPI
    if (g_dist_ready) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    exit(code);
}

void vs_dist_fail(int code) {
#ifdef VS_HAVE_MPI
    if (!g_dist_ready || g_dist.world == 1) return;
    // Every failing rank enters a barrier on a communicator nothing else uses. If all ranks
    // failed (the same bad input everywhere) it completes at once and each exits cleanly;
    // if some rank is still working or waiting in a collective it never completes: abort.
    MPI_Request req;
    VS_MPI_CHECK(MPI_Ibarrier(g_vote_comm, &req));
    const struct timespec tick = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 500; i++) {  // 5 s
        int done = 0;
        VS_MPI_CHECK(MPI_Test(&req, &done, MPI_STATUS_IGNORE));
        if (done) return;
        nanosleep(&tick, NULL);
    }
    vs_dist_abort(code);
#else
    (void)code;
#endif
}

void vs_dist_finalize(vs_dist *d) {
#ifdef VS_HAVE_MPI
    if (g_dist_ready && g_dist.mpi) {
        VS_MPI_CHECK(MPI_Comm_free(&g_vote_comm));
        VS_MPI_CHECK(MPI_Finalize());
        g_dist.mpi = 0;
    }
#endif
    g_dist_ready = 0;
    d->mpi = 0;
}
