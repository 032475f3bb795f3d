#!/usr/bin/env bash
# Installs the dependencies, builds vidsparse, and generates a video with the built-in tiny model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -x /usr/local/cuda/bin/nvcc ] && export PATH="/usr/local/cuda/bin:$PATH"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release | grep "vidsparse dependency"
cmake --build build -j "$(nproc)"
./build/vidsparse generate --model tiny -o tiny.mp4
