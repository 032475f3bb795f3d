#!/usr/bin/env bash
# `vidsparse generate --device cuda`, end to end, on a GPU machine (skipped, exit 77, elsewhere):
#   1. the tiny model on the GPU, dense and SVG2: runs, says it ran on cuda, writes the same bytes
#      twice (cmp), and not the CPU's bytes (bf16 on the GPU: proof the GPU path ran; how close
#      the two are is checked by tests/gpu/test_pipeline_gpu.c through the library);
#   2. a model the GPU kernels cannot take (head_dim 32) is refused before any work; random
#      weights at Wan 1.3B's shapes (30 layers, 12 heads of 128; made on the GPU) run on a small
#      video and repeat bit for bit;
#   3. with MPI: ranks sharing the one GPU (VS_SHARE_GPU=1, so the MPI transport staged through
#      host memory) give latents identical (cmp) to one GPU process: Ulysses 2, CFG 2, and
#      Ulysses 2 x CFG 2; without VS_SHARE_GPU two ranks on one GPU are refused with a hint;
#      with two or more GPUs, Ulysses 2 over NCCL (one rank per GPU) matches as well;
#   4. the staged transport's all-to-all delivers the right bytes (bench comm --transport mpi-staged).
# Every launch runs under `timeout`; a failure prints the tail of its log.
set -u
bin=${VS_BINARY:?set VS_BINARY to the vidsparse binary}
gpus=$( (nvidia-smi -L 2>/dev/null || true) | grep -c "^GPU")
[ "$gpus" -gt 0 ] || { echo "skipped: no GPU (nvidia-smi -L lists none)"; exit 77; }
"$bin" version | grep -q " cuda" || { echo "skipped: this vidsparse was built without the cuda backend"; exit 77; }
mpiexec=${MPIEXEC:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export NCCL_NVLS_ENABLE=0
unset VS_DEVICE VS_SHARE_GPU
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failed=$((failed + 1)); [ -f "$tmp/log" ] && tail -15 "$tmp/log"; }

# gen NAME LIMIT [launcher...] -- generate args...: runs, logs to $tmp/log, output $tmp/NAME.safetensors
gen() {
    local name=$1 limit=$2; shift 2
    local launcher=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do launcher+=("$1"); shift; done
    shift
    rm -f "$tmp/$name.safetensors"
    timeout "$limit" ${launcher[@]+"${launcher[@]}"} "$bin" generate --model tiny "$@" -o "$tmp/$name.safetensors" \
        >"$tmp/log" 2>&1
    local rc=$?
    cp "$tmp/log" "$tmp/$name.log"
    if [ $rc -eq 124 ]; then fail "$name: timed out after $limit s"; return 1; fi
    if [ $rc -ne 0 ]; then fail "$name: exit $rc"; return 1; fi
    return 0
}
same() {  # description, file a, file b
    if cmp -s "$2" "$3"; then pass "$1"; else fail "$1 (latents differ)"; fi
}

# ---- 1. one process on the GPU
for attn in dense svg2; do
    gen "cuda_$attn" 120 -- --device cuda --attention "$attn" && {
        grep -q "device: cuda" "$tmp/cuda_$attn.log" && pass "$attn: ran on cuda" || fail "$attn: no 'device: cuda' line"
    }
    gen "cuda_${attn}_again" 120 -- --device cuda --attention "$attn" &&
        same "$attn: two GPU runs, same bytes" "$tmp/cuda_$attn.safetensors" "$tmp/cuda_${attn}_again.safetensors"
    gen "cpu_$attn" 120 -- --device cpu --attention "$attn" && {
        if cmp -s "$tmp/cpu_$attn.safetensors" "$tmp/cuda_$attn.safetensors"; then
            fail "$attn: GPU latents equal the CPU's bit for bit (was the GPU path taken?)"
        else pass "$attn: GPU latents are the GPU's own (bf16), not the CPU's"; fi
    }
done
gen "default_device" 120 -- --attention dense &&
    same "default device is cuda when a GPU is visible" "$tmp/cuda_dense.safetensors" "$tmp/default_device.safetensors"

# ---- 2. refused before any work
timeout 60 "$bin" generate --model tiny --device cuda --tiny-heads 4 -o "$tmp/bad.safetensors" >"$tmp/log" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "head_dim 64 or 128" "$tmp/log" && [ ! -e "$tmp/bad.safetensors" ] \
    && pass "head_dim 32 on cuda refused" || fail "head_dim 32 on cuda refused (exit $rc)"

src=${VS_SOURCE_DIR:-$(dirname "$0")/..}
rw=(generate --random-weights --config "$src/configs/wan2.1-t2v-1.3b.json" --size 64x64 --frames 5
    --steps 2 --device cuda)
for n in 1 2; do
    timeout 180 "$bin" "${rw[@]}" -o "$tmp/rw$n.safetensors" >"$tmp/log" 2>&1 ||
        fail "random weights at Wan 1.3B's shapes, run $n (exit $?)"
done
grep -q "model random weights (dim 1536, 30 layers, 12 heads)" "$tmp/log" &&
    same "random weights at Wan 1.3B's shapes: two runs, same bytes" "$tmp/rw1.safetensors" "$tmp/rw2.safetensors" ||
    fail "random weights at Wan 1.3B's shapes: no model line"

# ---- 3. several ranks
if [ "${VS_HAVE_MPI:-OFF}" != "ON" ] || ! command -v "$mpiexec" >/dev/null; then
    echo "(no MPI: multi-rank cases not run)"
else
    share=("$mpiexec" --oversubscribe --bind-to none -x VS_SHARE_GPU=1 -x NCCL_NVLS_ENABLE)
    for attn in dense svg2; do
        gen "share_u2_$attn" 300 "${share[@]}" -np 2 -- --device cuda --attention "$attn" --ulysses 2 && {
            same "$attn: 2 ranks sharing a GPU (Ulysses 2) = 1 rank" "$tmp/cuda_$attn.safetensors" "$tmp/share_u2_$attn.safetensors"
            grep -q "over mpi-staged" "$tmp/share_u2_$attn.log" && pass "$attn: shared GPU -> mpi-staged transport" \
                || fail "$attn: shared GPU did not pick mpi-staged"
        }
    done
    gen "share_cfg2" 300 "${share[@]}" -np 2 -- --device cuda --attention svg2 --ulysses 1 --cfg-parallel &&
        same "svg2: 2 ranks sharing a GPU (CFG 2) = 1 rank" "$tmp/cuda_svg2.safetensors" "$tmp/share_cfg2.safetensors"
    gen "share_u2cfg2" 300 "${share[@]}" -np 4 -- --device cuda --attention svg2 --ulysses 2 --cfg-parallel &&
        same "svg2: 4 ranks sharing a GPU (Ulysses 2 x CFG 2) = 1 rank" "$tmp/cuda_svg2.safetensors" "$tmp/share_u2cfg2.safetensors"

    if [ "$gpus" -lt 2 ]; then
        timeout 120 "$mpiexec" --oversubscribe --bind-to none -np 2 "$bin" generate --model tiny --device cuda \
            --ulysses 2 -o "$tmp/bad.safetensors" >"$tmp/log" 2>&1
        rc=$?
        [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "VS_SHARE_GPU" "$tmp/log" && [ ! -e "$tmp/bad.safetensors" ] \
            && pass "2 ranks on 1 GPU without VS_SHARE_GPU refused" || fail "2 ranks on 1 GPU without VS_SHARE_GPU (exit $rc)"
    else
        own=("$mpiexec" --bind-to none -x NCCL_NVLS_ENABLE)
        gen "nccl_u2" 300 "${own[@]}" -np 2 -- --device cuda --attention svg2 --ulysses 2 && {
            same "svg2: 2 GPUs over NCCL (Ulysses 2) = 1 rank" "$tmp/cuda_svg2.safetensors" "$tmp/nccl_u2.safetensors"
            grep -q "over nccl" "$tmp/nccl_u2.log" && pass "own GPUs -> nccl transport" || fail "own GPUs did not pick nccl"
        }
    fi

    # ---- 4. the staged transport moves the right bytes
    timeout 120 "${share[@]}" -np 2 "$bin" bench comm --transport mpi-staged -b 1K -e 4M -f 16 -n 3 -w 1 \
        >"$tmp/log" 2>&1 && pass "bench comm --transport mpi-staged: no wrong words" \
        || fail "bench comm --transport mpi-staged (exit $?)"
fi

echo "$failed failed"
[ "$failed" -eq 0 ]
