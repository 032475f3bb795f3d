#include "launch/progress.h"

#include <unistd.h>

enum { BAR_WIDTH = 40 };

void vs_progress_init(vs_progress *p, FILE *out) {
    p->out = out;
    p->tty = isatty(fileno(out));
}

// "1h02m", "3m07s", "12s"
static void format_duration(double s, char *buf, size_t len) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, len, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
    else if (t >= 60) snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, len, "%lds", t);
}

void vs_progress_update(void *ctx, int done, int steps, double elapsed_s) {
    vs_progress *p = ctx;
    double per_step = done > 0 ? elapsed_s / done : 0;
    char speed[32], eta[32];
    if (per_step >= 1.0 || per_step == 0) snprintf(speed, sizeof speed, "%.2f s/it", per_step);
    else snprintf(speed, sizeof speed, "%.2f it/s", 1.0 / per_step);
    format_duration(per_step * (steps - done), eta, sizeof eta);
    if (p->tty) {
        int filled = steps > 0 ? BAR_WIDTH * done / steps : BAR_WIDTH;
        char bar[BAR_WIDTH + 1];
        for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '=' : ' ';
        if (filled > 0 && filled < BAR_WIDTH) bar[filled - 1] = '>';
        bar[BAR_WIDTH] = '\0';
        fprintf(p->out, "\r[%s] %d/%d  %s  ETA %s\033[K", bar, done, steps, speed, eta);
        if (done == steps) fputc('\n', p->out);
    } else {
        fprintf(p->out, "step %d/%d  %s  elapsed %.2f s  ETA %s\n", done, steps, speed, elapsed_s,
                eta);
    }
    fflush(p->out);
}
