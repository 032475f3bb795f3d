// The CPU op backend: unwraps vs_tensors (f32 only) and calls the loops in kernels/cpu/ops_cpu.c.
#include "kernels/cpu/ops_cpu.h"
#include "runtime/vs_ops.h"

#define F(t) ((float *)f32_data(#t, (t)))
#define CF(t) ((const float *)f32_data(#t, (t)))
// NULL stays NULL (optional arguments).
#define OPT(t) ((t) ? CF(t) : NULL)

static void *f32_data(const char *name, const vs_tensor *t) {
    if (t->dtype != VS_F32)
        vs_dief(__FILE__, __LINE__, "convert to f32 first: the CPU backend computes in f32 only",
                "CPU op argument %s is %s, not f32", name, vs_dtype_name(t->dtype));
    return t->data;
}

static int64_t last_dim(const vs_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }

static void cpu_linear(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, const vs_tensor *b,
                       vs_act act) {
    int64_t K = w->shape[1], N = w->shape[0];
    vs_linear_cpu(F(out), CF(x), CF(w), OPT(b), vs_tensor_numel(x) / K, N, K, (int)act);
}

static void cpu_layernorm_mod(vs_tensor *out, const vs_tensor *x, const vs_tensor *w,
                              const vs_tensor *b, const vs_tensor *shift, const vs_tensor *scale,
                              float eps) {
    int64_t D = last_dim(x);
    vs_layernorm_mod_cpu(F(out), CF(x), OPT(w), OPT(b), OPT(shift), OPT(scale),
                         vs_tensor_numel(x) / D, D, eps);
}

static void cpu_rmsnorm(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, float eps) {
    int64_t D = last_dim(x);
    vs_rmsnorm_cpu(F(out), CF(x), CF(w), vs_tensor_numel(x) / D, D, eps);
}

static void cpu_rope3d(vs_tensor *x, int64_t tok0, const int64_t grid[3]) {
    vs_rope3d_cpu(F(x), x->shape[0], x->shape[1], x->shape[2], tok0, grid);
}

static void cpu_unary(vs_tensor *out, const vs_tensor *x, vs_act act) {
    vs_unary_cpu(F(out), CF(x), vs_tensor_numel(x), (int)act);
}

static void cpu_add(vs_tensor *out, const vs_tensor *a, const vs_tensor *b) {
    vs_add_cpu(F(out), CF(a), CF(b), vs_tensor_numel(a));
}

static void cpu_gated_add(vs_tensor *x, const vs_tensor *y, const vs_tensor *gate) {
    int64_t D = last_dim(x);
    vs_gated_add_cpu(F(x), CF(y), OPT(gate), vs_tensor_numel(x) / D, D);
}

static void cpu_sinusoid(vs_tensor *out, int64_t t) {
    vs_sinusoid_cpu(F(out), vs_tensor_numel(out), t);
}

static void cpu_attention_dense(vs_tensor *out, const vs_tensor *q, const vs_tensor *k,
                                const vs_tensor *v, float scale) {
    vs_attention_dense_cpu(F(out), CF(q), CF(k), CF(v), q->shape[0], k->shape[0], q->shape[1],
                           q->shape[2], scale);
}

static void cpu_transpose(vs_tensor *out, const vs_tensor *x) {
    vs_transpose_cpu(F(out), CF(x), x->shape[0], x->shape[1]);
}

static void cpu_patchify(vs_tensor *out, const vs_tensor *x, int64_t tok0) {
    vs_patchify_cpu(F(out), CF(x), x->shape[0], x->shape[1], x->shape[2], x->shape[3], tok0,
                    out->shape[0]);
}

static void cpu_unpatchify(vs_tensor *out, const vs_tensor *rows) {
    vs_unpatchify_cpu(F(out), CF(rows), out->shape[0], out->shape[1], out->shape[2],
                      out->shape[3]);
}

static const vs_ops_backend cpu_backend = {
    .name = "cpu",
    .linear = cpu_linear,
    .layernorm_mod = cpu_layernorm_mod,
    .rmsnorm = cpu_rmsnorm,
    .rope3d = cpu_rope3d,
    .unary = cpu_unary,
    .add = cpu_add,
    .gated_add = cpu_gated_add,
    .sinusoid = cpu_sinusoid,
    .attention_dense = cpu_attention_dense,
    .transpose = cpu_transpose,
    .patchify = cpu_patchify,
    .unpatchify = cpu_unpatchify,
};

const vs_ops_backend *vs_ops_cpu_backend(void) { return &cpu_backend; }
