#!/usr/bin/env bash
# One node, 8 GPUs: Ulysses over 4 GPUs x CFG parallel (2 groups) = 8 ranks, one per GPU.
# Wan 2.1 14B has 40 heads (1.3B: 12), so --ulysses 8 without --cfg-parallel works too; CFG
# parallel halves the all-to-all traffic per rank and needs one exchange per step.
# Usage: MODEL=/models/Wan2.1-T2V-14B EMBEDS=cat.safetensors bash mpirun-1node-8gpu.sh
set -euo pipefail
MODEL=${MODEL:?set MODEL to the checkpoint directory}
EMBEDS=${EMBEDS:?set EMBEDS to the prompt-embeddings .safetensors}
VIDSPARSE=${VIDSPARSE:-vidsparse}
export NCCL_NVLS_ENABLE=0           # NVLink SHARP/multicast: only helps all-reduce; keep it off
export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
mpirun -np 8 --map-by slot --bind-to none \
    -x NCCL_NVLS_ENABLE -x NCCL_DEBUG -x LD_LIBRARY_PATH \
    ${OMPI_ALLOW_RUN_AS_ROOT:+--allow-run-as-root} \
    "$VIDSPARSE" generate --model "$MODEL" --prompt-embeds "$EMBEDS" \
    --size 1280x720 --frames 81 --steps 50 --attention svg2 \
    --ulysses 4 --cfg-parallel -o out.safetensors
