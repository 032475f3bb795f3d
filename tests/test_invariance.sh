#!/usr/bin/env bash
# Layout invariance, end to end: `vidsparse generate --model tiny` writes byte-identical latents
# (cmp) for a single process and for 1, 2, 3 and 4 MPI ranks, Ulysses-only and Ulysses x CFG,
# with dense and SVG2 attention, for token and head counts that divide the group size and ones
# that do not. Ranks are oversubscribed processes on this CPU.
set -u
[ "${VS_HAVE_MPI:-OFF}" = "ON" ] || { echo "skipped: built without MPI"; exit 77; }
bin=${VS_BINARY:?set VS_BINARY to the vidsparse binary}
# The CPU path (on a GPU machine generate would default to cuda; tests/test_generate_gpu.sh covers that).
export VS_DEVICE=cpu
mpiexec=${MPIEXEC:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

# case name, ranks, layout options... (the shape options come from $shape)
same() {
    local name=$1 np=$2; shift 2
    local out="$tmp/$name.safetensors"
    if ! timeout 120 "$mpiexec" --oversubscribe -np "$np" "$bin" generate --model tiny $shape "$@" \
            -o "$out" >"$tmp/log" 2>&1; then
        echo "FAIL $name: exit $?"; tail -5 "$tmp/log"; failed=$((failed + 1)); return
    fi
    if cmp -s "$tmp/ref.safetensors" "$out"; then echo "ok   $name ($np ranks $*)"
    else echo "FAIL $name: latents differ from the single process ($np ranks $*)"; failed=$((failed + 1)); fi
}

# A sanitizer build runs the model ~30x slower: there, one uneven Ulysses layout and one
# Ulysses x CFG layout, SVG2 only (the release build runs them all).
full=1
ldd "$bin" 2>/dev/null | grep -q libasan && full=0
attentions="dense svg2"
[ $full -eq 1 ] || { attentions=svg2; echo "(sanitizer build: reduced set of layouts)"; }
for attention in $attentions; do
    if [ $full -eq 1 ]; then
        # The tiny model as built in: 2 heads, 192 tokens (both divide 1 and 2).
        shape="--attention $attention"
        "$bin" generate --model tiny $shape -o "$tmp/ref.safetensors" >"$tmp/log" 2>&1 || { echo "FAIL reference"; cat "$tmp/log"; exit 1; }
        same "$attention-u1" 1 --ulysses 1
        same "$attention-u2" 2 --ulysses 2
        same "$attention-cfg2xu1" 2 --ulysses 1 --cfg-parallel
        same "$attention-cfg2xu2" 4 --ulysses 2 --cfg-parallel
    fi
    # 4 heads of 32, 80x48 with 5 frames: 30 tokens. Over 3 ranks: heads 2/1/1, tokens 10 each;
    # over 4: heads 1 each, tokens 8/8/7/7.
    shape="--attention $attention --tiny-heads 4 --size 80x48 --frames 5"
    "$bin" generate --model tiny $shape -o "$tmp/ref.safetensors" >"$tmp/log" 2>&1 || { echo "FAIL reference"; cat "$tmp/log"; exit 1; }
    [ $full -eq 1 ] && same "$attention-h4-u2" 2 --ulysses 2
    same "$attention-h4-u3" 3 --ulysses 3
    [ $full -eq 1 ] && same "$attention-h4-u4" 4 --ulysses 4
    same "$attention-h4-cfg2xu2" 4 --ulysses 2 --cfg-parallel
done
grep -q "svg2 mean density" "$tmp/log" && echo "ok   density reported by a multi-rank run" || { echo "FAIL no density report"; failed=$((failed + 1)); }
grep -Eq "communication: [0-9.]+ s max over 4 ranks \([0-9.]+% of denoise\)" "$tmp/log" &&
    echo "ok   communication time reported by a multi-rank run" || { echo "FAIL no communication report"; failed=$((failed + 1)); }

# Layouts that cannot work are refused before any work, with exit 2 and a reason.
refuse() {  # message, ranks, options...
    local msg=$1 np=$2; shift 2
    timeout 60 "$mpiexec" --oversubscribe -np "$np" "$bin" generate --model tiny "$@" -o "$tmp/bad.safetensors" >"$tmp/log" 2>&1
    if [ $? -ne 0 ] && grep -q -- "$msg" "$tmp/log" && [ ! -e "$tmp/bad.safetensors" ]; then echo "ok   refused: $np ranks $*"
    else echo "FAIL not refused: $np ranks $*"; cat "$tmp/log"; failed=$((failed + 1)); fi
}
refuse "exceeds the model's 2 attention heads" 3 --ulysses 3
refuse "== number of ranks" 2 --ulysses 1
refuse "needs an even number of ranks" 3 --ulysses 2 --cfg-parallel
refuse "no layout given" 2
refuse "every rank needs at least one token" 2 --ulysses 2 --size 16x16 --frames 1
refuse "needs guidance" 2 --ulysses 1 --cfg-parallel --guide-scale 1

echo "$failed failed"
[ "$failed" -eq 0 ]
