// Plain loops; sums of squares and softmax denominators accumulate in double so the reference is
// at least as accurate as PyTorch's f32 reductions it is compared with.
#include "kernels/cpu/vae_ops_cpu.h"

#include <math.h>
#include <stddef.h>

void vs_rms_norm_channels_f32(float *x, const float *gamma, int c, int64_t n) {
    const double scale = sqrt((double)c);
    for (int64_t p = 0; p < n; p++) {
        double ss = 0;
        for (int ch = 0; ch < c; ch++) ss += (double)x[ch * n + p] * x[ch * n + p];
        double norm = sqrt(ss);
        if (norm < 1e-12) norm = 1e-12;
        const double f = scale / norm;
        for (int ch = 0; ch < c; ch++) x[ch * n + p] = (float)(x[ch * n + p] * f * gamma[ch]);
    }
}

void vs_silu_f32(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

void vs_upsample_nearest2x_f32(float *out, const float *in, int c, int h, int w) {
    const int w2 = 2 * w;
    for (int ch = 0; ch < c; ch++) {
        const float *src = in + (ptrdiff_t)ch * h * w;
        float *dst = out + (ptrdiff_t)ch * 4 * h * w;
        for (int y = 0; y < h; y++) {
            float *row = dst + (ptrdiff_t)(2 * y) * w2;
            for (int x = 0; x < w; x++) row[2 * x] = row[2 * x + 1] = src[(ptrdiff_t)y * w + x];
            float *row2 = row + w2;
            for (int x = 0; x < w2; x++) row2[x] = row[x];
        }
    }
}

int64_t vs_attention_scratch_floats(int c, int64_t n) { return 3 * (int64_t)c * n + n + c; }

void vs_attention_single_head_f32(float *out, const float *qkv, int c, int64_t n, float *scratch) {
    // Transpose q, k, v to [N, C] so every dot product and the weighted sum of v run contiguously.
    float *qt = scratch, *kt = qt + (int64_t)c * n, *vt = kt + (int64_t)c * n, *s = vt + (int64_t)c * n, *acc = s + n;
    for (int ch = 0; ch < c; ch++)
        for (int64_t p = 0; p < n; p++) {
            qt[p * c + ch] = qkv[(int64_t)ch * n + p];
            kt[p * c + ch] = qkv[(int64_t)(c + ch) * n + p];
            vt[p * c + ch] = qkv[(int64_t)(2 * c + ch) * n + p];
        }
    const float scale = 1.0f / sqrtf((float)c);
    for (int64_t i = 0; i < n; i++) {
        const float *q = qt + i * c;
        float mx = -INFINITY;
        for (int64_t j = 0; j < n; j++) {
            const float *k = kt + j * c;
            float d = 0;
            for (int ch = 0; ch < c; ch++) d += q[ch] * k[ch];
            s[j] = d * scale;
            if (s[j] > mx) mx = s[j];
        }
        double den = 0;
        for (int64_t j = 0; j < n; j++) {
            s[j] = expf(s[j] - mx);
            den += s[j];
        }
        const float inv = (float)(1.0 / den);
        for (int ch = 0; ch < c; ch++) acc[ch] = 0;
        for (int64_t j = 0; j < n; j++) {
            const float pj = s[j] * inv;
            const float *v = vt + j * c;
            for (int ch = 0; ch < c; ch++) acc[ch] += pj * v[ch];
        }
        for (int ch = 0; ch < c; ch++) out[(int64_t)ch * n + i] = acc[ch];
    }
}
