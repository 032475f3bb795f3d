// The multi-rank denoiser behind `vidsparse generate --ulysses N [--cfg-parallel]`: the same
// vs_denoiser interface the single-process pipeline uses (runtime/vs_pipeline.h), so the
// denoising loop, CFG formula and sampler are the pipeline's own and run identically, on the
// replicated latent, on every rank.
//
// Per velocity call, on each rank of a Ulysses group:
//   wan_forward on this rank's token shard, self-attention through the Ulysses hook
//   (parallel/vs_ulysses.h) -> the attention policy on this rank's whole heads;
//   the velocity rows of the shard -> all-gathered over the group -> unpatchified.
// With --cfg-parallel the conditional branch runs on ranks [0, U) and the unconditional on
// [U, 2U); the pipeline's "cond" call runs this rank's branch and swaps velocities with the
// paired rank (vs_cfg_exchange); its "uncond" call returns the partner's result.
//
// Devices: x and v of the velocity calls, the model, the Q/K/V exchange (in the model's
// activation dtype: f32 on the CPU, bf16 on CUDA) and every transport buffer live on the model's
// device; the transport must move that memory (CUDA: NCCL, or MPI staged through the host when
// ranks share a GPU). cmd_generate wraps this denoiser in a vs_device_denoiser, so the pipeline's
// latent stays on the CPU.
//
// Layout invariance: this rank's heads go through an attention policy of their own (centroid
// caches per layer, branch and head) whose head0 is the global index of its first head; the
// SVG2 operator seeds k-means by global head and converges per head, so a head's result does not
// depend on which heads share its rank. Every layout, the single process included, computes the
// same latent bit for bit (tests/test_invariance.sh).
#pragma once
#include "parallel/vs_groups.h"
#include "parallel/vs_ulysses.h"
#include "runtime/vs_pipeline.h"
#include "runtime/wan_cond_cache.h"
#include "runtime/wan_model.h"

typedef struct {
    const wan_model *model;
    const vs_tensor *context[VS_BRANCHES];  // [L, text_dim] f32 CPU; uncond may be NULL
    wan_cond_cache conds;                   // text per branch (built once), cond per timestep
    vs_groups *groups;
    vs_ulysses *ulysses;
    vs_ulysses_hook_ctx hook_ctx;
    vs_attention_policy *master;  // the run's policy (all heads): step index in, density report out
    vs_attention_policy heads;    // this rank's heads [head0, head0 + n_heads)
    int n_heads, head0;
    int branch;                   // the branch of the forward in progress
    vs_tensor rows_local;         // [n_local, out_dim * 4]
    vs_tensor rows_full;          // [tokens, out_dim * 4]
    vs_tensor mine, both;         // [C*T*H*W], [2, C*T*H*W]   CFG exchange (cfg_degree 2), transport memory
} vs_dist_denoiser;

// latent_shape: [C, T, H, W] of the run (fixes the token count for the exchange buffers).
void vs_dist_denoiser_init(vs_dist_denoiser *d, const wan_model *model, const vs_tensor *cond,
                           const vs_tensor *uncond, vs_groups *groups,
                           vs_attention_policy *master, const int64_t latent_shape[4]);
void vs_dist_denoiser_free(vs_dist_denoiser *d);
vs_denoiser vs_dist_denoiser_as_denoiser(vs_dist_denoiser *d);
// Fills the master policy's density figures from every head on every rank (collective).
void vs_dist_denoiser_collect_density(vs_dist_denoiser *d);
// Seconds this rank has spent inside the denoiser's collectives so far (Ulysses group and CFG
// pair, each transport's `seconds`: host clock from issue to completion), and their count.
double vs_dist_denoiser_comm_seconds(const vs_dist_denoiser *d, long *calls);
// Logs (rank 0) the time the ranks spent inside collectives during a stage of `stage_s` seconds:
// the largest and the mean over ranks, and their share of the stage (collective).
void vs_dist_denoiser_report_comm(const vs_dist_denoiser *d, double stage_s);
