// VS_MPI_CHECK: every MPI call that can fail goes through it. Communicators are set to
// MPI_ERRORS_RETURN (vs_dist_init), so a failure comes back here and becomes a vs_die naming
// rank, host, file:line, the call and MPI's own explanation; vs_die then aborts the whole job.
#pragma once
#ifdef VS_HAVE_MPI
#include <mpi.h>

#include "runtime/vs_check.h"

void vs_mpi_die(const char *file, int line, const char *call, int code);

#define VS_MPI_CHECK(call)                                                                  \
    do {                                                                                    \
        int vs_mpi_rc_ = (call);                                                            \
        if (vs_mpi_rc_ != MPI_SUCCESS) vs_mpi_die(__FILE__, __LINE__, #call, vs_mpi_rc_);   \
    } while (0)

// MPI counts are int: larger messages must be split by the caller. Dies with a hint otherwise.
int vs_mpi_count(size_t bytes, const char *file, int line);
#define VS_MPI_COUNT(bytes) vs_mpi_count((bytes), __FILE__, __LINE__)
#endif
