// Video output: decoded frames (RGB, planar, in [-1, 1]) -> a playable file.
//
// Pixels become uint8 as floor((clamp(x, -1, 1) + 1) / 2 · 255) (spec §4.7). Then, by the path's
// extension:
//  - .y4m: YUV4MPEG2, 4:4:4 (C444, no chroma subsampling, any size), BT.601 limited range, written
//    by this file with no dependency;
//  - anything else (.mp4, .mkv, .mov): FFmpeg (libavformat/libavcodec/libswscale) with H.264 in
//    yuv420p, BT.709 limited range and tagged so; libx264 first, else any H.264 encoder that
//    opens, else MPEG-4 Part 2 with a warning (LGPL builds). yuv420p needs an even width and
//    height: odd sizes are rejected with a clear message (never padded or cropped silently).
//    Without FFmpeg in the build, such a path is written as <stem>.y4m instead, with a warning
//    that says so; vs_video_path() gives the file actually written.
// Frames are streamed: the writer holds one frame, never the whole video.
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int fps;              // frames per second (Wan: 16)
    int crf;              // H.264 constant rate factor (libx264; lower = better), 18
    const char *encoder;  // NULL: automatic (see above); or an FFmpeg encoder name, e.g. "mpeg4"
} vs_video_options;

void vs_video_options_default(vs_video_options *o);

typedef struct vs_video_writer vs_video_writer;

// Opens a writer for frames of width × height. 0, or -1 with vs_last_error().
int vs_video_open(vs_video_writer **w, const char *path, int width, int height, const vs_video_options *o);
// One frame rgb [3, height, width] (planar, values in [-1, 1]; clamped).
int vs_video_write_frame(vs_video_writer *w, const float *rgb);
// Flushes the encoder, writes the trailer and frees the writer (also after a failed write, so
// the frames written so far stay playable). 0 or -1.
int vs_video_close(vs_video_writer *w);
const char *vs_video_path(const vs_video_writer *w);   // the file being written
const char *vs_video_codec(const vs_video_writer *w);  // "libx264", "mpeg4", "y4m (4:4:4)", ...
int vs_video_frames(const vs_video_writer *w);

// Whole video at once: frames [3, F, height, width] in [-1, 1].
int vs_video_write(const char *path, const float *frames, int n_frames, int height, int width,
                   const vs_video_options *o);

// 1 when this build writes MP4 (FFmpeg found at build time).
int vs_video_have_ffmpeg(void);

static inline uint8_t vs_video_to_u8(float x) {
    if (!(x > -1.0f)) x = -1.0f;  // NaN -> black
    if (x > 1.0f) x = 1.0f;
    int v = (int)((x + 1.0f) * 0.5f * 255.0f);  // floor for non-negative values
    return (uint8_t)(v > 255 ? 255 : v);
}

#ifdef __cplusplus
}
#endif
