// `vidsparse decode LATENTS -o OUT.mp4`: normalised latents (as `vidsparse generate` writes
// them) through the Wan VAE decoder into a video file.
//
// Order: every argument and the latents' shape are checked first (exit 2), then the VAE loads
// and its channel count is checked against the latents, then decoding streams frames into the
// video writer (exit 1 on a failure there).
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launch/args.h"
#include "launch/commands.h"
#include "launch/video_args.h"
#include "runtime/vs_check.h"
#include "runtime/vs_log.h"
#include "runtime/vs_safetensors.h"
#include "runtime/wan_vae_cuda.h"
#include "runtime/wan_vae_video.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: vidsparse decode LATENTS.safetensors -o OUT.mp4 [options]\n\n"
            "Decodes latents [16, T, H, W] (tensor \"latents\", as `vidsparse generate -o x.safetensors`\n"
            "writes them) with the Wan 2.1 VAE into a video of 1 + 4(T-1) frames of 8H x 8W.\n\n"
            "  -o, --output FILE      .mp4 (H.264 yuv420p; .mkv/.mov also work) or .y4m (YUV4MPEG2 4:4:4)\n"
            "%s"
            "  --device cpu|cuda      where the decoder runs (default cuda when this build has CUDA and a\n"
            "                         GPU is visible, else cpu); cuda: TF32 convolutions, docs/video.md\n"
            "  -v, --verbose          debug log lines\n"
            "  -h, --help             this text\n\n"
            "--vae defaults to tiny when the latents came from `generate --model tiny`.\n"
            "examples:\n"
            "  vidsparse decode latents.safetensors -o out.mp4 --vae Wan2.1-T2V-1.3B-Diffusers/vae\n"
            "  vidsparse decode tiny.safetensors -o tiny.mp4 --vae tiny\n",
            vs_video_option_help);
}

static int bad_arg(const char *fmt, const char *a) {
    fprintf(stderr, "vidsparse decode: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, "\n(vidsparse decode --help lists every option)\n");
    return 2;
}

// 1 when the latents file's metadata says it came from the tiny model.
static int latents_from_tiny(const char *path) {
    vs_st_file f;
    if (vs_st_open(&f, path) != 0) return 0;
    int tiny = 0;
    cJSON *meta = f.metadata_json ? cJSON_Parse(f.metadata_json) : NULL;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(meta, "model");
    if (cJSON_IsString(model) && !strcmp(model->valuestring, "tiny")) tiny = 1;
    cJSON_Delete(meta);
    vs_st_close(&f);
    return tiny;
}

int cmd_decode(int argc, char **argv) {
    const char *input = NULL, *output = NULL, *vae_path = NULL, *device_arg = NULL;
    vs_video_options vo;
    vs_video_options_default(&vo);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
            vs_log_set_level(VS_LOG_DEBUG);
            continue;
        }
        const int takes_value = !strcmp(arg, "-o") || !strcmp(arg, "--output") || !strcmp(arg, "--vae") ||
                                !strcmp(arg, "--device") || !strcmp(arg, "--fps") || !strcmp(arg, "--crf");
        if (!takes_value) {
            if (arg[0] == '-') return bad_arg("unknown option '%s'", arg);
            if (input) return bad_arg("more than one input file ('%s')", arg);
            input = arg;
            continue;
        }
        if (i + 1 >= argc) return bad_arg("%s needs a value", arg);
        const char *val = argv[++i];
        if (!strcmp(arg, "-o") || !strcmp(arg, "--output")) output = val;
        else if (!strcmp(arg, "--vae")) vae_path = val;
        else if (!strcmp(arg, "--device")) device_arg = val;
        else if (!strcmp(arg, "--fps")) {
            if (vs_arg_int(val, 1, 1000, &vo.fps)) return bad_arg("--fps '%s': must be an integer in 1..1000", val);
        } else if (vs_arg_int(val, 0, 51, &vo.crf))
            return bad_arg("--crf '%s': must be an integer in 0..51", val);
    }
    vs_device device = VS_DEV_CPU;
    if (device_arg) {
        if (vs_wan_vae_parse_device(device_arg, &device)) return bad_arg("--device '%s': must be cpu or cuda", device_arg);
        if (device == VS_DEV_CUDA && !vs_wan_vae_gpu_available())
            return bad_arg("--device cuda: %s (use --device cpu)",
#ifdef VS_HAVE_CUDA
                           "no CUDA GPU is visible (check nvidia-smi, CUDA_VISIBLE_DEVICES)"
#else
                           "this vidsparse was built without CUDA"
#endif
            );
    } else {
        device = vs_wan_vae_default_device();
    }
    if (!input) return bad_arg("missing the latents file%s", "");
    if (!output) return bad_arg("missing -o OUT.mp4%s", "");
    if (!vs_is_file(input)) return bad_arg("'%s': no such file", input);
    if (vs_output_kind_of(output) != VS_OUT_VIDEO)
        return bad_arg("-o '%s': name a video file: .mp4 (or .mkv, .mov) or .y4m", output);
    const char *dir_problem = vs_output_dir_problem(output);
    if (dir_problem) return bad_arg("-o: %s", dir_problem);
    if (!vae_path) {
        if (!latents_from_tiny(input))
            return bad_arg("missing --vae DIR (the diffusers vae/ folder of a Wan 2.1 model), or --vae tiny%s", "");
        vae_path = "tiny";
    }
    if (strcmp(vae_path, "tiny") && !vs_is_file(vae_path) && !vs_is_dir(vae_path))
        return bad_arg("--vae '%s': no such file or folder (or use --vae tiny)", vae_path);

    float *z = NULL;
    int c, t, h, w;
    if (vs_latents_read(input, &z, &c, &t, &h, &w) != 0) {
        fprintf(stderr, "vidsparse decode: %s\n", vs_last_error());
        return 2;
    }
    vs_wan_vae vae;
    if (vs_wan_vae_open(&vae, vae_path) != 0) {
        fprintf(stderr, "vidsparse decode: loading the VAE: %s\n", vs_last_error());
        free(z);
        return 2;
    }
    char desc[256];
    VS_INFO("decode: VAE %s (%s)", vae_path, vs_wan_vae_describe(&vae, desc, sizeof desc));
    int rc = 0;
    if (c != vae.cfg.z_dim) {
        fprintf(stderr, "vidsparse decode: %s has %d latent channels but the VAE takes %d\n", input, c, vae.cfg.z_dim);
        rc = 2;
    } else if (vs_wan_vae_decode_to_video(&vae, device, z, t, h, w, output, &vo, NULL, 0, NULL) != 0) {
        fprintf(stderr, "vidsparse decode: %s\n", vs_last_error());
        rc = 1;
    }
    vs_wan_vae_free(&vae);
    free(z);
    return rc;
}
