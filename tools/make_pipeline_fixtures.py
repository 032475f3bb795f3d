#!/usr/bin/env python3
"""Whole-pipeline parity fixture: 4-step UniPC and Euler runs with CFG of a real Wan DiT.

The transformer is diffusers' WanTransformer3DModel in float64 with the weights of
tests/fixtures/wan_tiny_diffusers.safetensors (made by tools/make_wan_fixtures.py; reused, not
duplicated: the diffusers unit-test shape, D 24 = 2 heads x 12, 2 layers, 4 latent channels,
text_dim 16, text_len 32; the same weights in official names are wan_tiny_official.safetensors,
which the C side loads), the official float64 time sinusoid, and the context zero-padded to
text_len, as that tool does. (The model is this small so that the test stays fast in the
sanitizer build.) The
sampler is the numpy float64 one of tools/make_sampler_fixtures.py (official formulas, checked
there against diffusers). The initial noise is vidsparse's: element j = vs_normal_at(seed, j)
(Philox4x32-10 + Box-Muller, runtime/vs_rng.h), re-implemented here in numpy.

Writes (into --out, default tests/fixtures):
  wan_tiny_config.json            the model config (official field names)
  pipeline_tiny.safetensors       "context" [12, 16], "negative_context" [7, 16] (usable as
                                  --prompt-embeds), "expected.unipc" and "expected.euler"
                                  [4, 2, 8, 8] (64x64 video, 5 frames), metadata: seed, steps,
                                  shift, guide_scale
Usage: python3 tools/make_pipeline_fixtures.py [--out tests/fixtures]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_sampler_fixtures as sampler  # noqa: E402
import make_wan_fixtures as wanfix  # noqa: E402

CFG = dict(heads=2, head_dim=12, in_dim=4, out_dim=4, text_dim=16, ffn_dim=32, layers=2,
           text_len=32)
SEED, STEPS, SHIFT, GUIDE = 2024, 4, 5.0, 5.0
LATENT = (4, 2, 8, 8)  # 64x64 pixels, 5 frames


def philox4x32(seed, counter):
    """Philox4x32-10 of vs_rng.h on a vector of 64-bit counters; returns words 0 and 1."""
    M = np.uint64(0xFFFFFFFF)
    c0 = counter & M
    c1 = counter >> np.uint64(32)
    c2 = np.zeros_like(c0)
    c3 = np.zeros_like(c0)
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)
    for _ in range(10):
        p0 = np.uint64(0xD2511F53) * c0
        p1 = np.uint64(0xCD9E8D57) * c2
        n0 = (p1 >> np.uint64(32)) ^ c1 ^ k0
        n2 = (p0 >> np.uint64(32)) ^ c3 ^ k1
        c1, c3, c0, c2 = p1 & M, p0 & M, n0, n2
        k0 = (k0 + np.uint64(0x9E3779B9)) & M
        k1 = (k1 + np.uint64(0xBB67AE85)) & M
    return c0, c1


def normal_at(seed, n):
    w0, w1 = philox4x32(seed, np.arange(n, dtype=np.uint64))
    u1 = (((w0 >> np.uint64(8)).astype(np.float32) + np.float32(1)) * np.float32(1 / 16777216))
    u2 = (((w1 >> np.uint64(8)).astype(np.float32) + np.float32(1)) * np.float32(1 / 16777216))
    radius = np.sqrt(-2.0 * np.log(u1.astype(np.float64)))
    return (radius * np.cos(6.283185307179586 * u2.astype(np.float64))).astype(np.float32)


def load_model(path):
    m = wanfix.build(CFG, 0)  # architecture only; every weight is replaced below
    names = set(m.state_dict().keys())  # the file also holds inputs and reference outputs
    weights = {k: v.to(torch.float64) for k, v in load_file(path).items() if k in names}
    m.load_state_dict(weights, strict=True)
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/fixtures")
    args = ap.parse_args()
    m = load_model(os.path.join(args.out, "wan_tiny_diffusers.safetensors"))
    g = torch.Generator().manual_seed(99)
    ctx = {"context": torch.randn(12, CFG["text_dim"], generator=g),
           "negative_context": torch.randn(7, CFG["text_dim"], generator=g)}

    def forward(x, t, context):
        padded = torch.zeros(CFG["text_len"], CFG["text_dim"], dtype=torch.float64)
        padded[: context.shape[0]] = context.to(torch.float64)
        with torch.no_grad():
            y = m(hidden_states=torch.from_numpy(x.reshape(LATENT))[None], timestep=torch.tensor([int(t)]),
                  encoder_hidden_states=padded[None], return_dict=False)[0][0]
        return y.numpy().reshape(-1)

    def velocity(x, t):
        v_c = forward(x, t, ctx["context"])
        v_u = forward(x, t, ctx["negative_context"])
        return v_u + GUIDE * (v_c - v_u)

    sigmas, timesteps = sampler.schedule(STEPS, SHIFT)
    x0 = normal_at(SEED, int(np.prod(LATENT))).astype(np.float64)
    out = {k: v.to(torch.float32).contiguous() for k, v in ctx.items()}
    out["expected.unipc"] = torch.from_numpy(
        sampler.unipc(x0, sigmas, timesteps, velocity)[-1].reshape(LATENT).astype(np.float32))
    out["expected.euler"] = torch.from_numpy(
        sampler.euler(x0, sigmas, timesteps, velocity)[-1].reshape(LATENT).astype(np.float32))
    meta = {"seed": str(SEED), "steps": str(STEPS), "shift": str(SHIFT), "guide_scale": str(GUIDE),
            "size": "64x64", "frames": "5", "weights": "wan_tiny_official.safetensors",
            "reference": "diffusers WanTransformer3DModel float64 + numpy float64 official sampler"}
    path = os.path.join(args.out, "pipeline_tiny.safetensors")
    save_file(out, path, metadata=meta)
    cfg_path = os.path.join(args.out, "wan_tiny_config.json")
    with open(cfg_path, "w") as f:
        json.dump({"_class_name": "WanModel", "model_type": "t2v",
                   "dim": CFG["heads"] * CFG["head_dim"], "ffn_dim": CFG["ffn_dim"], "freq_dim": 256,
                   "num_heads": CFG["heads"], "num_layers": CFG["layers"], "in_dim": CFG["in_dim"],
                   "out_dim": CFG["out_dim"], "text_len": CFG["text_len"],
                   "text_dim": CFG["text_dim"], "eps": 1e-6}, f, indent=2)
        f.write("\n")
    u = out["expected.unipc"]
    print(f"wrote {path} and {cfg_path}: t = {[int(t) for t in timesteps]}, "
          f"unipc latent std {float(u.std()):.4f}, max |x| {float(u.abs().max()):.4f}")


if __name__ == "__main__":
    main()
