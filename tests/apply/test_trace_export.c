/* apply-trace-export: the span of a batch and the exporter, without
 * cdc-apply around them (consumer/trace_span.c, consumer/trace_export.c).
 *
 *   span     a failed batch of 130 records with valid contexts: 128 links
 *            (the first 128 records, in order), droppedLinksCount and
 *            cdc.links_dropped 2, status ERROR with the message (bytes that
 *            are not UTF-8 as '?'), error.type, the offsets per partition
 *            over two topics ("process" without a topic, both topics named);
 *   export   to a receiver: the endpoint's /v1/traces (appended to a base
 *            URL with a trailing '/', kept when given), exported counted;
 *   full     to a collector that never answers, a queue of 4: the fifth
 *            span is dropped at once (queue_full), destroy returns within
 *            its flush bound and counts what was left (shutdown);
 *   bad URL  refused with a one-line error. */
#include "th.h"

#include "apply_metrics_catalog.h"
#include "batch.h"
#include "ta_otlp.h"
#include "trace_export.h"
#include "trace_span.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void add_record(cdc_batch_t *b, const char *topic, int64_t off, int i)
{
    cdc_header_t *h = malloc(sizeof(*h));
    char *tp = malloc(64);
    TH_ASSERT(h && tp);
    snprintf(tp, 64, "00-%032x-%016x-01", i + 1, i + 1);
    *h = (cdc_header_t){"traceparent", tp, strlen(tp)};
    cdc_record_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.topic = topic;
    rec.offset = off;
    rec.headers = h;
    rec.nheaders = 1;
    cdc_batch_add_item(b, tp, &rec, NULL, -1); /* the "message" is the value */
}

static void case_span(void)
{
    cdc_batch_t b;
    cdc_batch_init(&b, free);
    for (int i = 0; i < 130; i++)
        add_record(&b, i % 2 ? "t.b" : "t.a", 100 + i / 2, i);
    cdc_trace_span_in_t in = {&b, 130, 1000, 2000, "grp", "db", "retriable", "boom \xff!"};
    char *js = cdc_trace_span_json(&in);
    TH_ASSERT(js);
    json_error_t je;
    json_t *s = json_loads(js, 0, &je);
    TH_ASSERT(s);
    TH_CHECK_STR(json_string_value(json_object_get(s, "name")), "process");
    TH_CHECK_STR(json_string_value(json_object_get(s, "startTimeUnixNano")), "1000");
    TH_CHECK_STR(json_string_value(json_object_get(s, "endTimeUnixNano")), "2000");
    json_t *links = json_object_get(s, "links");
    TH_CHECK_INT((int)json_array_size(links), 128);
    char want[33];
    snprintf(want, sizeof(want), "%032x", 128);
    TH_CHECK_STR(json_string_value(json_object_get(json_array_get(links, 127), "traceId")), want);
    TH_CHECK_INT((int)json_integer_value(json_object_get(s, "droppedLinksCount")), 2);
    const json_t *at = json_object_get(s, "attributes");
    TH_CHECK_STR(ta_otlp_attr(at, "cdc.links_dropped"), "2");
    TH_CHECK_STR(ta_otlp_attr(at, "error.type"), "retriable");
    TH_CHECK_STR(ta_otlp_attr(at, "messaging.destination.name"), "t.a,t.b");
    TH_CHECK_STR(ta_otlp_attr(at, "messaging.batch.message_count"), "130");
    TH_CHECK(ta_otlp_attr(at, "messaging.destination.partition.id") == NULL);
    json_t *st = json_object_get(s, "status");
    TH_CHECK_INT((int)json_integer_value(json_object_get(st, "code")), 2);
    TH_CHECK_STR(json_string_value(json_object_get(st, "message")), "boom ?!");
    const json_t *ov = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(at, i, a)
    {
        if (!strcmp(json_string_value(json_object_get(a, "key")), "cdc.kafka.offsets"))
            ov = json_object_get(json_object_get(a, "value"), "arrayValue");
    }
    char *offs = json_dumps(ov, JSON_COMPACT);
    TH_CHECK_STR(offs, "{\"values\":[{\"stringValue\":\"t.a[0]@100-164\"},{\"stringValue\":"
                       "\"t.b[0]@100-164\"}]}");
    free(offs);
    json_decref(s);
    free(js);
    cdc_batch_free(&b);
}

static cdc_metrics_t *registry(void)
{
    cdc_metrics_t *reg = cdc_metrics_new();
    char err[256];
    TH_ASSERT(cdc_apply_catalog_register(reg, err, sizeof(err)) == 0);
    return reg;
}

static double counter(cdc_metrics_t *reg, cdc_apply_counter_id_t id, const char *reason)
{
    return cdc_counter_get(cdc_apply_counter(reg, id, reason ? CDC_LABELS(reason) : NULL));
}

static char *span_text(int i)
{
    char *s = malloc(64);
    TH_ASSERT(s);
    snprintf(s, 64, "{\"name\":\"s%d\"}", i);
    return s;
}

typedef struct got {
    ta_otlp_t *o;
    size_t n;
} got_t;

static bool received(void *arg)
{
    got_t *g = arg;
    json_t *spans = ta_otlp_spans(g->o);
    bool ok = json_array_size(spans) >= g->n;
    json_decref(spans);
    return ok;
}

static void case_export(const char *suffix)
{
    ta_otlp_t *o = ta_otlp_start();
    cdc_metrics_t *reg = registry();
    char ep[96], err[256];
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d%s", ta_otlp_port(o), suffix);
    cdc_otlp_conf_t oc = {ep, 2000, 0, 0, reg};
    cdc_otlp_t *x = cdc_otlp_new(&oc, err, sizeof(err));
    TH_ASSERT(x);
    for (int i = 0; i < 3; i++)
        TH_CHECK(cdc_otlp_enqueue(x, span_text(i)));
    got_t g = {o, 3};
    TH_CHECK(th_wait_for(received, &g, 10000)); /* within the flush second */
    cdc_otlp_destroy(x, 2000);
    TH_CHECK_INT((int)counter(reg, CDC_MC_TRACE_SPANS_EXPORTED, NULL), 3);
    json_t *spans = ta_otlp_spans(o); /* checks the path and content type */
    TH_CHECK_STR(json_string_value(json_object_get(json_array_get(spans, 2), "name")), "s2");
    json_decref(spans);
    cdc_metrics_destroy(reg);
    ta_otlp_stop(o);
}

static void case_full(void)
{
    int port;
    int fd = ta_otlp_hang(&port);
    cdc_metrics_t *reg = registry();
    char ep[64], err[256];
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
    cdc_otlp_conf_t oc = {ep, 1500, 4, 0, reg};
    cdc_otlp_t *x = cdc_otlp_new(&oc, err, sizeof(err));
    TH_ASSERT(x);
    int64_t t0 = th_now_ms();
    for (int i = 0; i < 4; i++)
        TH_CHECK(cdc_otlp_enqueue(x, span_text(i)));
    TH_CHECK(!cdc_otlp_enqueue(x, span_text(4)));
    TH_CHECK(th_now_ms() - t0 < 100); /* never waits */
    TH_CHECK_INT((int)counter(reg, CDC_MC_TRACE_SPANS_DROPPED, "queue_full"), 1);
    /* The first request (after the flush second) hangs until its timeout:
     * it fails, its 4 spans are dropped; 4 more are then queued and the
     * shutdown gives them 300 ms against the hung collector. */
    int64_t until = th_now_ms() + 6000;
    while (counter(reg, CDC_MC_TRACE_EXPORT_FAILURES, "timeout") < 1 && th_now_ms() < until)
        usleep(20000);
    TH_CHECK_INT((int)counter(reg, CDC_MC_TRACE_EXPORT_FAILURES, "timeout"), 1);
    TH_CHECK_INT((int)counter(reg, CDC_MC_TRACE_SPANS_DROPPED, "export_failed"), 4);
    for (int i = 0; i < 4; i++)
        TH_CHECK(cdc_otlp_enqueue(x, span_text(i)));
    int64_t t1 = th_now_ms();
    cdc_otlp_destroy(x, 300);
    int64_t took = th_now_ms() - t1;
    fprintf(stderr, "destroy took %lld ms\n", (long long)took);
    TH_CHECK(took < 1000);
    double left = counter(reg, CDC_MC_TRACE_SPANS_DROPPED, "shutdown") +
                  counter(reg, CDC_MC_TRACE_SPANS_DROPPED, "export_failed");
    TH_CHECK_INT((int)left, 8);
    TH_CHECK_INT((int)counter(reg, CDC_MC_TRACE_SPANS_EXPORTED, NULL), 0);
    cdc_metrics_destroy(reg);
    close(fd);
}

int main(void)
{
    case_span();
    case_export("/");
    case_export("/v1/traces");
    case_full();
    cdc_metrics_t *reg = registry();
    char err[256];
    cdc_otlp_conf_t oc = {"collector:4318", 1000, 0, 0, reg};
    TH_CHECK(cdc_otlp_new(&oc, err, sizeof(err)) == NULL);
    TH_CHECK_STR(err, "--otlp-endpoint 'collector:4318': not an http:// or https:// URL "
                      "(OTLP/HTTP, e.g. http://collector:4318)");
    cdc_metrics_destroy(reg);
    TH_DONE();
}
