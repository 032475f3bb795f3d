#!/usr/bin/env bash
# `vidsparse bench`: bad arguments get one clear message and a non-zero exit before any GPU work
# (so this test never starts a benchmark, with or without a GPU).
set -u
bin=${VS_BINARY:?VS_BINARY must name the vidsparse binary}
fail=0
expect() {  # expect <exit code> <text in stderr/stdout> <args...>
  local code=$1 text=$2
  shift 2
  local out
  out=$("$bin" "$@" 2>&1)
  local rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -q -- "$text" <<<"$out"; then
    echo "FAIL: vidsparse $* -> exit $rc (want $code), output: $out"
    fail=1
  else
    echo "ok   vidsparse $*"
  fi
}
expect 2 "usage: vidsparse bench" bench
expect 2 "unknown benchmark" bench nope
expect 0 "--shape" bench attention --help
expect 2 "unknown shape" bench attention --shape nope
expect 2 "top-p" bench attention --top-p 0.3,2
expect 2 "top-p" bench attention --top-p 0.3x
expect 2 "needs a value" bench attention --iters
expect 2 "bad option" bench attention --iters 0
expect 2 "wants a number" bench attention --warmup many
expect 2 "alternate or idle" bench attention --timing fast
expect 0 "--timing" bench attention --help
expect 0 "--frames" bench decode --help
expect 2 "1 + 4k" bench decode --frames 80
expect 2 "multiples of 8" bench decode --size 832x480,830x480
expect 2 "bf16, tf32, f32 or both" bench decode --precision fp8
expect 0 "--ulysses" bench step --help
expect 2 "drop --config" bench step --model tiny --config configs/wan2.1-t2v-1.3b.json
expect 2 "cuda, a GPU index or cpu" bench step --model tiny --device gpu
expect 2 "applies to --model tiny only" bench step --config configs/wan2.1-t2v-1.3b.json --random-weights --tiny-heads 4
expect 2 "not a GPU index" bench step --model tiny --device 1 --ulysses 2
exit $fail
