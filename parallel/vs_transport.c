// Parts shared by every transport: bracketing each collective (vs_transport_begin/end) for the
// timeout watchdog and the failure-test hooks, and teardown.
//
// The watchdog. A blocking collective cannot tell a dead or stuck peer from a slow one, so a
// thread (started with the first collective) checks every 100 ms how long the collective in
// flight has been running; past VS_COMM_TIMEOUT_S seconds (default 600) it runs the transports'
// abort hooks (NCCL: ncclCommAbort on every communicator) and vs_die, whose handler is MPI_Abort:
// mpirun then ends every rank. (MPI is started with MPI_THREAD_MULTIPLE for this.)
#include "parallel/vs_transport.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "runtime/vs_check.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static double g_inflight_since = 0;  // seconds; 0 when no collective is in flight
static const char *g_inflight_name = "";
static int g_watchdog_started = 0;
static void (*g_abort_hooks[4])(void);
static int g_n_abort_hooks = 0;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void vs_transport_add_abort_hook(void (*hook)(void)) {
    pthread_mutex_lock(&g_lock);
    int known = 0;
    for (int i = 0; i < g_n_abort_hooks; i++) known |= g_abort_hooks[i] == hook;
    if (!known && g_n_abort_hooks < 4) g_abort_hooks[g_n_abort_hooks++] = hook;
    pthread_mutex_unlock(&g_lock);
}

void vs_transport_abort_all(void) {
    for (int i = 0; i < g_n_abort_hooks; i++) g_abort_hooks[i]();
}

static void *watchdog(void *arg) {
    (void)arg;
    const char *env = getenv("VS_COMM_TIMEOUT_S");
    const double timeout = env && atof(env) > 0 ? atof(env) : 600.0;
    const struct timespec tick = {0, 100 * 1000 * 1000};
    for (;;) {
        nanosleep(&tick, NULL);
        pthread_mutex_lock(&g_lock);
        if (g_inflight_since > 0 && now_s() - g_inflight_since > timeout) {
            vs_transport_abort_all();
            vs_dief(__FILE__, __LINE__,
                    "a peer rank is stuck or died without its launcher noticing (look for its message); "
                    "raise VS_COMM_TIMEOUT_S if one collective legitimately takes longer",
                    "%s collective did not finish within %.0f s (watchdog)", g_inflight_name, timeout);
        }
        pthread_mutex_unlock(&g_lock);
    }
    return NULL;
}

// Failure-test hooks, read once: VS_TEST_FAIL_RANK / VS_TEST_STALL_RANK, at the
// VS_TEST_FAIL_AFTER-th collective of this process (default 3).
static void test_hooks(vs_transport *t) {
    static int fail_rank = -2, stall_rank = -1, after = 3;
    static long seen = 0;
    if (fail_rank == -2) {
        const char *f = getenv("VS_TEST_FAIL_RANK"), *s = getenv("VS_TEST_STALL_RANK");
        const char *a = getenv("VS_TEST_FAIL_AFTER");
        fail_rank = f && f[0] ? atoi(f) : -1;
        stall_rank = s && s[0] ? atoi(s) : -1;
        if (a && atoi(a) > 0) after = atoi(a);
    }
    if (fail_rank < 0 && stall_rank < 0) return;
    if (++seen != after) return;
    if (fail_rank == vs_rank())
        vs_dief(__FILE__, __LINE__, "unset VS_TEST_FAIL_RANK (a test hook) to run normally",
                "VS_TEST_FAIL_RANK=%d: this rank fails on purpose at collective %d (%s)", fail_rank,
                after, t->name);
    if (stall_rank == vs_rank()) {  // alive but never arriving: only the peers' watchdogs can end this
        fprintf(stderr, "[vidsparse TEST] rank %d on %s stalls on purpose at collective %d (VS_TEST_STALL_RANK)\n",
                vs_rank(), vs_hostname(), after);
        fflush(stderr);
        for (;;) pause();
    }
}

void vs_transport_begin(vs_transport *t) {
    t->calls++;
    t->begun = now_s();
    test_hooks(t);
    pthread_mutex_lock(&g_lock);
    if (!g_watchdog_started) {
        pthread_t th;
        if (pthread_create(&th, NULL, watchdog, NULL) != 0)
            vs_die(__FILE__, __LINE__, "pthread_create", "cannot start the communication watchdog thread",
                   "raise the process/thread limit (ulimit -u)");
        pthread_detach(th);
        g_watchdog_started = 1;
    }
    g_inflight_since = t->begun;
    g_inflight_name = t->name;
    pthread_mutex_unlock(&g_lock);
}

void vs_transport_inputs_ready(vs_transport *t) { t->begun = now_s(); }

void vs_transport_end(vs_transport *t) {
    t->seconds += now_s() - t->begun;
    pthread_mutex_lock(&g_lock);
    g_inflight_since = 0;
    pthread_mutex_unlock(&g_lock);
}

void vs_transport_free(vs_transport *t) {
    if (t) t->destroy(t);
}
