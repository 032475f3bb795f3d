# PyTorch scaled_dot_product_attention timings (cuDNN and FlashAttention-2 backends) at the shape
# our CUDA attention kernels are measured at, for docs/attention-kernels.md. Not used at run time.
#   python3 tools/bench_sdpa.py [S] [H] [D] [--idle]
# --idle: a 20 ms pause before each timed run, as `vidsparse bench attention --timing idle`, so
# each run starts at the boost clock (without it, runs follow each other as under load).
import sys
import time

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

idle = "--idle" in sys.argv[1:]
args = [a for a in sys.argv[1:] if a != "--idle"]
S = int(args[0]) if len(args) > 0 else 32760
H = int(args[1]) if len(args) > 1 else 12
D = int(args[2]) if len(args) > 2 else 128
q, k, v = (torch.randn(1, H, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
flops = 4.0 * S * S * D * H
for name, backend in [("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash2", SDPBackend.FLASH_ATTENTION)]:
    try:
        with sdpa_kernel(backend):
            for _ in range(3):
                torch.nn.functional.scaled_dot_product_attention(q, k, v)
            times = []
            for _ in range(10):
                if idle:
                    torch.cuda.synchronize()
                    time.sleep(0.02)
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                torch.nn.functional.scaled_dot_product_attention(q, k, v)
                b.record()
                torch.cuda.synchronize()
                times.append(a.elapsed_time(b))
        ms = sorted(times)[len(times) // 2]
        timing = "idle" if idle else "back to back"
        print(f"sdpa {name} S={S} H={H} D={D} ({timing}): {ms:.3f} ms {flops / ms / 1e9:.1f} TFLOP/s")
    except RuntimeError as e:
        print(f"sdpa {name}: unavailable ({str(e).splitlines()[0]})")
