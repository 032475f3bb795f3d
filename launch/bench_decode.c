// `vidsparse bench decode`: the Wan 2.1 VAE decoder on the GPU at a real video size.
//
// The model has the real channel layout (base 96, dim_mult [1,2,4,4], 2 res blocks, z 16) with
// deterministic random weights (or real ones with --vae), and decodes random normalised latents
// [16, T, H/8, W/8], T = (frames - 1)/4 + 1, one latent frame at a time as the official code does.
// A warm-up decode of 3 latent frames sizes the buffer pool first, so the timed decodes allocate
// nothing. Figures:
//   time        CUDA events on the decoder's stream around vs_wan_vae_gpu_decode (latents from the
//               host, frames left on the GPU, as the diffusers baseline leaves its output tensor)
//   TFLOP/s     GEMM FLOPs issued (2·M·N·K of every conv and attention GEMM) / time
//   peak memory device memory in use after the decode minus before the weights were uploaded
//               (cudaMemGetInfo; the pool never shrinks, so this is the peak), with its parts:
//               weights, pool (activations + conv caches), im2col + attention score buffers
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launch/args.h"
#include "launch/bench.h"
#include "runtime/vs_check.h"
#include "runtime/vs_log.h"
#include "runtime/vs_rng.h"
#include "runtime/wan_vae.h"
#include "runtime/wan_vae_cuda.h"

#ifdef VS_HAVE_CUDA
#include <cuda_runtime_api.h>
#include "runtime/vs_cuda_check.h"
#endif

static void usage(FILE *out) {
    fprintf(out,
            "usage: vidsparse bench decode [--size WxH[,WxH...]] [--frames F] [--random-weights | --vae DIR]\n"
            "                              [--precision bf16|tf32|f32|both] [--repeat N]\n\n"
            "Times the Wan 2.1 VAE decoder on the GPU (one latent frame at a time).\n"
            "  --size WxH,...     video size(s), multiples of 8 (default 832x480; 832x480,1280x720: both)\n"
            "  --frames F         video frames, 1 + 4k (default 81 -> 21 latent frames)\n"
            "  --random-weights   the real channel layout with random weights (the default)\n"
            "  --vae DIR          real weights (a diffusers AutoencoderKLWan folder) instead\n"
            "  --precision P      convolution GEMMs: tf32 (default, as vidsparse decode), bf16, f32, or both\n"
            "                     (bf16 then tf32)\n"
            "  --repeat N         timed decodes after the warm-up (default 2)\n");
}

static int bad(const char *msg, const char *val) {
    fprintf(stderr, "vidsparse bench decode: %s '%s' (vidsparse bench decode --help)\n", msg, val);
    return 2;
}

#ifdef VS_HAVE_CUDA
#define CUDA_OK(call) VS_CUDA_CHECK_HINT(call, "check the GPU (nvidia-smi)")

// vs_wan_vae_gpu_create's precision codes (runtime/wan_vae_cuda.h).
static const char *const precision_names[] = {"bf16", "tf32", "f32"};

static void run_precision(const vs_wan_vae *vae, int precision, const float *z, int t, int h, int w, int repeat) {
    vs_wan_vae_gpu *g;
    VS_TRY(vs_wan_vae_gpu_create(&g, vae, precision), "is a GPU visible? (nvidia-smi)");
    vs_wan_vae_stats st;
    vs_wan_vae_gpu_info info;
    VS_TRY(vs_wan_vae_gpu_decode(g, z, t < 3 ? t : 3, h, w, 1, NULL, NULL, &st), "warm-up decode failed");
    vs_wan_vae_gpu_get_info(g, &info);
    const int mallocs_warm = info.pool_mallocs;
    cudaStream_t stream = (cudaStream_t)info.stream;
    cudaEvent_t e0, e1;
    CUDA_OK(cudaEventCreate(&e0));
    CUDA_OK(cudaEventCreate(&e1));
    double best = 1e30, sum = 0;
    for (int r = 0; r < repeat; r++) {
        CUDA_OK(cudaEventRecord(e0, stream));
        VS_TRY(vs_wan_vae_gpu_decode(g, z, t, h, w, 1, NULL, NULL, &st), "decode failed");
        CUDA_OK(cudaEventRecord(e1, stream));
        CUDA_OK(cudaEventSynchronize(e1));
        float ms;
        CUDA_OK(cudaEventElapsedTime(&ms, e0, e1));
        printf("  run %d: %.1f ms\n", r + 1, ms);
        best = ms < best ? ms : best;
        sum += ms;
    }
    vs_wan_vae_gpu_get_info(g, &info);
    const double gib = 1024.0 * 1024.0 * 1024.0;
    printf("RESULT decode %dx%dx%d %s: best %.1f ms, mean %.1f ms, %.1f TFLOP (GEMM) -> %.0f TFLOP/s; "
           "peak GPU memory %.2f GiB (weights %.2f, pool %.2f, im2col+scores %.2f); cudaMalloc in timed runs: %d\n",
           st.width, st.height, st.frames, precision_names[precision], best, sum / repeat, info.gemm_flops / 1e12,
           info.gemm_flops / 1e12 / (best / 1e3), info.device_used / gib, info.weight_bytes / gib,
           info.pool_bytes / gib, info.scratch_bytes / gib, info.pool_mallocs - mallocs_warm);
    CUDA_OK(cudaEventDestroy(e0));
    CUDA_OK(cudaEventDestroy(e1));
    vs_wan_vae_gpu_destroy(g);
}
#endif

int vs_bench_decode(int argc, char **argv) {
    enum { MAX_SIZES = 8 };
    int widths[MAX_SIZES] = {832}, heights[MAX_SIZES] = {480}, n_sizes = 1;
    int frames = 81, repeat = 2, precision = VS_WAN_VAE_GPU_PRECISION, both = 0;
    const char *vae_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--random-weights")) continue;
        if (i + 1 >= argc) return bad("missing a value after", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--size")) {
            n_sizes = 0;
            for (const char *p = v; *p; n_sizes++) {
                int width, height, used = 0;
                if (n_sizes == MAX_SIZES || sscanf(p, "%dx%d%n", &width, &height, &used) != 2 || width < 8 ||
                    height < 8 || width % 8 || height % 8 || width > 4096 || height > 4096 ||
                    (p[used] && p[used] != ','))
                    return bad("--size must be WxH (or a comma-separated list of up to 8), multiples of 8 up to "
                               "4096, got", v);
                widths[n_sizes] = width;
                heights[n_sizes] = height;
                p += used + (p[used] == ',');
            }
            if (!n_sizes) return bad("--size needs WxH, got", v);
        } else if (!strcmp(a, "--frames")) {
            if (vs_arg_int(v, 1, 1001, &frames) || (frames - 1) % 4)
                return bad("--frames must be 1 + 4k (e.g. 81), got", v);
        } else if (!strcmp(a, "--repeat")) {
            if (vs_arg_int(v, 1, 100, &repeat)) return bad("--repeat must be 1..100, got", v);
        } else if (!strcmp(a, "--precision")) {
            if (!strcmp(v, "bf16")) precision = 0;
            else if (!strcmp(v, "tf32")) precision = 1;
            else if (!strcmp(v, "f32")) precision = 2;
            else if (!strcmp(v, "both")) both = 1;
            else return bad("--precision must be bf16, tf32, f32 or both, got", v);
        } else if (!strcmp(a, "--vae")) {
            vae_path = v;
        } else {
            return bad("unknown option", a);
        }
    }
#ifndef VS_HAVE_CUDA
    (void)vae_path, (void)widths, (void)heights, (void)precision, (void)both;
    fprintf(stderr, "vidsparse bench decode: this vidsparse was built without CUDA; the benchmark needs a GPU\n");
    return 1;
#else
    if (!vs_wan_vae_gpu_available()) {
        fprintf(stderr, "vidsparse bench decode: no CUDA GPU is visible (nvidia-smi, CUDA_VISIBLE_DEVICES)\n");
        return 1;
    }
    vs_wan_vae vae;
    const double t0 = vs_now_seconds();
    if (vae_path) {
        if (vs_wan_vae_load(&vae, vae_path) != 0) {
            fprintf(stderr, "vidsparse bench decode: loading %s: %s\n", vae_path, vs_last_error());
            return 2;
        }
    } else {
        vs_wan_vae_config cfg;
        vs_wan_vae_config_wan21(&cfg);
        VS_TRY(vs_wan_vae_init_random(&vae, &cfg, 20250101), "could not build the random VAE");
    }
    char desc[256];
    printf("bench decode: VAE %s (%s, %.1f M params, ready in %.1f s); chunk 1 latent frame; %d timed run(s) "
           "after a 3-frame warm-up\n", vae_path ? vae_path : "random weights",
           vs_wan_vae_describe(&vae, desc, sizeof desc), vae.n_params / 1e6, vs_now_seconds() - t0, repeat);
    for (int si = 0; si < n_sizes; si++) {
        const int t = (frames - 1) / 4 + 1, h = heights[si] / 8, w = widths[si] / 8;
        printf("latents [16, %d, %d, %d] -> %d frames %dx%d\n", t, h, w, frames, widths[si], heights[si]);
        float *z = vs_malloc((size_t)16 * t * h * w * sizeof(float));
        for (size_t i = 0; i < (size_t)16 * t * h * w; i++) z[i] = vs_normal_at(77, i);
        for (int p = both ? 0 : precision; p <= (both ? 1 : precision); p++) run_precision(&vae, p, z, t, h, w, repeat);
        free(z);
    }
    vs_wan_vae_free(&vae);
    return 0;
#endif
}
