/* apply-memory: invariant 5, memory does not grow with the backlog.
 *
 * The same workload is produced twice, 1,100 and then 11,000 changes of
 * ~3.5 KB (TOASTed notes; ten times the backlog, ~38 MB, well above the
 * allowance below, so a batch or queue that held the backlog would fail
 * it. Against the mock broker, which serves more slowly than cdc-apply
 * consumes, prefetch never builds up, so this guards the batch limits more
 * than the fetch-queue bound), each into its own topic and table; cdc-apply drains
 * each backlog to idle with the fetch queue bounded (--queue-kbytes) and
 * batch limits. Its own peak RSS (wait4 on its pid) must be the same up to
 * a small allowance, and under 128 MB; both targets must hold every row. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"

#include <sys/resource.h>
#include <sys/wait.h>

static long drain(th_pg_t *pg, th_broker_t *b, const char *events)
{
    char prefix[64], table[64], topic[200], q[100], ddl[600], log[128];
    snprintf(prefix, sizeof(prefix), "%s", th_unique("mem"));
    snprintf(table, sizeof(table), "%s", th_unique("orders"));
    snprintf(topic, sizeof(topic), "%s.public.%s", prefix, table);
    snprintf(q, sizeof(q), "public.%s", table);
    snprintf(log, sizeof(log), "/tmp/%s.log", prefix);
    TH_ASSERT(th_broker_cmd(b, "create %s 12", topic) == 0);
    const char *const *lg = TA_LOADGEN_ARGS(pg->source_conninfo, b->bootstrap, prefix, table,
                                            "--reset", "--format", "json-noschema", "--workload",
                                            "insert", "--events", events, "--txn-size", "50");
    TH_ASSERT(ta_loadgen(lg) == 0);
    snprintf(ddl, sizeof(ddl), TA_ORDERS_DDL, q);
    TH_ASSERT(th_pg_exec(pg->target_conninfo, ddl) == 0);
    const char *const *args = TA_APPLY_ARGS(
        b->bootstrap, th_unique("g"), topic, pg->target_conninfo, "--exit-on-idle", "2",
        "--metrics-addr", "", "--queue-kbytes", "4096", "--batch-rows", "500", TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(args, log);
    TH_ASSERT(pid > 0);
    int st = 0;
    struct rusage ru;
    TH_ASSERT(wait4(pid, &st, 0, &ru) == pid);
    TH_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char sql[200];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", q);
    TH_CHECK_INT(ta_query_ll(pg->target_conninfo, sql), atoll(events));
    fprintf(stderr, "%s changes: peak RSS %ld kB\n", events, ru.ru_maxrss);
    return ru.ru_maxrss; /* kB on Linux */
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    long small = drain(&pg, &b, "1100");
    long large = drain(&pg, &b, "11000");
    /* Ten times the backlog, at most 24 MB more (allocator and librdkafka
     * noise), and far below the 256 MB of the issue. */
    TH_CHECK(large <= small + 24 * 1024);
    TH_CHECK(large < 128 * 1024);
    ta_stop(&pg, &b);
    TH_DONE();
}
