// f32 reference ops (see ops_cpu.h). Statistics (LayerNorm, RMSNorm, softmax sums) accumulate in
// double: this is the reference, and speed here only matters for the GEMM.
//
// The GEMM's result for one output element depends only on its row of x and its row of w, never
// on M or on where the row falls in a tile: every element is summed over k in the same order
// (K blocks in sequence, k ascending inside a block) by the 4x4 micro-kernel and the edge loop
// alike. So a forward over a token shard gives bit-identical rows to the full forward.
#include "kernels/cpu/ops_cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_check.h"

enum { ACT_NONE = 0, ACT_GELU_TANH = 1, ACT_SILU = 2 };

static inline float gelu_tanh(float x) {
    const float c = 0.7978845608028654f;  // sqrt(2/pi)
    return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
}
static inline float silu(float x) { return x / (1.0f + expf(-x)); }
static inline float apply_act(float x, int act) {
    return act == ACT_GELU_TANH ? gelu_tanh(x) : act == ACT_SILU ? silu(x) : x;
}

// Sum over k in [k0, k1) of x[k] * w[k], in ascending k.
static inline float dot_range(const float *x, const float *w, int64_t k0, int64_t k1) {
    float acc = 0.0f;
    for (int64_t k = k0; k < k1; k++) acc += x[k] * w[k];
    return acc;
}

#define GEMM_MB 64
#define GEMM_NB 64
#define GEMM_KB 512

void vs_linear_cpu(float *out, const float *x, const float *w, const float *b, int64_t M,
                   int64_t N, int64_t K, int act) {
    memset(out, 0, (size_t)(M * N) * sizeof(float));
    for (int64_t k0 = 0; k0 < K; k0 += GEMM_KB) {
        int64_t k1 = k0 + GEMM_KB < K ? k0 + GEMM_KB : K;
        for (int64_t n0 = 0; n0 < N; n0 += GEMM_NB) {
            int64_t n1 = n0 + GEMM_NB < N ? n0 + GEMM_NB : N;
            for (int64_t m0 = 0; m0 < M; m0 += GEMM_MB) {
                int64_t m1 = m0 + GEMM_MB < M ? m0 + GEMM_MB : M;
                int64_t m = m0;
                for (; m + 4 <= m1; m += 4) {
                    int64_t n = n0;
                    for (; n + 4 <= n1; n += 4) {
                        // 4x4 tile: 16 independent accumulators, each in ascending k.
                        float acc[4][4] = {{0}};
                        const float *xr[4], *wr[4];
                        for (int i = 0; i < 4; i++) {
                            xr[i] = x + (m + i) * K;
                            wr[i] = w + (n + i) * K;
                        }
                        for (int64_t k = k0; k < k1; k++) {
                            float xv[4] = {xr[0][k], xr[1][k], xr[2][k], xr[3][k]};
                            float wv[4] = {wr[0][k], wr[1][k], wr[2][k], wr[3][k]};
                            for (int i = 0; i < 4; i++)
                                for (int j = 0; j < 4; j++) acc[i][j] += xv[i] * wv[j];
                        }
                        for (int i = 0; i < 4; i++)
                            for (int j = 0; j < 4; j++) out[(m + i) * N + n + j] += acc[i][j];
                    }
                    for (; n < n1; n++)
                        for (int i = 0; i < 4; i++)
                            out[(m + i) * N + n] += dot_range(x + (m + i) * K, w + n * K, k0, k1);
                }
                for (; m < m1; m++)
                    for (int64_t n = n0; n < n1; n++)
                        out[m * N + n] += dot_range(x + m * K, w + n * K, k0, k1);
            }
        }
    }
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            float v = out[m * N + n] + (b ? b[n] : 0.0f);
            out[m * N + n] = apply_act(v, act);
        }
}

void vs_layernorm_mod_cpu(float *out, const float *x, const float *w, const float *b,
                          const float *shift, const float *scale, int64_t M, int64_t D,
                          float eps) {
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * D;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < D; i++) mean += xr[i];
        mean /= (double)D;
        for (int64_t i = 0; i < D; i++) var += ((double)xr[i] - mean) * ((double)xr[i] - mean);
        var /= (double)D;
        float rstd = (float)(1.0 / sqrt(var + (double)eps));
        float fmean = (float)mean;
        float *yr = out + m * D;
        for (int64_t i = 0; i < D; i++) {
            float y = (xr[i] - fmean) * rstd;
            if (w) y *= w[i];
            if (b) y += b[i];
            if (scale) y *= 1.0f + scale[i];
            if (shift) y += shift[i];
            yr[i] = y;
        }
    }
}

void vs_rmsnorm_cpu(float *out, const float *x, const float *w, int64_t M, int64_t D, float eps) {
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * D;
        double ss = 0;
        for (int64_t i = 0; i < D; i++) ss += (double)xr[i] * xr[i];
        float r = (float)(1.0 / sqrt(ss / (double)D + (double)eps));
        for (int64_t i = 0; i < D; i++) out[m * D + i] = xr[i] * r * w[i];
    }
}

void vs_rope3d_cpu(float *x, int64_t n, int64_t heads, int64_t d, int64_t tok0,
                   const int64_t grid[3]) {
    int64_t third = d / 6;
    int64_t pairs_t = (d - 4 * third) / 2, pairs_h = third, pairs_w = third;
    int64_t half = d / 2;
    float *cs = vs_malloc((size_t)(2 * half) * sizeof(float));  // (cos, sin) per pair
    for (int64_t i = 0; i < n; i++) {
        int64_t g = tok0 + i;
        int64_t pos[3] = {g / (grid[1] * grid[2]), (g / grid[2]) % grid[1], g % grid[2]};
        for (int64_t j = 0; j < half; j++) {
            int axis, jj;
            int64_t dim_axis;
            if (j < pairs_t) { axis = 0; jj = (int)j; dim_axis = 2 * pairs_t; }
            else if (j < pairs_t + pairs_h) { axis = 1; jj = (int)(j - pairs_t); dim_axis = 2 * pairs_h; }
            else { axis = 2; jj = (int)(j - pairs_t - pairs_h); dim_axis = 2 * pairs_w; }
            double omega = pow(10000.0, -2.0 * jj / (double)dim_axis);
            double theta = (double)pos[axis] * omega;
            cs[2 * j] = (float)cos(theta);
            cs[2 * j + 1] = (float)sin(theta);
        }
        for (int64_t h = 0; h < heads; h++) {
            float *v = x + (i * heads + h) * d;
            for (int64_t j = 0; j < half; j++) {
                float c = cs[2 * j], s = cs[2 * j + 1];
                float a = v[2 * j], bb = v[2 * j + 1];
                v[2 * j] = a * c - bb * s;
                v[2 * j + 1] = a * s + bb * c;
            }
        }
    }
    free(cs);
}

void vs_unary_cpu(float *out, const float *x, int64_t n, int act) {
    for (int64_t i = 0; i < n; i++) out[i] = apply_act(x[i], act);
}

void vs_add_cpu(float *out, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void vs_gated_add_cpu(float *x, const float *y, const float *gate, int64_t M, int64_t D) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t i = 0; i < D; i++) x[m * D + i] += y[m * D + i] * (gate ? gate[i] : 1.0f);
}

void vs_sinusoid_cpu(float *out, int64_t dim, int64_t t) {
    int64_t half = dim / 2;
    for (int64_t k = 0; k < half; k++) {
        double arg = (double)t * exp(-log(10000.0) * (double)k / (double)half);
        out[k] = (float)cos(arg);
        out[half + k] = (float)sin(arg);
    }
}

void vs_attention_dense_cpu(float *out, const float *q, const float *k, const float *v,
                            int64_t Lq, int64_t Lk, int64_t H, int64_t d, float scale) {
    float *p = vs_malloc((size_t)Lk * sizeof(float));
    double *acc = vs_malloc((size_t)d * sizeof(double));
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < Lq; i++) {
            const float *qi = q + (i * H + h) * d;
            float mx = -INFINITY;
            for (int64_t j = 0; j < Lk; j++) {
                p[j] = dot_range(qi, k + (j * H + h) * d, 0, d) * scale;
                if (p[j] > mx) mx = p[j];
            }
            double sum = 0;
            for (int64_t c = 0; c < d; c++) acc[c] = 0;
            for (int64_t j = 0; j < Lk; j++) {
                double e = exp((double)(p[j] - mx));
                sum += e;
                const float *vj = v + (j * H + h) * d;
                for (int64_t c = 0; c < d; c++) acc[c] += e * vj[c];
            }
            float *o = out + i * H * d + h * d;
            for (int64_t c = 0; c < d; c++) o[c] = (float)(acc[c] / sum);
        }
    free(acc);
    free(p);
}

void vs_transpose_cpu(float *out, const float *x, int64_t M, int64_t N) {
    const int64_t B = 32;  // tile so both sides walk memory in short strides
    for (int64_t m0 = 0; m0 < M; m0 += B)
        for (int64_t n0 = 0; n0 < N; n0 += B)
            for (int64_t m = m0; m < M && m < m0 + B; m++)
                for (int64_t n = n0; n < N && n < n0 + B; n++) out[n * M + m] = x[m * N + n];
}

void vs_patchify_cpu(float *out, const float *x, int64_t C, int64_t T, int64_t H, int64_t W,
                     int64_t tok0, int64_t n) {
    int64_t Hp = H / 2, Wp = W / 2;
    for (int64_t i = 0; i < n; i++) {
        int64_t g = tok0 + i, f = g / (Hp * Wp), hp = (g / Wp) % Hp, wp = g % Wp;
        float *row = out + i * C * 4;
        for (int64_t c = 0; c < C; c++)
            for (int64_t dh = 0; dh < 2; dh++)
                for (int64_t dw = 0; dw < 2; dw++)
                    row[c * 4 + dh * 2 + dw] =
                        x[((c * T + f) * H + 2 * hp + dh) * W + 2 * wp + dw];
    }
}

void vs_unpatchify_cpu(float *out, const float *rows, int64_t C, int64_t T, int64_t H,
                       int64_t W) {
    int64_t Hp = H / 2, Wp = W / 2;
    for (int64_t g = 0; g < T * Hp * Wp; g++) {
        int64_t f = g / (Hp * Wp), hp = (g / Wp) % Hp, wp = g % Wp;
        const float *row = rows + g * C * 4;
        for (int64_t dh = 0; dh < 2; dh++)
            for (int64_t dw = 0; dw < 2; dw++)
                for (int64_t c = 0; c < C; c++)
                    out[((c * T + f) * H + 2 * hp + dh) * W + 2 * wp + dw] =
                        row[dh * 2 * C + dw * C + c];
    }
}
