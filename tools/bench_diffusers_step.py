#!/usr/bin/env python3
"""The baseline for `vidsparse bench step`: one CFG denoising step of diffusers' WanTransformer3DModel.

Same work as launch/bench_step.c: for the prompt and the negative prompt, one transformer forward
over the whole latent (time and text embedding, 30/40 blocks, head, unpatchify); the CFG
combination and scheduler update are left out on both sides. bf16 weights and activations as
diffusers loads them with torch_dtype=bfloat16 (its _keep_in_fp32_modules stay f32), attention
through PyTorch's scaled_dot_product_attention (diffusers' default "native" backend), random
weights created on the GPU. Timed with CUDA events: median of --reps steps after --warmup.

  python3 tools/bench_diffusers_step.py --config configs/wan2.1-t2v-1.3b.json --size 832x480 --frames 81
"""
import argparse
import json
import statistics
import sys

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="Wan config JSON (official field names)")
    ap.add_argument("--size", default="832x480", help="WxH in pixels (832x480)")
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--timestep", type=int, default=500)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench_diffusers_step: no CUDA GPU visible")
    from diffusers import WanTransformer3DModel

    with open(args.config) as f:
        c = json.load(f)
    w, h = (int(v) for v in args.size.split("x"))
    if w % 16 or h % 16 or (args.frames - 1) % 4:
        sys.exit("bench_diffusers_step: size must be multiples of 16 and frames 4k+1")
    heads = c["num_heads"]
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = WanTransformer3DModel(
            patch_size=tuple(c.get("patch_size", (1, 2, 2))), num_attention_heads=heads,
            attention_head_dim=c["dim"] // heads, in_channels=c["in_dim"], out_channels=c["out_dim"],
            text_dim=c.get("text_dim", 4096), freq_dim=c.get("freq_dim", 256), ffn_dim=c["ffn_dim"],
            num_layers=c["num_layers"], cross_attn_norm=True, qk_norm="rms_norm_across_heads",
            eps=c.get("eps", 1e-6))
    # bf16 except what from_pretrained(torch_dtype=bfloat16) keeps in f32 (_keep_in_fp32_modules).
    keep = set(model._keep_in_fp32_modules or [])
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if t.is_floating_point() and not keep.intersection(name.split(".")):
            t.data = t.data.to(torch.bfloat16)
    model.eval()

    T, H, W = (args.frames - 1) // 4 + 1, h // 8, w // 8
    tokens = T * (H // 2) * (W // 2)
    text_len = c.get("text_len", 512)
    g = torch.Generator(device="cuda").manual_seed(1)
    latent = torch.randn(1, c["in_dim"], T, H, W, device="cuda", generator=g).to(torch.bfloat16)
    ctx = [0.2 * torch.randn(1, text_len, c.get("text_dim", 4096), device="cuda", generator=g)
           for _ in range(2)]
    ctx = [x.to(torch.bfloat16) for x in ctx]
    t = torch.tensor([args.timestep], device="cuda")

    def step():
        for branch in range(2):
            model(hidden_states=latent, timestep=t, encoder_hidden_states=ctx[branch], return_dict=False)

    print(f"diffusers step: {torch.cuda.get_device_name()}, torch {torch.__version__}, "
          f"diffusers {__import__('diffusers').__version__}")
    print(f"model {args.config} (dim {c['dim']}, {c['num_layers']} layers, {heads} heads), {w}x{h}, "
          f"{args.frames} frames -> {tokens} tokens; bf16, SDPA attention; CFG: 2 forwards per step")
    with torch.inference_mode():
        for _ in range(args.warmup):
            step()
        torch.cuda.synchronize()
        times = []
        for i in range(args.reps):
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
            print(f"  diffusers step {i + 1}/{args.reps}: {times[-1]:.1f} ms", file=sys.stderr)
    print(f"diffusers step: median {statistics.median(times):.1f} ms, min {min(times):.1f} ms; "
          f"peak GPU memory {torch.cuda.max_memory_allocated() / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
