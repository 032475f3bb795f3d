#!/usr/bin/env bash
# Nsight Compute profile of one dense attention call, ours and cuDNN's (PyTorch SDPA), at the
# given shapes: memory traffic (DRAM bytes, L2 hit rate) and throughput, to see where the long-S
# gap to cuDNN comes from. Run through scripts/device-run.sh so the build exists:
#   bash scripts/device-run.sh bash scripts/device-profile-attention.sh [SHAPE ...]
# SHAPE: a `bench attention --shape` name (default: wan1.3b-480p wan14b-720p).
# With --sparse [TOP_P] instead: Nsight Compute sections (warp state, tensor pipe and memory
# throughput) of one persistent sparse call (default top-p 0.8: ~13% density) and one dense call
# at Wan 1.3B 480p, to see what bounds the sparse key-tile loop ($OUT/profile-sparse.txt).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/out}
mkdir -p "$out"
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
[ -n "$ncu" ] || { echo "ncu (Nsight Compute) not found"; exit 1; }
if [ "${1:-}" = --sparse ]; then
  top_p=${2:-0.8}
  sections="--section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section WarpStateStats --section SchedulerStats"
  for kernel in sparse_persistent_kernel dense_kernel; do
    echo "== $kernel (bench attention --shape wan1.3b-480p --top-p $top_p)" | tee -a "$out/profile-sparse.txt"
    timeout 280 "$ncu" --clock-control none $sections -k regex:$kernel --launch-count 1 \
      "$root/build-gpu/vidsparse" bench attention --shape wan1.3b-480p --top-p "$top_p" --iters 1 \
      --warmup 0 2>&1 | grep -vE "^(  0\.|BAR|#)" | tee -a "$out/profile-sparse.txt" | tail -5
  done
  exit 0
fi
metrics=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,\
lts__t_sector_hit_rate.pct,lts__t_sectors_srcunit_tex_op_read.sum,\
dram__throughput.avg.pct_of_peak_sustained_elapsed,lts__throughput.avg.pct_of_peak_sustained_elapsed,\
sm__throughput.avg.pct_of_peak_sustained_elapsed,sm__cycles_elapsed.avg.per_second
shapes=${*:-wan1.3b-480p wan14b-720p}
for shape in $shapes; do
  echo "== ours: $shape"
  "$ncu" --clock-control none --metrics "$metrics" -k regex:dense_kernel --launch-count 1 \
    "$root/build-gpu/vidsparse" bench attention --shape "$shape" --top-p 0.9 --iters 1 --warmup 0 \
    2>&1 | grep -E "dense_kernel|gpu__|dram__|lts__|sm__" | tee -a "$out/profile.txt"
  case $shape in
    wan1.3b-480p) S=32760 H=12 ;; wan14b-720p) S=75600 H=40 ;; hunyuan-720p) S=119056 H=24 ;;
    *) continue ;;
  esac
  echo "== cuDNN (PyTorch SDPA): $shape"
  "$ncu" --clock-control none --metrics "$metrics" -k regex:"sdpa|fmha|attn|flash" --launch-count 1 \
    python3 "$root/tools/bench_sdpa.py" "$S" "$H" 128 \
    2>&1 | grep -E "sdpa|fmha|attn|flash|gpu__|dram__|lts__|sm__" | tee -a "$out/profile.txt"
done
