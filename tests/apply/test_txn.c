/* apply-txn: cdc-apply --transactions (source-transaction-atomic apply).
 *
 * "atomic": 1,200 random multi-table transactions (txn_gen.c: an order
 * and its lines created, a line added or removed with the order's
 * nlines, an order deleted with its lines), spread over 3 + 3 partitions
 * and the transaction topic. The target has a NOT DEFERRABLE foreign key
 * from order_lines to orders. A reader checks, throughout, in one
 * statement (one snapshot), that every order has exactly nlines lines:
 * any part of a source transaction visible shows. Member A applies;
 * member B stands by; A is killed -9 mid-stream, B takes over (the group
 * rebalances to it); C stands by; B is killed -9, C takes over and runs
 * to idle. Then: the reader saw no partial transaction, no apply failed
 * on the foreign key, both tables equal the source model, and the stored
 * positions of all 7 partitions equal their end offsets (nothing lost,
 * nothing left).
 *
 * "big": a transaction of 1,500 lines (~2.5 MB) over
 * --max-transaction-bytes 262144: the WARN says atomicity was given up,
 * cdc_transactions_given_up_total is 1, the transactions after it are
 * applied whole again (cdc_transactions_applied_total), the end state
 * equals the source.
 *
 * "lockloss": the member lock's session is terminated (pg_terminate_backend)
 * while batches flow: from then on no batch of the member commits (the
 * stored positions do not move), it exits 3 naming the member lock; a
 * member started then takes over and the end state equals the source.
 *
 * "idleopen": --exit-on-idle with a transaction that cannot complete (its
 * END counts an order_lines event; only orders and the transaction topic
 * are subscribed) exits 1 after the idle time with one line naming the
 * open transaction and what it waits for (was: never exited); the
 * complete transaction before it is applied.
 *
 * "regex": a regex --topics that matches the data topics but not the
 * transaction topic exits 2 naming it once partitions are assigned (was:
 * ran, nothing ever applied); one that matches all three applies and
 * exits 0 on idle.
 *
 * "pgcrash": the target crashes mid-stream with synchronous_commit off;
 * "giveup-kill9": kill -9 after transactions were given up, a restart with
 * the default bound. Both end with the target equal to the source.
 *
 * "bench" (not a test): the same stream applied with --transactions and
 * without, 3 rounds each; prints the median and the spread. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "txn_gen.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static tg_t gen; /* large: static */

#define DDL_FK                                                                                     \
    "CREATE TABLE orders (id bigint PRIMARY KEY, nlines int NOT NULL, note text);"                 \
    "CREATE TABLE order_lines (id bigint PRIMARY KEY, order_id bigint NOT NULL REFERENCES "        \
    "orders (id) NOT DEFERRABLE, qty int)"
#define DDL_NOFK                                                                                   \
    "CREATE TABLE orders (id bigint PRIMARY KEY, nlines int NOT NULL, note text);"                 \
    "CREATE TABLE order_lines (id bigint PRIMARY KEY, order_id bigint NOT NULL, qty int)"

static void topics_new(th_broker_t *b, const tg_t *g)
{
    TH_ASSERT(th_broker_cmd(b, "create %s %d", g->torders, g->parts) == 0);
    TH_ASSERT(th_broker_cmd(b, "create %s %d", g->tlines, g->parts) == 0);
    TH_ASSERT(th_broker_cmd(b, "create %s 1", g->ttx) == 0);
}

/* The servers, a producer and the generator's three topics. */
static rd_kafka_t *case_start(th_pg_t *pg, th_broker_t *b, const char *tag)
{
    ta_start(pg, b, 1);
    rd_kafka_t *rk = ta_producer_new(b);
    tg_init(&gen, rk, th_unique(tag), 3);
    topics_new(b, &gen);
    return rk;
}

static int64_t end_sum(const th_broker_t *b, const tg_t *g)
{
    int64_t s = ta_end_offset(b->bootstrap, g->ttx, 0);
    for (int p = 0; p < g->parts; p++)
        s += ta_end_offset(b->bootstrap, g->torders, p) + ta_end_offset(b->bootstrap, g->tlines, p);
    return s;
}

static void check_state(const th_pg_t *pg, const tg_t *g)
{
    char *want_o = tg_expect_orders(g), *want_l = tg_expect_lines(g);
    char *got_o = th_pg_query_value(
        pg->target_conninfo, "SELECT coalesce(string_agg(id || ':' || nlines || ':' || note, "
                             "';' ORDER BY id), '') FROM orders");
    char *got_l = th_pg_query_value(
        pg->target_conninfo, "SELECT coalesce(string_agg(id || ':' || order_id || ':' || qty, "
                             "';' ORDER BY id), '') FROM order_lines");
    bool ok_o = got_o && !strcmp(got_o, want_o), ok_l = got_l && !strcmp(got_l, want_l);
    if (!ok_o)
        fprintf(stderr, "orders differ:\n got  %.300s\n want %.300s\n", got_o ? got_o : "(null)",
                want_o);
    if (!ok_l)
        fprintf(stderr, "order_lines differ:\n got  %.300s\n want %.300s\n",
                got_l ? got_l : "(null)", want_l);
    TH_CHECK(ok_o);
    TH_CHECK(ok_l);
    free(want_o);
    free(want_l);
    free(got_o);
    free(got_l);
}

/* The concurrent reader. */
typedef struct reader {
    const char *conninfo;
    atomic_bool stop;
    long long checks, bad, max_bad;
    char first_bad[512];
} reader_t;

static void *reader_main(void *arg)
{
    reader_t *r = arg;
    PGconn *c = PQconnectdb(r->conninfo);
    while (!atomic_load(&r->stop)) {
        if (PQstatus(c) != CONNECTION_OK) {
            PQreset(c);
            usleep(20000);
            continue;
        }
        /* One statement, one snapshot: orders whose line count is off. */
        PGresult *res = PQexec(c, "SELECT count(*), min(o.id::text || ' has ' || n || ' lines, "
                                  "nlines ' || o.nlines) FROM orders o, LATERAL (SELECT count(*) "
                                  "n FROM order_lines l WHERE l.order_id = o.id) x WHERE n <> "
                                  "o.nlines");
        if (PQresultStatus(res) == PGRES_TUPLES_OK) {
            long long n = atoll(PQgetvalue(res, 0, 0));
            r->checks++;
            if (n) {
                if (!r->bad)
                    snprintf(r->first_bad, sizeof(r->first_bad), "%s", PQgetvalue(res, 0, 1));
                r->bad++;
                if (n > r->max_bad)
                    r->max_bad = n;
            }
        }
        PQclear(res);
        usleep(2000);
    }
    PQfinish(c);
    return NULL;
}

static void kill9(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static bool log_has(const char *log, const char *s)
{
    char *t = ta_slurp(log);
    bool ok = strstr(t, s) != NULL;
    if (!ok)
        fprintf(stderr, "%s: no '%s' in:\n%s\n", log, s, t);
    free(t);
    return ok;
}

/* Up to 20 s for @p s in the log at @p path (a member's start under load). */
static void wait_log(const char *path, const char *s)
{
    for (int i = 0; i < 400 && !log_has(path, s); i++)
        usleep(50000);
}

static void case_atomic(void)
{
    th_pg_t pg;
    th_broker_t b;
    rd_kafka_t *rk = case_start(&pg, &b, "tx");
    srand(11);
    for (int i = 0; i < 1200; i++)
        tg_random_txn(&gen);
    tg_flush(&gen);
    int64_t total = end_sum(&b, &gen);
    fprintf(stderr, "%lld transactions, %lld events, %lld records\n", gen.ntxn, gen.nevents,
            (long long)total);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, DDL_FK) == 0);
    ta_create_progress_fn(pg.target_conninfo);
    char group[64], progress[128], logs[3][128];
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(progress, sizeof(progress), "SELECT progress('%s')", group);
    for (int i = 0; i < 3; i++)
        snprintf(logs[i], sizeof(logs[i]), "/tmp/%s.%c.log", gen.prefix, 'A' + i);
    const char *const *args = TA_APPLY_ARGS(
        b.bootstrap, group, gen.topics, pg.target_conninfo, "--transactions", "--batch-rows", "40",
        "--metrics-addr", "", "--exit-on-idle", "3", TA_FAST_GROUP);
    reader_t rd = {.conninfo = pg.target_conninfo};
    atomic_init(&rd.stop, false);
    pthread_t th;
    TH_ASSERT(pthread_create(&th, NULL, reader_main, &rd) == 0);

    srand((unsigned)getpid());
    pid_t a = ta_apply_spawn(args, logs[0]);
    TH_CHECK(ta_wait_ll_above(pg.target_conninfo, progress, 0, 30000));
    pid_t bpid = ta_apply_spawn(args, logs[1]);
    wait_log(logs[1], "standing by to take over"); /* B waits before A dies */
    usleep(300000 + (useconds_t)(rand() % 300) * 1000);
    long long at = ta_query_ll(pg.target_conninfo, progress);
    TH_CHECK(waitpid(a, NULL, WNOHANG) == 0); /* still running: mid-stream */
    kill9(a);
    fprintf(stderr, "A killed at %lld of %lld\n", at, (long long)total);
    TH_CHECK(at < total);
    TH_CHECK(ta_wait_ll_above(pg.target_conninfo, progress, at, 40000)); /* B took over */
    pid_t c = ta_apply_spawn(args, logs[2]);
    wait_log(logs[2], "standing by to take over");
    usleep(200000 + (useconds_t)(rand() % 300) * 1000);
    at = ta_query_ll(pg.target_conninfo, progress);
    TH_CHECK(waitpid(bpid, NULL, WNOHANG) == 0);
    kill9(bpid);
    fprintf(stderr, "B killed at %lld of %lld\n", at, (long long)total);
    TH_CHECK(at < total);
    int rc = ta_wait(c, 120000);
    TH_CHECK_INT(rc, 0);
    atomic_store(&rd.stop, true);
    pthread_join(th, NULL);
    fprintf(stderr, "reader: %lld checks, %lld saw a partial transaction (max %lld orders)%s%s\n",
            rd.checks, rd.bad, rd.max_bad, rd.bad ? ", first: " : "", rd.first_bad);
    TH_CHECK(rd.checks > 20);
    TH_CHECK_INT(rd.bad, 0);
    check_state(&pg, &gen);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, gen.torders, 3);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, gen.tlines, 3);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, gen.ttx, 1);
    TH_CHECK(log_has(logs[1], "standing by to take over"));
    TH_CHECK(log_has(logs[2], "standing by to take over"));
    TH_CHECK(log_has(logs[2], "active member of group"));
    for (int i = 0; i < 3; i++)
        ta_log_finish(logs[i], 4000);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
}

static void case_big(void)
{
    th_pg_t pg;
    th_broker_t b;
    rd_kafka_t *rk = case_start(&pg, &b, "txb");
    TH_ASSERT(th_pg_exec(pg.target_conninfo, DDL_FK) == 0);
    char group[64], log[128], url[64];
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", gen.prefix);
    int port = ta_free_port();
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    const char *const *args =
        TA_APPLY_ARGS(b.bootstrap, group, gen.topics, pg.target_conninfo, "--transactions",
                      "--max-transaction-bytes", "262144", "--metrics-addr", addr, "--exit-on-idle",
                      "4", TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(args, log);
    /* The order first, applied, so that the big one's lines, applied in
     * pieces, find it. */
    tg_begin(&gen);
    tg_order_create(&gen, ++gen.next_order, 0);
    tg_commit(&gen);
    tg_flush(&gen);
    TH_CHECK(ta_wait_ll_above(pg.target_conninfo, "SELECT count(*) FROM orders", 0, 30000));
    tg_begin(&gen);
    for (int i = 0; i < 1500; i++)
        tg_line_create(&gen, 1);
    tg_order_touch(&gen, 1, 1500);
    tg_commit(&gen);
    gen.keep = 1; /* not deleted again in pieces: see the README */
    for (int i = 0; i < 50; i++)
        tg_random_txn(&gen);
    tg_flush(&gen);
    const char *lab[1] = {NULL};
    double want_gu = 1, want_ap = 51;
    char *m1 =
        ta_scrape_until(pid, url, "cdc_transactions_given_up_total", lab, &want_gu, 1, 60000);
    char *m2 = ta_scrape_until(pid, url, "cdc_transactions_applied_total", lab, &want_ap, 1, 60000);
    TH_CHECK(m1 && ta_metric_sum(m1, "cdc_transactions_given_up_total", NULL) == 1);
    TH_CHECK(m2 && ta_metric_sum(m2, "cdc_transactions_applied_total", NULL) >= 51);
    TH_CHECK(m2 && ta_metric_sum(m2, "cdc_transactions_given_up_total", NULL) == 1);
    free(m1);
    free(m2);
    TH_CHECK_INT(ta_wait(pid, 60000), 0);
    TH_CHECK(log_has(log, "applying it in pieces, its atomicity is given up"));
    check_state(&pg, &gen);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, gen.tlines, 3);
    ta_log_finish(log, 6000);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
}

#define LOCK_PID_SQL                                                                               \
    "SELECT coalesce(max(pid), 0) FROM pg_locks WHERE locktype = 'advisory' AND classid = "        \
    "1667523700 AND granted"

static void case_lockloss(void)
{
    th_pg_t pg;
    th_broker_t b;
    rd_kafka_t *rk = case_start(&pg, &b, "txl");
    srand(11);
    for (int i = 0; i < 1200; i++)
        tg_random_txn(&gen);
    tg_flush(&gen);
    int64_t total = end_sum(&b, &gen);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, DDL_FK) == 0);
    ta_create_progress_fn(pg.target_conninfo);
    char group[64], progress[128], logs[2][128];
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(progress, sizeof(progress), "SELECT progress('%s')", group);
    for (int i = 0; i < 2; i++)
        snprintf(logs[i], sizeof(logs[i]), "/tmp/%s.%c.log", gen.prefix, 'A' + i);
    const char *const *args = TA_APPLY_ARGS(
        b.bootstrap, group, gen.topics, pg.target_conninfo, "--transactions", "--batch-rows", "40",
        "--metrics-addr", "", "--exit-on-idle", "3", TA_FAST_GROUP);
    pid_t a = ta_apply_spawn(args, logs[0]);
    TH_CHECK(ta_wait_ll_above(pg.target_conninfo, progress, 0, 30000));
    long long lock_pid = ta_query_ll(pg.target_conninfo, LOCK_PID_SQL);
    TH_ASSERT(lock_pid > 0);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)", lock_pid);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);
    for (int i = 0; i < 500 && ta_query_ll(pg.target_conninfo, LOCK_PID_SQL) == lock_pid; i++)
        usleep(10000);
    TH_ASSERT(ta_query_ll(pg.target_conninfo, LOCK_PID_SQL) != lock_pid);
    long long at = ta_query_ll(pg.target_conninfo, progress);
    fprintf(stderr, "lock session %lld terminated at %lld of %lld\n", lock_pid, at,
            (long long)total);
    TH_CHECK(at < total);
    TH_CHECK_INT(ta_wait(a, 30000), 3);
    long long after = ta_query_ll(pg.target_conninfo, progress);
    fprintf(stderr, "positions when the member exited: %lld\n", after);
    TH_CHECK(after == at); /* nothing committed without the lock */
    TH_CHECK(log_has(logs[0], "member lock"));
    pid_t bpid = ta_apply_spawn(args, logs[1]);
    TH_CHECK_INT(ta_wait(bpid, 120000), 0);
    TH_CHECK(log_has(logs[1], "active member of group"));
    check_state(&pg, &gen);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, gen.torders, 3);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, gen.tlines, 3);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, gen.ttx, 1);
    for (int i = 0; i < 2; i++)
        ta_log_finish(logs[i], 4000);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
}

static void case_idleopen(void)
{
    th_pg_t pg;
    th_broker_t b;
    rd_kafka_t *rk = case_start(&pg, &b, "txi");
    TH_ASSERT(th_pg_exec(pg.target_conninfo, DDL_NOFK) == 0);
    tg_begin(&gen);
    tg_order_create(&gen, 1, 0);
    tg_commit(&gen);
    tg_begin(&gen);
    tg_order_create(&gen, 2, 1);
    tg_line_create(&gen, 2);
    tg_commit(&gen);
    tg_flush(&gen);
    char group[64], log[128], topics[300];
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", gen.prefix);
    snprintf(topics, sizeof(topics), "%s,%s", gen.torders, gen.ttx);
    const char *const *args =
        TA_APPLY_ARGS(b.bootstrap, group, topics, pg.target_conninfo, "--transactions",
                      "--metrics-addr", "", "--exit-on-idle", "2", TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(args, log);
    TH_CHECK_INT(ta_wait(pid, 40000), 1);
    TH_CHECK(log_has(log, "1 source transaction(s) still open"));
    TH_CHECK(log_has(log, "its END counts 2 events, 1 arrived"));
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM orders"), 1);
    ta_log_finish(log, 4000);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
}

static void case_regex(void)
{
    th_pg_t pg;
    th_broker_t b;
    rd_kafka_t *rk = case_start(&pg, &b, "txr");
    TH_ASSERT(th_pg_exec(pg.target_conninfo, DDL_NOFK) == 0);
    tg_begin(&gen);
    tg_order_create(&gen, 1, 1);
    tg_line_create(&gen, 1);
    tg_commit(&gen);
    tg_flush(&gen);
    char group[64], log[128], rx[200];
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", gen.prefix);
    snprintf(rx, sizeof(rx), "^%s\\.public\\..*", gen.prefix);
    const char *const *args =
        TA_APPLY_ARGS(b.bootstrap, group, rx, pg.target_conninfo, "--transactions",
                      "--metrics-addr", "", "--exit-on-idle", "20", TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(args, log);
    TH_CHECK_INT(ta_wait(pid, 40000), 2);
    TH_CHECK(log_has(log, "but no <topic.prefix>.transaction topic"));
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM orders"), 0);
    ta_log_finish(log, 4000);
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(rx, sizeof(rx), "^%s\\..*", gen.prefix);
    const char *const *args2 =
        TA_APPLY_ARGS(b.bootstrap, group, rx, pg.target_conninfo, "--transactions",
                      "--metrics-addr", "", "--exit-on-idle", "3", TA_FAST_GROUP);
    pid = ta_apply_spawn(args2, log);
    TH_CHECK_INT(ta_wait(pid, 40000), 0);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM order_lines"), 1);
    ta_log_finish(log, 4000);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
}

static int cmp_ll(const void *x, const void *y)
{
    long long a = *(const long long *)x, b = *(const long long *)y;
    return a < b ? -1 : a > b;
}

/* Time from the first commit until the stored positions reach the end. */
static long long timed_run(const th_pg_t *pg, const th_broker_t *b, bool txn, int round,
                           int64_t total)
{
    char group[64], progress[128], log[128];
    snprintf(group, sizeof(group), "%s", th_unique(txn ? "gt" : "gd"));
    snprintf(progress, sizeof(progress), "SELECT progress('%s')", group);
    snprintf(log, sizeof(log), "/tmp/%s.bench.log", gen.prefix);
    TH_ASSERT(th_pg_exec(pg->target_conninfo, "TRUNCATE orders, order_lines") == 0);
    const char *const *args =
        txn ? TA_APPLY_ARGS(b->bootstrap, group, gen.topics, pg->target_conninfo, "--transactions",
                            "--metrics-addr", "", TA_FAST_GROUP)
            : TA_APPLY_ARGS(b->bootstrap, group, gen.topics, pg->target_conninfo, "--metrics-addr",
                            "", TA_FAST_GROUP);
    int64_t t0 = th_now_ms(), t1 = 0;
    pid_t pid = ta_apply_spawn(args, log);
    /* From the first commit (the group join is the same in both modes). */
    long long at;
    while ((at = ta_query_ll(pg->target_conninfo, progress)) < total && th_now_ms() - t0 < 300000) {
        if (at > 0 && !t1)
            t1 = th_now_ms();
        usleep(10000);
    }
    long long ms = th_now_ms() - t1;
    kill(pid, SIGTERM);
    ta_wait(pid, 30000);
    check_state(pg, &gen);
    fprintf(stderr, "round %d %s: %lld ms\n", round, txn ? "--transactions" : "default", ms);
    return ms;
}

static void case_bench(int ntxn)
{
    th_pg_t pg;
    th_broker_t b;
    rd_kafka_t *rk = case_start(&pg, &b, "txm");
    srand(5);
    for (int i = 0; i < ntxn; i++)
        tg_random_txn(&gen);
    tg_flush(&gen);
    int64_t total = end_sum(&b, &gen);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, DDL_NOFK) == 0);
    ta_create_progress_fn(pg.target_conninfo);
    long long d[3], t[3], f[3];
    for (int r = 0; r < 3; r++) {
        d[r] = timed_run(&pg, &b, false, r, total);
        t[r] = timed_run(&pg, &b, true, r, total);
    }
    /* With the foreign key on the target: runs of one table per step. */
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "ALTER TABLE order_lines ADD FOREIGN KEY (order_id) REFERENCES orders "
                         "(id) NOT DEFERRABLE") == 0);
    for (int r = 0; r < 3; r++)
        f[r] = timed_run(&pg, &b, true, r, total);
    qsort(d, 3, sizeof(d[0]), cmp_ll);
    qsort(t, 3, sizeof(t[0]), cmp_ll);
    qsort(f, 3, sizeof(f[0]), cmp_ll);
    printf("stream: %lld transactions, %lld events (+ tombstones, BEGIN/END: %lld records)\n",
           gen.ntxn, gen.nevents, (long long)total);
    printf("default:        median %lld ms (min %lld, max %lld), %.0f events/s\n", d[1], d[0], d[2],
           gen.nevents * 1000.0 / (double)d[1]);
    printf("--transactions: median %lld ms (min %lld, max %lld), %.0f events/s\n", t[1], t[0], t[2],
           gen.nevents * 1000.0 / (double)t[1]);
    printf("--transactions, NOT DEFERRABLE foreign key on the target: median %lld ms (min %lld, "
           "max %lld), %.0f events/s\n",
           f[1], f[0], f[2], gen.nevents * 1000.0 / (double)f[1]);
    printf("cost: x%.2f the time (x%.2f with the foreign key)\n", (double)t[1] / (double)d[1],
           (double)f[1] / (double)d[1]);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
}

/* A restart with @p args2 runs to idle (exit 0): both tables equal the
 * source, every stored position is at its end offset. */
static void run_restarted(const th_pg_t *pg, const th_broker_t *b, const char *const *args2,
                          const char *group, const char *log2)
{
    int rc = ta_wait(ta_apply_spawn(args2, log2), 120000);
    TH_CHECK_INT(rc, 0);
    check_state(pg, &gen);
    ta_check_positions(b->bootstrap, pg->target_conninfo, group, gen.torders, 3);
    ta_check_positions(b->bootstrap, pg->target_conninfo, group, gen.tlines, 3);
    ta_check_positions(b->bootstrap, pg->target_conninfo, group, gen.ttx, 1);
}

/* The names of a case's group, progress query and two member logs. */
typedef struct names {
    char group[64], progress[128], log[128], log2[128];
} names_t;

/* The servers, 1,500 random transactions produced, the target's tables
 * (no foreign key) and the progress function. */
static rd_kafka_t *stream_start(th_pg_t *pg, th_broker_t *b, const char *tag, unsigned seed,
                                names_t *n)
{
    rd_kafka_t *rk = case_start(pg, b, tag);
    srand(seed);
    for (int i = 0; i < 1500; i++)
        tg_random_txn(&gen);
    tg_flush(&gen);
    TH_ASSERT(th_pg_exec(pg->target_conninfo, DDL_NOFK) == 0);
    ta_create_progress_fn(pg->target_conninfo);
    snprintf(n->group, sizeof(n->group), "%s", th_unique("g"));
    snprintf(n->progress, sizeof(n->progress), "SELECT progress('%s')", n->group);
    snprintf(n->log, sizeof(n->log), "/tmp/%s.log", gen.prefix);
    snprintf(n->log2, sizeof(n->log2), "/tmp/%s.2.log", gen.prefix);
    return rk;
}

/* "pgcrash": the target crashes (immediate stop, down 3 s) mid-stream
 * with synchronous_commit off, so it forgets commits it acknowledged (as
 * after a failover to an async replica). Everything not in the target is
 * read again from the stored positions and applied: no transaction the
 * member released before the crash may be skipped as a re-delivery. */
static void case_pgcrash(void)
{
    th_pg_t pg;
    th_broker_t b;
    names_t n;
    rd_kafka_t *rk = stream_start(&pg, &b, "txc", 13, &n);
    const char *const *args =
        TA_APPLY_ARGS(b.bootstrap, n.group, gen.topics, pg.target_conninfo, "--transactions",
                      "--batch-rows", "10", "--batch-ms", "20", "--retry-backoff-ms", "200",
                      "--metrics-addr", "", "--exit-on-idle", "4", TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(args, n.log);
    TH_CHECK(ta_wait_ll_above(pg.target_conninfo, n.progress, 600, 60000));
    TH_ASSERT(th_pg_down(&pg, true) == 0);
    usleep(3000 * 1000);
    TH_ASSERT(th_pg_up(&pg) == 0);
    int rc = ta_wait(pid, 120000);
    fprintf(stderr, "first run: exit %d\n", rc);
    TH_CHECK(rc == 0 || rc == 3); /* 3: the restart ended the member lock's session */
    run_restarted(&pg, &b, args, n.group, n.log2);
    ta_log_finish(n.log, 6000);
    ta_log_finish(n.log2, 6000);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
}

/* "giveup-kill9": with a bound so small that transactions are given up
 * (applied in pieces), a kill -9 mid-stream, then a restart with the
 * default bound: the stored positions never passed an END whose events
 * were not all committed, so every transaction completes. */
static void case_giveup_kill9(void)
{
    th_pg_t pg;
    th_broker_t b;
    names_t n;
    rd_kafka_t *rk = stream_start(&pg, &b, "txg", 17, &n);
    const char *const *args =
        TA_APPLY_ARGS(b.bootstrap, n.group, gen.topics, pg.target_conninfo, "--transactions",
                      "--max-transaction-bytes", "2048", "--batch-rows", "10", "--metrics-addr", "",
                      TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(args, n.log);
    TH_CHECK(ta_wait_ll_above(pg.target_conninfo, n.progress, 400, 60000));
    TH_CHECK(waitpid(pid, NULL, WNOHANG) == 0);
    kill9(pid);
    TH_CHECK(log_has(n.log, "its atomicity is given up"));
    const char *const *args2 =
        TA_APPLY_ARGS(b.bootstrap, n.group, gen.topics, pg.target_conninfo, "--transactions",
                      "--metrics-addr", "", "--exit-on-idle", "4", TA_FAST_GROUP);
    run_restarted(&pg, &b, args2, n.group, n.log2);
    ta_log_finish(n.log, 6000);
    ta_log_finish(n.log2, 6000);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
}

/* "giveup-tail": a transaction over the bound, the last of the stream, is
 * applied in pieces; the member is killed -9 after its 600 lines
 * committed while its END waits for its last event (held back by the
 * producer). That event is written, nothing after it. The restart reads
 * the END and that event only (the lines lie before the stored
 * positions): no partition shows a later transaction, so it cannot tell
 * them from late events, and waits (README, Known limits): --exit-on-idle
 * exits 1 naming the open transaction, with the held event not applied
 * and the 600 lines kept. */
static void case_giveup_tail(void)
{
    th_pg_t pg;
    th_broker_t b;
    names_t n;
    rd_kafka_t *rk = case_start(&pg, &b, "txt");
    TH_ASSERT(th_pg_exec(pg.target_conninfo, DDL_NOFK) == 0);
    snprintf(n.group, sizeof(n.group), "%s", th_unique("g"));
    snprintf(n.log, sizeof(n.log), "/tmp/%s.log", gen.prefix);
    snprintf(n.log2, sizeof(n.log2), "/tmp/%s.2.log", gen.prefix);
    tg_begin(&gen);
    tg_order_create(&gen, ++gen.next_order, 0);
    tg_commit(&gen);
    tg_begin(&gen);
    for (int i = 0; i < 600; i++)
        tg_line_create(&gen, 1);
    tg_order_touch(&gen, 1, 600);
    gen.hold_last = true;
    tg_commit(&gen);
    gen.hold_last = false;
    tg_flush(&gen);
    const char *const *args =
        TA_APPLY_ARGS(b.bootstrap, n.group, gen.topics, pg.target_conninfo, "--transactions",
                      "--max-transaction-bytes", "65536", "--metrics-addr", "", TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(args, n.log);
    TH_CHECK(ta_wait_ll_above(pg.target_conninfo, "SELECT count(*) FROM order_lines", 599, 60000));
    kill9(pid);
    TH_CHECK(log_has(n.log, "applying it in pieces, its atomicity is given up"));
    tg_produce_held(&gen);
    tg_flush(&gen);
    const char *const *args2 =
        TA_APPLY_ARGS(b.bootstrap, n.group, gen.topics, pg.target_conninfo, "--transactions",
                      "--metrics-addr", "", "--exit-on-idle", "6", TA_FAST_GROUP);
    TH_CHECK_INT(ta_wait(ta_apply_spawn(args2, n.log2), 120000), 1);
    TH_CHECK(log_has(n.log2, "source transaction(s) still open"));
    TH_CHECK(!log_has(n.log2, "applying what arrived"));
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM order_lines"), 600);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT nlines FROM orders WHERE id = 1"), 0);
    ta_log_finish(n.log, 4000);
    ta_log_finish(n.log2, 4000);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
}

/* "late": the last event of a transaction reaches Kafka 7 s after its END
 * and after the next transaction (Debezium's producer writes each topic
 * on its own; a slow partition leader, retries): nothing of it is applied
 * before that event comes, then it goes whole (was: on the idle tick its
 * END went with what had arrived, and a reader saw part of it). */
static void case_late(void)
{
    th_pg_t pg;
    th_broker_t b;
    names_t n;
    rd_kafka_t *rk = case_start(&pg, &b, "txl");
    TH_ASSERT(th_pg_exec(pg.target_conninfo, DDL_NOFK) == 0);
    snprintf(n.group, sizeof(n.group), "%s", th_unique("g"));
    snprintf(n.log, sizeof(n.log), "/tmp/%s.log", gen.prefix);
    tg_begin(&gen);
    tg_order_create(&gen, ++gen.next_order, 1);
    tg_line_create(&gen, gen.next_order);
    tg_commit(&gen);
    tg_begin(&gen);
    tg_order_create(&gen, ++gen.next_order, 3);
    for (int i = 0; i < 3; i++)
        tg_line_create(&gen, gen.next_order);
    gen.hold_last = true;
    tg_commit(&gen);
    gen.hold_last = false;
    tg_flush(&gen);
    const char *const *args =
        TA_APPLY_ARGS(b.bootstrap, n.group, gen.topics, pg.target_conninfo, "--transactions",
                      "--metrics-addr", "", "--exit-on-idle", "20", TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(args, n.log);
    TH_CHECK(ta_wait_ll_above(pg.target_conninfo, "SELECT count(*) FROM orders", 0, 60000));
    sleep(7);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM orders WHERE id = 2"), 0);
    TH_CHECK_INT(
        ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM order_lines WHERE order_id = 2"), 0);
    tg_produce_held(&gen);
    tg_flush(&gen);
    TH_CHECK(ta_wait_ll_above(pg.target_conninfo,
                              "SELECT count(*) FROM order_lines WHERE order_id = 2", 2, 30000));
    kill(pid, SIGTERM);
    TH_CHECK_INT(ta_wait(pid, 30000), 0);
    check_state(&pg, &gen);
    TH_CHECK(!log_has(n.log, "applying what arrived"));
    ta_log_finish(n.log, 4000);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
}

/* "deadtxn": --errors-tolerance all; a line event of a transaction cannot
 * be decoded (qty a string, the schema says int32) but its transaction
 * block can: the transaction is applied without it (WARN naming it and
 * the event's position, cdc_transactions_partial_total 1), the event is a
 * dead letter, the transactions after it go whole; exit 0 on idle with
 * every position at its end (was: the transaction stayed open forever,
 * --exit-on-idle exited 1 naming it). */
static void case_deadtxn(void)
{
    th_pg_t pg;
    th_broker_t b;
    rd_kafka_t *rk = case_start(&pg, &b, "txd");
    TH_ASSERT(th_pg_exec(pg.target_conninfo, DDL_NOFK) == 0);
    tg_begin(&gen);
    tg_order_create(&gen, ++gen.next_order, 2);
    tg_line_create_poison(&gen, 1);
    tg_line_create(&gen, 1);
    tg_commit(&gen);
    /* A line the target refuses (a CHECK the source does not have): its
     * transaction goes without it too, counted (was: no WARN, not
     * counted). */
    tg_begin(&gen);
    tg_order_create(&gen, ++gen.next_order, 2);
    tg_line_create(&gen, gen.next_order);
    tg_line_create(&gen, gen.next_order);
    gen.lines[gen.next_line].live = false;
    tg_commit(&gen);
    char chk[128];
    snprintf(chk, sizeof(chk), "ALTER TABLE order_lines ADD CHECK (id <> %lld)", gen.next_line);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, chk) == 0);
    srand(3);
    for (int i = 0; i < 20; i++)
        tg_random_txn(&gen);
    tg_flush(&gen);
    char group[64], log[128], url[64], addr[32], want[300];
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", gen.prefix);
    int port = ta_free_port();
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    const char *const *args = TA_APPLY_ARGS(
        b.bootstrap, group, gen.topics, pg.target_conninfo, "--transactions", "--errors-tolerance",
        "all", "--metrics-addr", addr, "--exit-on-idle", "4", TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(args, log);
    const char *lab[1] = {NULL};
    double two = 2;
    char *m = ta_scrape_until(pid, url, "cdc_transactions_partial_total", lab, &two, 1, 60000);
    TH_CHECK(m && ta_metric_sum(m, "cdc_transactions_partial_total", NULL) == 2);
    free(m);
    TH_CHECK_INT(ta_wait(pid, 60000), 0);
    /* Line 1 went to partition 1 of order_lines, its first record. */
    snprintf(want, sizeof(want),
             "transaction 501:1000001: applied without 1 of its events, "
             "dead-lettered (--errors-tolerance all): %s[1]@0",
             gen.tlines);
    TH_CHECK(log_has(log, want));
    TH_CHECK(log_has(log, "which the target refused (dead-lettered, --errors-tolerance all)"));
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM cdc.dead_letter"), 2);
    check_state(&pg, &gen);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, gen.torders, 3);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, gen.tlines, 3);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, gen.ttx, 1);
    ta_log_finish(log, 4000);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "atomic";
    if (!strcmp(mode, "big"))
        case_big();
    else if (!strcmp(mode, "idleopen"))
        case_idleopen();
    else if (!strcmp(mode, "regex"))
        case_regex();
    else if (!strcmp(mode, "lockloss"))
        case_lockloss();
    else if (!strcmp(mode, "pgcrash"))
        case_pgcrash();
    else if (!strcmp(mode, "giveup-kill9"))
        case_giveup_kill9();
    else if (!strcmp(mode, "giveup-tail"))
        case_giveup_tail();
    else if (!strcmp(mode, "late"))
        case_late();
    else if (!strcmp(mode, "deadtxn"))
        case_deadtxn();
    else if (!strcmp(mode, "bench"))
        case_bench(argc > 2 ? atoi(argv[2]) : 5000);
    else
        case_atomic();
    TH_DONE();
}
