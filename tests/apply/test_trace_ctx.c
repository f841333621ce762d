/* apply-trace-ctx: W3C trace context from Kafka headers (consumer/trace_ctx.c).
 *
 * Table-driven: each traceparent/tracestate pair (as header bytes, names
 * in any case) gives either the context or the reason it is not carried:
 * version ff, a version 00 of the wrong length, uppercase or non-hex
 * digits, all-zero ids, a later version with fields appended (valid), a
 * tracestate over 32 members or with a bad key or value (dropped, the
 * traceparent kept), a tracestate without traceparent; the last header of
 * a name wins; a tracestate over 512 characters is cut as W3C allows. */
#include "th.h"

#include "trace_ctx.h"

#include <stdio.h>
#include <string.h>

static const char TP[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static const struct tcase {
    const char *tp, *ts; /* NULL: no such header */
    bool valid;
    cdc_trace_invalid_t why;
    const char *want_ts; /* the tracestate carried (valid only) */
} cases[] = {
    {TP, NULL, true, CDC_TRACE_OK, ""},
    {TP, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", true, CDC_TRACE_OK,
     "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
    /* OWS around members and empty members are allowed and dropped. */
    {TP, " a=1 ,, b@sys=x y\t", true, CDC_TRACE_OK, "a=1,b@sys=x y"},
    {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", NULL, true, CDC_TRACE_OK, ""},
    /* A later version may append fields after a '-'. */
    {"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future", NULL, true,
     CDC_TRACE_OK, ""},
    {"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.x", NULL, false, CDC_TRACE_MALFORMED,
     NULL},
    {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL, false, CDC_TRACE_BAD_VERSION,
     NULL},
    {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", NULL, false, CDC_TRACE_MALFORMED,
     NULL},
    {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", NULL, false, CDC_TRACE_MALFORMED,
     NULL},
    {"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", NULL, false, CDC_TRACE_MALFORMED,
     NULL},
    {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g", NULL, false, CDC_TRACE_MALFORMED,
     NULL},
    {"00-00000000000000000000000000000000-00f067aa0ba902b7-01", NULL, false, CDC_TRACE_ZERO_TRACE,
     NULL},
    {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", NULL, false, CDC_TRACE_ZERO_SPAN,
     NULL},
    {"", NULL, false, CDC_TRACE_MALFORMED, NULL},
    /* An invalid traceparent: its tracestate is not even read. */
    {"garbage", "a=1", false, CDC_TRACE_MALFORMED, NULL},
    {NULL, "a=1", false, CDC_TRACE_NO_PARENT, NULL},
    {NULL, NULL, false, CDC_TRACE_OK, NULL},
    /* Bad tracestates: dropped, traceparent kept. */
    {TP, "A=1", true, CDC_TRACE_BAD_STATE, ""},
    {TP, "a=1,a=2", true, CDC_TRACE_BAD_STATE, ""},
    {TP, "a=", true, CDC_TRACE_BAD_STATE, ""},
    {TP, "a=x,y", true, CDC_TRACE_BAD_STATE, ""},
    {TP, "a=b=c", true, CDC_TRACE_BAD_STATE, ""},
    {TP, "@sys=1", true, CDC_TRACE_BAD_STATE, ""},
    {TP, "t@=1", true, CDC_TRACE_BAD_STATE, ""},
};

static cdc_record_t record(cdc_header_t *h, size_t n)
{
    cdc_record_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.topic = "t";
    rec.headers = h;
    rec.nheaders = n;
    return rec;
}

static void check_case(const struct tcase *c)
{
    cdc_header_t h[3];
    size_t n = 0;
    h[n++] = (cdc_header_t){"__debezium.context", "x", 1};
    if (c->tp)
        h[n++] = (cdc_header_t){"traceparent", c->tp, strlen(c->tp)};
    if (c->ts)
        h[n++] = (cdc_header_t){"tracestate", c->ts, strlen(c->ts)};
    cdc_record_t rec = record(h, n);
    cdc_trace_ctx_t ctx;
    cdc_trace_invalid_t why = CDC_TRACE_INVALID_COUNT_;
    fprintf(stderr, "--- %s | %s\n", c->tp ? c->tp : "(none)", c->ts ? c->ts : "(none)");
    TH_CHECK_INT(cdc_trace_ctx_parse(&rec, &ctx, &why), c->valid);
    TH_CHECK_STR(cdc_trace_invalid_name(why), cdc_trace_invalid_name(c->why));
    if (c->valid) {
        TH_CHECK_STR(ctx.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        TH_CHECK_STR(ctx.span_id, "00f067aa0ba902b7");
        TH_CHECK_STR(ctx.tracestate, c->want_ts);
    }
}

int main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i]);

    /* Names in any case; the last header of a name wins; flags are read. */
    cdc_header_t h[] = {
        {"traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", 55},
        {"TraceParent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03", 55},
        {"TRACESTATE", "k=v", 3},
        {"other", NULL, 0},
    };
    cdc_record_t rec = record(h, 4);
    cdc_trace_ctx_t ctx;
    cdc_trace_invalid_t why;
    TH_CHECK(cdc_trace_ctx_parse(&rec, &ctx, &why));
    TH_CHECK_INT(why, CDC_TRACE_OK);
    TH_CHECK_STR(ctx.trace_id, "0af7651916cd43dd8448eb211c80319c");
    TH_CHECK_STR(ctx.span_id, "b7ad6b7169203331");
    TH_CHECK_INT(ctx.flags, 3);
    TH_CHECK_STR(ctx.tracestate, "k=v");
    /* A null traceparent value is malformed, not a crash. */
    cdc_header_t hn[] = {{"traceparent", NULL, 0}};
    rec = record(hn, 1);
    TH_CHECK(!cdc_trace_ctx_parse(&rec, &ctx, &why));
    TH_CHECK_INT(why, CDC_TRACE_MALFORMED);

    /* 33 members: too many. */
    char many[1024] = "";
    for (int i = 0; i < 33; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sk%d=v", i ? "," : "", i);
    char out[CDC_TRACESTATE_MAX + 1];
    TH_CHECK(!cdc_trace_parse_tracestate(many, strlen(many), out));
    /* 32 are fine. */
    *strrchr(many, ',') = '\0';
    TH_CHECK(cdc_trace_parse_tracestate(many, strlen(many), out));
    TH_CHECK_STR(out, many);

    /* Over 512 characters: the 200-character member goes first, then
     * members from the end until it fits. */
    char big[2048], val[201];
    memset(val, 'v', 200);
    val[198] = '\0'; /* "z=" + 198 = 200 characters */
    snprintf(big, sizeof(big), "a=%0100d,z=%s", 1, val);
    size_t len = strlen(big);
    for (int i = 0; i < 4; i++)
        len += (size_t)snprintf(big + len, sizeof(big) - len, ",m%d=%0100d", i, i);
    /* a (102) + z (200) + 4 x m (104) = 718 with commas: z goes -> 517;
     * still over: m3 goes -> 412. */
    TH_CHECK(cdc_trace_parse_tracestate(big, strlen(big), out));
    char want[600];
    snprintf(want, sizeof(want), "a=%0100d,m0=%0100d,m1=%0100d,m2=%0100d", 1, 0, 1, 2);
    TH_CHECK_STR(out, want);
    TH_DONE();
}
