// A denoiser whose model lives on a device, behind the pipeline's CPU interface.
//
// Design: the pipeline (runtime/vs_pipeline.c) keeps the latent, the CFG combination and the
// sampler on the CPU for every device and every rank layout; only the model's forward moves. Per
// velocity call the latent x [C, T, H, W] f32 is copied to the device, the inner denoiser (the
// Wan denoiser, or the multi-rank one) runs there with x and v on the device, and v comes back.
// Why not a device-side sampler: the latent is small (480p, 81 frames: 8.4 MB; two copies cost
// ~1 ms per forward that takes hundreds), one sampler implementation then serves the CPU, the GPU
// and every rank layout (the invariance argument of docs/distributed.md stays as it is), and the
// sampler's f32 arithmetic is the same on both devices.
#pragma once
#include "runtime/vs_pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    vs_denoiser inner;  // its velocity takes x and writes v on `device`
    vs_device device;
    vs_tensor x, v;     // [C, T, H, W] f32 on `device` (unused on the CPU)
} vs_device_denoiser;

// shape: the latent [C, T, H, W]. On VS_DEV_CPU the calls go straight through.
void vs_device_denoiser_init(vs_device_denoiser *d, vs_denoiser inner, vs_device device,
                             const int64_t shape[4]);
void vs_device_denoiser_free(vs_device_denoiser *d);
vs_denoiser vs_device_denoiser_as_denoiser(vs_device_denoiser *d);

#ifdef __cplusplus
}
#endif
