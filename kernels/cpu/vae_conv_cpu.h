// f32 reference convolutions for the Wan VAE decoder: Conv2d (per frame) and causal Conv3d.
//
// Activations are frame-major: a frame is one contiguous [C, H, W] image, so a causal Conv3d is a
// sum over its kt temporal taps of 2D convolutions of kt consecutive frames. The input frames are
// given as an array of pointers: the caller puts the per-conv cache (the last kt-1 input frames of
// the previous chunk) in front of the chunk without copying, and a NULL pointer stands for a zero
// frame (the causal zero padding before frame 0), whose contribution is skipped.
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// out[Cout, H, W] = b + conv2d(in[Cin, H, W], w[Cout, Cin, k, k]), stride 1, zero pad k/2 (k odd).
void vs_conv2d_f32(float *out, const float *in, const float *w, const float *b, int cin, int cout,
                   int h, int wd, int k);

// Causal Conv3d over a stream of frames, stride 1:
//   out[τ] = b + Σ_{j<kt} conv2d(frames[τ + j], w[:, :, j])   for τ in [0, t_out)
// frames: t_out + kt - 1 pointers to [Cin, H, W] frames (NULL = zero frame); spatial zero pad
// kh/2 and kw/2 on both sides (kh, kw odd); w [Cout, Cin, kt, kh, kw]; out [t_out][Cout, H, W].
void vs_causal_conv3d_f32(float *out, const float *const *frames, int t_out, const float *w,
                          const float *b, int cin, int cout, int h, int wd, int kt, int kh, int kw);

#ifdef __cplusplus
}
#endif
