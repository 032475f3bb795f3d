#include "runtime/vs_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static vs_log_level g_level = VS_LOG_INFO;
static int g_all_ranks = 0;

void vs_log_set_level(vs_log_level level) { g_level = level; }
vs_log_level vs_log_get_level(void) { return g_level; }
void vs_log_set_all_ranks(int all_ranks) { g_all_ranks = all_ranks; }

double vs_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void vs_log(vs_log_level level, const char *fmt, ...) {
    static double t0 = 0;
    if (t0 == 0) t0 = vs_now_seconds();
    if (level > g_level) return;
    if (level >= VS_LOG_INFO && vs_rank() != 0 && !g_all_ranks) return;
    static const char *tags[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
    FILE *out = level <= VS_LOG_WARN ? stderr : stdout;
    if (vs_world_size() > 1)
        fprintf(out, "[%7.2fs %s r%d] ", vs_now_seconds() - t0, tags[level], vs_rank());
    else
        fprintf(out, "[%7.2fs %s] ", vs_now_seconds() - t0, tags[level]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    size_t n = strlen(fmt);
    if (n == 0 || fmt[n - 1] != '\n') fputc('\n', out);
    fflush(out);
}
