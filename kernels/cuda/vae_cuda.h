// GPU ops of the Wan VAE decoder: convolutions as im2col + cuBLAS GEMM on the matrix units, the
// channel RMS norm (+ SiLU), single-head frame attention and the final clamp. Activations are f32
// and frame-major like the CPU twins (kernels/cpu/vae_conv_cpu.h, vae_ops_cpu.h): a frame is one
// contiguous [C, H, W] image in device memory.
//
// Precision of the convolution GEMMs (the whole cost of the decoder):
//   VS_VAE_BF16: the im2col columns and the weights are rounded to bf16, products accumulate in
//                f32 (cublasGemmEx, CUBLAS_COMPUTE_32F);
//   VS_VAE_TF32: columns and weights stay f32 and the tensor cores round them to TF32
//                (CUBLAS_COMPUTE_32F_FAST_TF32): 3 more mantissa bits, half the bf16 throughput.
//   VS_VAE_F32:  plain f32 GEMMs (CUBLAS_COMPUTE_32F), no rounding of the inputs: the reference
//                mode, for parity checks on models too ill-conditioned for TF32 or bf16.
// The attention GEMMs run TF32 (f32 in VS_VAE_F32); norms, softmax, bias and residual sums are f32.
//
// The bias rides in the GEMM: the weight matrix [Cout, K_pad] holds the bias in column K and the
// im2col rows K..K_pad-1 are a row of ones then zeros, so one GEMM writes conv + bias, and with
// `accumulate` it adds them to what the output already holds (the residual of a block).
//
// Every launcher is asynchronous on the context's stream. The context owns one im2col buffer of a
// fixed size (set at creation) that the convolutions tile their positions into, and one score
// buffer for attention that grows to the largest frame seen; nothing else is allocated per call.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { VS_VAE_BF16 = 0, VS_VAE_TF32 = 1, VS_VAE_F32 = 2 } vs_vae_precision;
const char *vs_vae_precision_name(vs_vae_precision p);  // "bf16" / "tf32" / "f32"

typedef struct vs_vae_cuda vs_vae_cuda;

// col_bytes: the im2col buffer (it must hold K_pad x 64 elements of the widest conv).
vs_vae_cuda *vs_vae_cuda_create(vs_vae_precision p, size_t col_bytes);
void vs_vae_cuda_destroy(vs_vae_cuda *g);
void *vs_vae_cuda_stream(const vs_vae_cuda *g);          // its cudaStream_t
vs_vae_precision vs_vae_cuda_precision(const vs_vae_cuda *g);
size_t vs_vae_cuda_scratch_bytes(const vs_vae_cuda *g);  // im2col + attention scores, bytes held
double vs_vae_cuda_flops(const vs_vae_cuda *g);          // GEMM FLOPs issued so far (2·M·N·K)

// One convolution's weights on the device: [cout, k_pad] in the context's precision, with
// k = cin·kt·kh·kw (PyTorch order ic, t, y, x), the bias in column k and zeros after it.
typedef struct {
    void *w;
    int cout, cin, kt, kh, kw, k, k_pad;
} vs_vae_conv_gpu;

// w [cout, cin, kt, kh, kw] and b [cout] (NULL: zero bias) are host f32.
void vs_vae_conv_gpu_upload(const vs_vae_cuda *g, vs_vae_conv_gpu *d, const float *w, const float *b,
                            int cout, int cin, int kt, int kh, int kw);
void vs_vae_conv_gpu_free(vs_vae_conv_gpu *d);
size_t vs_vae_conv_gpu_bytes(const vs_vae_cuda *g, const vs_vae_conv_gpu *d);

// One output frame of a (causal) convolution, stride 1, spatial zero pad kh/2, kw/2:
//   out[Cout, h, w] (+)= b + Σ_{j<kt} conv2d(frames[j], w[:, :, j])
// frames: kt device pointers to [Cin, h, w] frames, NULL = the causal zero frame. upsample2x: the
// frames are [Cin, h/2, w/2] and are read through a nearest x2 upsample (h, w even).
// accumulate: add to out instead of overwriting it.
void vs_vae_conv_frame_gpu(vs_vae_cuda *g, const vs_vae_conv_gpu *cv, float *out, const float *const *frames,
                           int h, int w, int upsample2x, int accumulate);

// out[f, :, p] = x[f, :, p] / max(‖x[f, :, p]‖₂, 1e-12) · sqrt(C) · gamma, then SiLU when silu;
// x, out [frames][C][n] (out may be x).
void vs_vae_rms_norm_gpu(vs_vae_cuda *g, float *out, const float *x, const float *gamma, int frames, int c,
                         int64_t n, int silu);

// Single-head attention within one frame (vs_attention_single_head_f32): qkv [3C, n] -> out [C, n].
void vs_vae_attention_gpu(vs_vae_cuda *g, float *out, const float *qkv, int c, int n);

// x = clamp(x, -1, 1).
void vs_vae_clamp_gpu(vs_vae_cuda *g, float *x, int64_t n);

#ifdef __cplusplus
}
#endif
