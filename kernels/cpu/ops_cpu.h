// f32 reference ops on plain row-major arrays: the CPU backend of runtime/vs_ops.h and the
// reference every GPU op is tested against. Single-threaded loops, obviously right; the GEMM is
// cache-blocked because it carries almost all of the work. Semantics are documented per op in
// runtime/vs_ops.h; here only the array layout is repeated.
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// act codes as vs_act: 0 none, 1 GELU-tanh, 2 SiLU.
// out[M, N] = act(x[M, K] . w[N, K]^T + b[N]); b may be NULL. out must not alias x or w.
void vs_linear_cpu(float *out, const float *x, const float *w, const float *b, int64_t M,
                   int64_t N, int64_t K, int act);
void vs_layernorm_mod_cpu(float *out, const float *x, const float *w, const float *b,
                          const float *shift, const float *scale, int64_t M, int64_t D,
                          float eps);
void vs_rmsnorm_cpu(float *out, const float *x, const float *w, int64_t M, int64_t D, float eps);
// x[n, heads, d], in place.
void vs_rope3d_cpu(float *x, int64_t n, int64_t heads, int64_t d, int64_t tok0,
                   const int64_t grid[3]);
void vs_unary_cpu(float *out, const float *x, int64_t n, int act);
void vs_add_cpu(float *out, const float *a, const float *b, int64_t n);
void vs_gated_add_cpu(float *x, const float *y, const float *gate, int64_t M, int64_t D);
void vs_sinusoid_cpu(float *out, int64_t dim, int64_t t);
// q[Lq, H, d], k/v[Lk, H, d] -> out[Lq, H*d]
void vs_attention_dense_cpu(float *out, const float *q, const float *k, const float *v,
                            int64_t Lq, int64_t Lk, int64_t H, int64_t d, float scale);
void vs_transpose_cpu(float *out, const float *x, int64_t M, int64_t N);
// x[C, T, H, W] -> out[n, C*4]
void vs_patchify_cpu(float *out, const float *x, int64_t C, int64_t T, int64_t H, int64_t W,
                     int64_t tok0, int64_t n);
// rows[T*(H/2)*(W/2), C*4] -> out[C, T, H, W]
void vs_unpatchify_cpu(float *out, const float *rows, int64_t C, int64_t T, int64_t H,
                       int64_t W);

#ifdef __cplusplus
}
#endif
