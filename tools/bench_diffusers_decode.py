#!/usr/bin/env python3
"""Baseline for `vidsparse bench decode`: diffusers' AutoencoderKLWan decode on the same shapes.

The model is AutoencoderKLWan() with its default (Wan 2.1) layout: base 96, dim_mult [1,2,4,4],
2 res blocks, z 16, with PyTorch's default random initialisation (seed 0). The latents are
random normals mapped to the VAE's raw space (z * std + mean), as the Wan pipeline does before
vae.decode. vae.decode runs the official chunked loop (one latent frame at a time, feature cache).

Timing: CUDA events around vae.decode after one warm-up decode of 3 latent frames. Memory:
torch.cuda.max_memory_allocated() over the timed decode (reset before it), which counts the
weights, activations and caches held by the caching allocator's tensors (not its free reserve).
PyTorch defaults are kept: in float32, cuDNN convolutions use TF32 (torch.backends.cudnn.allow_tf32
is True by default); the flag is printed.

    python3 tools/bench_diffusers_decode.py --size 832x480 1280x720 --frames 81 --dtype float32 bfloat16
"""
import argparse
import time

import torch
from diffusers import AutoencoderKLWan


def bench(vae, dtype, t, h, w, repeat):
    mean = torch.tensor(vae.config.latents_mean, device="cuda", dtype=torch.float32).view(1, 16, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std, device="cuda", dtype=torch.float32).view(1, 16, 1, 1, 1)
    gen = torch.Generator(device="cuda").manual_seed(77)
    z = torch.randn(1, 16, t, h, w, generator=gen, device="cuda", dtype=torch.float32)
    z = (z * std + mean).to(dtype)
    with torch.no_grad():
        vae.decode(z[:, :, : min(t, 3)]).sample  # warm-up: cuDNN plans, allocator pools
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(repeat):
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            out = vae.decode(z).sample
            e1.record()
            torch.cuda.synchronize()
            times.append(e0.elapsed_time(e1))
            del out
    return times, torch.cuda.max_memory_allocated(), torch.cuda.max_memory_reserved()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", nargs="+", default=["832x480"], help="WxH (several: one after another)")
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--dtype", nargs="+", default=["float32", "bfloat16"])
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    torch.manual_seed(0)
    t0 = time.time()
    base = AutoencoderKLWan().eval()
    print(f"diffusers AutoencoderKLWan (random init, {sum(p.numel() for p in base.parameters()) / 1e6:.1f} M params, "
          f"{time.time() - t0:.1f} s); torch {torch.__version__}, {torch.cuda.get_device_name()}, "
          f"cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}, matmul.allow_tf32={torch.backends.cuda.matmul.allow_tf32}")
    for name in a.dtype:  # float32 first: the bf16 cast rounds the (random) weights in place
        dtype = getattr(torch, name)
        vae = base.to("cuda", dtype)
        for size in a.size:
            width, height = (int(v) for v in size.split("x"))
            t, h, w = (a.frames - 1) // 4 + 1, height // 8, width // 8
            torch.cuda.empty_cache()
            times, peak, reserved = bench(vae, dtype, t, h, w, a.repeat)
            print(f"RESULT diffusers decode {width}x{height}x{a.frames} {name}: best {min(times):.1f} ms, "
                  f"mean {sum(times) / len(times):.1f} ms; peak GPU memory {peak / 2**30:.2f} GiB allocated "
                  f"({reserved / 2**30:.2f} GiB reserved)", flush=True)


if __name__ == "__main__":
    main()
