#!/usr/bin/env python3
"""Convert the official Wan 2.1 VAE (Wan2.1_VAE.pth) to the diffusers AutoencoderKLWan layout.

    python3 tools/convert_wan_vae.py Wan2.1_VAE.pth OUT_DIR

writes OUT_DIR/diffusion_pytorch_model.safetensors (diffusers tensor names, dtypes unchanged)
and OUT_DIR/config.json (the layout read from the shapes), which `vidsparse decode --vae OUT_DIR`
and `vidsparse generate --vae OUT_DIR` load. Needs torch only (the safetensors file is written
by hand: 8-byte header length, JSON header, raw little-endian data).

Renaming (spec §5.5): conv1/conv2 -> quant_conv/post_quant_conv; {encoder,decoder}.conv1 -> conv_in;
middle.{0,2} -> mid_block.resnets.{0,1} and middle.1 -> mid_block.attentions.0; head.{0,2} ->
norm_out/conv_out; residual.{0,2,3,6} -> norm1.gamma/conv1/norm2.gamma/conv2; shortcut ->
conv_shortcut; encoder.downsamples.k -> encoder.down_blocks.k (same flat index). The decoder's
flat decoder.upsamples.k list is regrouped into up_blocks.i.resnets.j / up_blocks.i.upsamplers.0:
each Resample (a module with resample.1.*) closes a stage, so any num_res_blocks works.
"""
import ctypes
import json
import os
import re
import sys

import torch

RESIDUAL = {"residual.0.gamma": "norm1.gamma", "residual.2.weight": "conv1.weight",
            "residual.2.bias": "conv1.bias", "residual.3.gamma": "norm2.gamma",
            "residual.6.weight": "conv2.weight", "residual.6.bias": "conv2.bias",
            "shortcut.weight": "conv_shortcut.weight", "shortcut.bias": "conv_shortcut.bias"}
TOP = {"conv1": "quant_conv", "conv2": "post_quant_conv"}


def rename_block(rest):
    """'residual.2.weight' -> 'conv1.weight'; anything else (resample.1.*, time_conv.*) unchanged."""
    return RESIDUAL.get(rest, rest)


def rename_common(part, rest):
    """Names shared by encoder and decoder; part is 'encoder' or 'decoder'. None if not handled."""
    if rest.startswith("conv1."):
        return f"{part}.conv_in.{rest[6:]}"
    m = re.match(r"middle\.(\d)\.(.*)", rest)
    if m:
        i, r = int(m.group(1)), m.group(2)
        if i == 1:
            return f"{part}.mid_block.attentions.0.{r}"
        return f"{part}.mid_block.resnets.{i // 2}.{rename_block(r)}"
    m = re.match(r"head\.(\d)\.(.*)", rest)
    if m:
        return f"{part}.{'norm_out' if m.group(1) == '0' else 'conv_out'}.{m.group(2)}"
    return None


def decoder_stage_map(keys):
    """Flat decoder.upsamples index -> ('up_blocks.i.resnets.j' or 'up_blocks.i.upsamplers.0')."""
    idx = sorted({int(k.split(".")[2]) for k in keys if k.startswith("decoder.upsamples.")})
    resamplers = {int(k.split(".")[2]) for k in keys if re.match(r"decoder\.upsamples\.\d+\.resample\.1\.", k)}
    out, stage, res = {}, 0, 0
    for k in idx:
        if k in resamplers:
            out[k] = f"up_blocks.{stage}.upsamplers.0"
            stage, res = stage + 1, 0
        else:
            out[k] = f"up_blocks.{stage}.resnets.{res}"
            res += 1
    return out


def convert(sd):
    stages = decoder_stage_map(sd.keys())
    out = {}
    for k, v in sd.items():
        head, _, rest = k.partition(".")
        if head in TOP:
            new = f"{TOP[head]}.{rest}"
        elif head in ("encoder", "decoder"):
            new = rename_common(head, rest)
            if new is None:
                m = re.match(r"(downsamples|upsamples)\.(\d+)\.(.*)", rest)
                if not m:
                    raise SystemExit(f"unknown tensor {k}: is this a Wan 2.1 VAE state dict?")
                block = (f"down_blocks.{m.group(2)}" if m.group(1) == "downsamples"
                         else stages[int(m.group(2))])
                new = f"{head}.{block}.{rename_block(m.group(3))}"
        else:
            raise SystemExit(f"unknown tensor {k}: is this a Wan 2.1 VAE state dict?")
        out[new] = v
    return out


def infer_config(sd):
    """diffusers config from the converted shapes (base_dim, dim_mult, num_res_blocks, z_dim)."""
    n = len({int(m.group(1)) for k in sd for m in [re.match(r"decoder\.up_blocks\.(\d+)\.", k)] if m})
    widths = [sd[f"decoder.up_blocks.{i}.resnets.0.conv1.weight"].shape[0] for i in range(n)]
    base = widths[-1]
    n_res = len({k.split(".")[4] for k in sd if k.startswith("decoder.up_blocks.0.resnets.")})
    z = sd["post_quant_conv.weight"].shape[0]
    temporal = [f"decoder.up_blocks.{i}.upsamplers.0.time_conv.weight" in sd for i in range(n - 1)]
    return {"_class_name": "AutoencoderKLWan", "base_dim": base, "z_dim": z,
            "dim_mult": [w // base for w in reversed(widths)], "num_res_blocks": n_res - 1,
            "attn_scales": [], "temperal_downsample": list(reversed(temporal)), "dropout": 0.0,
            "latents_mean": [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                             0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921],
            "latents_std": [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
                            3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160]}


DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64"}


def save_safetensors(tensors, path):
    header, offset, order = {}, 0, sorted(tensors)
    for k in order:
        t = tensors[k]
        if t.dtype not in DTYPES:
            raise SystemExit(f"{k}: dtype {t.dtype} is not a float type")
        n = t.numel() * t.element_size()
        header[k] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for k in order:
            t = tensors[k].detach().contiguous().cpu()
            f.write(ctypes.string_at(t.data_ptr(), t.numel() * t.element_size()))


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, out_dir = sys.argv[1], sys.argv[2]
    sd = torch.load(src, map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    if "post_quant_conv.weight" in sd:
        raise SystemExit(f"{src} already uses the diffusers names; no conversion needed")
    conv = convert(sd)
    os.makedirs(out_dir, exist_ok=True)
    save_safetensors(conv, os.path.join(out_dir, "diffusion_pytorch_model.safetensors"))
    cfg = infer_config(conv)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    print(f"{src}: {len(conv)} tensors -> {out_dir} (base {cfg['base_dim']}, dim_mult {cfg['dim_mult']}, "
          f"{cfg['num_res_blocks']} res blocks, z {cfg['z_dim']})")


if __name__ == "__main__":
    main()
