/* apply-kill9: invariant 1, nothing lost and nothing applied twice in
 * effect, whatever instant cdc-apply dies at.
 *
 * The whole load is produced first (two topics: an insert-only table and
 * a mixed 60/20/20 table with hot keys, PK changes). Then, repeatedly:
 * start cdc-apply, wait until it has committed progress (its stored
 * positions moved), let it run a further random 0..400 ms, kill -9 it, and
 * start the next one; kills therefore land in COPY, in the merge, in
 * COMMIT, in a rebalance or between batches. Finally one instance runs to
 * idle. Then:
 *   - both target tables equal the source row for row;
 *   - the stored positions equal the end offsets;
 *   - double-apply detector: the insert-only target table carries an
 *     AFTER INSERT OR UPDATE trigger counting applies per id in a side
 *     table (rolled back with the transaction that a kill aborted, so only
 *     committed applies count). Each id has exactly one event, which
 *     compaction cannot merge with anything, so every id must have been
 *     applied exactly once: a batch whose rows were committed but whose
 *     positions were not (or re-read past a stale position) shows up as 2.
 *     On the mixed table compaction legitimately applies fewer changes than
 *     events, so there the final state equality is the evidence.
 *
 * Short (CI) mode: 6 partitions, ~20k events, 5 kills. Long (soak) mode:
 * 12 partitions, ~110k events, 20 kills. Schemaless JSON keeps the records
 * small enough for the mock broker's ~5 MB per partition. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct mode {
    const char *name;
    int partitions;
    const char *ins_events, *mix_seed_events, *mix_events;
    int kills;
} mode_t_;

static const mode_t_ modes[] = {
    {"short", 6, "8000", "2000", "10000", 5},
    {"long", 12, "50000", "10000", "50000", 20},
};

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

int main(int argc, char **argv)
{
    const mode_t_ *m = &modes[argc > 1 && !strcmp(argv[1], "long") ? 1 : 0];
    th_pg_t pg;
    th_broker_t b;
    memset(&pg, 0, sizeof(pg));
    TH_ASSERT(th_pg_start(&pg) == 0);
    TH_ASSERT(th_broker_start(&b, 1, NULL) == 0);
    char prefix[64], ins[64], mix[64], tins[200], tmix[200], topics[420], group[64], log[128],
        parts[16], sql[1024];
    snprintf(prefix, sizeof(prefix), "%s", th_unique("k9"));
    snprintf(ins, sizeof(ins), "%s", th_unique("ins"));
    snprintf(mix, sizeof(mix), "%s", th_unique("mix"));
    snprintf(tins, sizeof(tins), "%s.public.%s", prefix, ins);
    snprintf(tmix, sizeof(tmix), "%s.public.%s", prefix, mix);
    snprintf(topics, sizeof(topics), "%s,%s", tins, tmix);
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", prefix);
    snprintf(parts, sizeof(parts), "%d", m->partitions);
    TH_ASSERT(th_broker_cmd(&b, "create %s %d", tins, m->partitions) == 0);
    TH_ASSERT(th_broker_cmd(&b, "create %s %d", tmix, m->partitions) == 0);

    int64_t t0 = th_now_ms();
    const char *l1[] = {"--source",
                        pg.source_conninfo,
                        "--brokers",
                        b.bootstrap,
                        "--topic-prefix",
                        prefix,
                        "--table",
                        ins,
                        "--reset",
                        "--format",
                        "json-noschema",
                        "--workload",
                        "insert",
                        "--events",
                        m->ins_events,
                        "--partitions",
                        parts,
                        "--txn-size",
                        "10",
                        "--seed",
                        "3",
                        NULL};
    TH_ASSERT(ta_loadgen(l1) == 0);
    const char *l2[] = {"--source",
                        pg.source_conninfo,
                        "--brokers",
                        b.bootstrap,
                        "--topic-prefix",
                        prefix,
                        "--table",
                        mix,
                        "--reset",
                        "--format",
                        "json-noschema",
                        "--workload",
                        "insert",
                        "--events",
                        m->mix_seed_events,
                        "--partitions",
                        parts,
                        "--txn-size",
                        "10",
                        "--seed",
                        "4",
                        NULL};
    TH_ASSERT(ta_loadgen(l2) == 0);
    const char *l3[] = {"--source",
                        pg.source_conninfo,
                        "--brokers",
                        b.bootstrap,
                        "--topic-prefix",
                        prefix,
                        "--table",
                        mix,
                        "--format",
                        "json-noschema",
                        "--workload",
                        "mixed",
                        "--events",
                        m->mix_events,
                        "--pk-changes",
                        "50",
                        "--partitions",
                        parts,
                        "--txn-size",
                        "5",
                        "--seed",
                        "5",
                        NULL};
    TH_ASSERT(ta_loadgen(l3) == 0);
    fprintf(stderr, "load produced in %lld ms\n", (long long)(th_now_ms() - t0));

    char ddl[600];
    snprintf(ddl, sizeof(ddl), TA_ORDERS_DDL, ins);
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
             ins);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);

    const char *args[] = {"--brokers",      b.bootstrap, "--group",        group,
                          "--topics",       topics,      "--target",       pg.target_conninfo,
                          "--batch-rows",   "200",       "--metrics-addr", "",
                          "--exit-on-idle", "3",         TA_FAST_GROUP,    NULL};
    progress_t pr = {.conninfo = pg.target_conninfo};
    /* Progress = sum of stored positions; 0 until cdc-apply made its state. */
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "CREATE FUNCTION progress(g text) RETURNS bigint LANGUAGE plpgsql AS $$ "
                         "DECLARE r bigint; BEGIN IF to_regclass('cdc.offsets') IS NULL THEN "
                         "RETURN 0; END IF; EXECUTE 'SELECT coalesce(sum(next_offset), 0) FROM "
                         "cdc.offsets WHERE group_id = $1' INTO r USING g; RETURN r; END $$") == 0);
    snprintf(pr.sql, sizeof(pr.sql), "SELECT progress('%s')", group);
    srand((unsigned)getpid());
    int kills = 0, early_exits = 0;
    while (kills < m->kills) {
        pr.base = ta_query_ll(pg.target_conninfo, pr.sql);
        pid_t pid = ta_apply_spawn(args, log);
        if (!th_wait_for(moved, &pr, 30000)) {
            fprintf(stderr, "no progress within 30 s after start %d\n", kills + 1);
            TH_CHECK(0);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        /* Short enough that the kills land while work remains however
         * fast apply gets (creates go in by direct COPY): 5 runs must not
         * drain the whole load. */
        usleep((useconds_t)(rand() % 150) * 1000);
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            early_exits++; /* it finished everything before we could kill it */
            fprintf(stderr, "instance exited by itself (status %d)\n", st);
            break;
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        kills++;
        fprintf(stderr, "kill %d at stored position sum %lld\n", kills,
                ta_query_ll(pg.target_conninfo, pr.sql));
    }
    TH_CHECK_INT(kills, m->kills);
    long long before_final = ta_query_ll(pg.target_conninfo, pr.sql);
    int rc = ta_apply_run(args, log, 120000);
    TH_CHECK_INT(rc, 0);
    long long total = ta_query_ll(pg.target_conninfo, pr.sql);
    fprintf(stderr, "final run from %lld to %lld; %lld ms in all\n", before_final, total,
            (long long)(th_now_ms() - t0));

    char q[100];
    long rows = 0;
    snprintf(q, sizeof(q), "public.%s", ins);
    TH_CHECK(ta_tables_equal(pg.source_conninfo, pg.target_conninfo, q, "id", &rows));
    TH_CHECK_INT(rows, atol(m->ins_events));
    snprintf(q, sizeof(q), "public.%s", mix);
    TH_CHECK(ta_tables_equal(pg.source_conninfo, pg.target_conninfo, q, "id", &rows));
    TH_CHECK(rows > 0);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, tins, m->partitions);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, tmix, m->partitions);

    /* Exactly once in effect on the insert-only table. */
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM applies"),
                 atol(m->ins_events));
    long long twice = ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM applies WHERE n <> 1");
    if (twice != 0) {
        char *ex = th_pg_query_value(pg.target_conninfo,
                                     "SELECT string_agg(id || ':' || n, ' ') FROM (SELECT * FROM "
                                     "applies WHERE n <> 1 ORDER BY id LIMIT 20) a");
        fprintf(stderr, "ids applied more than once (id:n): %s\n", ex ? ex : "");
        free(ex);
    }
    TH_CHECK_INT(twice, 0);
    if (rc != 0 || th_failures) {
        char *out = ta_slurp(log);
        size_t len = strlen(out);
        fprintf(stderr, "cdc-apply log (tail):\n%s\n", len > 6000 ? out + len - 6000 : out);
        free(out);
    } else {
        unlink(log);
    }
    th_broker_stop(&b);
    th_pg_stop(&pg);
    TH_DONE();
}
