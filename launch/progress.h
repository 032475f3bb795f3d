// The denoising progress display on rank 0. On a terminal: one bar redrawn in place,
//   [=================>                ] 12/50  1.84 s/it  ETA 1m10s
// (it/s instead of s/it when a step takes under a second), ended by a newline. Anywhere else
// (a log file, a pipe, CI): one plain line per step, so logs stay readable.
#pragma once
#include <stdio.h>

typedef struct {
    FILE *out;
    int tty;
} vs_progress;

void vs_progress_init(vs_progress *p, FILE *out);
// Matches vs_progress_fn (runtime/vs_pipeline.h): ctx is a vs_progress.
void vs_progress_update(void *ctx, int done, int steps, double elapsed_s);
