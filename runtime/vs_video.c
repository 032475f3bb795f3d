// Video writer front end: float frames -> uint8 RGB -> Y4M (here) or FFmpeg (vs_video_ffmpeg.c),
// chosen by the file extension and by whether the build has FFmpeg.
#include "runtime/vs_video.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/vs_check.h"
#include "runtime/vs_log.h"
#include "runtime/vs_video_ffmpeg.h"

struct vs_video_writer {
    char path[1024];
    char codec[64];
    int width, height, fps, frames;
    uint8_t *rgb;       // one frame, packed [height][width][3]
    FILE *y4m;          // Y4M output, or
    vs_ff_writer *ff;   // FFmpeg output
    uint8_t *yuv;       // Y4M: one frame, planar Y, U, V (4:4:4)
};

void vs_video_options_default(vs_video_options *o) {
    o->fps = 16;
    o->crf = 18;
    o->encoder = NULL;
}

int vs_video_have_ffmpeg(void) {
#ifdef VS_HAVE_FFMPEG
    return 1;
#else
    return 0;
#endif
}

static int has_ext(const char *path, const char *ext) {
    size_t n = strlen(path), e = strlen(ext);
    if (n < e) return 0;
    for (size_t i = 0; i < e; i++) {
        char c = path[n - e + i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != ext[i]) return 0;
    }
    return 1;
}

static int open_y4m(vs_video_writer *w) {
    w->y4m = fopen(w->path, "wb");
    if (!w->y4m) return VS_FAIL("%s: cannot create the file (check the folder exists and is writable)", w->path);
    // F = frame rate, Ip = progressive, A1:1 = square pixels, C444 = 8-bit 4:4:4.
    fprintf(w->y4m, "YUV4MPEG2 W%d H%d F%d:1 Ip A1:1 C444 XCOLORRANGE=LIMITED\n", w->width, w->height, w->fps);
    w->yuv = vs_malloc((size_t)3 * w->width * w->height);
    snprintf(w->codec, sizeof w->codec, "y4m (4:4:4)");
    return 0;
}

static uint8_t clamp_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

// BT.601 limited range (what players assume for untagged Y4M), rounded to nearest.
static int write_y4m(vs_video_writer *w) {
    const size_t n = (size_t)w->width * w->height;
    uint8_t *y = w->yuv, *u = y + n, *v = u + n;
    for (size_t i = 0; i < n; i++) {
        const double r = w->rgb[3 * i], g = w->rgb[3 * i + 1], b = w->rgb[3 * i + 2];
        y[i] = clamp_u8((int)(16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0 + 0.5));
        u[i] = clamp_u8((int)(128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0 + 0.5));
        v[i] = clamp_u8((int)(128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0 + 0.5));
    }
    if (fputs("FRAME\n", w->y4m) < 0 || fwrite(w->yuv, 1, 3 * n, w->y4m) != 3 * n)
        return VS_FAIL("%s: write failed (disk full?)", w->path);
    return 0;
}

int vs_video_open(vs_video_writer **out, const char *path, int width, int height, const vs_video_options *o) {
    vs_video_options def;
    if (!o) {
        vs_video_options_default(&def);
        o = &def;
    }
    *out = NULL;
    if (width < 1 || height < 1) return VS_FAIL("%s: frame size %dx%d is empty", path, width, height);
    if (o->fps < 1 || o->fps > 1000) return VS_FAIL("%s: frame rate %d is outside 1..1000", path, o->fps);
    vs_video_writer *w = vs_calloc(1, sizeof *w);
    w->width = width;
    w->height = height;
    w->fps = o->fps;
    snprintf(w->path, sizeof w->path, "%s", path);
    int want_y4m = has_ext(path, ".y4m");
    if (!want_y4m && !vs_video_have_ffmpeg()) {
        // Same stem, .y4m: the user gets a video either way and is told which.
        char *dot = strrchr(w->path, '.'), *slash = strrchr(w->path, '/');
        if (dot && (!slash || dot > slash)) *dot = 0;
        strncat(w->path, ".y4m", sizeof w->path - strlen(w->path) - 1);
        VS_WARN("this build has no FFmpeg, so %s is written as %s (YUV4MPEG2 4:4:4); convert it with "
                "`ffmpeg -i %s -pix_fmt yuv420p out.mp4`, or rebuild with libavformat-dev libavcodec-dev "
                "libswscale-dev installed", path, w->path, w->path);
        want_y4m = 1;
    }
    int rc;
    if (want_y4m) rc = open_y4m(w);
    else if (width % 2 || height % 2)
        rc = VS_FAIL("%s: %dx%d has an odd side; H.264 in yuv420p needs an even width and height "
                     "(choose an even size, or write .y4m, which takes any size)", path, width, height);
    else {
#ifdef VS_HAVE_FFMPEG
        rc = vs_ff_open(&w->ff, path, width, height, o->fps, o->crf, o->encoder, w->codec, sizeof w->codec);
#else
        rc = VS_FAIL("internal: FFmpeg path without FFmpeg");
#endif
    }
    if (rc != 0) {
        if (w->y4m) fclose(w->y4m);
        free(w->yuv);
        free(w);
        return -1;
    }
    w->rgb = vs_malloc((size_t)3 * width * height);
    *out = w;
    return 0;
}

int vs_video_write_frame(vs_video_writer *w, const float *rgb) {
    const size_t n = (size_t)w->width * w->height;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) w->rgb[3 * i + c] = vs_video_to_u8(rgb[c * n + i]);
    int rc;
    if (w->y4m) rc = write_y4m(w);
    else {
#ifdef VS_HAVE_FFMPEG
        rc = vs_ff_write_rgb24(w->ff, w->rgb);
#else
        rc = VS_FAIL("internal: FFmpeg path without FFmpeg");
#endif
    }
    if (rc == 0) w->frames++;
    return rc;
}

int vs_video_close(vs_video_writer *w) {
    if (!w) return 0;
    int rc = 0;
    if (w->y4m && fclose(w->y4m) != 0) rc = VS_FAIL("%s: closing failed (disk full?)", w->path);
#ifdef VS_HAVE_FFMPEG
    if (w->ff && vs_ff_close(w->ff) != 0) rc = -1;
#endif
    free(w->rgb);
    free(w->yuv);
    free(w);
    return rc;
}

const char *vs_video_path(const vs_video_writer *w) { return w->path; }
const char *vs_video_codec(const vs_video_writer *w) { return w->codec; }
int vs_video_frames(const vs_video_writer *w) { return w->frames; }

int vs_video_write(const char *path, const float *frames, int n_frames, int height, int width,
                   const vs_video_options *o) {
    vs_video_writer *w;
    if (vs_video_open(&w, path, width, height, o) != 0) return -1;
    const size_t plane = (size_t)height * width;
    float *frame = vs_malloc(3 * plane * sizeof(float));
    int rc = 0;
    for (int f = 0; f < n_frames && rc == 0; f++) {
        for (int c = 0; c < 3; c++)
            memcpy(frame + c * plane, frames + ((size_t)c * n_frames + f) * plane, plane * sizeof(float));
        rc = vs_video_write_frame(w, frame);
    }
    free(frame);
    if (vs_video_close(w) != 0) rc = -1;
    return rc;
}
