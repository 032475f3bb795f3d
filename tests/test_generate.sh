#!/usr/bin/env bash
# End to end: `vidsparse generate --model tiny` writes a latents file; the same seed gives the
# same bytes, another seed other bytes; dense and svg2, unipc and euler all run; prompt
# embeddings from a file work; a checkpoint and random weights at its config's shapes run; bad
# arguments exit 2 with a message before any work.
set -u
bin=${VS_BINARY:?set VS_BINARY to the vidsparse binary}
# The CPU path (on a GPU machine generate would default to cuda; tests/test_generate_gpu.sh covers that).
export VS_DEVICE=cpu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

bad() {  # expected-message, args...
    local msg=$1; shift
    "$bin" generate "$@" -o "$tmp/bad.safetensors" >"$tmp/log" 2>&1
    local rc=$?
    if [ $rc -eq 2 ] && grep -q -- "$msg" "$tmp/log" && [ ! -e "$tmp/bad.safetensors" ]; then
        pass "bad: $*"
    else
        fail "bad: $* (rc $rc)"; cat "$tmp/log"
    fi
}
run_ok() {  # name, args...
    local name=$1; shift
    if "$bin" generate "$@" >"$tmp/log" 2>&1; then pass "$name"; else fail "$name"; cat "$tmp/log"; fi
}

# The README command, with the tiny defaults (128x128, 9 frames, 4 steps).
run_ok "tiny defaults" --model tiny -o "$tmp/default.safetensors"
grep -q "svg2 mean density per layer" "$tmp/log" && pass "density report" || fail "density report"
[ -s "$tmp/default.safetensors" ] && pass "latents written" || fail "latents written"
# Smaller runs for the rest, so the sanitizer build stays quick.
small="--size 64x64 --frames 5 --steps 2"
run_ok "tiny svg2 seed 1" --model tiny $small --seed 1 -o "$tmp/a.safetensors"
run_ok "tiny svg2 seed 1 again" --model tiny $small --seed 1 -o "$tmp/b.safetensors"
run_ok "tiny svg2 seed 2" --model tiny $small --seed 2 -o "$tmp/c.safetensors"
run_ok "tiny dense" --model tiny $small --seed 1 --attention dense -o "$tmp/d.safetensors"
run_ok "tiny euler 64x64 no cfg" --model tiny --sampler euler --size 64*64 --frames 5 --steps 2 \
    --guide-scale 1 -o "$tmp/e.safetensors"
grep -q "stage denoise" "$tmp/log" && grep -q "2 forwards" "$tmp/log" && pass "guide 1: one forward per step" || fail "guide 1: one forward per step"

cmp -s "$tmp/a.safetensors" "$tmp/b.safetensors" && pass "same seed, same bytes" || fail "same seed, same bytes"
cmp -s "$tmp/a.safetensors" "$tmp/c.safetensors" && fail "other seed, other bytes" || pass "other seed, other bytes"
cmp -s "$tmp/a.safetensors" "$tmp/d.safetensors" && fail "svg2 differs from dense" || pass "svg2 differs from dense"

# Prompt embeddings from a file (the tiny model's text_dim is 64) without a negative context
# (the checkpoint runs below read one with both).
if command -v python3 >/dev/null && python3 -c "import numpy, safetensors" 2>/dev/null; then
    python3 - "$tmp" <<'PY'
import sys, numpy as np
from safetensors.numpy import save_file
rng = np.random.default_rng(0)
save_file({"context": rng.standard_normal((7, 64)).astype(np.float32)}, sys.argv[1] + "/pos.safetensors")
save_file({"context": rng.standard_normal((7, 32)).astype(np.float32)}, sys.argv[1] + "/wrong.safetensors")
PY
    run_ok "prompt embeddings without negative" --model tiny $small --prompt-embeds "$tmp/pos.safetensors" -o "$tmp/g.safetensors"
    grep -q "2 forwards" "$tmp/log" && pass "no negative: one forward per step" || fail "no negative: one forward per step"
    "$bin" generate --model tiny --prompt-embeds "$tmp/wrong.safetensors" -o "$tmp/h.safetensors" >"$tmp/log" 2>&1
    rc=$?
    [ $rc -eq 2 ] && grep -q "expected \[L, 64\]" "$tmp/log" && pass "wrong text_dim -> exit 2" || { fail "wrong text_dim -> exit 2 (rc $rc)"; cat "$tmp/log"; }
else
    echo "(python3 with numpy + safetensors not found: prompt-embedding file cases not run)"
fi

# A checkpoint file with its config (the DiT parity fixture; numbers: tests/test_pipeline_parity.c),
# both attention kinds; svg2 takes the default 480p preset from configs/.
src=${VS_SOURCE_DIR:-$(dirname "$0")/..}
fx="$src/tests/fixtures"
if [ -f "$fx/wan_tiny_official.safetensors" ]; then
    for attn in dense svg2; do
        run_ok "checkpoint file, $attn" --model "$fx/wan_tiny_official.safetensors" \
            --config "$fx/wan_tiny_config.json" --prompt-embeds "$fx/pipeline_tiny.safetensors" \
            --size 64x64 --frames 5 --steps 4 --seed 2024 --attention $attn -o "$tmp/ck_$attn.safetensors"
    done
    grep -q "svg2-wan-480p.json" "$tmp/log" && pass "default 480p preset found" || fail "default 480p preset found"
    if python3 -c "import numpy, safetensors" 2>/dev/null; then
        python3 - "$tmp/ck_dense.safetensors" "$fx/pipeline_tiny.safetensors" <<'PY' && pass "binary matches diffusers (dense, unipc)" || fail "binary matches diffusers (dense, unipc)"
import sys, numpy as np
from safetensors.numpy import load_file
x = load_file(sys.argv[1])["latents"].astype(np.float64)
r = load_file(sys.argv[2])["expected.unipc"].astype(np.float64)
err = np.linalg.norm(x - r) / np.linalg.norm(r)
print(f"generate --model wan_tiny_official vs diffusers float64: relative L2 {err:.3g}")
sys.exit(0 if err < 1e-4 else 1)
PY
    fi
    bad "has no config.json" --model "$fx"
    # Random weights at a config's shapes, with the built-in context: repeatable, and the
    # latents name no checkpoint.
    for n in 1 2; do
        run_ok "random weights at a config's shapes ($n)" --random-weights --config "$fx/wan_tiny_config.json" \
            $small --seed 3 -o "$tmp/rw$n.safetensors"
    done
    grep -q "model random weights (dim 24, 2 layers, 2 heads)" "$tmp/log" && pass "random weights: config's shapes" || fail "random weights: config's shapes"
    cmp -s "$tmp/rw1.safetensors" "$tmp/rw2.safetensors" && pass "random weights: same bytes" || fail "random weights: same bytes"
    grep -aq '"model":"random weights"' "$tmp/rw1.safetensors" && pass "random weights: latents metadata" || fail "random weights: latents metadata"
    bad "needs --config FILE" --random-weights
    bad "not both" --random-weights --model tiny --config "$fx/wan_tiny_config.json"
    # A checkpoint directory: config.json and the weights found by their usual names.
    mkdir -p "$tmp/ckpt"
    cp "$fx/wan_tiny_config.json" "$tmp/ckpt/config.json"
    cp "$fx/wan_tiny_official.safetensors" "$tmp/ckpt/diffusion_pytorch_model.safetensors"
    run_ok "checkpoint directory" --model "$tmp/ckpt" --prompt-embeds "$fx/pipeline_tiny.safetensors" \
        --size 64x64 --frames 5 --steps 4 --seed 2024 --attention dense -o "$tmp/ck_dir.safetensors"
    if python3 -c "import numpy, safetensors" 2>/dev/null; then  # the metadata names the path, so compare the tensor
        python3 -c "import sys, numpy as np; from safetensors.numpy import load_file as l; sys.exit(0 if np.array_equal(l(sys.argv[1])['latents'], l(sys.argv[2])['latents']) else 1)" \
            "$tmp/ck_dir.safetensors" "$tmp/ck_dense.safetensors" && pass "directory = file + --config" || fail "directory = file + --config"
    fi
else
    fail "fixture $fx/wan_tiny_official.safetensors missing (set VS_SOURCE_DIR)"
fi

# Bad arguments: exit code 2, a message naming the problem, no output file.
bad "must be 4n+1" --model tiny --frames 8
bad "multiples of 16" --model tiny --size 100x64
bad "expected WxH" --model tiny --size 64
bad "\[1, 1000\]" --model tiny --steps 0
bad "choose unipc or euler" --model tiny --sampler ddim
bad "choose dense or svg2" --model tiny --attention sparse
bad "no such file or directory" --model "$tmp/nowhere"
bad "no such file" --model tiny --prompt-embeds "$tmp/missing.safetensors"
bad "no such file" --model tiny --svg2-preset "$tmp/missing.json"
bad "unknown option" --model tiny --frobnicate
bad "missing --model" --steps 3
bad "or --random-weights --config FILE" --steps 3
bad "must be a number > 0" --model tiny --shift -1
bad "choose cpu or cuda" --model tiny --device gpu
# An explicit cuda without a GPU (or in a CPU-only build) is refused before any work.
if ! nvidia-smi -L 2>/dev/null | grep -q GPU; then
    bad "use --device cpu" --model tiny --device cuda
    VS_DEVICE=cuda "$bin" generate --model tiny -o "$tmp/env.safetensors" >"$tmp/log" 2>&1
    [ $? -eq 2 ] && grep -q "VS_DEVICE cuda" "$tmp/log" && [ ! -e "$tmp/env.safetensors" ] \
        && pass "bad: VS_DEVICE=cuda without a GPU" || fail "bad: VS_DEVICE=cuda without a GPU"
fi
"$bin" generate --model tiny --seed >"$tmp/log" 2>&1
[ $? -eq 2 ] && grep -q "needs a value" "$tmp/log" && pass "bad: option without value" || fail "bad: option without value"
"$bin" generate --model tiny -o "$tmp/out.avi" >"$tmp/log" 2>&1
[ $? -eq 2 ] && pass "bad: unsupported output extension" || fail "bad: unsupported output extension"
"$bin" generate --help >"$tmp/log" 2>&1
[ $? -eq 0 ] && grep -q "default 42" "$tmp/log" && pass "--help lists defaults" || fail "--help lists defaults"

echo "$failed failed"
[ $failed -eq 0 ]
