// Wan DiT weights: the parameter table (both namings), config checks, the built-in tiny config,
// deterministic random weights, device placement and freeing. Loading lives in wan_load.c, the
// forward pass in wan_forward.c.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_rng.h"
#ifdef VS_HAVE_CUDA
#include "kernels/cuda/ops_cuda.h"  // vs_cuda_fill_normal: random weights drawn on the GPU
#endif
#include "runtime/wan_params.h"

int wan_config_validate(const vs_wan_config *c) {
    if (c->dim <= 0 || c->ffn_dim <= 0 || c->freq_dim <= 0 || c->num_heads <= 0 ||
        c->num_layers <= 0 || c->in_dim <= 0 || c->out_dim <= 0 || c->text_len <= 0 ||
        c->text_dim <= 0)
        return VS_FAIL("Wan config: every size must be positive (dim %d, ffn_dim %d, freq_dim %d, "
                       "num_heads %d, num_layers %d, in_dim %d, out_dim %d, text_len %d, text_dim %d)",
                       c->dim, c->ffn_dim, c->freq_dim, c->num_heads, c->num_layers, c->in_dim,
                       c->out_dim, c->text_len, c->text_dim);
    if (c->dim % c->num_heads)
        return VS_FAIL("Wan config: dim %d is not a multiple of num_heads %d", c->dim, c->num_heads);
    int hd = c->dim / c->num_heads;
    if (hd % 2 || hd < 6)
        return VS_FAIL("Wan config: head_dim %d must be even and >= 6 (3D RoPE splits it t/h/w)", hd);
    if (c->freq_dim % 2) return VS_FAIL("Wan config: freq_dim %d must be even", c->freq_dim);
    if (c->patch[0] != 1 || c->patch[1] != 2 || c->patch[2] != 2)
        return VS_FAIL("Wan config: patch (%d, %d, %d) is not supported; only (1, 2, 2)",
                       c->patch[0], c->patch[1], c->patch[2]);
    if (strcmp(c->model_type, "t2v") != 0)
        return VS_FAIL("Wan config: model_type '%s' is not supported; only t2v", c->model_type);
    if (!c->qk_norm || !c->cross_attn_norm)
        return VS_FAIL("Wan config: qk_norm and cross_attn_norm must be on (every Wan 2.1 model)");
    if (!(c->eps > 0)) return VS_FAIL("Wan config: eps %g must be positive", (double)c->eps);
    return 0;
}

vs_wan_config wan_tiny_config(void) {
    vs_wan_config c;
    memset(&c, 0, sizeof c);
    strcpy(c.model_type, "t2v");
    c.dim = 128;
    c.ffn_dim = 256;
    c.freq_dim = 256;
    c.num_heads = 2;
    c.num_layers = 2;
    c.in_dim = 16;
    c.out_dim = 16;
    c.text_len = 512;
    c.text_dim = 64;
    c.eps = 1e-6f;
    c.patch[0] = 1;
    c.patch[1] = 2;
    c.patch[2] = 2;
    c.qk_norm = 1;
    c.cross_attn_norm = 1;
    return c;
}

// ---------------------------------------------------------------------------- parameter table
typedef struct {
    wan_param *p;
    int n, cap;
} param_list;

static wan_param *push(param_list *l, const char *official, const char *diffusers,
                       vs_tensor *slot, wan_init_kind init) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        wan_param *grown = realloc(l->p, (size_t)l->cap * sizeof *grown);
        VS_ASSERT(grown != NULL, "out of host memory");
        l->p = grown;
    }
    wan_param *p = &l->p[l->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->official, sizeof p->official, "%s", official);
    snprintf(p->diffusers, sizeof p->diffusers, "%s", diffusers);
    p->slot = slot;
    p->init = init;
    return p;
}

// A Linear: weight [N, K] and bias [N].
static void add_linear(param_list *l, const char *official, const char *diffusers,
                       vs_tensor *w, vs_tensor *b, int64_t N, int64_t K) {
    char o[96], d[112];
    snprintf(o, sizeof o, "%s.weight", official);
    snprintf(d, sizeof d, "%s.weight", diffusers);
    wan_param *p = push(l, o, d, w, WAN_INIT_MATRIX);
    p->ndim = p->ck_ndim = 2;
    p->shape[0] = p->ck_shape[0] = N;
    p->shape[1] = p->ck_shape[1] = K;
    snprintf(o, sizeof o, "%s.bias", official);
    snprintf(d, sizeof d, "%s.bias", diffusers);
    p = push(l, o, d, b, WAN_INIT_BIAS);
    p->ndim = p->ck_ndim = 1;
    p->shape[0] = p->ck_shape[0] = N;
}

static void add_vector(param_list *l, const char *official, const char *diffusers, vs_tensor *v,
                       int64_t n, wan_init_kind init) {
    wan_param *p = push(l, official, diffusers, v, init);
    p->ndim = p->ck_ndim = 1;
    p->shape[0] = p->ck_shape[0] = n;
}

static void add_attention(param_list *l, int i, const char *official, const char *diffusers,
                          wan_attn_weights *a, int64_t D) {
    static const char *off[4] = {"q", "k", "v", "o"};
    static const char *dif[4] = {"to_q", "to_k", "to_v", "to_out.0"};
    vs_tensor *w[4] = {&a->q_w, &a->k_w, &a->v_w, &a->o_w};
    vs_tensor *b[4] = {&a->q_b, &a->k_b, &a->v_b, &a->o_b};
    char o[96], d[112];
    for (int j = 0; j < 4; j++) {
        snprintf(o, sizeof o, "blocks.%d.%s.%s", i, official, off[j]);
        snprintf(d, sizeof d, "blocks.%d.%s.%s", i, diffusers, dif[j]);
        add_linear(l, o, d, w[j], b[j], D, D);
    }
    snprintf(o, sizeof o, "blocks.%d.%s.norm_q.weight", i, official);
    snprintf(d, sizeof d, "blocks.%d.%s.norm_q.weight", i, diffusers);
    add_vector(l, o, d, &a->norm_q, D, WAN_INIT_NORM);
    snprintf(o, sizeof o, "blocks.%d.%s.norm_k.weight", i, official);
    snprintf(d, sizeof d, "blocks.%d.%s.norm_k.weight", i, diffusers);
    add_vector(l, o, d, &a->norm_k, D, WAN_INIT_NORM);
}

wan_param *wan_params(wan_model *m, int *n) {
    const vs_wan_config *c = &m->cfg;
    int64_t D = c->dim;
    param_list l = {0};
    wan_param *p = push(&l, "patch_embedding.weight", "patch_embedding.weight", &m->patch_w,
                        WAN_INIT_MATRIX);
    p->ndim = 2;
    p->shape[0] = D;
    p->shape[1] = (int64_t)c->in_dim * 4;
    p->ck_ndim = 5;  // Conv3d [D, in_dim, 1, 2, 2], read as [D, in_dim*4] in (c, dh, dw) order
    int64_t conv[5] = {D, c->in_dim, 1, 2, 2};
    memcpy(p->ck_shape, conv, sizeof conv);
    add_vector(&l, "patch_embedding.bias", "patch_embedding.bias", &m->patch_b, D, WAN_INIT_BIAS);
    add_linear(&l, "text_embedding.0", "condition_embedder.text_embedder.linear_1", &m->text1_w,
               &m->text1_b, D, c->text_dim);
    add_linear(&l, "text_embedding.2", "condition_embedder.text_embedder.linear_2", &m->text2_w,
               &m->text2_b, D, D);
    add_linear(&l, "time_embedding.0", "condition_embedder.time_embedder.linear_1", &m->time1_w,
               &m->time1_b, D, c->freq_dim);
    add_linear(&l, "time_embedding.2", "condition_embedder.time_embedder.linear_2", &m->time2_w,
               &m->time2_b, D, D);
    add_linear(&l, "time_projection.1", "condition_embedder.time_proj", &m->tproj_w, &m->tproj_b,
               6 * D, D);
    for (int i = 0; i < c->num_layers; i++) {
        wan_block_weights *b = &m->blocks[i];
        char o[96], d[112];
        snprintf(o, sizeof o, "blocks.%d.modulation", i);
        snprintf(d, sizeof d, "blocks.%d.scale_shift_table", i);
        p = push(&l, o, d, &b->modulation, WAN_INIT_MOD);
        p->ndim = 2;
        p->shape[0] = 6;
        p->shape[1] = D;
        p->ck_ndim = 3;
        p->ck_shape[0] = 1;
        p->ck_shape[1] = 6;
        p->ck_shape[2] = D;
        add_attention(&l, i, "self_attn", "attn1", &b->self_attn, D);
        // The affine pre-cross-attention LayerNorm: official norm3, diffusers norm2.
        snprintf(o, sizeof o, "blocks.%d.norm3.weight", i);
        snprintf(d, sizeof d, "blocks.%d.norm2.weight", i);
        add_vector(&l, o, d, &b->norm3_w, D, WAN_INIT_NORM);
        snprintf(o, sizeof o, "blocks.%d.norm3.bias", i);
        snprintf(d, sizeof d, "blocks.%d.norm2.bias", i);
        add_vector(&l, o, d, &b->norm3_b, D, WAN_INIT_BIAS);
        add_attention(&l, i, "cross_attn", "attn2", &b->cross_attn, D);
        snprintf(o, sizeof o, "blocks.%d.ffn.0", i);
        snprintf(d, sizeof d, "blocks.%d.ffn.net.0.proj", i);
        add_linear(&l, o, d, &b->ffn1_w, &b->ffn1_b, c->ffn_dim, D);
        snprintf(o, sizeof o, "blocks.%d.ffn.2", i);
        snprintf(d, sizeof d, "blocks.%d.ffn.net.2", i);
        add_linear(&l, o, d, &b->ffn2_w, &b->ffn2_b, D, c->ffn_dim);
    }
    p = push(&l, "head.modulation", "scale_shift_table", &m->head_mod, WAN_INIT_MOD);
    p->ndim = 2;
    p->shape[0] = 2;
    p->shape[1] = D;
    p->ck_ndim = 3;
    p->ck_shape[0] = 1;
    p->ck_shape[1] = 2;
    p->ck_shape[2] = D;
    add_linear(&l, "head.head", "proj_out", &m->head_w, &m->head_b, (int64_t)c->out_dim * 4, D);
    *n = l.n;
    return l.p;
}

// ---------------------------------------------------------------------------- random weights
// On CUDA, linear weights feed the matrix units in bf16; everything else stays f32 (spec 2.10).
// The time MLP and head run in f32 in the reference, so they stay f32 too.
static int bf16_on_cuda(const wan_model *m, const wan_param *p) {
    const vs_tensor *t = p->slot;
    return p->init == WAN_INIT_MATRIX && t != &m->time1_w && t != &m->time2_w &&
           t != &m->tproj_w && t != &m->head_w;
}

// a * N(0, 1) + b per init kind (matrices [N, K]: a = 1/sqrt(K), the fan-in).
static void init_affine(const wan_param *p, float *a, float *b) {
    *a = p->init == WAN_INIT_MATRIX ? 1.0f / sqrtf((float)p->shape[1]) : 0.1f;
    *b = p->init == WAN_INIT_NORM ? 1.0f : 0.0f;
}

#ifdef VS_HAVE_CUDA
// The same values drawn directly on the GPU (no host pass over 1.4-14 billion weights).
static void random_on_gpu(wan_model *m, wan_param *ps, int n, uint64_t seed) {
    uint64_t counter = 0;
    for (int i = 0; i < n; i++) {
        wan_param *p = &ps[i];
        vs_dtype dt = bf16_on_cuda(m, p) ? VS_BF16 : VS_F32;
        *p->slot = vs_tensor_new(dt, VS_DEV_CUDA, p->ndim, p->shape);
        float a, b;
        init_affine(p, &a, &b);
        int64_t numel = vs_tensor_numel(p->slot);
        vs_cuda_fill_normal(p->slot->data, dt, numel, seed, counter, a, b);
        counter += (uint64_t)numel;
    }
    m->device = VS_DEV_CUDA;
}
#endif

int wan_model_random(wan_model *m, const vs_wan_config *cfg, uint64_t seed, vs_device device) {
    memset(m, 0, sizeof *m);
    if (wan_config_validate(cfg) != 0) return -1;
    m->cfg = *cfg;
    m->device = VS_DEV_CPU;
    m->blocks = vs_calloc((size_t)cfg->num_layers, sizeof *m->blocks);
    int n;
    wan_param *ps = wan_params(m, &n);
#ifdef VS_HAVE_CUDA
    if (device == VS_DEV_CUDA) {
        random_on_gpu(m, ps, n, seed);
        free(ps);
        return 0;
    }
#endif
    // One Philox stream; each tensor takes the next numel counters, so every weight is a pure
    // function of (config, seed).
    uint64_t counter = 0;
    for (int i = 0; i < n; i++) {
        wan_param *p = &ps[i];
        *p->slot = vs_tensor_new(VS_F32, VS_DEV_CPU, p->ndim, p->shape);
        float *w = p->slot->data;
        int64_t numel = vs_tensor_numel(p->slot);
        float a, b;
        init_affine(p, &a, &b);
        for (int64_t j = 0; j < numel; j++) w[j] = a * vs_normal_at(seed, counter + (uint64_t)j) + b;
        counter += (uint64_t)numel;
    }
    free(ps);
    wan_model_place(m, device);
    return 0;
}

void wan_model_tiny(wan_model *m, uint64_t seed) {
    vs_wan_config c = wan_tiny_config();
    VS_TRY(wan_model_random(m, &c, seed, VS_DEV_CPU), "the built-in tiny config is invalid: a bug");
}

// ---------------------------------------------------------------------------- placement, free
void wan_model_place(wan_model *m, vs_device device) {
    if (device == m->device) return;
    VS_ASSERT(m->device == VS_DEV_CPU && device == VS_DEV_CUDA,
              "weights move only from the CPU to a CUDA device");
    int n;
    wan_param *ps = wan_params(m, &n);
    for (int i = 0; i < n; i++) {
        vs_tensor *t = ps[i].slot;
        int to_bf16 = bf16_on_cuda(m, &ps[i]);
        vs_tensor host = *t;
        if (to_bf16) {
            host = vs_tensor_new(VS_BF16, VS_DEV_CPU, t->ndim, t->shape);
            vs_convert_from_f32(t->data, vs_tensor_numel(t), VS_BF16, host.data);
        }
        vs_tensor dev = vs_tensor_new(host.dtype, VS_DEV_CUDA, t->ndim, t->shape);
        vs_tensor_copy(&dev, &host);
        if (to_bf16) vs_tensor_free(&host);
        vs_tensor_free(t);
        *t = dev;
    }
    free(ps);
    m->device = device;
}

void wan_model_free(wan_model *m) {
    if (!m->blocks) return;
    int n;
    wan_param *ps = wan_params(m, &n);
    for (int i = 0; i < n; i++) vs_tensor_free(ps[i].slot);
    free(ps);
    free(m->blocks);
    memset(m, 0, sizeof *m);
}
