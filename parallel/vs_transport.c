// Parts shared by every transport: the call counter with its failure test hook, and teardown.
#include "parallel/vs_transport.h"

#include <stdlib.h>

#include "runtime/vs_check.h"

void vs_transport_count_call(vs_transport *t) {
    t->calls++;
    static int fail_rank = -2, fail_after = 3;
    if (fail_rank == -2) {
        const char *r = getenv("VS_TEST_FAIL_RANK");
        const char *a = getenv("VS_TEST_FAIL_AFTER");
        fail_rank = r && r[0] ? atoi(r) : -1;
        if (a && atoi(a) > 0) fail_after = atoi(a);
    }
    static long seen = 0;  // over all transports of this process
    if (fail_rank == vs_rank() && ++seen == fail_after)
        vs_dief(__FILE__, __LINE__, "unset VS_TEST_FAIL_RANK (a test hook) to run normally",
                "VS_TEST_FAIL_RANK=%d: this rank fails on purpose at collective %d (%s)", fail_rank,
                fail_after, t->name);
}

void vs_transport_free(vs_transport *t) {
    if (t) t->destroy(t);
}
