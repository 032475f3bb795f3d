#!/usr/bin/env bash
# The GPU run behind the "VAE decode" section of docs/performance.md, after scripts/device-run.sh
# has built build-gpu:
#   bash scripts/device-run.sh bash scripts/device-bench-decode.sh
# 1. tests/gpu/test_vae_gpu (ops vs CPU twins, diffusers fixtures on CUDA), then the CPU VAE
#    parity test and the video CLI test (whose decodes now run on the GPU);
# 2. `vidsparse bench decode` at 832x480 and 1280x720, 81 frames, bf16 and TF32 convolutions;
# 3. diffusers AutoencoderKLWan (float32, bfloat16) on the same shapes (tools/bench_diffusers_decode.py),
#    with diffusers installed from the wheels in .whl when it is not importable.
# Logs go to $OUT (default ./out); every step has its own time limit so a slow one cannot eat the rest.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/out}
mkdir -p "$out"
# Also runnable after a device-run.sh whose full build failed elsewhere (build-gpu still has the
# binaries this needs): the carried cJSON must be found at run time.
export LD_LIBRARY_PATH="${VS_CJSON_ROOT:-$root/.carry/cjson}/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
status=0
(cd "$root/build-gpu" && VS_SOURCE_DIR="$root" timeout 120 ./test_vae_gpu) >"$out/test_vae_gpu.log" 2>&1 || status=1
grep -v "^ok" "$out/test_vae_gpu.log" | tail -40
date -u +"# %Y-%m-%d %H:%M UTC" | tee "$out/bench_decode.txt"
timeout 150 "$root/build-gpu/vidsparse" bench decode --size 832x480,1280x720 --frames 81 --random-weights \
    --precision both --repeat 2 2>&1 | tee -a "$out/bench_decode.txt" || status=1
if ! python3 -c "import diffusers" 2>/dev/null; then
  wheels=$(ls "$root"/.whl/*.whl "$root"/../../.whl/*.whl 2>/dev/null)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $wheels \
      >"$out/pip.log" 2>&1 || tail -5 "$out/pip.log"
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
timeout 150 python3 "$root/tools/bench_diffusers_decode.py" --size 832x480 1280x720 --frames 81 \
    --dtype float32 bfloat16 --repeat 1 2>&1 | grep -v "Casting directly\|kept in float32" | tee "$out/bench_diffusers_decode.txt" || status=1
(cd "$root/build-gpu" && timeout 60 ctest -R "vae_parity|video_cli" --output-on-failure) >"$out/ctest_vae.log" 2>&1 || status=1
tail -5 "$out/ctest_vae.log"
exit $status
