/* apply-broker-down: Kafka brokers refuse connections mid-stream (one of
 * three, whose partitions then stall since the mock does not move
 * leaders; then all three, group coordinator included) for 4 s each time.
 * cdc-apply must ride it out, exit 0 at idle, and leave the target equal to
 * the source with positions at the end offsets: nothing lost, nothing
 * applied twice (the positions in the target, not Kafka's committed
 * offsets, decide where reading resumes).
 *
 * The default cases keep the default session timeout (45 s), so the member
 * keeps its assignment through the outage. The "session-loss" cases (run
 * with the argument session-loss; registered in suite 'blocked', not run by
 * default) use session.timeout.ms=2500 so the outage costs the member its
 * assignment. The one-broker case only loses the session when broker 1
 * happens to be the group's coordinator (the mock picks it from the group
 * id, which changes with the test's pid).
 *
 * Found and fixed (consumer/source.c, cdc_source_committed): one async
 * advisory commit per batch piled up while the coordinator was unreachable
 * ("125 offset commits in progress" in -X debug=cgrp); librdkafka completes
 * an incremental unassign, and starts the fetchers of a new assignment,
 * only once no commit is outstanding (rd_kafka_assignment_serve), so the
 * member sat in wait-incr-unassign-to-complete, or was assigned but did not
 * fetch, until all of them had failed. Now one commit is in flight at most
 * and the lost revoke completes in about 1 s.
 *
 * Still blocked (2 of 5 runs after the fix, both with -X debug=cgrp,fetch,
 * topic, which slows the consumer; either case): after the session
 * loss the member's rejoin (JoinGroup with an empty member id, sent once the
 * coordinator is back) gets no answer from the mock broker; the consumer
 * stays in join-state wait-join with nothing assigned and the test times
 * out. In the passing runs the same JoinGroup is answered after the mock's
 * 3 s join delay. Not yet known whether this is the librdkafka 2.0.2 mock
 * cluster's group coordinator or the client; no matching upstream issue
 * found. No records are skipped or applied twice in the failing runs
 * either: the positions in the target stay behind. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"

#include <unistd.h>

static const struct rcase {
    const char *name;
    const char *broker; /* id for down/up, "-1" = all */
    bool session_loss;  /* session.timeout.ms shorter than the outage */
} cases[] = {{"one-broker-down-4s", "1", false},
             {"all-brokers-down-4s", "-1", false},
             {"one-broker-down-session-lost", "1", true},
             {"all-brokers-down-session-lost", "-1", true}};

static void run_case(const struct rcase *c, th_pg_t *pg, th_broker_t *b)
{
    ta_names_t n;
    fprintf(stderr, "--- %s\n", c->name);
    ta_history_case(&n, pg, b, "bd", 6);
    /* Small batches so the outage falls mid-stream. */
    const char *args[] = {
        "--brokers", b->bootstrap, "--group", n.group, "--topics", n.topic, "--target",
        pg->target_conninfo, "--batch-rows", "100", "--exit-on-idle", "10",
        /* --exit-on-idle counts time without records even
         * while a stalled partition still has lag, and
         * librdkafka's reconnect backoff grows to 10 s:
         * cap it so "idle" is not declared before the
         * broker's partitions are fetched again. */
        "-X", "reconnect.backoff.max.ms=1000", "--metrics-addr", "", NULL, NULL, NULL, NULL, NULL};
    if (c->session_loss) {
        const char *fast[] = {TA_FAST_GROUP};
        for (size_t i = 0; i < 4; i++)
            args[16 + i] = fast[i];
    }
    pid_t pid = ta_apply_spawn(args, n.log);
    TH_ASSERT(ta_wait_applied(pg->target_conninfo, n.group));
    TH_ASSERT(th_broker_cmd(b, "down %s", c->broker) == 0);
    usleep(4000 * 1000); /* the outage itself */
    TH_ASSERT(th_broker_cmd(b, "up %s", c->broker) == 0);
    int rc = ta_wait(pid, 90000);
    TH_CHECK_INT(rc, 0);
    long rows = 0;
    TH_CHECK(ta_tables_equal(pg->source_conninfo, pg->target_conninfo, n.qname, "id", &rows));
    TH_CHECK(rows > 1000);
    ta_check_positions(b->bootstrap, pg->target_conninfo, n.group, n.topic, 6);
    ta_log_finish(n.log, 5000);
}

int main(int argc, char **argv)
{
    bool session_loss = argc > 1 && !strcmp(argv[1], "session-loss");
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 3);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (cases[i].session_loss == session_loss)
            run_case(&cases[i], &pg, &b);
    ta_stop(&pg, &b);
    TH_DONE();
}
