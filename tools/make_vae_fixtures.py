#!/usr/bin/env python3
"""Parity fixtures for the CPU Wan VAE decoder (tests/test_vae_parity.c).

Builds small random diffusers AutoencoderKLWan models, rounds every decoder weight to f16 (so the
file is small and the values are exact), decodes random normalised latents with diffusers in
float64 on those exact values, and writes for each model, into tests/fixtures/<name>/:
  diffusion_pytorch_model.safetensors  post_quant_conv.* + decoder.* (f16), diffusers names
  config.json                          (vae_tiny only: the loader must also work without one)
  decode_ref.safetensors               latents [16, T, H, W] f32 (normalised, the DiT's space) and
                                       video [3, 1+4(T-1), 8H, 8W] f32 = clamp(decode(z*std+mean))

Models: vae_tiny = the diffusers unit-test config (base 3, dim_mult [1,1,1,1], 1 res block);
vae_small = the real Wan 2.1 channel layout at base 8 (dim_mult [1,2,4,4], 2 res blocks).
The conv_out weights are scaled so few outputs saturate at the clamp (a saturated pixel would
hide errors). Usage: python3 tools/make_vae_fixtures.py [OUT_DIR]
"""
import json
import os
import sys

import torch
from diffusers import AutoencoderKLWan
from safetensors.torch import save_file

MODELS = {
    "vae_tiny": dict(cfg=dict(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                              temperal_downsample=[False, True, True]),
                     latent=(3, 4, 4), config_json=True, seed=1),
    "vae_small": dict(cfg=dict(base_dim=8, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                               temperal_downsample=[False, True, True]),
                      latent=(3, 6, 4), config_json=False, seed=2),
}


def raw_decode(vae, z_raw):
    """diffusers' _decode without the clamp: the frame-by-frame loop with the feature cache."""
    vae.clear_cache()
    x = vae.post_quant_conv(z_raw)
    outs = []
    for i in range(x.shape[2]):
        vae._conv_idx = [0]
        outs.append(vae.decoder(x[:, :, i:i + 1], feat_cache=vae._feat_map, feat_idx=vae._conv_idx,
                                first_chunk=(i == 0)))
    vae.clear_cache()
    return torch.cat(outs, 2)


def make(name, spec, out_dir):
    torch.manual_seed(spec["seed"])
    vae = AutoencoderKLWan(**spec["cfg"]).eval()
    dec = {k: v for k, v in vae.state_dict().items() if k.startswith(("decoder.", "post_quant_conv."))}
    with torch.no_grad():
        for k, v in dec.items():
            if k.endswith("gamma"):
                v.copy_(1.0 + 0.2 * torch.randn_like(v))  # exercise the norm gains
            elif k.endswith("bias"):
                v.copy_(0.05 * torch.randn_like(v))
        vae = vae.double()
        t, h, w = spec["latent"]
        z = torch.randn(1, 16, t, h, w, generator=torch.Generator().manual_seed(spec["seed"] + 100))
        mean = torch.tensor(vae.config.latents_mean, dtype=torch.float32).view(1, 16, 1, 1, 1)
        std = torch.tensor(vae.config.latents_std, dtype=torch.float32).view(1, 16, 1, 1, 1)
        z_raw = z.double() * std.double() + mean.double()
        # Scale conv_out so the output std is about 0.5 before the clamp, then round to f16.
        sd = vae.state_dict()
        for k in dec:
            sd[k].copy_(sd[k].half().double())
        s = raw_decode(vae, z_raw).std().item()
        for k in ("decoder.conv_out.weight", "decoder.conv_out.bias"):
            sd[k].mul_(0.5 / s)
            sd[k].copy_(sd[k].half().double())
        video = vae.decode(z_raw).sample  # clamps to [-1, 1]
        sat = (video.abs() >= 1.0).double().mean().item()
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    save_file({k: sd[k].half().contiguous() for k in sorted(dec)},
              os.path.join(d, "diffusion_pytorch_model.safetensors"))
    if spec["config_json"]:
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(dict(_class_name="AutoencoderKLWan", **dict(vae.config)), f, indent=2, default=list)
    save_file({"latents": z[0].float().contiguous(), "video": video[0].float().contiguous()},
              os.path.join(d, "decode_ref.safetensors"))
    print(f"{name}: latents {list(z.shape[1:])} -> video {list(video.shape[1:])}, "
          f"{sum(v.numel() for v in dec.values())} decoder params, {100 * sat:.1f}% saturated")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
    for name, spec in MODELS.items():
        make(name, spec, out_dir)


if __name__ == "__main__":
    main()
