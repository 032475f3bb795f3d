// Direct convolution loops: output channel, input channel, tap, then rows with the column loop
// innermost (contiguous, vectorises). No im2col buffer, so no hidden working memory.
#include "kernels/cpu/vae_conv_cpu.h"

#include <stddef.h>

// out[Cout, H, W] += Σ_ic Σ_ky,kx w[oc, ic, ky, kx] · in[ic, y+ky-ph, x+kx-pw]; the weight of
// (oc, ic) starts at w + oc*w_oc + ic*w_ic and is kh×kw contiguous.
static void conv2d_acc(float *out, const float *in, const float *w, ptrdiff_t w_oc, ptrdiff_t w_ic,
                       int cin, int cout, int h, int wd, int kh, int kw) {
    const int ph = kh / 2, pw = kw / 2;
    const ptrdiff_t plane = (ptrdiff_t)h * wd;
    for (int oc = 0; oc < cout; oc++) {
        float *o = out + oc * plane;
        for (int ic = 0; ic < cin; ic++) {
            const float *src = in + ic * plane;
            const float *wk = w + oc * w_oc + ic * w_ic;
            for (int ky = 0; ky < kh; ky++) {
                const int dy = ky - ph;
                const int y0 = dy < 0 ? -dy : 0, y1 = dy > 0 ? h - dy : h;
                for (int kx = 0; kx < kw; kx++) {
                    const float wv = wk[ky * kw + kx];
                    const int dx = kx - pw;
                    const int x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? wd - dx : wd;
                    for (int y = y0; y < y1; y++) {
                        float *orow = o + (ptrdiff_t)y * wd;
                        const float *irow = src + (ptrdiff_t)(y + dy) * wd + dx;
                        for (int x = x0; x < x1; x++) orow[x] += wv * irow[x];
                    }
                }
            }
        }
    }
}

static void fill_bias(float *out, const float *b, int cout, ptrdiff_t plane) {
    for (int oc = 0; oc < cout; oc++) {
        const float v = b ? b[oc] : 0.0f;
        for (ptrdiff_t i = 0; i < plane; i++) out[oc * plane + i] = v;
    }
}

void vs_conv2d_f32(float *out, const float *in, const float *w, const float *b, int cin, int cout,
                   int h, int wd, int k) {
    fill_bias(out, b, cout, (ptrdiff_t)h * wd);
    conv2d_acc(out, in, w, (ptrdiff_t)cin * k * k, (ptrdiff_t)k * k, cin, cout, h, wd, k, k);
}

void vs_causal_conv3d_f32(float *out, const float *const *frames, int t_out, const float *w,
                          const float *b, int cin, int cout, int h, int wd, int kt, int kh, int kw) {
    const ptrdiff_t plane = (ptrdiff_t)h * wd, tap = (ptrdiff_t)kh * kw;
    for (int t = 0; t < t_out; t++) {
        float *o = out + (ptrdiff_t)t * cout * plane;
        fill_bias(o, b, cout, plane);
        for (int j = 0; j < kt; j++) {
            if (!frames[t + j]) continue;  // zero padding contributes nothing
            conv2d_acc(o, frames[t + j], w + j * tap, (ptrdiff_t)cin * kt * tap, kt * tap, cin, cout,
                       h, wd, kh, kw);
        }
    }
}
