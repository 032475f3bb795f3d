#!/usr/bin/env bash
# On a GPU machine without cJSON installed (the lent device machines): configure and build with
# the cJSON carried in .carry/cjson, then run the command given (default: the GPU tests).
#   bash scripts/device-run.sh                      # build + ctest (GPU tests included)
#   bash scripts/device-run.sh ./build-gpu/vidsparse bench attention
# Results go to $OUT when it is set.
# Prepare the carried cJSON once on the build machine (Debian), in the ignored folder .carry/:
#   mkdir -p .carry/debs && (cd .carry/debs && apt-get download libcjson1 libcjson-dev) &&
#   for f in .carry/debs/*.deb; do dpkg -x "$f" .carry/cjson; done
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cjson=${VS_CJSON_ROOT:-$root/.carry/cjson}
export VS_CJSON_ROOT=$cjson
export LD_LIBRARY_PATH="$cjson/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
export PATH="/usr/local/cuda/bin:$PATH"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export NCCL_NVLS_ENABLE=0
out=${OUT:-$root/out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
cmake -S "$root" -B "$root/build-gpu" -DCMAKE_BUILD_TYPE=Release -DVS_FFMPEG=OFF \
      -DVS_CUDA_ARCHS=90a-real >"$out/configure.log" 2>&1 || { cat "$out/configure.log"; exit 1; }
grep "vidsparse dependency" "$out/configure.log"
cmake --build "$root/build-gpu" -j "$(nproc)" >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
if [ $# -eq 0 ]; then
  (cd "$root/build-gpu" && ctest --output-on-failure --timeout 300 2>&1 | tee "$out/ctest.log")
else
  "$@"
fi
