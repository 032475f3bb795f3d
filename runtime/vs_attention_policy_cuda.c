// The attention policy on the GPU: dense (kernels/cuda/attention.h) or SVG2 (kernels/cuda/
// svg2_cuda.h) per (layer, step), as vs_attention_policy_is_dense decides.
//
// Memory. One SVG2 operator state (vs_svg2_cuda) holds every buffer of a call: k-means labels
// and permutations, scores, mask, and four permuted copies of [H, S, D] (400 MB at 480p). Only
// the centroids must survive between calls of one (layer, branch), so there is ONE operator
// state (the worker) and, per site, just its two centroid arrays; before a site runs, the
// worker's centroid pointers are pointed at the site's arrays (no copy). At Wan 1.3B 480p that is
// 7.4 MB per site instead of ~420 MB.
//
// No host synchronisation per call: each site's per-head density is copied into pinned host
// memory behind an event and folded into the per-layer sums the next time that site runs (its
// copy finished a whole forward ago) or when the density is asked for.
//
// Profiling spans (kernels/cuda/ops_cuda.h) split a sparse call into k-means, selection,
// permutation (there and back) and the attention kernel; a dense call is one attention span.
#include "runtime/vs_attention_policy_cuda.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_check.h"

#ifdef VS_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/svg2_cuda.h"
#include "runtime/vs_cuda_check.h"

#define POLICY_CUDA_CHECK(call) \
    VS_CUDA_CHECK_HINT(call, "check the GPU (nvidia-smi) and its free memory")

typedef struct {
    int S;                       // sequence length the worker is sized for (0: none yet)
    vs_svg2_params params;       // the preset's, clusters capped at S
    vs_svg2_cuda worker;         // the buffers of one operator call, shared by every site
    float *own_q, *own_k;        // the worker's own centroid arrays (restored before freeing)
    float **q_cent, **k_cent;    // [sites] device centroid caches, NULL until the site first runs
    int *warm;                   // [sites] the site has run (its centroids are a warm start)
    double *density_host;        // [sites * heads] pinned: the site's last per-head density
    cudaEvent_t *density_ready;  // [sites]
    int *density_pending;        // [sites]
    double *density_sum;         // [layers]
    int64_t *density_calls;      // [layers]
} cuda_state;

static int n_sites(const vs_attention_policy *p) { return p->num_layers * VS_BRANCHES; }

static cuda_state *state_of(vs_attention_policy *p) {
    if (p->cuda) return p->cuda;
    cuda_state *s = vs_calloc(1, sizeof *s);
    int sites = n_sites(p);
    s->q_cent = vs_calloc((size_t)sites, sizeof *s->q_cent);
    s->k_cent = vs_calloc((size_t)sites, sizeof *s->k_cent);
    s->warm = vs_calloc((size_t)sites, sizeof *s->warm);
    s->density_ready = vs_calloc((size_t)sites, sizeof *s->density_ready);
    s->density_pending = vs_calloc((size_t)sites, sizeof *s->density_pending);
    s->density_sum = vs_calloc((size_t)p->num_layers, sizeof *s->density_sum);
    s->density_calls = vs_calloc((size_t)p->num_layers, sizeof *s->density_calls);
    POLICY_CUDA_CHECK(cudaMallocHost((void **)&s->density_host,
                                     (size_t)sites * p->heads * sizeof(double)));
    for (int i = 0; i < sites; i++)
        POLICY_CUDA_CHECK(cudaEventCreateWithFlags(&s->density_ready[i], cudaEventDisableTiming));
    p->cuda = s;
    return s;
}

// Adds a finished site's density to its layer's sum.
static void fold_density(const vs_attention_policy *p, cuda_state *s, int site) {
    if (!s->density_pending[site]) return;
    POLICY_CUDA_CHECK(cudaEventSynchronize(s->density_ready[site]));
    double mean = 0;
    for (int h = 0; h < p->heads; h++) mean += s->density_host[(size_t)site * p->heads + h];
    int layer = site / VS_BRANCHES;
    s->density_sum[layer] += mean / p->heads;
    s->density_calls[layer]++;
    s->density_pending[site] = 0;
}

static void free_worker(const vs_attention_policy *p, cuda_state *s) {
    if (!s->S) return;
    POLICY_CUDA_CHECK(cudaStreamSynchronize((cudaStream_t)vs_cuda_ops_stream()));
    for (int i = 0; i < n_sites(p); i++) {
        fold_density(p, s, i);
        if (s->q_cent[i]) POLICY_CUDA_CHECK(cudaFree(s->q_cent[i]));
        if (s->k_cent[i]) POLICY_CUDA_CHECK(cudaFree(s->k_cent[i]));
        s->q_cent[i] = s->k_cent[i] = NULL;
        s->warm[i] = 0;
    }
    s->worker.km_q.centroids = s->own_q;
    s->worker.km_k.centroids = s->own_k;
    vs_svg2_cuda_free(&s->worker);
    s->S = 0;
}

// Sizes the worker for sequence length S (re-sizing drops every site's cache).
static void ensure_worker(const vs_attention_policy *p, cuda_state *s, int S) {
    if (s->S == S) return;
    free_worker(p, s);
    s->params = p->preset.params;
    if (s->params.C_q > S) s->params.C_q = S;
    if (s->params.C_k > S) s->params.C_k = S;
    VS_TRY(vs_svg2_cuda_init(&s->worker, &s->params, p->heads, S, p->head_dim, p->head0),
           "the SVG2 preset does not fit this sequence and head_dim (see the message above)");
    s->own_q = s->worker.km_q.centroids;
    s->own_k = s->worker.km_k.centroids;
    s->S = S;
}

// q, k, v, out: bf16 device rows in `layout` (head-major [H, S, D] or the model's token-major
// [S, H, D], read and written in place).
static void run_svg2(vs_attention_policy *p, cuda_state *s, int site, const uint16_t *qd,
                     const uint16_t *kd, const uint16_t *vd, uint16_t *out,
                     vs_attention_layout layout) {
    cudaStream_t st = (cudaStream_t)vs_cuda_ops_stream();
    const int H = p->heads, D = p->head_dim;
    vs_svg2_cuda *w = &s->worker;
    if (!s->q_cent[site]) {
        POLICY_CUDA_CHECK(cudaMalloc((void **)&s->q_cent[site],
                                     (size_t)H * s->params.C_q * D * sizeof(float)));
        POLICY_CUDA_CHECK(cudaMalloc((void **)&s->k_cent[site],
                                     (size_t)H * s->params.C_k * D * sizeof(float)));
    }
    fold_density(p, s, site);  // the site's previous call (long finished) before its buffer is reused
    w->km_q.centroids = s->q_cent[site];
    w->km_k.centroids = s->k_cent[site];
    vs_cuda_prof_begin(VS_PROF_KMEANS);
    vs_svg2_cuda_stage_kmeans(w, qd, kd, layout, s->warm[site], st);
    vs_cuda_prof_end();
    vs_cuda_prof_begin(VS_PROF_SELECT);
    vs_svg2_cuda_stage_select(w, st);
    vs_cuda_prof_end();
    vs_cuda_prof_begin(VS_PROF_PERMUTE);
    vs_svg2_cuda_stage_permute(w, qd, kd, vd, layout, st);
    vs_cuda_prof_end();
    vs_cuda_prof_begin(VS_PROF_ATTENTION);
    vs_svg2_cuda_stage_attention(w, st);
    vs_cuda_prof_end();
    vs_cuda_prof_begin(VS_PROF_PERMUTE);
    vs_svg2_cuda_stage_unpermute(w, out, layout, st);
    vs_cuda_prof_end();
    s->warm[site] = 1;
    POLICY_CUDA_CHECK(cudaMemcpyAsync(s->density_host + (size_t)site * H, w->density,
                                      (size_t)H * sizeof(double), cudaMemcpyDeviceToHost, st));
    POLICY_CUDA_CHECK(cudaEventRecord(s->density_ready[site], st));
    s->density_pending[site] = 1;
}

// Self-attention of S rows per head, all four tensors in `layout`: the flash kernel on dense
// layers, SVG2 on the others.
static void run_in_layout(vs_attention_policy *p, int layer, int branch, const vs_tensor *q,
                          const vs_tensor *k, const vs_tensor *v, vs_tensor *out, int S,
                          vs_attention_layout layout) {
    const int H = p->heads, D = p->head_dim;
    if (vs_attention_policy_is_dense(p, layer)) {
        vs_cuda_prof_begin(VS_PROF_ATTENTION);
        VS_TRY(vs_cuda_attention(q->data, k->data, v->data, out->data, H, S, S, D, layout, layout,
                                 layout, (float)(1.0 / sqrt((double)D)),
                                 (vs_cuda_stream)vs_cuda_ops_stream()),
               "the dense attention kernel refused these shapes (head_dim must be 64 or 128)");
        vs_cuda_prof_end();
        return;
    }
    cuda_state *s = state_of(p);
    ensure_worker(p, s, S);
    run_svg2(p, s, layer * VS_BRANCHES + branch, q->data, k->data, v->data, out->data, layout);
}

void vs_attention_policy_run_cuda(vs_attention_policy *p, int layer, int branch,
                                  const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                                  vs_tensor *out) {
    VS_ASSERT(q->dtype == VS_BF16 && k->dtype == VS_BF16 && v->dtype == VS_BF16 &&
                  out->dtype == VS_BF16 && k->device == VS_DEV_CUDA &&
                  v->device == VS_DEV_CUDA && out->device == VS_DEV_CUDA,
              "attention on the GPU takes bf16 q, k, v and out, all on the GPU");
    const int D = p->head_dim, S = (int)q->shape[1];
    const vs_attention_layout heads = {(size_t)S * D, D};  // [H, S, D]
    run_in_layout(p, layer, branch, q, k, v, out, S, heads);
}

void vs_attention_policy_run_tokens_cuda(vs_attention_policy *p, int layer, int branch,
                                         const vs_tensor *q, const vs_tensor *k,
                                         const vs_tensor *v, vs_tensor *out) {
    const int H = p->heads, D = p->head_dim;
    const int64_t n = q->shape[0];
    VS_ASSERT(layer >= 0 && layer < p->num_layers, "layer index out of range");
    VS_ASSERT(branch == VS_BRANCH_COND || branch == VS_BRANCH_UNCOND, "branch must be cond or uncond");
    const int64_t numel = n * H * D;
    VS_ASSERT(q->ndim == 3 && q->shape[1] == H && q->shape[2] == D && vs_tensor_numel(k) == numel &&
                  vs_tensor_numel(v) == numel && vs_tensor_numel(out) == numel,
              "self-attention q must be [n, heads, head_dim] as the policy was set up, and k, v and "
              "out hold n * heads * head_dim");
    VS_ASSERT(n <= INT32_MAX, "sequence too long for 32-bit token indices");
    VS_ASSERT(q->dtype == VS_BF16 && k->dtype == VS_BF16 && v->dtype == VS_BF16 &&
                  out->dtype == VS_BF16 && q->device == VS_DEV_CUDA && k->device == VS_DEV_CUDA &&
                  v->device == VS_DEV_CUDA && out->device == VS_DEV_CUDA,
              "the model's self-attention tensors on the GPU are bf16 on the GPU");
    VS_ASSERT(D == 64 || D == 128,
              "the GPU attention kernels (flash, SVG2) take head_dim 64 or 128; use a Wan config "
              "or run without an attention hook (the model's dense fallback takes any head_dim)");
    const vs_attention_layout tokens = {(size_t)D, H * D};  // [n, H, D], read in place
    run_in_layout(p, layer, branch, q, k, v, out, (int)n, tokens);
}

double vs_attention_policy_cuda_mean_density(const vs_attention_policy *p, int layer) {
    cuda_state *s = p->cuda;
    for (int b = 0; b < VS_BRANCHES; b++) fold_density(p, s, layer * VS_BRANCHES + b);
    if (s->density_calls[layer] == 0) return -1.0;
    return s->density_sum[layer] / (double)s->density_calls[layer];
}

void vs_attention_policy_free_cuda(vs_attention_policy *p) {
    cuda_state *s = p->cuda;
    if (!s) return;
    free_worker(p, s);
    for (int i = 0; i < n_sites(p); i++) POLICY_CUDA_CHECK(cudaEventDestroy(s->density_ready[i]));
    POLICY_CUDA_CHECK(cudaFreeHost(s->density_host));
    free(s->q_cent);
    free(s->k_cent);
    free(s->warm);
    free(s->density_ready);
    free(s->density_pending);
    free(s->density_sum);
    free(s->density_calls);
    free(s);
    p->cuda = NULL;
}

#else  // CPU-only build

static void no_cuda(void) {
    vs_dief(__FILE__, __LINE__, "rebuild where nvcc is found, or run on the CPU",
            "GPU attention requested in a CPU-only build");
}
void vs_attention_policy_run_cuda(vs_attention_policy *p, int layer, int branch,
                                  const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                                  vs_tensor *out) {
    no_cuda();
}
void vs_attention_policy_run_tokens_cuda(vs_attention_policy *p, int layer, int branch,
                                         const vs_tensor *q, const vs_tensor *k,
                                         const vs_tensor *v, vs_tensor *out) {
    no_cuda();
}
double vs_attention_policy_cuda_mean_density(const vs_attention_policy *p, int layer) {
    no_cuda();
    return -1.0;
}
void vs_attention_policy_free_cuda(vs_attention_policy *p) {}

#endif
