#!/usr/bin/env python3
"""How much the GPU decoder's rounding alone moves the VAE fixtures, measured on the CPU.

The CUDA decoder (docs/video.md) rounds the inputs and weights (and biases) of every convolution to
bf16 or to TF32 and accumulates in f32. This tool applies the same rounding to the conv inputs,
weights and biases of diffusers' AutoencoderKLWan in float64 (everything else exact) and prints the
relative L2 error against the fixture's reference video (tests/fixtures/vae_*/decode_ref.safetensors).
The GPU test (tests/gpu/test_vae_gpu.c) takes its bound for the ill-conditioned unit-test model from
these numbers. TF32 rounding is emulated as round-to-nearest at 10 mantissa bits.

    python3 tools/vae_rounding_sensitivity.py        # from the repository root; ~1 min on one core
"""
import os
import sys

import torch
from diffusers import AutoencoderKLWan
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_vae_fixtures import MODELS, raw_decode  # noqa: E402


def rounded(x, mode):
    if not torch.is_tensor(x) or mode == "none":
        return x
    if mode == "bf16":
        return x.to(torch.bfloat16).to(x.dtype)
    bits = x.float().view(torch.int32)
    bits = (bits + 0x1000) & ~0x1FFF  # keep 10 mantissa bits, rounding to nearest
    return bits.view(torch.float32).to(x.dtype)


def rel_l2(name, mode, fixtures):
    spec = MODELS[name]
    vae = AutoencoderKLWan(**spec["cfg"]).eval()
    weights = load_file(os.path.join(fixtures, name, "diffusion_pytorch_model.safetensors"))
    vae.load_state_dict({k: v.float() for k, v in weights.items()}, strict=False)
    vae = vae.double()
    ref = load_file(os.path.join(fixtures, name, "decode_ref.safetensors"))
    mean = torch.tensor(vae.config.latents_mean).double().view(1, 16, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).double().view(1, 16, 1, 1, 1)
    with torch.no_grad():
        for m in vae.modules():
            if isinstance(m, (torch.nn.Conv3d, torch.nn.Conv2d)):
                m.weight.copy_(rounded(m.weight, mode))
                if m.bias is not None:
                    m.bias.copy_(rounded(m.bias, mode))
                m.register_forward_pre_hook(lambda mod, args: tuple(rounded(a, mode) for a in args))
        video = raw_decode(vae, ref["latents"].double()[None] * std + mean).clamp(-1, 1)[0]
    want = ref["video"].double()
    return ((video - want).norm() / want.norm()).item()


def main():
    fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
    for name in ("vae_tiny", "vae_small"):
        print(name, "  ".join(f"{mode} {rel_l2(name, mode, fixtures):.3g}" for mode in ("none", "tf32", "bf16")),
              flush=True)


if __name__ == "__main__":
    main()
