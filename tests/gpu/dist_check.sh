#!/usr/bin/env bash
# The distributed layer on GPUs, for the device machine (not a ctest: it needs mpirun and GPUs).
#   bash scripts/device-run.sh bash tests/gpu/dist_check.sh           (after the build)
# With one GPU: the NCCL transport on one rank, bench comm. With two or more GPUs (one rank per
# GPU): the NCCL test and bench comm on all of them, and the failure paths: a rank that dies
# (VS_TEST_FAIL_RANK) and a rank that stalls (VS_TEST_STALL_RANK, watchdog after 5 s) must end
# the job within 60 s with a non-zero exit. Results are written to $OUT (default ./out).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/build-gpu
out=${OUT:-$root/out}
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0 NCCL_DEBUG=${NCCL_DEBUG:-WARN}
gpus=$(nvidia-smi -L | wc -l)
echo "GPUs: $gpus" | tee "$out/dist_check.txt"
fail=0
run() {  # name, timeout, command...
    local name=$1 limit=$2; shift 2
    local start=$SECONDS
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    local rc=$?
    echo "$name: exit $rc after $((SECONDS - start)) s" | tee -a "$out/dist_check.txt"
    return $rc
}
mpi="mpirun --bind-to none -x NCCL_NVLS_ENABLE -x NCCL_DEBUG"
run nccl_exchange_1 120 $mpi -np 1 "$bin/test_nccl_exchange" || fail=1
run bench_comm_1 300 $mpi -np 1 "$bin/vidsparse" bench comm --transport nccl -b 1K -e 256M -f 4 || fail=1
if [ "$gpus" -ge 2 ]; then
    run nccl_exchange_n 120 $mpi -np "$gpus" "$bin/test_nccl_exchange" || fail=1
    run bench_comm_n 300 $mpi -np "$gpus" "$bin/vidsparse" bench comm --transport nccl -b 1K -e 1G -f 4 || fail=1
    forever=(bench comm --transport nccl -b 4K -e 4K -n 100000000 -w 0)
    run fail_rank 60 env VS_TEST_FAIL_RANK=1 VS_TEST_FAIL_AFTER=40 $mpi -x VS_TEST_FAIL_RANK -x VS_TEST_FAIL_AFTER \
        -np "$gpus" "$bin/vidsparse" "${forever[@]}"
    rc=$?; [ $rc -ne 0 ] && [ $rc -ne 124 ] || { echo "FAIL: fail_rank exit $rc (0: not seen, 124: hung)"; fail=1; }
    grep -q "rank 1/$gpus on" "$out/fail_rank.log" || { echo "FAIL: fail_rank message"; fail=1; }
    run stall_rank 60 env VS_TEST_STALL_RANK=1 VS_TEST_FAIL_AFTER=40 VS_COMM_TIMEOUT_S=5 $mpi -x VS_TEST_STALL_RANK \
        -x VS_TEST_FAIL_AFTER -x VS_COMM_TIMEOUT_S -np "$gpus" "$bin/vidsparse" "${forever[@]}"
    rc=$?; [ $rc -ne 0 ] && [ $rc -ne 124 ] || { echo "FAIL: stall_rank exit $rc (0: not seen, 124: hung)"; fail=1; }
    grep -q "did not finish within 5 s" "$out/stall_rank.log" || { echo "FAIL: the watchdog did not fire"; fail=1; }
fi
tail -n 30 "$out"/bench_comm_*.log
echo "dist_check: $([ $fail -eq 0 ] && echo ok || echo FAILED)" | tee -a "$out/dist_check.txt"
exit $fail
