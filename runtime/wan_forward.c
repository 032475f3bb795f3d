// The Wan 2.1 DiT forward pass (spec sections 2.1-2.9), written once over the op layer.
//
// Three stages, split by what each depends on so that a run computes nothing twice:
// wan_text_init depends only on (model, prompt) - the text embedding of the zero-padded context
// and each block's cross-attention K/V - and is built once per prompt for a whole run;
// wan_cond_init depends only on (model, timestep) - the time embedding e, the per-block
// modulation (modulation + e0), the head modulation (from e, not e0) - and is built once per
// step for both CFG branches; wan_forward runs the blocks over one token range with both.
//
// Activation dtype: tensors that feed a GEMM or attention are f32 on the CPU and bf16 on CUDA;
// the residual stream X, norms' outputs feeding the head, and all modulation vectors are f32.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_ops.h"
#include "runtime/wan_model.h"

static vs_dtype act_dtype(const wan_model *m) { return m->device == VS_DEV_CPU ? VS_F32 : VS_BF16; }

static vs_tensor new2(vs_dtype dt, vs_device dev, int64_t a, int64_t b) {
    int64_t s[2] = {a, b};
    return vs_tensor_new(dt, dev, 2, s);
}

// A host f32 array [rows, cols] onto `dev` as `dt`.
static vs_tensor upload(const float *host, int64_t rows, int64_t cols, vs_dtype dt, vs_device dev) {
    int64_t s[2] = {rows, cols};
    vs_tensor src = vs_tensor_view((void *)host, VS_F32, VS_DEV_CPU, 2, s);
    vs_tensor conv = src;
    if (dt != VS_F32) {
        conv = vs_tensor_new(dt, VS_DEV_CPU, 2, s);
        vs_convert_from_f32(host, rows * cols, dt, conv.data);
    }
    vs_tensor out = vs_tensor_new(dt, dev, 2, s);
    vs_tensor_copy(&out, &conv);
    if (dt != VS_F32) vs_tensor_free(&conv);
    return out;
}

// Row r of a [R, D] tensor as a [D] view.
static vs_tensor row(const vs_tensor *t, int64_t r) {
    vs_tensor v = vs_rows(t, r, 1);
    int64_t d = vs_tensor_numel(&v);
    return vs_reshape(&v, 1, &d);
}

// [n, heads * head_dim] viewed as [n, heads, head_dim].
static vs_tensor heads_view(const vs_tensor *t, const vs_wan_config *c) {
    int64_t s[3] = {vs_tensor_numel(t) / c->dim, c->num_heads, c->dim / c->num_heads};
    return vs_reshape(t, 3, s);
}

int wan_text_init(wan_text *txt, const wan_model *m, const vs_tensor *context) {
    const vs_wan_config *cfg = &m->cfg;
    memset(txt, 0, sizeof *txt);
    char sb[96];
    if (context->device != VS_DEV_CPU || context->dtype != VS_F32 || context->ndim != 2 ||
        context->shape[1] != cfg->text_dim || context->shape[0] <= 0 ||
        context->shape[0] > cfg->text_len)
        return VS_FAIL("text context is %s %s on %s; expected [Lt, %d] f32 on the CPU with "
                       "0 < Lt <= text_len %d",
                       vs_shape_str(context->ndim, context->shape, sb, sizeof sb),
                       vs_dtype_name(context->dtype),
                       context->device == VS_DEV_CPU ? "cpu" : "cuda", cfg->text_dim,
                       cfg->text_len);
    int64_t D = cfg->dim, L = cfg->num_layers, Lt = context->shape[0], TL = cfg->text_len;
    vs_device dev = m->device;
    vs_dtype adt = act_dtype(m);

    // Text embedding of the context zero-padded to text_len rows (the padding rows are NOT
    // zero after the MLP, and cross-attention attends to them: no mask, as the reference).
    float *padded = vs_calloc((size_t)(TL * cfg->text_dim), sizeof(float));
    memcpy(padded, context->data, (size_t)(Lt * cfg->text_dim) * sizeof(float));
    vs_tensor ctx = upload(padded, TL, cfg->text_dim, adt, dev);
    free(padded);
    vs_tensor c1 = new2(adt, dev, TL, D), emb = new2(adt, dev, TL, D);
    vs_linear(&c1, &ctx, &m->text1_w, &m->text1_b, VS_ACT_GELU_TANH);
    vs_linear(&emb, &c1, &m->text2_w, &m->text2_b, VS_ACT_NONE);

    // Each block's cross-attention keys (RMSNorm over the full width) and values.
    int64_t kv_shape[3] = {L, TL, D};
    txt->cross_k = vs_tensor_new(adt, dev, 3, kv_shape);
    txt->cross_v = vs_tensor_new(adt, dev, 3, kv_shape);
    for (int64_t i = 0; i < L; i++) {
        const wan_attn_weights *ca = &m->blocks[i].cross_attn;
        vs_tensor k = vs_rows(&txt->cross_k, i, 1), v = vs_rows(&txt->cross_v, i, 1);
        vs_tensor k2 = vs_reshape(&k, 2, &kv_shape[1]), v2 = vs_reshape(&v, 2, &kv_shape[1]);
        vs_linear(&k2, &emb, &ca->k_w, &ca->k_b, VS_ACT_NONE);
        vs_rmsnorm(&k2, &k2, &ca->norm_k, cfg->eps);
        vs_linear(&v2, &emb, &ca->v_w, &ca->v_b, VS_ACT_NONE);
    }
    vs_tensor_free(&ctx);
    vs_tensor_free(&c1);
    vs_tensor_free(&emb);
    return 0;
}

void wan_text_free(wan_text *txt) {
    vs_tensor_free(&txt->cross_k);
    vs_tensor_free(&txt->cross_v);
    memset(txt, 0, sizeof *txt);
}

int wan_cond_init(wan_cond *c, const wan_model *m, int64_t t) {
    const vs_wan_config *cfg = &m->cfg;
    memset(c, 0, sizeof *c);
    if (t < 0) return VS_FAIL("timestep %lld is negative", (long long)t);
    int64_t D = cfg->dim, L = cfg->num_layers;
    vs_device dev = m->device;
    c->timestep = t;

    // Time embedding: e = W2 SiLU(W1 s(t)); e0 = W3 SiLU(e) read as [6, D]. All f32.
    int64_t fd = cfg->freq_dim, six_d = 6 * D;
    vs_tensor sinus = vs_tensor_new(VS_F32, dev, 1, &fd);
    vs_sinusoid(&sinus, t);
    vs_tensor e1 = vs_tensor_new(VS_F32, dev, 1, &D);
    vs_linear(&e1, &sinus, &m->time1_w, &m->time1_b, VS_ACT_SILU);
    c->e = vs_tensor_new(VS_F32, dev, 1, &D);
    vs_linear(&c->e, &e1, &m->time2_w, &m->time2_b, VS_ACT_NONE);
    vs_silu(&e1, &c->e);
    vs_tensor e0 = vs_tensor_new(VS_F32, dev, 1, &six_d);
    vs_linear(&e0, &e1, &m->tproj_w, &m->tproj_b, VS_ACT_NONE);
    int64_t mod_shape[3] = {L, 6, D};
    c->mod = vs_tensor_new(VS_F32, dev, 3, mod_shape);
    for (int64_t i = 0; i < L; i++) {
        vs_tensor mi = vs_rows(&c->mod, i, 1);
        vs_add(&mi, &m->blocks[i].modulation, &e0);
    }
    c->head_mod = new2(VS_F32, dev, 2, D);
    for (int64_t r = 0; r < 2; r++) {
        vs_tensor dst = row(&c->head_mod, r), src = row(&m->head_mod, r);
        vs_add(&dst, &src, &c->e);
    }
    vs_tensor_free(&sinus);
    vs_tensor_free(&e1);
    vs_tensor_free(&e0);
    return 0;
}

void wan_cond_free(wan_cond *c) {
    vs_tensor_free(&c->e);
    vs_tensor_free(&c->mod);
    vs_tensor_free(&c->head_mod);
    memset(c, 0, sizeof *c);
}

int wan_forward(const wan_model *m, const wan_cond *c, const wan_text *txt, const vs_tensor *x,
                int64_t tok0, int64_t n, const vs_attention_hook *hook, vs_tensor *out,
                const wan_probe *probe) {
    const vs_wan_config *cfg = &m->cfg;
    char sb[96], so[96];
    if (x->ndim != 4 || x->shape[0] != cfg->in_dim || x->shape[2] % 2 || x->shape[3] % 2 ||
        x->dtype != VS_F32 || x->device != m->device)
        return VS_FAIL("latent is %s %s; expected [in_dim %d, T, H, W] f32 on the model's device "
                       "with H and W even",
                       vs_shape_str(x->ndim, x->shape, sb, sizeof sb), vs_dtype_name(x->dtype),
                       cfg->in_dim);
    int64_t grid[3] = {x->shape[1], x->shape[2] / 2, x->shape[3] / 2};
    int64_t L = grid[0] * grid[1] * grid[2];
    if (tok0 < 0 || n <= 0 || tok0 + n > L)
        return VS_FAIL("token range [%lld, %lld) is outside the %lld tokens of the latent",
                       (long long)tok0, (long long)(tok0 + n), (long long)L);
    if (!hook && (tok0 != 0 || n != L))
        return VS_FAIL("token range [%lld, %lld) of %lld: a shard needs an attention hook that "
                       "sees the whole sequence (dense fallback is single-rank only)",
                       (long long)tok0, (long long)(tok0 + n), (long long)L);
    if (out->ndim != 2 || out->shape[0] != n || out->shape[1] != (int64_t)cfg->out_dim * 4 ||
        out->dtype != VS_F32 || out->device != m->device)
        return VS_FAIL("output is %s %s; expected [%lld, %d] f32 on the model's device",
                       vs_shape_str(out->ndim, out->shape, so, sizeof so),
                       vs_dtype_name(out->dtype), (long long)n, cfg->out_dim * 4);
    if (c->mod.ndim != 3 || c->mod.shape[0] != cfg->num_layers || c->mod.device != m->device)
        return VS_FAIL("the cond was not made by wan_cond_init for this model");
    if (txt->cross_k.ndim != 3 || txt->cross_k.shape[0] != cfg->num_layers ||
        txt->cross_k.shape[1] != cfg->text_len || txt->cross_k.shape[2] != cfg->dim ||
        txt->cross_k.device != m->device)
        return VS_FAIL("the text was not made by wan_text_init for this model");

    int64_t D = cfg->dim, F = cfg->ffn_dim, TL = cfg->text_len;
    vs_device dev = m->device;
    vs_dtype adt = act_dtype(m);
    float eps = cfg->eps, scale = 1.0f / sqrtf((float)(D / cfg->num_heads));

    // Patch embedding: gather the (c, dh, dw) patches of our tokens, one GEMM.
    vs_tensor patches = new2(adt, dev, n, (int64_t)cfg->in_dim * 4);
    vs_tensor X = new2(VS_F32, dev, n, D);  // residual stream
    vs_patchify(&patches, x, tok0);
    vs_linear(&X, &patches, &m->patch_w, &m->patch_b, VS_ACT_NONE);
    vs_tensor_free(&patches);

    vs_tensor h = new2(adt, dev, n, D), q = new2(adt, dev, n, D), k = new2(adt, dev, n, D);
    vs_tensor v = new2(adt, dev, n, D), o = new2(adt, dev, n, D), y = new2(adt, dev, n, D);
    vs_tensor f = new2(adt, dev, n, F);
    vs_tensor q3 = heads_view(&q, cfg), k3 = heads_view(&k, cfg), v3 = heads_view(&v, cfg);
    int64_t kv_shape[3] = {TL, cfg->num_heads, D / cfg->num_heads};

    for (int i = 0; i < cfg->num_layers; i++) {
        const wan_block_weights *b = &m->blocks[i];
        const wan_attn_weights *sa = &b->self_attn, *ca = &b->cross_attn;
        vs_tensor mod = vs_rows(&c->mod, i, 1);
        int64_t six_d[2] = {6, D};
        mod = vs_reshape(&mod, 2, six_d);
        vs_tensor shift_sa = row(&mod, 0), scale_sa = row(&mod, 1), gate_sa = row(&mod, 2);
        vs_tensor shift_ff = row(&mod, 3), scale_ff = row(&mod, 4), gate_ff = row(&mod, 5);

        // Self-attention: modulated LN, QKV, q/k RMSNorm over D, 3D RoPE at global positions.
        vs_layernorm_mod(&h, &X, NULL, NULL, &shift_sa, &scale_sa, eps);
        vs_linear(&q, &h, &sa->q_w, &sa->q_b, VS_ACT_NONE);
        vs_rmsnorm(&q, &q, &sa->norm_q, eps);
        vs_linear(&k, &h, &sa->k_w, &sa->k_b, VS_ACT_NONE);
        vs_rmsnorm(&k, &k, &sa->norm_k, eps);
        vs_linear(&v, &h, &sa->v_w, &sa->v_b, VS_ACT_NONE);
        vs_rope3d(&q3, tok0, grid);
        vs_rope3d(&k3, tok0, grid);
        if (hook) hook->self_attention(hook->ctx, i, &q3, &k3, &v3, &o);
        else vs_attention_dense(&o, &q3, &k3, &v3, scale);
        vs_linear(&y, &o, &sa->o_w, &sa->o_b, VS_ACT_NONE);
        vs_gated_add(&X, &y, &gate_sa);

        // Cross-attention to the text: affine LN (norm3), no modulation, no gate, no RoPE.
        vs_layernorm_mod(&h, &X, &b->norm3_w, &b->norm3_b, NULL, NULL, eps);
        vs_linear(&q, &h, &ca->q_w, &ca->q_b, VS_ACT_NONE);
        vs_rmsnorm(&q, &q, &ca->norm_q, eps);
        vs_tensor ck = vs_rows(&txt->cross_k, i, 1), cv = vs_rows(&txt->cross_v, i, 1);
        vs_tensor ck3 = vs_reshape(&ck, 3, kv_shape), cv3 = vs_reshape(&cv, 3, kv_shape);
        vs_attention_dense(&o, &q3, &ck3, &cv3, scale);
        vs_linear(&y, &o, &ca->o_w, &ca->o_b, VS_ACT_NONE);
        vs_gated_add(&X, &y, NULL);

        // FFN: modulated LN, GELU-tanh MLP, gated residual.
        vs_layernorm_mod(&h, &X, NULL, NULL, &shift_ff, &scale_ff, eps);
        vs_linear(&f, &h, &b->ffn1_w, &b->ffn1_b, VS_ACT_GELU_TANH);
        vs_linear(&y, &f, &b->ffn2_w, &b->ffn2_b, VS_ACT_NONE);
        vs_gated_add(&X, &y, &gate_ff);

        if (probe && probe->after_block) probe->after_block(probe->ctx, i, &X);
    }

    // Head, f32 end to end: LN * (1 + scale) + shift with (shift, scale) = head.modulation + e.
    vs_tensor hf = new2(VS_F32, dev, n, D);
    vs_tensor head_shift = row(&c->head_mod, 0), head_scale = row(&c->head_mod, 1);
    vs_layernorm_mod(&hf, &X, NULL, NULL, &head_shift, &head_scale, eps);
    vs_linear(out, &hf, &m->head_w, &m->head_b, VS_ACT_NONE);

    vs_tensor *tmp[] = {&X, &h, &q, &k, &v, &o, &y, &f, &hf};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) vs_tensor_free(tmp[i]);
    return 0;
}

void wan_unpatchify(const vs_tensor *rows, vs_tensor *out) { vs_unpatchify(out, rows); }
