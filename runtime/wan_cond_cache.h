// A denoiser's conditioning for one run, so that the run computes none of it twice: the text
// part of each CFG branch's prompt (wan_text, the costly part: text MLP and every block's
// cross-attention K/V over text_len rows) is built on that branch's first velocity call and kept
// until the run ends; the timestep part (wan_cond) is built when the timestep changes and shared
// by both branches (the pipeline asks cond, then uncond, at each timestep).
//
// Usage (vs_wan_denoiser, vs_dist_denoiser):
//   wan_cond_cache cc;  wan_cond_cache_init(&cc, &model);
//   per velocity call:  wan_cond_cache_get(&cc, branch, context[branch], t, &cond, &text);
//                       wan_forward(&model, cond, text, ...);
//   at the end:         wan_cond_cache_free(&cc);
#pragma once
#include "runtime/vs_attention_policy.h"  // VS_BRANCHES
#include "runtime/wan_model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const wan_model *model;
    wan_text text[VS_BRANCHES];  // per branch; cross_k.data is NULL until its first call
    wan_cond cond;               // of cond.timestep; mod.data is NULL until the first call
} wan_cond_cache;

void wan_cond_cache_init(wan_cond_cache *cc, const wan_model *model);
// The cond of timestep t and the text of `branch`. context: that branch's [Lt, text_dim] f32 CPU
// prompt, read only on the branch's first call (a branch keeps its prompt for the whole run).
// The pointers stay valid until the next call with another t, or wan_cond_cache_free.
// Returns 0, or -1 + message (bad context shape, negative t).
int wan_cond_cache_get(wan_cond_cache *cc, int branch, const vs_tensor *context, int64_t t,
                       const wan_cond **cond, const wan_text **text);
void wan_cond_cache_free(wan_cond_cache *cc);

#ifdef __cplusplus
}
#endif
