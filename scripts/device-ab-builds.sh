#!/usr/bin/env bash
# Same-run A/B of source trees on the GPU machine, after scripts/device-run.sh has built build-gpu
# from this one: builds `vidsparse` from each TREE (a source tree without .git, e.g. made with
# `git archive <commit> | tar -x -C .carry/ab-base`, carried in the ignored .carry/) into
# build-<name of TREE>, then runs `vidsparse bench BENCH...` (attention or step, and its options)
# with every build in turn and again in reverse order (TREE..., this, this, ..., TREE), so drift
# over the run falls on all sides. While each bench runs, nvidia-smi samples the SM clock and the
# power draw every 100 ms; their means follow each run (the H100s lent here run into their power
# cap under dense attention; `--timing idle` starts each timed attention run from an idle card,
# the steadiest comparison of two builds; every TREE must know the option, 56f2ad9 on).
#   bash scripts/device-run.sh bash scripts/device-ab-builds.sh .carry/ab-base -- attention --shape wan1.3b-480p --timing idle
#   bash scripts/device-run.sh bash scripts/device-ab-builds.sh .carry/ab-base -- step --config C --random-weights
# Full logs go to $OUT/ab-builds.txt (default ./out); the result lines are printed as they come.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/out}
mkdir -p "$out"
trees=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do trees+=("$(cd "$1" && pwd)") || exit 1; shift; done
[ $# -gt 0 ] && shift
[ ${#trees[@]} -gt 0 ] && [ $# -gt 0 ] ||
  { echo "usage: device-ab-builds.sh TREE [TREE...] -- attention|step [bench options]"; exit 2; }
for tree in "${trees[@]}"; do
  name=$(basename "$tree")
  bdir=$root/build-$name
  cmake -S "$tree" -B "$bdir" -DCMAKE_BUILD_TYPE=Release -DVS_FFMPEG=OFF \
        -DVS_CUDA_ARCHS=90a-real >"$out/configure-$name.log" 2>&1 || { tail -20 "$out/configure-$name.log"; exit 1; }
  cmake --build "$bdir" -j "$(nproc)" --target vidsparse >"$out/build-$name.log" 2>&1 ||
    { tail -40 "$out/build-$name.log"; exit 1; }
done
log="$out/ab-builds.txt"
date -u +"# %Y-%m-%d %H:%M UTC: trees ${trees[*]}, this = $root" >>"$log"
sides=("${trees[@]}" this)
order=("${sides[@]}")
for ((i = ${#sides[@]} - 1; i >= 0; i--)); do order+=("${sides[i]}"); done
status=0
for side in "${order[@]}"; do
  bin=$root/build-gpu/vidsparse
  [ "$side" != this ] && bin=$root/build-$(basename "$side")/vidsparse
  echo "== $(basename "$side") ($(date -u +%T)): $*" | tee -a "$log"
  nvidia-smi --query-gpu=clocks.sm,power.draw --format=csv,noheader,nounits -lms 100 >"$out/smi.csv" 2>/dev/null &
  smi=$!
  timeout 240 "$bin" bench "$@" 2>&1 |
    tee -a "$log" | grep -E "^# (wan|hun)|dense attention|^ +0\.[0-9]+ |step: median|SVG2 [kp]|other |^BAR [^:]*: attention" ||
    status=1
  kill $smi 2>/dev/null; wait $smi 2>/dev/null
  awk -F', ' '{c += $1; p += $2; n++} END {if (n) printf "# clocks: SM %.0f MHz, %.0f W (mean of %d samples)\n", c / n, p / n, n}' \
    "$out/smi.csv" | tee -a "$log"
done
exit $status
