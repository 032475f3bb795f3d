#!/usr/bin/env bash
# End to end on the command line: `generate --model tiny -o tiny.mp4` writes a real MP4 (Y4M
# without FFmpeg) and keeps the latents first; `decode` of those latents (the tiny VAE chosen
# from the file's metadata) reproduces the same frames; bad arguments exit 2 with a message.
set -euo pipefail
bin=${VS_BINARY:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

if "$bin" version | grep -q ffmpeg; then
    "$bin" generate --model tiny -o tiny.mp4 > gen.log
    head -c 12 tiny.mp4 | grep -q ftyp          # an ISO BMFF file
    grep -q moov tiny.mp4                        # the trailer was written
    grep -q "decode: .* -> 9 frames 128x128" gen.log
    grep -q "peak working memory" gen.log
else
    "$bin" generate --model tiny -o tiny.mp4 > gen.log 2> gen.err
    grep -q "no FFmpeg" gen.err
    head -c 9 tiny.y4m | grep -q YUV4MPEG2
fi

# Latents are written before the video, and decoding them again gives the same frames.
"$bin" generate --model tiny -o a.y4m --save-latents lat.safetensors > /dev/null
[ -s lat.safetensors ]
"$bin" decode lat.safetensors -o b.y4m > /dev/null
cmp a.y4m b.y4m
[ "$(grep -c FRAME a.y4m)" -eq 9 ]
"$bin" decode lat.safetensors -o c.y4m --vae tiny --fps 8 > /dev/null
head -1 c.y4m | grep -q " F8:1 "

expect_usage_error() {  # exit code 2 and a message naming the problem
    local want=$1; shift
    local rc=0
    "$@" > out.log 2> err.log || rc=$?
    [ $rc -eq 2 ] || { echo "exit code $rc, expected 2: $*"; exit 1; }
    grep -q -- "$want" err.log || { echo "message lacks '$want': $(cat err.log)"; exit 1; }
}
expect_usage_error "missing -o" "$bin" decode lat.safetensors
expect_usage_error "name a video" "$bin" decode lat.safetensors -o x.avi
expect_usage_error "no such file" "$bin" decode nothing.safetensors -o x.mp4
expect_usage_error "no such file or folder" "$bin" decode lat.safetensors -o x.mp4 --vae /nonexistent
expect_usage_error "--fps" "$bin" decode lat.safetensors -o x.mp4 --fps 0
expect_usage_error "--device" "$bin" decode lat.safetensors -o x.mp4 --device tpu
expect_usage_error "does not exist" "$bin" decode lat.safetensors -o nodir/x.mp4
expect_usage_error "name a video" "$bin" generate --model tiny -o x.avi
expect_usage_error "--save-latents" "$bin" generate --model tiny -o x.mp4 --save-latents x.bin
echo "video_cli: ok"
