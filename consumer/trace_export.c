/* The OTLP/HTTP JSON span exporter (see trace_export.h): a bounded queue
 * of encoded spans and one thread that POSTs them. The queue's mutex is
 * never held across a request, so a hung collector costs the producer of
 * spans nothing but drops. */
#include "trace_export.h"

#include "apply_metrics_catalog.h"
#include "cdc/buf.h"
#include "cdc/log.h"
#include "cdc/redact.h"
#include "cdc/util.h"
#include "cdc_config.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Spans per request, and how long the first queued span waits for more. */
#define BATCH_SPANS 256
#define FLUSH_MS    1000

struct cdc_otlp_s {
    char *url, *shown;
    int timeout_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **ring; /* queue_spans slots, head..head+count */
    size_t cap, head, count, bytes, max_bytes;
    int64_t oldest_ms; /* when the oldest queued span came */
    bool quit;
    int64_t quit_deadline_ms; /* monotonic; the shutdown flush ends here */
    bool failing;             /* the last request failed (logged once) */
    CURL *curl;
    cdc_counter_t *exported, *drop_full, *drop_failed, *drop_shutdown;
    cdc_counter_t *fail_connect, *fail_timeout, *fail_status, *fail_other;
};

static size_t discard(char *p, size_t size, size_t n, void *opaque)
{
    (void)p;
    (void)opaque;
    return size * n;
}

/* One request with @p n spans; @p max_ms bounds it. true when the
 * collector took it (2xx). */
static bool post(cdc_otlp_t *o, char **spans, size_t n, int max_ms)
{
    cdc_buf_t body = CDC_BUF_INIT;
    cdc_buf_puts(&body, "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
                        "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"cdc-apply\"}},"
                        "{\"key\":\"service.version\",\"value\":{\"stringValue\":\"" CDC_VERSION
                        "\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"cdc-apply\",\"version\":"
                        "\"" CDC_VERSION "\"},\"spans\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            cdc_buf_putc(&body, ',');
        cdc_buf_puts(&body, spans[i]);
    }
    cdc_buf_puts(&body, "]}]}]}");
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(o->curl, CURLOPT_URL, o->url);
    curl_easy_setopt(o->curl, CURLOPT_POST, 1L);
    curl_easy_setopt(o->curl, CURLOPT_POSTFIELDS, body.data);
    curl_easy_setopt(o->curl, CURLOPT_POSTFIELDSIZE, (long)body.len);
    curl_easy_setopt(o->curl, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(o->curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(o->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(o->curl, CURLOPT_TIMEOUT_MS, (long)max_ms);
    curl_easy_setopt(o->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)max_ms);
    CURLcode cc = curl_easy_perform(o->curl);
    long code = 0;
    curl_easy_getinfo(o->curl, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hdr);
    cdc_buf_free(&body);
    bool ok = cc == CURLE_OK && code / 100 == 2;
    if (!ok) {
        cdc_counter_inc(cc == CURLE_OPERATION_TIMEDOUT ? o->fail_timeout
                        : cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST
                            ? o->fail_connect
                        : cc == CURLE_OK ? o->fail_status
                                         : o->fail_other);
        if (!o->failing) {
            if (cc == CURLE_OK)
                cdc_log_warn("OTLP export to %s: HTTP %ld: spans are dropped (counted in "
                             "cdc_trace_spans_dropped_total) until it answers 2xx",
                             o->shown, code);
            else
                cdc_log_warn("OTLP export to %s: %s: spans are dropped (counted in "
                             "cdc_trace_spans_dropped_total) until it answers",
                             o->shown, curl_easy_strerror(cc));
        }
    } else if (o->failing) {
        cdc_log_info("OTLP export to %s works again", o->shown);
    }
    o->failing = !ok;
    return ok;
}

static void deadline_ts(struct timespec *ts, int64_t wait_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += wait_ms / 1000;
    ts->tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *run(void *arg)
{
    cdc_otlp_t *o = arg;
    char *take[BATCH_SPANS];
    int64_t not_before = 0; /* after a failure: the next request's earliest time */
    pthread_mutex_lock(&o->mu);
    for (;;) {
        int64_t now = cdc_now_mono_ms();
        if (o->quit && (!o->count || now >= o->quit_deadline_ms))
            break;
        int64_t due = o->count >= BATCH_SPANS ? now
                      : o->count              ? o->oldest_ms + FLUSH_MS
                                              : INT64_MAX;
        if (not_before > due)
            due = not_before;
        if (o->quit)
            due = now; /* flush what is left, within the deadline */
        if (due > now) {
            struct timespec ts;
            deadline_ts(&ts, due == INT64_MAX ? FLUSH_MS : due - now);
            pthread_cond_timedwait(&o->cv, &o->mu, &ts);
            continue;
        }
        int max_ms = o->timeout_ms;
        if (o->quit && o->quit_deadline_ms - now < max_ms)
            max_ms = (int)(o->quit_deadline_ms - now);
        if (max_ms <= 0)
            break; /* the shutdown flush is over */
        size_t n = 0;
        while (o->count && n < BATCH_SPANS) {
            take[n] = o->ring[o->head];
            o->bytes -= strlen(take[n]);
            o->head = (o->head + 1) % o->cap;
            o->count--;
            n++;
        }
        o->oldest_ms = cdc_now_mono_ms();
        pthread_mutex_unlock(&o->mu);
        bool ok = post(o, take, n, max_ms);
        cdc_counter_add(ok ? o->exported : o->drop_failed, (double)n);
        for (size_t i = 0; i < n; i++)
            free(take[i]);
        not_before = ok ? 0 : cdc_now_mono_ms() + FLUSH_MS;
        pthread_mutex_lock(&o->mu);
    }
    /* The deadline passed with spans queued: they are dropped. */
    cdc_counter_add(o->drop_shutdown, (double)o->count);
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

static bool has_path_suffix(const char *url)
{
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        n--;
    return n >= 10 && !strncmp(url + n - 10, "/v1/traces", 10);
}

cdc_otlp_t *cdc_otlp_new(const cdc_otlp_conf_t *conf, char *errstr, size_t errstr_size)
{
    const char *ep = conf->endpoint;
    if (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)) {
        snprintf(errstr, errstr_size,
                 "--otlp-endpoint '%s': not an http:// or https:// URL (OTLP/HTTP, e.g. "
                 "http://collector:4318)",
                 ep);
        cdc_redact_errstr(errstr, errstr_size);
        return NULL;
    }
    cdc_otlp_t *o = calloc(1, sizeof(*o));
    if (!o)
        abort();
    cdc_buf_t u = CDC_BUF_INIT;
    size_t n = strlen(ep);
    while (n && ep[n - 1] == '/')
        n--;
    cdc_buf_append(&u, ep, n);
    if (!has_path_suffix(ep))
        cdc_buf_puts(&u, "/v1/traces");
    o->url = cdc_buf_steal(&u);
    o->shown = cdc_redact_strdup(o->url);
    o->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 2000;
    o->cap = conf->queue_spans ? conf->queue_spans : 2048;
    o->max_bytes = conf->queue_bytes ? conf->queue_bytes : (size_t)16 << 20;
    o->ring = calloc(o->cap, sizeof(*o->ring));
    if (!o->shown || !o->ring)
        abort();
    cdc_metrics_t *reg = conf->reg;
    o->exported = cdc_apply_counter(reg, CDC_MC_TRACE_SPANS_EXPORTED, NULL);
    o->drop_full = cdc_apply_counter(reg, CDC_MC_TRACE_SPANS_DROPPED, CDC_LABELS("queue_full"));
    o->drop_failed =
        cdc_apply_counter(reg, CDC_MC_TRACE_SPANS_DROPPED, CDC_LABELS("export_failed"));
    o->drop_shutdown = cdc_apply_counter(reg, CDC_MC_TRACE_SPANS_DROPPED, CDC_LABELS("shutdown"));
    o->fail_connect = cdc_apply_counter(reg, CDC_MC_TRACE_EXPORT_FAILURES, CDC_LABELS("connect"));
    o->fail_timeout = cdc_apply_counter(reg, CDC_MC_TRACE_EXPORT_FAILURES, CDC_LABELS("timeout"));
    o->fail_status =
        cdc_apply_counter(reg, CDC_MC_TRACE_EXPORT_FAILURES, CDC_LABELS("http_status"));
    o->fail_other = cdc_apply_counter(reg, CDC_MC_TRACE_EXPORT_FAILURES, CDC_LABELS("other"));
    /* Before the thread exists: curl_global_init is not thread-safe
     * everywhere (the registry client may have called it: it counts). */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    o->curl = curl_easy_init();
    if (!o->curl) {
        snprintf(errstr, errstr_size, "cannot initialise libcurl for --otlp-endpoint");
        goto fail;
    }
    pthread_mutex_init(&o->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&o->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* Signals belong to the loop's thread (see pipeline.c). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&o->thread, NULL, run, o);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        pthread_setname_np(o->thread, "cdc-otlp");
    if (rc != 0) {
        snprintf(errstr, errstr_size, "cannot start the OTLP export thread: %s", strerror(rc));
        pthread_mutex_destroy(&o->mu);
        pthread_cond_destroy(&o->cv);
        goto fail;
    }
    return o;
fail:
    if (o->curl)
        curl_easy_cleanup(o->curl);
    free(o->ring);
    free(o->url);
    free(o->shown);
    free(o);
    return NULL;
}

bool cdc_otlp_enqueue(cdc_otlp_t *o, char *span_json)
{
    size_t len = strlen(span_json);
    pthread_mutex_lock(&o->mu);
    bool fits = !o->quit && o->count < o->cap && o->bytes + len <= o->max_bytes;
    if (fits) {
        if (!o->count)
            o->oldest_ms = cdc_now_mono_ms();
        o->ring[(o->head + o->count) % o->cap] = span_json;
        o->count++;
        o->bytes += len;
        if (o->count == BATCH_SPANS)
            pthread_cond_signal(&o->cv);
    }
    pthread_mutex_unlock(&o->mu);
    if (!fits) {
        free(span_json);
        cdc_counter_inc(o->drop_full);
    }
    return fits;
}

void cdc_otlp_destroy(cdc_otlp_t *o, int flush_ms)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->mu);
    o->quit = true;
    o->quit_deadline_ms = cdc_now_mono_ms() + (flush_ms > 0 ? flush_ms : 0);
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
    pthread_join(o->thread, NULL);
    while (o->count) {
        free(o->ring[o->head]);
        o->head = (o->head + 1) % o->cap;
        o->count--;
    }
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
    curl_easy_cleanup(o->curl);
    free(o->ring);
    free(o->url);
    free(o->shown);
    free(o);
}

const char *cdc_otlp_url_shown(const cdc_otlp_t *o)
{
    return o->shown;
}
