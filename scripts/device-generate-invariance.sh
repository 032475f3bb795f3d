#!/usr/bin/env bash
# Layout invariance at a real model's size, with random weights (no checkpoint needed): `vidsparse
# generate --random-weights` on one GPU, then on each multi-rank layout the machine's GPUs allow;
# every layout must write latents byte-identical (cmp) to the one-GPU run, dense and SVG2.
# Layouts: 2 GPUs: Ulysses 2 and CFG 2 over NCCL, Ulysses 2 x CFG 2 as 4 ranks on the 2 GPUs
# (VS_SHARE_GPU=1: MPI through host memory); 4 GPUs: Ulysses 4 and 2 x CFG 2 over NCCL; 8 GPUs
# also Ulysses 8 and 4 x CFG 2; 1 GPU: Ulysses 2 as 2 ranks sharing it.
#   bash scripts/device-run.sh bash scripts/device-generate-invariance.sh [CONFIG [SIZE [FRAMES [STEPS]]]]
# Defaults: configs/wan2.1-t2v-1.3b.json, 832x480, 81 frames, 2 steps. Logs and latents go to
# $OUT (default ./out); exit status 1 if any layout differs or fails.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/out}
mkdir -p "$out"
config=${1:-$root/configs/wan2.1-t2v-1.3b.json}
size=${2:-832x480}
frames=${3:-81}
steps=${4:-2}
bin=$root/build-gpu/vidsparse
export NCCL_NVLS_ENABLE=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
gpus=$(nvidia-smi -L | grep -c '^GPU')
run=(generate --random-weights --config "$config" --size "$size" --frames "$frames" --steps "$steps"
     --device cuda)
layouts=()  # ranks|options|share (ranks share GPUs)
if [ "$gpus" -eq 1 ]; then
  layouts+=("2|--ulysses 2|share")
else
  layouts+=("2|--ulysses 2|" "2|--ulysses 1 --cfg-parallel|")
  if [ "$gpus" -ge 4 ]; then
    layouts+=("4|--ulysses 4|" "4|--ulysses 2 --cfg-parallel|")
  else
    layouts+=("4|--ulysses 2 --cfg-parallel|share")
  fi
  [ "$gpus" -ge 8 ] && layouts+=("8|--ulysses 8|" "8|--ulysses 4 --cfg-parallel|")
fi
echo "# $(date -u +'%F %T UTC'): $gpus GPU(s), $(basename "$config") $size x $frames frames, $steps steps"
failed=0
for attn in dense svg2; do
  ref=$out/inv-$attn-1.safetensors
  if ! timeout 400 "$bin" "${run[@]}" --attention "$attn" -o "$ref" >"$out/inv-$attn-1.log" 2>&1; then
    echo "FAIL $attn, 1 GPU (exit $?)"; tail -5 "$out/inv-$attn-1.log"; failed=$((failed + 1)); continue
  fi
  echo "ok   $attn, 1 GPU: $(grep -o 'stage denoise: .*' "$out/inv-$attn-1.log")"
  for layout in "${layouts[@]}"; do
    IFS='|' read -r np opts share <<<"$layout"
    env=(-x NCCL_NVLS_ENABLE)
    [ -n "$share" ] && env+=(-x VS_SHARE_GPU=1)
    name="$attn, $np ranks $opts${share:+ (sharing GPUs)}"
    log=$out/inv-$attn-$np-${opts// /}.log
    # shellcheck disable=SC2086  # opts is a list of options
    if ! timeout 500 mpirun --bind-to none --oversubscribe "${env[@]}" -np "$np" "$bin" "${run[@]}" \
        --attention "$attn" $opts -o "$out/inv-layout.safetensors" >"$log" 2>&1; then
      echo "FAIL $name (exit $?)"; tail -5 "$log"; failed=$((failed + 1)); continue
    fi
    how=$(grep -o 'communication: .*' "$log" | head -1)
    if cmp -s "$ref" "$out/inv-layout.safetensors"; then echo "ok   $name = 1 GPU; $how"
    else echo "FAIL $name: latents differ from 1 GPU"; failed=$((failed + 1)); fi
  done
done
rm -f "$out"/inv-*.safetensors  # 8 MB each at Wan 480p: the logs are what is kept
[ $failed -eq 0 ] && echo "all layouts byte-identical" || echo "$failed failed"
[ $failed -eq 0 ]
