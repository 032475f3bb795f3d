#!/usr/bin/env bash
# The GPU run behind docs/performance.md, after scripts/device-run.sh has built build-gpu:
#   bash scripts/device-run.sh bash scripts/device-bench-svg2.sh [bench options]
# runs the SVG2 and attention GPU tests, `vidsparse bench attention` on every shape, and PyTorch
# SDPA (cuDNN, FlashAttention-2) on the same shapes. Logs go to $OUT (default ./out).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/out}
mkdir -p "$out"
status=0
for t in test_svg2_gpu test_attention_gpu; do
  if [ -x "$root/build-gpu/$t" ]; then
    (cd "$root/build-gpu" && timeout 240 "./$t") >"$out/$t.log" 2>&1 || status=1
    tail -3 "$out/$t.log"
  fi
done
grep -h "FAIL\|operator\|k-means" "$out/test_svg2_gpu.log" | head -40
date -u +"# %Y-%m-%d %H:%M UTC" | tee "$out/bench_attention.txt"
"$root/build-gpu/vidsparse" bench attention "$@" 2>&1 | tee -a "$out/bench_attention.txt" || status=1
for shape in "32760 12" "75600 40" "119056 24"; do
  timeout 120 python3 "$root/tools/bench_sdpa.py" $shape 128 2>&1 | tee -a "$out/bench_sdpa.txt"
done
exit $status
