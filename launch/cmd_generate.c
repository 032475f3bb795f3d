// `vidsparse generate`: text embeddings in, a denoised video latent out.
//
// Order of work: parse and check every argument (exit 2 with one message on anything wrong),
// then read the small files (model config, SVG2 preset, prompt-embedding shapes) and check them
// against each other, and only then load the model and denoise. `--model tiny` is the built-in
// random-weight model (runtime/wan_model.h) with a built-in context: no files needed.
// `--random-weights --config F` makes random weights at a real config's shapes (the built-in
// context unless --prompt-embeds is given): a full-size run with no checkpoint, for smoke tests
// of a cluster, timings and the invariance of multi-GPU layouts.
//
// Devices (--device): on cuda the CUDA op backend is set up once, the model is made on the GPU
// and self-attention takes the attention policy's CUDA path; the pipeline's latent, CFG and
// sampler stay on the CPU and each forward copies the latent in and the velocity out
// (runtime/vs_device_denoiser.h says why). A multi-rank job binds each rank to its GPU first and
// picks the transport that fits (vs_transport_kind_for_cuda: NCCL, or MPI staged through host
// memory when ranks share a GPU).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launch/args.h"
#include "launch/commands.h"
#include "launch/generate_dist.h"
#include "launch/progress.h"
#include "launch/video_args.h"
#include "parallel/vs_dist.h"
#include "parallel/vs_groups.h"
#include "runtime/vs_attention_policy.h"
#include "runtime/vs_check.h"
#include "runtime/vs_config.h"
#include "runtime/vs_device_denoiser.h"
#include "runtime/vs_log.h"
#include "runtime/vs_pipeline.h"
#include "runtime/vs_rng.h"
#include "runtime/vs_safetensors.h"
#include "runtime/vs_wan_denoiser.h"
#include "runtime/wan_model.h"
#include "runtime/wan_vae_video.h"

#ifdef VS_HAVE_CUDA
#include "kernels/cuda/ops_cuda.h"
#endif

enum { RANDOM_WEIGHTS_SEED = 7, BUILTIN_CONTEXT_TOKENS = 16 };
// Streams of the built-in prompt and negative-prompt embeddings (tiny and --random-weights).
static const uint64_t BUILTIN_CONTEXT_SEED[VS_BRANCHES] = {0x7079636f6e64ull, 0x70796e6567ull};

typedef struct {
    const char *model;          // checkpoint path, "tiny", or NULL with random_weights
    const char *config;         // model config override
    const char *prompt_embeds;  // safetensors with "context" and optionally "negative_context"
    const char *svg2_preset;
    const char *output;
    int width, height, frames, steps;  // 0: the model's default
    double shift;
    float guide_scale;
    uint64_t seed;
    vs_sampler_kind sampler;
    vs_attention_mode attention;
    int verbose;
    int tiny;
    int random_weights;  // --random-weights: random weights at --config's shapes
    // Video output (-o *.mp4): the VAE, where latents are kept, video options.
    const char *vae;
    const char *save_latents;
    int video;
    vs_video_options video_opts;
    int ulysses;       // 0: single process (no parallel/ at all)
    int cfg_parallel;  // 1: CFG branches on two rank groups
    int tiny_heads;    // 0: the tiny model's own head count
    vs_device device;  // where the model runs (and the VAE decodes)
} gen_args;

static void usage(FILE *out) {
    fprintf(out,
        "usage: vidsparse generate --model DIR|tiny [options]\n\n"
        "Denoises a Wan 2.1 text-to-video latent from prompt embeddings.\n\n"
        "  --model DIR|tiny       checkpoint (directory, .safetensors or .index.json) or the built-in\n"
        "                         random-weight tiny model (runs on any CPU in seconds)\n"
        "  --config FILE          model config (default: DIR/config.json; tiny: built in)\n"
        "  --random-weights       instead of --model: random weights at --config's shapes, with the\n"
        "                         built-in context unless --prompt-embeds is given (timings, smoke\n"
        "                         tests, multi-GPU invariance; the video is noise)\n"
        "  --prompt-embeds FILE   safetensors with \"context\" [L, text_dim] and optionally\n"
        "                         \"negative_context\" (required, except for tiny and\n"
        "                         --random-weights: built-in context)\n"
        "  --size WxH             video size, W*H also accepted, multiples of 16\n"
        "                         (default 832x480; tiny: 128x128)\n"
        "  --frames N             video frames, 4n+1 (default 81; tiny: 9)\n"
        "  --steps N              denoising steps (default 50; tiny: 4)\n"
        "  --shift S              flow-matching schedule shift (default 5.0)\n"
        "  --guide-scale G        classifier-free guidance scale; 1 runs one pass per step (default 5.0)\n"
        "  --seed N               initial-noise seed (default 42)\n"
        "  --sampler unipc|euler  (default unipc, the official Wan solver)\n"
        "  --attention dense|svg2 self-attention (default svg2)\n"
        "  --svg2-preset FILE     SVG2 settings (default configs/svg2-wan-720p.json when W*H >= 1280*720,\n"
        "                         else configs/svg2-wan-480p.json; tiny: built in)\n"
        "  -o, --output FILE      .mp4/.mkv/.mov/.y4m: decode with the VAE and write the video;\n"
        "                         .safetensors: the latents, tensor \"latents\" [16, T, H/8, W/8]\n"
        "                         (default latents.safetensors)\n"
        "  --save-latents FILE    also keep the latents (.safetensors), written before decoding\n"
        "%s"
        "  --device cpu|cuda      where the model runs (default: cuda when this build has CUDA and a GPU\n"
        "                         is visible, else cpu; the environment variable VS_DEVICE overrides\n"
        "                         that default); a video is decoded there too\n"
        "  -v, --verbose          debug log lines (per step timestep and sigma)\n"
        "  --ulysses N            multi-rank (mpirun/srun): shard tokens over groups of N ranks, heads\n"
        "                         inside self-attention; N <= heads (docs/distributed.md)\n"
        "  --cfg-parallel         multi-rank: conditional and unconditional branches on two groups;\n"
        "                         ranks = N x 2 (without it: ranks = N)\n"
        "  --tiny-heads N         tiny model only: split its width 128 into N heads (default 2), to\n"
        "                         test layouts with more Ulysses ranks (128 / N must be even, >= 6)\n"
        "  -h, --help             this text\n\n"
        "examples:\n"
        "  vidsparse generate --model tiny -o tiny.mp4\n"
        "  vidsparse generate --model Wan2.1-T2V-1.3B --prompt-embeds cat.safetensors \\\n"
        "      --size 832x480 --frames 81 --steps 50 --attention svg2 -o cat.safetensors\n"
        "  mpirun -np 8 vidsparse generate --model DIR --prompt-embeds cat.safetensors \\\n"
        "      --ulysses 4 --cfg-parallel -o cat.mp4\n",
        vs_video_option_help);
}

// One message, exit code 2: bad input, nothing loaded yet.
static int bad_arg(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "vidsparse generate: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n(vidsparse generate --help lists every option)\n");
    return 2;
}

// A file next to the binary's source tree when the path is relative and absent from the current
// directory: <exe>/../PATH, then <exe>/PATH (the build directory sits in the source tree).
static const char *find_data_file(const char *rel, char *buf, size_t len) {
    if (vs_is_file(rel)) return rel;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return rel;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return rel;
    *slash = '\0';
    if (snprintf(buf, len, "%s/../%s", exe, rel) < (int)len && vs_is_file(buf)) return buf;
    if (snprintf(buf, len, "%s/%s", exe, rel) < (int)len && vs_is_file(buf)) return buf;
    return rel;
}

// Visible GPUs; 0 in a build without CUDA.
static int gpu_count(void) {
#ifdef VS_HAVE_CUDA
    return vs_cuda_device_count();
#else
    return 0;
#endif
}

// --device NAME, else $VS_DEVICE, else cuda when this build has CUDA and a GPU is visible. An
// explicit cuda (flag or variable) without a usable GPU is refused here, before any work.
static int resolve_device(const char *arg, vs_device *out) {
    const char *env = getenv("VS_DEVICE");
    const char *name = arg ? arg : env && env[0] ? env : NULL;
    const char *what = arg ? "--device" : "VS_DEVICE";
    if (!name) {
        *out = gpu_count() > 0 ? VS_DEV_CUDA : VS_DEV_CPU;
        return 0;
    }
    if (!strcmp(name, "cpu")) *out = VS_DEV_CPU;
    else if (!strcmp(name, "cuda")) *out = VS_DEV_CUDA;
    else return bad_arg("%s '%s': choose cpu or cuda", what, name);
#ifndef VS_HAVE_CUDA
    if (*out == VS_DEV_CUDA)
        return bad_arg("%s cuda: this vidsparse was built without CUDA (rebuild where nvcc is "
                       "found); use --device cpu%s", what, "");
#endif
    if (*out == VS_DEV_CUDA && gpu_count() == 0)
        return bad_arg("%s cuda: no CUDA GPU is visible (check nvidia-smi and "
                       "CUDA_VISIBLE_DEVICES); use --device cpu%s", what, "");
    return 0;
}

// Parses argv into a; returns 0, 1 for --help, or 2 after printing the problem.
static int parse_args(int argc, char **argv, gen_args *a) {
    memset(a, 0, sizeof *a);
    const char *device_arg = NULL;
    a->shift = 5.0;
    a->guide_scale = 5.0f;
    a->seed = 42;
    a->sampler = VS_SAMPLER_UNIPC;
    a->attention = VS_ATTENTION_SVG2;
    a->output = "latents.safetensors";
    vs_video_options_default(&a->video_opts);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        char name[64];
        const char *eq = strchr(arg, '=');
        if (!strncmp(arg, "--", 2) && eq && (size_t)(eq - arg) < sizeof name) {
            memcpy(name, arg, (size_t)(eq - arg));
            name[eq - arg] = '\0';
            arg = name;
            val = eq + 1;
        }
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) return 1;
        if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
            a->verbose = 1;
            continue;
        }
        if (!strcmp(arg, "--cfg-parallel")) {
            a->cfg_parallel = 1;
            continue;
        }
        if (!strcmp(arg, "--random-weights")) {
            a->random_weights = 1;
            continue;
        }
        static const char *const with_value[] = {
            "--model", "--config", "--prompt-embeds", "--size", "--frames", "--steps", "--shift",
            "--guide-scale", "--seed", "--sampler", "--attention", "--svg2-preset", "-o",
            "--output", "--vae", "--save-latents", "--fps", "--crf", "--ulysses", "--tiny-heads",
            "--device"};
        int known = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
            known |= !strcmp(arg, with_value[k]);
        if (!known) return bad_arg("unknown option '%s'%s", argv[i], "");
        if (!val) {
            if (i + 1 >= argc) return bad_arg("%s needs a value%s", arg, "");
            val = argv[++i];
        }
        double d;
        if (!strcmp(arg, "--model")) a->model = val;
        else if (!strcmp(arg, "--device")) device_arg = val;
        else if (!strcmp(arg, "--config")) a->config = val;
        else if (!strcmp(arg, "--prompt-embeds")) a->prompt_embeds = val;
        else if (!strcmp(arg, "--svg2-preset")) a->svg2_preset = val;
        else if (!strcmp(arg, "-o") || !strcmp(arg, "--output")) a->output = val;
        else if (!strcmp(arg, "--vae")) a->vae = val;
        else if (!strcmp(arg, "--save-latents")) a->save_latents = val;
        else if (!strcmp(arg, "--fps")) {
            if (vs_arg_int(val, 1, 1000, &a->video_opts.fps))
                return bad_arg("--fps '%s': must be an integer in 1..1000%s", val, "");
        } else if (!strcmp(arg, "--crf")) {
            if (vs_arg_int(val, 0, 51, &a->video_opts.crf))
                return bad_arg("--crf '%s': must be an integer in 0..51%s", val, "");
        }
        else if (!strcmp(arg, "--size")) {
            if (vs_arg_size(val, &a->width, &a->height))
                return bad_arg("--size '%s': expected WxH (or W*H), e.g. 832x480%s", val, "");
        } else if (!strcmp(arg, "--frames")) {
            if (vs_arg_int(val, 1, 100000, &a->frames) || (a->frames - 1) % 4 != 0)
                return bad_arg("--frames '%s': must be 4n+1 (1, 5, 9, ..., 81)%s", val, "");
        } else if (!strcmp(arg, "--steps")) {
            if (vs_arg_int(val, 1, VS_SCHEDULE_MAX_STEPS, &a->steps))
                return bad_arg("--steps '%s': must be an integer in [1, 1000]%s", val, "");
        } else if (!strcmp(arg, "--shift")) {
            if (vs_arg_double(val, &a->shift) || a->shift <= 0)
                return bad_arg("--shift '%s': must be a number > 0 (Wan: 5.0, or 3.0 at 480p)%s", val, "");
        } else if (!strcmp(arg, "--guide-scale")) {
            if (vs_arg_double(val, &d) || d < 0)
                return bad_arg("--guide-scale '%s': must be a number >= 0 (Wan: 5.0)%s", val, "");
            a->guide_scale = (float)d;
        } else if (!strcmp(arg, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(val, &end, 10);
            if (errno || end == val || *end || val[0] == '-')
                return bad_arg("--seed '%s': must be a non-negative integer%s", val, "");
            a->seed = (uint64_t)s;
        } else if (!strcmp(arg, "--sampler")) {
            if (vs_sampler_parse(val, &a->sampler))
                return bad_arg("--sampler '%s': choose unipc or euler%s", val, "");
        } else if (!strcmp(arg, "--ulysses")) {
            if (vs_arg_int(val, 1, 1 << 16, &a->ulysses))
                return bad_arg("--ulysses '%s': must be an integer >= 1 (ranks per Ulysses group)%s", val, "");
        } else if (!strcmp(arg, "--tiny-heads")) {
            if (vs_arg_int(val, 1, 128, &a->tiny_heads))
                return bad_arg("--tiny-heads '%s': must be an integer in [1, 128]%s", val, "");
        } else if (!strcmp(arg, "--attention")) {
            if (vs_attention_mode_parse(val, &a->attention))
                return bad_arg("--attention '%s': choose dense or svg2%s", val, "");
        }
    }
    vs_clear_error();
    if (resolve_device(device_arg, &a->device) != 0) return 2;

    if (a->random_weights && a->model)
        return bad_arg("give --model or --random-weights, not both%s%s", "", "");
    if (a->random_weights && !a->config)
        return bad_arg("--random-weights needs --config FILE (the model's shapes, e.g. "
                       "configs/wan2.1-t2v-1.3b.json)%s%s", "", "");
    if (!a->model && !a->random_weights)
        return bad_arg("missing --model (a checkpoint directory or file, or 'tiny'), or "
                       "--random-weights --config FILE%s%s", "", "");
    a->tiny = a->model && !strcmp(a->model, "tiny");
    if (a->tiny_heads && !a->tiny) return bad_arg("--tiny-heads applies to --model tiny only%s%s", "", "");
    if (a->cfg_parallel && !a->ulysses) a->ulysses = 1;
    if (!a->width) {
        a->width = a->tiny ? 128 : 832;
        a->height = a->tiny ? 128 : 480;
    }
    if (!a->frames) a->frames = a->tiny ? 9 : 81;
    if (!a->steps) a->steps = a->tiny ? 4 : 50;
    if (a->width % 16 || a->height % 16) {
        char size[64];
        snprintf(size, sizeof size, "%dx%d", a->width, a->height);
        return bad_arg("--size %s: width and height must be multiples of 16%s", size, "");
    }
    if (a->model && !a->tiny && !vs_is_file(a->model) && !vs_is_dir(a->model))
        return bad_arg("--model '%s': no such file or directory (or use --model tiny)%s", a->model, "");
    if (a->config && !vs_is_file(a->config))
        return bad_arg("--config '%s': no such file%s", a->config, "");
    if (!a->tiny && !a->config) {
        static char path[4096];
        snprintf(path, sizeof path, "%s/config.json", a->model);
        if (!vs_is_dir(a->model) || !vs_is_file(path))
            return bad_arg("no model config: '%s' has no config.json; give --config FILE%s", a->model, "");
        a->config = path;
    }
    if (a->prompt_embeds && !vs_is_file(a->prompt_embeds))
        return bad_arg("--prompt-embeds '%s': no such file%s", a->prompt_embeds, "");
    if (!a->tiny && !a->random_weights && !a->prompt_embeds)
        return bad_arg("missing --prompt-embeds FILE (safetensors with \"context\" [L, 4096]); "
                       "only --model tiny and --random-weights have a built-in context%s%s", "", "");
    if (a->svg2_preset && !vs_is_file(a->svg2_preset))
        return bad_arg("--svg2-preset '%s': no such file%s", a->svg2_preset, "");
    if (!a->tiny && !a->svg2_preset && a->attention == VS_ATTENTION_SVG2) {
        static char buf[4096];
        const char *rel = (long)a->width * a->height >= 1280L * 720 ? "configs/svg2-wan-720p.json"
                                                                   : "configs/svg2-wan-480p.json";
        a->svg2_preset = find_data_file(rel, buf, sizeof buf);
        if (!vs_is_file(a->svg2_preset))
            return bad_arg("cannot find the default SVG2 preset %s; give --svg2-preset FILE%s", rel, "");
    }
    // Video output: -o names a video or the latents; the VAE must be at hand before denoising.
    const vs_output_kind kind = vs_output_kind_of(a->output);
    if (kind == VS_OUT_UNKNOWN)
        return bad_arg("-o '%s': name a video (.mp4, .mkv, .mov, .y4m) or latents (.safetensors)%s",
                       a->output, "");
    a->video = kind == VS_OUT_VIDEO;
    if (a->save_latents && vs_output_kind_of(a->save_latents) != VS_OUT_LATENTS)
        return bad_arg("--save-latents '%s': latents are written as .safetensors%s", a->save_latents, "");
    if (a->save_latents && vs_output_dir_problem(a->save_latents))
        return bad_arg("--save-latents: %s%s", vs_output_dir_problem(a->save_latents), "");
    if (a->video && !a->vae) {
        static char vae_buf[4096];
        a->vae = vs_default_vae(a->model, vae_buf, sizeof vae_buf);
        if (!a->vae)
            return bad_arg("-o '%s' is a video, so the VAE is needed: give --vae DIR (a diffusers "
                           "AutoencoderKLWan folder; convert an official Wan2.1_VAE.pth once with "
                           "tools/convert_wan_vae.py) or --vae tiny%s", a->output, "");
    }
    if (a->vae && strcmp(a->vae, "tiny") && !vs_is_file(a->vae) && !vs_is_dir(a->vae))
        return bad_arg("--vae '%s': no such file or folder (or use --vae tiny)%s", a->vae, "");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", a->output);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        if (dir[0] && !vs_is_dir(dir))
            return bad_arg("-o '%s': directory '%s' does not exist", a->output, dir);
    }
    return 0;
}

// context [L, text_dim] from a prompt-embeddings file; absent (returns 1) only when optional.
static int read_context(const vs_st_file *f, const char *name, const vs_wan_config *cfg,
                        int optional, vs_tensor *out) {
    const vs_st_entry *e = vs_st_find(f, name);
    if (!e) {
        if (optional) return 1;
        return VS_FAIL("%s has no tensor \"%s\" (expected [L, %d] prompt embeddings)", f->path,
                       name, cfg->text_dim);
    }
    if (e->ndim != 2 || e->shape[1] != cfg->text_dim || e->shape[0] < 1 ||
        e->shape[0] > cfg->text_len)
        return VS_FAIL("%s: \"%s\" is %dD [%lld, %lld], expected [L, %d] with 1 <= L <= %d",
                       f->path, name, e->ndim, (long long)e->shape[0],
                       (long long)(e->ndim > 1 ? e->shape[1] : 0), cfg->text_dim, cfg->text_len);
    *out = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, e->shape);
    return vs_st_read_f32(f, e, out->data);
}

// The model as the latents' metadata names it ("tiny" there tells `decode` to take the tiny VAE).
static const char *model_name(const gen_args *a) {
    return a->random_weights ? "random weights" : a->model;
}

static vs_tensor builtin_context(const vs_wan_config *cfg, int branch) {
    const int64_t shape[2] = {BUILTIN_CONTEXT_TOKENS, cfg->text_dim};
    vs_tensor t = vs_tensor_new(VS_F32, VS_DEV_CPU, 2, shape);
    float *x = t.data;
    for (int64_t i = 0; i < vs_tensor_numel(&t); i++)
        x[i] = vs_normal_at(BUILTIN_CONTEXT_SEED[branch], (uint64_t)i);
    return t;
}

static int write_latents(const gen_args *a, const char *path, const vs_tensor *latent) {
    char steps[16], seed[32], shift[32], guide[32], size[32], frames[16];
    snprintf(steps, sizeof steps, "%d", a->steps);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)a->seed);
    snprintf(shift, sizeof shift, "%g", a->shift);
    snprintf(guide, sizeof guide, "%g", a->guide_scale);
    snprintf(size, sizeof size, "%dx%d", a->width, a->height);
    snprintf(frames, sizeof frames, "%d", a->frames);
    const char *keys[] = {"format", "model", "size", "frames", "steps", "shift", "guide_scale",
                          "seed", "sampler", "attention"};
    const char *vals[] = {"vidsparse-latents", model_name(a), size, frames, steps, shift, guide, seed,
                          vs_sampler_name(a->sampler),
                          a->attention == VS_ATTENTION_SVG2 ? "svg2" : "dense"};
    const char *names[] = {"latents"};
    return vs_st_write(path, 1, names, latent, 10, keys, vals);
}

// Latents first (-o x.safetensors, or --save-latents), then the video, so a failed decode loses
// no denoising work: without --save-latents the latents are then kept in <output>.latents.safetensors.
static int write_outputs(const gen_args *a, const vs_tensor *latent, const vs_wan_vae *vae) {
    const int64_t *s = latent->shape;
    const char *latents_path = a->video ? a->save_latents : a->output;
    int rc = 0;
    double t0 = vs_now_seconds();
    if (latents_path && write_latents(a, latents_path, latent) != 0) {
        fprintf(stderr, "vidsparse generate: writing %s: %s\n", latents_path, vs_last_error());
        rc = 1;
    } else if (latents_path) {
        VS_INFO("stage write: %.3f s (latents [%lld, %lld, %lld, %lld] -> %s)", vs_now_seconds() - t0,
                (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[3], latents_path);
    }
    if (!a->video) return rc;
    t0 = vs_now_seconds();
    // The VAE decodes on the run's device (--device).
    if (vs_wan_vae_decode_to_video(vae, a->device, latent->data, (int)s[1], (int)s[2], (int)s[3], a->output,
                                   &a->video_opts, NULL, 0, NULL) == 0) {
        VS_INFO("stage decode: %.3f s", vs_now_seconds() - t0);
        return rc;
    }
    fprintf(stderr, "vidsparse generate: decoding to %s failed: %s\n", a->output, vs_last_error());
    char rescue[4200];
    snprintf(rescue, sizeof rescue, "%s.latents.safetensors", a->output);
    const char *kept = a->save_latents && rc == 0 ? a->save_latents
                       : write_latents(a, rescue, latent) == 0 ? rescue : NULL;
    if (kept)
        fprintf(stderr, "vidsparse generate: the latents are in %s; retry the video with "
                        "`vidsparse decode %s -o %s --vae %s`\n", kept, kept, a->output, a->vae);
    return 1;
}

static void report_density(const vs_attention_policy *policy) {
    char line[4096];
    size_t used = 0;
    double total = 0;
    int sparse_layers = 0;
    for (int l = 0; l < policy->num_layers && used < sizeof line - 32; l++) {
        double d = vs_attention_policy_mean_density(policy, l);
        if (d < 0) used += (size_t)snprintf(line + used, sizeof line - used, " %d:dense", l);
        else {
            used += (size_t)snprintf(line + used, sizeof line - used, " %d:%.3f", l, d);
            total += d;
            sparse_layers++;
        }
    }
    VS_INFO("svg2 mean density per layer (fraction of attention computed, dense = warm-up layer):%s",
            line);
    if (sparse_layers)
        VS_INFO("svg2 mean density over sparse layers: %.3f (sparse calls only; the first %d of %d "
                "steps ran dense)", total / sparse_layers, policy->dense_steps, policy->steps);
}

static int generate(gen_args *ap, vs_dist *dist);

// Binds this rank to its GPU (multi-rank; dies with a hint when a host has more ranks than GPUs
// and VS_SHARE_GPU is not set) and sets up the CUDA op backend on it. 0, or -1 after a message.
static int start_cuda(vs_dist *dist) {
#ifdef VS_HAVE_CUDA
    const int gpu = dist ? vs_dist_bind_device(dist, 0) : 0;
    if (vs_ops_cuda_init(gpu) != 0) {
        fprintf(stderr, "vidsparse generate: %s\n", vs_last_error());
        return -1;
    }
    VS_INFO("device: cuda %d (%s)%s", gpu, vs_cuda_device_name(),
            dist && dist->local_size > vs_cuda_device_count() ? ", shared with other ranks" : "");
    return 0;
#else
    (void)dist;
    fprintf(stderr, "vidsparse generate: this build has no CUDA; use --device cpu\n");
    return -1;
#endif
}

// Parses, starts MPI when the run is multi-rank, runs, and finalises MPI on every path.
int cmd_generate(int argc, char **argv) {
    gen_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc) return rc;
    char launched[16];
    snprintf(launched, sizeof launched, "%d", vs_dist_launcher_size());
    if (!a.ulysses && vs_dist_launcher_size() > 1)
        return bad_arg("launched as one of %s ranks but no layout given: add --ulysses N "
                       "(ranks = N, or 2N with --cfg-parallel)%s", launched, "");
    if (!a.ulysses) return generate(&a, NULL);
    vs_dist dist;
    vs_dist_init(&dist);
    rc = generate(&a, &dist);
    // A rank that fails may leave others waiting in a collective: unless all failed, end them all.
    if (rc != 0) vs_dist_fail(rc);
    vs_dist_finalize(&dist);
    return rc;
}

static int generate(gen_args *ap, vs_dist *dist) {
    gen_args a = *ap;
    int rc = 0;
    if (a.verbose) vs_log_set_level(VS_LOG_DEBUG);

    // ---- small files: config, preset, prompt embeddings, all checked before the model loads
    double t_load = vs_now_seconds();
    vs_wan_config cfg;
    if (a.config) {
        if (vs_wan_config_load(&cfg, a.config) != 0) {
            fprintf(stderr, "vidsparse generate: %s\n", vs_last_error());
            return 2;
        }
    } else {
        cfg = wan_tiny_config();
        if (a.tiny_heads) cfg.num_heads = a.tiny_heads;
    }
    if (wan_config_validate(&cfg) != 0) {
        fprintf(stderr, "vidsparse generate: model config: %s\n", vs_last_error());
        return 2;
    }
    const int head_dim = cfg.dim / cfg.num_heads;
    if (a.device == VS_DEV_CUDA && head_dim != 64 && head_dim != 128) {
        fprintf(stderr, "vidsparse generate: --device cuda: the GPU attention kernels take head_dim 64 "
                        "or 128, this model has %d (%d heads of width %d)%s; use --device cpu\n",
                head_dim, cfg.num_heads, cfg.dim, a.tiny ? ": for the tiny model use --tiny-heads 1 or 2" : "");
        return 2;
    }
    // The rank layout, before anything is loaded: every rank sees the same arguments and
    // reaches the same verdict; rank 0 says why.
    if (dist && vs_layout_check(dist->world, a.ulysses, a.cfg_parallel ? 2 : 1, cfg.num_heads) != 0) {
        if (dist->rank == 0) fprintf(stderr, "vidsparse generate: %s\n", vs_last_error());
        return 2;
    }
    const int64_t grid_tokens = (int64_t)((a.frames - 1) / 4 + 1) * (a.height / 16) * (a.width / 16);
    if (dist && grid_tokens < a.ulysses) {
        if (dist->rank == 0)
            fprintf(stderr, "vidsparse generate: --ulysses %d exceeds the %lld tokens of a %dx%d, %d-frame "
                            "video: every rank needs at least one token; use a smaller --ulysses\n",
                    a.ulysses, (long long)grid_tokens, a.width, a.height, a.frames);
        return 2;
    }
    vs_svg2_preset preset = vs_svg2_tiny_preset();
    if (a.svg2_preset && vs_svg2_preset_load(&preset, a.svg2_preset) != 0) {
        fprintf(stderr, "vidsparse generate: %s\n", vs_last_error());
        return 2;
    }
    double t_text = vs_now_seconds();
    vs_tensor context[VS_BRANCHES] = {{0}};
    int has_uncond = 1;
    if (a.prompt_embeds) {
        vs_st_file f;
        int crc = vs_st_open(&f, a.prompt_embeds);
        if (crc == 0) {
            crc = read_context(&f, "context", &cfg, 0, &context[VS_BRANCH_COND]);
            if (crc == 0) {
                int n = read_context(&f, "negative_context", &cfg, 1, &context[VS_BRANCH_UNCOND]);
                if (n == 1) has_uncond = 0;
                else crc = n;
            }
            vs_st_close(&f);
        }
        if (crc != 0) {
            fprintf(stderr, "vidsparse generate: %s\n", vs_last_error());
            return 2;
        }
        if (!has_uncond && a.guide_scale != 1.0f)
            VS_WARN("%s has no \"negative_context\": guidance is off (one pass per step)",
                    a.prompt_embeds);
    } else {
        context[VS_BRANCH_COND] = builtin_context(&cfg, VS_BRANCH_COND);
        context[VS_BRANCH_UNCOND] = builtin_context(&cfg, VS_BRANCH_UNCOND);
    }
    t_text = vs_now_seconds() - t_text;
    if (a.cfg_parallel && !(has_uncond && a.guide_scale != 1.0f)) {
        if (dist->rank == 0)
            fprintf(stderr, "vidsparse generate: --cfg-parallel needs guidance (a negative context and "
                            "--guide-scale != 1); without it there is one branch: drop --cfg-parallel\n");
        for (int b = 0; b < VS_BRANCHES; b++)
            if (context[b].data) vs_tensor_free(&context[b]);
        return 2;
    }

    const int T = (a.frames - 1) / 4 + 1, H = a.height / 8, W = a.width / 8;
    const int64_t tokens = (int64_t)T * (H / 2) * (W / 2);
    VS_INFO("generate: model %s (dim %d, %d layers, %d heads), %dx%d, %d frames -> latent "
            "[%d, %d, %d, %d], %lld tokens", a.tiny ? "tiny (random weights)" : model_name(&a), cfg.dim,
            cfg.num_layers, cfg.num_heads, a.width, a.height, a.frames, cfg.out_dim, T, H, W,
            (long long)tokens);
    VS_INFO("generate: %d steps, %s, shift %g, guide scale %g, seed %llu, attention %s", a.steps,
            vs_sampler_name(a.sampler), a.shift, a.guide_scale, (unsigned long long)a.seed,
            a.attention == VS_ATTENTION_SVG2 ? "svg2" : "dense");
    if (a.attention == VS_ATTENTION_SVG2)
        VS_INFO("svg2: %s: C_q %d, C_k %d, top_p %g, min_kc_ratio %g, k-means %d/%d iterations, "
                "dense for the first %d steps and the first %d layers",
                a.svg2_preset ? a.svg2_preset : "built-in tiny preset", preset.params.C_q,
                preset.params.C_k, preset.params.top_p, preset.params.min_kc_ratio,
                preset.params.iters_cold, preset.params.iters_warm,
                vs_dense_step_count(preset.dense_step_fraction, a.steps), preset.dense_layers);

    // ---- the VAE for video output, loaded before the long work so a bad one fails now (on
    // rank 0 only, which decodes; a failure there aborts the whole job, see cmd_generate)
    vs_wan_vae vae = {0};
    if (a.video && (!dist || dist->rank == 0)) {
        if (vs_wan_vae_open(&vae, a.vae) != 0) {
            fprintf(stderr, "vidsparse generate: loading the VAE %s: %s\n", a.vae, vs_last_error());
            return 2;
        }
        if (vae.cfg.z_dim != cfg.out_dim) {
            fprintf(stderr, "vidsparse generate: the VAE %s takes %d latent channels, the model makes %d\n",
                    a.vae, vae.cfg.z_dim, cfg.out_dim);
            return 2;
        }
    }

    // ---- the device: each rank on its own GPU (or sharing one with VS_SHARE_GPU=1), then the
    // CUDA op backend once for the run
    if (a.device == VS_DEV_CUDA && start_cuda(dist) != 0) {
        vs_wan_vae_free(&vae);
        for (int b = 0; b < VS_BRANCHES; b++)
            if (context[b].data) vs_tensor_free(&context[b]);
        return 2;
    }

    // ---- the model
    wan_model model;
    if (a.tiny || a.random_weights) {
        if (wan_model_random(&model, &cfg, RANDOM_WEIGHTS_SEED, a.device) != 0) {
            fprintf(stderr, "vidsparse generate: %s\n", vs_last_error());
            return 2;
        }
    } else if (wan_model_load(&model, &cfg, a.model, a.device) != 0) {
        fprintf(stderr, "vidsparse generate: loading %s: %s\n", a.model, vs_last_error());
        return 1;
    }
    t_load = vs_now_seconds() - t_load - t_text;
    VS_INFO("stage load: %.3f s", t_load);
    VS_INFO("stage text context: %.3f s (%s, %lld tokens%s)", t_text,
            a.prompt_embeds ? a.prompt_embeds : "built-in context",
            (long long)context[VS_BRANCH_COND].shape[0],
            has_uncond ? ", with negative context" : "");

    // ---- denoise: one process, or a rank of a Ulysses (x CFG) layout
    vs_attention_policy policy;
    vs_attention_policy_init(&policy, a.attention, &preset, cfg.num_layers, cfg.num_heads, 0,
                             head_dim, a.steps);
    const int64_t lshape[4] = {cfg.out_dim, T, H, W};
    vs_wan_denoiser wd;
    vs_groups groups;
    vs_dist_denoiser dd;
    vs_denoiser den;
    if (dist) {
        // The transport follows the model: host memory -> MPI; CUDA memory -> NCCL, or MPI staged
        // through host buffers when ranks share a GPU (collective: every rank decides alike).
        vs_transport_kind kind = model.device == VS_DEV_CUDA ? vs_transport_kind_for_cuda(dist)
                                                             : VS_TRANSPORT_MPI;
        vs_groups_init(&groups, dist, a.ulysses, a.cfg_parallel ? 2 : 1, cfg.num_heads, kind);
        vs_dist_denoiser_init(&dd, &model, &context[VS_BRANCH_COND],
                              has_uncond ? &context[VS_BRANCH_UNCOND] : NULL, &groups, &policy, lshape);
        den = vs_dist_denoiser_as_denoiser(&dd);
        VS_INFO("layout: %d ranks = %d CFG group%s x Ulysses %d over %s; rank 0 holds tokens "
                "[0, %lld) and heads [0, %d)", dist->world, groups.cfg_degree,
                groups.cfg_degree > 1 ? "s" : "", groups.ulysses_degree, groups.ulysses->name,
                (long long)vs_ulysses_my_tokens(dd.ulysses).count, dd.n_heads);
    } else {
        vs_wan_denoiser_init(&wd, &model, &context[VS_BRANCH_COND],
                             has_uncond ? &context[VS_BRANCH_UNCOND] : NULL, &policy);
        den = vs_wan_denoiser_as_denoiser(&wd);
    }
    vs_device_denoiser on_device;  // the CPU pipeline in front of a model on a.device
    vs_device_denoiser_init(&on_device, den, model.device, lshape);
    den = vs_device_denoiser_as_denoiser(&on_device);
    vs_pipeline_params pp = {cfg.out_dim, T, H, W, a.steps, a.shift, a.guide_scale, a.seed,
                             a.sampler, has_uncond};
    vs_tensor latent = vs_tensor_new(VS_F32, VS_DEV_CPU, 4, lshape);
    vs_progress progress;
    vs_progress_init(&progress, stdout);
    const int rank0 = !dist || dist->rank == 0;
    vs_pipeline_timings tm;
    rc = vs_pipeline_run(&pp, &den, &policy, rank0 ? vs_progress_update : NULL, &progress, &latent, &tm);
    if (rc != 0) {
        fprintf(stderr, "vidsparse generate: denoising failed: %s\n", vs_last_error());
        rc = 1;
    } else {
        VS_INFO("stage denoise: %.3f s (%d steps, %d forwards, %.3f s/step; model %.3f s, "
                "sampler %.3f s)", tm.denoise_s, a.steps, tm.forwards, tm.denoise_s / a.steps,
                tm.forward_s, tm.sampler_s);
        if (dist) {
            vs_dist_denoiser_report_comm(&dd, tm.denoise_s);
            vs_dist_denoiser_collect_density(&dd);
        }
        if (a.attention == VS_ATTENTION_SVG2) report_density(&policy);
        // The latent is replicated: rank 0 alone writes it (and decodes it).
        if (rank0) rc = write_outputs(&a, &latent, &vae);
    }
    vs_wan_vae_free(&vae);
    vs_tensor_free(&latent);
    vs_device_denoiser_free(&on_device);
    if (dist) {
        vs_dist_denoiser_free(&dd);
        vs_groups_free(&groups);
    } else {
        vs_wan_denoiser_free(&wd);
    }
    vs_attention_policy_free(&policy);
    wan_model_free(&model);
    for (int b = 0; b < VS_BRANCHES; b++)
        if (context[b].data) vs_tensor_free(&context[b]);
#ifdef VS_HAVE_CUDA
    if (a.device == VS_DEV_CUDA) vs_ops_cuda_shutdown();
#endif
    return rc;
}
