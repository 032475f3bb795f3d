// H.264 MP4 through libavformat + libavcodec + libswscale (reference/runtimes-and-style.md §7):
// RGB24 -> swscale (BT.709, limited range, the tags written into the stream match) -> yuv420p
// -> encoder -> packets with timestamps rescaled from the encoder's 1/fps to the stream's time
// base (the MP4 muxer raises a coarse time base) -> muxer. Closing drains the encoder (B-frame
// delay) and writes the trailer (the moov box, without which the file does not play).
#ifdef VS_HAVE_FFMPEG
#include "runtime/vs_video_ffmpeg.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <string.h>

#include "runtime/vs_check.h"
#include "runtime/vs_log.h"

struct vs_ff_writer {
    AVFormatContext *oc;
    AVStream *st;
    AVCodecContext *enc;
    struct SwsContext *sws;
    AVFrame *frame;
    AVPacket *pkt;
    int width, height;
    int64_t next_pts;
    int header_written;
    char path[1024];
};

static const char *av_err(int code, char *buf, size_t len) {
    if (av_strerror(code, buf, len) < 0) snprintf(buf, len, "error %d", code);
    return buf;
}

static int supports_yuv420p(const AVCodec *codec) {
    if (!codec->pix_fmts) return 1;
    for (const enum AVPixelFormat *p = codec->pix_fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == AV_PIX_FMT_YUV420P) return 1;
    return 0;
}

// Configures and opens one encoder; NULL (and nothing allocated) when it does not open.
static AVCodecContext *try_encoder(const AVCodec *codec, const vs_ff_writer *f, int fps, int crf) {
    if (!codec || !supports_yuv420p(codec)) return NULL;
    AVCodecContext *c = avcodec_alloc_context3(codec);
    if (!c) return NULL;
    c->width = f->width;
    c->height = f->height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = (AVRational){1, fps};
    c->framerate = (AVRational){fps, 1};
    c->gop_size = 2 * fps;
    c->max_b_frames = 2;
    c->colorspace = AVCOL_SPC_BT709;
    c->color_primaries = AVCOL_PRI_BT709;
    c->color_trc = AVCOL_TRC_BT709;
    c->color_range = AVCOL_RANGE_MPEG;
    if (f->oc->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (!strcmp(codec->name, "libx264")) {
        char crf_s[16];
        snprintf(crf_s, sizeof crf_s, "%d", crf);
        av_opt_set(c->priv_data, "preset", "medium", 0);
        av_opt_set(c->priv_data, "crf", crf_s, 0);
    } else if (codec->id == AV_CODEC_ID_MPEG4) {
        c->flags |= AV_CODEC_FLAG_QSCALE;  // constant quality instead of the 200 kb/s default
        c->global_quality = FF_QP2LAMBDA * 3;
    }
    if (avcodec_open2(c, codec, NULL) < 0) {
        avcodec_free_context(&c);
        return NULL;
    }
    return c;
}

// libx264, then every other H.264 encoder (hardware ones fail to open without their device),
// then MPEG-4 Part 2. A named encoder is the only candidate.
static AVCodecContext *open_encoder(const vs_ff_writer *f, int fps, int crf, const char *name) {
    if (name) return try_encoder(avcodec_find_encoder_by_name(name), f, fps, crf);
    AVCodecContext *c = try_encoder(avcodec_find_encoder_by_name("libx264"), f, fps, crf);
    if (c) return c;
    const int level = av_log_get_level();
    av_log_set_level(AV_LOG_QUIET);  // failed probes of absent hardware are expected
    void *it = NULL;
    const AVCodec *codec;
    while (!c && (codec = av_codec_iterate(&it)))
        if (av_codec_is_encoder(codec) && codec->id == AV_CODEC_ID_H264) c = try_encoder(codec, f, fps, crf);
    av_log_set_level(level);
    if (c) return c;
    c = try_encoder(avcodec_find_encoder(AV_CODEC_ID_MPEG4), f, fps, crf);
    if (c)
        VS_WARN("%s: this FFmpeg has no usable H.264 encoder (libx264 is GPL and missing from LGPL builds); "
                "writing MPEG-4 Part 2 video instead, which most players but not all browsers play",
                f->path);
    return c;
}

// Receives every packet the encoder has ready and hands it to the muxer.
static int drain(vs_ff_writer *f) {
    char eb[128];
    for (;;) {
        int rc = avcodec_receive_packet(f->enc, f->pkt);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return 0;
        if (rc < 0) return VS_FAIL("%s: encoding failed: %s", f->path, av_err(rc, eb, sizeof eb));
        av_packet_rescale_ts(f->pkt, f->enc->time_base, f->st->time_base);
        f->pkt->stream_index = f->st->index;
        rc = av_interleaved_write_frame(f->oc, f->pkt);  // takes the packet's reference
        if (rc < 0)
            return VS_FAIL("%s: writing a packet failed: %s (disk full?)", f->path, av_err(rc, eb, sizeof eb));
    }
}

static void free_writer(vs_ff_writer *f) {
    if (!f) return;
    avcodec_free_context(&f->enc);
    av_frame_free(&f->frame);
    av_packet_free(&f->pkt);
    sws_freeContext(f->sws);
    if (f->oc && !(f->oc->oformat->flags & AVFMT_NOFILE)) avio_closep(&f->oc->pb);
    avformat_free_context(f->oc);
    av_free(f);
}

int vs_ff_open(vs_ff_writer **out, const char *path, int width, int height, int fps, int crf,
               const char *encoder, char *codec_name, size_t codec_len) {
    char eb[128];
    *out = NULL;
    vs_ff_writer *f = av_mallocz(sizeof *f);
    if (!f) return VS_FAIL("out of memory");
    f->width = width;
    f->height = height;
    snprintf(f->path, sizeof f->path, "%s", path);
    av_log_set_level(AV_LOG_WARNING);  // x264's banner and statistics are info-level noise here
    int rc = avformat_alloc_output_context2(&f->oc, NULL, NULL, path);
    if (rc < 0 || !f->oc) {
        free_writer(f);
        return VS_FAIL("%s: FFmpeg knows no container for this file name (%s); use .mp4, .mkv or .mov, or .y4m",
                       path, av_err(rc, eb, sizeof eb));
    }
    f->enc = open_encoder(f, fps, crf, encoder);
    if (!f->enc) {
        free_writer(f);
        return encoder ? VS_FAIL("%s: encoder '%s' is not in this FFmpeg or does not open for %dx%d yuv420p",
                                 path, encoder, width, height)
                       : VS_FAIL("%s: this FFmpeg has neither an H.264 nor an MPEG-4 encoder; write .y4m instead",
                                 path);
    }
    snprintf(codec_name, codec_len, "%s", f->enc->codec->name);
    f->st = avformat_new_stream(f->oc, NULL);
    if (!f->st) {
        free_writer(f);
        return VS_FAIL("%s: cannot add a video stream (out of memory)", path);
    }
    f->st->time_base = f->enc->time_base;
    f->st->avg_frame_rate = f->enc->framerate;
    rc = avcodec_parameters_from_context(f->st->codecpar, f->enc);
    if (rc >= 0 && !(f->oc->oformat->flags & AVFMT_NOFILE)) {
        rc = avio_open(&f->oc->pb, path, AVIO_FLAG_WRITE);
        if (rc < 0) {
            free_writer(f);
            return VS_FAIL("%s: cannot create the file: %s (check the folder exists and is writable)", path,
                           av_err(rc, eb, sizeof eb));
        }
    }
    AVDictionary *opts = NULL;
    if (!strcmp(f->oc->oformat->name, "mp4") || !strcmp(f->oc->oformat->name, "mov"))
        av_dict_set(&opts, "movflags", "+faststart", 0);  // moov first: plays while downloading
    if (rc >= 0) rc = avformat_write_header(f->oc, &opts);
    av_dict_free(&opts);
    if (rc < 0) {
        free_writer(f);
        return VS_FAIL("%s: cannot write the container header: %s", path, av_err(rc, eb, sizeof eb));
    }
    f->header_written = 1;
    f->sws = sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P,
                            SWS_BICUBIC | SWS_ACCURATE_RND, NULL, NULL, NULL);
    f->frame = av_frame_alloc();
    f->pkt = av_packet_alloc();
    if (!f->sws || !f->frame || !f->pkt) {
        free_writer(f);
        return VS_FAIL("%s: cannot set up the RGB -> YUV conversion (out of memory)", path);
    }
    // RGB is full range; YUV is BT.709 limited range, as tagged on the encoder above.
    const int *bt709 = sws_getCoefficients(SWS_CS_ITU709);
    sws_setColorspaceDetails(f->sws, bt709, 1, bt709, 0, 0, 1 << 16, 1 << 16);
    f->frame->format = AV_PIX_FMT_YUV420P;
    f->frame->width = width;
    f->frame->height = height;
    f->frame->color_range = AVCOL_RANGE_MPEG;
    f->frame->colorspace = AVCOL_SPC_BT709;
    rc = av_frame_get_buffer(f->frame, 0);
    if (rc < 0) {
        free_writer(f);
        return VS_FAIL("%s: cannot allocate a frame: %s", path, av_err(rc, eb, sizeof eb));
    }
    *out = f;
    return 0;
}

int vs_ff_write_rgb24(vs_ff_writer *f, const uint8_t *rgb) {
    char eb[128];
    int rc = av_frame_make_writable(f->frame);  // the encoder may still hold the previous buffer
    if (rc < 0) return VS_FAIL("%s: frame buffer: %s", f->path, av_err(rc, eb, sizeof eb));
    const uint8_t *src[1] = {rgb};
    const int stride[1] = {3 * f->width};
    sws_scale(f->sws, src, stride, 0, f->height, f->frame->data, f->frame->linesize);
    f->frame->pts = f->next_pts++;
    rc = avcodec_send_frame(f->enc, f->frame);
    if (rc < 0) return VS_FAIL("%s: encoder refused frame %lld: %s", f->path, (long long)f->frame->pts,
                               av_err(rc, eb, sizeof eb));
    return drain(f);
}

int vs_ff_close(vs_ff_writer *f) {
    char eb[128];
    int result = 0;
    if (f->header_written) {
        int rc = avcodec_send_frame(f->enc, NULL);  // flush: the delayed (B-)frames come out now
        if (rc < 0) result = VS_FAIL("%s: flushing the encoder: %s", f->path, av_err(rc, eb, sizeof eb));
        if (drain(f) != 0) result = -1;
        rc = av_write_trailer(f->oc);
        if (rc < 0) result = VS_FAIL("%s: writing the trailer: %s", f->path, av_err(rc, eb, sizeof eb));
    }
    free_writer(f);
    return result;
}
#else
typedef int vs_video_ffmpeg_unused;  // ISO C forbids an empty translation unit
#endif
