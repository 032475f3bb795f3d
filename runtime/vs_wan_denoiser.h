// The single-process denoiser: a Wan model, the two text contexts and the attention policy
// behind a vs_denoiser (runtime/vs_pipeline.h). Each velocity call runs the whole token grid
// through wan_forward with the single-process attention hook set to the call's CFG branch; the
// text part of each branch and the cond of the current timestep come from a wan_cond_cache, so
// the run builds each prompt's text part once (freed by vs_wan_denoiser_free).
#pragma once
#include "runtime/vs_attention_single.h"
#include "runtime/vs_pipeline.h"
#include "runtime/wan_cond_cache.h"
#include "runtime/wan_model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const wan_model *model;
    const vs_tensor *context[VS_BRANCHES];  // [L, text_dim] f32 CPU each; uncond may be NULL
    vs_attention_single attention;
    wan_cond_cache conds;                   // text per branch, cond of the current timestep
    vs_tensor rows;                         // [tokens, out_dim * 4], sized on first use
} vs_wan_denoiser;

// policy: the run's attention policy (its head count = the model's). uncond may be NULL.
void vs_wan_denoiser_init(vs_wan_denoiser *d, const wan_model *model, const vs_tensor *cond,
                          const vs_tensor *uncond, vs_attention_policy *policy);
void vs_wan_denoiser_free(vs_wan_denoiser *d);
vs_denoiser vs_wan_denoiser_as_denoiser(vs_wan_denoiser *d);

#ifdef __cplusplus
}
#endif
