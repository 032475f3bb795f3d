// `vidsparse bench step` internals, shared by its one-process path (launch/bench_step.c) and its
// multi-rank path (launch/bench_step_dist.c): the options, the inputs of a step (model, latent,
// prompts) built alike on both paths, and the timing loop.
#pragma once
#include <stdint.h>

#include "kernels/cuda/ops_cuda.h"  // vs_prof_class (the enum only; calls are CUDA builds only)
#include "runtime/vs_attention_policy.h"
#include "runtime/vs_config.h"
#include "runtime/wan_model.h"

typedef struct {
    const char *config, *model, *preset_path;
    int random_weights;
    int tiny, tiny_heads;  // --model tiny: the built-in tiny config, random weights
    int width, height, frames;
    int dense, svg2;
    int warmup, reps, svg2_warm_steps;
    int timestep;
    vs_device device;
    int gpu;           // GPU index of a one-process run; -1: rank-bound (multi-rank) or CPU
    int ulysses;       // 0: one process, no MPI; else ranks per Ulysses group
    int cfg_parallel;  // 1: CFG branches on two groups
    uint64_t seed;
} step_args;

// What one step works on: the same on every path and every rank (the latent is replicated).
typedef struct {
    vs_wan_config cfg;
    vs_svg2_preset preset;
    int64_t T, H, W, tokens;         // latent grid [T, H, W], tokens T * (H/2) * (W/2)
    wan_model model;
    vs_tensor latent;                // [in_dim, T, H, W] f32 on the model's device
    vs_tensor context[VS_BRANCHES];  // [text_len, text_dim] f32 on the CPU: prompt, negative prompt
    vs_tensor vel[VS_BRANCHES];      // [out_dim, T, H, W] f32 on the model's device
} step_inputs;

// Reads the config and the preset and checks them (no device work). 0, or 2 after a message:
// a file's problem on every rank (a file may be missing on one node only), a problem of the
// arguments only when `speak` (every rank reaches the same verdict; rank 0 says why).
int step_plan(const step_args *a, step_inputs *in, int speak);
// The model (random or loaded) on a->device, the random latent and prompt embeddings. 0 or 2.
int step_inputs_make(const step_args *a, step_inputs *in);
void step_inputs_free(step_inputs *in);

// One CFG step and, on a multi-rank run, this rank's collective time so far.
typedef struct {
    void (*step)(void *ctx);
    void *ctx;
    vs_device device;
    double (*comm_seconds)(void *ctx, long *calls);  // NULL: one process
    int world;                                        // ranks (1: one process)
} step_runner;

typedef struct {
    double median_ms, min_ms, mean_ms;  // step time over the timed steps (multi-rank: slowest rank)
    int profiled;                       // prof_ms filled (CUDA runs)
    double prof_ms[VS_PROF_CLASSES];    // this rank's profiled step, per op class
    double density;                     // SVG2 mean density over the sparse layers; -1: dense
    // Multi-rank only: collective time per timed step (max / mean over ranks), max / mean step,
    // collectives per step on this rank, and this rank's collective time in the profiled step.
    double comm_max_ms, comm_mean_ms, comm_share, collectives, prof_comm_ms;
} step_result;

// Runs `untimed` steps, then a->reps timed ones (progress on stderr, rank 0), then on CUDA one
// profiled step. Multi-rank: every rank calls it (collective).
void step_time(const step_runner *r, const step_args *a, int untimed, const char *name,
               step_result *out);
// Mean of the policy's per-layer density over the layers that ran sparse; -1 when none did.
double step_mean_density(const vs_attention_policy *policy);
// The per-op-class lines of a profiled step (or why there are none).
void step_print_breakdown(const step_result *r, const char *whose);

int step_bench_dist(const step_args *a);  // launch/bench_step_dist.c: the --ulysses path
