#!/usr/bin/env bash
# The attention-kernel development loop on the GPU machine, after scripts/device-run.sh has built
# build-gpu:   bash scripts/device-run.sh bash scripts/device-bench-attention-variants.sh [step]
# 1. test_attention_gpu: every usable variant against the CPU reference, then every variant timed
#    at the Wan 480p shape (VS_ATTN_BENCH_ALL=1);
# 2. the matrix instructions in the machine code (HGMMA = wgmma, HMMA = mma.sync);
# 3. PyTorch SDPA (cuDNN, FlashAttention-2) on the same shape, same run;
# 4. with `step`, and only if the checks passed: `vidsparse bench step` on Wan 1.3B 832x480x81.
# Logs go to $OUT (default ./out); a summary is printed last.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/out}
mkdir -p "$out"
cd "$root/build-gpu" || exit 1
VS_ATTN_BENCH=1 VS_ATTN_BENCH_ALL=1 timeout 420 ./test_attention_gpu >"$out/attention_variants.log" 2>&1
test_rc=$?
cuobjdump -sass test_attention_gpu 2>/dev/null |
  awk '/Function :/ {fn=$3} /HGMMA/ {h[fn]++} /HMMA/ {m[fn]++}
       END {for (f in h) print "HGMMA", h[f], f; for (f in m) print "HMMA", m[f], f}' |
  sort >"$out/attention_sass.txt"
timeout 120 python3 "$root/tools/bench_sdpa.py" 32760 12 128 >"$out/bench_sdpa.txt" 2>&1
if [ "${1:-}" = step ] && [ $test_rc -eq 0 ]; then
  timeout 300 ./vidsparse bench step --config "$root/configs/wan2.1-t2v-1.3b.json" --random-weights \
    --size 832x480 --frames 81 --svg2-preset "$root/configs/svg2-wan-480p.json" >"$out/bench_step.txt" 2>&1
fi
echo "== test_attention_gpu exit $test_rc"
grep -E "FAIL|passed|usable" "$out/attention_variants.log" | head -40
grep "^bench" "$out/attention_variants.log" | sed 's/^bench //'
echo "== wgmma kernels in SASS: $(grep -c '^HGMMA' "$out/attention_sass.txt")"
cat "$out/bench_sdpa.txt"
[ -f "$out/bench_step.txt" ] && grep -E "step:|attention|GEMM|density" "$out/bench_step.txt"
exit $test_rc
