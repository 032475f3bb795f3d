// Video output: known synthetic frames (smooth gradients and soft-edged moving boxes) are
// written, read back and compared.
//  - MP4 (FFmpeg builds): read back through libavformat/libavcodec: frame count, size, 16 fps,
//    timestamps i/16 s, and pixels within YUV rounding. Tolerance (libx264, crf 4, smooth content):
//    mean |error| <= 3 and max <= 24 levels. Why 24: 8-bit Y/Cb/Cr quantisation alone moves an
//    RGB value by up to ~2 levels (a Cr step is 1.79 R levels in BT.709 limited range), and 4:2:0
//    averages chroma over 2×2 pixels: where the colour changes by up to ~9 levels per pixel (the
//    box's soft edge), the chroma of a pixel may be off by about one pixel's change in each
//    direction, ~2 × 9 = 18, plus the rounding.
//  - the MPEG-4 Part 2 fallback encoder writes a readable MP4 of the right length (mean <= 6).
//  - Y4M (every build): header, frame count and pixels within ±2 (4:4:4, only rounding).
//  - Without FFmpeg, an .mp4 request is written as .y4m, and the test checks that file.
//  - Odd sizes are rejected for MP4 with a message saying so.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/vs_check.h"
#include "runtime/vs_video.h"
#include "tests/vs_test.h"

#ifdef VS_HAVE_FFMPEG
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
#endif

enum { W = 64, H = 48, F = 17, FPS = 16 };

static float smoothstep(float e0, float e1, float x) {
    float t = (x - e0) / (e1 - e0);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return t * t * (3 - 2 * t);
}

// Frame f, [3, H, W] in [-1, 1]: R = horizontal ramp, G = vertical ramp, B = diagonal ramp, and a
// box with 8-pixel soft edges moving 2 px per frame that brightens R and darkens B.
static void synth_frame(int f, float *rgb) {
    const float bx = 8.0f + 2.0f * f, by = 12.0f, bw = 20.0f, bh = 18.0f;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const float box = smoothstep(bx - 8, bx, x) * (1 - smoothstep(bx + bw, bx + bw + 8, x)) *
                              smoothstep(by - 8, by, y) * (1 - smoothstep(by + bh, by + bh + 8, y));
            const float r = -0.8f + 1.2f * x / W + 0.5f * box;
            const float g = -0.6f + 1.2f * y / H;
            const float b = 0.4f - 0.6f * (x + y) / (W + H) - 0.4f * box;
            rgb[0 * H * W + y * W + x] = r;
            rgb[1 * H * W + y * W + x] = g;
            rgb[2 * H * W + y * W + x] = b;
        }
}

// All frames as expected uint8, packed [F][H][W][3].
static uint8_t *expected_u8(void) {
    uint8_t *e = malloc((size_t)F * H * W * 3);
    float *rgb = malloc(sizeof(float) * 3 * H * W);
    for (int f = 0; f < F; f++) {
        synth_frame(f, rgb);
        for (int i = 0; i < H * W; i++)
            for (int c = 0; c < 3; c++) e[((size_t)f * H * W + i) * 3 + c] = vs_video_to_u8(rgb[c * H * W + i]);
    }
    free(rgb);
    return e;
}

static int write_synthetic(const char *path, const char *encoder, char *written, size_t len) {
    vs_video_options o;
    vs_video_options_default(&o);
    o.crf = 4;
    o.encoder = encoder;
    vs_video_writer *w;
    if (vs_video_open(&w, path, W, H, &o) != 0) return -1;
    snprintf(written, len, "%s", vs_video_path(w));
    printf("%s: codec %s\n", written, vs_video_codec(w));
    float *rgb = malloc(sizeof(float) * 3 * H * W);
    int rc = 0;
    for (int f = 0; f < F && rc == 0; f++) {
        synth_frame(f, rgb);
        rc = vs_video_write_frame(w, rgb);
    }
    free(rgb);
    if (vs_video_close(w) != 0) rc = -1;
    return rc;
}

static void test_u8_mapping(void) {
    CHECK(vs_video_to_u8(-1.0f) == 0 && vs_video_to_u8(1.0f) == 255);
    CHECK(vs_video_to_u8(-3.0f) == 0 && vs_video_to_u8(7.0f) == 255);
    CHECK(vs_video_to_u8(0.0f) == 127);  // floor(127.5)
    CHECK(vs_video_to_u8(0.5f) == 191);  // floor(191.25)
}

// Reads a Y4M (C444) file back to packed RGB with the inverse BT.601 limited-range transform.
static void check_y4m(const char *path) {
    FILE *fp = fopen(path, "rb");
    CHECK_MSG(fp != NULL, "%s missing", path);
    if (!fp) return;
    char header[256];
    CHECK(fgets(header, sizeof header, fp) != NULL);
    int w = 0, h = 0, fn = 0, fd = 0;
    CHECK(sscanf(header, "YUV4MPEG2 W%d H%d F%d:%d", &w, &h, &fn, &fd) == 4);
    CHECK(w == W && h == H && fn == FPS && fd == 1);
    CHECK(strstr(header, " C444") != NULL);
    uint8_t *e = expected_u8(), *yuv = malloc((size_t)3 * W * H);
    int frames = 0, max_err = 0;
    char tag[16];
    while (fgets(tag, sizeof tag, fp)) {
        CHECK(strcmp(tag, "FRAME\n") == 0);
        if (fread(yuv, 1, (size_t)3 * W * H, fp) != (size_t)3 * W * H) break;
        for (int i = 0; i < W * H && frames < F; i++) {
            const double y = yuv[i] - 16.0, u = yuv[W * H + i] - 128.0, v = yuv[2 * W * H + i] - 128.0;
            const double rgb[3] = {255.0 / 219 * y + 255.0 / 112 * 0.701 * v,
                                   255.0 / 219 * y - 255.0 / 112 * 0.886 * 0.114 / 0.587 * u -
                                       255.0 / 112 * 0.701 * 0.299 / 0.587 * v,
                                   255.0 / 219 * y + 255.0 / 112 * 0.886 * u};
            for (int c = 0; c < 3; c++) {
                int d = abs((int)lround(rgb[c]) - e[((size_t)frames * W * H + i) * 3 + c]);
                if (d > max_err) max_err = d;
            }
        }
        frames++;
    }
    printf("%s: %d frames, max error %d\n", path, frames, max_err);
    CHECK(frames == F);
    CHECK_MSG(max_err <= 2, "Y4M max error %d", max_err);
    free(e);
    free(yuv);
    fclose(fp);
}

static void test_y4m(void) {
    char written[1024];
    const char *path = "test_video_out.y4m";
    CHECK_MSG(write_synthetic(path, NULL, written, sizeof written) == 0, "%s", vs_last_error());
    CHECK(strcmp(written, path) == 0);
    check_y4m(path);
    remove(path);
}

static void test_odd_size_rejected(void) {
    vs_video_writer *w = NULL;
    vs_clear_error();
    int rc = vs_video_open(&w, "test_video_odd.mp4", 63, 48, NULL);
    if (vs_video_have_ffmpeg()) {
        CHECK(rc == -1 && w == NULL);
        CHECK_MSG(strstr(vs_last_error(), "odd") && strstr(vs_last_error(), "63x48"), "%s", vs_last_error());
        CHECK(access("test_video_odd.mp4", F_OK) != 0);
    } else {
        // Without FFmpeg the request becomes a 4:4:4 Y4M, which takes any size.
        CHECK(rc == 0);
        if (rc == 0) vs_video_close(w);
        remove("test_video_odd.y4m");
    }
    CHECK(vs_video_open(&w, "test_video_empty.y4m", 0, 48, NULL) == -1);
}

#ifdef VS_HAVE_FFMPEG
// Decodes `path` and compares it with the synthetic frames; returns the mean error.
static double read_back_mp4(const char *path, int *max_err_out) {
    AVFormatContext *ic = NULL;
    int rc = avformat_open_input(&ic, path, NULL, NULL);
    CHECK_MSG(rc == 0, "cannot open %s", path);
    if (rc) return 1e9;
    CHECK(avformat_find_stream_info(ic, NULL) >= 0);
    int si = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    CHECK(si >= 0);
    AVStream *st = ic->streams[si];
    CHECK(st->codecpar->width == W && st->codecpar->height == H);
    CHECK_MSG(st->avg_frame_rate.num == FPS * st->avg_frame_rate.den, "avg_frame_rate %d/%d",
              st->avg_frame_rate.num, st->avg_frame_rate.den);
    CHECK_MSG(st->nb_frames == F, "nb_frames %lld", (long long)st->nb_frames);
    const AVCodec *dec = avcodec_find_decoder(st->codecpar->codec_id);
    AVCodecContext *c = avcodec_alloc_context3(dec);
    avcodec_parameters_to_context(c, st->codecpar);
    CHECK(avcodec_open2(c, dec, NULL) == 0);
    struct SwsContext *sws = sws_getContext(W, H, c->pix_fmt, W, H, AV_PIX_FMT_RGB24,
                                            SWS_BICUBIC | SWS_ACCURATE_RND, NULL, NULL, NULL);
    const int *bt709 = sws_getCoefficients(SWS_CS_ITU709);
    sws_setColorspaceDetails(sws, bt709, 0, bt709, 1, 0, 1 << 16, 1 << 16);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    uint8_t *e = expected_u8(), *rgb = malloc((size_t)3 * W * H);
    int frames = 0, max_err = 0, eof = 0, pts_ok = 1;
    double sum_err = 0;
    while (!eof) {
        rc = av_read_frame(ic, pkt);
        if (rc < 0) {
            eof = 1;
            avcodec_send_packet(c, NULL);
        } else {
            if (pkt->stream_index == si) avcodec_send_packet(c, pkt);
            av_packet_unref(pkt);
        }
        while (avcodec_receive_frame(c, fr) == 0) {
            // Presentation time of frame i must be i/16 s.
            const double t = fr->best_effort_timestamp * av_q2d(st->time_base);
            if (fabs(t - (double)frames / FPS) > 1e-6) pts_ok = 0;
            uint8_t *dst[1] = {rgb};
            int stride[1] = {3 * W};
            sws_scale(sws, (const uint8_t *const *)fr->data, fr->linesize, 0, H, dst, stride);
            if (frames < F)
                for (int i = 0; i < 3 * W * H; i++) {
                    int d = abs((int)rgb[i] - e[(size_t)frames * W * H * 3 + i]);
                    sum_err += d;
                    if (d > max_err) max_err = d;
                }
            frames++;
        }
    }
    CHECK_MSG(frames == F, "decoded %d frames", frames);
    CHECK_MSG(pts_ok, "timestamps are not i/16 s");
    free(e);
    free(rgb);
    av_frame_free(&fr);
    av_packet_free(&pkt);
    sws_freeContext(sws);
    avcodec_free_context(&c);
    avformat_close_input(&ic);
    *max_err_out = max_err;
    return sum_err / ((double)F * W * H * 3);
}

static void test_mp4_h264(void) {
    char written[1024];
    const char *path = "test_video_out.mp4";
    CHECK_MSG(write_synthetic(path, NULL, written, sizeof written) == 0, "%s", vs_last_error());
    int max_err = 0;
    double mean = read_back_mp4(path, &max_err);
    printf("%s: mean abs error %.3f, max %d\n", path, mean, max_err);
    CHECK_MSG(mean <= 3.0, "mean %.3f", mean);
    CHECK_MSG(max_err <= 24, "max %d", max_err);
    remove(path);
}

static void test_mp4_mpeg4_fallback(void) {
    char written[1024];
    const char *path = "test_video_mpeg4.mp4";
    CHECK_MSG(write_synthetic(path, "mpeg4", written, sizeof written) == 0, "%s", vs_last_error());
    int max_err = 0;
    double mean = read_back_mp4(path, &max_err);
    printf("%s: mean abs error %.3f, max %d\n", path, mean, max_err);
    CHECK_MSG(mean <= 6.0, "mean %.3f", mean);
    remove(path);
}
#else
static void test_mp4_becomes_y4m(void) {
    char written[1024];
    CHECK(write_synthetic("test_video_out.mp4", NULL, written, sizeof written) == 0);
    CHECK(strcmp(written, "test_video_out.y4m") == 0);
    check_y4m("test_video_out.y4m");
    remove("test_video_out.y4m");
}
#endif

int main(void) {
    RUN_TEST(test_u8_mapping);
    RUN_TEST(test_y4m);
    RUN_TEST(test_odd_size_rejected);
#ifdef VS_HAVE_FFMPEG
    RUN_TEST(test_mp4_h264);
    RUN_TEST(test_mp4_mpeg4_fallback);
#else
    RUN_TEST(test_mp4_becomes_y4m);
#endif
    return vs_test_finish();
}
