/* apply-status: cdc-apply --status reports where a group stands and gates
 * CI on it, without joining the group or changing anything.
 *
 * One topic of 6 partitions, each in its own state for group G1 (stored
 * positions written by hand into cdc.offsets, as cdc-apply writes them):
 *   [0] caught up (5 records, position 5)
 *   [1] behind: 10 records dated an hour ago, 1 s apart; position 4
 *   [2] a retention gap: 80 records of 100 KB, the mock broker keeps ~5 MB
 *       per partition so the log start moves past the position 10
 *   [3] ahead: position 1000 on a log of 3 records (topic recreated)
 *   [4] no stored position: 2 records dated two hours ago
 *   [5] no stored position, no records
 *   [9] a stored position on a partition Kafka does not have
 * and cdc.verify_runs rows (several runs per table, the last finished one
 * counts; a running one does not). Asserted: the text table and the JSON
 * document value by value, exit 1 and one stderr line per GAP/AHEAD/GONE;
 * for group G2 (every partition fine) the exit codes of --max-lag and
 * --min-score on both sides of the threshold, with one line per violation;
 * an error run fails --min-score; no verify run at all fails it too; a
 * lag whose first record cannot be read (a Fetch fault) is "unknown" and
 * fails any --max-lag.
 * Nothing changes: a cdc-apply member of group G3 sees no rebalance while
 * --status reports on G3 (and a real second member does cause one, so the
 * check can see a join), Kafka holds no committed offsets for G1, an
 * unknown topic is not auto-created, a missing state schema is not
 * created. Unreachable brokers or target: exit 2, one line naming them,
 * within a bounded time. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"
#include "th_registry.h"

#include "cdc/buf.h"
#include "cdc/state.h"
#include "cdc/util.h"

#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char out_path[128], err_path[128];
static char *out_text, *err_text;

/* Run cdc-apply with @p args; stdout and stderr kept apart. */
static int run_apply(const char *const *args, int timeout_ms)
{
    char exe[512];
    const char *argv[64];
    size_t n = 0;
    snprintf(exe, sizeof(exe), "%s/cdc-apply", th_build_root());
    argv[n++] = exe;
    for (; *args && n < 63; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    pid_t pid = fork();
    TH_ASSERT(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int nul = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || nul < 0)
            _exit(127);
        dup2(nul, 0);
        dup2(o, 1);
        dup2(e, 2);
        execv(exe, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    int rc = ta_wait(pid, timeout_ms);
    free(out_text);
    free(err_text);
    out_text = ta_slurp(out_path);
    err_text = ta_slurp(err_path);
    return rc;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void produce(rd_kafka_t *p, const char *topic, int32_t part, int n, size_t size, int64_t ts0)
{
    char *v = malloc(size);
    TH_ASSERT(v);
    memset(v, 'x', size);
    for (int i = 0; i < n; i++) {
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                                      RD_KAFKA_V_VALUE(v, size),
                                      RD_KAFKA_V_TIMESTAMP(ts0 > 0 ? ts0 + i * 1000 : 0),
                                      RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(p, 50);
        TH_ASSERT(e == 0);
        rd_kafka_poll(p, 0);
    }
    TH_ASSERT(rd_kafka_flush(p, 60000) == 0);
    free(v);
}

static void watermarks(rd_kafka_t *p, const char *topic, int32_t part, int64_t *lo, int64_t *hi)
{
    TH_ASSERT(rd_kafka_query_watermark_offsets(p, topic, part, lo, hi, 10000) == 0);
}

/* Text row as cdc-apply --status prints it (the layout is the contract). */
static void row(cdc_buf_t *b, int w, const char *name, const char *pos, const char *lo,
                const char *hi, const char *lag, const char *lag_s, const char *state)
{
    cdc_buf_printf(b, "%-*s  %10s  %10s  %10s  %10s  %11s  %s\n", w, name, pos, lo, hi, lag, lag_s,
                   state);
}

/* The LAG-SECONDS cell of the line starting with @p name, as printed. */
static char *lag_cell(const char *text, const char *name)
{
    const char *l = text;
    size_t n = strlen(name);
    while (l && *l) {
        if (!strncmp(l, name, n) && l[n] == ' ') {
            char f[7][64];
            if (sscanf(l, "%63s %63s %63s %63s %63s %63s %63s", f[0], f[1], f[2], f[3], f[4], f[5],
                       f[6]) == 7)
                return strdup(f[5]);
        }
        l = strchr(l, '\n');
        if (l)
            l++;
    }
    return strdup("(no such line)");
}

static json_t *part_json(json_t *doc, int partition)
{
    json_t *a = json_object_get(doc, "partitions"), *o;
    size_t i;
    json_array_foreach(a, i, o) if (json_integer_value(json_object_get(o, "partition")) ==
                                    partition) return o;
    return NULL;
}

/* Integer field (-1 for null, -2 when missing): compact checks. */
static long long jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!v)
        return -2;
    return json_is_null(v) ? -1 : (long long)json_integer_value(v);
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "(not a string)";
}

typedef struct scrape {
    char url[128];
    double assigned, rebalances;
} scrape_t;

static bool scrape(scrape_t *s)
{
    long code = 0;
    char *body = NULL;
    bool ok = th_http_request(s->url, NULL, &code, &body, NULL) == 0 && code == 200;
    if (ok) {
        s->assigned = ta_metric_sum(body, "cdc_assigned_partitions", NULL);
        s->rebalances = ta_metric_sum(body, "cdc_rebalances_total", NULL);
    }
    free(body);
    return ok;
}

static bool assigned_two(void *arg)
{
    scrape_t *s = arg;
    return scrape(s) && s->assigned == 2;
}

static bool rebalanced(void *arg)
{
    scrape_t *s = arg;
    double before = s->rebalances;
    scrape_t now = *s;
    return scrape(&now) && now.rebalances > before;
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    snprintf(out_path, sizeof(out_path), "/tmp/%s.out", th_unique("status"));
    snprintf(err_path, sizeof(err_path), "/tmp/%s.err", th_unique("status"));
    char topic[64], idle[64], g1[64], g2[64], g3[64], sql[4096];
    snprintf(topic, sizeof(topic), "%s", th_unique("st"));
    snprintf(idle, sizeof(idle), "%s", th_unique("idle"));
    snprintf(g1, sizeof(g1), "%s", th_unique("g1"));
    snprintf(g2, sizeof(g2), "%s", th_unique("g2"));
    snprintf(g3, sizeof(g3), "%s", th_unique("g3"));
    TH_ASSERT(th_broker_cmd(&b, "create %s 6", topic) == 0);
    TH_ASSERT(th_broker_cmd(&b, "create %s 2", idle) == 0);

    rd_kafka_t *p = th_kafka_producer_new(b.bootstrap, "message.max.bytes=1000000", NULL);
    TH_ASSERT(p);
    int64_t hour_ago = cdc_now_wall_ms() / 1000 * 1000 - 3600 * 1000;
    int64_t two_hours_ago = hour_ago - 3600 * 1000;
    produce(p, topic, 0, 5, 100, 0);
    produce(p, topic, 1, 10, 100, hour_ago);
    produce(p, topic, 2, 80, 100000, 0);
    produce(p, topic, 3, 3, 100, 0);
    produce(p, topic, 4, 2, 100, two_hours_ago);
    int64_t lo2, hi2, lo, hi;
    watermarks(p, topic, 2, &lo2, &hi2);
    fprintf(stderr, "partition 2 after 8 MB: log start %lld, end %lld\n", (long long)lo2,
            (long long)hi2);
    TH_ASSERT(hi2 == 80 && lo2 > 10); /* the mock dropped the oldest segments */
    for (int i = 0; i < 6; i++) {
        watermarks(p, topic, i, &lo, &hi);
        if (i != 2)
            TH_CHECK_INT(lo, 0);
    }

    /* The state schema as cdc-apply and cdc-verify create it. */
    PGconn *conn = PQconnectdb(pg.target_conninfo);
    TH_ASSERT(PQstatus(conn) == CONNECTION_OK);
    char e[512];
    TH_ASSERT(cdc_state_ensure(conn, "cdc", e, sizeof e) == 0);
    PQfinish(conn);
    snprintf(sql, sizeof(sql),
             "INSERT INTO cdc.offsets (group_id, topic, partition, next_offset) VALUES "
             "('%s', '%s', 0, 5), ('%s', '%s', 1, 4), ('%s', '%s', 2, 10), ('%s', '%s', 3, 1000), "
             "('%s', '%s', 9, 7), ('%s', 'other-topic', 0, 99), "
             "('%s', '%s', 0, 5), ('%s', '%s', 1, 4), ('%s', '%s', 2, 80), ('%s', '%s', 3, 3), "
             "('%s', '%s', 4, 2)",
             g1, topic, g1, topic, g1, topic, g1, topic, g1, topic, g1, g2, topic, g2, topic, g2,
             topic, g2, topic, g2, topic);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);
    TH_ASSERT(th_pg_exec(
                  pg.target_conninfo,
                  "INSERT INTO cdc.verify_runs (table_name, started_at, finished_at, score, "
                  "threshold, status) VALUES "
                  "('public.orders', '2026-11-29 01:59:00+00', '2026-11-29 02:00:00+00', 0.5, 1, "
                  "'mismatch'), "
                  "('public.orders', '2026-11-30 01:59:00+00', '2026-11-30 02:00:00+00', 0.995, 1, "
                  "'mismatch'), "
                  "('public.orders', now(), NULL, NULL, NULL, 'running'), "
                  "('public.items', '2026-11-30 02:04:00+00', '2026-11-30 02:05:07+00', 1, 1, "
                  "'ok')") == 0);

    const char *const *base_g1 = TH_ARGS("--status", "--brokers", b.bootstrap, "--group", g1,
                                         "--topics", topic, "--target", pg.target_conninfo);

    /* ---- G1: every state, text -------------------------------------- */
    int64_t t0 = th_now_ms();
    TH_CHECK_INT(run_apply(base_g1, 60000), 1);
    fprintf(stderr, "--status took %lld ms\n%s%s", (long long)(th_now_ms() - t0), out_text,
            err_text);
    char name[7][80], slo2[32], shi2[32], lag2[32];
    for (int i = 0; i < 6; i++)
        snprintf(name[i], sizeof name[i], "%s[%d]", topic, i);
    snprintf(name[6], sizeof name[6], "%s[9]", topic);
    int w = (int)strlen(name[0]);
    snprintf(slo2, sizeof slo2, "%lld", (long long)lo2);
    snprintf(shi2, sizeof shi2, "%lld", (long long)hi2);
    snprintf(lag2, sizeof lag2, "%lld", (long long)(hi2 - 10));
    /* The two dated lags: an hour (two) since the first unapplied record,
     * plus the time this test has run: checked as numbers, then pasted. */
    char *l1 = lag_cell(out_text, name[1]), *l4 = lag_cell(out_text, name[4]);
    double run_s = (double)(th_now_ms() - t0) / 1000.0 + 120;
    double d1 = atof(l1), d4 = atof(l4);
    fprintf(stderr, "lag seconds: [1] %s, [4] %s\n", l1, l4);
    TH_CHECK(d1 >= 3596 && d1 <= 3596 + run_s); /* record 4: an hour ago + 4 s */
    TH_CHECK(d4 >= 7200 && d4 <= 7200 + run_s);
    cdc_buf_t want = CDC_BUF_INIT;
    cdc_buf_printf(&want, "%-*s  %10s  %10s  %10s  %10s  %11s  %s\n", w, "PARTITION", "POSITION",
                   "LOG-START", "LOG-END", "LAG", "LAG-SECONDS", "STATE");
    row(&want, w, name[0], "5", "0", "5", "0", "0", "caught-up");
    row(&want, w, name[1], "4", "0", "10", "6", l1, "behind");
    row(&want, w, name[2], "10", slo2, shi2, lag2, "unknown", "GAP");
    row(&want, w, name[3], "1000", "0", "3", "-", "unknown", "AHEAD");
    row(&want, w, name[4], "-", "0", "2", "2", l4, "behind");
    row(&want, w, name[5], "-", "0", "0", "0", "0", "caught-up");
    row(&want, w, name[6], "7", "-", "-", "-", "unknown", "GONE");
    cdc_buf_printf(&want, "\n%-13s  %8s  %-8s  %s\n", "TABLE", "SCORE", "STATUS", "FINISHED-AT");
    cdc_buf_puts(&want, ""
                        "public.items   1.000000  ok        2026-11-30T02:05:07Z\n"
                        "public.orders  0.995000  mismatch  2026-11-30T02:00:00Z\n");
    TH_CHECK_STR(out_text, want.data);
    cdc_buf_reset(&want);
    cdc_buf_printf(
        &want,
        "cdc-apply: %s: GAP: the stored position 10 is below the log start %lld: records "
        "10..%lld were deleted from Kafka before cdc-apply applied them (restore them "
        "from a new snapshot)\n"
        "cdc-apply: %s: AHEAD: the stored position 1000 is above the log end 3: was the "
        "topic deleted and recreated? (then delete its rows from cdc.offsets)\n"
        "cdc-apply: %s: GONE: a position is stored (7) but Kafka has no such "
        "partition: was the topic deleted?\n",
        name[2], (long long)lo2, (long long)lo2 - 1, name[3], name[6]);
    TH_CHECK_STR(err_text, want.data);
    free(l1);
    free(l4);

    /* ---- G1: the same as JSON ---------------------------------------- */
    const char *const *g1_json =
        TH_ARGS("--status", "--brokers", b.bootstrap, "--group", g1, "--topics", topic, "--target",
                pg.target_conninfo, "-o", "json");
    TH_CHECK_INT(run_apply(g1_json, 60000), 1);
    fprintf(stderr, "%s", out_text);
    json_error_t je;
    json_t *doc = json_loads(out_text, 0, &je);
    TH_ASSERT(doc);
    TH_CHECK_STR(jstr(doc, "group"), g1);
    TH_CHECK_STR(jstr(doc, "state_schema"), "cdc");
    TH_CHECK(json_is_null(json_object_get(doc, "max_lag_seconds")));
    TH_CHECK_INT(json_array_size(json_object_get(doc, "partitions")), 7);
    static const struct {
        int partition;
        long long pos, lo, hi, lag, first_off;
        const char *state;
    } wantp[] = {
        {0, 5, 0, 5, 0, -1, "caught-up"}, {1, 4, 0, 10, 6, 4, "behind"},
        {2, 10, -3, 80, 70, -1, "GAP"},   {3, 1000, 0, 3, -1, -1, "AHEAD"},
        {4, -1, 0, 2, 2, 0, "behind"},    {5, -1, 0, 0, 0, -1, "caught-up"},
        {9, 7, -1, -1, -1, -1, "GONE"},
    };
    for (size_t i = 0; i < sizeof wantp / sizeof wantp[0]; i++) {
        json_t *o = part_json(doc, wantp[i].partition);
        TH_ASSERT(o);
        TH_CHECK_STR(jstr(o, "topic"), topic);
        TH_CHECK_INT(jint(o, "position"), wantp[i].pos);
        TH_CHECK_INT(jint(o, "log_start"), wantp[i].lo == -3 ? lo2 : wantp[i].lo);
        TH_CHECK_INT(jint(o, "log_end"), wantp[i].hi);
        TH_CHECK_INT(jint(o, "lag_records"), wantp[i].lag);
        TH_CHECK_INT(jint(o, "first_unapplied_offset"), wantp[i].first_off);
        TH_CHECK_STR(jstr(o, "state"), wantp[i].state);
    }
    json_t *o1 = part_json(doc, 1), *o4 = part_json(doc, 4);
    TH_CHECK_INT(jint(o1, "first_unapplied_timestamp_ms"), hour_ago + 4000);
    TH_CHECK_INT(jint(o4, "first_unapplied_timestamp_ms"), two_hours_ago);
    double j1 = json_real_value(json_object_get(o1, "lag_seconds"));
    TH_CHECK(j1 >= 3596 && j1 <= 3596 + run_s);
    TH_CHECK(json_real_value(json_object_get(part_json(doc, 0), "lag_seconds")) == 0);
    TH_CHECK(json_is_null(json_object_get(part_json(doc, 2), "lag_seconds")));
    TH_CHECK(json_is_null(json_object_get(part_json(doc, 3), "lag_seconds")));
    json_t *tabs = json_object_get(doc, "tables");
    TH_CHECK_INT(json_array_size(tabs), 2);
    json_t *ti = json_array_get(tabs, 0), *to = json_array_get(tabs, 1);
    TH_CHECK_STR(jstr(ti, "table"), "public.items");
    TH_CHECK(json_real_value(json_object_get(ti, "score")) == 1.0);
    TH_CHECK_STR(jstr(ti, "finished_at"), "2026-11-30T02:05:07Z");
    TH_CHECK_STR(jstr(to, "table"), "public.orders");
    TH_CHECK(json_real_value(json_object_get(to, "score")) == 0.995);
    TH_CHECK_STR(jstr(to, "status"), "mismatch");
    TH_CHECK_STR(jstr(to, "finished_at"), "2026-11-30T02:00:00Z");
    json_t *viol = json_object_get(doc, "violations");
    TH_CHECK_INT(json_array_size(viol), 3);
    TH_CHECK_STR(jstr(json_array_get(viol, 0), "kind"), "gap");
    TH_CHECK_INT(jint(json_array_get(viol, 0), "partition"), 2);
    TH_CHECK_STR(jstr(json_array_get(viol, 1), "kind"), "ahead");
    TH_CHECK_STR(jstr(json_array_get(viol, 2), "kind"), "gone");
    TH_CHECK_INT(count_lines(err_text), 3);
    json_decref(doc);

    /* ---- G2: thresholds on both sides -------------------------------- */
    struct {
        const char *max_lag, *min_score;
        int rc, nlines;
        const char *needles[3];
    } gates[] = {
        {NULL, NULL, 0, 0, {NULL}},
        {"7200", NULL, 0, 0, {NULL}},
        {"3000",
         NULL,
         1,
         1,
         {"[1]: lag ", " s is over --max-lag 3000 (6 records behind, the first at offset 4)\n"}},
        {NULL, "0.99", 0, 0, {NULL}},
        {NULL,
         "0.999",
         1,
         1,
         {"cdc-apply: table public.orders: the last cdc-verify score 0.995000 "
          "(2026-11-30T02:00:00Z, run 2) is below --min-score 0.999\n"}},
        {"3000", "0.999", 1, 2, {"--max-lag 3000", "--min-score 0.999"}},
    };
    for (size_t i = 0; i < sizeof gates / sizeof gates[0]; i++) {
        const char *a[20] = {"--status", "--brokers", b.bootstrap, "--group",         g2,
                             "--topics", topic,       "--target",  pg.target_conninfo};
        size_t n = 9;
        if (gates[i].max_lag) {
            a[n++] = "--max-lag";
            a[n++] = gates[i].max_lag;
        }
        if (gates[i].min_score) {
            a[n++] = "--min-score";
            a[n++] = gates[i].min_score;
        }
        a[n] = NULL;
        int rc = run_apply(a, 60000);
        int want_lines = gates[i].nlines;
        if (rc != gates[i].rc || count_lines(err_text) != want_lines)
            fprintf(stderr, "gate --max-lag %s --min-score %s: exit %d, want %d; stderr:\n%s",
                    gates[i].max_lag ? gates[i].max_lag : "-",
                    gates[i].min_score ? gates[i].min_score : "-", rc, gates[i].rc, err_text);
        TH_CHECK_INT(rc, gates[i].rc);
        TH_CHECK_INT(count_lines(err_text), want_lines);
        for (int j = 0; j < 3 && gates[i].needles[j]; j++)
            TH_CHECK(strstr(err_text, gates[i].needles[j]) != NULL);
        TH_CHECK(strstr(out_text, "caught-up") != NULL); /* the report is printed too */
    }
    /* A failed verify run has no score: it fails any --min-score. */
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "INSERT INTO cdc.verify_runs (table_name, started_at, finished_at, "
                         "status, error) VALUES ('public.broken', '2026-11-30 03:00:00+00', "
                         "'2026-11-30 03:00:01+00', 'error', 'connection lost')") == 0);
    const char *const *g2_min =
        TH_ARGS("--status", "--brokers", b.bootstrap, "--group", g2, "--topics", topic, "--target",
                pg.target_conninfo, "--min-score", "0.5");
    TH_CHECK_INT(run_apply(g2_min, 60000), 1);
    TH_CHECK_STR(err_text, "cdc-apply: table public.broken: the last cdc-verify run "
                           "(2026-11-30T03:00:01Z, run 5) has no score (status error: "
                           "connection lost)\n");
    TH_CHECK(strstr(out_text, "public.broken         -  error     2026-11-30T03:00:01Z\n") != NULL);

    /* No verify run and no state schema at all: reported, nothing created. */
    const char *const *empty =
        TH_ARGS("--status", "--brokers", b.bootstrap, "--group", g2, "--topics", topic, "--target",
                pg.target_conninfo, "--state-schema", "nothing_here", "--min-score", "0.5");
    TH_CHECK_INT(run_apply(empty, 60000), 1);
    TH_CHECK(strstr(err_text, "state schema \"nothing_here\" has no offsets table") != NULL);
    TH_CHECK(strstr(err_text, "no cdc-verify run is stored in nothing_here.verify_runs") != NULL);
    TH_CHECK_INT(count_lines(err_text), 2);
    TH_CHECK(strstr(out_text, "(no cdc-verify run stored)") != NULL);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo,
                             "SELECT count(*) FROM pg_namespace WHERE nspname = 'nothing_here'"),
                 0);

    /* An unknown topic is a violation, and --status does not create it. */
    const char *const *unknown =
        TH_ARGS("--status", "--brokers", b.bootstrap, "--group", g2, "--topics", "no_such_topic_st",
                "--target", pg.target_conninfo);
    TH_CHECK_INT(run_apply(unknown, 60000), 1);
    TH_CHECK_STR(err_text,
                 "cdc-apply: topic no_such_topic_st does not exist in Kafka (--topics names it)\n");
    const struct rd_kafka_metadata *md = NULL;
    TH_ASSERT(rd_kafka_metadata(p, 1, NULL, &md, 10000) == 0);
    for (int i = 0; i < md->topic_cnt; i++)
        TH_CHECK(strcmp(md->topics[i].topic, "no_such_topic_st") != 0);
    rd_kafka_metadata_destroy(md);

    /* ---- nothing joined, nothing committed --------------------------- */
    {
        /* Kafka holds no committed offset of G1 (asked with OffsetFetch,
         * which does not join either). */
        char err[CDC_ERRSTR_SIZE];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        TH_ASSERT(rd_kafka_conf_set(c, "bootstrap.servers", b.bootstrap, err, sizeof err) == 0);
        TH_ASSERT(rd_kafka_conf_set(c, "group.id", g1, err, sizeof err) == 0);
        rd_kafka_t *k = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
        TH_ASSERT(k);
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(6);
        for (int i = 0; i < 6; i++)
            rd_kafka_topic_partition_list_add(l, topic, i);
        TH_CHECK_INT(rd_kafka_committed(k, l, 10000), 0);
        for (int i = 0; i < l->cnt; i++)
            TH_CHECK_INT(l->elems[i].offset, RD_KAFKA_OFFSET_INVALID);
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_destroy(k);
    }
    /* A running member of G3 sees no rebalance while --status reports on
     * G3; a second real member does make one (the check can see a join). */
    int port = ta_free_port();
    char addr[64], log[128];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    snprintf(log, sizeof log, "/tmp/%s.log", th_unique("member"));
    const char *const *member = TA_APPLY_ARGS(b.bootstrap, g3, idle, pg.target_conninfo,
                                              "--metrics-addr", addr, TA_FAST_GROUP);
    pid_t m1 = ta_apply_spawn(member, log);
    scrape_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.url, sizeof s.url, "http://%s/metrics", addr);
    TH_ASSERT(th_wait_for(assigned_two, &s, 30000));
    double reb0 = s.rebalances;
    const char *const *g3_json =
        TH_ARGS("--status", "--brokers", b.bootstrap, "--group", g3, "--topics", idle, "--target",
                pg.target_conninfo, "-o", "json");
    for (int i = 0; i < 3; i++) {
        TH_CHECK_INT(run_apply(g3_json, 60000), 0);
        doc = json_loads(out_text, 0, &je);
        TH_ASSERT(doc);
        TH_CHECK_INT(json_array_size(json_object_get(doc, "partitions")), 2);
        TH_CHECK_STR(jstr(part_json(doc, 0), "state"), "caught-up");
        TH_CHECK_INT(json_array_size(json_object_get(doc, "violations")), 0);
        json_decref(doc);
    }
    /* A join would have rebalanced at once; give it the session time too. */
    TH_CHECK(!th_wait_for(rebalanced, &s, 4000));
    TH_CHECK(scrape(&s));
    TH_CHECK(s.assigned == 2 && s.rebalances == reb0);
    const char *const *member2 =
        TA_APPLY_ARGS(b.bootstrap, g3, idle, pg.target_conninfo, "--metrics-addr", "",
                      "--exit-on-idle", "3", TA_FAST_GROUP);
    TH_CHECK_INT(ta_apply_run(member2, log, 60000), 0);
    TH_CHECK(th_wait_for(rebalanced, &s, 20000)); /* the check does see a join */
    TH_CHECK_INT(th_proc_stop(m1, 20000), 0);

    /* A lag whose first record cannot be read is of unknown age: it fails
     * --max-lag however large (the next Fetch answers out of range). */
    TH_ASSERT(th_broker_cmd(&b, "error 1 1 1") == 0);
    const char *const *g2_blind =
        TH_ARGS("--status", "--brokers", b.bootstrap, "--group", g2, "--topics", topic, "--target",
                pg.target_conninfo, "--max-lag", "100000");
    TH_CHECK_INT(run_apply(g2_blind, 60000), 1);
    char *l1u = lag_cell(out_text, name[1]);
    TH_CHECK_STR(l1u, "unknown");
    free(l1u);
    cdc_buf_reset(&want);
    cdc_buf_printf(&want,
                   "cdc-apply: %s: 6 records behind and the age of the first one is unknown (it "
                   "could not be read): cannot check --max-lag 100000\n",
                   name[1]);
    TH_CHECK_STR(err_text, want.data);
    TH_CHECK_INT(run_apply(g2_blind, 60000), 0); /* the fault is over */

    /* ---- unreachable: exit 2, one line naming them, bounded ---------- */
    char dead[64], dead_pg[200];
    int dport = ta_free_port();
    snprintf(dead, sizeof dead, "127.0.0.1:%d", dport);
    snprintf(dead_pg, sizeof dead_pg, "host=127.0.0.1 port=%d dbname=target password=St4tusPw",
             dport);
    const char *const *nobroker = TH_ARGS("--status", "--brokers", dead, "--group", g1, "--topics",
                                          topic, "--target", pg.target_conninfo);
    t0 = th_now_ms();
    TH_CHECK_INT(run_apply(nobroker, 60000), 2);
    int64_t took = th_now_ms() - t0;
    fprintf(stderr, "unreachable brokers: %lld ms: %s", (long long)took, err_text);
    TH_CHECK(took < 20000);
    TH_CHECK_INT(count_lines(err_text), 1);
    TH_CHECK(strstr(err_text, "cannot reach the Kafka brokers") != NULL);
    TH_CHECK(strstr(err_text, dead) != NULL);
    TH_CHECK_STR(out_text, "");
    const char *const *nopg = TH_ARGS("--status", "--brokers", b.bootstrap, "--group", g1,
                                      "--topics", topic, "--target", dead_pg);
    t0 = th_now_ms();
    TH_CHECK_INT(run_apply(nopg, 60000), 2);
    took = th_now_ms() - t0;
    fprintf(stderr, "unreachable target: %lld ms: %s", (long long)took, err_text);
    TH_CHECK(took < 20000);
    TH_CHECK_INT(count_lines(err_text), 1);
    char port_s[32];
    snprintf(port_s, sizeof port_s, "port=%d", dport);
    TH_CHECK(strstr(err_text, "cannot connect to PostgreSQL") != NULL);
    TH_CHECK(strstr(err_text, port_s) != NULL);
    TH_CHECK(strstr(err_text, "St4tusPw") == NULL);

    /* The gate's options are only for the report. */
    const char *const *nostatus = TH_ARGS("--brokers", b.bootstrap, "--topics", topic, "--target",
                                          pg.target_conninfo, "--max-lag", "5");
    TH_CHECK_INT(run_apply(nostatus, 20000), 2);
    TH_CHECK_STR(err_text,
                 "cdc-apply: --max-lag only applies to the report: add --status (cdc-apply "
                 "--status --max-lag ...)\n");

    cdc_buf_free(&want);
    rd_kafka_destroy(p);
    unlink(out_path);
    unlink(err_path);
    free(out_text);
    free(err_text);
    ta_stop(&pg, &b);
    TH_DONE();
}
