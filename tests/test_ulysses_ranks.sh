#!/usr/bin/env bash
# Runs the MPI test programs of the Ulysses layer on 1, 2, 3 and 4 ranks (oversubscribed: the
# ranks are processes on this CPU). Skips (77) in builds without MPI.
set -euo pipefail
[ "${VS_HAVE_MPI:-OFF}" = "ON" ] || { echo "skipped: built without MPI"; exit 77; }
bin_dir=$(dirname "$VS_BINARY")
mpiexec=${MPIEXEC:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
for prog in test_ulysses_exchange test_ulysses_attention; do
    for np in 1 2 3 4; do
        echo "== $prog on $np ranks"
        timeout 120 "$mpiexec" --oversubscribe -np "$np" "$bin_dir/$prog" | grep -E "passed|FAIL" | sort | uniq -c
    done
done
