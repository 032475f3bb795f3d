// Which attention each self-attention call gets, and the state SVG2 keeps between calls.
//
// Dense warm-up (svg2-method.md 1.3): denoising steps 0 .. floor(dense_step_fraction * steps) - 1
// and layers 0 .. dense_layers - 1 run dense attention; every other call runs SVG2. SVG2 keeps a
// centroid cache per (layer, CFG branch, head): the first sparse call of a (layer, branch) runs
// cold k-means (iters_cold), later ones start from the cached centroids (iters_warm). Unlike the
// official Wan code, whose one cache per layer alternates between cond and uncond activations,
// the branches have separate caches, so a CFG-parallel layout (branches on different ranks)
// computes exactly what a single process does.
//
// The core entry point, vs_attention_policy_run, works on head-major tensors [heads, S, D] of
// the whole sequence: a single process calls it through vs_attention_single_hook (which
// transposes the model's token-major Q/K/V around it); a Ulysses job calls it after its
// all-to-all, with its local heads. Per layer it records the mean SVG2 density (fraction of the
// S x S score matrix computed, averaged over heads and calls) for the run's report.
//
// Device dispatch for attention lives in one place, vs_attention_policy_run: the CPU runs the
// kernels/cpu operators; a CUDA path (kernels/cuda/) plugs in there.
#pragma once
#include <stdint.h>

#include "kernels/cpu/svg2_cpu.h"
#include "runtime/vs_config.h"
#include "runtime/vs_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { VS_ATTENTION_DENSE = 0, VS_ATTENTION_SVG2 = 1 } vs_attention_mode;

enum { VS_BRANCH_COND = 0, VS_BRANCH_UNCOND = 1, VS_BRANCHES = 2 };

typedef struct {
    vs_attention_mode mode;
    vs_svg2_preset preset;
    int num_layers;
    int heads;        // heads this process runs (all of them in a single process)
    int head0;        // the model's index of the first of them (0 in a single process)
    int head_dim;
    int steps;        // denoising steps of the run
    int dense_steps;  // floor(dense_step_fraction * steps)
    int step;         // the current denoising step (vs_attention_policy_set_step)
    vs_svg2_cache_cpu *caches;  // [num_layers * VS_BRANCHES], allocated on first sparse use
    double *density_sum;        // [num_layers] sum of per-call mean head density
    int64_t *density_calls;     // [num_layers] sparse calls
    double *head_density;       // [heads] scratch
    void *cuda;                 // GPU operator state (runtime/vs_attention_policy_cuda.c) or NULL
} vs_attention_policy;

// "dense" / "svg2"; -1 + message for anything else.
int vs_attention_mode_parse(const char *name, vs_attention_mode *mode);

// The preset for the built-in tiny model (few tokens): C_q 8, C_k 16, top_p 0.9,
// min_kc_ratio 0.1, k-means 50/2 iterations, tol 1e-4, dense_step_fraction 0.25, dense_layers 1.
vs_svg2_preset vs_svg2_tiny_preset(void);

// floor(fraction * steps) as the official scripts compute it (in double, from the decimal the
// preset was written with), clamped to [0, steps].
int vs_dense_step_count(float fraction, int steps);

// heads, head0: this process runs the model's heads head0 .. head0 + heads - 1 (SVG2 seeds its
// k-means start by the model's head index, so a head clusters alike in any rank layout).
void vs_attention_policy_init(vs_attention_policy *p, vs_attention_mode mode,
                              const vs_svg2_preset *preset, int num_layers, int heads, int head0,
                              int head_dim, int steps);
void vs_attention_policy_free(vs_attention_policy *p);
void vs_attention_policy_set_step(vs_attention_policy *p, int step);
// 1 when this (layer, current step) runs dense attention.
int vs_attention_policy_is_dense(const vs_attention_policy *p, int layer);

// q, k, v, out: [heads, S, head_dim], head-major, on one device (f32 on the CPU). branch is
// VS_BRANCH_COND or VS_BRANCH_UNCOND. SVG2 cluster counts are capped at S (a tiny sequence
// cannot hold more clusters than tokens).
void vs_attention_policy_run(vs_attention_policy *p, int layer, int branch, const vs_tensor *q,
                             const vs_tensor *k, const vs_tensor *v, vs_tensor *out);

// Mean SVG2 density of a layer over the run so far; -1 when the layer never ran sparse.
double vs_attention_policy_mean_density(const vs_attention_policy *p, int layer);

#ifdef __cplusplus
}
#endif
