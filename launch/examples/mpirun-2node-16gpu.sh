#!/usr/bin/env bash
# Two nodes, 8 GPUs each: Ulysses over the 8 GPUs of a node (NVLink) x CFG parallel across the
# two nodes (one velocity exchange per step over the network) = 16 ranks.
# Ranks are filled node by node (-npernode 8), so ranks 0-7 (conditional branch) are node A and
# ranks 8-15 (unconditional) node B: the all-to-all never leaves a node.
# Usage: HOSTS=nodeA,nodeB MODEL=... EMBEDS=... bash mpirun-2node-16gpu.sh
set -euo pipefail
HOSTS=${HOSTS:?set HOSTS to two comma-separated host names}
MODEL=${MODEL:?set MODEL to the checkpoint directory}
EMBEDS=${EMBEDS:?set EMBEDS to the prompt-embeddings .safetensors}
VIDSPARSE=${VIDSPARSE:-vidsparse}
export NCCL_NVLS_ENABLE=0
export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
# Pick the network NCCL uses between nodes when the default guess is wrong, e.g.
#   export NCCL_SOCKET_IFNAME=eth0   NCCL_IB_HCA=mlx5
mpirun -np 16 -npernode 8 -H "${HOSTS//,/:8,}:8" --bind-to none \
    -x NCCL_NVLS_ENABLE -x NCCL_DEBUG -x NCCL_SOCKET_IFNAME -x NCCL_IB_HCA -x LD_LIBRARY_PATH \
    ${OMPI_ALLOW_RUN_AS_ROOT:+--allow-run-as-root} \
    "$VIDSPARSE" generate --model "$MODEL" --prompt-embeds "$EMBEDS" \
    --size 1280x720 --frames 81 --steps 50 --attention svg2 \
    --ulysses 8 --cfg-parallel -o out.safetensors
