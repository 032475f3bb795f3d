#!/usr/bin/env bash
# Same-run A/B of two source trees on the GPU machine, after scripts/device-run.sh has built
# build-gpu from this one: builds `vidsparse` from BASE (a source tree without .git, e.g. made
# with `git archive <commit> | tar -x -C .carry/ab-base`, carried in the ignored .carry/) into
# build-<name of BASE>, then runs `vidsparse bench attention` base, this, this, base, so drift over the
# run falls on both sides.
#   bash scripts/device-run.sh bash scripts/device-ab-builds.sh .carry/ab-base --shape wan1.3b-480p
# Full logs go to $OUT/ab-builds.txt (default ./out); the per-density lines are printed as they come.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/out}
mkdir -p "$out"
base=$(cd "${1:?usage: device-ab-builds.sh BASE_SOURCE_TREE [bench attention options]}" && pwd)
shift
bdir=$root/build-$(basename "$base")
cmake -S "$base" -B "$bdir" -DCMAKE_BUILD_TYPE=Release -DVS_FFMPEG=OFF \
      -DVS_CUDA_ARCHS=90a-real >"$out/configure-base.log" 2>&1 || { tail -20 "$out/configure-base.log"; exit 1; }
cmake --build "$bdir" -j "$(nproc)" --target vidsparse >"$out/build-base.log" 2>&1 ||
  { tail -40 "$out/build-base.log"; exit 1; }
log="$out/ab-builds.txt"
date -u +"# %Y-%m-%d %H:%M UTC: base = $base, this = $root" >>"$log"
status=0
for side in base this this base; do
  bin=$root/build-gpu/vidsparse
  [ "$side" = base ] && bin=$bdir/vidsparse
  echo "== $side ($(date -u +%T)): $*" | tee -a "$log"
  timeout 240 "$bin" bench attention "$@" 2>&1 |
    tee -a "$log" | grep -E "^# (wan|hun)|dense attention|^ +0\.[0-9]+ " || status=1
done
exit $status
