/* apply-close-unassigned: SIGTERM to a member that has joined its group
 * but has not yet been given an assignment must exit 0, not abort.
 *
 * librdkafka before 2.3.0 (Debian's 2.0.2; issue #4312, fixed by PR #4381)
 * asserts in rd_kafka_destroy with partition.assignment.strategy
 * cooperative-sticky when the JoinGroup answer set the group's assignor but
 * no SyncGroup answer has set the assignor's state yet
 * ("rd_kafka_sticky_assignor_state_destroy: Assertion 'assignor_state'
 * failed"). Seen once in apply-group on a member's SIGTERM. To open that
 * window wide, the mock broker answers every request 2.5 s late (rtt): the
 * member is stopped right after it logged its JoinGroup answer, while its
 * SyncGroup is still on its way. Bounded loop: a few rounds, each with its
 * own group; any abort fails. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 3

typedef struct logwait {
    const char *path;
    const char *needle;
} logwait_t;

static bool logged(void *arg)
{
    logwait_t *w = arg;
    char *out = ta_slurp(w->path);
    bool found = strstr(out, w->needle) != NULL;
    free(out);
    return found;
}

/* Exit status, or 128 + the signal that ended it, -1 on timeout. */
static int wait_status(pid_t pid, int timeout_ms)
{
    int64_t deadline = th_now_ms() + timeout_ms;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0 || th_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(20 * 1000);
    }
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    char topic[64];
    snprintf(topic, sizeof(topic), "%s", th_unique("cu"));
    TH_ASSERT(th_broker_cmd(&b, "create %s 1", topic) == 0);
    TH_ASSERT(th_broker_cmd(&b, "rtt 1 2500") == 0);
    int aborts = 0;
    for (int round = 0; round < ROUNDS; round++) {
        char group[64], log[128];
        snprintf(group, sizeof(group), "%s", th_unique("g"));
        snprintf(log, sizeof(log), "/tmp/%s.log", group);
        const char *const *args =
            TA_APPLY_ARGS(b.bootstrap, group, topic, pg.target_conninfo, "--metrics-addr", "",
                          "--log-level", "debug", "-X", "debug=cgrp");
        pid_t pid = ta_apply_spawn(args, log);
        logwait_t w = {log, "JoinGroup response: GenerationId"};
        bool joined = th_wait_for(logged, &w, 60000);
        TH_CHECK(joined);
        kill(pid, SIGTERM);
        int rc = wait_status(pid, 60000);
        char *out = ta_slurp(log);
        bool assertion = strstr(out, "assignor_state") != NULL;
        fprintf(stderr, "round %d: exit %d%s\n", round, rc,
                assertion ? " (assertion 'assignor_state' failed)" : "");
        if (rc == 128 + SIGABRT)
            aborts++;
        TH_CHECK_INT(rc, 0);
        TH_CHECK(!assertion);
        if (th_failures) {
            size_t len = strlen(out);
            fprintf(stderr, "cdc-apply log (tail):\n%s\n", len > 4000 ? out + len - 4000 : out);
            free(out);
            break;
        }
        unlink(log);
        free(out);
    }
    fprintf(stderr, "%d abort(s)\n", aborts);
    ta_stop(&pg, &b);
    TH_DONE();
}
