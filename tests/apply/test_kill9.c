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

int main(int argc, char **argv)
{
    const mode_t_ *m = &modes[argc > 1 && !strcmp(argv[1], "long") ? 1 : 0];
    char sql[1024], progress[100];
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    ta_two_t t;
    ta_two_init(&t, &b, "k9", m->partitions);

    int64_t t0 = th_now_ms();
    ta_loadgen_inserts(pg.source_conninfo, b.bootstrap, t.prefix, t.ins, atoll(m->ins_events),
                       m->partitions, 3);
    ta_loadgen_inserts(pg.source_conninfo, b.bootstrap, t.prefix, t.mix, atoll(m->mix_seed_events),
                       m->partitions, 4);
    ta_loadgen_mixed(pg.source_conninfo, b.bootstrap, t.prefix, t.mix, atoll(m->mix_events), 50,
                     m->partitions, 5);
    fprintf(stderr, "load produced in %lld ms\n", (long long)(th_now_ms() - t0));

    ta_create_orders(pg.target_conninfo, t.ins);
    ta_create_orders(pg.target_conninfo, t.mix);
    snprintf(sql, sizeof(sql), TA_APPLIES_DDL, t.ins);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);

    const char *const *args =
        TA_APPLY_ARGS(b.bootstrap, t.group, t.topics, pg.target_conninfo, "--batch-rows", "200",
                      "--metrics-addr", "", "--exit-on-idle", "3", TA_FAST_GROUP);
    /* Progress = sum of stored positions; 0 until cdc-apply made its state. */
    ta_create_progress_fn(pg.target_conninfo);
    snprintf(progress, sizeof(progress), "SELECT progress('%s')", t.group);
    srand((unsigned)getpid());
    int kills = 0, early_exits = 0;
    while (kills < m->kills) {
        long long base = ta_query_ll(pg.target_conninfo, progress);
        pid_t pid = ta_apply_spawn(args, t.log);
        if (!ta_wait_ll_above(pg.target_conninfo, progress, base, 30000)) {
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
                ta_query_ll(pg.target_conninfo, progress));
    }
    TH_CHECK_INT(kills, m->kills);
    long long before_final = ta_query_ll(pg.target_conninfo, progress);
    int rc = ta_apply_run(args, t.log, 120000);
    TH_CHECK_INT(rc, 0);
    long long total = ta_query_ll(pg.target_conninfo, progress);
    fprintf(stderr, "final run from %lld to %lld; %lld ms in all\n", before_final, total,
            (long long)(th_now_ms() - t0));

    long rows = 0;
    TH_CHECK(ta_orders_equal(&pg, t.ins, &rows));
    TH_CHECK_INT(rows, atol(m->ins_events));
    TH_CHECK(ta_orders_equal(&pg, t.mix, &rows));
    TH_CHECK(rows > 0);
    ta_check_positions(b.bootstrap, pg.target_conninfo, t.group, t.tins, m->partitions);
    ta_check_positions(b.bootstrap, pg.target_conninfo, t.group, t.tmix, m->partitions);

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
    /* rc != 0 already failed TH_CHECK_INT above: the log is kept. */
    ta_log_finish(t.log, 6000);
    ta_stop(&pg, &b);
    TH_DONE();
}
