// The op layer: every tensor operation the model forward passes need, on vs_tensor arguments.
//
// Each op checks that its arguments share one device and have the shapes it documents, then
// dispatches to the backend registered for that device. The CPU backend (runtime/vs_ops_cpu.c
// over the plain f32 loops in kernels/cpu/ops_cpu.c) is always there. A CUDA backend is a
// vs_ops_backend table filled by kernels/cuda/ and installed once with vs_ops_set_backend(
// VS_DEV_CUDA, ...) at start-up; until one is installed, any op on a CUDA tensor dies with a
// "CUDA ops not built yet" message. The forward passes never change when a backend is added.
//
// Dtypes. CPU: every tensor is f32. CUDA (the plan, spec section 2.10): weights of linear layers
// and the activations fed to them are bf16, GEMMs accumulate in f32; the residual stream, norm
// statistics, modulation vectors, time embedding and the head stay f32. So an op's output dtype
// is whatever its `out` tensor says, and a backend converts on the fly; the CPU backend accepts
// only f32 and says so otherwise.
//
// Conventions: shapes in comments are row-major, last index fastest; "rows" means every dim but
// the last. `out` may alias `x` wherever an op says "in place allowed".
#pragma once
#include <stdint.h>

#include "runtime/vs_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { VS_ACT_NONE = 0, VS_ACT_GELU_TANH, VS_ACT_SILU } vs_act;

// out[M, N] = act(x[M, K] . w[N, K]^T + b[N]); b may be NULL. (torch Linear layout.)
void vs_linear(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, const vs_tensor *b,
               vs_act act);

// Per row of x[M, D], with mean/variance over D (biased variance, f32 statistics):
//   y = (x - mean) / sqrt(var + eps);  y = y * w + b         (w, b [D], each may be NULL)
//   out = y * (1 + scale) + shift                            (scale, shift [D], each may be NULL)
// So LayerNorm without affine + modulation, or affine LayerNorm alone, is one op. In place allowed.
void vs_layernorm_mod(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, const vs_tensor *b,
                      const vs_tensor *shift, const vs_tensor *scale, float eps);

// Per row of x[M, D]: out = x * rsqrt(mean(x^2) + eps) * w[D]. In place allowed.
void vs_rmsnorm(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, float eps);

// Wan 3D rotary embedding, in place on x[n, heads, head_dim] (head_dim even, >= 6).
// Row i is the token with GLOBAL index g = tok0 + i of the patch grid grid[0] x grid[1] x grid[2]
// (f, h, w), g = (f * grid[1] + h) * grid[2] + w. Channel pairs (2j, 2j+1) are rotated by
// theta_j (interleaved / GPT-J layout): with d = head_dim, d_t = d - 4*(d/6), d_h = d_w = 2*(d/6),
//   j <  d_t/2              : theta = f * 10000^(-2j / d_t)
//   next d_h/2 pairs (j')   : theta = h * 10000^(-2j' / d_h)
//   last d_w/2 pairs (j'')  : theta = w * 10000^(-2j'' / d_w)
// Angles are formed in double.
void vs_rope3d(vs_tensor *x, int64_t tok0, const int64_t grid[3]);

// Elementwise, any shape, in place allowed.
void vs_silu(vs_tensor *out, const vs_tensor *x);
void vs_gelu_tanh(vs_tensor *out, const vs_tensor *x);  // 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3)))
void vs_add(vs_tensor *out, const vs_tensor *a, const vs_tensor *b);  // same numel

// Gated residual: x[M, D] += y[M, D] * gate[D] (gate NULL: plain add). x is the f32 residual.
void vs_gated_add(vs_tensor *x, const vs_tensor *y, const vs_tensor *gate);

// Timestep sinusoid, COS FIRST: out[dim] = [cos(t*w_0..t*w_{h-1}), sin(t*w_0..t*w_{h-1})],
// h = dim/2, w_k = 10000^(-k/h), formed in double from the integer timestep t.
void vs_sinusoid(vs_tensor *out, int64_t t);

// Dense softmax attention, no mask: q[Lq, H, d], k[Lk, H, d], v[Lk, H, d] -> out[Lq, H * d],
// out = softmax(q k^T * scale) v per head. For cross-attention over the text context and as the
// single-rank fallback for self-attention.
void vs_attention_dense(vs_tensor *out, const vs_tensor *q, const vs_tensor *k,
                        const vs_tensor *v, float scale);

// out[N, M] = x[M, N]^T (2-D, any 2-D shape).
void vs_transpose(vs_tensor *out, const vs_tensor *x);

// Patch gather for a (1, 2, 2) patch: x[C, T, H, W] -> out[n, C * 4], row i is the patch of global
// token g = tok0 + i on the grid (T, H/2, W/2), features in channel-major (c, dh, dw) order.
void vs_patchify(vs_tensor *out, const vs_tensor *x, int64_t tok0);

// Inverse of the head's layout: rows[T*(H/2)*(W/2), C * 4] with features in (dh, dw, c) order
// (c fastest) -> out[C, T, H, W].
void vs_unpatchify(vs_tensor *out, const vs_tensor *rows);

// A view of rows [row0, row0 + nrows) of t along its first dim (no copy, any device).
vs_tensor vs_rows(const vs_tensor *t, int64_t row0, int64_t nrows);
// A view with the same data and a new shape of equal numel.
vs_tensor vs_reshape(const vs_tensor *t, int ndim, const int64_t *shape);

// ---------------------------------------------------------------------------- backends
// One table per device. Arguments were checked by the dispatcher (same device, shapes as
// documented above), so a backend only computes. Every entry is required.
typedef struct {
    const char *name;
    void (*linear)(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, const vs_tensor *b,
                   vs_act act);
    void (*layernorm_mod)(vs_tensor *out, const vs_tensor *x, const vs_tensor *w,
                          const vs_tensor *b, const vs_tensor *shift, const vs_tensor *scale,
                          float eps);
    void (*rmsnorm)(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, float eps);
    void (*rope3d)(vs_tensor *x, int64_t tok0, const int64_t grid[3]);
    void (*unary)(vs_tensor *out, const vs_tensor *x, vs_act act);  // SiLU or GELU-tanh
    void (*add)(vs_tensor *out, const vs_tensor *a, const vs_tensor *b);
    void (*gated_add)(vs_tensor *x, const vs_tensor *y, const vs_tensor *gate);
    void (*sinusoid)(vs_tensor *out, int64_t t);
    void (*attention_dense)(vs_tensor *out, const vs_tensor *q, const vs_tensor *k,
                            const vs_tensor *v, float scale);
    void (*transpose)(vs_tensor *out, const vs_tensor *x);
    void (*patchify)(vs_tensor *out, const vs_tensor *x, int64_t tok0);
    void (*unpatchify)(vs_tensor *out, const vs_tensor *rows);
} vs_ops_backend;

// Installs (or, with NULL, removes) the backend for a device. The CPU one is built in.
void vs_ops_set_backend(vs_device device, const vs_ops_backend *backend);
const vs_ops_backend *vs_ops_get_backend(vs_device device);  // NULL when none is installed
// The built-in CPU backend (runtime/vs_ops_cpu.c).
const vs_ops_backend *vs_ops_cpu_backend(void);

#ifdef __cplusplus
}
#endif
