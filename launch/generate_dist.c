#include "launch/generate_dist.h"

#include <stdlib.h>
#include <string.h>

#include "parallel/vs_dist.h"
#include "runtime/vs_check.h"

// A head's own k-means seed: the run's seed mixed with the global head index, so the draw is the
// same whichever rank runs the head and whichever heads run beside it.
static uint64_t head_seed(uint64_t seed, int head) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (uint64_t)(head + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// vs_head_attention_fn: heads [n_heads, S, D] of this rank, one policy call per head.
static void attend_heads(void *ctx, int layer, int head_begin, const vs_tensor *q,
                         const vs_tensor *k, const vs_tensor *v, vs_tensor *out) {
    vs_dist_denoiser *d = ctx;
    VS_ASSERT(head_begin == d->head0 && q->shape[0] == d->n_heads, "Ulysses head placement changed mid-run");
    const int64_t S = q->shape[1], D = q->shape[2], shape[3] = {1, S, D};
    const size_t head_bytes = (size_t)(S * D) * vs_dtype_size(q->dtype);
    for (int h = 0; h < d->n_heads; h++) {
        vs_tensor qh = vs_tensor_view((char *)q->data + h * head_bytes, q->dtype, q->device, 3, shape);
        vs_tensor kh = vs_tensor_view((char *)k->data + h * head_bytes, k->dtype, k->device, 3, shape);
        vs_tensor vh = vs_tensor_view((char *)v->data + h * head_bytes, v->dtype, v->device, 3, shape);
        vs_tensor oh = vs_tensor_view((char *)out->data + h * head_bytes, out->dtype, out->device, 3, shape);
        vs_attention_policy_set_step(&d->heads[h], d->master->step);
        vs_attention_policy_run(&d->heads[h], layer, d->branch, &qh, &kh, &vh, &oh);
    }
}

void vs_dist_denoiser_init(vs_dist_denoiser *d, const wan_model *model, const vs_tensor *cond,
                           const vs_tensor *uncond, vs_groups *groups,
                           vs_attention_policy *master, const int64_t latent_shape[4]) {
    memset(d, 0, sizeof *d);
    const vs_wan_config *cfg = &model->cfg;
    d->model = model;
    d->context[VS_BRANCH_COND] = cond;
    d->context[VS_BRANCH_UNCOND] = uncond;
    d->groups = groups;
    d->master = master;
    const int64_t tokens = latent_shape[1] * (latent_shape[2] / 2) * (latent_shape[3] / 2);
    const int head_dim = cfg->dim / cfg->num_heads;
    d->ulysses = vs_ulysses_new(groups->ulysses, tokens, cfg->num_heads, head_dim, VS_F32);
    vs_range heads = vs_ulysses_my_heads(d->ulysses), tok = vs_ulysses_my_tokens(d->ulysses);
    d->n_heads = (int)heads.count;
    d->head0 = (int)heads.start;
    d->heads = vs_calloc((size_t)d->n_heads, sizeof(vs_attention_policy));
    for (int h = 0; h < d->n_heads; h++) {
        vs_attention_policy_init(&d->heads[h], master->mode, &master->preset, cfg->num_layers, 1,
                                 head_dim, master->steps);
        d->heads[h].preset.params.seed = head_seed(master->preset.params.seed, d->head0 + h);
    }
    d->hook_ctx.u = d->ulysses;
    d->hook_ctx.attend = attend_heads;
    d->hook_ctx.attend_ctx = d;
    const int64_t row = (int64_t)cfg->out_dim * 4;
    d->rows_local = vs_tensor_new(VS_F32, model->device, 2, (int64_t[]){tok.count, row});
    d->rows_full = vs_tensor_new(VS_F32, model->device, 2, (int64_t[]){tokens, row});
    if (groups->cfg) {
        const int64_t n = vs_shape_numel(4, latent_shape);
        d->mine = vs_tensor_new(VS_F32, VS_DEV_CPU, 1, &n);
        d->both = vs_tensor_new(VS_F32, VS_DEV_CPU, 1, (int64_t[]){2 * n});
    }
}

void vs_dist_denoiser_free(vs_dist_denoiser *d) {
    for (int h = 0; h < d->n_heads; h++) vs_attention_policy_free(&d->heads[h]);
    free(d->heads);
    vs_ulysses_free(d->ulysses);
    vs_tensor_free(&d->rows_local);
    vs_tensor_free(&d->rows_full);
    if (d->mine.data) vs_tensor_free(&d->mine);
    if (d->both.data) vs_tensor_free(&d->both);
    memset(d, 0, sizeof *d);
}

// This rank's share of one forward pass of `branch`, gathered: v [C, T, H, W] on every rank of
// the Ulysses group.
static int forward_gathered(vs_dist_denoiser *d, int branch, int64_t t, const vs_tensor *x, vs_tensor *v) {
    const vs_tensor *context = d->context[branch];
    if (!context) return VS_FAIL("no context for CFG branch %d", branch);
    wan_cond cond;
    if (wan_cond_init(&cond, d->model, t, context) != 0) return -1;
    d->branch = branch;
    vs_attention_hook hook = vs_ulysses_attention_hook(&d->hook_ctx);
    vs_range tok = vs_ulysses_my_tokens(d->ulysses);
    int rc = wan_forward(d->model, &cond, x, tok.start, tok.count, &hook, &d->rows_local, NULL);
    wan_cond_free(&cond);
    if (rc != 0) return rc;
    vs_ulysses_gather_tokens(d->ulysses, d->rows_local.data, (size_t)d->rows_local.shape[1] * sizeof(float),
                             d->rows_full.data);
    wan_unpatchify(&d->rows_full, v);
    return 0;
}

static int dist_velocity(void *ctx, int branch, int64_t t, const vs_tensor *x, vs_tensor *v) {
    vs_dist_denoiser *d = ctx;
    // Any failure here is fatal (vs_die -> MPI_Abort): the other ranks wait in collectives.
    if (!d->groups->cfg) {
        VS_TRY(forward_gathered(d, branch, t, x, v), "the forward pass failed on this rank (message above)");
        return 0;
    }
    // CFG parallel: the pipeline asks for cond, then uncond, at the same (x, t). The cond call
    // runs this rank's branch and swaps with the partner; the uncond call reads the swap.
    const int64_t n = vs_tensor_numel(v);
    if (branch == VS_BRANCH_COND) {
        vs_tensor mine = vs_tensor_view(d->mine.data, VS_F32, VS_DEV_CPU, 4, v->shape);
        VS_TRY(forward_gathered(d, d->groups->cfg_branch, t, x, &mine),
               "the forward pass failed on this rank (message above)");
        vs_cfg_exchange(d->groups->cfg, d->mine.data, n, d->both.data);
    }
    memcpy(v->data, (float *)d->both.data + (branch == VS_BRANCH_COND ? 0 : n), (size_t)n * sizeof(float));
    return 0;
}

vs_denoiser vs_dist_denoiser_as_denoiser(vs_dist_denoiser *d) {
    vs_denoiser den = {d, dist_velocity};
    return den;
}

void vs_dist_denoiser_collect_density(vs_dist_denoiser *d) {
    vs_attention_policy *m = d->master;
    for (int l = 0; l < m->num_layers; l++) {
        double sum = 0, count = 0;
        for (int h = 0; h < d->n_heads; h++) {
            double dh = vs_attention_policy_mean_density(&d->heads[h], l);
            if (dh >= 0) sum += dh, count += 1;
        }
        sum = vs_dist_sum(sum);
        count = vs_dist_sum(count);
        m->density_sum[l] = count > 0 ? sum / count : 0;
        m->density_calls[l] = count > 0 ? 1 : 0;
    }
}
