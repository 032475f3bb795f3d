#!/usr/bin/env bash
# `vidsparse bench step` on MPI ranks, end to end on the CPU: the tiny model in one process and
# on 1, 2 and 4 ranks (Ulysses 2, Ulysses 2 x CFG 2), every reported figure present and sane
# (step times ordered and positive, collective time > 0 on several ranks, mean <= max,
# share = comm max / step mean in [0, 1], density in (0, 1] for SVG2); layouts that cannot work
# refused with exit 2 before any work. Ranks are oversubscribed processes on this CPU.
set -u
[ "${VS_HAVE_MPI:-OFF}" = "ON" ] || { echo "skipped: built without MPI"; exit 77; }
bin=${VS_BINARY:?set VS_BINARY to the vidsparse binary}
mpiexec=${MPIEXEC:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }

# 32x32, 5 frames: 8 tokens (2 heads of 64); few steps, so a sanitizer build stays quick too.
small="--model tiny --device cpu --size 32x32 --frames 5 --warmup 1 --reps 3 --svg2-warm-steps 1"
# A sanitizer build runs the model ~30x slower: there the multi-rank runs time SVG2 only.
modes="dense svg2"
ranked="$small"
if ldd "$bin" 2>/dev/null | grep -q libasan; then
    modes=svg2; ranked="$small --attention svg2"; echo "(sanitizer build: multi-rank runs time svg2 only)"
fi

# value <log> <attention> <key>: a field of the run's "result:" line
value() { grep "^result: attention=$2 " "$1" | tr ' ' '\n' | sed -n "s/^$3=//p"; }
# holds <description> <awk condition over a b c>
holds() {
    local what=$1 cond=$2; shift 2
    if awk -v a="${1:-}" -v b="${2:-}" -v c="${3:-}" "BEGIN { exit !($cond) }"; then ok "$what"
    else bad "$what (a=${1:-} b=${2:-} c=${3:-})"; fi
}

# One process, no MPI: the one-process report, no collective figures.
if timeout 60 "$bin" bench step $small >"$tmp/single.log" 2>&1; then
    grep -Eq "^dense  step: median [0-9.]+ ms, min [0-9.]+ ms$" "$tmp/single.log" &&
        grep -Eq "^svg2   step: median [0-9.]+ ms, min [0-9.]+ ms, SVG2 mean density 0\.[0-9]+" "$tmp/single.log" &&
        ok "one process: dense and svg2 step lines" || { bad "one process: step lines"; cat "$tmp/single.log"; }
    grep -Eq "comm|result:" "$tmp/single.log" && bad "one process reports collectives" ||
        ok "one process: no collective figures"
else
    bad "one process: exit $?"; cat "$tmp/single.log"
fi

# ranks, layout...: every figure of both attention modes
check() {
    local np=$1; shift
    local name="$np ranks $*" log="$tmp/np$np.log"
    if ! timeout 120 "$mpiexec" --oversubscribe -np "$np" "$bin" bench step $ranked "$@" >"$log" 2>&1; then
        bad "$name: exit $?"; tail -20 "$log"; return
    fi
    grep -q "^layout: $np ranks = " "$log" && grep -q "^  share     = comm max / step mean" "$log" &&
        ok "$name: layout and formulas printed" || bad "$name: layout or formula lines missing"
    for attention in $modes; do
        if ! grep -q "^result: attention=$attention device=cpu ranks=$np " "$log"; then
            bad "$name $attention: no result line"; cat "$log"; continue
        fi
        local med min mean cmax cmean share density
        med=$(value "$log" $attention step_median_ms); min=$(value "$log" $attention step_min_ms)
        mean=$(value "$log" $attention step_mean_ms)
        cmax=$(value "$log" $attention comm_max_ms); cmean=$(value "$log" $attention comm_mean_ms)
        share=$(value "$log" $attention comm_share); density=$(value "$log" $attention density)
        holds "$name $attention: 0 < min <= median, min <= mean" "a > 0 && a <= b && a <= c" "$min" "$med" "$mean"
        # One rank exchanges with itself only: its collective time may print as 0.
        if [ "$np" -gt 1 ]; then
            holds "$name $attention: 0 < comm mean <= comm max <= step mean" "a > 0 && a <= b && b <= c" "$cmean" "$cmax" "$mean"
        else
            holds "$name $attention: 0 <= comm mean <= comm max <= step mean" "a >= 0 && a <= b && b <= c" "$cmean" "$cmax" "$mean"
        fi
        holds "$name $attention: share = comm max / step mean in [0, 1]" \
            "c >= 0 && c <= 1 && (c - a / b)^2 < 1e-4" "$cmax" "$mean" "$share"
        if [ $attention = svg2 ]; then holds "$name svg2: density in (0, 1]" "a > 0 && a <= 1" "$density"
        else holds "$name dense: no density" "a == -1" "$density"; fi
    done
}
check 1 --ulysses 1
check 2 --ulysses 2
check 4 --ulysses 2 --cfg-parallel
grep -q "transport=mpi " "$tmp/np4.log" && grep -q "^  comm per step: max .* collectives per step on rank 0 (mpi)" "$tmp/np4.log" &&
    ok "4 ranks: transport named" || bad "4 ranks: transport not named"

# Layouts that cannot work: exit 2 and the reason, before any work (no header, no step).
refuse() {  # message, ranks, options...
    local msg=$1 np=$2; shift 2
    timeout 60 "$mpiexec" --oversubscribe -np "$np" "$bin" bench step $small "$@" >"$tmp/bad.log" 2>&1
    local rc=$?
    if [ $rc -ne 0 ] && grep -q -- "$msg" "$tmp/bad.log" && ! grep -Eq "^bench step:|step 1/" "$tmp/bad.log"; then
        ok "refused before work: $np ranks $*"
    else
        bad "not refused: $np ranks $* (exit $rc)"; cat "$tmp/bad.log"
    fi
}
refuse "exceeds the model's 2 attention heads" 3 --ulysses 3
refuse "== number of ranks" 2 --ulysses 1
refuse "needs an even number of ranks" 3 --ulysses 2 --cfg-parallel
refuse "no layout given" 2

echo "$failed failed"
[ "$failed" -eq 0 ]
