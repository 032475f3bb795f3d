#!/usr/bin/env bash
# The GPU run behind the "denoising step" section of docs/performance.md, after
# scripts/device-run.sh has built build-gpu:
#   bash scripts/device-run.sh bash scripts/device-bench-step.sh CONFIG WxH PRESET [bench step options]
# `vidsparse bench step` (dense and SVG2 with PRESET) and then diffusers' WanTransformer3DModel
# (tools/bench_diffusers_step.py, diffusers installed from the wheels in .whl when missing) on
# the same config and size, 81 frames, random weights. Logs go to $OUT (default ./out).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/out}
mkdir -p "$out"
config=$1 size=$2 preset=$3
shift 3
name=$(basename "$config" .json)-$size
status=0
timeout 420 "$root/build-gpu/vidsparse" bench step --config "$root/$config" --random-weights --size "$size" \
    --frames 81 --svg2-preset "$root/$preset" "$@" >"$out/step-$name.txt" 2>&1 || status=1
grep -v " step [0-9]*/" "$out/step-$name.txt"
if ! python3 -c "import diffusers" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
      "$root"/.whl/*.whl >"$out/pip.log" 2>&1 || tail -5 "$out/pip.log"
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
reps=5
case " $* " in *" --reps "*) reps=$(echo " $* " | sed 's/.* --reps \([0-9]*\).*/\1/') ;; esac
timeout 300 python3 "$root/tools/bench_diffusers_step.py" --config "$root/$config" --size "$size" \
    --frames 81 --warmup 1 --reps "$reps" 2>&1 | tee "$out/diffusers-step-$name.txt" || status=1
exit $status
