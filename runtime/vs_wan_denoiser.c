#include "runtime/vs_wan_denoiser.h"

#include <string.h>

#include "runtime/vs_check.h"

void vs_wan_denoiser_init(vs_wan_denoiser *d, const wan_model *model, const vs_tensor *cond,
                          const vs_tensor *uncond, vs_attention_policy *policy) {
    memset(d, 0, sizeof *d);
    d->model = model;
    d->context[VS_BRANCH_COND] = cond;
    d->context[VS_BRANCH_UNCOND] = uncond;
    vs_attention_single_init(&d->attention, policy);
    wan_cond_cache_init(&d->conds, model);
}

void vs_wan_denoiser_free(vs_wan_denoiser *d) {
    vs_attention_single_free(&d->attention);
    wan_cond_cache_free(&d->conds);
    if (d->rows.data) vs_tensor_free(&d->rows);
    memset(d, 0, sizeof *d);
}

static int wan_velocity(void *ctx, int branch, int64_t t, const vs_tensor *x, vs_tensor *v) {
    vs_wan_denoiser *d = ctx;
    const vs_wan_config *cfg = &d->model->cfg;
    const vs_tensor *context = d->context[branch];
    if (!context) return VS_FAIL("no context for CFG branch %d", branch);
    VS_ASSERT(x->ndim == 4, "the latent must be [C, T, H, W]");
    const int64_t tokens = x->shape[1] * (x->shape[2] / 2) * (x->shape[3] / 2);
    const int64_t row_shape[2] = {tokens, (int64_t)cfg->out_dim * 4};
    if (!d->rows.data || d->rows.shape[0] != tokens) {
        if (d->rows.data) vs_tensor_free(&d->rows);
        d->rows = vs_tensor_new(VS_F32, d->model->device, 2, row_shape);
    }
    const wan_cond *cond;
    const wan_text *text;
    if (wan_cond_cache_get(&d->conds, branch, context, t, &cond, &text) != 0) return -1;
    d->attention.branch = branch;
    vs_attention_hook hook = vs_attention_single_hook(&d->attention);
    int rc = wan_forward(d->model, cond, text, x, 0, tokens, &hook, &d->rows, NULL);
    if (rc == 0) wan_unpatchify(&d->rows, v);
    return rc;
}

vs_denoiser vs_wan_denoiser_as_denoiser(vs_wan_denoiser *d) {
    vs_denoiser den = {d, wan_velocity};
    return den;
}
