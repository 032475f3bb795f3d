// Error handling for the whole runtime.
//
// Two kinds of failure:
//  - recoverable: a library function that can meet bad input (a corrupt file, a malformed
//    config, an unsupported shape) records a message with VS_FAIL and returns -1; the caller
//    decides. vs_last_error() gives the message (thread-local).
//  - fatal: a failing CUDA/cuBLAS/NCCL/MPI/libc call, or a caller that cannot go on, calls
//    vs_die(). It prints rank, host, file:line, the failing call and a hint, then runs the
//    abort handler: exit(1) in a single process, MPI_Abort in a multi-rank job (installed by
//    parallel/), so no rank is left hanging in a collective.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define VS_NORETURN __attribute__((noreturn))
#define VS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VS_NORETURN
#define VS_PRINTF(a, b)
#endif

// Who we are, for messages. Single process: rank 0 of 1.
void vs_set_identity(int rank, int world_size);
int vs_rank(void);
int vs_world_size(void);
const char *vs_hostname(void);

// Replaces exit(1) in vs_die (parallel/ installs MPI_Abort).
void vs_set_abort_handler(void (*handler)(int code));

VS_NORETURN void vs_die(const char *file, int line, const char *call, const char *what,
                        const char *hint);
VS_NORETURN void vs_dief(const char *file, int line, const char *hint, const char *fmt, ...)
    VS_PRINTF(4, 5);

// Records "file:line: message" as the thread's last error; returns -1.
int vs_fail(const char *file, int line, const char *fmt, ...) VS_PRINTF(3, 4);
const char *vs_last_error(void);
void vs_clear_error(void);

#define VS_FAIL(...) vs_fail(__FILE__, __LINE__, __VA_ARGS__)

// A call returning 0 on success and -1 (with vs_last_error) on failure, where failure is fatal.
#define VS_TRY(call, hint)                                                                  \
    do {                                                                                    \
        if ((call) != 0) vs_die(__FILE__, __LINE__, #call, vs_last_error(), (hint));        \
    } while (0)

// An invariant or a user-facing precondition that cannot be recovered from.
#define VS_ASSERT(cond, hint)                                                               \
    do {                                                                                    \
        if (!(cond)) vs_die(__FILE__, __LINE__, #cond, "condition is false", (hint));       \
    } while (0)

void *vs_malloc_(size_t bytes, const char *file, int line);
void *vs_calloc_(size_t count, size_t size, const char *file, int line);
#define vs_malloc(bytes) vs_malloc_((bytes), __FILE__, __LINE__)
#define vs_calloc(count, size) vs_calloc_((count), (size), __FILE__, __LINE__)

#ifdef __cplusplus
}
#endif
