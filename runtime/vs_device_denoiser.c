#include "runtime/vs_device_denoiser.h"

#include <string.h>

#include "runtime/vs_check.h"

void vs_device_denoiser_init(vs_device_denoiser *d, vs_denoiser inner, vs_device device,
                             const int64_t shape[4]) {
    memset(d, 0, sizeof *d);
    d->inner = inner;
    d->device = device;
    if (device == VS_DEV_CPU) return;
    d->x = vs_tensor_new(VS_F32, device, 4, shape);
    d->v = vs_tensor_new(VS_F32, device, 4, shape);
}

void vs_device_denoiser_free(vs_device_denoiser *d) {
    if (d->x.data) vs_tensor_free(&d->x);
    if (d->v.data) vs_tensor_free(&d->v);
    memset(d, 0, sizeof *d);
}

// vs_tensor_copy is a synchronous cudaMemcpy on the legacy stream: the upload is ordered before
// the forward's kernels and the download after them.
static int device_velocity(void *ctx, int branch, int64_t t, const vs_tensor *x, vs_tensor *v) {
    vs_device_denoiser *d = ctx;
    if (d->device == VS_DEV_CPU) return d->inner.velocity(d->inner.ctx, branch, t, x, v);
    VS_ASSERT(x->device == VS_DEV_CPU && v->device == VS_DEV_CPU &&
                  vs_tensor_numel(x) == vs_tensor_numel(&d->x) &&
                  vs_tensor_numel(v) == vs_tensor_numel(&d->v),
              "the pipeline passes CPU latents of the shape the device denoiser was made for");
    vs_tensor_copy(&d->x, x);
    int rc = d->inner.velocity(d->inner.ctx, branch, t, &d->x, &d->v);
    if (rc == 0) vs_tensor_copy(v, &d->v);
    return rc;
}

vs_denoiser vs_device_denoiser_as_denoiser(vs_device_denoiser *d) {
    vs_denoiser den = {d, device_velocity};
    return den;
}
