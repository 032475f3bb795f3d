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

# bench comm on the MPI transport: prints its formulas, checks the data it moved (#wrong 0).
echo "== vidsparse bench comm on 3 ranks"
out=$(timeout 120 "$mpiexec" --oversubscribe -np 3 "$VS_BINARY" bench comm --transport mpi -b 1K -e 64K -f 4 -n 3 -w 1)
echo "$out" | grep -v "^# rank"
echo "$out" | grep -q "busbw = algbw \* (n - 1) / n" || { echo "FAIL: bench comm does not print its formula"; exit 1; }
rows=$(echo "$out" | grep -vc "^#")
[ "$rows" -eq 4 ] || { echo "FAIL: expected 4 sizes, got $rows"; exit 1; }
echo "$out" | grep -v "^#" | awk '$6 != 0 { bad = 1 } END { exit bad }' || { echo "FAIL: #wrong is not 0"; exit 1; }
