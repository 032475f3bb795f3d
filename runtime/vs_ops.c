// Op dispatch: argument checks (one device, documented shapes), then the device's backend.
// A shape error here is a programming error in a forward pass, so it is fatal and names the op
// and the shapes.
#include "runtime/vs_ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const vs_ops_backend *backends[2];

void vs_ops_set_backend(vs_device device, const vs_ops_backend *backend) {
    VS_ASSERT(device == VS_DEV_CPU || device == VS_DEV_CUDA, "unknown device");
    backends[device] = backend;
}

const vs_ops_backend *vs_ops_get_backend(vs_device device) {
    if (device == VS_DEV_CPU && !backends[VS_DEV_CPU]) backends[VS_DEV_CPU] = vs_ops_cpu_backend();
    return (device == VS_DEV_CPU || device == VS_DEV_CUDA) ? backends[device] : NULL;
}

static const vs_ops_backend *backend_for(const char *op, const vs_tensor *t) {
    const vs_ops_backend *be = vs_ops_get_backend(t->device);
    if (!be)
        vs_dief(__FILE__, __LINE__,
                "the CUDA op backend is not built yet: run on the CPU (--device cpu) or install "
                "kernels/cuda's backend with vs_ops_set_backend(VS_DEV_CUDA, ...)",
                "%s: no op backend for device %s (CUDA ops not built yet)", op,
                t->device == VS_DEV_CUDA ? "cuda" : "?");
    return be;
}

static void fail_shape(const char *op, const char *what, const vs_tensor *a, const vs_tensor *b) {
    char sa[96], sb[96];
    vs_dief(__FILE__, __LINE__, "a forward pass passed tensors of the wrong shape: a bug",
            "%s: %s (%s %s, %s %s)", op, what, vs_shape_str(a->ndim, a->shape, sa, sizeof sa),
            vs_dtype_name(a->dtype), b ? vs_shape_str(b->ndim, b->shape, sb, sizeof sb) : "-",
            b ? vs_dtype_name(b->dtype) : "");
}

#define NEED(cond, op, what, a, b)                 \
    do {                                           \
        if (!(cond)) fail_shape(op, what, a, b);   \
    } while (0)

static int64_t last_dim(const vs_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }
static int64_t rows_of(const vs_tensor *t) { return vs_tensor_numel(t) / (last_dim(t) ? last_dim(t) : 1); }

// Optional argument x (may be NULL) must be a vector of n elements on `dev`.
static void need_vec(const char *op, const char *name, const vs_tensor *x, int64_t n,
                     vs_device dev, const vs_tensor *ref) {
    if (!x) return;
    NEED(x->device == dev && vs_tensor_numel(x) == n, op, name, x, ref);
}

void vs_linear(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, const vs_tensor *b,
               vs_act act) {
    const char *op = "vs_linear";
    NEED(w->ndim == 2, op, "weight must be [N, K]", w, NULL);
    NEED(x->device == w->device && out->device == w->device, op, "devices differ", x, w);
    NEED(last_dim(x) == w->shape[1], op, "x's last dim != weight's K", x, w);
    NEED(last_dim(out) == w->shape[0] && rows_of(out) == rows_of(x), op,
         "out must be [rows of x, N]", out, w);
    need_vec(op, "bias must have N elements", b, w->shape[0], w->device, w);
    backend_for(op, x)->linear(out, x, w, b, act);
}

void vs_layernorm_mod(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, const vs_tensor *b,
                      const vs_tensor *shift, const vs_tensor *scale, float eps) {
    const char *op = "vs_layernorm_mod";
    int64_t D = last_dim(x);
    NEED(out->device == x->device && vs_tensor_numel(out) == vs_tensor_numel(x), op,
         "out must match x", out, x);
    need_vec(op, "w must be [D]", w, D, x->device, x);
    need_vec(op, "b must be [D]", b, D, x->device, x);
    need_vec(op, "shift must be [D]", shift, D, x->device, x);
    need_vec(op, "scale must be [D]", scale, D, x->device, x);
    backend_for(op, x)->layernorm_mod(out, x, w, b, shift, scale, eps);
}

void vs_rmsnorm(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, float eps) {
    const char *op = "vs_rmsnorm";
    NEED(out->device == x->device && vs_tensor_numel(out) == vs_tensor_numel(x), op,
         "out must match x", out, x);
    NEED(w != NULL, op, "w is required", x, NULL);
    need_vec(op, "w must be [D]", w, last_dim(x), x->device, x);
    backend_for(op, x)->rmsnorm(out, x, w, eps);
}

void vs_rope3d(vs_tensor *x, int64_t tok0, const int64_t grid[3]) {
    const char *op = "vs_rope3d";
    NEED(x->ndim == 3 && x->shape[2] % 2 == 0 && x->shape[2] >= 6, op,
         "x must be [n, heads, head_dim] with head_dim even and >= 6", x, NULL);
    NEED(tok0 >= 0 && tok0 + x->shape[0] <= grid[0] * grid[1] * grid[2], op,
         "token range outside the grid", x, NULL);
    backend_for(op, x)->rope3d(x, tok0, grid);
}

static void unary(const char *op, vs_tensor *out, const vs_tensor *x, vs_act act) {
    NEED(out->device == x->device && vs_tensor_numel(out) == vs_tensor_numel(x), op,
         "out must match x", out, x);
    backend_for(op, x)->unary(out, x, act);
}
void vs_silu(vs_tensor *out, const vs_tensor *x) { unary("vs_silu", out, x, VS_ACT_SILU); }
void vs_gelu_tanh(vs_tensor *out, const vs_tensor *x) {
    unary("vs_gelu_tanh", out, x, VS_ACT_GELU_TANH);
}

void vs_add(vs_tensor *out, const vs_tensor *a, const vs_tensor *b) {
    const char *op = "vs_add";
    NEED(a->device == b->device && out->device == a->device &&
             vs_tensor_numel(a) == vs_tensor_numel(b) &&
             vs_tensor_numel(out) == vs_tensor_numel(a),
         op, "a, b and out must have equal sizes on one device", a, b);
    backend_for(op, a)->add(out, a, b);
}

void vs_gated_add(vs_tensor *x, const vs_tensor *y, const vs_tensor *gate) {
    const char *op = "vs_gated_add";
    NEED(y->device == x->device && vs_tensor_numel(y) == vs_tensor_numel(x), op,
         "y must match x", x, y);
    need_vec(op, "gate must be [D]", gate, last_dim(x), x->device, x);
    backend_for(op, x)->gated_add(x, y, gate);
}

void vs_sinusoid(vs_tensor *out, int64_t t) {
    NEED(vs_tensor_numel(out) % 2 == 0, "vs_sinusoid", "dim must be even", out, NULL);
    backend_for("vs_sinusoid", out)->sinusoid(out, t);
}

void vs_attention_dense(vs_tensor *out, const vs_tensor *q, const vs_tensor *k,
                        const vs_tensor *v, float scale) {
    const char *op = "vs_attention_dense";
    NEED(q->ndim == 3 && k->ndim == 3 && v->ndim == 3, op, "q, k, v must be [L, H, d]", q, k);
    NEED(q->shape[1] == k->shape[1] && q->shape[2] == k->shape[2], op, "q and k heads differ", q, k);
    NEED(memcmp(k->shape, v->shape, 3 * sizeof(int64_t)) == 0, op, "k and v differ", k, v);
    NEED(q->device == k->device && k->device == v->device && out->device == q->device, op,
         "devices differ", q, k);
    NEED(vs_tensor_numel(out) == vs_tensor_numel(q) && last_dim(out) == q->shape[1] * q->shape[2],
         op, "out must be [Lq, H*d]", out, q);
    backend_for(op, q)->attention_dense(out, q, k, v, scale);
}

void vs_transpose(vs_tensor *out, const vs_tensor *x) {
    const char *op = "vs_transpose";
    NEED(x->ndim == 2 && out->ndim == 2 && out->shape[0] == x->shape[1] &&
             out->shape[1] == x->shape[0] && out->device == x->device,
         op, "out must be [N, M] for x [M, N]", out, x);
    backend_for(op, x)->transpose(out, x);
}

void vs_patchify(vs_tensor *out, const vs_tensor *x, int64_t tok0) {
    const char *op = "vs_patchify";
    NEED(x->ndim == 4 && x->shape[2] % 2 == 0 && x->shape[3] % 2 == 0, op,
         "x must be [C, T, H, W] with H, W even", x, NULL);
    int64_t L = x->shape[1] * (x->shape[2] / 2) * (x->shape[3] / 2);
    NEED(out->ndim == 2 && out->shape[1] == x->shape[0] * 4 && out->device == x->device, op,
         "out must be [n, C*4]", out, x);
    NEED(tok0 >= 0 && tok0 + out->shape[0] <= L, op, "token range outside the grid", out, x);
    backend_for(op, x)->patchify(out, x, tok0);
}

void vs_unpatchify(vs_tensor *out, const vs_tensor *rows) {
    const char *op = "vs_unpatchify";
    NEED(out->ndim == 4 && out->shape[2] % 2 == 0 && out->shape[3] % 2 == 0, op,
         "out must be [C, T, H, W] with H, W even", out, rows);
    int64_t L = out->shape[1] * (out->shape[2] / 2) * (out->shape[3] / 2);
    NEED(rows->ndim == 2 && rows->shape[0] == L && rows->shape[1] == out->shape[0] * 4 &&
             rows->device == out->device,
         op, "rows must be [T*(H/2)*(W/2), C*4]", rows, out);
    backend_for(op, rows)->unpatchify(out, rows);
}

vs_tensor vs_rows(const vs_tensor *t, int64_t row0, int64_t nrows) {
    VS_ASSERT(t->ndim >= 1 && row0 >= 0 && nrows >= 0 && row0 + nrows <= t->shape[0],
              "vs_rows: row range outside the tensor");
    int64_t row_elems = t->shape[0] ? vs_tensor_numel(t) / t->shape[0] : 0;
    vs_tensor v = *t;
    v.owns = 0;
    v.shape[0] = nrows;
    v.data = (char *)t->data + (size_t)(row0 * row_elems) * vs_dtype_size(t->dtype);
    return v;
}

vs_tensor vs_reshape(const vs_tensor *t, int ndim, const int64_t *shape) {
    VS_ASSERT(vs_shape_numel(ndim, shape) == vs_tensor_numel(t),
              "vs_reshape: the new shape must have as many elements");
    return vs_tensor_view(t->data, t->dtype, t->device, ndim, shape);
}
