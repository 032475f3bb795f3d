// f32 reference element-wise and per-frame ops of the Wan VAE decoder (everything but the convs).
// A frame is one contiguous [C, H, W] image (N = H·W positions).
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// In place, per position: x[:, p] = x[:, p] / max(‖x[:, p]‖₂, 1e-12) · sqrt(C) · gamma[c]
// (the VAE's RMS_norm: F.normalize over channels, no ε inside a square root). x [C, N].
void vs_rms_norm_channels_f32(float *x, const float *gamma, int c, int64_t n);

// In place: x = x · sigmoid(x).
void vs_silu_f32(float *x, int64_t n);

// Nearest-neighbour ×2 in H and W: out[c, y, x] = in[c, y/2, x/2]. in [C, H, W], out [C, 2H, 2W].
void vs_upsample_nearest2x_f32(float *out, const float *in, int c, int h, int w);

// Single-head attention over the N positions of one frame, head dim C, scale 1/sqrt(C):
//   out[c, n] = Σ_m softmax_m(q[:, n]·k[:, m] / sqrt(C)) · v[c, m]
// qkv [3C, N] (q = channels [0, C), k = [C, 2C), v = [2C, 3C)), out [C, N].
// scratch: vs_attention_scratch_floats(c, n) floats.
int64_t vs_attention_scratch_floats(int c, int64_t n);
void vs_attention_single_head_f32(float *out, const float *qkv, int c, int64_t n, float *scratch);

#ifdef __cplusplus
}
#endif
