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

/* Wait until progress moves by @p step from where it is now. */
static void wait_progress(const char *conninfo, const char *progress, long long step)
{
    long long base = ta_query_ll(conninfo, progress);
    if (!ta_wait_ll_above(conninfo, progress, base + step - 1, 40000)) {
        fprintf(stderr, "no progress of %lld within 40 s (at %lld)\n", step, base);
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
    ta_start(&pg, &b, 1);
    ta_two_t t;
    ta_two_init(&t, &b, "grp", 12);
    char sql[1024], progress[100];

    int64_t t0 = th_now_ms();
    ta_loadgen_inserts(pg.source_conninfo, b.bootstrap, t.prefix, t.ins, atoll(m->ins_events), 12,
                       13);
    ta_loadgen_inserts(pg.source_conninfo, b.bootstrap, t.prefix, t.mix, atoll(m->seed_events), 12,
                       14);
    /* Source history: the seeded rows first, then every later version. */
    snprintf(sql, sizeof(sql),
             HISTORY_DDL "INSERT INTO history (id, r) SELECT id, o::text FROM %s o ORDER BY id;"
                         "CREATE TRIGGER log_version AFTER INSERT OR UPDATE ON %s FOR EACH ROW "
                         "EXECUTE FUNCTION log_version()",
             t.mix, t.mix);
    TH_ASSERT(th_pg_exec(pg.source_conninfo, sql) == 0);
    ta_loadgen_mixed(pg.source_conninfo, b.bootstrap, t.prefix, t.mix, atoll(m->mix_events), 30, 12,
                     15);
    fprintf(stderr, "load produced in %lld ms\n", (long long)(th_now_ms() - t0));

    ta_create_orders(pg.target_conninfo, t.ins);
    ta_create_orders(pg.target_conninfo, t.mix);
    snprintf(sql, sizeof(sql),
             HISTORY_DDL "CREATE TRIGGER log_version AFTER INSERT OR UPDATE ON %s FOR EACH ROW "
                         "EXECUTE FUNCTION log_version();" TA_APPLIES_DDL,
             t.mix, t.ins);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);
    ta_create_progress_fn(pg.target_conninfo);

    /* Small batches and a short idle: many commits, many chances to race. */
    const char *const *args =
        TA_APPLY_ARGS(b.bootstrap, t.group, t.topics, pg.target_conninfo, "--batch-rows", "300",
                      "--metrics-addr", "", "--exit-on-idle", "5", TA_FAST_GROUP);
    snprintf(progress, sizeof(progress), "SELECT progress('%s')", t.group);
    pid_t live[64];
    size_t nlive = 0, oldest = 0;
    live[nlive++] = ta_apply_spawn(args, t.log);
    live[nlive++] = ta_apply_spawn(args, t.log);
    wait_progress(pg.target_conninfo, progress, 1);
    live[nlive++] = ta_apply_spawn(args, t.log);
    wait_progress(pg.target_conninfo, progress, 1000);
    for (int c = 0; c < m->cycles; c++) {
        /* The oldest member leaves cleanly; a new one joins. */
        int st = th_proc_stop(live[oldest++], 30000);
        TH_CHECK_INT(st, 0);
        live[nlive++] = ta_apply_spawn(args, t.log);
        fprintf(stderr, "cycle %d: member left, another joined at position %lld\n", c + 1,
                ta_query_ll(pg.target_conninfo, progress));
        wait_progress(pg.target_conninfo, progress, 1000);
    }
    for (size_t i = oldest; i < nlive; i++) {
        int st = ta_wait(live[i], 180000);
        if (st != 0)
            fprintf(stderr, "member %zu exited %d\n", i, st);
        TH_CHECK_INT(st, 0);
    }
    fprintf(stderr, "all members done in %lld ms\n", (long long)(th_now_ms() - t0));

    long rows = 0;
    TH_CHECK(ta_orders_equal(&pg, t.ins, &rows));
    TH_CHECK_INT(rows, atol(m->ins_events));
    TH_CHECK(ta_orders_equal(&pg, t.mix, &rows));
    ta_check_positions(b.bootstrap, pg.target_conninfo, t.group, t.tins, 12);
    ta_check_positions(b.bootstrap, pg.target_conninfo, t.group, t.tmix, 12);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM applies"),
                 atol(m->ins_events));
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM applies WHERE n <> 1"), 0);
    check_order(pg.source_conninfo, pg.target_conninfo);
    ta_log_finish(t.log, 8000);
    ta_stop(&pg, &b);
    TH_DONE();
}
