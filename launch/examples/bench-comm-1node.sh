#!/usr/bin/env bash
# All-to-all bandwidth on one node (nccl-tests conventions; compare with alltoall_perf).
set -euo pipefail
export NCCL_NVLS_ENABLE=0
mpirun -np "${NP:-8}" --bind-to none -x NCCL_NVLS_ENABLE ${OMPI_ALLOW_RUN_AS_ROOT:+--allow-run-as-root} \
    "${VIDSPARSE:-vidsparse}" bench comm --transport nccl -b 64K -e 1G -f 4
