/**
 * @file trace_ctx.h
 * @brief The W3C trace context a record carries in its Kafka headers
 *        (`traceparent`, `tracestate`), as Debezium's ActivateTracingSpan
 *        SMT and OpenTelemetry's producer interceptor write them (UTF-8
 *        strings, SimpleHeaderConverter).
 *
 * Validation follows W3C Trace Context: version two lowercase hex digits,
 * never ff; version 00 is exactly 55 characters, a later version at least
 * 55 with '-' after them; trace id 32 and parent id 16 lowercase hex
 * digits, neither all zero; flags two hex digits. Header names match in
 * any case; the last header of a name wins (Connect replaces the key). An
 * invalid traceparent carries nothing and its tracestate is not read; an
 * invalid tracestate (over 32 members, a bad key or value) is dropped and
 * the traceparent kept. A tracestate over 512 characters is cut as W3C
 * allows: members over 128 characters first, then from the end.
 *
 * Part of cdc-apply. Pure functions; thread-safe.
 */
#ifndef CDC_TRACE_CTX_H
#define CDC_TRACE_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/decode.h"

/** Longest tracestate kept (W3C: propagate at least 512 characters). */
#define CDC_TRACESTATE_MAX 512

/** One record's trace context. */
typedef struct cdc_trace_ctx {
    char trace_id[33]; /**< 32 lowercase hex digits */
    char span_id[17];  /**< the parent id: 16 lowercase hex digits */
    uint8_t flags;     /**< trace-flags; bit 0: sampled */
    /** Validated (and possibly cut) tracestate, "" when none. */
    char tracestate[CDC_TRACESTATE_MAX + 1];
} cdc_trace_ctx_t;

/** What was wrong with a record's trace headers (the metric's reason). */
typedef enum cdc_trace_invalid {
    CDC_TRACE_OK = 0,
    CDC_TRACE_MALFORMED,   /**< not version-format-hex, wrong length, not UTF-8 */
    CDC_TRACE_BAD_VERSION, /**< version ff */
    CDC_TRACE_ZERO_TRACE,  /**< trace id all zero */
    CDC_TRACE_ZERO_SPAN,   /**< parent id all zero */
    CDC_TRACE_BAD_STATE,   /**< tracestate invalid (dropped; traceparent kept) */
    CDC_TRACE_NO_PARENT,   /**< a tracestate without any traceparent */
    CDC_TRACE_INVALID_COUNT_
} cdc_trace_invalid_t;

/** @brief The label of @p why (static): "malformed", "bad_version", ... */
const char *cdc_trace_invalid_name(cdc_trace_invalid_t why);

/**
 * @brief Parse the trace headers of @p rec (borrowed) into @p out.
 * @param why  set to what was wrong (CDC_TRACE_OK when nothing was, or
 *             when the record has no trace headers at all); may be NULL.
 * @returns true when @p rec carries a valid traceparent (@p out is set;
 *          with CDC_TRACE_BAD_STATE its tracestate is "").
 */
bool cdc_trace_ctx_parse(const cdc_record_t *rec, cdc_trace_ctx_t *out, cdc_trace_invalid_t *why);

/**
 * @brief Parse one traceparent value (@p len bytes, not NUL-terminated)
 *        into @p out's ids and flags (its tracestate is left as is).
 * @returns CDC_TRACE_OK or why it is invalid.
 */
cdc_trace_invalid_t cdc_trace_parse_traceparent(const char *v, size_t len, cdc_trace_ctx_t *out);

/**
 * @brief Validate one tracestate value (@p len bytes) into @p out
 *        (CDC_TRACESTATE_MAX + 1 bytes; cut as described above).
 * @returns true when valid (an empty list is valid and gives "").
 */
bool cdc_trace_parse_tracestate(const char *v, size_t len, char *out);

#endif
