// `mpirun -np N vidsparse bench step ... --ulysses U [--cfg-parallel]`: one denoising step on N
// ranks in the layout `vidsparse generate` runs, to measure strong scaling and the share of the
// step spent in collectives.
//
// Each rank runs its part of the step through the multi-rank denoiser of generate
// (launch/generate_dist.h): per branch, the forward on its token shard with the packed Ulysses
// all-to-alls around self-attention (its heads through its own attention policy), the
// all-gather of the velocity rows and unpatchify; with --cfg-parallel each group runs one branch
// and the pair swaps velocities. x and v stay on the model's device (no host copies), as in the
// one-process bench. The timestep alternates between T and T + 1, so the timestep part (wan_cond)
// is built in every step as the one-process bench does; the text parts are built before timing.
//
// Figures (printed with their formulas):
//   step  : per timed step, the slowest rank's time from a common start (an all-reduce as
//           barrier, devices idle) to the end of its part (device synchronised; host clock);
//           median, min and mean over --reps;
//   comm  : per rank, the time inside the denoiser's collectives during the timed steps, from
//           the transports' own clocks (vs_transport.seconds: issue, or for NCCL the moment the
//           inputs are ready, to completion; mpi-staged: the MPI part), divided by --reps;
//           max and mean over ranks;
//   share : comm max / step mean (each rank's collectives lie inside its step, so <= 1);
//   breakdown: rank 0's ops in one more step (CUDA only, as the one-process bench), with its
//           collective time in that step beside it.
// A last line, "result: key=value ...", repeats the figures for scripts (scripts/device-bench-scaling.sh).
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "launch/bench_step.h"
#include "launch/generate_dist.h"
#include "parallel/vs_dist.h"
#include "parallel/vs_groups.h"
#include "runtime/vs_check.h"

typedef struct {
    step_inputs *in;
    vs_dist_denoiser dd;
    vs_denoiser den;
    int timestep, base;  // this step's timestep; base = --timestep
} dist_ctx;

static void dist_step(void *arg) {
    dist_ctx *s = arg;
    s->timestep = s->timestep == s->base ? s->base + 1 : s->base;
    for (int b = 0; b < VS_BRANCHES; b++)
        VS_TRY(s->den.velocity(s->den.ctx, b, s->timestep, &s->in->latent, &s->in->vel[b]),
               "the step failed on this rank (message above)");
}

static double dist_comm(void *arg, long *calls) {
    return vs_dist_denoiser_comm_seconds(&((dist_ctx *)arg)->dd, calls);
}

static void print_formulas(int world) {
    printf("figures (every rank runs its part of each step; rank 0 prints):\n"
           "  step      = per timed step, max over the %d ranks of (end of its part of the step, device\n"
           "              synchronised - common start after a barrier), host clock; median, min, mean over --reps\n"
           "  comm      = per rank, sum over the timed steps of the time inside collectives (Ulysses all-to-alls,\n"
           "              velocity all-gather, CFG swap; the transport's clock) / reps; max and mean over ranks\n"
           "  share     = comm max / step mean\n"
           "  breakdown = rank 0, one more step with CUDA events around every op, summed per op class\n"
           "              (packing and collectives are not ops; rank 0's collective time in that step follows)\n",
           world);
}

static void print_result(const char *name, const step_result *r, const vs_groups *g,
                         const step_args *a, int64_t tokens) {
    printf("%-6s step: median %.1f ms, min %.1f ms, mean %.1f ms (slowest of %d ranks)", name,
           r->median_ms, r->min_ms, r->mean_ms, g->world_size);
    if (r->density >= 0) printf(", SVG2 mean density %.3f", r->density);
    printf("\n  comm per step: max %.1f ms, mean %.1f ms over ranks; share %.1f%% of the mean step; "
           "%.0f collectives per step on rank 0 (%s)\n",
           r->comm_max_ms, r->comm_mean_ms, 100.0 * r->comm_share, r->collectives, g->ulysses->name);
    step_print_breakdown(r, " of rank 0");
    if (r->profiled) printf("    %-18s %9.1f ms  (host clock, outside the sum)\n", "collectives", r->prof_comm_ms);
    printf("result: attention=%s device=%s ranks=%d ulysses=%d cfg=%d transport=%s tokens=%lld "
           "step_median_ms=%.3f step_min_ms=%.3f step_mean_ms=%.3f comm_max_ms=%.3f comm_mean_ms=%.3f "
           "comm_share=%.4f density=%.4f\n",
           name, a->device == VS_DEV_CUDA ? "cuda" : "cpu", g->world_size, g->ulysses_degree,
           g->cfg_degree, g->ulysses->name, (long long)tokens, r->median_ms, r->min_ms, r->mean_ms,
           r->comm_max_ms, r->comm_mean_ms, r->comm_share, r->density);
    fflush(stdout);
}

static void bench_mode(step_inputs *in, vs_groups *g, const step_args *a, vs_attention_mode mode,
                       int world) {
    const vs_wan_config *cfg = &in->cfg;
    const int svg2 = mode == VS_ATTENTION_SVG2;
    vs_attention_policy master;  // all heads: the step index in, the density report out
    vs_attention_policy_init(&master, mode, &in->preset, cfg->num_layers, cfg->num_heads, 0,
                             cfg->dim / cfg->num_heads, 50);
    // The step index sits past the dense warm-up: only the preset's dense layers stay dense.
    vs_attention_policy_set_step(&master, master.steps - 1);
    const int64_t lshape[4] = {cfg->out_dim, in->T, in->H, in->W};
    dist_ctx s;
    memset(&s, 0, sizeof s);
    s.in = in;
    s.base = s.timestep = a->timestep;
    vs_dist_denoiser_init(&s.dd, &in->model, &in->context[VS_BRANCH_COND],
                          &in->context[VS_BRANCH_UNCOND], g, &master, lshape);
    s.den = vs_dist_denoiser_as_denoiser(&s.dd);
    // The text parts of this rank's branches, before timing.
    for (int b = 0; b < VS_BRANCHES; b++) {
        const wan_cond *c;
        const wan_text *t;
        if (!g->cfg || b == g->cfg_branch)
            VS_TRY(wan_cond_cache_get(&s.dd.conds, b, &in->context[b], a->timestep, &c, &t), "text");
    }
    step_runner runner = {dist_step, &s, in->model.device, dist_comm, world};
    step_result r;
    memset(&r, 0, sizeof r);
    step_time(&runner, a, a->warmup + (svg2 ? a->svg2_warm_steps : 0), svg2 ? "svg2" : "dense", &r);
    vs_dist_denoiser_collect_density(&s.dd);
    r.density = step_mean_density(&master);
    if (svg2 && vs_rank() == 0) {
        const vs_svg2_params *sp = &in->preset.params;
        printf("SVG2 preset: C_q %d, C_k %d, top-p %.2f, min_kc_ratio %.2f, k-means %d cold / %d warm "
               "iterations, dense layers %d\n",
               sp->C_q, sp->C_k, sp->top_p, sp->min_kc_ratio, sp->iters_cold, sp->iters_warm,
               in->preset.dense_layers);
    }
    if (vs_rank() == 0) print_result(svg2 ? "svg2" : "dense", &r, g, a, in->tokens);
    vs_dist_denoiser_free(&s.dd);
    vs_attention_policy_free(&master);
}

// Checks before any work: every rank sees the same arguments and reaches the same verdict on the
// layout (rank 0 says why); a rank that fails alone (a file missing on its node) says so itself,
// and step_bench_dist ends the job.
static int run(const step_args *a, vs_dist *dist) {
    const int speak = dist->rank == 0;
    step_inputs in;
    if (step_plan(a, &in, speak) != 0) return 2;
    const vs_wan_config *cfg = &in.cfg;
    const int cfg_degree = a->cfg_parallel ? 2 : 1;
    if (vs_layout_check(dist->world, a->ulysses, cfg_degree, cfg->num_heads) != 0) {
        if (speak) fprintf(stderr, "vidsparse bench step: %s\n", vs_last_error());
        return 2;
    }
    if (in.tokens < a->ulysses) {
        if (speak)
            fprintf(stderr, "vidsparse bench step: --ulysses %d exceeds the %lld tokens of a %dx%d, "
                            "%d-frame video: every rank needs at least one token; use a smaller --ulysses\n",
                    a->ulysses, (long long)in.tokens, a->width, a->height, a->frames);
        return 2;
    }
    const char *device_name = "CPU";
#ifdef VS_HAVE_CUDA
    if (a->device == VS_DEV_CUDA) {
        if (vs_cuda_device_count() == 0) {
            if (speak) fprintf(stderr, "vidsparse bench step: no CUDA GPU is visible (nvidia-smi; CUDA_VISIBLE_DEVICES)\n");
            return 2;
        }
        if (vs_ops_cuda_init(vs_dist_bind_device(dist, 0)) != 0) {
            fprintf(stderr, "vidsparse bench step: %s\n", vs_last_error());
            return 2;
        }
        device_name = vs_cuda_device_name();
    }
#endif
    if (speak) {
        char date[32];
        time_t now = time(NULL);
        strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
        printf("bench step: %d ranks, %s, %s\n", dist->world, device_name, date);
        printf("model %s (dim %d, %d layers, %d heads), %dx%d, %d frames -> latent [%d, %lld, %lld, "
               "%lld], %lld tokens, text %d rows; CFG: 2 forwards per step\n",
               a->tiny ? "tiny" : a->config, cfg->dim, cfg->num_layers, cfg->num_heads, a->width,
               a->height, a->frames, cfg->in_dim, (long long)in.T, (long long)in.H, (long long)in.W,
               (long long)in.tokens, cfg->text_len);
        fflush(stdout);
    }
    if (step_inputs_make(a, &in) != 0) return 2;
    // The transport follows the model, as in generate: host memory -> MPI; GPU memory -> NCCL,
    // or MPI staged through host buffers when ranks share a GPU (collective).
    vs_transport_kind kind = in.model.device == VS_DEV_CUDA ? vs_transport_kind_for_cuda(dist)
                                                            : VS_TRANSPORT_MPI;
    vs_groups groups;
    vs_groups_init(&groups, dist, a->ulysses, cfg_degree, cfg->num_heads, kind);
    if (speak) {
        const vs_range tok = vs_split_range(in.tokens, a->ulysses, 0);
        const vs_range heads = vs_split_range(cfg->num_heads, a->ulysses, 0);
        printf("layout: %d ranks = %d CFG group%s x Ulysses %d over %s; rank 0 holds tokens [0, %lld) "
               "of %lld and heads [0, %lld) of %d\n",
               dist->world, cfg_degree, cfg_degree > 1 ? "s" : "", a->ulysses, groups.ulysses->name,
               (long long)tok.count, (long long)in.tokens, (long long)heads.count, cfg->num_heads);
    }
#ifdef VS_HAVE_CUDA
    if (a->device == VS_DEV_CUDA) {
        double gb = vs_dist_max(vs_cuda_memory_used() / 1e9);
        if (speak) printf("weights on the GPU: %.2f GB in use after loading (the fullest GPU)\n", gb);
    }
#endif
    if (speak) print_formulas(dist->world);
    if (a->dense) bench_mode(&in, &groups, a, VS_ATTENTION_DENSE, dist->world);
    if (a->svg2) bench_mode(&in, &groups, a, VS_ATTENTION_SVG2, dist->world);
#ifdef VS_HAVE_CUDA
    if (a->device == VS_DEV_CUDA) {
        double gb = vs_dist_max(vs_cuda_memory_used() / 1e9);
        if (speak) printf("GPU memory in use at the end (allocator cache included): %.2f GB on the fullest GPU\n", gb);
    }
#endif
    vs_groups_free(&groups);
    step_inputs_free(&in);
#ifdef VS_HAVE_CUDA
    if (a->device == VS_DEV_CUDA) vs_ops_cuda_shutdown();
#endif
    return 0;
}

int step_bench_dist(const step_args *a) {
    vs_dist dist;
    vs_dist_init(&dist);
    int rc = run(a, &dist);
    // A rank that fails may leave others waiting in a collective: unless all failed, end them all.
    if (rc != 0) vs_dist_fail(rc);
    vs_dist_finalize(&dist);
    return rc;
}
