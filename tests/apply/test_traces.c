/* apply-traces: W3C trace context through cdc-apply (issue #10 part 2).
 *
 * "spans": one topic of 20 Debezium records produced with headers the way
 * Debezium's ActivateTracingSpan SMT writes them (traceparent, tracestate),
 * some absent, some invalid (all-zero trace id, version ff, uppercase hex,
 * a bad tracestate, a tracestate alone), one record not JSON at all with a
 * valid context (a dead letter under --errors-tolerance all). cdc-apply
 * runs with --otlp-endpoint pointing at a small OTLP receiver, batches of
 * 4, --log-format json. Checked:
 *   - every request is POST /v1/traces, application/json, service.name
 *     cdc-apply; every span is "process <topic>", kind CONSUMER, its own
 *     trace, with messaging.* and db.* attributes; the batches' message
 *     counts add up to the 20 records;
 *   - the links are exactly the valid contexts of the records (ids, flags,
 *     tracestate; the bad tracestate dropped, its traceparent kept), each
 *     naming its record's offset; the invalid ones are absent and counted
 *     by reason in cdc_trace_context_invalid_total;
 *   - cdc_trace_spans_exported_total equals the spans received, nothing
 *     dropped;
 *   - the dead-letter row carries trace_id, span_id, trace_flags and
 *     tracestate, and its JSON WARN log line trace_id and span_id;
 *   - a bad record that stops cdc-apply (--errors-tolerance none) has
 *     trace_id= and span_id= on its ERROR line (text format).
 * "down": 3,000 inserts applied three times (own group and target table
 * each, batches of 50): without --otlp-endpoint, with a closed port, with a
 * collector that accepts and never answers (--otlp-timeout-ms 1000). Each
 * applies everything (row counts, positions at the end offset); with the
 * endpoint down the run takes no longer than 2x the plain run plus 5 s
 * (an exporter that waited for the collector per batch would take 60 x
 * 1 s more); spans are dropped and counted (export failures by reason,
 * dropped export_failed, none exported); and after SIGTERM the process
 * exits within --otlp-timeout-ms plus the usual shutdown (< 8 s). */
#include "ta.h"
#include "ta_otlp.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static th_pg_t pg;
static th_broker_t broker;

static const ta_field_t fields[] = {
    {"id", "int64", false}, {"qty", "int32", true}, {"name", "string", true}};

/* One record of the "spans" case: what its headers hold. */
typedef enum kind {
    K_VALID,       /* traceparent (+ tracestate when ts is set) */
    K_NONE,        /* no headers */
    K_ZERO,        /* all-zero trace id */
    K_FF,          /* version ff */
    K_UPPER,       /* uppercase hex */
    K_BAD_STATE,   /* valid traceparent, invalid tracestate */
    K_STATE_ONLY,  /* a tracestate without traceparent */
    K_DEAD,        /* valid context, value not JSON: a dead letter */
    K_VALID_UPPER, /* valid, header name TRACEPARENT */
} kind_t;

typedef struct rec {
    kind_t kind;
    const char *ts; /* tracestate header, NULL: none */
    int flags;
    char trace_id[33], span_id[17];
} rec_t;

#define NRECS 20
static rec_t recs[NRECS];

static bool carried(const rec_t *r)
{
    return r->kind == K_VALID || r->kind == K_BAD_STATE || r->kind == K_DEAD ||
           r->kind == K_VALID_UPPER;
}

static void plan(void)
{
    static const kind_t first[] = {K_VALID, K_NONE,      K_VALID, K_ZERO,       K_FF,
                                   K_UPPER, K_BAD_STATE, K_DEAD,  K_STATE_ONLY, K_VALID_UPPER};
    for (int i = 0; i < NRECS; i++) {
        rec_t *r = &recs[i];
        r->kind = i < 10 ? first[i] : K_VALID;
        r->flags = i % 2 ? 0 : 1;
        snprintf(r->trace_id, sizeof(r->trace_id), "4bf92f3577b34da6a3ce929d0e0e%04d", i);
        snprintf(r->span_id, sizeof(r->span_id), "00f067aa0ba9%04d", i);
    }
    recs[0].ts = "congo=t61rcWkgMzE";
    recs[6].ts = "Bad=1";
    recs[7].ts = "x=1,y@vendor=2";
    recs[8].ts = "a=1";
}

static void produce_all(rd_kafka_t *rk, const char *topic, const char *table)
{
    for (int i = 0; i < NRECS; i++) {
        const rec_t *r = &recs[i];
        char *key = ta_dbz_key("id", i + 1);
        char *val = r->kind == K_DEAD
                        ? strdup("{\"schema\": oops, not JSON")
                        : ta_dbz_value("public", table, 'c', fields, 3, NULL,
                                       json_pack("{s:I,s:i,s:s}", "id", (json_int_t)(i + 1), "qty",
                                                 i, "name", "traced"));
        char tp[64];
        snprintf(tp, sizeof(tp), "00-%s-%s-%02x", r->trace_id, r->span_id, r->flags);
        if (r->kind == K_ZERO)
            snprintf(tp, sizeof(tp), "00-%032d-%s-01", 0, r->span_id);
        if (r->kind == K_FF)
            tp[0] = tp[1] = 'f';
        if (r->kind == K_UPPER)
            for (char *p = tp; *p; p++)
                if (*p >= 'a' && *p <= 'f')
                    *p = (char)(*p - 32);
        rd_kafka_headers_t *h = rd_kafka_headers_new(3);
        if (r->kind != K_NONE && r->kind != K_STATE_ONLY)
            rd_kafka_header_add(h, r->kind == K_VALID_UPPER ? "TRACEPARENT" : "traceparent", -1, tp,
                                -1);
        if (r->ts)
            rd_kafka_header_add(h, "tracestate", -1, r->ts, -1);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE(val, strlen(val)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        TH_ASSERT(e == RD_KAFKA_RESP_ERR_NO_ERROR);
        free(key);
        free(val);
    }
    TH_ASSERT(rd_kafka_flush(rk, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
}

typedef struct waitc {
    ta_otlp_t *o;
    long want;
} waitc_t;

/* The sum of messaging.batch.message_count over @p spans. */
static long messages_in(const json_t *spans)
{
    long n = 0;
    size_t i;
    json_t *s;
    json_array_foreach(spans, i, s)
    {
        const char *c =
            ta_otlp_attr(json_object_get(s, "attributes"), "messaging.batch.message_count");
        n += c ? atol(c) : 0;
    }
    return n;
}

static bool all_messages(void *arg)
{
    waitc_t *w = arg;
    json_t *spans = ta_otlp_spans(w->o);
    long n = messages_in(spans);
    json_decref(spans);
    return n >= w->want;
}

static void check_span(const json_t *s, const char *topic, const char *group, const char *db)
{
    char name[300];
    snprintf(name, sizeof(name), "process %s", topic);
    TH_CHECK_STR(json_string_value(json_object_get(s, "name")), name);
    TH_CHECK_INT((int)json_integer_value(json_object_get(s, "kind")), 5);
    const char *tid = json_string_value(json_object_get(s, "traceId"));
    const char *sid = json_string_value(json_object_get(s, "spanId"));
    TH_CHECK_INT(tid ? (int)strlen(tid) : 0, 32);
    TH_CHECK_INT(sid ? (int)strlen(sid) : 0, 16);
    /* Its own trace: not one of the records'. */
    TH_CHECK(tid && strncmp(tid, "4bf92f3577b34da6a3ce929d0e0e", 28));
    const char *t0 = json_string_value(json_object_get(s, "startTimeUnixNano"));
    const char *t1 = json_string_value(json_object_get(s, "endTimeUnixNano"));
    TH_CHECK(t0 && t1 && atoll(t0) > 1700000000LL * 1000000000LL && atoll(t0) <= atoll(t1));
    const json_t *at = json_object_get(s, "attributes");
    static const char *const want[][2] = {
        {"messaging.system", "kafka"},
        {"messaging.operation.name", "process"},
        {"messaging.operation.type", "process"},
        {"messaging.destination.partition.id", "0"},
        {"db.system", "postgresql"},
        {"db.system.name", "postgresql"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *v = ta_otlp_attr(at, want[i][0]);
        TH_CHECK_STR(v ? v : "(none)", want[i][1]);
    }
    const char *v = ta_otlp_attr(at, "messaging.destination.name");
    TH_CHECK_STR(v ? v : "(none)", topic);
    v = ta_otlp_attr(at, "messaging.consumer.group.name");
    TH_CHECK_STR(v ? v : "(none)", group);
    v = ta_otlp_attr(at, "db.namespace");
    TH_CHECK_STR(v ? v : "(none)", db);
    TH_CHECK(json_object_get(s, "status") == NULL); /* every batch committed */
}

/* The links of every span against the records' contexts: exactly the
 * valid ones, once each. */
static void check_links(const json_t *spans)
{
    int seen[NRECS] = {0};
    size_t i, j;
    json_t *s, *l;
    json_array_foreach(spans, i, s)
    {
        TH_CHECK_INT((int)json_integer_value(json_object_get(s, "droppedLinksCount")), 0);
        json_array_foreach(json_object_get(s, "links"), j, l)
        {
            const char *off =
                ta_otlp_attr(json_object_get(l, "attributes"), "messaging.kafka.offset");
            int k = off ? atoi(off) : -1;
            TH_CHECK(k >= 0 && k < NRECS);
            if (k < 0 || k >= NRECS)
                continue;
            const rec_t *r = &recs[k];
            seen[k]++;
            fprintf(stderr, "link to offset %d\n", k);
            TH_CHECK(carried(r));
            TH_CHECK_STR(json_string_value(json_object_get(l, "traceId")), r->trace_id);
            TH_CHECK_STR(json_string_value(json_object_get(l, "spanId")), r->span_id);
            TH_CHECK_INT((int)(json_integer_value(json_object_get(l, "flags")) & 0xff), r->flags);
            const char *ts = json_string_value(json_object_get(l, "traceState"));
            const char *want_ts = r->kind == K_BAD_STATE ? NULL : r->ts;
            TH_CHECK_STR(ts ? ts : "(none)", want_ts ? want_ts : "(none)");
        }
    }
    for (int k = 0; k < NRECS; k++)
        TH_CHECK_INT(seen[k], carried(&recs[k]) ? 1 : 0);
}

static void case_spans(void)
{
    char topic[64], table[64], group[64], log[128], sql[600], metrics[64], url[128];
    snprintf(topic, sizeof(topic), "%s", th_unique("traces"));
    snprintf(table, sizeof(table), "%s", th_unique("tt"));
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", topic);
    TH_ASSERT(th_broker_cmd(&broker, "create %s 1", topic) == 0);
    snprintf(sql, sizeof(sql), "CREATE TABLE public.%s (id bigint PRIMARY KEY, qty int, name text)",
             table);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);
    plan();
    rd_kafka_t *rk = ta_producer_new(&broker);
    produce_all(rk, topic, table);
    rd_kafka_destroy(rk);

    ta_otlp_t *o = ta_otlp_start();
    char ep[64];
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", ta_otlp_port(o));
    int mport = ta_free_port();
    snprintf(metrics, sizeof(metrics), "127.0.0.1:%d", mport);
    snprintf(url, sizeof(url), "http://%s/metrics", metrics);
    pid_t pid = ta_apply_spawn(TA_APPLY_ARGS(broker.bootstrap, group, topic, pg.target_conninfo,
                                             "--errors-tolerance", "all", "--batch-rows", "4",
                                             "--log-format", "json", "--otlp-endpoint", ep,
                                             "--metrics-addr", metrics, TA_FAST_GROUP),
                               log);
    waitc_t w = {o, NRECS};
    TH_CHECK(th_wait_for(all_messages, &w, 60000));
    json_t *spans = ta_otlp_spans(o);
    size_t nspans = json_array_size(spans);
    fprintf(stderr, "%zu spans in %zu requests\n", nspans, ta_otlp_requests(o));
    char *first_span = json_dumps(json_array_get(spans, 0), JSON_COMPACT);
    fprintf(stderr, "first span: %s\n", first_span ? first_span : "(none)");
    free(first_span);
    TH_CHECK(nspans >= NRECS / 4);
    TH_CHECK_INT((int)messages_in(spans), NRECS);
    char *db = th_pg_query_value(pg.target_conninfo, "SELECT current_database()");
    size_t i;
    json_t *s;
    json_array_foreach(spans, i, s) check_span(s, topic, group, db);
    free(db);
    check_links(spans);

    /* The counters: every span exported, none dropped; invalid contexts
     * by reason. */
    const char *labels[] = {NULL};
    const double mins[] = {(double)nspans};
    char *body =
        ta_scrape_until(pid, url, "cdc_trace_spans_exported_total", labels, mins, 1, 10000);
    TH_ASSERT(body);
    TH_CHECK_INT((int)ta_metric_sum(body, "cdc_trace_spans_exported_total", NULL), (int)nspans);
    TH_CHECK_INT((int)ta_metric_sum(body, "cdc_trace_spans_dropped_total", NULL), 0);
    TH_CHECK_INT((int)ta_metric_sum(body, "cdc_trace_export_failures_total", NULL), 0);
    static const char *const reasons[] = {"zero_trace_id", "bad_version", "malformed",
                                          "bad_tracestate", "tracestate_without_traceparent"};
    for (size_t k = 0; k < sizeof(reasons) / sizeof(reasons[0]); k++) {
        char lm[64];
        snprintf(lm, sizeof(lm), "reason=\"%s\"", reasons[k]);
        fprintf(stderr, "invalid %s\n", reasons[k]);
        TH_CHECK_INT((int)ta_metric_sum(body, "cdc_trace_context_invalid_total", lm), 1);
    }
    TH_CHECK_INT((int)ta_metric_sum(body, "cdc_trace_context_invalid_total", NULL), 5);
    free(body);
    kill(pid, SIGTERM);
    TH_CHECK_INT(ta_wait(pid, 30000), 0);
    json_decref(spans);
    ta_otlp_stop(o);

    /* Everything applied; the dead letter carries its context. */
    TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, group, topic, 0), NRECS);
    snprintf(sql, sizeof(sql), "public.%s", table);
    TH_CHECK_INT(ta_count(pg.target_conninfo, sql), NRECS - 1);
    snprintf(sql, sizeof(sql),
             "SELECT concat_ws(' ', kafka_offset, trace_id, span_id, trace_flags, tracestate) "
             "FROM cdc.dead_letter WHERE group_id = '%s'",
             group);
    char *dl = th_pg_query_value(pg.target_conninfo, sql);
    char want[256];
    snprintf(want, sizeof(want), "7 %s %s 0 x=1,y@vendor=2", recs[7].trace_id, recs[7].span_id);
    TH_CHECK_STR(dl, want);
    free(dl);
    /* Its log line: JSON, with the record's trace_id and span_id. */
    char first[160], then[160];
    snprintf(first, sizeof(first), "\"level\":\"warn\"");
    snprintf(then, sizeof(then), "\"trace_id\":\"%s\",\"span_id\":\"%s\"", recs[7].trace_id,
             recs[7].span_id);
    char *text = ta_slurp(log);
    bool found = false;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, first) && strstr(line, "dead_letter") && strstr(line, "[0]@7") &&
            strstr(line, then))
            found = true;
    free(text);
    if (!found)
        fprintf(stderr, "no JSON WARN line of the dead letter with %s\n", then);
    TH_CHECK(found);
    ta_log_finish(log, 6000);
}

/* A bad record that stops cdc-apply (--errors-tolerance none): its ERROR
 * line (text format) names the record's trace context. */
static void case_stop(void)
{
    char topic[64], group[64], log[128];
    snprintf(topic, sizeof(topic), "%s", th_unique("tstop"));
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", topic);
    TH_ASSERT(th_broker_cmd(&broker, "create %s 1", topic) == 0);
    rd_kafka_t *rk = ta_producer_new(&broker);
    static const char bad[] = "{\"schema\": oops, not JSON";
    static const char tp[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    TH_ASSERT(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_VALUE((void *)(uintptr_t)bad, strlen(bad)),
                                RD_KAFKA_V_HEADER("traceparent", tp, (ssize_t)strlen(tp)),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    TH_ASSERT(rd_kafka_flush(rk, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    TH_CHECK_INT(
        ta_apply_run(TA_APPLY_ARGS(broker.bootstrap, group, topic, pg.target_conninfo,
                                   "--exit-on-idle", "3", "--metrics-addr", "", TA_FAST_GROUP),
                     log, 30000),
        1);
    ta_check_log_line(log, "ERROR",
                      "trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331");
    ta_log_finish(log, 4000);
}

/* One run of the "down" case: returns its duration in ms. */
static int64_t run_down(const ta_names_t *n, const char *suffix, const char *endpoint,
                        double *failures, double *dropped, double *exported, int64_t *stop_ms)
{
    char group[96], fmt[128], qname[160], metrics[64], url[128];
    snprintf(group, sizeof(group), "%s_%s", n->group, suffix);
    snprintf(fmt, sizeof(fmt), "${source.table}_%s", suffix);
    snprintf(qname, sizeof(qname), "public.%s_%s", n->table, suffix);
    ta_create_orders(pg.target_conninfo, qname);
    snprintf(metrics, sizeof(metrics), "127.0.0.1:%d", ta_free_port());
    snprintf(url, sizeof(url), "http://%s/metrics", metrics);
    const char *const *args =
        TA_APPLY_ARGS(broker.bootstrap, group, n->topic, pg.target_conninfo, "--table-format", fmt,
                      "--batch-rows", "50", "--metrics-addr", metrics, "--otlp-timeout-ms", "1000",
                      "--otlp-endpoint", endpoint ? endpoint : "", TA_FAST_GROUP);
    fprintf(stderr, "--- %s\n", suffix);
    int64_t t0 = th_now_ms();
    pid_t pid = ta_apply_spawn(args, n->log);
    char sql[300];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", qname);
    TH_CHECK(ta_wait_ll_above(pg.target_conninfo, sql, 2999, 120000));
    int64_t took = th_now_ms() - t0;
    fprintf(stderr, "%s: applied in %lld ms\n", suffix, (long long)took);
    /* Failures are counted once a request ended: wait for one. */
    const char *labels[] = {NULL};
    const double mins[] = {endpoint ? 1 : 0};
    char *body =
        ta_scrape_until(pid, url, "cdc_trace_export_failures_total", labels, mins, 1, 20000);
    TH_ASSERT(body);
    *failures = ta_metric_sum(body, "cdc_trace_export_failures_total", NULL);
    *dropped = ta_metric_sum(body, "cdc_trace_spans_dropped_total", "reason=\"export_failed\"");
    *exported = ta_metric_sum(body, "cdc_trace_spans_exported_total", NULL);
    free(body);
    int64_t t1 = th_now_ms();
    kill(pid, SIGTERM);
    TH_CHECK_INT(ta_wait(pid, 30000), 0);
    *stop_ms = th_now_ms() - t1;
    fprintf(stderr, "%s: stopped in %lld ms\n", suffix, (long long)*stop_ms);
    ta_check_positions(broker.bootstrap, pg.target_conninfo, group, n->topic, 1);
    TH_CHECK_INT(ta_count(pg.target_conninfo, qname), 3000);
    return took;
}

static void case_down(void)
{
    ta_names_t n;
    ta_names_init(&n, "tdown");
    TH_ASSERT(th_broker_cmd(&broker, "create %s 1", n.topic) == 0);
    ta_loadgen_inserts(pg.source_conninfo, broker.bootstrap, n.prefix, n.table, 3000, 1, 5);
    double f, d, e;
    int64_t stop;
    int64_t base = run_down(&n, "base", NULL, &f, &d, &e, &stop);
    TH_CHECK_INT((int)f, 0);

    /* A closed port: refused at once. */
    int closed = ta_free_port();
    char ep[64];
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", closed);
    int64_t t = run_down(&n, "closed", ep, &f, &d, &e, &stop);
    TH_CHECK(f >= 1);
    TH_CHECK(d >= 1);
    TH_CHECK_INT((int)e, 0);
    TH_CHECK(t <= 2 * base + 5000);
    TH_CHECK(stop < 8000);

    /* A collector that accepts and never answers. */
    int port;
    int fd = ta_otlp_hang(&port);
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/v1/traces", port);
    t = run_down(&n, "hang", ep, &f, &d, &e, &stop);
    TH_CHECK(f >= 1);
    TH_CHECK(d >= 1);
    TH_CHECK_INT((int)e, 0);
    TH_CHECK(t <= 2 * base + 5000);
    TH_CHECK(stop < 8000);
    close(fd);
    char *text = ta_slurp(n.log);
    TH_CHECK(strstr(text, "OTLP export to http://127.0.0.1:") != NULL);
    free(text);
    ta_log_finish(n.log, 6000);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "spans";
    ta_start(&pg, &broker, 1);
    if (!strcmp(which, "spans")) {
        case_spans();
        case_stop();
    } else {
        case_down();
    }
    ta_stop(&pg, &broker);
    TH_DONE();
}
