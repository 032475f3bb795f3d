// The Wan 2.1 text-to-video transformer (DiT): weights, loading, built-in random models, forward.
//
// The forward is written once against the op layer (runtime/vs_ops.h) and runs on whatever
// device the weights live on. It works on a token range [tok0, tok0 + n) of the patch grid, so a
// multi-rank job (parallel/) runs one shard per rank: everything but self-attention is per token,
// and self-attention goes through the vs_attention_hook, which sees the shard's Q/K/V (RoPE
// already applied with GLOBAL token positions) and may gather the full sequence.
//
// Usage:
//   wan_model m;  wan_model_load(&m, &cfg, "ckpt_dir", VS_DEV_CPU)  (or wan_model_tiny(&m, 7))
//   wan_text txt; wan_text_init(&txt, &m, &context)       // once per (prompt, model): a whole run
//   wan_cond c;   wan_cond_init(&c, &m, t)                // once per timestep, shared by both prompts
//   wan_forward(&m, &c, &txt, &latent, 0, L, hook, &rows, NULL)  // rows [L, out_dim*4]
//   wan_unpatchify(&rows, &velocity)                       // -> [out_dim, T, H, W]
//   wan_cond_free(&c) after the step, wan_text_free(&txt) at the end of the run.
// Implementation: wan_model.c (weights, random init), wan_load.c (checkpoints), wan_forward.c.
#pragma once
#include <stdint.h>

#include "runtime/vs_attention_hook.h"
#include "runtime/vs_config.h"
#include "runtime/vs_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

// One attention module (self or cross). D = cfg.dim.
typedef struct {
    vs_tensor q_w, k_w, v_w, o_w;  // [D, D]
    vs_tensor q_b, k_b, v_b, o_b;  // [D]
    vs_tensor norm_q, norm_k;      // [D]  RMSNorm weights over the full width
} wan_attn_weights;

typedef struct {
    vs_tensor modulation;        // [6, D]  shift/scale/gate (self-attn), shift/scale/gate (FFN)
    wan_attn_weights self_attn;
    vs_tensor norm3_w, norm3_b;  // [D]     affine LayerNorm ahead of cross-attn (diffusers: norm2)
    wan_attn_weights cross_attn;
    vs_tensor ffn1_w, ffn1_b;    // [F, D], [F]  F = cfg.ffn_dim, followed by GELU-tanh
    vs_tensor ffn2_w, ffn2_b;    // [D, F], [D]
} wan_block_weights;

typedef struct {
    vs_wan_config cfg;
    vs_device device;
    // On the CPU every tensor is f32. On CUDA the [*, K] matrices of linear layers are bf16 and
    // the rest (biases, norms, modulation, time MLP, head) f32 (docs/wan.md, precision plan).
    vs_tensor patch_w, patch_b;    // [D, in_dim*4] (c, dh, dw) flattened Conv3d, [D]
    vs_tensor text1_w, text1_b;    // [D, text_dim], [D]   then GELU-tanh
    vs_tensor text2_w, text2_b;    // [D, D], [D]
    vs_tensor time1_w, time1_b;    // [D, freq_dim], [D]   then SiLU
    vs_tensor time2_w, time2_b;    // [D, D], [D]          -> e
    vs_tensor tproj_w, tproj_b;    // [6D, D], [6D]        SiLU(e) -> e0 [6, D]
    wan_block_weights *blocks;     // [num_layers]
    vs_tensor head_mod;            // [2, D]  shift, scale (added to e, not e0)
    vs_tensor head_w, head_b;      // [out_dim*4, D], [out_dim*4]  rows in (dh, dw, c) order
} wan_model;

// Checks what the forward needs of a config: positive sizes, dim = heads * head_dim with
// head_dim even and >= 6, patch (1, 2, 2), t2v, qk_norm and cross_attn_norm on. 0 or -1 + message.
int wan_config_validate(const vs_wan_config *cfg);

// The built-in tiny model: dim 128 (2 heads x 64), ffn 256, 2 layers, in/out 16, text_dim 64,
// text_len 512, freq_dim 256, eps 1e-6. Runs anywhere in milliseconds per step.
vs_wan_config wan_tiny_config(void);
// Deterministic random weights (vs_normal_at; linear weights ~ N(0, 1/fan_in), biases and
// modulation small, norm weights near 1), on `device`. Same (cfg, seed) -> bit-identical
// weights. Returns -1 + message for a bad config.
int wan_model_random(wan_model *m, const vs_wan_config *cfg, uint64_t seed, vs_device device);
// wan_model_random(m, wan_tiny_config(), seed, VS_DEV_CPU); dies only on out-of-memory.
void wan_model_tiny(wan_model *m, uint64_t seed);

// Loads a checkpoint (a .safetensors file, a sharded *.index.json, or a directory holding one;
// see vs_checkpoint_open) in the official Wan names (patch_embedding, blocks.N.self_attn.q, ...)
// or the diffusers names (condition_embedder..., blocks.N.attn1.to_q, ...), with or without a
// "model.diffusion_model." prefix; any stored float dtype. Every tensor is checked (present,
// shape as cfg implies) before any is read; a failure returns -1 with a message naming the
// tensor (in the checkpoint's own naming) and the file. Weights are converted to f32 on the CPU,
// then placed on `device` (bf16 matrices on CUDA).
int wan_model_load(wan_model *m, const vs_wan_config *cfg, const char *path, vs_device device);
void wan_model_free(wan_model *m);

// The conditioning is split by what it depends on, so nothing is computed twice in a run:
//   wan_text: the prompt part (text MLP, each block's cross-attention K and V), a function of
//             (model, context) only: build it once per prompt at the start of a run and pass it
//             to every forward of that prompt, at every timestep and on every token shard;
//   wan_cond: the timestep part (time MLP, modulations), a function of (model, t) only: build it
//             once per timestep and pass it to the forwards of both CFG branches.
// Both live on the model's device, are read-only to wan_forward (so any number of forwards may
// share them), and must outlive the forwards that use them.

// The prompt part. cross_k and cross_v are in the activation dtype (f32 on the CPU, bf16 on
// CUDA): [layers, text_len, D] each, e.g. 2 x 40 x 512 x 5120 x 2 bytes = 210 MB for the 14B.
typedef struct {
    vs_tensor cross_k;   // [layers, text_len, D]  RMSNorm_k(C Wk + bk) per block
    vs_tensor cross_v;   // [layers, text_len, D]  C Wv + bv per block
} wan_text;

// context: [Lt, text_dim] f32 on the CPU with 0 < Lt <= text_len, zero-padded to text_len rows
// here (cross-attention then attends to all text_len keys, padding included, as the reference
// does); it may be freed once this returns. -1 + message on a bad shape.
int wan_text_init(wan_text *txt, const wan_model *m, const vs_tensor *context);
void wan_text_free(wan_text *txt);

// The timestep part, all f32 on the model's device.
typedef struct {
    int64_t timestep;
    vs_tensor e;         // [D]             time embedding (head modulation source)
    vs_tensor mod;       // [layers, 6, D]  blocks[i].modulation + e0
    vs_tensor head_mod;  // [2, D]          head.modulation + e
} wan_cond;

// t: integer scheduler timestep (e.g. 999), not sigma. -1 + message if t < 0.
int wan_cond_init(wan_cond *c, const wan_model *m, int64_t t);
void wan_cond_free(wan_cond *c);

// Called after each block with the residual stream of the forward's tokens, X [n, D] f32 on
// the model's device. For parity tests and debugging; NULL to skip.
typedef struct {
    void *ctx;
    void (*after_block)(void *ctx, int layer, const vs_tensor *x);
} wan_probe;

// The velocity rows of tokens [tok0, tok0 + n) of the grid (T, H/2, W/2):
//   c    : the timestep's cond, txt : the prompt's text part, both made for this model;
//   x    : the full latent [in_dim, T, H, W] f32 on the model's device (H, W even);
//   hook : self-attention; NULL runs dense attention in the model, which needs the whole
//          sequence (tok0 == 0, n == L);
//   out  : [n, out_dim*4] f32 on the model's device, features in (dh, dw, c) order.
// Returns 0, or -1 + message on bad shapes or range (checked before any compute).
int wan_forward(const wan_model *m, const wan_cond *c, const wan_text *txt, const vs_tensor *x,
                int64_t tok0, int64_t n, const vs_attention_hook *hook, vs_tensor *out,
                const wan_probe *probe);

// rows [T*(H/2)*(W/2), out_dim*4] (the whole grid) -> out [out_dim, T, H, W], both on one device.
void wan_unpatchify(const vs_tensor *rows, vs_tensor *out);

#ifdef __cplusplus
}
#endif
