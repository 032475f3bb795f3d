#include "runtime/vs_check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_rank = 0;
static int g_world = 1;
static void (*g_abort_handler)(int) = NULL;
static _Thread_local char g_last_error[1024];

void vs_set_identity(int rank, int world_size) {
    g_rank = rank;
    g_world = world_size;
}
int vs_rank(void) { return g_rank; }
int vs_world_size(void) { return g_world; }

const char *vs_hostname(void) {
    static char host[256];
    if (!host[0] && gethostname(host, sizeof host - 1) != 0) strcpy(host, "unknown-host");
    return host;
}

void vs_set_abort_handler(void (*handler)(int code)) { g_abort_handler = handler; }

void vs_die(const char *file, int line, const char *call, const char *what, const char *hint) {
    fflush(stdout);
    fprintf(stderr, "[vidsparse ERROR] rank %d/%d on %s at %s:%d\n  failed: %s\n  reason: %s\n",
            g_rank, g_world, vs_hostname(), file, line, call ? call : "(none)",
            what && what[0] ? what : "(no detail)");
    if (hint && hint[0]) fprintf(stderr, "  hint:   %s\n", hint);
    fflush(stderr);
    if (g_abort_handler) g_abort_handler(1);
    exit(1);
}

void vs_dief(const char *file, int line, const char *hint, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vs_die(file, line, NULL, msg, hint);
}

int vs_fail(const char *file, int line, const char *fmt, ...) {
    const char *base = strrchr(file, '/');
    int n = snprintf(g_last_error, sizeof g_last_error, "%s:%d: ", base ? base + 1 : file, line);
    if (n < 0 || (size_t)n >= sizeof g_last_error) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_last_error + n, sizeof g_last_error - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

const char *vs_last_error(void) { return g_last_error; }
void vs_clear_error(void) { g_last_error[0] = 0; }

void *vs_malloc_(size_t bytes, const char *file, int line) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        char what[128];
        snprintf(what, sizeof what, "out of host memory allocating %zu bytes", bytes);
        vs_die(file, line, "malloc", what, "use a smaller size or frame count, or a machine with more memory");
    }
    return p;
}

void *vs_calloc_(size_t count, size_t size, const char *file, int line) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) {
        char what[128];
        snprintf(what, sizeof what, "out of host memory allocating %zu x %zu bytes", count, size);
        vs_die(file, line, "calloc", what, "use a smaller size or frame count, or a machine with more memory");
    }
    return p;
}
