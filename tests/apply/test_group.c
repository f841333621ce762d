/* apply-group: several cdc-apply instances in one consumer group over 12
 * partitions, members joining and leaving (SIGTERM) mid-load: invariants
 * 1 and 2 across rebalances.
 *
 * Load (produced first): an insert-only table and a mixed table (60/20/20
 * with hot keys, PK changes). Two instances start, a third joins, one is
 * stopped with SIGTERM and another joins (the long soak mode repeats the
 * leave/join cycle). The last ones run to idle. Then:
 *   - both tables equal the source, positions equal the end offsets,
 *     every instance exited 0;
 *   - exactly once in effect: an apply-counting trigger on the insert-only
 *     target table must count 1 per id (see test_kill9.c);
 *   - per-key order: the source logs every row version it makes of the
 *     mixed table (a trigger appends id + row text to a history table, in
 *     the order of the row's changes); the target logs every version
 *     cdc-apply writes. Per id, the target's versions must be a
 *     subsequence of the source's: compaction may skip versions, but a
 *     version applied after a later one (two members applying one
 *     partition, or a batch retried out of order) breaks the subsequence. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"

#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct gmode {
    const char *ins_events, *seed_events, *mix_events;
    int cycles; /* leave/join cycles after the third member joined */
} gmode_t;

static const gmode_t modes[] = {
    {"4000", "1000", "12000", 1},
    {"30000", "5000", "60000", 6},
};

#define HISTORY_DDL                                                                                \
    "CREATE TABLE history (seq bigserial PRIMARY KEY, id bigint, r text);"                         \
    "CREATE FUNCTION log_version() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "                  \
    "INSERT INTO history (id, r) VALUES (NEW.id, NEW::text); RETURN NULL; END $$;"

typedef struct progress {
    const char *conninfo;
    char sql[200];
    long long base, step;
} progress_t;

static bool moved(void *arg)
{
    progress_t *p = arg;
    return ta_query_ll(p->conninfo, p->sql) >= p->base + p->step;
}

static void wait_progress(progress_t *p, long long step)
{
    p->base = ta_query_ll(p->conninfo, p->sql);
    p->step = step;
    if (!th_wait_for(moved, p, 40000)) {
        fprintf(stderr, "no progress of %lld within 40 s (at %lld)\n", step, p->base);
        TH_CHECK(0);
    }
}

/* Per id, is the target's version list a subsequence of the source's? */
static void check_order(const char *src, const char *dst)
{
    PGconn *a = PQconnectdb(src), *b = PQconnectdb(dst);
    TH_ASSERT(PQstatus(a) == CONNECTION_OK && PQstatus(b) == CONNECTION_OK);
    PGresult *s = PQexec(a, "SELECT id, r FROM history ORDER BY id, seq");
    PGresult *t = PQexec(b, "SELECT id, r FROM history ORDER BY id, seq");
    TH_ASSERT(PQresultStatus(s) == PGRES_TUPLES_OK && PQresultStatus(t) == PGRES_TUPLES_OK);
    int ns = PQntuples(s), nt = PQntuples(t), i = 0, bad = 0, multi = 0;
    long long prev_id = -1, versions = 0;
    for (int j = 0; j < nt; j++) {
        long long id = atoll(PQgetvalue(t, j, 0));
        if (id != prev_id) {
            /* Move the source cursor to this id's first version. */
            while (i < ns && atoll(PQgetvalue(s, i, 0)) < id)
                i++;
            prev_id = id;
            versions = 0;
        }
        const char *r = PQgetvalue(t, j, 1);
        while (i < ns && atoll(PQgetvalue(s, i, 0)) == id && strcmp(PQgetvalue(s, i, 1), r))
            i++;
        if (i >= ns || atoll(PQgetvalue(s, i, 0)) != id) {
            if (bad++ < 5)
                fprintf(stderr, "id %lld: applied version %.200s is out of order or unknown\n", id,
                        r);
            /* Resynchronise on the next id. */
            while (j + 1 < nt && atoll(PQgetvalue(t, j + 1, 0)) == id)
                j++;
            continue;
        }
        i++; /* the next target version must come strictly later */
        if (++versions == 2)
            multi++;
    }
    fprintf(stderr,
            "order check: %d source versions, %d applied, %d ids with several applied "
            "versions, %d out of order\n",
            ns, nt, multi, bad);
    TH_CHECK_INT(bad, 0);
    TH_CHECK(multi > 10); /* the check had something to check */
    PQclear(s);
    PQclear(t);
    PQfinish(a);
    PQfinish(b);
}

int main(int argc, char **argv)
{
    const gmode_t *m = &modes[argc > 1 && !strcmp(argv[1], "long") ? 1 : 0];
    th_pg_t pg;
    th_broker_t b;
    memset(&pg, 0, sizeof(pg));
    TH_ASSERT(th_pg_start(&pg) == 0);
    TH_ASSERT(th_broker_start(&b, 1, NULL) == 0);
    char prefix[64], ins[64], mix[64], tins[200], tmix[200], topics[420], group[64], log[128],
        sql[1024];
    snprintf(prefix, sizeof(prefix), "%s", th_unique("grp"));
    snprintf(ins, sizeof(ins), "%s", th_unique("ins"));
    snprintf(mix, sizeof(mix), "%s", th_unique("mix"));
    snprintf(tins, sizeof(tins), "%s.public.%s", prefix, ins);
    snprintf(tmix, sizeof(tmix), "%s.public.%s", prefix, mix);
    snprintf(topics, sizeof(topics), "%s,%s", tins, tmix);
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", prefix);
    TH_ASSERT(th_broker_cmd(&b, "create %s 12", tins) == 0);
    TH_ASSERT(th_broker_cmd(&b, "create %s 12", tmix) == 0);

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
                        "12",
                        "--txn-size",
                        "10",
                        "--seed",
                        "13",
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
                        m->seed_events,
                        "--partitions",
                        "12",
                        "--txn-size",
                        "10",
                        "--seed",
                        "14",
                        NULL};
    TH_ASSERT(ta_loadgen(l2) == 0);
    /* Source history: the seeded rows first, then every later version. */
    snprintf(sql, sizeof(sql),
             HISTORY_DDL "INSERT INTO history (id, r) SELECT id, o::text FROM %s o ORDER BY id;"
                         "CREATE TRIGGER log_version AFTER INSERT OR UPDATE ON %s FOR EACH ROW "
                         "EXECUTE FUNCTION log_version()",
             mix, mix);
    TH_ASSERT(th_pg_exec(pg.source_conninfo, sql) == 0);
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
                        "30",
                        "--partitions",
                        "12",
                        "--txn-size",
                        "5",
                        "--seed",
                        "15",
                        NULL};
    TH_ASSERT(ta_loadgen(l3) == 0);
    fprintf(stderr, "load produced in %lld ms\n", (long long)(th_now_ms() - t0));

    char ddl[600];
    snprintf(ddl, sizeof(ddl), TA_ORDERS_DDL, ins);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, ddl) == 0);
    snprintf(ddl, sizeof(ddl), TA_ORDERS_DDL, mix);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, ddl) == 0);
    snprintf(sql, sizeof(sql),
             HISTORY_DDL "CREATE TRIGGER log_version AFTER INSERT OR UPDATE ON %s FOR EACH ROW "
                         "EXECUTE FUNCTION log_version();"
                         "CREATE TABLE applies (id bigint PRIMARY KEY, n int NOT NULL);"
                         "CREATE FUNCTION count_apply() RETURNS trigger LANGUAGE plpgsql AS $$ "
                         "BEGIN INSERT INTO applies VALUES (NEW.id, 1) ON CONFLICT (id) DO "
                         "UPDATE SET n = applies.n + 1; RETURN NULL; END $$;"
                         "CREATE TRIGGER count_apply AFTER INSERT OR UPDATE ON %s FOR EACH ROW "
                         "EXECUTE FUNCTION count_apply()",
             mix, ins);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "CREATE FUNCTION progress(g text) RETURNS bigint LANGUAGE plpgsql AS $$ "
                         "DECLARE r bigint; BEGIN IF to_regclass('cdc.offsets') IS NULL THEN "
                         "RETURN 0; END IF; EXECUTE 'SELECT coalesce(sum(next_offset), 0) FROM "
                         "cdc.offsets WHERE group_id = $1' INTO r USING g; RETURN r; END $$") == 0);

    /* Small batches and a short idle: many commits, many chances to race. */
    const char *args[] = {"--brokers",      b.bootstrap, "--group",        group,
                          "--topics",       topics,      "--target",       pg.target_conninfo,
                          "--batch-rows",   "300",       "--metrics-addr", "",
                          "--exit-on-idle", "5",         TA_FAST_GROUP,    NULL};
    progress_t pr = {.conninfo = pg.target_conninfo};
    snprintf(pr.sql, sizeof(pr.sql), "SELECT progress('%s')", group);
    pid_t live[64];
    size_t nlive = 0, oldest = 0;
    live[nlive++] = ta_apply_spawn(args, log);
    live[nlive++] = ta_apply_spawn(args, log);
    wait_progress(&pr, 1);
    live[nlive++] = ta_apply_spawn(args, log);
    wait_progress(&pr, 1000);
    for (int c = 0; c < m->cycles; c++) {
        /* The oldest member leaves cleanly; a new one joins. */
        int st = th_proc_stop(live[oldest++], 30000);
        TH_CHECK_INT(st, 0);
        live[nlive++] = ta_apply_spawn(args, log);
        fprintf(stderr, "cycle %d: member left, another joined at position %lld\n", c + 1,
                ta_query_ll(pg.target_conninfo, pr.sql));
        wait_progress(&pr, 1000);
    }
    for (size_t i = oldest; i < nlive; i++) {
        int st = ta_wait(live[i], 180000);
        if (st != 0)
            fprintf(stderr, "member %zu exited %d\n", i, st);
        TH_CHECK_INT(st, 0);
    }
    fprintf(stderr, "all members done in %lld ms\n", (long long)(th_now_ms() - t0));

    char q[100];
    long rows = 0;
    snprintf(q, sizeof(q), "public.%s", ins);
    TH_CHECK(ta_tables_equal(pg.source_conninfo, pg.target_conninfo, q, "id", &rows));
    TH_CHECK_INT(rows, atol(m->ins_events));
    snprintf(q, sizeof(q), "public.%s", mix);
    TH_CHECK(ta_tables_equal(pg.source_conninfo, pg.target_conninfo, q, "id", &rows));
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, tins, 12);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, tmix, 12);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM applies"),
                 atol(m->ins_events));
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM applies WHERE n <> 1"), 0);
    check_order(pg.source_conninfo, pg.target_conninfo);
    if (th_failures) {
        char *out = ta_slurp(log);
        size_t len = strlen(out);
        fprintf(stderr, "cdc-apply logs (tail):\n%s\n", len > 8000 ? out + len - 8000 : out);
        free(out);
    } else {
        unlink(log);
    }
    th_broker_stop(&b);
    th_pg_stop(&pg);
    TH_DONE();
}
