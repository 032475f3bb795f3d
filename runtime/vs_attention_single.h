// The single-process self-attention hook: the model's token-major Q/K/V of the whole sequence
// go through the attention policy head-major and come back token-major. (A multi-rank job uses
// parallel/'s Ulysses hook instead, which calls the same vs_attention_policy_run.)
#pragma once
#include <stdint.h>

#include "runtime/vs_attention_hook.h"
#include "runtime/vs_attention_policy.h"

#ifdef __cplusplus
extern "C" {
#endif

// The model's q, k, v [n, heads, D] (n = the whole sequence) are
// transposed to [heads, n, D], run through the policy for the current branch, and the result is
// written back as out [n, heads * D]. Scratch grows on demand and is kept between calls.
typedef struct {
    vs_attention_policy *policy;
    int branch;              // set by the pipeline before each forward
    int64_t capacity;        // floats in each scratch tensor
    float *q, *k, *v, *out;  // [heads, n, D] scratch
} vs_attention_single;

void vs_attention_single_init(vs_attention_single *s, vs_attention_policy *policy);
void vs_attention_single_free(vs_attention_single *s);
vs_attention_hook vs_attention_single_hook(vs_attention_single *s);

#ifdef __cplusplus
}
#endif
