// vidsparse: generate video with diffusion transformers and SVG2 sparse attention.
//
//   vidsparse generate --model tiny -o tiny.mp4
//   vidsparse bench attention|step|comm ...
//   mpirun -np 8 vidsparse generate ... --ulysses 4 --cfg-parallel
#include <stdio.h>
#include <string.h>

#include "launch/commands.h"

#ifndef VS_VERSION
#define VS_VERSION "0.1.0"
#endif

static int cmd_version(int argc, char **argv);

static const vs_command commands[] = {
    {"version", "print the version and the backends built in", cmd_version},
    {"generate", "denoise a video latent from prompt embeddings (--model tiny: no files needed)", cmd_generate},
    {"decode", "decode latents with the Wan VAE into a video file (.mp4, .y4m)", cmd_decode},
    {"bench", "benchmarks: attention (SVG2 kernels), step (one denoising step), comm (all-to-all), decode (VAE)", vs_cmd_bench},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

static void usage(FILE *out) {
    fprintf(out, "vidsparse %s: video diffusion transformers with SVG2 sparse attention\n\n"
                 "usage: vidsparse <command> [options]   (vidsparse <command> --help for its options)\n\n"
                 "commands:\n", VS_VERSION);
    for (int i = 0; i < n_commands; i++) fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

static int cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("vidsparse %s\nbackends: cpu", VS_VERSION);
#ifdef VS_HAVE_CUDA
    printf(" cuda");
#endif
#ifdef VS_HAVE_MPI
    printf(" mpi");
#endif
#ifdef VS_HAVE_NCCL
    printf(" nccl");
#endif
#ifdef VS_HAVE_FFMPEG
    printf(" ffmpeg");
#endif
    printf("\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) return cmd_version(argc - 1, argv + 1);
    for (int i = 0; i < n_commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "vidsparse: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
