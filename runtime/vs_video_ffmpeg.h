// The FFmpeg half of runtime/vs_video.c (only in builds with VS_HAVE_FFMPEG): an encoder and
// muxer fed packed RGB24 frames.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct vs_ff_writer vs_ff_writer;

// codec_name receives the encoder actually used.
int vs_ff_open(vs_ff_writer **out, const char *path, int width, int height, int fps, int crf,
               const char *encoder, char *codec_name, size_t codec_len);
int vs_ff_write_rgb24(vs_ff_writer *f, const uint8_t *rgb);  // [height][width][3]
// Drains the encoder and writes the trailer (when the header was written); frees f.
int vs_ff_close(vs_ff_writer *f);
