#!/usr/bin/env bash
# tools/convert_wan_vae.py: an official-named Wan 2.1 VAE state dict (random weights, the real
# channel layout at base 8, encoder included) converts back to exactly the diffusers tensors,
# agrees with diffusers' own single-file converter, and `vidsparse decode` gives the same video
# from the converted folder as from the diffusers weights. Skipped without python3 + torch + diffusers.
set -euo pipefail
src=${VS_SOURCE_DIR:?}
bin=${VS_BINARY:?}
command -v python3 >/dev/null || { echo "skipped: needs python3"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rc=0
python3 - "$src" "$tmp" <<'PY' || rc=$?
import os, sys
try:
    import torch
    from diffusers import AutoencoderKLWan
    from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers
except ImportError:
    sys.exit(77)
sys.path.insert(0, os.path.join(sys.argv[1], "tools"))
import convert_wan_vae as cv
tmp = sys.argv[2]
torch.manual_seed(0)
vae = AutoencoderKLWan(base_dim=8, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2)
sd = {k: v.clone() for k, v in vae.state_dict().items()}
for k, v in sd.items():
    if k.endswith("gamma"):
        v.add_(0.2 * torch.randn_like(v))

# Official names written out from the spec's table (§5.5), independently of the converter:
# decoder stage i's resnet j is upsamples.{4i+j}, its upsampler upsamples.{4i+3}.
def official(k):
    import re
    for a, b in (("norm1.gamma", "residual.0.gamma"), ("conv1.", "residual.2."), ("norm2.gamma", "residual.3.gamma"),
                 ("conv2.", "residual.6."), ("conv_shortcut.", "shortcut.")):
        if re.search(r"(resnets\.\d+|down_blocks\.\d+)\." + re.escape(a), k):
            k = re.sub(r"\." + re.escape(a), "." + b, k, count=1) if not k.endswith(a) else k[: -len(a)] + b
            break
    k = re.sub(r"^quant_conv\.", "conv1.", k)
    k = re.sub(r"^post_quant_conv\.", "conv2.", k)
    k = re.sub(r"^(encoder|decoder)\.conv_in\.", r"\1.conv1.", k)
    k = re.sub(r"^(encoder|decoder)\.norm_out\.", r"\1.head.0.", k)
    k = re.sub(r"^(encoder|decoder)\.conv_out\.", r"\1.head.2.", k)
    k = re.sub(r"mid_block\.resnets\.(\d)\.", lambda m: f"middle.{2 * int(m.group(1))}.", k)
    k = k.replace("mid_block.attentions.0.", "middle.1.")
    k = k.replace("encoder.down_blocks.", "encoder.downsamples.")
    k = re.sub(r"decoder\.up_blocks\.(\d)\.resnets\.(\d)\.", lambda m: f"decoder.upsamples.{4 * int(m.group(1)) + int(m.group(2))}.", k)
    k = re.sub(r"decoder\.up_blocks\.(\d)\.upsamplers\.0\.", lambda m: f"decoder.upsamples.{4 * int(m.group(1)) + 3}.", k)
    return k

off = {official(k): v for k, v in sd.items()}
assert len(off) == len(sd)
torch.save(off, os.path.join(tmp, "Wan2.1_VAE.pth"))
conv = cv.convert(off)
assert set(conv) == set(sd), sorted(set(conv) ^ set(sd))[:10]
assert all(torch.equal(conv[k], sd[k]) for k in sd)
ref = convert_wan_vae_to_diffusers(off)
assert set(ref) == set(sd), sorted(set(ref) ^ set(sd))[:10]
assert all(torch.equal(ref[k], conv[k]) for k in sd)
cv.save_safetensors(sd, os.path.join(tmp, "direct.safetensors"))
print(f"convert: {len(sd)} tensors agree with the originals and with diffusers' converter")
# The command line, in this process (one torch import is the slow part of this test).
sys.argv = ["convert_wan_vae.py", os.path.join(tmp, "Wan2.1_VAE.pth"), os.path.join(tmp, "converted")]
cv.main()
PY
[ $rc -eq 77 ] && { echo "skipped: needs python3 with torch and diffusers"; exit 77; }
[ $rc -eq 0 ] || exit $rc
grep -q '"num_res_blocks": 2' "$tmp/converted/config.json"
lat="$src/tests/fixtures/vae_small/decode_ref.safetensors"
"$bin" decode "$lat" -o "$tmp/a.y4m" --vae "$tmp/converted"
"$bin" decode "$lat" -o "$tmp/b.y4m" --vae "$tmp/direct.safetensors"
cmp "$tmp/a.y4m" "$tmp/b.y4m"
# The .pth itself is refused with the conversion hint.
if "$bin" decode "$lat" -o "$tmp/c.y4m" --vae "$tmp/Wan2.1_VAE.pth" 2>"$tmp/err"; then exit 1; fi
grep -q convert_wan_vae.py "$tmp/err"
echo "convert_vae: ok"
