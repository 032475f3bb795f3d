// `vidsparse bench step`: the time of one denoising step of Wan 2.1 on one GPU, dense and SVG2.
//
// One step = what the sampler asks of the model at one timestep with classifier-free guidance:
// the timestep's cond (time embedding, modulations), then for each branch (prompt, negative
// prompt) one forward over the whole latent and unpatchify. Each prompt's text part (text
// embedding, every block's cross-attention K/V) is built once before timing, as a run builds it
// once (runtime/wan_model.h). The CFG combination and the scheduler update (a few pointwise
// passes over a 6 MB latent) are left out, as they are in tools/bench_diffusers_step.py.
//
// Figures (all GPU time from CUDA events on the ops stream):
//   step ms    : median over --reps timed steps after --warmup untimed ones, no instrumentation;
//   min ms     : the fastest of those;
//   breakdown  : one more step with a CUDA event pair around every op, summed per op class
//                (GEMM, attention, SVG2 k-means / selection / permutation, norms, other); the
//                events add host work per op, so their sum may exceed the step time slightly;
//   density    : SVG2's mean computed fraction of the S x S score matrix over the sparse layers.
// SVG2 is timed in its steady state: --svg2-warm-steps steps first (the first one runs cold
// k-means and fills the centroid caches), then every timed step starts k-means warm. The first
// --dense-layers blocks stay dense as the preset says (the step index is past the dense warm-up).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "launch/bench.h"
#include "runtime/vs_attention_single.h"
#include "runtime/vs_config.h"
#include "runtime/vs_rng.h"
#include "runtime/wan_model.h"

#ifdef VS_HAVE_CUDA
#include "kernels/cuda/ops_cuda.h"
#endif

typedef struct {
    const char *config, *model, *preset_path;
    int random_weights;
    int width, height, frames;
    int dense, svg2;
    int warmup, reps, svg2_warm_steps;
    int timestep, device;
    uint64_t seed;
} step_args;

static void usage(FILE *f) {
    fprintf(f,
            "usage: vidsparse bench step --config F (--random-weights | --model DIR) [options]\n"
            "  --size WxH            video size in pixels, multiples of 16 (832x480)\n"
            "  --frames N            video frames, 4k+1 (81)\n"
            "  --attention A         dense, svg2 or both (both)\n"
            "  --svg2-preset F       SVG2 preset JSON (configs/svg2-*.json; default: C_q 300,\n"
            "                        C_k 1000, top-p 0.9, 50/2 k-means iterations, 1 dense layer)\n"
            "  --warmup N            untimed steps before timing (2)\n"
            "  --reps N              timed steps; the median is reported (5)\n"
            "  --svg2-warm-steps N   SVG2 steps run before timing, to warm the centroid cache (3)\n"
            "  --timestep T          scheduler timestep of the step (500)\n"
            "  --seed S              random weights / inputs (0)\n"
            "  --device N            GPU index (0)\n");
}

static int parse_int(const char *flag, const char *v, int lo, int *out) {
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || x < lo || x > 1000000000L) {
        fprintf(stderr, "vidsparse bench step: %s wants an integer >= %d, got '%s'\n", flag, lo, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int parse_args(int argc, char **argv, step_args *a) {
    memset(a, 0, sizeof *a);
    a->width = 832, a->height = 480, a->frames = 81;
    a->dense = a->svg2 = 1;
    a->warmup = 2, a->reps = 5, a->svg2_warm_steps = 3, a->timestep = 500;
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
        else if (!strcmp(f, "--device")) rc = parse_int(f, v, 0, &a->device);
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
    if (!a->config) {
        fprintf(stderr, "vidsparse bench step: --config is required (e.g. configs/wan2.1-t2v-1.3b.json)\n");
        return -1;
    }
    if (a->random_weights == (a->model != NULL)) {
        fprintf(stderr, "vidsparse bench step: give exactly one of --random-weights and --model DIR\n");
        return -1;
    }
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
    return 0;
}

#ifdef VS_HAVE_CUDA

typedef struct {
    wan_model *m;
    vs_tensor *latent;     // [in_dim, T, H, W] f32 on the GPU
    wan_text text[2];      // prompt, negative prompt: built once, outside the timed steps
    vs_tensor rows[2], vel[2];
    vs_attention_single *single;
    vs_attention_hook hook;
    int timestep;
} step_ctx;

static void one_step(void *arg) {
    step_ctx *s = arg;
    int64_t L = s->rows[0].shape[0];
    wan_cond c;
    VS_TRY(wan_cond_init(&c, s->m, s->timestep), "cond");
    for (int b = 0; b < 2; b++) {
        s->single->branch = b ? VS_BRANCH_UNCOND : VS_BRANCH_COND;
        VS_TRY(wan_forward(s->m, &c, &s->text[b], s->latent, 0, L, &s->hook, &s->rows[b], NULL),
               "forward");
        wan_unpatchify(&s->rows[b], &s->vel[b]);
    }
    wan_cond_free(&c);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double median_ms, min_ms, prof_ms[VS_PROF_CLASSES], density;
} mode_result;

static void bench_mode(step_ctx *s, vs_attention_policy *policy, const step_args *a, int svg2,
                       mode_result *r) {
    vs_attention_single single;
    vs_attention_single_init(&single, policy);
    s->single = &single;
    s->hook = vs_attention_single_hook(&single);
    // The step index sits past the dense warm-up: only the preset's dense layers stay dense.
    vs_attention_policy_set_step(policy, policy->steps - 1);
    int untimed = a->warmup + (svg2 ? a->svg2_warm_steps : 0);
    for (int i = 0; i < untimed; i++) one_step(s);
    vs_cuda_sync();
    double *ms = vs_calloc((size_t)a->reps, sizeof *ms);
    for (int i = 0; i < a->reps; i++) {
        ms[i] = vs_cuda_time_ms(one_step, s);
        fprintf(stderr, "  %s step %d/%d: %.1f ms\n", svg2 ? "svg2" : "dense", i + 1, a->reps, ms[i]);
    }
    qsort(ms, (size_t)a->reps, sizeof *ms, cmp_double);
    r->min_ms = ms[0];
    r->median_ms = a->reps % 2 ? ms[a->reps / 2] : 0.5 * (ms[a->reps / 2 - 1] + ms[a->reps / 2]);
    free(ms);
    vs_cuda_prof_enable(1);
    one_step(s);
    vs_cuda_prof_collect(r->prof_ms);
    vs_cuda_prof_enable(0);
    r->density = 0;
    int sparse_layers = 0;
    for (int l = 0; l < policy->num_layers; l++) {
        double d = vs_attention_policy_mean_density(policy, l);
        if (d >= 0) r->density += d, sparse_layers++;
    }
    r->density = sparse_layers ? r->density / sparse_layers : -1;
    vs_attention_single_free(&single);
}

static void print_result(const char *name, const mode_result *r) {
    double sum = 0;
    for (int c = 0; c < VS_PROF_CLASSES; c++) sum += r->prof_ms[c];
    printf("%-6s step: median %.1f ms, min %.1f ms", name, r->median_ms, r->min_ms);
    if (r->density >= 0) printf(", SVG2 mean density %.3f", r->density);
    printf("\n  breakdown (profiled step, sum %.1f ms):\n", sum);
    for (int c = 0; c < VS_PROF_CLASSES; c++)
        if (r->prof_ms[c] > 0 || c <= VS_PROF_ATTENTION)
            printf("    %-18s %9.1f ms  %5.1f%%\n", vs_prof_class_name((vs_prof_class)c),
                   r->prof_ms[c], sum > 0 ? 100.0 * r->prof_ms[c] / sum : 0.0);
}

static int run(const step_args *a) {
    vs_wan_config cfg;
    if (vs_wan_config_load(&cfg, a->config) != 0) {
        fprintf(stderr, "vidsparse bench step: %s\n", vs_last_error());
        return 2;
    }
    vs_svg2_preset preset;
    if (a->preset_path) {
        if (vs_svg2_preset_load(&preset, a->preset_path) != 0) {
            fprintf(stderr, "vidsparse bench step: %s\n", vs_last_error());
            return 2;
        }
    } else {
        preset.params = vs_svg2_default_params();
        preset.dense_step_fraction = 0.2f;
        preset.dense_layers = 1;
    }
    if (vs_cuda_device_count() == 0) {
        fprintf(stderr, "vidsparse bench step: no CUDA GPU is visible (nvidia-smi; CUDA_VISIBLE_DEVICES)\n");
        return 2;
    }
    if (vs_ops_cuda_init(a->device) != 0) {
        fprintf(stderr, "vidsparse bench step: %s\n", vs_last_error());
        return 2;
    }
    const int64_t T = (a->frames - 1) / 4 + 1, H = a->height / 8, W = a->width / 8;
    const int64_t L = T * (H / 2) * (W / 2);
    char date[32];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    printf("bench step: %s, %s\n", vs_cuda_device_name(), date);
    printf("model %s (dim %d, %d layers, %d heads), %dx%d, %d frames -> latent [%d, %lld, %lld, "
           "%lld], %lld tokens, text %d rows; CFG: 2 forwards per step\n",
           a->config, cfg.dim, cfg.num_layers, cfg.num_heads, a->width, a->height, a->frames,
           cfg.in_dim, (long long)T, (long long)H, (long long)W, (long long)L, cfg.text_len);

    wan_model m;
    int rc = a->random_weights ? wan_model_random(&m, &cfg, a->seed, VS_DEV_CUDA)
                               : wan_model_load(&m, &cfg, a->model, VS_DEV_CUDA);
    if (rc != 0) {
        fprintf(stderr, "vidsparse bench step: %s\n", vs_last_error());
        return 2;
    }
    step_ctx s;
    memset(&s, 0, sizeof s);
    s.m = &m;
    s.timestep = a->timestep;
    // Random latent and text embeddings (umT5 outputs are O(0.1-1); the values do not change
    // the work, except through SVG2's clustering, which sees real Q/K of the model).
    int64_t lat_shape[4] = {cfg.in_dim, T, H, W};
    vs_tensor lat_host = vs_tensor_new(VS_F32, VS_DEV_CPU, 4, lat_shape);
    for (int64_t i = 0; i < vs_tensor_numel(&lat_host); i++)
        ((float *)lat_host.data)[i] = vs_normal_at(a->seed + 101, (uint64_t)i);
    vs_tensor latent = vs_tensor_new(VS_F32, VS_DEV_CUDA, 4, lat_shape);
    vs_tensor_copy(&latent, &lat_host);
    vs_tensor_free(&lat_host);
    s.latent = &latent;
    int64_t ctx_shape[2] = {cfg.text_len, cfg.text_dim};
    int64_t row_shape[2] = {L, (int64_t)cfg.out_dim * 4};
    int64_t vel_shape[4] = {cfg.out_dim, T, H, W};
    for (int b = 0; b < 2; b++) {
        vs_tensor context = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, ctx_shape);
        for (int64_t i = 0; i < vs_tensor_numel(&context); i++)
            ((float *)context.data)[i] = 0.2f * vs_normal_at(a->seed + 201 + (uint64_t)b, (uint64_t)i);
        VS_TRY(wan_text_init(&s.text[b], &m, &context), "text");
        vs_tensor_free(&context);
        s.rows[b] = vs_tensor_new(VS_F32, VS_DEV_CUDA, 2, row_shape);
        s.vel[b] = vs_tensor_new(VS_F32, VS_DEV_CUDA, 4, vel_shape);
    }
    printf("weights on the GPU: %.2f GB in use after loading\n", vs_cuda_memory_used() / 1e9);

    mode_result dense = {0}, svg2 = {0};
    const int steps = 50;  // a nominal run length: the timed step index is past the dense warm-up
    const int heads = cfg.num_heads, head_dim = cfg.dim / cfg.num_heads;
    if (a->dense) {
        vs_attention_policy p;
        vs_attention_policy_init(&p, VS_ATTENTION_DENSE, &preset, cfg.num_layers, heads, 0, head_dim, steps);
        bench_mode(&s, &p, a, 0, &dense);
        vs_attention_policy_free(&p);
        print_result("dense", &dense);
    }
    if (a->svg2) {
        vs_attention_policy p;
        vs_attention_policy_init(&p, VS_ATTENTION_SVG2, &preset, cfg.num_layers, heads, 0, head_dim, steps);
        bench_mode(&s, &p, a, 1, &svg2);
        vs_attention_policy_free(&p);
        printf("SVG2 preset: C_q %d, C_k %d, top-p %.2f, min_kc_ratio %.2f, k-means %d cold / %d warm "
               "iterations, dense layers %d\n",
               preset.params.C_q, preset.params.C_k, preset.params.top_p, preset.params.min_kc_ratio,
               preset.params.iters_cold, preset.params.iters_warm, preset.dense_layers);
        print_result("svg2", &svg2);
    }
    if (a->dense && a->svg2)
        printf("SVG2 speed-up over dense: %.2fx (median step times)\n", dense.median_ms / svg2.median_ms);
    printf("GPU memory in use at the end (allocator cache included): %.2f GB\n",
           vs_cuda_memory_used() / 1e9);

    for (int b = 0; b < 2; b++) {
        wan_text_free(&s.text[b]);
        vs_tensor_free(&s.rows[b]);
        vs_tensor_free(&s.vel[b]);
    }
    vs_tensor_free(&latent);
    wan_model_free(&m);
    vs_ops_cuda_shutdown();
    return 0;
}

#else

static int run(const step_args *a) {
    (void)a;
    fprintf(stderr, "vidsparse bench step: this build has no CUDA (rebuild where nvcc is found)\n");
    return 2;
}

#endif

int vs_bench_step(int argc, char **argv) {
    step_args a;
    if (parse_args(argc, argv, &a) != 0) return 2;
    return run(&a);
}
