/* apply-pg-restart: the target PostgreSQL goes away mid-stream (a crash:
 * immediate shutdown, down for 3 s; and a clean fast restart). cdc-apply
 * must log that it retries, reconnect (its temp staging tables are gone
 * with the old session), exit 0 at idle, and leave the target equal to the
 * source with positions at the end offsets: nothing lost, nothing twice.
 * The crash case is the one where the reply to COMMIT can be lost: the
 * retried batch then meets the fence (stored position already moved),
 * is given back and re-read from the stored positions. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"

#include <unistd.h>

static const struct rcase {
    const char *name;
    bool crash; /* immediate stop + 3 s down, else th_pg_restart */
} cases[] = {{"crash-down-3s", true}, {"fast-restart", false}};

typedef struct progress {
    const char *conninfo;
    char sql[200];
} progress_t;

static bool moved(void *arg)
{
    progress_t *p = arg;
    return ta_query_ll(p->conninfo, p->sql) > 0;
}

static void run_case(const struct rcase *c, th_pg_t *pg, th_broker_t *b)
{
    char prefix[64], table[64], topic[200], group[64], log[128], q[100];
    snprintf(prefix, sizeof(prefix), "%s", th_unique("rs"));
    snprintf(table, sizeof(table), "%s", th_unique("orders"));
    snprintf(topic, sizeof(topic), "%s.public.%s", prefix, table);
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", prefix);
    snprintf(q, sizeof(q), "public.%s", table);
    fprintf(stderr, "--- %s\n", c->name);
    TH_ASSERT(th_broker_cmd(b, "create %s 3", topic) == 0);
    const char *l1[] = {"--source",
                        pg->source_conninfo,
                        "--brokers",
                        b->bootstrap,
                        "--topic-prefix",
                        prefix,
                        "--table",
                        table,
                        "--reset",
                        "--format",
                        "json-noschema",
                        "--workload",
                        "insert",
                        "--events",
                        "3000",
                        "--partitions",
                        "3",
                        "--txn-size",
                        "10",
                        "--seed",
                        "8",
                        NULL};
    TH_ASSERT(ta_loadgen(l1) == 0);
    const char *l2[] = {"--source",
                        pg->source_conninfo,
                        "--brokers",
                        b->bootstrap,
                        "--topic-prefix",
                        prefix,
                        "--table",
                        table,
                        "--format",
                        "json-noschema",
                        "--workload",
                        "mixed",
                        "--events",
                        "8000",
                        "--pk-changes",
                        "20",
                        "--partitions",
                        "3",
                        "--txn-size",
                        "5",
                        "--seed",
                        "9",
                        NULL};
    TH_ASSERT(ta_loadgen(l2) == 0);
    char ddl[600];
    snprintf(ddl, sizeof(ddl), TA_ORDERS_DDL, q);
    TH_ASSERT(th_pg_exec(pg->target_conninfo, ddl) == 0);
    /* Small batches so the outage falls mid-stream. */
    const char *args[] = {"--brokers",
                          b->bootstrap,
                          "--group",
                          group,
                          "--topics",
                          topic,
                          "--target",
                          pg->target_conninfo,
                          "--batch-rows",
                          "100",
                          "--retry-backoff-ms",
                          "200",
                          "--exit-on-idle",
                          "4",
                          "--metrics-addr",
                          "",
                          TA_FAST_GROUP,
                          NULL};
    pid_t pid = ta_apply_spawn(args, log);
    progress_t pr = {.conninfo = pg->target_conninfo};
    snprintf(pr.sql, sizeof(pr.sql),
             "SELECT coalesce(sum(next_offset), 0) FROM cdc.offsets WHERE group_id = '%s'", group);
    /* cdc.offsets exists once cdc-apply connected: wait for the table first. */
    int64_t deadline = th_now_ms() + 20000;
    char *reg = NULL;
    while (th_now_ms() < deadline &&
           !(reg = th_pg_query_value(pg->target_conninfo, "SELECT to_regclass('cdc.offsets')")))
        usleep(50 * 1000);
    free(reg);
    TH_ASSERT(th_wait_for(moved, &pr, 20000));
    if (c->crash) {
        TH_ASSERT(th_pg_down(pg, true) == 0);
        usleep(3000 * 1000); /* the outage itself */
        TH_ASSERT(th_pg_up(pg) == 0);
    } else {
        TH_ASSERT(th_pg_restart(pg) == 0);
    }
    int rc = ta_wait(pid, 90000);
    TH_CHECK_INT(rc, 0);
    char *out = ta_slurp(log);
    TH_CHECK(strstr(out, "retrying") != NULL);
    long rows = 0;
    TH_CHECK(ta_tables_equal(pg->source_conninfo, pg->target_conninfo, q, "id", &rows));
    TH_CHECK(rows > 1000);
    ta_check_positions(b->bootstrap, pg->target_conninfo, group, topic, 3);
    if (th_failures) {
        size_t len = strlen(out);
        fprintf(stderr, "cdc-apply log (tail):\n%s\n", len > 5000 ? out + len - 5000 : out);
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "grep -A2 'ERROR' %s/pg.log | tail -20 >&2", pg->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "(no ERROR in the server log)\n");
    } else {
        unlink(log);
    }
    free(out);
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    memset(&pg, 0, sizeof(pg));
    TH_ASSERT(th_pg_start(&pg) == 0);
    /* The test cluster runs with synchronous_commit off, so a crash loses
     * commits the server already acknowledged: the target itself would
     * forget applied batches. Production targets commit durably; so does
     * this one. */
    TH_ASSERT(th_pg_exec(pg.admin_conninfo, "ALTER DATABASE target SET synchronous_commit = on") ==
              0);
    TH_ASSERT(th_broker_start(&b, 1, NULL) == 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i], &pg, &b);
    th_broker_stop(&b);
    th_pg_stop(&pg);
    TH_DONE();
}
