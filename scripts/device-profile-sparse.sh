#!/usr/bin/env bash
# Nsight Compute sections (warp stall reasons, tensor pipe and memory throughput) of one
# persistent sparse attention call and one dense call at Wan 1.3B 480p, to see what bounds the
# sparse key-tile loop. Run through scripts/device-run.sh so the build exists:
#   bash scripts/device-run.sh bash scripts/device-profile-sparse.sh [TOP_P]
# TOP_P: the `bench attention` top-p of the sparse call (default 0.8: ~13% density).
# Output: $OUT/profile-sparse.txt (default ./out).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/out}
mkdir -p "$out"
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
[ -n "$ncu" ] || { echo "ncu (Nsight Compute) not found"; exit 1; }
top_p=${1:-0.8}
sections="--section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section WarpStateStats --section SchedulerStats"
for kernel in sparse_persistent_kernel dense_kernel; do
  echo "== $kernel (bench attention --shape wan1.3b-480p --top-p $top_p)" | tee -a "$out/profile-sparse.txt"
  timeout 280 "$ncu" --clock-control none $sections -k regex:$kernel --launch-count 1 \
    "$root/build-gpu/vidsparse" bench attention --shape wan1.3b-480p --top-p "$top_p" --iters 1 \
    --warmup 0 2>&1 | grep -vE "^(  0\.|BAR|#)" | tee -a "$out/profile-sparse.txt" | tail -5
done
