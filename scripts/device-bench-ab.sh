#!/usr/bin/env bash
# Same-run A/B of attention kernel variants on the GPU machine, after scripts/device-run.sh has
# built build-gpu:
#   bash scripts/device-run.sh bash scripts/device-bench-ab.sh "0 1" [bench attention options]
# Runs `vidsparse bench attention` once per variant (VS_ATTENTION_VARIANT=N), then once more per
# variant in reverse order, so drift over the run (clocks, temperature) falls on both sides.
# Full logs go to $OUT/ab.txt (default ./out); the per-density lines are printed as they come.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/out}
mkdir -p "$out"
variants=${1:?usage: device-bench-ab.sh "VARIANTS" [bench attention options]}
shift
reversed=$(echo "$variants" | tr ' ' '\n' | tac | tr '\n' ' ')
log="$out/ab.txt"
date -u +"# %Y-%m-%d %H:%M UTC, $(git -C "$root" rev-parse --short HEAD 2>/dev/null)" >>"$log"
status=0
for v in $variants $reversed; do
  echo "== VS_ATTENTION_VARIANT=$v $*" | tee -a "$log"
  VS_ATTENTION_VARIANT=$v timeout 240 "$root/build-gpu/vidsparse" bench attention "$@" 2>&1 |
    tee -a "$log" | grep -E "^# (wan|hun)|dense attention|^ +0\.[0-9]+ " || status=1
done
exit $status
