#!/usr/bin/env bash
# A multi-rank job must end promptly, with a non-zero exit and a message naming the rank and
# host, when one rank fails, never hang:
#   1. one rank hits vs_die mid-run (test hook VS_TEST_FAIL_RANK / VS_TEST_FAIL_AFTER, counted in
#      collectives) while the others wait in an all-to-all: vs_die -> MPI_Abort;
#   2. one rank is killed with SIGKILL mid-run: mpirun notices and ends the others;
#   3. as 1, inside `vidsparse generate --ulysses 2`;
#   4. one rank stalls forever, alive (test hook VS_TEST_STALL_RANK): the others' watchdog
#      (VS_COMM_TIMEOUT_S=3 here) aborts the job;
#   5. real bad input seen by rank 0 only (generate's VAE is opened on rank 0 alone): rank 0
#      fails before the others need it, they go on into a collective; the job is aborted.
# The long-running job is `vidsparse bench comm` with a huge iteration count; every launch is
# guarded by `timeout 60` and must finish well before it.
set -uo pipefail
[ "${VS_HAVE_MPI:-OFF}" = "ON" ] || { echo "skipped: built without MPI"; exit 77; }
mpiexec=${MPIEXEC:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export VS_DEVICE=cpu  # generate's CPU path, also on a GPU machine
host=$(hostname)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
forever=(bench comm --transport mpi -b 4K -e 4K -n 100000000 -w 0)
fail=0

echo "== 1. VS_TEST_FAIL_RANK=1: rank 1 of 3 dies at its 40th collective"
start=$SECONDS
VS_TEST_FAIL_RANK=1 VS_TEST_FAIL_AFTER=40 timeout 60 "$mpiexec" --oversubscribe -np 3 \
    -x VS_TEST_FAIL_RANK -x VS_TEST_FAIL_AFTER "$VS_BINARY" "${forever[@]}" >"$work/out1" 2>&1
rc=$?
took=$((SECONDS - start))
grep -E "ERROR|abort|MPI_ABORT" "$work/out1" | head -5
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then echo "FAIL: exit $rc (0 = not detected, 124 = hung)"; fail=1; fi
grep -q "rank 1/3 on $host" "$work/out1" || { echo "FAIL: no message naming rank 1 and host $host"; fail=1; }
grep -q "VS_TEST_FAIL_RANK" "$work/out1" || { echo "FAIL: the failing call is not named"; fail=1; }
[ "$took" -le 30 ] || { echo "FAIL: took ${took}s to end the job"; fail=1; }
echo "exit $rc after ${took}s"

echo "== 2. kill -9 of rank 2 of 4 mid-run"
start=$SECONDS
timeout 60 "$mpiexec" --oversubscribe -np 4 bash -c \
    'echo $$ > "'"$work"'/pid.$OMPI_COMM_WORLD_RANK"; exec "$0" "$@"' "$VS_BINARY" "${forever[@]}" \
    >"$work/out2" 2>&1 &
launcher=$!
for _ in $(seq 100); do [ -s "$work/pid.2" ] && grep -q "size(B)" "$work/out2" && break; sleep 0.1; done
sleep 0.5
if [ -s "$work/pid.2" ]; then kill -9 "$(cat "$work/pid.2")"; else echo "FAIL: rank 2 never started"; fail=1; fi
wait "$launcher"
rc=$?
took=$((SECONDS - start))
grep -iE "rank|signal|killed" "$work/out2" | grep -v "^#" | head -5
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then echo "FAIL: exit $rc (0 = not detected, 124 = hung)"; fail=1; fi
grep -qE "rank 2 .*(on node|on) $host" "$work/out2" || { echo "FAIL: no message naming rank 2 and host $host"; fail=1; }
[ "$took" -le 30 ] || { echo "FAIL: took ${took}s to end the job"; fail=1; }
echo "exit $rc after ${took}s"

echo "== 3. VS_TEST_FAIL_RANK=1 in vidsparse generate --ulysses 2 (mid-denoising)"
start=$SECONDS
VS_TEST_FAIL_RANK=1 VS_TEST_FAIL_AFTER=12 timeout 90 "$mpiexec" --oversubscribe -np 2 \
    -x VS_TEST_FAIL_RANK -x VS_TEST_FAIL_AFTER "$VS_BINARY" generate --model tiny --ulysses 2 \
    -o "$work/never.safetensors" >"$work/out3" 2>&1
rc=$?
took=$((SECONDS - start))
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then echo "FAIL: exit $rc (0 = not detected, 124 = hung)"; fail=1; fi
grep -q "rank 1/2 on $host" "$work/out3" || { echo "FAIL: no message naming rank 1 and host $host"; fail=1; }
[ ! -e "$work/never.safetensors" ] || { echo "FAIL: a failed run wrote its output"; fail=1; }
# (includes building the model: ~20 s in a sanitizer build)
[ "$took" -le 60 ] || { echo "FAIL: took ${took}s to end the job"; fail=1; }
echo "exit $rc after ${took}s"

echo "== 4. VS_TEST_STALL_RANK=1: rank 1 of 3 stops at its 40th collective; timeout 3 s"
start=$SECONDS
VS_TEST_STALL_RANK=1 VS_TEST_FAIL_AFTER=40 VS_COMM_TIMEOUT_S=3 timeout 60 "$mpiexec" --oversubscribe -np 3 \
    -x VS_TEST_STALL_RANK -x VS_TEST_FAIL_AFTER -x VS_COMM_TIMEOUT_S "$VS_BINARY" "${forever[@]}" >"$work/out4" 2>&1
rc=$?
took=$((SECONDS - start))
grep -E "ERROR|stalls|within" "$work/out4" | head -4
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then echo "FAIL: exit $rc (0 = not detected, 124 = hung)"; fail=1; fi
grep -qE "rank [02]/3 on $host" "$work/out4" || { echo "FAIL: no message naming a waiting rank and host $host"; fail=1; }
grep -q "did not finish within 3 s" "$work/out4" || { echo "FAIL: the watchdog did not fire"; fail=1; }
[ "$took" -le 30 ] || { echo "FAIL: took ${took}s to end the job"; fail=1; }
echo "exit $rc after ${took}s"

echo "== 5. an unusable --vae, seen by rank 0 only, in generate --ulysses 2"
mkdir -p "$work/empty_vae"
start=$SECONDS
timeout 60 "$mpiexec" --oversubscribe -np 2 "$VS_BINARY" generate --model tiny --ulysses 2 \
    --vae "$work/empty_vae" -o "$work/never.mp4" >"$work/out5" 2>&1
rc=$?
took=$((SECONDS - start))
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then echo "FAIL: exit $rc (0 = not detected, 124 = hung)"; fail=1; fi
grep -q "loading the VAE" "$work/out5" || { echo "FAIL: no message about the VAE"; fail=1; }
[ "$took" -le 45 ] || { echo "FAIL: took ${took}s to end the job"; fail=1; }
echo "exit $rc after ${took}s"

[ "$fail" -eq 0 ] && echo "failure handling: ok"
exit "$fail"
