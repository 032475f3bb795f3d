#!/usr/bin/env bash
# Strong scaling of one denoising step on the GPUs of one node (issue #8), after
# scripts/device-run.sh has built build-gpu:
#   bash scripts/device-run.sh bash scripts/device-bench-scaling.sh [--models "1.3b 14b"]
#        [--ranks "1 2 4 8"] [--attention both|dense|svg2] [--steps "--warmup 1 --reps 3 --svg2-warm-steps 1"]
# For every rank count N among the divisors of the GPU count up to 8 (or --ranks), every model
#   1.3b: configs/wan2.1-t2v-1.3b.json at 832x480, 81 frames, SVG2 preset configs/svg2-wan-480p.json
#   14b : configs/wan2.1-t2v-14b.json  at 1280x720, 81 frames, SVG2 preset configs/svg2-wan-720p.json
# and every layout of N ranks (Ulysses N; Ulysses N/2 x CFG 2 when N is even), one run of
#   mpirun -np N vidsparse bench step --config C --random-weights ... --ulysses U [--cfg-parallel]
# (dense and SVG2 in the same run; N = 1 also goes through mpirun and --ulysses 1, so every row is
# timed the same way). One log per run in $OUT (default ./out), then one table of the runs'
# "result:" lines, with speed-up = step(N = 1) / step(N) and efficiency = speed-up / N, in
# $OUT/scaling.txt.
# Time: one run makes warm-up + reps + 1 profiled step per attention mode. A 1.3B 480p step takes
# ~2 s on one H100 (docs/performance.md); a 14B 720p step is estimated (FLOPs) at over a minute
# there, so a 14B run on one GPU needs minutes. Every run has its own limit
# (VS_SCALING_TIMEOUT, default 540 s), so split long sweeps over several calls, e.g.
# --models 1.3b, then --models 14b --ranks "4 8", then --models 14b --ranks "1 2" --attention dense.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/out}
mkdir -p "$out"
export LD_LIBRARY_PATH="${VS_CJSON_ROOT:-$root/.carry/cjson}/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0
bin=$root/build-gpu/vidsparse
models="1.3b 14b"
ranks=""
attention=both
steps="--warmup 1 --reps 3 --svg2-warm-steps 1"
while [ $# -gt 0 ]; do
  case $1 in
    --models) models=$2; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --attention) attention=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    *) echo "device-bench-scaling.sh: unknown option '$1' (see the comment at the top)" >&2; exit 2 ;;
  esac
done
[ -x "$bin" ] || { echo "no $bin: build first (bash scripts/device-run.sh bash $0)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "mpirun not found: install Open MPI (libopenmpi-dev)" >&2; exit 1; }
gpus=$(nvidia-smi -L 2>/dev/null | grep -c "^GPU")
[ "$gpus" -ge 1 ] || { echo "no GPU visible (nvidia-smi -L)" >&2; exit 1; }
if [ -z "$ranks" ]; then
  for n in 1 2 3 4 5 6 7 8; do [ $((gpus % n)) -eq 0 ] && ranks="$ranks $n"; done
fi

model_args() {  # model -> bench step options
  case $1 in
    1.3b) echo "--config $root/configs/wan2.1-t2v-1.3b.json --size 832x480 --frames 81 --svg2-preset $root/configs/svg2-wan-480p.json" ;;
    14b) echo "--config $root/configs/wan2.1-t2v-14b.json --size 1280x720 --frames 81 --svg2-preset $root/configs/svg2-wan-720p.json" ;;
    *) echo "device-bench-scaling.sh: unknown model '$1' (1.3b or 14b)" >&2; exit 2 ;;
  esac
}

{
  date -u +"# %Y-%m-%d %H:%M UTC"
  echo "# $gpus x $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1); commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "# models: $models; ranks: $ranks; attention: $attention; $steps"
} | tee "$out/scaling-runs.txt"
: >"$out/scaling-results.txt"
status=0
for model in $models; do
  margs=$(model_args "$model") || exit 2
  for n in $ranks; do
    layouts="u$n"
    [ $((n % 2)) -eq 0 ] && layouts="$layouts u$((n / 2))xcfg2"
    for layout in $layouts; do
      case $layout in
        *xcfg2) u=${layout#u}; u=${u%xcfg2}; largs="--ulysses $u --cfg-parallel" ;;
        *) largs="--ulysses ${layout#u}" ;;
      esac
      log="$out/step-$model-n$n-$layout.log"
      echo "== $model, $n ranks, $layout: mpirun -np $n vidsparse bench step $margs --random-weights --attention $attention $steps $largs" |
        tee -a "$out/scaling-runs.txt"
      start=$(date +%s)
      timeout "${VS_SCALING_TIMEOUT:-540}" mpirun -np "$n" --bind-to none -x NCCL_NVLS_ENABLE -x LD_LIBRARY_PATH \
          "$bin" bench step $margs --random-weights --attention "$attention" $steps $largs >"$log" 2>&1
      rc=$?
      echo "   exit $rc after $(($(date +%s) - start)) s" | tee -a "$out/scaling-runs.txt"
      if [ $rc -ne 0 ]; then status=1; tail -5 "$log"; fi
      grep "^result:" "$log" | sed "s/^result: /result: model=$model layout=$layout /" >>"$out/scaling-results.txt"
    done
  done
done

# The table: one row per (model, layout, attention), speed-up against the same model and
# attention on 1 rank.
awk '
  function field(k,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
  { m = field("model"); a = field("attention"); n = field("ranks")
    key[NR] = m SUBSEP a; row[NR] = sprintf("%-5s %-11s %-6s %3d %-10s %10.1f %10.1f %9.1f %9.1f %7.1f%%",
        m, field("layout"), a, n, field("transport"), field("step_median_ms"), field("step_min_ms"),
        field("comm_max_ms"), field("comm_mean_ms"), 100 * field("comm_share"))
    ms[NR] = field("step_median_ms"); ranks[NR] = n
    if (n == 1) one[m SUBSEP a] = field("step_median_ms") }
  END {
    print "# step = median over the timed steps of the slowest rank; comm = time inside collectives per step"
    print "# (max / mean over ranks); share = comm max / step mean; speed-up = step(1 rank) / step; eff. = speed-up / ranks"
    printf "%-5s %-11s %-6s %3s %-10s %10s %10s %9s %9s %8s %8s %6s\n", "model", "layout", "attn", "N",
        "transport", "step ms", "min ms", "comm max", "comm mean", "share", "speedup", "eff."
    for (i = 1; i <= NR; i++) {
      if (key[i] in one) printf "%s %7.2fx %5.0f%%\n", row[i], one[key[i]] / ms[i], 100 * one[key[i]] / ms[i] / ranks[i]
      else printf "%s %8s %6s\n", row[i], "-", "-"
    }
  }' "$out/scaling-results.txt" 2>/dev/null | tee "$out/scaling.txt"
[ -s "$out/scaling-results.txt" ] || { echo "no run reported a result (see the logs in $out)"; status=1; }
exit $status
