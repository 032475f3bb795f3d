#include "runtime/vs_attention_single.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/vs_attention_policy_cuda.h"
#include "runtime/vs_check.h"

void vs_attention_single_init(vs_attention_single *s, vs_attention_policy *policy) {
    memset(s, 0, sizeof *s);
    s->policy = policy;
    s->branch = VS_BRANCH_COND;
}

void vs_attention_single_free(vs_attention_single *s) {
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->out);
    memset(s, 0, sizeof *s);
}

// [n, H, D] -> [H, n, D]
static void tokens_to_heads(const float *src, int64_t n, int H, int D, float *dst) {
    for (int64_t i = 0; i < n; i++)
        for (int h = 0; h < H; h++)
            memcpy(dst + ((size_t)h * n + i) * D, src + ((size_t)i * H + h) * D, sizeof(float) * D);
}

// [H, n, D] -> [n, H, D]
static void heads_to_tokens(const float *src, int64_t n, int H, int D, float *dst) {
    for (int h = 0; h < H; h++)
        for (int64_t i = 0; i < n; i++)
            memcpy(dst + ((size_t)i * H + h) * D, src + ((size_t)h * n + i) * D, sizeof(float) * D);
}

static void single_self_attention(void *ctx, int layer, const vs_tensor *q, const vs_tensor *k,
                                  const vs_tensor *v, vs_tensor *out) {
    vs_attention_single *s = ctx;
    vs_attention_policy *p = s->policy;
    const int H = p->heads, D = p->head_dim;
    VS_ASSERT(q->ndim == 3 && q->shape[1] == H && q->shape[2] == D,
              "self-attention q must be [n, heads, head_dim] as the policy was set up");
    if (q->device == VS_DEV_CUDA) {  // bf16 on the GPU: read and written token-major in place
        vs_attention_policy_run_tokens_cuda(p, layer, s->branch, q, k, v, out);
        return;
    }
    VS_ASSERT(q->device == VS_DEV_CPU && q->dtype == VS_F32,
              "the single-process hook transposes f32 CPU tensors (bf16 GPU tensors go to the GPU path)");
    const int64_t n = q->shape[0], numel = n * H * D;
    VS_ASSERT(vs_tensor_numel(k) == numel && vs_tensor_numel(v) == numel &&
                  vs_tensor_numel(out) == numel, "q, k, v and out must hold n * heads * head_dim");
    if (numel > s->capacity) {
        size_t bytes = sizeof(float) * (size_t)numel;
        free(s->q); free(s->k); free(s->v); free(s->out);
        s->q = vs_malloc(bytes);
        s->k = vs_malloc(bytes);
        s->v = vs_malloc(bytes);
        s->out = vs_malloc(bytes);
        s->capacity = numel;
    }
    tokens_to_heads(q->data, n, H, D, s->q);
    tokens_to_heads(k->data, n, H, D, s->k);
    tokens_to_heads(v->data, n, H, D, s->v);
    const int64_t shape[3] = {H, n, D};
    vs_tensor qh = vs_tensor_view(s->q, VS_F32, VS_DEV_CPU, 3, shape);
    vs_tensor kh = vs_tensor_view(s->k, VS_F32, VS_DEV_CPU, 3, shape);
    vs_tensor vh = vs_tensor_view(s->v, VS_F32, VS_DEV_CPU, 3, shape);
    vs_tensor oh = vs_tensor_view(s->out, VS_F32, VS_DEV_CPU, 3, shape);
    vs_attention_policy_run(p, layer, s->branch, &qh, &kh, &vh, &oh);
    heads_to_tokens(s->out, n, H, D, out->data);
}

vs_attention_hook vs_attention_single_hook(vs_attention_single *s) {
    vs_attention_hook hook = {s, single_self_attention};
    return hook;
}
