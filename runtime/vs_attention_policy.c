#include "runtime/vs_attention_policy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_attention_policy_cuda.h"
#include "runtime/vs_check.h"

int vs_attention_mode_parse(const char *name, vs_attention_mode *mode) {
    if (!strcmp(name, "dense")) *mode = VS_ATTENTION_DENSE;
    else if (!strcmp(name, "svg2")) *mode = VS_ATTENTION_SVG2;
    else return VS_FAIL("unknown attention '%s' (choose dense or svg2)", name);
    return 0;
}

vs_svg2_preset vs_svg2_tiny_preset(void) {
    vs_svg2_preset p;
    p.params = vs_svg2_default_params();
    p.params.C_q = 8;
    p.params.C_k = 16;
    p.dense_step_fraction = 0.25f;
    p.dense_layers = 1;
    return p;
}

int vs_dense_step_count(float fraction, int steps) {
    // The official scripts compute int(fraction * steps) in double from the decimal the user
    // wrote; the preset holds that decimal as an f32 (0.7f = 0.69999999), so go back to it first.
    char text[32];
    snprintf(text, sizeof text, "%.7g", (double)fraction);
    int n = (int)floor(strtod(text, NULL) * steps);
    return n < 0 ? 0 : n > steps ? steps : n;
}

void vs_attention_policy_init(vs_attention_policy *p, vs_attention_mode mode,
                              const vs_svg2_preset *preset, int num_layers, int heads, int head0,
                              int head_dim, int steps) {
    VS_ASSERT(num_layers >= 1 && heads >= 1 && head0 >= 0 && head_dim >= 1 && steps >= 1,
              "the attention policy needs layers, heads, head_dim and steps >= 1, head0 >= 0");
    memset(p, 0, sizeof *p);
    p->mode = mode;
    p->preset = *preset;
    p->num_layers = num_layers;
    p->heads = heads;
    p->head0 = head0;
    p->head_dim = head_dim;
    p->steps = steps;
    p->dense_steps = vs_dense_step_count(preset->dense_step_fraction, steps);
    p->caches = vs_calloc((size_t)num_layers * VS_BRANCHES, sizeof(vs_svg2_cache_cpu));
    p->density_sum = vs_calloc((size_t)num_layers, sizeof(double));
    p->density_calls = vs_calloc((size_t)num_layers, sizeof(int64_t));
    p->head_density = vs_calloc((size_t)heads, sizeof(double));
}

void vs_attention_policy_free(vs_attention_policy *p) {
    if (p->cuda) vs_attention_policy_free_cuda(p);
    if (p->caches)
        for (int i = 0; i < p->num_layers * VS_BRANCHES; i++)
            if (p->caches[i].q_centroids) vs_svg2_cache_free_cpu(&p->caches[i]);
    free(p->caches);
    free(p->density_sum);
    free(p->density_calls);
    free(p->head_density);
    memset(p, 0, sizeof *p);
}

void vs_attention_policy_set_step(vs_attention_policy *p, int step) { p->step = step; }

int vs_attention_policy_is_dense(const vs_attention_policy *p, int layer) {
    return p->mode == VS_ATTENTION_DENSE || p->step < p->dense_steps ||
           layer < p->preset.dense_layers;
}

static void check_heads_tensor(const vs_attention_policy *p, const vs_tensor *t, int64_t S) {
    VS_ASSERT(t->ndim == 3 && t->shape[0] == p->heads && t->shape[1] == S &&
                  t->shape[2] == p->head_dim,
              "attention policy tensors must be [heads, S, head_dim] as the policy was set up");
}

void vs_attention_policy_run(vs_attention_policy *p, int layer, int branch, const vs_tensor *q,
                             const vs_tensor *k, const vs_tensor *v, vs_tensor *out) {
    VS_ASSERT(layer >= 0 && layer < p->num_layers, "layer index out of range");
    VS_ASSERT(branch == VS_BRANCH_COND || branch == VS_BRANCH_UNCOND, "branch must be cond or uncond");
    const int64_t S = q->shape[1];
    check_heads_tensor(p, q, S);
    check_heads_tensor(p, k, S);
    check_heads_tensor(p, v, S);
    check_heads_tensor(p, out, S);
    VS_ASSERT(S <= INT32_MAX, "sequence too long for 32-bit token indices");
    // The one place that chooses a device.
    if (q->device == VS_DEV_CUDA) {
        vs_attention_policy_run_cuda(p, layer, branch, q, k, v, out);
        return;
    }
    VS_ASSERT(q->device == VS_DEV_CPU && k->device == VS_DEV_CPU && v->device == VS_DEV_CPU &&
                  out->device == VS_DEV_CPU && q->dtype == VS_F32 && out->dtype == VS_F32,
              "the attention policy runs f32 CPU tensors or bf16 GPU tensors");
    const int H = p->heads, D = p->head_dim, n = (int)S;
    if (vs_attention_policy_is_dense(p, layer)) {
        vs_dense_attention_cpu(q->data, k->data, v->data, H, n, D, out->data);
        return;
    }
    vs_svg2_params params = p->preset.params;
    if (params.C_q > n) params.C_q = n;
    if (params.C_k > n) params.C_k = n;
    vs_svg2_cache_cpu *cache = &p->caches[layer * VS_BRANCHES + branch];
    if (!cache->q_centroids) vs_svg2_cache_init_cpu(cache, H, params.C_q, params.C_k, D);
    vs_svg2_attention_cpu(&params, cache, q->data, k->data, v->data, H, n, D, p->head0, out->data,
                          p->head_density);
    double mean = 0;
    for (int h = 0; h < H; h++) mean += p->head_density[h];
    p->density_sum[layer] += mean / H;
    p->density_calls[layer]++;
}

double vs_attention_policy_mean_density(const vs_attention_policy *p, int layer) {
    if (p->cuda) return vs_attention_policy_cuda_mean_density(p, layer);
    if (p->density_calls[layer] == 0) return -1.0;
    return p->density_sum[layer] / (double)p->density_calls[layer];
}
