// The CPU Wan VAE decoder against diffusers' AutoencoderKLWan (tools/make_vae_fixtures.py):
// the diffusers unit-test model and the real channel layout at base 8, both loaded through the
// same shape inference (one with a config.json, one without). Also: chunked decoding (1 latent
// frame at a time, as the official code) equals one full-sequence pass and any other chunk size;
// the working memory does not grow with the frame count; T -> 1 + 4(T-1) frames; bad weights fail.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/vs_rng.h"
#include "runtime/vs_safetensors.h"
#include "runtime/wan_vae.h"
#include "tests/vs_test.h"

static char g_fixtures[1024];

static float *read_tensor(const vs_st_file *f, const char *name, int ndim, int64_t *shape) {
    const vs_st_entry *e = vs_st_find(f, name);
    if (!e || e->ndim != ndim) return NULL;
    memcpy(shape, e->shape, sizeof(int64_t) * ndim);
    float *x = malloc(sizeof(float) * vs_st_numel(e));
    if (vs_st_read_f32(f, e, x) != 0) { free(x); return NULL; }
    return x;
}

static double max_abs_diff(const float *a, const float *b, long n) {
    double m = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d;  // NaN propagates
    }
    return m;
}

static void check_model(const char *name, int base, const int *mult, int nrb) {
    char dir[1200], ref[1300];
    snprintf(dir, sizeof dir, "%s/%s", g_fixtures, name);
    snprintf(ref, sizeof ref, "%s/decode_ref.safetensors", dir);
    vs_wan_vae vae;
    int rc = vs_wan_vae_load(&vae, dir);
    CHECK_MSG(rc == 0, "%s: %s", dir, vs_last_error());
    if (rc) return;
    char desc[256];
    printf("%s: %s\n", name, vs_wan_vae_describe(&vae, desc, sizeof desc));
    CHECK(vae.cfg.base_dim == base && vae.cfg.num_res_blocks == nrb && vae.cfg.n_stages == 4 && vae.cfg.z_dim == 16);
    for (int i = 0; i < 4; i++) CHECK(vae.cfg.dim_mult[i] == mult[i]);
    CHECK(vae.cfg.temporal_upsample[0] == 1 && vae.cfg.temporal_upsample[1] == 1 && vae.cfg.temporal_upsample[2] == 0);

    vs_st_file f;
    rc = vs_st_open(&f, ref);
    CHECK_MSG(rc == 0, "%s", vs_last_error());
    if (rc) { vs_wan_vae_free(&vae); return; }
    int64_t zs[4], vsh[4];
    float *z = read_tensor(&f, "latents", 4, zs), *want = read_tensor(&f, "video", 4, vsh);
    CHECK(z && want);
    if (z && want) {
        const int t = (int)zs[1], h = (int)zs[2], w = (int)zs[3];
        const int frames = vs_wan_vae_frames_out(&vae, t);
        CHECK(frames == 1 + 4 * (t - 1) && frames == vsh[1]);
        CHECK(vsh[2] == 8 * h && vsh[3] == 8 * w && vs_wan_vae_spatial_factor(&vae) == 8);
        const long n = 3L * vsh[1] * vsh[2] * vsh[3];
        float *got = calloc(n, sizeof(float)), *full = calloc(n, sizeof(float)), *two = calloc(n, sizeof(float));
        vs_wan_vae_stats s1, sf, s2;
        CHECK(vs_wan_vae_decode_all(&vae, z, t, h, w, 1, got, &s1) == 0);
        CHECK(vs_wan_vae_decode_all(&vae, z, t, h, w, t, full, &sf) == 0);
        CHECK(vs_wan_vae_decode_all(&vae, z, t, h, w, 2, two, &s2) == 0);
        const double rel = vs_rel_l2(got, want, n), mx = max_abs_diff(got, want, n);
        printf("%s: rel L2 vs diffusers %.3g, max abs %.3g; chunked vs full max abs %.3g; "
               "peak working memory %.1f KiB (chunk 1) vs %.1f KiB (full)\n",
               name, rel, mx, max_abs_diff(got, full, n), s1.peak_bytes / 1024.0, sf.peak_bytes / 1024.0);
        CHECK_MSG(rel <= 1e-4, "%s: rel L2 %.3g", name, rel);
        CHECK_MSG(max_abs_diff(got, full, n) == 0, "chunk 1 vs full sequence");
        CHECK_MSG(max_abs_diff(got, two, n) == 0, "chunk 1 vs chunk 2");
        CHECK(s1.frames == frames && s1.chunks == t && sf.chunks == 1 && s2.chunks == (t + 1) / 2);
        CHECK(s1.peak_bytes > 0 && s1.peak_bytes < sf.peak_bytes);
        free(got);
        free(full);
        free(two);
    }
    free(z);
    free(want);
    vs_st_close(&f);
    vs_wan_vae_free(&vae);
}

static void test_tiny_fixture(void) {
    const int mult[4] = {1, 1, 1, 1};
    check_model("vae_tiny", 3, mult, 1);
}

static void test_small_real_layout(void) {
    const int mult[4] = {1, 2, 4, 4};
    check_model("vae_small", 8, mult, 2);
}

static float *random_latents(int t, int h, int w, uint64_t seed) {
    float *z = malloc(sizeof(float) * 16 * t * h * w);
    for (long i = 0; i < 16L * t * h * w; i++) z[i] = vs_normal_at(seed, (uint64_t)i);
    return z;
}

// Chunk-by-chunk memory is the caches plus one chunk's activations: the same for 3 and 9 frames.
static void test_memory_flat_in_frames(void) {
    vs_wan_vae vae;
    CHECK(vs_wan_vae_open(&vae, "tiny") == 0);
    size_t peak[2];
    const int ts[2] = {3, 9};
    for (int k = 0; k < 2; k++) {
        float *z = random_latents(ts[k], 4, 6, 5);
        const int frames = vs_wan_vae_frames_out(&vae, ts[k]);
        CHECK(frames == 1 + 4 * (ts[k] - 1));
        float *v = malloc(sizeof(float) * 3 * frames * 32 * 48);
        vs_wan_vae_stats s;
        CHECK(vs_wan_vae_decode_all(&vae, z, ts[k], 4, 6, 1, v, &s) == 0);
        CHECK(s.frames == frames && s.height == 32 && s.width == 48);
        int in_range = 1;
        for (long i = 0; i < 3L * frames * 32 * 48; i++) in_range &= v[i] >= -1.0f && v[i] <= 1.0f;
        CHECK(in_range);
        peak[k] = s.peak_bytes;
        free(z);
        free(v);
    }
    CHECK_MSG(peak[0] == peak[1], "peak %zu (T=3) vs %zu (T=9)", peak[0], peak[1]);
    vs_wan_vae_free(&vae);
}

// Frame-causal: decoding the first k latent frames gives exactly the first 1 + 4(k-1) video frames
// of the whole decode (T = 1 included: one frame).
static void test_causal_prefix(void) {
    vs_wan_vae vae;
    CHECK(vs_wan_vae_open(&vae, "tiny") == 0);
    const int t = 4, h = 2, w = 4, plane = 16 * 32;
    float *z = random_latents(t, h, w, 9);
    const int full_frames = vs_wan_vae_frames_out(&vae, t);
    float *full = malloc(sizeof(float) * 3 * full_frames * plane);
    CHECK(vs_wan_vae_decode_all(&vae, z, t, h, w, 1, full, NULL) == 0);
    for (int k = 1; k < t; k++) {
        // The first k frames of [16, t, h, w] as [16, k, h, w].
        float *zk = malloc(sizeof(float) * 16 * k * h * w);
        for (int c = 0; c < 16; c++) memcpy(zk + (long)c * k * h * w, z + (long)c * t * h * w, sizeof(float) * k * h * w);
        const int frames = vs_wan_vae_frames_out(&vae, k);
        CHECK(frames == 1 + 4 * (k - 1));
        float *part = malloc(sizeof(float) * 3 * frames * plane);
        CHECK(vs_wan_vae_decode_all(&vae, zk, k, h, w, 1, part, NULL) == 0);
        int same = 1;
        for (int c = 0; c < 3; c++)
            same &= !memcmp(part + (long)c * frames * plane, full + (long)c * full_frames * plane,
                            sizeof(float) * frames * plane);
        CHECK_MSG(same, "the first %d latent frames decode differently alone", k);
        free(zk);
        free(part);
    }
    free(z);
    free(full);
    vs_wan_vae_free(&vae);
}

// The built-in model is deterministic: two instances agree bit for bit.
static void test_tiny_builtin_deterministic(void) {
    vs_wan_vae a, b;
    CHECK(vs_wan_vae_open(&a, "tiny") == 0 && vs_wan_vae_open(&b, "tiny") == 0);
    CHECK(a.n_params == b.n_params && a.n_params == 6581);  // the diffusers test model's decoder
    CHECK(memcmp(a.params, b.params, sizeof(float) * a.n_params) == 0);
    vs_wan_vae_free(&a);
    vs_wan_vae_free(&b);
}

static void test_bad_weights(void) {
    vs_wan_vae vae;
    vs_clear_error();
    CHECK(vs_wan_vae_load(&vae, "/nonexistent/vae") == -1 && strlen(vs_last_error()) > 0);
    CHECK(vs_wan_vae_load(&vae, "Wan2.1_VAE.pth") == -1 && strstr(vs_last_error(), "convert_wan_vae.py"));
    // The decode reference file is a safetensors file, but not a VAE.
    char ref[1300];
    snprintf(ref, sizeof ref, "%s/vae_tiny/decode_ref.safetensors", g_fixtures);
    CHECK(vs_wan_vae_load(&vae, ref) == -1 && strstr(vs_last_error(), "post_quant_conv"));
}

static int fail_second_chunk(void *user, const float *frames, int first, int n, int h, int w) {
    int *calls = user;
    if (++*calls == 2) return VS_FAIL("disk full (simulated)");
    return 0;
}

// A failing frame consumer stops decoding with a message naming the frames and the cause.
static void test_emit_failure(void) {
    vs_wan_vae vae;
    CHECK(vs_wan_vae_open(&vae, "tiny") == 0);
    float *z = random_latents(3, 2, 2, 4);
    int calls = 0;
    CHECK(vs_wan_vae_decode(&vae, z, 3, 2, 2, 1, fail_second_chunk, &calls, NULL) == -1);
    CHECK(calls == 2);
    CHECK_MSG(strstr(vs_last_error(), "frames 1..4") && strstr(vs_last_error(), "disk full (simulated)"), "%s",
              vs_last_error());
    free(z);
    vs_wan_vae_free(&vae);
}

// A config.json that disagrees with the weights is refused, naming the field.
static void test_config_mismatch(void) {
    char dir[] = "/tmp/vs_vae_cfg_XXXXXX";
    if (!mkdtemp(dir)) { CHECK(0); return; }
    char weights[PATH_MAX], link[1200], json[1200];
    char rel[1200];
    snprintf(rel, sizeof rel, "%s/vae_tiny/diffusion_pytorch_model.safetensors", g_fixtures);
    CHECK(realpath(rel, weights) != NULL);  // the link must not depend on the current folder
    snprintf(link, sizeof link, "%s/diffusion_pytorch_model.safetensors", dir);
    snprintf(json, sizeof json, "%s/config.json", dir);
    CHECK(symlink(weights, link) == 0);
    const char *bad[3][2] = {{"{\"base_dim\": 4}", "base_dim"},
                             {"{\"is_residual\": true}", "Wan 2.2"},
                             {"{\"temperal_downsample\": [true, true, false]}", "temperal_downsample"}};
    vs_wan_vae vae;
    for (int i = 0; i < 3; i++) {
        FILE *fp = fopen(json, "w");
        fputs(bad[i][0], fp);
        fclose(fp);
        CHECK_MSG(vs_wan_vae_load(&vae, dir) == -1 && strstr(vs_last_error(), bad[i][1]), "%s: %s", bad[i][0],
                  vs_last_error());
    }
    FILE *fp = fopen(json, "w");
    fputs("{\"base_dim\": 3, \"dim_mult\": [1, 1, 1, 1], \"num_res_blocks\": 1}", fp);
    fclose(fp);
    CHECK_MSG(vs_wan_vae_load(&vae, dir) == 0, "%s", vs_last_error());
    vs_wan_vae_free(&vae);
    remove(json);
    remove(link);
    rmdir(dir);
}

int main(void) {
    const char *src = getenv("VS_SOURCE_DIR");
    snprintf(g_fixtures, sizeof g_fixtures, "%s/tests/fixtures", src ? src : ".");
    RUN_TEST(test_tiny_fixture);
    RUN_TEST(test_small_real_layout);
    RUN_TEST(test_memory_flat_in_frames);
    RUN_TEST(test_causal_prefix);
    RUN_TEST(test_tiny_builtin_deterministic);
    RUN_TEST(test_bad_weights);
    RUN_TEST(test_config_mismatch);
    RUN_TEST(test_emit_failure);
    return vs_test_finish();
}
