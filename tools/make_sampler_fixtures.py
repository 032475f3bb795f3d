#!/usr/bin/env python3
"""Sampler parity fixture: whole UniPC and Euler trajectories with CFG, official formulas.

The velocity model is a small random MLP, v(x, t) = W2 tanh(W1 x + (t / 1000) b), with one bias
per CFG branch (b_c, b_u), guided with v = v_u + g (v_c - v_u). The schedule and the UniPC
(order 2, bh2, x0 prediction, corrector, lower order first and last) are written here from
wan21-spec.md section 4 in numpy float64, and the UniPC trajectory is cross-checked against
diffusers' UniPCMultistepScheduler driven with the same sigmas and timesteps.

Output, tests/fixtures/sampler_trajectories.bin, little-endian:
  char[8] "VSSAMP1\\0"; int32 n, hidden, steps; float64 shift; float32 guide_scale;
  float32 W1[hidden, n], b_c[hidden], b_u[hidden], W2[n, hidden], x_init[n];
  float32 sigmas[steps + 1]; int64 timesteps[steps];
  float32 unipc[steps, n], euler[steps, n]   (the sample after each step)
Usage: python3 tools/make_sampler_fixtures.py [out.bin]
"""
import struct
import sys

import numpy as np

N_ELEM, HIDDEN, STEPS, SHIFT, GUIDE = 64, 32, 4, 5.0, 5.0


def schedule(steps, shift):
    sigma_max = float(np.float32(0.999))
    u = np.linspace(sigma_max, 0.0, steps + 1)[:steps]
    sigma = shift * u / (1 + (shift - 1) * u)
    t = (sigma * 1000).astype(np.int64)
    return np.concatenate([sigma, [0.0]]).astype(np.float32), t


def make_velocity(rng):
    W1 = (rng.standard_normal((HIDDEN, N_ELEM)) / np.sqrt(N_ELEM)).astype(np.float32)
    b_c = rng.standard_normal(HIDDEN).astype(np.float32)
    b_u = rng.standard_normal(HIDDEN).astype(np.float32)
    W2 = (rng.standard_normal((N_ELEM, HIDDEN)) / np.sqrt(HIDDEN)).astype(np.float32)

    def velocity(x, t):
        h = W1.astype(np.float64) @ x
        v_c = W2.astype(np.float64) @ np.tanh(h + t / 1000.0 * b_c)
        v_u = W2.astype(np.float64) @ np.tanh(h + t / 1000.0 * b_u)
        return v_u + GUIDE * (v_c - v_u)

    return (W1, b_c, b_u, W2), velocity


def lam(s):
    return np.log(1.0 - s) - np.log(s)


def unipc(x, sigmas, timesteps, velocity):
    sig = sigmas.astype(np.float64)
    N = len(timesteps)
    out, M, x_prev, p_c = [], [], None, 0
    for i in range(N):
        v = velocity(x, float(timesteps[i]))
        m = x - sig[i] * v
        if i > 0:
            h = lam(sig[i]) - lam(sig[i - 1])
            hh = -h
            phi1 = np.expm1(hh)
            B = np.expm1(hh)
            base = (sig[i] / sig[i - 1]) * x_prev - (1 - sig[i]) * phi1 * M[-1]
            if p_c == 1:
                x = base - (1 - sig[i]) * B * (0.5 * (m - M[-1]))
            else:
                r = (lam(sig[i - 2]) - lam(sig[i - 1])) / h
                D1 = (M[-2] - M[-1]) / r
                g1 = phi1 / hh - 1
                b1 = g1 / B
                g2 = g1 / hh - 0.5
                b2 = 2 * g2 / B
                rho0 = (b1 - b2) / (1 - r)
                rho1 = b1 - rho0
                x = base - (1 - sig[i]) * B * (rho0 * D1 + rho1 * (m - M[-1]))
        M = (M + [m])[-2:]
        p = min(2, N - i, i + 1)
        x_prev = x
        if sig[i + 1] == 0:
            x = m
        else:
            h = lam(sig[i + 1]) - lam(sig[i])
            hh = -h
            phi1 = np.expm1(hh)
            x = (sig[i + 1] / sig[i]) * x - (1 - sig[i + 1]) * phi1 * m
            if p == 2:
                r = (lam(sig[i - 1]) - lam(sig[i])) / h
                D1 = (M[-2] - m) / r
                x = x - (1 - sig[i + 1]) * phi1 * (0.5 * D1)
        p_c = p
        out.append(x.copy())
    return np.stack(out)


def euler(x, sigmas, timesteps, velocity):
    sig = sigmas.astype(np.float64)
    out = []
    for i in range(len(timesteps)):
        x = x + (sig[i + 1] - sig[i]) * velocity(x, float(timesteps[i]))
        out.append(x.copy())
    return np.stack(out)


def diffusers_unipc(x, sigmas, timesteps, velocity):
    import torch
    from diffusers import UniPCMultistepScheduler

    s = UniPCMultistepScheduler(num_train_timesteps=1000, solver_order=2, solver_type="bh2",
                                predict_x0=True, lower_order_final=True, use_flow_sigmas=True,
                                prediction_type="flow_prediction", flow_shift=SHIFT,
                                final_sigmas_type="zero")
    s.set_timesteps(len(timesteps))
    s.sigmas = torch.tensor(sigmas, dtype=torch.float64)
    s.timesteps = torch.tensor(timesteps)
    xt = torch.tensor(x, dtype=torch.float64)[None]  # [batch, n]: the scheduler expects a batch dim
    out = []
    for i, t in enumerate(timesteps):
        v = torch.tensor(velocity(xt[0].numpy(), float(t)))[None]
        xt = s.step(v, s.timesteps[i], xt).prev_sample
        out.append(xt[0].numpy().copy())
    return np.stack(out)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/sampler_trajectories.bin"
    rng = np.random.default_rng(20251123)
    weights, velocity = make_velocity(rng)
    x_init = rng.standard_normal(N_ELEM).astype(np.float32)
    sigmas, timesteps = schedule(STEPS, SHIFT)
    x0 = x_init.astype(np.float64)
    traj_unipc = unipc(x0, sigmas, timesteps, velocity)
    traj_euler = euler(x0, sigmas, timesteps, velocity)
    ref = diffusers_unipc(x0, sigmas, timesteps, velocity)
    err = np.abs(ref - traj_unipc).max() / np.abs(ref).max()
    print(f"numpy UniPC vs diffusers UniPCMultistepScheduler: max rel diff {err:.3g}")
    assert err < 1e-9, "the numpy UniPC disagrees with diffusers"
    # Spec examples (wan21-spec.md 4.2).
    _, t50 = schedule(50, 5.0)
    assert list(t50[:6]) == [999, 995, 991, 987, 982, 978] and list(t50[-3:]) == [241, 172, 92]
    with open(path, "wb") as f:
        f.write(b"VSSAMP1\0")
        f.write(struct.pack("<iiidf", N_ELEM, HIDDEN, STEPS, SHIFT, GUIDE))
        for a in (*weights, x_init, sigmas):
            f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())
        f.write(np.ascontiguousarray(timesteps, dtype="<i8").tobytes())
        f.write(traj_unipc.astype("<f4").tobytes())
        f.write(traj_euler.astype("<f4").tobytes())
    print(f"wrote {path}: t = {[int(t) for t in timesteps]}, final |x| = {np.abs(traj_unipc[-1]).max():.3f}")


if __name__ == "__main__":
    main()
