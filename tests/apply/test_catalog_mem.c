/* apply-catalog-mem: invariant 5, memory stays bounded while records are
 * dead-lettered for a column the target lacks.
 *
 * A wide target w(id int primary key, c0..c299 text) and schemaless
 * Debezium events (schemas.enable=false, so every value's type comes from
 * the target's catalog) whose after image also holds "zzz":"unknown".
 * With --errors-tolerance all every record goes to cdc.dead_letter. Each
 * such record used to make the catalog re-read the whole table (twice:
 * type lookup and resolve) and keep the old description until exit: RSS
 * grew by tens of kB a record and throughput fell to ~30 records/s. Now:
 * all 3,000 consumed and refused, peak RSS of cdc-apply (wait4) under 96 MB, in
 * under 60 s.
 *
 * Second part, in one cdc-apply process: records with "zzz" are
 * dead-lettered, then ALTER TABLE ADD COLUMN zzz, and the next records are
 * applied with their zzz value: a column added mid-stream is still seen. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define NCOLS 300

static char *wide_value(const char *table, long long id)
{
    size_t cap = 64 + NCOLS * 24 + 512;
    char *v = malloc(cap);
    TH_ASSERT(v != NULL);
    int n = snprintf(v, cap, "{\"before\":null,\"after\":{\"id\":%lld", id);
    for (int i = 0; i < NCOLS; i++)
        n += snprintf(v + n, cap - (size_t)n, ",\"c%d\":\"v%d\"", i, i);
    n += snprintf(v + n, cap - (size_t)n,
                  ",\"zzz\":\"unknown\"},\"source\":{\"version\":\"2.5.0.Final\","
                  "\"connector\":\"postgresql\",\"name\":\"srv\",\"ts_ms\":1700000000000,"
                  "\"snapshot\":\"false\",\"db\":\"src\",\"sequence\":\"[null,\\\"%lld\\\"]\","
                  "\"schema\":\"public\",\"table\":\"%s\",\"txId\":%lld,\"lsn\":%lld,"
                  "\"xmin\":null},\"op\":\"c\",\"ts_ms\":1700000000001,\"transaction\":null}",
                  id * 100, table, 1000 + id, id * 100);
    TH_ASSERT((size_t)n < cap);
    return v;
}

static void produce(rd_kafka_t *rk, const char *topic, const char *table, long long from,
                    long long to)
{
    for (long long id = from; id <= to; id++) {
        char k[64];
        snprintf(k, sizeof(k), "{\"id\":%lld}", id);
        char *v = wide_value(table, id);
        TH_ASSERT(th_kafka_produce_sync(rk, topic, 0, k, v, 10000) == 0);
        free(v);
    }
}

static void make_table(th_pg_t *pg, const char *table)
{
    size_t cap = 100 + NCOLS * 16;
    char *ddl = malloc(cap);
    TH_ASSERT(ddl != NULL);
    int n = snprintf(ddl, cap, "CREATE TABLE public.%s (id int PRIMARY KEY", table);
    for (int i = 0; i < NCOLS; i++)
        n += snprintf(ddl + n, cap - (size_t)n, ", c%d text", i);
    snprintf(ddl + n, cap - (size_t)n, ")");
    TH_ASSERT(th_pg_exec(pg->target_conninfo, ddl) == 0);
    free(ddl);
}

static long long dead(th_pg_t *pg, const char *group, const char *topic)
{
    char sql[300];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM cdc.dead_letter WHERE group_id = '%s' AND topic = '%s'", group,
             topic);
    return ta_query_ll(pg->target_conninfo, sql);
}

typedef struct wcase {
    char topic[64], table[64], group[64], log[128];
    int64_t t0; /* when cdc-apply started */
} wcase_t;

/* A fresh wide table and its topic with records 1..@p n, and cdc-apply
 * started on it with --errors-tolerance all and --exit-on-idle @p idle. */
static pid_t start_case(wcase_t *w, th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk, int n,
                        const char *idle)
{
    snprintf(w->table, sizeof(w->table), "%s", th_unique("w"));
    snprintf(w->topic, sizeof(w->topic), "%s", w->table);
    snprintf(w->group, sizeof(w->group), "%s", th_unique("g"));
    snprintf(w->log, sizeof(w->log), "/tmp/%s.log", w->topic);
    TH_ASSERT(th_broker_cmd(b, "create %s 1", w->topic) == 0);
    make_table(pg, w->table);
    produce(rk, w->topic, w->table, 1, n);
    const char *const *args =
        TA_APPLY_ARGS(b->bootstrap, w->group, w->topic, pg->target_conninfo, "--exit-on-idle", idle,
                      "--errors-tolerance", "all", "--metrics-addr", "", TA_FAST_GROUP);
    w->t0 = th_now_ms();
    pid_t pid = ta_apply_spawn(args, w->log);
    TH_ASSERT(pid > 0);
    return pid;
}

static void bounded(th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk)
{
    wcase_t w;
    pid_t pid = start_case(&w, pg, b, rk, 3000, "5");
    int st = 0;
    struct rusage ru;
    TH_ASSERT(wait4(pid, &st, 0, &ru) == pid);
    double secs = (double)(th_now_ms() - w.t0) / 1000.0;
    TH_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* Every record consumed, none applied, and every record still in the
     * log dead-lettered. 3,000 records of 300 columns are more than the
     * mock broker keeps (~5 MB per partition), so the log starts past 0:
     * a new group starts at the log start (the first ~1,800 records are
     * gone from Kafka before cdc-apply starts; nothing it could read). */
    int64_t lo = -1, hi = -1;
    TH_ASSERT(rd_kafka_query_watermark_offsets(rk, w.topic, 0, &lo, &hi, 10000) == 0);
    TH_CHECK_INT(hi, 3000);
    TH_CHECK_INT(ta_stored_offset(pg->target_conninfo, w.group, w.topic, 0), 3000);
    char q[200];
    snprintf(q, sizeof(q), "SELECT count(*) FROM public.%s", w.table);
    TH_CHECK_INT(ta_query_ll(pg->target_conninfo, q), 0);
    TH_CHECK_INT(dead(pg, w.group, w.topic), 3000 - lo);
    fprintf(stderr, "3000 refused (log start %lld): peak RSS %ld kB, %.1f s\n", (long long)lo,
            ru.ru_maxrss, secs);
    TH_CHECK(ru.ru_maxrss < 96 * 1024);
    TH_CHECK(secs < 60);
}

static void added_mid_stream(th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk)
{
    wcase_t w;
    char sql[300];
    pid_t pid = start_case(&w, pg, b, rk, 20, "6");
    int64_t until = th_now_ms() + 30000;
    while (dead(pg, w.group, w.topic) < 20 && th_now_ms() < until)
        usleep(100 * 1000);
    TH_CHECK_INT(dead(pg, w.group, w.topic), 20);
    snprintf(sql, sizeof(sql), "ALTER TABLE public.%s ADD COLUMN zzz text", w.table);
    TH_ASSERT(th_pg_exec(pg->target_conninfo, sql) == 0);
    produce(rk, w.topic, w.table, 21, 30);
    TH_CHECK_INT(ta_wait(pid, 60000), 0);
    TH_CHECK_INT(dead(pg, w.group, w.topic), 20);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM public.%s WHERE zzz = 'unknown' AND c299 = 'v299'", w.table);
    TH_CHECK_INT(ta_query_ll(pg->target_conninfo, sql), 10);
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    rd_kafka_t *rk = th_kafka_producer_new(b.bootstrap, NULL);
    TH_ASSERT(rk != NULL);
    bounded(&pg, &b, rk);
    added_mid_stream(&pg, &b, rk);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
    TH_DONE();
}
