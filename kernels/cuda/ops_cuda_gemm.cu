// vs_linear on the GPU: out[M, N] = act(x[M, K] . w[N, K]^T + b[N]) through one cuBLASLt matmul.
//
// Layout: cuBLAS is column-major, so the row-major product is computed as its transpose,
// out^T [N, M] = w [N, K] (read as K x N, transposed) . x^T [K, M]; bias runs along N, which is
// the "rows" of cuBLASLt's D, as its bias epilogue expects.
//
// Types: w and x bf16 with f32 accumulation (CUBLAS_COMPUTE_32F), out bf16 or f32 as the out
// tensor says; or everything f32 (the time MLP and the head, kept f32 by the precision plan; no
// TF32). An x whose dtype differs from w's is converted to w's dtype first.
//
// Epilogues: bias and GELU(-tanh) are fused into the GEMM (CUBLASLT_EPILOGUE_BIAS / GELU_BIAS,
// f32 bias); SiLU has no cuBLASLt epilogue and runs as a pointwise pass (only the M = 1 time MLP
// uses it). A plan (descriptors + heuristic's best algorithm for the workspace) is built once per
// (shape, dtypes, epilogue, pointer alignment) and cached. If cuBLASLt offers no algorithm for a
// plan (odd sizes or alignments), the GEMM falls back to cublasGemmEx plus a bias/activation
// kernel, so every shape the op layer accepts runs.
#include <cublasLt.h>
#include <cublas_v2.h>

#include "kernels/cuda/ops_cuda_common.cuh"

#define OPS_CUBLAS_CHECK(call)                                                                \
    do {                                                                                      \
        cublasStatus_t st_ = (call);                                                          \
        if (st_ != CUBLAS_STATUS_SUCCESS)                                                     \
            vs_die(__FILE__, __LINE__, #call, cublasGetStatusString(st_),                     \
                   "check the GPU and the GEMM shapes; CUBLAS_STATUS_NOT_INITIALIZED means "  \
                   "vs_ops_cuda_init was not called");                                        \
    } while (0)

namespace vs_ops {

void unary(vs_tensor *out, const vs_tensor *x, vs_act act);  // ops_cuda_elementwise.cu

namespace {

constexpr size_t WORKSPACE_BYTES = 32u << 20;  // what cuBLASLt suggests for Hopper
constexpr int MAX_PLANS = 128;

struct Plan {
    // key
    int64_t M, N, K;
    cudaDataType_t wt, ot;
    cublasLtEpilogue_t epi;
    int align;
    // value
    bool lt_ok;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t a, b, d;
    cublasLtMatmulAlgo_t algo;
};

struct Gemm {
    cublasLtHandle_t lt = nullptr;
    cublasHandle_t blas = nullptr;
    void *workspace = nullptr;
    Plan plans[MAX_PLANS];
    int n_plans = 0;
} g;

cudaDataType_t cuda_type(const char *what, const vs_tensor *t) {
    if (t->dtype == VS_F32) return CUDA_R_32F;
    if (t->dtype == VS_BF16) return CUDA_R_16BF;
    bad_dtype(what, t);
}

int pointer_align(const void *p) {
    uintptr_t v = (uintptr_t)p;
    int a = 256;
    while (a > 1 && (v & (uintptr_t)(a - 1))) a >>= 1;
    return a;
}

void make_plan(Plan *p) {
    const cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
    OPS_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->desc, compute, CUDA_R_32F));
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    OPS_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    OPS_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    OPS_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &p->epi,
                                                    sizeof p->epi));
    if (p->epi == CUBLASLT_EPILOGUE_BIAS || p->epi == CUBLASLT_EPILOGUE_GELU_BIAS) {
        cudaDataType_t bt = CUDA_R_32F;
        OPS_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(
            p->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt));
    }
    OPS_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->a, p->wt, (uint64_t)p->K, (uint64_t)p->N, p->K));
    OPS_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->b, p->wt, (uint64_t)p->K, (uint64_t)p->M, p->K));
    OPS_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->d, p->ot, (uint64_t)p->N, (uint64_t)p->M, p->N));

    cublasLtMatmulPreference_t pref;
    OPS_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    size_t ws = WORKSPACE_BYTES;
    uint32_t al = (uint32_t)p->align;
    OPS_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    const cublasLtMatmulPreferenceAttributes_t aligns[] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (auto attr : aligns)
        OPS_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attr, &al, sizeof al));
    cublasLtMatmulHeuristicResult_t result;
    int found = 0;
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(g.lt, p->desc, p->a, p->b, p->d, p->d,
                                                       pref, 1, &result, &found);
    OPS_CUBLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
    // No algorithm (NOT_SUPPORTED or zero results) is not an error: the plan falls back.
    p->lt_ok = st == CUBLAS_STATUS_SUCCESS && found > 0;
    if (p->lt_ok) p->algo = result.algo;
}

void destroy_plan(Plan *p) {
    OPS_CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(p->a));
    OPS_CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(p->b));
    OPS_CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(p->d));
    OPS_CUBLAS_CHECK(cublasLtMatmulDescDestroy(p->desc));
}

Plan *find_plan(const Plan &key) {
    for (int i = 0; i < g.n_plans; i++) {
        Plan *p = &g.plans[i];
        if (p->M == key.M && p->N == key.N && p->K == key.K && p->wt == key.wt &&
            p->ot == key.ot && p->epi == key.epi && p->align == key.align)
            return p;
    }
    if (g.n_plans == MAX_PLANS) {  // full: start over (shapes of one run are far fewer)
        for (int i = 0; i < g.n_plans; i++) destroy_plan(&g.plans[i]);
        g.n_plans = 0;
    }
    Plan *p = &g.plans[g.n_plans++];
    *p = key;
    make_plan(p);
    return p;
}

// out[m, n] = act(out[m, n] + b[n]) for the fallback path.
template <class T>
__global__ void bias_act_kernel(T *out, const float *__restrict__ b, int64_t M, int64_t N, int act) {
    const int64_t total = M * N;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        float v = ld(out, i) + (b ? b[i % N] : 0.f);
        if (act == VS_ACT_GELU_TANH) {
            const float c = 0.7978845608028654f;
            v = 0.5f * v * (1.0f + tanhf(c * (v + 0.044715f * v * v * v)));
        } else if (act == VS_ACT_SILU) {
            v = v / (1.0f + expf(-v));
        }
        st(out, i, v);
    }
}

}  // namespace

void gemm_init() {
    OPS_CUBLAS_CHECK(cublasLtCreate(&g.lt));
    OPS_CUBLAS_CHECK(cublasCreate(&g.blas));
    OPS_CUBLAS_CHECK(cublasSetStream(g.blas, stream()));
    OPS_CUDA_CHECK(cudaMalloc(&g.workspace, WORKSPACE_BYTES));
}

void gemm_shutdown() {
    for (int i = 0; i < g.n_plans; i++) destroy_plan(&g.plans[i]);
    g.n_plans = 0;
    if (g.workspace) OPS_CUDA_CHECK(cudaFree(g.workspace));
    if (g.blas) OPS_CUBLAS_CHECK(cublasDestroy(g.blas));
    if (g.lt) OPS_CUBLAS_CHECK(cublasLtDestroy(g.lt));
    g.workspace = nullptr;
    g.blas = nullptr;
    g.lt = nullptr;
}

void linear(vs_tensor *out, const vs_tensor *x, const vs_tensor *w, const vs_tensor *b,
            vs_act act) {
    const char *op = "vs_linear";
    const int64_t N = w->shape[0], K = w->shape[1], M = vs_tensor_numel(x) / K;
    const cudaDataType_t wt = cuda_type(op, w), ot = cuda_type(op, out);
    if (M == 0 || N == 0) return;
    const float *bias = param_f32(op, b);

    // x in w's dtype (a copy only when they differ).
    vs_tensor xc = *x;
    bool converted = x->dtype != w->dtype;
    if (converted) {
        cuda_type(op, x);
        xc = vs_tensor_new(w->dtype, VS_DEV_CUDA, x->ndim, x->shape);
        unary(&xc, x, VS_ACT_NONE);
    }

    Plan key = {};
    key.M = M;
    key.N = N;
    key.K = K;
    key.wt = wt;
    key.ot = ot;
    const bool gelu = act == VS_ACT_GELU_TANH;
    key.epi = bias ? (gelu ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_BIAS)
                   : (gelu ? CUBLASLT_EPILOGUE_GELU : CUBLASLT_EPILOGUE_DEFAULT);
    int align = pointer_align(w->data);
    const void *ptrs[] = {xc.data, out->data, bias};
    for (const void *p : ptrs)
        if (p && pointer_align(p) < align) align = pointer_align(p);
    key.align = align;
    Plan *p = find_plan(key);

    const float one = 1.0f, zero = 0.0f;
    bool done = false;
    if (p->lt_ok) {
        if (bias)
            OPS_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(
                p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
        cublasStatus_t st = cublasLtMatmul(g.lt, p->desc, &one, w->data, p->a, xc.data, p->b,
                                           &zero, out->data, p->d, out->data, p->d, &p->algo,
                                           g.workspace, WORKSPACE_BYTES, stream());
        if (st == CUBLAS_STATUS_SUCCESS) done = true;
        else if (st == CUBLAS_STATUS_NOT_SUPPORTED) p->lt_ok = false;  // use the fallback from now on
        else OPS_CUBLAS_CHECK(st);
        OPS_LAUNCHED("cublasLtMatmul");
    }
    if (!done) {
        VS_ASSERT(M <= 0x7fffffff && N <= 0x7fffffff && K <= 0x7fffffff,
                  "vs_linear: GEMM dimension beyond 2^31 for the cublasGemmEx fallback");
        OPS_CUBLAS_CHECK(cublasGemmEx(g.blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)N, (int)M, (int)K,
                                      &one, w->data, wt, (int)K, xc.data, wt, (int)K, &zero,
                                      out->data, ot, (int)N, CUBLAS_COMPUTE_32F,
                                      CUBLAS_GEMM_DEFAULT));
        if (bias || act != VS_ACT_NONE) {
            const int64_t total = M * N;
            if (out->dtype == VS_F32)
                bias_act_kernel<<<blocks_for(total, 256), 256, 0, stream()>>>(
                    (float *)out->data, bias, M, N, (int)act);
            else
                bias_act_kernel<<<blocks_for(total, 256), 256, 0, stream()>>>(
                    (__nv_bfloat16 *)out->data, bias, M, N, (int)act);
            OPS_LAUNCHED("bias_act_kernel");
        }
    } else if (act == VS_ACT_SILU) {
        unary(out, out, VS_ACT_SILU);  // no cuBLASLt epilogue for SiLU
    }
    if (converted) vs_tensor_free(&xc);
}

}  // namespace vs_ops
