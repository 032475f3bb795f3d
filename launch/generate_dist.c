#include "launch/generate_dist.h"

#include <string.h>

#include "parallel/vs_dist.h"
#include "runtime/vs_check.h"
#include "runtime/vs_log.h"

// vs_head_attention_fn: this rank's heads [n_heads, S, D] through its policy.
static void attend_heads(void *ctx, int layer, int head_begin, const vs_tensor *q,
                         const vs_tensor *k, const vs_tensor *v, vs_tensor *out) {
    vs_dist_denoiser *d = ctx;
    VS_ASSERT(head_begin == d->head0 && q->shape[0] == d->n_heads, "Ulysses head placement changed mid-run");
    vs_attention_policy_set_step(&d->heads, d->master->step);
    vs_attention_policy_run(&d->heads, layer, d->branch, q, k, v, out);
}

// The dtype of the Q/K/V wan_forward hands its attention hook: its activation dtype, f32 on the
// CPU and bf16 on CUDA (runtime/wan_model.h, precision plan). The exchange moves exactly those.
static vs_dtype qkv_dtype(const wan_model *m) { return m->device == VS_DEV_CUDA ? VS_BF16 : VS_F32; }

void vs_dist_denoiser_init(vs_dist_denoiser *d, const wan_model *model, const vs_tensor *cond,
                           const vs_tensor *uncond, vs_groups *groups,
                           vs_attention_policy *master, const int64_t latent_shape[4]) {
    memset(d, 0, sizeof *d);
    const vs_wan_config *cfg = &model->cfg;
    d->model = model;
    d->context[VS_BRANCH_COND] = cond;
    d->context[VS_BRANCH_UNCOND] = uncond;
    wan_cond_cache_init(&d->conds, model);
    d->groups = groups;
    d->master = master;
    VS_ASSERT(groups->ulysses->memory == model->device,
              "the transport must move memory where the model lives (CPU model: mpi; GPU model: "
              "nccl or mpi-staged; see vs_transport_kind_for_cuda)");
    const int64_t tokens = latent_shape[1] * (latent_shape[2] / 2) * (latent_shape[3] / 2);
    const int head_dim = cfg->dim / cfg->num_heads;
    d->ulysses = vs_ulysses_new(groups->ulysses, tokens, cfg->num_heads, head_dim, qkv_dtype(model));
    vs_range heads = vs_ulysses_my_heads(d->ulysses), tok = vs_ulysses_my_tokens(d->ulysses);
    d->n_heads = (int)heads.count;
    d->head0 = (int)heads.start;
    vs_attention_policy_init(&d->heads, master->mode, &master->preset, cfg->num_layers, d->n_heads,
                             d->head0, head_dim, master->steps);
    d->hook_ctx.u = d->ulysses;
    d->hook_ctx.attend = attend_heads;
    d->hook_ctx.attend_ctx = d;
    const int64_t row = (int64_t)cfg->out_dim * 4;
    d->rows_local = vs_tensor_new(VS_F32, model->device, 2, (int64_t[]){tok.count, row});
    d->rows_full = vs_tensor_new(VS_F32, model->device, 2, (int64_t[]){tokens, row});
    if (groups->cfg) {
        const int64_t n = vs_shape_numel(4, latent_shape);
        d->mine = vs_tensor_new(VS_F32, groups->cfg->memory, 1, &n);
        d->both = vs_tensor_new(VS_F32, groups->cfg->memory, 1, (int64_t[]){2 * n});
    }
}

void vs_dist_denoiser_free(vs_dist_denoiser *d) {
    vs_attention_policy_free(&d->heads);
    wan_cond_cache_free(&d->conds);
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
    const wan_cond *cond;
    const wan_text *text;
    if (wan_cond_cache_get(&d->conds, branch, context, t, &cond, &text) != 0) return -1;
    d->branch = branch;
    vs_attention_hook hook = vs_ulysses_attention_hook(&d->hook_ctx);
    vs_range tok = vs_ulysses_my_tokens(d->ulysses);
    int rc = wan_forward(d->model, cond, text, x, tok.start, tok.count, &hook, &d->rows_local, NULL);
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
        vs_tensor mine = vs_tensor_view(d->mine.data, VS_F32, d->mine.device, 4, v->shape);
        VS_TRY(forward_gathered(d, d->groups->cfg_branch, t, x, &mine),
               "the forward pass failed on this rank (message above)");
        vs_cfg_exchange(d->groups->cfg, d->mine.data, n, d->both.data);
    }
    vs_tensor half = vs_tensor_view((float *)d->both.data + (branch == VS_BRANCH_COND ? 0 : n),
                                    VS_F32, d->both.device, 4, v->shape);
    vs_tensor_copy(v, &half);
    return 0;
}

vs_denoiser vs_dist_denoiser_as_denoiser(vs_dist_denoiser *d) {
    vs_denoiser den = {d, dist_velocity};
    return den;
}

void vs_dist_denoiser_collect_density(vs_dist_denoiser *d) {
    vs_attention_policy *m = d->master;
    // Mean over heads: each rank's mean weighted by its head count (all ranks make the same calls).
    for (int l = 0; l < m->num_layers; l++) {
        double dl = vs_attention_policy_mean_density(&d->heads, l), sum = 0, count = 0;
        if (dl >= 0) sum = dl * d->n_heads, count = d->n_heads;
        sum = vs_dist_sum(sum);
        count = vs_dist_sum(count);
        m->density_sum[l] = count > 0 ? sum / count : 0;
        m->density_calls[l] = count > 0 ? 1 : 0;
    }
}

double vs_dist_denoiser_comm_seconds(const vs_dist_denoiser *d, long *calls) {
    const vs_groups *g = d->groups;
    if (calls) *calls = g->ulysses->calls + (g->cfg ? g->cfg->calls : 0);
    return g->ulysses->seconds + (g->cfg ? g->cfg->seconds : 0);
}

void vs_dist_denoiser_report_comm(const vs_dist_denoiser *d, double stage_s) {
    const vs_groups *g = d->groups;
    long calls;
    double mine = vs_dist_denoiser_comm_seconds(d, &calls);
    double most = vs_dist_max(mine), mean = vs_dist_sum(mine) / g->world_size;
    VS_INFO("communication: %.3f s max over %d ranks (%.1f%% of denoise), %.3f s mean; %ld "
            "collectives per rank (%s transport)", most, g->world_size,
            stage_s > 0 ? 100.0 * most / stage_s : 0.0, mean, calls, g->ulysses->name);
}
