/* cdc-apply: the records' trace context on its way through the loop. A
 * record's W3C context (trace_ctx.h) is validated when it is read (bad
 * headers counted, never failing the record), named in the log lines about
 * the record (trace_id, span_id), stored with its dead letter
 * (dead_letter.c), and linked from the span of the batch that processed it
 * (trace_span.h), which goes to --otlp-endpoint through the exporter's own
 * thread (trace_export.h): the loop never waits for the collector. */
#include "app_int.h"

#include "trace_span.h"

#include "cdc/log.h"
#include "cdc/util.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cdc_app_trace_setup(app_t *a)
{
    if (cdc_writer_connected(a->w))
        a->trace_db = cdc_xstrdup(PQdb(cdc_writer_conn(a->w)));
    /* Every reason's series exists from the start, at 0. */
    for (int r = CDC_TRACE_MALFORMED; r < CDC_TRACE_INVALID_COUNT_; r++)
        cdc_apply_counter(a->reg, CDC_MC_TRACE_INVALID,
                          CDC_LABELS(cdc_trace_invalid_name((cdc_trace_invalid_t)r)));
    const char *ep = cdc_config_get(a->cfg, "otlp-endpoint");
    if (!ep || !*ep)
        return 0;
    char err[CDC_ERRSTR_SIZE];
    cdc_otlp_conf_t oc = {ep, (int)cdc_config_get_int(a->cfg, "otlp-timeout-ms"), 0, 0, a->reg};
    a->otlp = cdc_otlp_new(&oc, err, sizeof(err));
    if (!a->otlp) {
        cdc_app_fail(a, 2, err);
        return -1;
    }
    cdc_log_info("exporting a span per batch to %s (OTLP/HTTP JSON)", cdc_otlp_url_shown(a->otlp));
    return 0;
}

void cdc_app_trace_teardown(app_t *a)
{
    /* The last batches' spans get one request's time, no more. */
    if (a->otlp)
        cdc_otlp_destroy(a->otlp, (int)cdc_config_get_int(a->cfg, "otlp-timeout-ms"));
    a->otlp = NULL;
    free(a->trace_db);
    a->trace_db = NULL;
}

bool cdc_app_trace_record(app_t *a, const cdc_record_t *rec, cdc_trace_ctx_t *c)
{
    if (!rec->nheaders) /* the common case: nothing to look at */
        return false;
    cdc_trace_invalid_t why;
    bool ok = cdc_trace_ctx_parse(rec, c, &why);
    if (why != CDC_TRACE_OK) {
        cdc_counter_inc(cdc_apply_counter(a->reg, CDC_MC_TRACE_INVALID,
                                          CDC_LABELS(cdc_trace_invalid_name(why))));
        cdc_log_debug("%s[%d]@%lld: trace context not carried (%s)", rec->topic, rec->partition,
                      (long long)rec->offset, cdc_trace_invalid_name(why));
    }
    return ok;
}

const char *const *cdc_app_trace_kv(const cdc_trace_ctx_t *c, bool valid, const char *kv[5])
{
    if (!valid)
        return NULL;
    kv[0] = "trace_id";
    kv[1] = c->trace_id;
    kv[2] = "span_id";
    kv[3] = c->span_id;
    kv[4] = NULL;
    return kv;
}

/* One WARN line per dead letter, once it is committed. */
static void log_dead_letters(app_t *a, const cdc_batch_t *b, size_t upto)
{
    const char *schema = cdc_config_get(a->cfg, "state-schema");
    for (size_t i = 0; i < upto && i < b->nitems; i++) {
        const cdc_item_t *it = &b->items[i];
        if (!it->error)
            continue;
        cdc_trace_ctx_t c;
        const char *kv[5];
        bool valid = it->rec.nheaders && cdc_trace_ctx_parse(&it->rec, &c, NULL);
        char pos[300];
        snprintf(pos, sizeof(pos), "%s[%d]@%lld: ", it->rec.topic, it->rec.partition,
                 (long long)it->rec.offset);
        /* Most errors name the record already. */
        cdc_log_kv(CDC_LOG_WARN, cdc_app_trace_kv(&c, valid, kv),
                   "%s%s (written to %s.dead_letter)",
                   strncmp(it->error, pos, strlen(pos)) ? pos : "", it->error, schema);
    }
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void cdc_app_trace_batch(app_t *a, const cdc_batch_t *b, size_t upto, int64_t started_ms,
                         const char *error_type, const char *error)
{
    char stop[400];
    if (!error_type) {
        log_dead_letters(a, b, upto);
        if (upto < b->nitems) {
            const cdc_record_t *r = &b->items[upto].rec;
            snprintf(stop, sizeof(stop), "stopped at %s[%d]@%lld (--errors-tolerance none)",
                     r->topic, r->partition, (long long)r->offset);
            error_type = "poison";
            error = stop;
        }
    }
    if (!a->otlp)
        return;
    int64_t end = wall_ns(), took_ms = cdc_now_mono_ms() - started_ms;
    cdc_trace_span_in_t in = {b,
                              upto,
                              end - (took_ms > 0 ? took_ms : 0) * 1000000,
                              end,
                              cdc_config_get(a->cfg, "group"),
                              a->trace_db,
                              error_type,
                              error};
    char *span = cdc_trace_span_json(&in);
    if (span)
        cdc_otlp_enqueue(a->otlp, span);
}
