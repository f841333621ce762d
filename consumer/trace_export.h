/**
 * @file trace_export.h
 * @brief An OTLP/HTTP span exporter (JSON encoding, libcurl) that never
 *        makes its caller wait.
 *
 * Spans are queued already encoded (one OTLP JSON span object each) and a
 * thread of the exporter's own sends them, up to 256 per request, as soon
 * as 256 are queued or a second after the first: POST <endpoint>
 * (Content-Type: application/json) with one resourceSpans entry
 * (service.name = cdc-apply). The queue is bounded (spans and bytes): a
 * span that does not fit is dropped and counted, as are the spans of a
 * request that failed (no answer within the timeout, refused, or not 2xx);
 * after a failure the next request waits a second. So with the endpoint
 * down or hanging, the caller's cost is one mutex and a counter.
 *
 * Counted in cdc_trace_spans_exported_total, cdc_trace_spans_dropped_total
 * {reason=queue_full|export_failed|shutdown} and
 * cdc_trace_export_failures_total{reason=connect|timeout|http_status|other}.
 *
 * Part of cdc-apply. cdc_otlp_enqueue() may be called from any thread.
 */
#ifndef CDC_TRACE_EXPORT_H
#define CDC_TRACE_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "cdc/metrics.h"

typedef struct cdc_otlp_s cdc_otlp_t;

/** Exporter settings. */
typedef struct cdc_otlp_conf {
    /** Base URL: /v1/traces is appended unless its path already ends so. */
    const char *endpoint;
    int timeout_ms;     /**< one request, connect included */
    size_t queue_spans; /**< queue bound in spans (0: 2048) */
    size_t queue_bytes; /**< queue bound in encoded bytes (0: 16 MiB) */
    cdc_metrics_t *reg; /**< where the counters are (borrowed; outlives it) */
} cdc_otlp_conf_t;

/**
 * @brief Check the endpoint and start the export thread.
 * @returns new handle, or NULL with errstr (not an http(s) URL, no thread).
 */
cdc_otlp_t *cdc_otlp_new(const cdc_otlp_conf_t *conf, char *errstr, size_t errstr_size);

/**
 * @brief Queue one encoded span (steals @p span_json, a malloc'd OTLP JSON
 *        span object); never waits.
 * @returns true when queued, false when dropped (queue full, counted).
 */
bool cdc_otlp_enqueue(cdc_otlp_t *o, char *span_json);

/**
 * @brief Send what is queued for at most @p flush_ms, then stop the thread
 *        and free (spans still queued are counted as dropped, reason
 *        shutdown). Accepts NULL.
 */
void cdc_otlp_destroy(cdc_otlp_t *o, int flush_ms);

/** @brief The URL requests go to (borrowed; redacted: for messages). */
const char *cdc_otlp_url_shown(const cdc_otlp_t *o);

#endif
