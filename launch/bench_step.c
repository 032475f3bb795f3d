// `vidsparse bench step`: the time of one denoising step of Wan 2.1, dense and SVG2, on one GPU
// (or the CPU, for small configs), or on MPI ranks in a Ulysses (x CFG) layout
// (launch/bench_step_dist.c).
//
// One step = what the sampler asks of the model at one timestep with classifier-free guidance:
// the timestep's cond (time embedding, modulations), then for each branch (prompt, negative
// prompt) one forward over the whole latent and unpatchify. Each prompt's text part (text
// embedding, every block's cross-attention K/V) is built once before timing, as a run builds it
// once (runtime/wan_model.h). The CFG combination and the scheduler update (a few pointwise
// passes over a 6 MB latent) are left out, as they are in tools/bench_diffusers_step.py.
//
// Figures of a one-process run (GPU time from CUDA events on the ops stream; host clock on the CPU):
//   step ms    : median over --reps timed steps after --warmup untimed ones, no instrumentation;
//   min ms     : the fastest of those;
//   breakdown  : one more step with a CUDA event pair around every op, summed per op class
//                (GEMM, attention, SVG2 k-means / selection / permutation, norms, other); the
//                events add host work per op, so their sum may exceed the step time slightly;
//                GPU only;
//   density    : SVG2's mean computed fraction of the S x S score matrix over the sparse layers.
// SVG2 is timed in its steady state: --svg2-warm-steps steps first (the first one runs cold
// k-means and fills the centroid caches), then every timed step starts k-means warm. The first
// --dense-layers blocks stay dense as the preset says (the step index is past the dense warm-up).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "launch/args.h"
#include "launch/bench.h"
#include "launch/bench_step.h"
#include "parallel/vs_dist.h"
#include "runtime/vs_attention_single.h"
#include "runtime/vs_check.h"
#include "runtime/vs_log.h"
#include "runtime/vs_rng.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: vidsparse bench step --config F (--random-weights | --model DIR) [options]\n"
            "       vidsparse bench step --model tiny --device cpu [options]\n"
            "       mpirun -np N vidsparse bench step ... --ulysses U [--cfg-parallel]\n"
            "  --model tiny          the built-in tiny model (random weights, no --config; CI, CPU)\n"
            "  --tiny-heads N        tiny model only: split its width 128 into N heads (default 2)\n"
            "  --size WxH            video size in pixels, multiples of 16 (832x480; tiny: 128x128)\n"
            "  --frames N            video frames, 4k+1 (81; tiny: 9)\n"
            "  --attention A         dense, svg2 or both (both)\n"
            "  --svg2-preset F       SVG2 preset JSON (configs/svg2-*.json; default: C_q 300,\n"
            "                        C_k 1000, top-p 0.9, 50/2 k-means iterations, 1 dense layer;\n"
            "                        tiny: C_q 8, C_k 16)\n"
            "  --warmup N            untimed steps before timing (2)\n"
            "  --reps N              timed steps; the median is reported (5)\n"
            "  --svg2-warm-steps N   SVG2 steps run before timing, to warm the centroid cache (3)\n"
            "  --timestep T          scheduler timestep of the step (500)\n"
            "  --seed S              random weights / inputs (0)\n"
            "  --device D            cuda (GPU 0), N (GPU N) or cpu (default cuda); with --ulysses\n"
            "                        each rank takes the GPU of its index on its host\n"
            "  --ulysses N           multi-rank (mpirun/srun): tokens sharded over groups of N ranks,\n"
            "                        heads inside self-attention (docs/distributed.md); N <= heads\n"
            "  --cfg-parallel        multi-rank: the two CFG branches on two groups (ranks = 2N)\n");
}

static int parse_int(const char *flag, const char *v, int lo, int *out) {
    if (vs_arg_int(v, lo, 1000000000L, out) != 0) {
        fprintf(stderr, "vidsparse bench step: %s wants an integer >= %d, got '%s'\n", flag, lo, v);
        return -1;
    }
    return 0;
}

static int parse_device(const char *v, step_args *a) {
    if (!strcmp(v, "cpu")) a->device = VS_DEV_CPU, a->gpu = -1;
    else if (!strcmp(v, "cuda")) a->device = VS_DEV_CUDA, a->gpu = 0;
    else if (vs_arg_int(v, 0, 1024, &a->gpu) == 0) a->device = VS_DEV_CUDA;
    else {
        fprintf(stderr, "vidsparse bench step: --device is cuda, a GPU index or cpu, got '%s'\n", v);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, step_args *a) {
    memset(a, 0, sizeof *a);
    a->dense = a->svg2 = 1;
    a->warmup = 2, a->reps = 5, a->svg2_warm_steps = 3, a->timestep = 500;
    a->device = VS_DEV_CUDA;
    int device_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(f, "--random-weights")) {
            a->random_weights = 1;
            continue;
        }
        if (!strcmp(f, "--cfg-parallel")) {
            a->cfg_parallel = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "vidsparse bench step: %s needs a value (see --help)\n", f);
            return -1;
        }
        const char *v = argv[++i];
        int rc = 0;
        if (!strcmp(f, "--config")) a->config = v;
        else if (!strcmp(f, "--model")) a->model = v;
        else if (!strcmp(f, "--svg2-preset")) a->preset_path = v;
        else if (!strcmp(f, "--size")) {
            if (sscanf(v, "%dx%d", &a->width, &a->height) != 2 || a->width <= 0 || a->height <= 0) {
                fprintf(stderr, "vidsparse bench step: --size wants WxH such as 832x480, got '%s'\n", v);
                return -1;
            }
        } else if (!strcmp(f, "--frames")) rc = parse_int(f, v, 1, &a->frames);
        else if (!strcmp(f, "--attention")) {
            a->dense = !strcmp(v, "dense") || !strcmp(v, "both");
            a->svg2 = !strcmp(v, "svg2") || !strcmp(v, "both");
            if (!a->dense && !a->svg2) {
                fprintf(stderr, "vidsparse bench step: --attention is dense, svg2 or both, got '%s'\n", v);
                return -1;
            }
        } else if (!strcmp(f, "--warmup")) rc = parse_int(f, v, 0, &a->warmup);
        else if (!strcmp(f, "--reps")) rc = parse_int(f, v, 1, &a->reps);
        else if (!strcmp(f, "--svg2-warm-steps")) rc = parse_int(f, v, 1, &a->svg2_warm_steps);
        else if (!strcmp(f, "--timestep")) rc = parse_int(f, v, 0, &a->timestep);
        else if (!strcmp(f, "--device")) rc = parse_device(v, a), device_given = 1;
        else if (!strcmp(f, "--ulysses")) rc = parse_int(f, v, 1, &a->ulysses);
        else if (!strcmp(f, "--tiny-heads")) rc = parse_int(f, v, 1, &a->tiny_heads);
        else if (!strcmp(f, "--seed")) {
            int s;
            rc = parse_int(f, v, 0, &s);
            a->seed = (uint64_t)s;
        } else {
            fprintf(stderr, "vidsparse bench step: unknown option '%s' (see --help)\n", f);
            return -1;
        }
        if (rc) return -1;
    }
    a->tiny = a->model && !strcmp(a->model, "tiny");
    if (a->tiny) {
        if (a->config) {
            fprintf(stderr, "vidsparse bench step: --model tiny has its own config: drop --config\n");
            return -1;
        }
        a->random_weights = 1;
    } else {
        if (!a->config) {
            fprintf(stderr, "vidsparse bench step: --config is required (e.g. configs/wan2.1-t2v-1.3b.json)\n");
            return -1;
        }
        if (a->random_weights == (a->model != NULL)) {
            fprintf(stderr, "vidsparse bench step: give exactly one of --random-weights and --model DIR\n");
            return -1;
        }
        if (a->tiny_heads) {
            fprintf(stderr, "vidsparse bench step: --tiny-heads applies to --model tiny only\n");
            return -1;
        }
    }
    if (!a->width) {
        a->width = a->tiny ? 128 : 832;
        a->height = a->tiny ? 128 : 480;
    }
    if (!a->frames) a->frames = a->tiny ? 9 : 81;
    if (a->width % 16 || a->height % 16) {
        fprintf(stderr, "vidsparse bench step: --size %dx%d: width and height must be multiples "
                        "of 16 (8x VAE downsampling, then 2x2 patches)\n", a->width, a->height);
        return -1;
    }
    if ((a->frames - 1) % 4) {
        fprintf(stderr, "vidsparse bench step: --frames %d: Wan takes 4k+1 frames (81, 41, 17, ...)\n",
                a->frames);
        return -1;
    }
    if (a->cfg_parallel && !a->ulysses) a->ulysses = 1;
    if (a->ulysses && a->device == VS_DEV_CUDA && device_given && a->gpu != 0) {
        fprintf(stderr, "vidsparse bench step: with --ulysses each rank takes the GPU of its index "
                        "on its host; give --device cuda, not a GPU index\n");
        return -1;
    }
#ifndef VS_HAVE_CUDA
    if (a->device == VS_DEV_CUDA) {
        fprintf(stderr, "vidsparse bench step: this build has no CUDA (rebuild where nvcc is found); "
                        "small configs run with --device cpu (e.g. --model tiny)\n");
        return -1;
    }
#endif
    if (a->ulysses) a->gpu = -1;
    return 0;
}

// ---------------------------------------------------------------------------- shared set-up

int step_plan(const step_args *a, step_inputs *in, int speak) {
    memset(in, 0, sizeof *in);
    if (a->tiny) {
        in->cfg = wan_tiny_config();
        if (a->tiny_heads) in->cfg.num_heads = a->tiny_heads;
    } else if (vs_wan_config_load(&in->cfg, a->config) != 0) {
        fprintf(stderr, "vidsparse bench step: %s\n", vs_last_error());
        return 2;
    }
    if (wan_config_validate(&in->cfg) != 0) {
        fprintf(stderr, "vidsparse bench step: model config: %s\n", vs_last_error());
        return 2;
    }
    const int head_dim = in->cfg.dim / in->cfg.num_heads;
    if (a->device == VS_DEV_CUDA && head_dim != 64 && head_dim != 128) {
        if (speak)
            fprintf(stderr, "vidsparse bench step: the GPU attention kernels take head_dim 64 or 128, "
                            "this model has %d (%d heads of width %d); use --device cpu%s\n",
                    head_dim, in->cfg.num_heads, in->cfg.dim, a->tiny ? " or --tiny-heads 1 or 2" : "");
        return 2;
    }
    if (a->preset_path) {
        if (vs_svg2_preset_load(&in->preset, a->preset_path) != 0) {
            fprintf(stderr, "vidsparse bench step: %s\n", vs_last_error());
            return 2;
        }
    } else if (a->tiny) {
        in->preset = vs_svg2_tiny_preset();
    } else {
        in->preset.params = vs_svg2_default_params();
        in->preset.dense_step_fraction = 0.2f;
        in->preset.dense_layers = 1;
    }
    in->T = (a->frames - 1) / 4 + 1, in->H = a->height / 8, in->W = a->width / 8;
    in->tokens = in->T * (in->H / 2) * (in->W / 2);
    return 0;
}

int step_inputs_make(const step_args *a, step_inputs *in) {
    const vs_wan_config *cfg = &in->cfg;
    int rc = a->random_weights ? wan_model_random(&in->model, cfg, a->seed, a->device)
                               : wan_model_load(&in->model, cfg, a->model, a->device);
    if (rc != 0) {
        fprintf(stderr, "vidsparse bench step: %s\n", vs_last_error());
        return 2;
    }
    // Random latent and text embeddings (umT5 outputs are O(0.1-1); the values do not change
    // the work, except through SVG2's clustering, which sees real Q/K of the model).
    int64_t lat_shape[4] = {cfg->in_dim, in->T, in->H, in->W};
    vs_tensor lat_host = vs_tensor_new(VS_F32, VS_DEV_CPU, 4, lat_shape);
    for (int64_t i = 0; i < vs_tensor_numel(&lat_host); i++)
        ((float *)lat_host.data)[i] = vs_normal_at(a->seed + 101, (uint64_t)i);
    in->latent = vs_tensor_new(VS_F32, a->device, 4, lat_shape);
    vs_tensor_copy(&in->latent, &lat_host);
    vs_tensor_free(&lat_host);
    int64_t ctx_shape[2] = {cfg->text_len, cfg->text_dim};
    int64_t vel_shape[4] = {cfg->out_dim, in->T, in->H, in->W};
    for (int b = 0; b < VS_BRANCHES; b++) {
        in->context[b] = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, ctx_shape);
        for (int64_t i = 0; i < vs_tensor_numel(&in->context[b]); i++)
            ((float *)in->context[b].data)[i] = 0.2f * vs_normal_at(a->seed + 201 + (uint64_t)b, (uint64_t)i);
        in->vel[b] = vs_tensor_new(VS_F32, a->device, 4, vel_shape);
    }
    return 0;
}

void step_inputs_free(step_inputs *in) {
    for (int b = 0; b < VS_BRANCHES; b++) {
        vs_tensor_free(&in->context[b]);
        vs_tensor_free(&in->vel[b]);
    }
    vs_tensor_free(&in->latent);
    wan_model_free(&in->model);
}

// ---------------------------------------------------------------------------- timing

static void device_sync(vs_device d) {
#ifdef VS_HAVE_CUDA
    if (d == VS_DEV_CUDA) vs_cuda_sync();
#else
    (void)d;
#endif
}

// One step of a single process: CUDA events on the GPU, the host clock on the CPU.
static double one_process_ms(const step_runner *r) {
#ifdef VS_HAVE_CUDA
    if (r->device == VS_DEV_CUDA) return vs_cuda_time_ms(r->step, r->ctx);
#endif
    double t0 = vs_now_seconds();
    r->step(r->ctx);
    return 1e3 * (vs_now_seconds() - t0);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void step_time(const step_runner *r, const step_args *a, int untimed, const char *name,
               step_result *out) {
    const int speak = vs_rank() == 0;
    for (int i = 0; i < untimed; i++) r->step(r->ctx);
    device_sync(r->device);
    double *ms = vs_calloc((size_t)a->reps, sizeof *ms);
    double comm_s = 0, sum_ms = 0;
    long calls = 0;
    for (int i = 0; i < a->reps; i++) {
        if (!r->comm_seconds) {
            ms[i] = one_process_ms(r);
        } else {
            // Every rank starts the step together (an all-reduce as barrier, outside the clock)
            // with its device idle; a step lasts until this rank's device has finished it.
            device_sync(r->device);
            vs_dist_max(0);
            long c0, c1;
            double s0 = r->comm_seconds(r->ctx, &c0), t0 = vs_now_seconds();
            r->step(r->ctx);
            device_sync(r->device);
            double mine = 1e3 * (vs_now_seconds() - t0);
            comm_s += r->comm_seconds(r->ctx, &c1) - s0;
            calls += c1 - c0;
            ms[i] = vs_dist_max(mine);
        }
        sum_ms += ms[i];
        if (speak) fprintf(stderr, "  %s step %d/%d: %.1f ms\n", name, i + 1, a->reps, ms[i]);
    }
    qsort(ms, (size_t)a->reps, sizeof *ms, cmp_double);
    out->min_ms = ms[0];
    out->median_ms = a->reps % 2 ? ms[a->reps / 2] : 0.5 * (ms[a->reps / 2 - 1] + ms[a->reps / 2]);
    out->mean_ms = sum_ms / a->reps;
    free(ms);
    if (r->comm_seconds) {
        out->comm_max_ms = 1e3 * vs_dist_max(comm_s) / a->reps;
        out->comm_mean_ms = 1e3 * vs_dist_sum(comm_s) / r->world / a->reps;
        out->comm_share = out->mean_ms > 0 ? out->comm_max_ms / out->mean_ms : 0;
        out->collectives = (double)calls / a->reps;
    }
    out->profiled = 0;
#ifdef VS_HAVE_CUDA
    if (r->device == VS_DEV_CUDA) {
        double s0 = r->comm_seconds ? r->comm_seconds(r->ctx, NULL) : 0;
        vs_cuda_prof_enable(1);
        r->step(r->ctx);
        vs_cuda_prof_collect(out->prof_ms);
        vs_cuda_prof_enable(0);
        out->prof_comm_ms = r->comm_seconds ? 1e3 * (r->comm_seconds(r->ctx, NULL) - s0) : 0;
        out->profiled = 1;
    }
#endif
}

double step_mean_density(const vs_attention_policy *policy) {
    double sum = 0;
    int sparse_layers = 0;
    for (int l = 0; l < policy->num_layers; l++) {
        double d = vs_attention_policy_mean_density(policy, l);
        if (d >= 0) sum += d, sparse_layers++;
    }
    return sparse_layers ? sum / sparse_layers : -1;
}

void step_print_breakdown(const step_result *r, const char *whose) {
    if (!r->profiled) {
        printf("  breakdown: GPU runs only (CUDA events around each op)\n");
        return;
    }
#ifdef VS_HAVE_CUDA
    double sum = 0;
    for (int c = 0; c < VS_PROF_CLASSES; c++) sum += r->prof_ms[c];
    printf("  breakdown%s (profiled step, sum %.1f ms):\n", whose, sum);
    for (int c = 0; c < VS_PROF_CLASSES; c++)
        if (r->prof_ms[c] > 0 || c <= VS_PROF_ATTENTION)
            printf("    %-18s %9.1f ms  %5.1f%%\n", vs_prof_class_name((vs_prof_class)c),
                   r->prof_ms[c], sum > 0 ? 100.0 * r->prof_ms[c] / sum : 0.0);
#else
    (void)whose;
#endif
}

// ---------------------------------------------------------------------------- one process

typedef struct {
    step_inputs *in;
    wan_text text[VS_BRANCHES];  // prompt, negative prompt: built once, outside the timed steps
    vs_tensor rows[VS_BRANCHES];
    vs_attention_single *single;
    vs_attention_hook hook;
    int timestep;
} single_ctx;

static void one_step(void *arg) {
    single_ctx *s = arg;
    int64_t L = s->rows[0].shape[0];
    wan_cond c;
    VS_TRY(wan_cond_init(&c, &s->in->model, s->timestep), "cond");
    for (int b = 0; b < VS_BRANCHES; b++) {
        s->single->branch = b ? VS_BRANCH_UNCOND : VS_BRANCH_COND;
        VS_TRY(wan_forward(&s->in->model, &c, &s->text[b], &s->in->latent, 0, L, &s->hook, &s->rows[b], NULL),
               "forward");
        wan_unpatchify(&s->rows[b], &s->in->vel[b]);
    }
    wan_cond_free(&c);
}

static void bench_mode(single_ctx *s, vs_attention_policy *policy, const step_args *a, int svg2,
                       step_result *r) {
    vs_attention_single single;
    vs_attention_single_init(&single, policy);
    s->single = &single;
    s->hook = vs_attention_single_hook(&single);
    // The step index sits past the dense warm-up: only the preset's dense layers stay dense.
    vs_attention_policy_set_step(policy, policy->steps - 1);
    step_runner runner = {one_step, s, s->in->model.device, NULL, 1};
    step_time(&runner, a, a->warmup + (svg2 ? a->svg2_warm_steps : 0), svg2 ? "svg2" : "dense", r);
    r->density = step_mean_density(policy);
    vs_attention_single_free(&single);
}

static void print_result(const char *name, const step_result *r) {
    printf("%-6s step: median %.1f ms, min %.1f ms", name, r->median_ms, r->min_ms);
    if (r->density >= 0) printf(", SVG2 mean density %.3f", r->density);
    printf("\n");
    step_print_breakdown(r, "");
}

static double memory_gb(vs_device d) {
#ifdef VS_HAVE_CUDA
    if (d == VS_DEV_CUDA) return vs_cuda_memory_used() / 1e9;
#endif
    (void)d;
    return 0;
}

static int run(const step_args *a) {
    step_inputs in;
    if (step_plan(a, &in, 1) != 0) return 2;
    const vs_wan_config cfg = in.cfg;
    const char *device_name = "CPU";
#ifdef VS_HAVE_CUDA
    if (a->device == VS_DEV_CUDA) {
        if (vs_cuda_device_count() == 0) {
            fprintf(stderr, "vidsparse bench step: no CUDA GPU is visible (nvidia-smi; CUDA_VISIBLE_DEVICES)\n");
            return 2;
        }
        if (vs_ops_cuda_init(a->gpu) != 0) {
            fprintf(stderr, "vidsparse bench step: %s\n", vs_last_error());
            return 2;
        }
        device_name = vs_cuda_device_name();
    }
#endif
    char date[32];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    printf("bench step: %s, %s\n", device_name, date);
    printf("model %s (dim %d, %d layers, %d heads), %dx%d, %d frames -> latent [%d, %lld, %lld, "
           "%lld], %lld tokens, text %d rows; CFG: 2 forwards per step\n",
           a->tiny ? "tiny" : a->config, cfg.dim, cfg.num_layers, cfg.num_heads, a->width, a->height,
           a->frames, cfg.in_dim, (long long)in.T, (long long)in.H, (long long)in.W,
           (long long)in.tokens, cfg.text_len);

    if (step_inputs_make(a, &in) != 0) return 2;
    single_ctx s;
    memset(&s, 0, sizeof s);
    s.in = &in;
    s.timestep = a->timestep;
    int64_t row_shape[2] = {in.tokens, (int64_t)cfg.out_dim * 4};
    for (int b = 0; b < VS_BRANCHES; b++) {
        VS_TRY(wan_text_init(&s.text[b], &in.model, &in.context[b]), "text");
        s.rows[b] = vs_tensor_new(VS_F32, a->device, 2, row_shape);
    }
    if (a->device == VS_DEV_CUDA)
        printf("weights on the GPU: %.2f GB in use after loading\n", memory_gb(a->device));

    step_result dense = {0}, svg2 = {0};
    const int steps = 50;  // a nominal run length: the timed step index is past the dense warm-up
    const int heads = cfg.num_heads, head_dim = cfg.dim / cfg.num_heads;
    if (a->dense) {
        vs_attention_policy p;
        vs_attention_policy_init(&p, VS_ATTENTION_DENSE, &in.preset, cfg.num_layers, heads, 0, head_dim, steps);
        bench_mode(&s, &p, a, 0, &dense);
        vs_attention_policy_free(&p);
        print_result("dense", &dense);
    }
    if (a->svg2) {
        vs_attention_policy p;
        vs_attention_policy_init(&p, VS_ATTENTION_SVG2, &in.preset, cfg.num_layers, heads, 0, head_dim, steps);
        bench_mode(&s, &p, a, 1, &svg2);
        vs_attention_policy_free(&p);
        const vs_svg2_params *sp = &in.preset.params;
        printf("SVG2 preset: C_q %d, C_k %d, top-p %.2f, min_kc_ratio %.2f, k-means %d cold / %d warm "
               "iterations, dense layers %d\n",
               sp->C_q, sp->C_k, sp->top_p, sp->min_kc_ratio, sp->iters_cold, sp->iters_warm,
               in.preset.dense_layers);
        print_result("svg2", &svg2);
    }
    if (a->dense && a->svg2)
        printf("SVG2 speed-up over dense: %.2fx (median step times)\n", dense.median_ms / svg2.median_ms);
    if (a->device == VS_DEV_CUDA)
        printf("GPU memory in use at the end (allocator cache included): %.2f GB\n", memory_gb(a->device));

    for (int b = 0; b < VS_BRANCHES; b++) {
        wan_text_free(&s.text[b]);
        vs_tensor_free(&s.rows[b]);
    }
    step_inputs_free(&in);
#ifdef VS_HAVE_CUDA
    if (a->device == VS_DEV_CUDA) vs_ops_cuda_shutdown();
#endif
    return 0;
}

int vs_bench_step(int argc, char **argv) {
    step_args a;
    if (parse_args(argc, argv, &a) != 0) return 2;
    if (a.ulysses) return step_bench_dist(&a);
    if (vs_dist_launcher_size() > 1) {
        fprintf(stderr, "vidsparse bench step: launched as one of %d ranks but no layout given: add "
                        "--ulysses N (ranks = N, or 2N with --cfg-parallel)\n", vs_dist_launcher_size());
        return 2;
    }
    return run(&a);
}
