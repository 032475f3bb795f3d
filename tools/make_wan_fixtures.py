#!/usr/bin/env python3
"""Reference fixtures for the Wan DiT forward pass: diffusers' WanTransformer3DModel on small
random models, run on the CPU in float64, saved as safetensors under tests/fixtures/.

  python3 tools/make_wan_fixtures.py [--out tests/fixtures]

Files (weights stored as bf16; the reference runs on exactly those values, upcast):
  wan_tiny_diffusers.safetensors   diffusers unit-test config (D=24, 2 heads x 12, in/out 4,
                                   text_dim 16, ffn 32, 2 layers), context 12 rows padded to 32
  wan_tiny_official.safetensors    the same weights renamed to the official Wan names (weights only)
  wan_h128_diffusers.safetensors   shaped like the real model: head_dim 128, 2 heads, in/out 16,
                                   text 20 rows padded to 512, text_dim 32, ffn 64, 2 layers
Each reference file also holds (f32 unless noted):
  meta.config      i64 [dim, num_heads, ffn_dim, num_layers, in_dim, out_dim, text_dim,
                        text_len, freq_dim]
  meta.timesteps   i64 [2] (999, 500)
  input.latent     [in_dim, T, H, W]
  input.context    [Lt, text_dim]   (unpadded; the model pads to text_len with zeros)
  t{ts}.block.{i}  [L, D]  hidden states after block i
  t{ts}.out        [out_dim, T, H, W]  the model output
Two deliberate departures from stock diffusers, both towards the official Wan code (spec 2.2, 2.3):
  - the time sinusoid is the official float64 one (diffusers forms it in float32);
  - the context is zero-padded to text_len before the model (the official forward does this
    itself; the diffusers pipeline does it too, with no mask).
"""
import argparse
import math
import os
import sys

import torch
from safetensors.torch import save_file

import diffusers
from diffusers import WanTransformer3DModel


def official_sinusoid(freq_dim):
    """[cos | sin] of t * 10000^(-k/half), in float64 (the official sinusoidal_embedding_1d)."""

    class Sinusoid(torch.nn.Module):
        def forward(self, t):
            half = freq_dim // 2
            k = torch.arange(half, dtype=torch.float64)
            arg = t.to(torch.float64)[:, None] * torch.pow(10000.0, -k / half)[None, :]
            return torch.cat([torch.cos(arg), torch.sin(arg)], dim=1)

    return Sinusoid()


# Official -> diffusers renames (spec 3.3), applied in reverse to make the official file.
RENAMES = [
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.time_proj", "time_projection.1"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("attn1.to_out.0", "self_attn.o"),
    ("attn2.to_out.0", "cross_attn.o"),
    ("attn1.to_", "self_attn."),
    ("attn2.to_", "cross_attn."),
    ("attn1.", "self_attn."),
    ("attn2.", "cross_attn."),
    ("ffn.net.0.proj", "ffn.0"),
    ("ffn.net.2", "ffn.2"),
    ("proj_out", "head.head"),
]


def to_official(name):
    if name == "scale_shift_table":
        return "head.modulation"
    if name.endswith(".scale_shift_table"):
        return name.replace(".scale_shift_table", ".modulation")
    for a, b in RENAMES:
        if a in name:
            name = name.replace(a, b)
            break
    # diffusers norm2 is the affine pre-cross-attn LayerNorm, official norm3.
    if ".norm2." in name:
        name = name.replace(".norm2.", ".norm3.")
    return name


def build(cfg, seed):
    torch.manual_seed(seed)
    m = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=cfg["heads"], attention_head_dim=cfg["head_dim"],
        in_channels=cfg["in_dim"], out_channels=cfg["out_dim"], text_dim=cfg["text_dim"],
        freq_dim=256, ffn_dim=cfg["ffn_dim"], num_layers=cfg["layers"], cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
    with torch.no_grad():
        for name, p in m.named_parameters():
            # Norm weights start at 1 and biases at 0 in some modules: perturb everything so that
            # every weight matters, then round to bf16 so the stored file is exact.
            if p.ndim == 1 and "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif "scale_shift_table" in name:
                p.copy_(0.2 * torch.randn_like(p))
            p.copy_(p.to(torch.bfloat16).to(p.dtype))
    m.condition_embedder.timesteps_proj = official_sinusoid(256)
    return m.to(torch.float64).eval()


def run(m, cfg, latent, context, timesteps):
    D = cfg["heads"] * cfg["head_dim"]
    padded = torch.zeros(cfg["text_len"], cfg["text_dim"], dtype=torch.float64)
    padded[: context.shape[0]] = context.to(torch.float64)
    out = {}
    for ts in timesteps:
        blocks = []
        hooks = [b.register_forward_hook(lambda mod, inp, o: blocks.append(o[0] if isinstance(o, tuple) else o))
                 for b in m.blocks]
        with torch.no_grad():
            y = m(hidden_states=latent.to(torch.float64)[None], timestep=torch.tensor([ts]),
                  encoder_hidden_states=padded[None], return_dict=False)[0][0]
        for h in hooks:
            h.remove()
        assert len(blocks) == cfg["layers"]
        for i, b in enumerate(blocks):
            assert b.shape[-1] == D
            out[f"t{ts}.block.{i}"] = b[0].to(torch.float32).contiguous()
        out[f"t{ts}.out"] = y.to(torch.float32).contiguous()
    return out


def make(path, cfg, seed, official_path=None):
    m = build(cfg, seed)
    g = torch.Generator().manual_seed(seed + 1)
    latent = torch.randn(cfg["in_dim"], *cfg["thw"], generator=g)
    context = torch.randn(cfg["lt"], cfg["text_dim"], generator=g)
    timesteps = [999, 500]
    tensors = {k: v.to(torch.bfloat16).contiguous() for k, v in m.state_dict().items()}
    D = cfg["heads"] * cfg["head_dim"]
    tensors["meta.config"] = torch.tensor(
        [D, cfg["heads"], cfg["ffn_dim"], cfg["layers"], cfg["in_dim"], cfg["out_dim"],
         cfg["text_dim"], cfg["text_len"], 256], dtype=torch.int64)
    tensors["meta.timesteps"] = torch.tensor(timesteps, dtype=torch.int64)
    tensors["input.latent"] = latent.contiguous()
    tensors["input.context"] = context.contiguous()
    tensors.update(run(m, cfg, latent, context, timesteps))
    meta = {"torch": torch.__version__, "diffusers": diffusers.__version__,
            "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
            "reference": "diffusers WanTransformer3DModel, float64, CPU, official f64 sinusoid"}
    save_file(tensors, path, metadata=meta)
    print(f"{path}: {os.path.getsize(path)} bytes")
    if official_path:
        weights = {to_official(k): v.to(torch.bfloat16).contiguous() for k, v in m.state_dict().items()}
        assert len(weights) == len(m.state_dict()), "two diffusers names mapped to one official name"
        save_file(weights, official_path, metadata=meta)
        print(f"{official_path}: {os.path.getsize(official_path)} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/fixtures")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tiny = dict(heads=2, head_dim=12, in_dim=4, out_dim=4, text_dim=16, ffn_dim=32, layers=2,
                text_len=32, lt=12, thw=(2, 16, 16))
    make(os.path.join(args.out, "wan_tiny_diffusers.safetensors"), tiny, 1234,
         os.path.join(args.out, "wan_tiny_official.safetensors"))
    h128 = dict(heads=2, head_dim=128, in_dim=16, out_dim=16, text_dim=32, ffn_dim=64, layers=2,
                text_len=512, lt=20, thw=(3, 8, 12))
    make(os.path.join(args.out, "wan_h128_diffusers.safetensors"), h128, 4321)


if __name__ == "__main__":
    main()
