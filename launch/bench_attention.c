// `vidsparse bench attention`: the SVG2 operator stage by stage against dense attention, on the
// GPU, at the shapes of the released models (D = 128, bf16).
//
// Inputs have planted cluster structure (tokens = cluster centre + noise, Q and K sharing the
// clusters: kernels/cuda/svg2_bench_util.h), and several top-p values make the density span
// roughly 5% to 60%. Every stage is timed alone with CUDA events (warm-up runs first, median of
// the timed runs); a whole warm SVG2 call is also captured in a CUDA graph and its replay timed.
// A build without CUDA, or a machine without a GPU, gets one clear message and exit code 1: a
// CPU version at these sizes would take hours and measure nothing the GPU numbers need.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "launch/bench.h"
#include "runtime/vs_svg2_params.h"

#ifdef VS_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/svg2_bench_util.h"
#include "kernels/cuda/svg2_cuda.h"
#include "runtime/vs_cuda_check.h"
#endif

typedef struct {
    const char *name;
    int H, S, C_q, C_k;
} bench_shape;

// C_q / C_k: the released scripts' values (Wan 480p 200/1000, Wan 720p 300/1000, Hunyuan 720p 400/1000).
static const bench_shape shapes[] = {
    {"wan1.3b-480p", 12, 32760, 200, 1000},
    {"wan14b-720p", 40, 75600, 300, 1000},
    {"hunyuan-720p", 24, 119056, 400, 1000},
};
static const int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);

#define MAX_TOP_P 8

typedef struct {
    const char *shape;  // NULL: all
    int iters, warmup;
    float top_p[MAX_TOP_P];
    int n_top_p;
    float min_kc_ratio;
    int planted;
    float noise, q_scale;
    int idle;  // --timing idle
} bench_options;

static void usage(FILE *out) {
    fprintf(out,
            "usage: vidsparse bench attention [options]\n\n"
            "  --shape NAME     wan1.3b-480p (H=12 S=32760), wan14b-720p (H=40 S=75600),\n"
            "                   hunyuan-720p (H=24 S=119056), or all (default)\n"
            "  --iters N        timed runs per figure, median reported (default 10)\n"
            "  --warmup N       untimed runs first (default 2)\n"
            "  --top-p LIST     comma-separated top-p values (default 0.7,0.8,0.86,0.93,0.96)\n"
            "  --min-kc R       min_kc_ratio (default 0.02)\n"
            "  --planted N      planted clusters per head in the inputs (default 64)\n"
            "  --noise X        token noise around its centre (default 0.5)\n"
            "  --q-scale X      query scale: larger = more peaked attention (default 0.5)\n"
            "  --timing MODE    how attention and dense are timed against each other (default\n"
            "                   alternate): alternate = in pairs, one after the other, as the card\n"
            "                   runs under load; idle = each run starts from an idle card (20 ms\n"
            "                   pause) at its boost clock: the least noisy way to compare two\n"
            "                   builds on runs of a few ms (a run of 100 ms or more reaches the\n"
            "                   power cap within itself, which favours the shorter of a pair)\n");
}

static int parse_options(int argc, char **argv, bench_options *o) {
    *o = (bench_options){NULL, 10, 2, {0.7f, 0.8f, 0.86f, 0.93f, 0.96f}, 5, 0.02f, 64, 0.5f, 0.5f, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "vidsparse bench attention: %s needs a value (see --help)\n", a);
            return -1;
        }
        const char *val = argv[++i];
        char *end = NULL;
        if (!strcmp(a, "--shape")) {
            o->shape = strcmp(val, "all") ? val : NULL;
            int found = !o->shape;
            for (int s = 0; s < n_shapes; s++) found |= o->shape && !strcmp(o->shape, shapes[s].name);
            if (!found) {
                fprintf(stderr, "vidsparse bench attention: unknown shape '%s' (see --help)\n", val);
                return -1;
            }
            continue;
        }
        if (!strcmp(a, "--timing")) {
            if (strcmp(val, "alternate") && strcmp(val, "idle")) {
                fprintf(stderr, "vidsparse bench attention: --timing wants alternate or idle (got '%s')\n",
                        val);
                return -1;
            }
            o->idle = !strcmp(val, "idle");
            continue;
        }
        if (!strcmp(a, "--top-p")) {
            o->n_top_p = 0;
            for (const char *p = val;; p = end + 1) {
                float x = strtof(p, &end);
                if (end == p || !(x > 0 && x <= 1) || o->n_top_p == MAX_TOP_P || (*end && *end != ',')) {
                    fprintf(stderr, "vidsparse bench attention: --top-p wants up to %d values in (0, 1], "
                                    "comma-separated (got '%s')\n", MAX_TOP_P, val);
                    return -1;
                }
                o->top_p[o->n_top_p++] = x;
                if (!*end) break;
            }
            continue;
        }
        double x = strtod(val, &end);
        if (end == val || *end) {
            fprintf(stderr, "vidsparse bench attention: %s wants a number, got '%s'\n", a, val);
            return -1;
        }
        if (!strcmp(a, "--iters") && x >= 1) o->iters = (int)x;
        else if (!strcmp(a, "--warmup") && x >= 0) o->warmup = (int)x;
        else if (!strcmp(a, "--min-kc") && x >= 0 && x <= 1) o->min_kc_ratio = (float)x;
        else if (!strcmp(a, "--planted") && x >= 1) o->planted = (int)x;
        else if (!strcmp(a, "--noise") && x >= 0) o->noise = (float)x;
        else if (!strcmp(a, "--q-scale") && x > 0) o->q_scale = (float)x;
        else {
            fprintf(stderr, "vidsparse bench attention: bad option or value '%s %s' (see --help)\n", a, val);
            return -1;
        }
    }
    return 0;
}

#ifdef VS_HAVE_CUDA

#define CUDA_OK(call) VS_CUDA_CHECK_HINT(call, "check the GPU (nvidia-smi) and its free memory")

typedef enum { ST_KMEANS_WARM, ST_KMEANS_COLD, ST_SELECT, ST_PERMUTE, ST_ATTENTION, ST_UNPERMUTE,
               ST_DENSE, ST_GRAPH } stage;

typedef struct {
    vs_svg2_cuda *st;
    const uint16_t *q, *k, *v;
    uint16_t *out, *dense_out;
    vs_attention_layout layout;  // of q, k, v, out: contiguous [H, S, D]
    cudaStream_t stream;
    cudaGraphExec_t graph;
} bench_ctx;

static void run_stage(bench_ctx *c, stage s) {
    vs_svg2_cuda *st = c->st;
    switch (s) {
    case ST_KMEANS_WARM: vs_svg2_cuda_stage_kmeans(st, c->q, c->k, c->layout, 1, c->stream); break;
    case ST_KMEANS_COLD: vs_svg2_cuda_stage_kmeans(st, c->q, c->k, c->layout, 0, c->stream); break;
    case ST_SELECT: vs_svg2_cuda_stage_select(st, c->stream); break;
    case ST_PERMUTE: vs_svg2_cuda_stage_permute(st, c->q, c->k, c->v, c->layout, c->stream); break;
    case ST_ATTENTION: vs_svg2_cuda_stage_attention(st, c->stream); break;
    case ST_UNPERMUTE: vs_svg2_cuda_stage_unpermute(st, c->out, c->layout, c->stream); break;
    case ST_DENSE:
        if (vs_cuda_dense_attention(c->q, c->k, c->v, c->dense_out, st->H, st->S, st->D, c->stream)) {
            fprintf(stderr, "vidsparse bench attention: dense attention failed\n");
            exit(1);
        }
        break;
    case ST_GRAPH: CUDA_OK(cudaGraphLaunch(c->graph, c->stream)); break;
    }
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// Median of n timings (sorts them).
static double median_ms(float *ms, int n) {
    qsort(ms, (size_t)n, sizeof *ms, cmp_float);
    return n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
}

// Median milliseconds of `iters` event-timed runs after `warmup` untimed ones.
static double time_stage(bench_ctx *c, stage s, int warmup, int iters) {
    cudaEvent_t start, stop;
    CUDA_OK(cudaEventCreate(&start));
    CUDA_OK(cudaEventCreate(&stop));
    for (int i = 0; i < warmup; i++) run_stage(c, s);
    float *ms = malloc((size_t)iters * sizeof *ms);
    for (int i = 0; i < iters; i++) {
        CUDA_OK(cudaEventRecord(start, c->stream));
        run_stage(c, s);
        CUDA_OK(cudaEventRecord(stop, c->stream));
        CUDA_OK(cudaEventSynchronize(stop));
        CUDA_OK(cudaEventElapsedTime(&ms[i], start, stop));
    }
    double median = median_ms(ms, iters);
    free(ms);
    CUDA_OK(cudaEventDestroy(start));
    CUDA_OK(cudaEventDestroy(stop));
    return median;
}

// With --timing idle: waits for the card to finish and then pauses 20 ms, so the next kernel
// starts at the boost clock and below the power cap. Under load the H100 here throttles, and
// dense attention, which draws the most power, throttles most: what ran just before moves a
// time by up to 9% (docs/performance.md, session 14).
static void settle(bench_ctx *c, int idle) {
    if (!idle) return;
    CUDA_OK(cudaStreamSynchronize(c->stream));
    nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
}

// Medians of `iters` runs of stages a and b timed in alternation (a, b, a, b, ...) after `warmup`
// untimed pairs, so drift over the run (clocks, temperature) falls on both alike: their ratio
// is what the attention bar compares. Also the quartiles of the ratio a / b within each pair,
// which shows how far that drift moves the ratio inside one run.
static void time_alternating(bench_ctx *c, stage a, stage b, int warmup, int iters, int idle,
                             double *ms_a, double *ms_b, double pair_ratio[3]) {
    cudaEvent_t ev[4];
    for (int i = 0; i < 4; i++) CUDA_OK(cudaEventCreate(&ev[i]));
    for (int i = 0; i < warmup; i++) run_stage(c, a), run_stage(c, b);
    float *ms = malloc(2 * (size_t)iters * sizeof *ms), *mb = ms + iters;
    for (int i = 0; i < iters; i++) {
        settle(c, idle);
        CUDA_OK(cudaEventRecord(ev[0], c->stream));
        run_stage(c, a);
        CUDA_OK(cudaEventRecord(ev[1], c->stream));
        settle(c, idle);
        CUDA_OK(cudaEventRecord(ev[2], c->stream));
        run_stage(c, b);
        CUDA_OK(cudaEventRecord(ev[3], c->stream));
        CUDA_OK(cudaEventSynchronize(ev[3]));
        CUDA_OK(cudaEventElapsedTime(&ms[i], ev[0], ev[1]));
        CUDA_OK(cudaEventElapsedTime(&mb[i], ev[2], ev[3]));
    }
    float *ratio = malloc((size_t)iters * sizeof *ratio);
    for (int i = 0; i < iters; i++) ratio[i] = ms[i] / mb[i];
    pair_ratio[1] = median_ms(ratio, iters);  // sorts: the quartiles are read off below
    pair_ratio[0] = ratio[(iters - 1) / 4];
    pair_ratio[2] = ratio[iters - 1 - (iters - 1) / 4];
    free(ratio);
    *ms_a = median_ms(ms, iters);
    *ms_b = median_ms(mb, iters);
    free(ms);
    for (int i = 0; i < 4; i++) CUDA_OK(cudaEventDestroy(ev[i]));
}

// The density the sparse kernel computes: each query cluster padded to whole 128-row tiles, each
// tile against the cluster's selected keys (row_keys).
static double tiled_density(const vs_svg2_cuda *st, int H, int S) {
    const int C_q = st->params.C_q;
    int32_t *q_off = malloc((size_t)H * (C_q + 1) * sizeof *q_off);
    int32_t *keys = malloc((size_t)H * C_q * sizeof *keys);
    CUDA_OK(cudaMemcpy(q_off, st->km_q.offsets, (size_t)H * (C_q + 1) * sizeof *q_off,
                       cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(keys, st->row_keys, (size_t)H * C_q * sizeof *keys, cudaMemcpyDeviceToHost));
    double sum = 0;
    for (int h = 0; h < H; h++)
        for (int i = 0; i < C_q; i++) {
            const int rows = q_off[h * (C_q + 1) + i + 1] - q_off[h * (C_q + 1) + i];
            sum += 128.0 * ((rows + 127) / 128) * keys[h * C_q + i];
        }
    free(q_off), free(keys);
    return sum / ((double)H * S * S);
}

static void bench_one(const bench_shape *shape, const bench_options *o, cudaStream_t stream) {
    const int H = shape->H, S = shape->S, D = 128;
    const size_t n = (size_t)H * S * D;
    vs_svg2_params params = vs_svg2_default_params();
    params.C_q = shape->C_q;
    params.C_k = shape->C_k;
    params.min_kc_ratio = o->min_kc_ratio;
    params.seed = 1234;
    vs_svg2_cuda st;
    if (vs_svg2_cuda_init(&st, &params, H, S, D, 0)) {
        fprintf(stderr, "vidsparse bench attention: %s\n", vs_last_error());
        exit(1);
    }
    uint16_t *q, *k, *v, *out, *dense_out;
    CUDA_OK(cudaMalloc((void **)&q, n * 2));
    CUDA_OK(cudaMalloc((void **)&k, n * 2));
    CUDA_OK(cudaMalloc((void **)&v, n * 2));
    CUDA_OK(cudaMalloc((void **)&out, n * 2));
    CUDA_OK(cudaMalloc((void **)&dense_out, n * 2));
    vs_cuda_planted_qkv(q, k, v, H, S, D, o->planted, o->noise, o->q_scale, 99, stream);
    bench_ctx c = {&st, q, k, v, out, dense_out, {(size_t)S * D, D}, stream, NULL};

    const double flops = 4.0 * S * (double)S * D * H;
    // Cold k-means: fewer runs (each is up to iters_cold iterations); then the cache is warm.
    int cold_iters = o->iters < 3 ? o->iters : 3;
    double t_cold = time_stage(&c, ST_KMEANS_COLD, o->warmup ? 1 : 0, cold_iters);
    uint32_t iters_run[2];
    CUDA_OK(cudaMemcpy(&iters_run[0], st.km_q.control, 4, cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(&iters_run[1], st.km_k.control, 4, cudaMemcpyDeviceToHost));
    st.cache_valid = 1;
    double t_warm = time_stage(&c, ST_KMEANS_WARM, o->warmup, o->iters);
    double t_dense = time_stage(&c, ST_DENSE, o->warmup, o->iters);
    printf("\n# %s: H=%d S=%d D=%d C_q=%d C_k=%d, min_kc_ratio %.3f, inputs: %d planted clusters, "
           "noise %.2f, q scale %.2f\n", shape->name, H, S, D, shape->C_q, shape->C_k, o->min_kc_ratio,
           o->planted, o->noise, o->q_scale);
    printf("# k-means Q+K: warm (%d iterations) %.3f ms, cold (up to %d iterations; ran Q %u, K %u) %.3f ms\n",
           params.iters_warm, t_warm, params.iters_cold, iters_run[0], iters_run[1], t_cold);
    printf("# dense attention: %.3f ms, %.1f TFLOP/s\n", t_dense, flops / (t_dense * 1e9));
    printf("#\n# %5s %8s %8s %8s %8s %8s %9s %9s %8s %8s %9s %10s %9s %9s %9s %8s %10s\n", "top-p",
           "density", "kmeans", "select", "permute", "attn", "unpermute", "svg2-sum", "graph", "dense",
           "speedup", "attn/ideal", "eq-TFLOPs", "TFLOP/s", "rel-err", "tiled", "attn/tiled");
    for (int t = 0; t < o->n_top_p; t++) {
        st.params.top_p = o->top_p[t];
        // One full warm call first, so the stages below see this top-p's mask.
        vs_svg2_attention_cuda(&st, q, k, v, out, c.layout, stream);
        double t_select = time_stage(&c, ST_SELECT, o->warmup, o->iters);
        double t_perm = time_stage(&c, ST_PERMUTE, o->warmup, o->iters);
        double t_attn, t_dense_here, pair[3];  // the dense time this point's ratios use
        time_alternating(&c, ST_ATTENTION, ST_DENSE, o->warmup, o->iters, o->idle, &t_attn,
                         &t_dense_here, pair);
        double t_unperm = time_stage(&c, ST_UNPERMUTE, o->warmup, o->iters);
        double *density = malloc((size_t)H * sizeof *density), mean_density = 0;
        CUDA_OK(cudaMemcpy(density, st.density, (size_t)H * sizeof *density, cudaMemcpyDeviceToHost));
        for (int h = 0; h < H; h++) mean_density += density[h] / H;
        free(density);
        const double tiled = tiled_density(&st, H, S);
        double err = vs_cuda_rel_l2_bf16(out, dense_out, (long)n, stream);
        // A whole warm call captured once and replayed.
        cudaGraph_t graph;
        CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
        vs_svg2_attention_cuda(&st, q, k, v, out, c.layout, stream);
        CUDA_OK(cudaStreamEndCapture(stream, &graph));
        CUDA_OK(cudaGraphInstantiate(&c.graph, graph, 0));
        double t_graph = time_stage(&c, ST_GRAPH, o->warmup, o->iters);
        CUDA_OK(cudaGraphExecDestroy(c.graph));
        CUDA_OK(cudaGraphDestroy(graph));
        double t_sum = t_warm + t_select + t_perm + t_attn + t_unperm;
        printf("  %5.2f %7.2f%% %8.3f %8.3f %8.3f %8.3f %9.3f %9.3f %8.3f %8.3f %8.2fx %10.2f %9.1f %9.1f %9.2e %7.2f%% %10.2f\n",
               o->top_p[t], 100 * mean_density, t_warm, t_select, t_perm, t_attn, t_unperm, t_sum,
               t_graph, t_dense_here, t_dense_here / t_graph, t_attn / (mean_density * t_dense_here),
               flops / (t_attn * 1e9), flops * mean_density / (t_attn * 1e9), err, 100 * tiled,
               t_attn / (tiled * t_dense_here));
        // The bars: the overhead bar is defined at the Wan 1.3B 480p shape (elsewhere the
        // permutation moves proportionally more bytes); the attention bar at density >= 10%.
        double overhead = t_select + t_perm + t_unperm;
        if (!strcmp(shape->name, "wan1.3b-480p"))
            printf("BAR %s p=%.2f: select+permute+unpermute %.3f ms <= 1 ms: %s\n", shape->name,
                   o->top_p[t], overhead, overhead <= 1.0 ? "PASS" : "FAIL");
        // The bar takes the dense time measured alongside; the ratio against the dense time
        // measured alone (the header's) is printed too: under the card's power cap a kernel
        // timed alone runs at the clocks its own power draw allows (docs/performance.md).
        printf("BAR %s p=%.2f: attention %.3f ms <= 1.3 x density x dense = %.3f ms%s: %s "
               "(against dense timed alone: %.2f; per pair: median %.3f, quartiles %.3f-%.3f)\n",
               shape->name, o->top_p[t], t_attn, 1.3 * mean_density * t_dense_here,
               mean_density < 0.10 ? " (bar applies at >= 10%)" : "",
               mean_density < 0.10 ? "n/a" : t_attn <= 1.3 * mean_density * t_dense_here ? "PASS" : "FAIL",
               t_attn / (mean_density * t_dense), pair[1] / mean_density, pair[0] / mean_density,
               pair[2] / mean_density);
    }
    if (!strcmp(shape->name, "wan1.3b-480p"))
        printf("BAR %s: k-means warm (2 iterations, Q C_q=200 + K C_k=1000) %.3f ms <= 1.5 ms: %s\n",
               shape->name, t_warm, t_warm <= 1.5 ? "PASS" : "FAIL");
    printf("BAR %s: dense %.1f TFLOP/s >= 300: %s\n", shape->name, flops / (t_dense * 1e9),
           flops / (t_dense * 1e9) >= 300 ? "PASS" : "FAIL");
    CUDA_OK(cudaFree(q));
    CUDA_OK(cudaFree(k));
    CUDA_OK(cudaFree(v));
    CUDA_OK(cudaFree(out));
    CUDA_OK(cudaFree(dense_out));
    vs_svg2_cuda_free(&st);
}

static void print_formulas(void) {
    printf("\n# Figures (times: CUDA events, median of --iters runs after --warmup runs, milliseconds):\n"
           "#   density    = sum_h sum_ij |Q_i||K_j| mask_hij / (H S^2)   (fraction of the score matrix computed)\n"
           "#   kmeans     = k-means on Q (C_q) + on K (C_k), warm start, iters_warm = 2 iterations each\n"
           "#   select     = centroid scores + size-weighted softmax + sort + top-p mask + density\n"
           "#   permute    = gather of Q (Q order), K and V (K order) into cluster order\n"
           "#   attn       = variable-block sparse attention on the permuted tensors (incl. its GPU planning)\n"
           "#   unpermute  = scatter of the output back to token order\n"
           "#   svg2-sum   = kmeans + select + permute + attn + unpermute (stages timed separately)\n"
           "#   graph      = one whole warm SVG2 call captured in a CUDA graph, replay time\n"
           "#   dense      = dense flash attention on the unpermuted Q, K, V, timed in alternation with\n"
           "#                attn (attn, dense, attn, dense, ...) so both see the same clocks\n"
           "#                (--timing idle: each run after a 20 ms pause of the card)\n"
           "#   speedup    = dense / graph (the whole SVG2 call, overheads included)\n"
           "#   attn/ideal = attn / (density x dense)   (1.0 = sparse kernel as efficient as dense)\n"
           "#   per pair   = attn_i / (density x dense_i) of each alternated pair i (BAR lines: its\n"
           "#                median and quartiles over the --iters pairs)\n"
           "#   eq-TFLOPs  = 4 S^2 D H / attn            (dense-equivalent rate)\n"
           "#   TFLOP/s    = 4 S^2 D H x density / attn  (FLOPs actually computed)\n"
           "#   rel-err    = ||svg2 - dense|| / ||dense||, L2 over all H S D outputs\n"
           "#   tiled      = sum_h sum_i 128 ceil(|Q_i| / 128) keys_hi / (H S^2)   (the density with each\n"
           "#                query cluster padded to whole 128-row tiles, as the kernel computes it)\n"
           "#   attn/tiled = attn / (tiled x dense)   (1.0 = as efficient per tile as dense; the rest of\n"
           "#                attn/ideal is query-tile padding)\n");
}

int vs_bench_attention(int argc, char **argv) {
    bench_options o;
    if (parse_options(argc, argv, &o)) return 2;
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        fprintf(stderr, "vidsparse bench attention: no CUDA GPU found; this benchmark needs one "
                        "(run it on a GPU machine)\n");
        return 1;
    }
    struct cudaDeviceProp prop;
    CUDA_OK(cudaGetDeviceProperties(&prop, 0));
    int runtime = 0, driver = 0;
    CUDA_OK(cudaRuntimeGetVersion(&runtime));
    CUDA_OK(cudaDriverGetVersion(&driver));
    printf("# vidsparse bench attention on %s (%d SMs), CUDA runtime %d, driver %d; bf16, D=128, "
           "non-causal; %d timed runs after %d warm-up, timing %s\n", prop.name,
           prop.multiProcessorCount, runtime, driver, o.iters, o.warmup,
           o.idle ? "idle" : "alternate");
    cudaStream_t stream;
    CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    for (int s = 0; s < n_shapes; s++)
        if (!o.shape || !strcmp(o.shape, shapes[s].name)) bench_one(&shapes[s], &o, stream);
    print_formulas();
    CUDA_OK(cudaStreamDestroy(stream));
    return 0;
}

#else

int vs_bench_attention(int argc, char **argv) {
    bench_options o;
    if (parse_options(argc, argv, &o)) return 2;
    fprintf(stderr, "vidsparse bench attention: this build has no CUDA backend; the benchmark times "
                    "GPU kernels only (rebuild on a machine with nvcc: cmake -S . -B build)\n");
    return 1;
}

#endif
