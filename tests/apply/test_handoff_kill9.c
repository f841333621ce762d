/* apply-handoff-kill9: cdc-apply killed (-9) while a batch is handed off
 * to the writer thread but not committed, with the next batch being read
 * behind it; after a restart nothing is lost and nothing applied twice.
 *
 * The hand-off window is made wide and observable with the test-only
 * CDC_APPLY_TEST_WRITER_DELAY_MS (the writer thread logs "holding a batch"
 * and waits that long before applying it). Each round: start cdc-apply
 * with the delay, wait until one batch is committed (stored positions
 * moved) and the next one is held, kill -9, and check that the held batch
 * left nothing: the stored positions did not move (so the kill did land in
 * the window). Three rounds, then one instance without the delay runs to
 * idle. Then, as in apply-kill9: both target tables equal the source, the
 * stored positions equal the end offsets, and every id of the insert-only
 * table was applied exactly once (a trigger counts committed applies). */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOLD       "holding a batch of"
#define INS_EVENTS "3000"

typedef struct progress {
    const char *conninfo;
    char sql[256];
    long long base;
} progress_t;

static bool moved(void *arg)
{
    progress_t *p = arg;
    return ta_query_ll(p->conninfo, p->sql) > p->base;
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    /* n's table is the insert-only one; the mixed one shares its prefix. */
    ta_names_t n;
    ta_names_init(&n, "hk");
    char mix[64], tmix[200], topics[420], sql[1024];
    snprintf(mix, sizeof(mix), "%s", th_unique("mix"));
    snprintf(tmix, sizeof(tmix), "%s.public.%s", n.prefix, mix);
    snprintf(topics, sizeof(topics), "%s,%s", n.topic, tmix);
    TH_ASSERT(th_broker_cmd(&b, "create %s 4", n.topic) == 0);
    TH_ASSERT(th_broker_cmd(&b, "create %s 4", tmix) == 0);

    TH_ASSERT(ta_loadgen(TA_LOADGEN_ARGS(pg.source_conninfo, b.bootstrap, n.prefix, n.table,
                                         "--reset", "--format", "json", "--workload", "insert",
                                         "--events", INS_EVENTS, "--partitions", "4", "--txn-size",
                                         "10", "--seed", "3")) == 0);
    TH_ASSERT(
        ta_loadgen(TA_LOADGEN_ARGS(pg.source_conninfo, b.bootstrap, n.prefix, mix, "--reset",
                                   "--format", "json", "--workload", "insert", "--events", "500",
                                   "--partitions", "4", "--txn-size", "10", "--seed", "4")) == 0);
    TH_ASSERT(ta_loadgen(TA_LOADGEN_ARGS(pg.source_conninfo, b.bootstrap, n.prefix, mix, "--format",
                                         "json", "--workload", "mixed", "--events", "2500",
                                         "--pk-changes", "50", "--partitions", "4", "--txn-size",
                                         "5", "--seed", "5")) == 0);

    char ddl[600];
    snprintf(ddl, sizeof(ddl), TA_ORDERS_DDL, n.table);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, ddl) == 0);
    snprintf(ddl, sizeof(ddl), TA_ORDERS_DDL, mix);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, ddl) == 0);
    snprintf(sql, sizeof(sql),
             "CREATE TABLE applies (id bigint PRIMARY KEY, n int NOT NULL);"
             "CREATE FUNCTION count_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
             "INSERT INTO applies VALUES (NEW.id, 1) ON CONFLICT (id) DO UPDATE SET n = "
             "applies.n + 1; RETURN NULL; END $$;"
             "CREATE TRIGGER count_apply AFTER INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE "
             "FUNCTION count_apply()",
             n.table);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "CREATE FUNCTION progress(g text) RETURNS bigint LANGUAGE plpgsql AS $$ "
                         "DECLARE r bigint; BEGIN IF to_regclass('cdc.offsets') IS NULL THEN "
                         "RETURN 0; END IF; EXECUTE 'SELECT coalesce(sum(next_offset), 0) FROM "
                         "cdc.offsets WHERE group_id = $1' INTO r USING g; RETURN r; END $$") == 0);

    const char *args[] = {"--brokers",      b.bootstrap, "--group",        n.group,
                          "--topics",       topics,      "--target",       pg.target_conninfo,
                          "--batch-rows",   "150",       "--metrics-addr", "",
                          "--exit-on-idle", "3",         TA_FAST_GROUP,    NULL};
    progress_t pr = {.conninfo = pg.target_conninfo};
    snprintf(pr.sql, sizeof(pr.sql), "SELECT progress('%s')", n.group);
    /* Long enough to see the hold and kill inside it on a loaded machine. */
    setenv("CDC_APPLY_TEST_WRITER_DELAY_MS", "2500", 1);
    for (int round = 1; round <= 3; round++) {
        pr.base = ta_query_ll(pg.target_conninfo, pr.sql);
        pid_t pid = ta_apply_spawn(args, n.log);
        /* One batch committed in this run, then the next one held. */
        TH_CHECK(th_wait_for(moved, &pr, 60000));
        long long committed = ta_query_ll(pg.target_conninfo, pr.sql);
        TH_CHECK(ta_wait_log_count(n.log, HOLD, ta_log_count(n.log, HOLD) + 1, 30000));
        long long before = ta_query_ll(pg.target_conninfo, pr.sql);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        long long after = ta_query_ll(pg.target_conninfo, pr.sql);
        fprintf(stderr, "round %d: killed with a batch held; positions %lld -> %lld -> %lld\n",
                round, committed, before, after);
        /* The held batch committed nothing: the kill landed in the window. */
        TH_CHECK(after == before);
        TH_CHECK(after > pr.base);
    }
    unsetenv("CDC_APPLY_TEST_WRITER_DELAY_MS");
    int rc = ta_apply_run(args, n.log, 120000);
    TH_CHECK_INT(rc, 0);

    char q[100];
    long rows = 0;
    TH_CHECK(ta_tables_equal(pg.source_conninfo, pg.target_conninfo, n.qname, "id", &rows));
    TH_CHECK_INT(rows, atol(INS_EVENTS));
    snprintf(q, sizeof(q), "public.%s", mix);
    TH_CHECK(ta_tables_equal(pg.source_conninfo, pg.target_conninfo, q, "id", &rows));
    TH_CHECK(rows > 0);
    ta_check_positions(b.bootstrap, pg.target_conninfo, n.group, n.topic, 4);
    ta_check_positions(b.bootstrap, pg.target_conninfo, n.group, tmix, 4);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM applies"), atol(INS_EVENTS));
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM applies WHERE n <> 1"), 0);
    if (rc != 0 || th_failures) {
        char *out = ta_slurp(n.log);
        size_t len = strlen(out);
        fprintf(stderr, "cdc-apply log (tail):\n%s\n", len > 6000 ? out + len - 6000 : out);
        free(out);
    } else {
        unlink(n.log);
    }
    th_broker_stop(&b);
    th_pg_stop(&pg);
    TH_DONE();
}
