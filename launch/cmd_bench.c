// `vidsparse bench <what>`: dispatch to one benchmark.
#include <stdio.h>
#include <string.h>

#include "launch/commands.h"
#include "launch/bench.h"

static const vs_command benches[] = {
    {"attention", "SVG2 stages, dense and sparse attention kernels (GPU)", vs_bench_attention},
    {"comm", "all-to-all time, algbw and busbw over message sizes (MPI or NCCL)", vs_bench_comm},
    {"step", "one Wan denoising step (CFG) on a GPU or MPI ranks (--ulysses): dense vs SVG2, op classes, comm", vs_bench_step},
    {"decode", "Wan VAE decoder at a real video size: time, TFLOP/s, peak memory (GPU)", vs_bench_decode},
};
static const int n_benches = (int)(sizeof benches / sizeof benches[0]);

int vs_cmd_bench(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout, "usage: vidsparse bench <what> [options]\n\n");
        for (int i = 0; i < n_benches; i++)
            fprintf(argc < 2 ? stderr : stdout, "  %-10s %s\n", benches[i].name, benches[i].summary);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 0; i < n_benches; i++)
        if (!strcmp(argv[1], benches[i].name)) return benches[i].run(argc - 1, argv + 1);
    fprintf(stderr, "vidsparse bench: unknown benchmark '%s' (try: vidsparse bench --help)\n", argv[1]);
    return 2;
}
