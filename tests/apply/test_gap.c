/* apply-gap: invariant 8, no silent gaps.
 *
 * One-partition topic: ids 1..5 (offsets 0..4) are applied, so cdc.offsets
 * holds next_offset 5. Then 6000 records of about 1.3 kB each go in: past
 * the mock broker's ~5 MB per partition, so it drops the oldest segments
 * and the log start moves above 5, as retention does.
 *   fail (default)  exit 1, one ERROR line naming topic[0], the stored
 *                   position 5, the log start and what to do; nothing
 *                   applied, the position stays 5. Before the fix
 *                   (auto.offset.reset=earliest) it jumped to the log start
 *                   and exited 0.
 *   skip            --on-gap skip: a WARN line with the positions, one row
 *                   in cdc.gaps (5 -> log start), cdc_gaps_total 1, every
 *                   record from the log start on applied, position at the
 *                   end; SIGTERM exits 0.
 *   first start     a new group (nothing stored) starts at the earliest
 *                   record still there, exit 0, no gap.
 *   recreated       a stored position above the log end (what a topic
 *                   deleted and recreated leaves; the mock cannot delete
 *                   topics, so it is stored by hand): exit 1 naming the log
 *                   end.
 *   runtime         retention overtakes a running consumer (see
 *                   case_runtime): exit 1 at the position reached; with
 *                   --on-gap skip the gap is recorded and reading goes on
 *                   from the log start. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"
#include "th_registry.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static const ta_field_t fields[] = {{"id", "int64", false}, {"name", "string", true}};

static void produce_range(rd_kafka_t *rk, const char *topic, const char *table, long long from,
                          long long to, size_t pad)
{
    char *name = malloc(pad + 1);
    TH_ASSERT(name);
    memset(name, 'x', pad);
    name[pad] = '\0';
    for (long long id = from; id <= to; id++) {
        char *k = ta_dbz_key("id", id);
        char *v = ta_dbz_value("public", table, 'c', fields, 2, NULL,
                               json_pack("{s:I,s:s}", "id", (json_int_t)id, "name", name));
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                      RD_KAFKA_V_KEY(k, strlen(k)), RD_KAFKA_V_VALUE(v, strlen(v)),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 100);
        TH_ASSERT(e == RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_poll(rk, 0);
        free(k);
        free(v);
    }
    TH_ASSERT(rd_kafka_flush(rk, 60000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    free(name);
}

static void watermarks(rd_kafka_t *rk, const char *topic, int64_t *lo, int64_t *hi)
{
    TH_ASSERT(rd_kafka_query_watermark_offsets(rk, topic, 0, lo, hi, 10000) == 0);
}

/* The first line of @p text holding @p level and every one of @p n needles. */
static bool line_with(const char *text, const char *level, const char *const *needles, size_t n)
{
    for (const char *l = text; l && *l;) {
        const char *eol = strchr(l, '\n');
        char *line = strndup(l, eol ? (size_t)(eol - l) : strlen(l));
        bool all = strstr(line, level) != NULL;
        for (size_t i = 0; all && i < n; i++)
            all = strstr(line, needles[i]) != NULL;
        free(line);
        if (all)
            return true;
        l = eol ? eol + 1 : NULL;
    }
    return false;
}

static long long count_rows(const th_pg_t *pg, const char *table, const char *where)
{
    char sql[300];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM public.%s WHERE %s", table, where);
    return ta_query_ll(pg->target_conninfo, sql);
}

/* Retention overtakes a running consumer: while the target is down the
 * fetcher stops at its bounded queue; then the log start moves past the
 * fetch position. The next fetch is out of range: an error event
 * (auto.offset.reset=error), never a silent jump. Everything fetched before
 * it is committed, then cdc-apply stops (exit 1) at the position it has. */
static void case_runtime(th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk, bool skip)
{
    fprintf(stderr, "--- retention overtakes a running consumer (%s)\n", skip ? "skip" : "fail");
    char topic[64], table[64], group[64], log[128], sql[600];
    snprintf(topic, sizeof(topic), "%s", th_unique("gaprun"));
    snprintf(table, sizeof(table), "%s", th_unique("gr"));
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", topic);
    TH_ASSERT(th_broker_cmd(b, "create %s 1", topic) == 0);
    snprintf(sql, sizeof(sql), "CREATE TABLE public.%s (id bigint PRIMARY KEY, name text)", table);
    TH_ASSERT(th_pg_exec(pg->target_conninfo, sql) == 0);
    /* About 2.8 kB a record with its schema: 1500 stay under the limit. */
    produce_range(rk, topic, table, 1, 1500, 1300);
    int64_t lo = 0, hi = 0;
    watermarks(rk, topic, &lo, &hi);
    TH_ASSERT(lo == 0 && hi == 1500);
    const char *const *args = TA_APPLY_ARGS(
        b->bootstrap, group, topic, pg->target_conninfo, "--batch-rows", "50", "--queue-kbytes",
        "1024", "--retry-backoff-ms", "200", "--exit-on-idle", "5", "--metrics-addr", "", "-X",
        "max.partition.fetch.bytes=262144", TA_FAST_GROUP, skip ? "--on-gap" : NULL, "skip");
    pid_t pid = ta_apply_spawn(args, log);
    int64_t deadline = th_now_ms() + 30000;
    while (th_now_ms() < deadline && ta_stored_offset(pg->target_conninfo, group, topic, 0) <= 0)
        usleep(20 * 1000);
    TH_ASSERT(th_pg_down(pg, false) == 0);
    produce_range(rk, topic, table, 10001, 16000, 1300);
    watermarks(rk, topic, &lo, &hi);
    fprintf(stderr, "log start %lld, log end %lld\n", (long long)lo, (long long)hi);
    TH_ASSERT(lo > 1500);
    TH_ASSERT(th_pg_up(pg) == 0);
    if (skip) {
        /* Skipped while running: recorded from where it stood to the log
         * start, then everything from the log start on applied. */
        TH_CHECK_INT(ta_wait(pid, 90000), 0);
        TH_CHECK_INT(ta_stored_offset(pg->target_conninfo, group, topic, 0), hi);
        snprintf(sql, sizeof(sql),
                 "SELECT from_offset FROM cdc.gaps WHERE topic = '%s' AND to_offset = %lld", topic,
                 (long long)lo);
        long long from = ta_query_ll(pg->target_conninfo, sql);
        fprintf(stderr, "gap recorded from %lld to %lld\n", from, (long long)lo);
        TH_CHECK(from > 0 && from < lo);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM cdc.gaps WHERE topic = '%s'", topic);
        TH_CHECK_INT(ta_query_ll(pg->target_conninfo, sql), 1);
        snprintf(sql, sizeof(sql), "id BETWEEN 1 AND %lld", from);
        TH_CHECK_INT(count_rows(pg, table, sql), from);
        /* Offset o >= 1500 holds id 10001 + o - 1500. */
        snprintf(sql, sizeof(sql), "id >= %lld", (long long)(10001 + lo - 1500));
        TH_CHECK_INT(count_rows(pg, table, sql), hi - lo);
        TH_CHECK_INT(count_rows(pg, table, "true"), from + hi - lo);
        if (!th_failures)
            unlink(log);
        return;
    }
    TH_CHECK_INT(ta_wait(pid, 90000), 1);
    int64_t stored = ta_stored_offset(pg->target_conninfo, group, topic, 0);
    fprintf(stderr, "stopped at stored position %lld\n", (long long)stored);
    TH_CHECK(stored > 0 && stored < lo);
    char *out = ta_slurp(log);
    char tp[100], pos[64], start[64];
    snprintf(tp, sizeof(tp), "%s[0]", topic);
    snprintf(pos, sizeof(pos), "stored position %lld ", (long long)stored);
    snprintf(start, sizeof(start), "log start %lld", (long long)lo);
    const char *want[] = {tp, pos, start, "--on-gap skip"};
    if (!line_with(out, "ERROR", want, 4))
        fprintf(stderr, "no ERROR line naming %s, %s and %s in:\n%s\n", tp, pos, start, out);
    TH_CHECK(line_with(out, "ERROR", want, 4));
    free(out);
    /* Every record below the stored position is in the target (ids 1..),
     * none above. */
    TH_CHECK_INT(count_rows(pg, table, "true"), stored);
    snprintf(sql, sizeof(sql), "id BETWEEN 1 AND %lld", (long long)stored);
    TH_CHECK_INT(count_rows(pg, table, sql), stored);
    ta_log_finish(log, 4000);
}

int main(int argc, char **argv)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    rd_kafka_t *rk = th_kafka_producer_new(b.bootstrap, "linger.ms=20", NULL);
    TH_ASSERT(rk);
    if (argc > 1 && !strcmp(argv[1], "runtime")) { /* one case, for debugging */
        case_runtime(&pg, &b, rk, false);
        case_runtime(&pg, &b, rk, true);
        rd_kafka_destroy(rk);
        ta_stop(&pg, &b);
        TH_DONE();
    }
    char topic[64], table[64], group[64], log[128], sql[600];
    snprintf(topic, sizeof(topic), "%s", th_unique("gap"));
    snprintf(table, sizeof(table), "%s", th_unique("gt"));
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", topic);
    TH_ASSERT(th_broker_cmd(&b, "create %s 1", topic) == 0);
    snprintf(sql, sizeof(sql), "CREATE TABLE public.%s (id bigint PRIMARY KEY, name text)", table);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);

    produce_range(rk, topic, table, 1, 5, 10);
    const char *const *args =
        TA_APPLY_ARGS(b.bootstrap, group, topic, pg.target_conninfo, "--exit-on-idle", "3",
                      "--metrics-addr", "", TA_FAST_GROUP);
    TH_ASSERT(ta_apply_run(args, log, 30000) == 0);
    TH_ASSERT(ta_stored_offset(pg.target_conninfo, group, topic, 0) == 5);

    /* Past the mock's retention: the log start moves above 5. */
    produce_range(rk, topic, table, 1000, 6999, 1300);
    int64_t lo = 0, hi = 0;
    watermarks(rk, topic, &lo, &hi);
    fprintf(stderr, "log start %lld, log end %lld\n", (long long)lo, (long long)hi);
    TH_ASSERT(lo > 5 && hi == 6005);

    fprintf(stderr, "--- fail (default)\n");
    unlink(log);
    TH_CHECK_INT(ta_apply_run(args, log, 60000), 1);
    char *out = ta_slurp(log);
    char tp[100], stored[64], start[64];
    snprintf(tp, sizeof(tp), "%s[0]", topic);
    snprintf(stored, sizeof(stored), "stored position 5 ");
    snprintf(start, sizeof(start), "log start %lld", (long long)lo);
    const char *want_fail[] = {tp, stored, start, "re-snapshot", "--on-gap skip"};
    if (!line_with(out, "ERROR", want_fail, 5))
        fprintf(stderr, "no ERROR line naming %s, the stored position and %s in:\n%s\n", tp, start,
                out);
    TH_CHECK(line_with(out, "ERROR", want_fail, 5));
    free(out);
    TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, group, topic, 0), 5);
    TH_CHECK_INT(count_rows(&pg, table, "true"), 5);

    fprintf(stderr, "--- -X auto.offset.reset is refused\n");
    unlink(log);
    const char *const *reset = TA_APPLY_ARGS(b.bootstrap, group, topic, pg.target_conninfo, "-X",
                                             "auto.offset.reset=earliest", "--metrics-addr", "");
    TH_CHECK_INT(ta_apply_run(reset, log, 30000), 2);
    out = ta_slurp(log);
    const char *want_reset[] = {"-X auto.offset.reset", "--on-gap skip"};
    TH_CHECK(line_with(out, "ERROR", want_reset, 2));
    free(out);
    TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, group, topic, 0), 5);

    fprintf(stderr, "--- skip\n");
    unlink(log);
    char skiplog[140];
    snprintf(skiplog, sizeof(skiplog), "%s.skip", log);
    int port = ta_free_port();
    char addr[64], url[128];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    const char *const *skip =
        TA_APPLY_ARGS(b.bootstrap, group, topic, pg.target_conninfo, "--metrics-addr", addr,
                      "--on-gap", "skip", TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(skip, skiplog);
    int64_t deadline = th_now_ms() + 60000;
    while (th_now_ms() < deadline && ta_stored_offset(pg.target_conninfo, group, topic, 0) != hi &&
           waitpid(pid, NULL, WNOHANG) == 0)
        usleep(200 * 1000);
    TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, group, topic, 0), hi);
    char lbl[200], *body = NULL;
    long code = 0;
    snprintf(lbl, sizeof(lbl), "topic=\"%s\",partition=\"0\"", topic);
    TH_CHECK(th_http_request(url, NULL, &code, &body, NULL) == 0 && code == 200);
    TH_CHECK(body && ta_metric_sum(body, "cdc_gaps_total", lbl) == 1.0);
    free(body);
    kill(pid, SIGTERM);
    TH_CHECK_INT(ta_wait(pid, 30000), 0);
    out = ta_slurp(skiplog);
    const char *want_warn[] = {tp, stored, start, "skipping to offset"};
    TH_CHECK(line_with(out, "WARN", want_warn, 4));
    free(out);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM cdc.gaps WHERE group_id = '%s' AND topic = '%s' AND partition "
             "= 0 AND from_offset = 5 AND to_offset = %lld AND log_start = %lld AND log_end = %lld",
             group, topic, (long long)lo, (long long)lo, (long long)hi);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, sql), 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM cdc.gaps WHERE topic = '%s'", topic);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, sql), 1);
    /* Offsets 5..6004 hold ids 1000..6999: the log start's id and on. */
    char where[100];
    snprintf(where, sizeof(where), "id >= %lld", (long long)(1000 + lo - 5));
    TH_CHECK_INT(count_rows(&pg, table, where), hi - lo);
    TH_CHECK_INT(count_rows(&pg, table, "true"), 5 + hi - lo);

    fprintf(stderr, "--- first start of another group: from the log start, no gap\n");
    char group2[64];
    snprintf(group2, sizeof(group2), "%s", th_unique("g"));
    const char *const *fresh =
        TA_APPLY_ARGS(b.bootstrap, group2, topic, pg.target_conninfo, "--exit-on-idle", "3",
                      "--metrics-addr", "", TA_FAST_GROUP);
    TH_CHECK_INT(ta_apply_run(fresh, log, 60000), 0);
    TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, group2, topic, 0), hi);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, sql), 1);

    fprintf(stderr, "--- recreated topic: stored position above the log end\n");
    unlink(log);
    /* A group of its own: the mock broker sometimes leaves a group's next
     * JoinGroup unanswered after several generations (see
     * test_broker_down.c), which has nothing to do with gaps. */
    char group3[64];
    snprintf(group3, sizeof(group3), "%s", th_unique("g"));
    snprintf(sql, sizeof(sql),
             "INSERT INTO cdc.offsets (group_id, topic, partition, next_offset) VALUES ('%s', "
             "'%s', 0, %lld)",
             group3, topic, (long long)hi + 500);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);
    const char *const *rec =
        TA_APPLY_ARGS(b.bootstrap, group3, topic, pg.target_conninfo, "--exit-on-idle", "3",
                      "--metrics-addr", "", TA_FAST_GROUP);
    TH_CHECK_INT(ta_apply_run(rec, log, 60000), 1);
    out = ta_slurp(log);
    char above[64], end[64];
    snprintf(above, sizeof(above), "stored position %lld ", (long long)hi + 500);
    snprintf(end, sizeof(end), "log end %lld", (long long)hi);
    const char *want_rec[] = {tp, above, end, "recreated", "--on-gap skip"};
    if (!line_with(out, "ERROR", want_rec, 5))
        fprintf(stderr, "no ERROR line naming %s and %s in:\n%s\n", tp, end, out);
    TH_CHECK(line_with(out, "ERROR", want_rec, 5));
    free(out);
    TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, group3, topic, 0), hi + 500);

    if (!th_failures)
        unlink(log);
    case_runtime(&pg, &b, rk, false);
    case_runtime(&pg, &b, rk, true);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
    TH_DONE();
}
