// Wan DiT weights and indexing: loader errors name the tensor and the file; the official,
// diffusers and prefixed namings load to identical weights; the tiny model is deterministic;
// a forward over token shards (with an attention hook that sees the full sequence) equals the
// full forward bit for bit, and RoPE/patch/unpatchify use global indices as specified; text
// parts built once per prompt and conds shared by both prompts give the bits of fresh ones.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/vs_ops.h"
#include "runtime/vs_rng.h"
#include "runtime/vs_safetensors.h"
#include "runtime/wan_cond_cache.h"
#include "runtime/wan_params.h"
#include "tests/vs_test.h"

static vs_wan_config small_config(void) {
    vs_wan_config c = wan_tiny_config();
    c.dim = 48;  // 2 heads x 24
    c.ffn_dim = 40;
    c.text_dim = 20;
    c.text_len = 24;
    c.in_dim = 4;
    c.out_dim = 4;
    return c;
}

static const char *tmp_path(const char *tag) {
    static char buf[4][512];
    static int slot;
    const char *dir = getenv("TMPDIR");
    char *p = buf[slot++ % 4];
    snprintf(p, 512, "%s/vs_wan_%d_%s.safetensors", dir ? dir : "/tmp", (int)getpid(), tag);
    return p;
}

enum { NAMING_OFFICIAL, NAMING_DIFFUSERS };

// Writes m's weights in a naming, optionally with a name prefix, skipping tensor `skip` (-1:
// none) and giving tensor `bad_shape` (-1: none) a wrong first dim.
static void write_checkpoint(wan_model *m, const char *path, int naming, const char *prefix,
                             int skip, int bad_shape) {
    int n;
    wan_param *ps = wan_params(m, &n);
    char **names = calloc((size_t)n, sizeof *names);
    vs_tensor *ts = calloc((size_t)n, sizeof *ts);
    float *junk = NULL;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (i == skip) continue;
        const char *name = naming == NAMING_OFFICIAL ? ps[i].official : ps[i].diffusers;
        names[k] = malloc(strlen(prefix) + strlen(name) + 1);
        sprintf(names[k], "%s%s", prefix, name);
        ts[k] = vs_tensor_view(ps[i].slot->data, VS_F32, VS_DEV_CPU, ps[i].ck_ndim,
                               ps[i].ck_shape);
        if (i == bad_shape) {  // one row fewer
            ts[k].shape[0] -= 1;
            junk = calloc((size_t)vs_tensor_numel(&ts[k]) + 1, sizeof(float));
            ts[k].data = junk;
        }
        k++;
    }
    VS_TRY(vs_st_write(path, k, (const char *const *)names, ts, 0, NULL, NULL), "write");
    for (int i = 0; i < k; i++) free(names[i]);
    free(names);
    free(ts);
    free(junk);
    free(ps);
}

// 1 when every weight of a and b is bit-identical.
static int same_weights(wan_model *a, wan_model *b) {
    int na, nb, same = 1;
    wan_param *pa = wan_params(a, &na), *pb = wan_params(b, &nb);
    if (na != nb) same = 0;
    for (int i = 0; same && i < na; i++)
        same = vs_tensor_bytes(pa[i].slot) == vs_tensor_bytes(pb[i].slot) &&
               memcmp(pa[i].slot->data, pb[i].slot->data, vs_tensor_bytes(pa[i].slot)) == 0;
    free(pa);
    free(pb);
    return same;
}

static void test_namings_load_identically(void) {
    vs_wan_config c = small_config();
    wan_model ref, off, dif, pre;
    VS_TRY(wan_model_random(&ref, &c, 11, VS_DEV_CPU), "random");
    const char *p_off = tmp_path("official"), *p_dif = tmp_path("diffusers");
    const char *p_pre = tmp_path("prefixed");
    write_checkpoint(&ref, p_off, NAMING_OFFICIAL, "", -1, -1);
    write_checkpoint(&ref, p_dif, NAMING_DIFFUSERS, "", -1, -1);
    write_checkpoint(&ref, p_pre, NAMING_OFFICIAL, "model.diffusion_model.", -1, -1);
    CHECK(wan_model_load(&off, &c, p_off, VS_DEV_CPU) == 0);
    CHECK(wan_model_load(&dif, &c, p_dif, VS_DEV_CPU) == 0);
    CHECK(wan_model_load(&pre, &c, p_pre, VS_DEV_CPU) == 0);
    CHECK(same_weights(&ref, &off));
    CHECK(same_weights(&ref, &dif));
    CHECK(same_weights(&ref, &pre));
    wan_model_free(&ref);
    wan_model_free(&off);
    wan_model_free(&dif);
    wan_model_free(&pre);
    unlink(p_off);
    unlink(p_dif);
    unlink(p_pre);
}

static void test_missing_and_misshaped_tensors(void) {
    vs_wan_config c = small_config();
    wan_model ref, m;
    VS_TRY(wan_model_random(&ref, &c, 3, VS_DEV_CPU), "random");
    int n;
    wan_param *ps = wan_params(&ref, &n);
    // A block tensor in the diffusers naming, missing.
    int victim = -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(ps[i].official, "blocks.1.cross_attn.norm_k.weight")) victim = i;
    CHECK(victim >= 0);
    const char *path = tmp_path("missing");
    write_checkpoint(&ref, path, NAMING_DIFFUSERS, "", victim, -1);
    CHECK(wan_model_load(&m, &c, path, VS_DEV_CPU) == -1);
    const char *err = vs_last_error();
    CHECK_MSG(strstr(err, "blocks.1.attn2.norm_k.weight") && strstr(err, path), "%s", err);
    CHECK(m.blocks == NULL);  // nothing left allocated
    unlink(path);

    // The FFN weight of block 0 in the official naming, one row short.
    for (int i = 0; i < n; i++)
        if (!strcmp(ps[i].official, "blocks.0.ffn.0.weight")) victim = i;
    path = tmp_path("shape");
    write_checkpoint(&ref, path, NAMING_OFFICIAL, "", -1, victim);
    CHECK(wan_model_load(&m, &c, path, VS_DEV_CPU) == -1);
    err = vs_last_error();
    CHECK_MSG(strstr(err, "blocks.0.ffn.0.weight") && strstr(err, path) && strstr(err, "[39, 48]"),
              "%s", err);

    // A config that does not match the file: the first mismatching tensor is named.
    vs_wan_config wrong = c;
    wrong.text_dim = 21;
    path = tmp_path("config");
    write_checkpoint(&ref, path, NAMING_OFFICIAL, "", -1, -1);
    CHECK(wan_model_load(&m, &wrong, path, VS_DEV_CPU) == -1);
    CHECK_MSG(strstr(vs_last_error(), "text_embedding.0.weight") != NULL, "%s", vs_last_error());
    unlink(path);
    unlink(tmp_path("shape"));

    // A checkpoint with more blocks than the config: refused, naming the first extra block.
    vs_wan_config fewer = c;
    fewer.num_layers = 1;
    path = tmp_path("layers");
    write_checkpoint(&ref, path, NAMING_DIFFUSERS, "", -1, -1);
    CHECK(wan_model_load(&m, &fewer, path, VS_DEV_CPU) == -1);
    CHECK_MSG(strstr(vs_last_error(), "blocks.1.scale_shift_table") != NULL, "%s", vs_last_error());
    unlink(path);
    free(ps);
    wan_model_free(&ref);
}

// Random latent [in_dim, T, H, W] and context [Lt, text_dim].
static void inputs(const vs_wan_config *c, int64_t T, int64_t H, int64_t W, int64_t Lt,
                   vs_tensor *latent, vs_tensor *context) {
    int64_t ls[4] = {c->in_dim, T, H, W}, cs[2] = {Lt, c->text_dim};
    *latent = vs_tensor_new(VS_F32, VS_DEV_CPU, 4, ls);
    *context = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, cs);
    float *l = latent->data, *x = context->data;
    for (int64_t i = 0; i < vs_tensor_numel(latent); i++) l[i] = vs_normal_at(99, (uint64_t)i);
    for (int64_t i = 0; i < vs_tensor_numel(context); i++) x[i] = vs_normal_at(98, (uint64_t)i);
}

static vs_tensor run_full(wan_model *m, const vs_tensor *latent, const vs_tensor *context, int t,
                          const vs_attention_hook *hook) {
    int64_t L = latent->shape[1] * (latent->shape[2] / 2) * (latent->shape[3] / 2);
    int64_t rs[2] = {L, (int64_t)m->cfg.out_dim * 4};
    vs_tensor rows = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, rs);
    wan_text txt;
    wan_cond c;
    VS_TRY(wan_text_init(&txt, m, context), "text");
    VS_TRY(wan_cond_init(&c, m, t), "cond");
    VS_TRY(wan_forward(m, &c, &txt, latent, 0, L, hook, &rows, NULL), "forward");
    wan_cond_free(&c);
    wan_text_free(&txt);
    return rows;
}

static void test_tiny_is_deterministic(void) {
    wan_model a, b, d;
    wan_model_tiny(&a, 7);
    wan_model_tiny(&b, 7);
    wan_model_tiny(&d, 8);
    vs_tensor latent, context;
    inputs(&a.cfg, 2, 8, 8, 10, &latent, &context);
    vs_tensor ya = run_full(&a, &latent, &context, 999, NULL);
    vs_tensor yb = run_full(&b, &latent, &context, 999, NULL);
    vs_tensor yd = run_full(&d, &latent, &context, 999, NULL);
    CHECK(memcmp(ya.data, yb.data, vs_tensor_bytes(&ya)) == 0);
    CHECK(vs_rel_l2(ya.data, yd.data, (long)vs_tensor_numel(&ya)) > 0.1);
    // Activations stay O(1) through the random model.
    double ss = 0;
    for (int64_t i = 0; i < vs_tensor_numel(&ya); i++) ss += (double)((float *)ya.data)[i] * ((float *)ya.data)[i];
    double rms = sqrt(ss / (double)vs_tensor_numel(&ya));
    CHECK_MSG(rms > 0.05 && rms < 20, "output rms %g", rms);
    vs_tensor *all[] = {&ya, &yb, &yd, &latent, &context};
    for (int i = 0; i < 5; i++) vs_tensor_free(all[i]);
    wan_model_free(&a);
    wan_model_free(&b);
    wan_model_free(&d);
}

// A test hook: in record mode (tok0 < 0) it keeps each layer's full Q/K/V and runs dense
// attention; in shard mode it checks the shard's Q/K/V are exactly the recorded rows (so RoPE
// used global positions) and attends with the recorded full K/V, as an all-to-all would.
typedef struct {
    int64_t tok0;  // -1: record
    int layers;
    vs_tensor q[4], k[4], v[4];
    int mismatches;
} gather_hook;

static void gather_attention(void *ctx, int layer, const vs_tensor *q, const vs_tensor *k,
                             const vs_tensor *v, vs_tensor *out) {
    gather_hook *g = ctx;
    float scale = 1.0f / sqrtf((float)q->shape[2]);
    if (g->tok0 < 0) {
        const vs_tensor *src[3] = {q, k, v};
        vs_tensor *dst[3] = {&g->q[layer], &g->k[layer], &g->v[layer]};
        for (int i = 0; i < 3; i++) {
            *dst[i] = vs_tensor_new(VS_F32, VS_DEV_CPU, 3, src[i]->shape);
            vs_tensor_copy(dst[i], src[i]);
        }
        vs_attention_dense(out, q, k, v, scale);
        return;
    }
    vs_tensor rq = vs_rows(&g->q[layer], g->tok0, q->shape[0]);
    vs_tensor rk = vs_rows(&g->k[layer], g->tok0, k->shape[0]);
    vs_tensor rv = vs_rows(&g->v[layer], g->tok0, v->shape[0]);
    g->mismatches += memcmp(rq.data, q->data, vs_tensor_bytes(q)) != 0;
    g->mismatches += memcmp(rk.data, k->data, vs_tensor_bytes(k)) != 0;
    g->mismatches += memcmp(rv.data, v->data, vs_tensor_bytes(v)) != 0;
    vs_attention_dense(out, q, &g->k[layer], &g->v[layer], scale);
}

static void test_token_shards_match_full(void) {
    vs_wan_config cfg = small_config();
    wan_model m;
    VS_TRY(wan_model_random(&m, &cfg, 5, VS_DEV_CPU), "random");
    vs_tensor latent, context;
    inputs(&m.cfg, 3, 6, 10, 7, &latent, &context);  // grid 3 x 3 x 5 = 45 tokens
    int64_t F = (int64_t)m.cfg.out_dim * 4;
    gather_hook g = {.tok0 = -1, .layers = m.cfg.num_layers};
    vs_attention_hook hook = {&g, gather_attention};
    vs_tensor dense = run_full(&m, &latent, &context, 700, NULL);
    vs_tensor full = run_full(&m, &latent, &context, 700, &hook);
    CHECK(memcmp(dense.data, full.data, vs_tensor_bytes(&full)) == 0);

    wan_text txt;
    wan_cond c;
    VS_TRY(wan_text_init(&txt, &m, &context), "text");
    VS_TRY(wan_cond_init(&c, &m, 700), "cond");
    int64_t cuts[] = {0, 17, 30, 45};  // uneven shards, not aligned to frames or rows
    for (int s = 0; s < 3; s++) {
        int64_t n = cuts[s + 1] - cuts[s];
        int64_t rs[2] = {n, F};
        vs_tensor part = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, rs);
        g.tok0 = cuts[s];
        CHECK(wan_forward(&m, &c, &txt, &latent, cuts[s], n, &hook, &part, NULL) == 0);
        vs_tensor want = vs_rows(&full, cuts[s], n);
        CHECK_MSG(memcmp(part.data, want.data, vs_tensor_bytes(&part)) == 0,
                  "shard [%lld, %lld) differs from the full forward", (long long)cuts[s],
                  (long long)cuts[s + 1]);
        vs_tensor_free(&part);
    }
    CHECK_MSG(g.mismatches == 0, "%d shard Q/K/V differ from the full ones", g.mismatches);

    // Bad ranges fail with a message, before any compute.
    int64_t rs[2] = {10, F};
    vs_tensor part = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, rs);
    CHECK(wan_forward(&m, &c, &txt, &latent, 40, 10, &hook, &part, NULL) == -1);
    CHECK(strstr(vs_last_error(), "[40, 50)") != NULL);
    CHECK(wan_forward(&m, &c, &txt, &latent, 0, 10, NULL, &part, NULL) == -1);
    CHECK(strstr(vs_last_error(), "attention hook") != NULL);
    vs_tensor_free(&part);

    for (int i = 0; i < m.cfg.num_layers; i++) {
        vs_tensor_free(&g.q[i]);
        vs_tensor_free(&g.k[i]);
        vs_tensor_free(&g.v[i]);
    }
    wan_cond_free(&c);
    wan_text_free(&txt);
    vs_tensor_free(&dense);
    vs_tensor_free(&full);
    vs_tensor_free(&latent);
    vs_tensor_free(&context);
    wan_model_free(&m);
}

// A run's conditioning through wan_cond_cache: each prompt's text part is built on its first
// call and reused at every later timestep, the cond is shared by both prompts at a timestep,
// and every forward gives exactly the bits of one with a fresh text and cond.
static void test_cond_cache_matches_fresh(void) {
    vs_wan_config cfg = small_config();
    wan_model m;
    VS_TRY(wan_model_random(&m, &cfg, 11, VS_DEV_CPU), "random");
    vs_tensor latent, context[VS_BRANCHES];
    inputs(&m.cfg, 2, 4, 6, 9, &latent, &context[VS_BRANCH_COND]);
    int64_t ns[2] = {5, m.cfg.text_dim};
    context[VS_BRANCH_UNCOND] = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, ns);
    for (int64_t i = 0; i < vs_tensor_numel(&context[VS_BRANCH_UNCOND]); i++)
        ((float *)context[VS_BRANCH_UNCOND].data)[i] = vs_normal_at(97, (uint64_t)i);
    int64_t L = 2 * 2 * 3, rs[2] = {L, (int64_t)m.cfg.out_dim * 4};
    vs_tensor rows = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, rs);

    wan_cond_cache cc;
    wan_cond_cache_init(&cc, &m);
    const wan_text *first[VS_BRANCHES] = {NULL, NULL};
    const void *first_k[VS_BRANCHES] = {NULL, NULL};
    const int ts[3] = {999, 500, 0};
    for (int s = 0; s < 3; s++) {
        const void *cond_mod = NULL;
        for (int b = 0; b < VS_BRANCHES; b++) {
            const wan_cond *c;
            const wan_text *txt;
            CHECK(wan_cond_cache_get(&cc, b, &context[b], ts[s], &c, &txt) == 0);
            CHECK(c->timestep == ts[s]);
            if (s == 0) first[b] = txt, first_k[b] = txt->cross_k.data;
            CHECK_MSG(txt == first[b] && txt->cross_k.data == first_k[b],
                      "branch %d: text rebuilt at step %d", b, s);
            if (b == 0) cond_mod = c->mod.data;
            CHECK_MSG(c->mod.data == cond_mod, "cond rebuilt for branch %d at t %d", b, ts[s]);
            CHECK(wan_forward(&m, c, txt, &latent, 0, L, NULL, &rows, NULL) == 0);
            vs_tensor fresh = run_full(&m, &latent, &context[b], ts[s], NULL);
            CHECK_MSG(memcmp(rows.data, fresh.data, vs_tensor_bytes(&rows)) == 0,
                      "branch %d t %d: cached conditioning differs from a fresh one", b, ts[s]);
            vs_tensor_free(&fresh);
        }
    }
    CHECK(first[VS_BRANCH_COND] != first[VS_BRANCH_UNCOND]);

    // Bad inputs: one message each, nothing built.
    const wan_cond *c;
    const wan_text *txt;
    CHECK(wan_cond_cache_get(&cc, 0, &context[0], -1, &c, &txt) == -1);
    CHECK(strstr(vs_last_error(), "negative") != NULL);
    wan_cond_cache_free(&cc);
    wan_cond_cache_init(&cc, &m);
    CHECK(wan_cond_cache_get(&cc, 0, &latent, 999, &c, &txt) == -1);
    CHECK(strstr(vs_last_error(), "text context") != NULL);
    CHECK(wan_cond_cache_get(&cc, 2, &context[0], 999, &c, &txt) == -1);
    wan_cond_cache_free(&cc);

    // A text made for another model is refused before any compute.
    vs_wan_config other = cfg;
    other.text_len = 16;
    wan_model m2;
    VS_TRY(wan_model_random(&m2, &other, 11, VS_DEV_CPU), "random");
    wan_text t2;
    wan_cond c1;
    VS_TRY(wan_text_init(&t2, &m2, &context[VS_BRANCH_UNCOND]), "text");
    VS_TRY(wan_cond_init(&c1, &m, 999), "cond");
    CHECK(wan_forward(&m, &c1, &t2, &latent, 0, L, NULL, &rows, NULL) == -1);
    CHECK(strstr(vs_last_error(), "wan_text_init") != NULL);
    wan_cond_free(&c1);
    wan_text_free(&t2);
    wan_model_free(&m2);

    vs_tensor_free(&rows);
    vs_tensor_free(&latent);
    for (int b = 0; b < VS_BRANCHES; b++) vs_tensor_free(&context[b]);
    wan_model_free(&m);
}

static void test_rope_uses_global_positions(void) {
    // head_dim 128: pairs 22 (t) / 21 (h) / 21 (w).
    int64_t grid[3] = {4, 3, 5}, L = 60, H = 2, d = 128;
    int64_t s[3] = {L, H, d};
    vs_tensor x = vs_tensor_new(VS_F32, VS_DEV_CPU, 3, s);
    vs_tensor y = vs_tensor_new(VS_F32, VS_DEV_CPU, 3, s);
    for (int64_t i = 0; i < L * H * d; i++) ((float *)x.data)[i] = vs_normal_at(1, (uint64_t)i);
    vs_tensor_copy(&y, &x);
    vs_rope3d(&y, 0, grid);
    // Token g = 47: f = 3, h = 0, w = 2. Pair 5 (t axis), 22 + 4 (h axis), 43 + 7 (w axis).
    int64_t g = 47;
    struct { int pair; double theta; } cases[3] = {
        {5, 3 * pow(10000.0, -2.0 * 5 / 44)},
        {26, 0.0},
        {50, 2 * pow(10000.0, -2.0 * 7 / 42)},
    };
    for (int ci = 0; ci < 3; ci++) {
        int j = cases[ci].pair;
        const float *xi = (float *)x.data + (g * H + 1) * d, *yi = (float *)y.data + (g * H + 1) * d;
        double c = cos(cases[ci].theta), sn = sin(cases[ci].theta);
        CHECK_NEAR(yi[2 * j], xi[2 * j] * c - xi[2 * j + 1] * sn, 1e-5);
        CHECK_NEAR(yi[2 * j + 1], xi[2 * j] * sn + xi[2 * j + 1] * c, 1e-5);
    }
    // A shard starting at token 23 rotates exactly as the same rows of the full call.
    vs_tensor part = vs_rows(&x, 23, 20);
    vs_rope3d(&part, 23, grid);
    vs_tensor want = vs_rows(&y, 23, 20);
    CHECK(memcmp(part.data, want.data, vs_tensor_bytes(&part)) == 0);
    vs_tensor_free(&x);
    vs_tensor_free(&y);
}

static void test_patch_and_unpatchify_layout(void) {
    int64_t C = 3, T = 2, Hh = 4, W = 6, L = T * 2 * 3;
    int64_t xs[4] = {C, T, Hh, W};
    vs_tensor x = vs_tensor_new(VS_F32, VS_DEV_CPU, 4, xs);
    for (int64_t i = 0; i < vs_tensor_numel(&x); i++) ((float *)x.data)[i] = (float)i;
    // Patchify of tokens [4, 10): token g = 7 is f = 1, h' = 0, w' = 1.
    int64_t ps[2] = {6, C * 4};
    vs_tensor p = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, ps);
    vs_patchify(&p, &x, 4);
    const float *row = (float *)p.data + (7 - 4) * C * 4;
    // feature (c=2, dh=1, dw=0) -> x[2, 1, 1, 2]
    CHECK(row[2 * 4 + 1 * 2 + 0] == (float)(((2 * T + 1) * Hh + 1) * W + 2));
    // Unpatchify: rows (dh, dw, c) with c fastest.
    int64_t rs[2] = {L, C * 4};
    vs_tensor rows = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, rs);
    for (int64_t i = 0; i < L * C * 4; i++) ((float *)rows.data)[i] = (float)i;
    vs_tensor v = vs_tensor_new(VS_F32, VS_DEV_CPU, 4, xs);
    wan_unpatchify(&rows, &v);
    // v[c=1, f=1, 2*1+1, 2*2+0] = rows[(1*2+1)*3+2 = 11, dh*2C + dw*C + c = 1*6+0+1]
    CHECK(((float *)v.data)[((1 * T + 1) * Hh + 3) * W + 4] == (float)(11 * C * 4 + 7));
    // Every value lands exactly once.
    double sum = 0;
    for (int64_t i = 0; i < vs_tensor_numel(&v); i++) sum += ((float *)v.data)[i];
    double n = (double)vs_tensor_numel(&v);
    CHECK_NEAR(sum, n * (n - 1) / 2, 0.5);
    vs_tensor_free(&x);
    vs_tensor_free(&p);
    vs_tensor_free(&rows);
    vs_tensor_free(&v);
}

int main(void) {
    RUN_TEST(test_namings_load_identically);
    RUN_TEST(test_missing_and_misshaped_tensors);
    RUN_TEST(test_tiny_is_deterministic);
    RUN_TEST(test_token_shards_match_full);
    RUN_TEST(test_cond_cache_matches_fresh);
    RUN_TEST(test_rope_uses_global_positions);
    RUN_TEST(test_patch_and_unpatchify_layout);
    return vs_test_finish();
}
