#!/usr/bin/env bash
# Installs what vidsparse builds against, from Debian's packages. Idempotent; needs root.
# CUDA is optional and not installed here: where nvcc exists (/usr/local/cuda), the build uses it.
set -euo pipefail
pkgs=(build-essential cmake pkg-config git libcjson-dev libopenmpi-dev openmpi-bin
      libavformat-dev libavcodec-dev libswscale-dev libavutil-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all build dependencies present"
