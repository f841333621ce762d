/**
 * @file trace_span.h
 * @brief The OTLP span of one applied batch, encoded as OTLP JSON.
 *
 * One span per batch outcome: a new trace (random ids), named
 * "process <topic>" ("process" when the batch spans several topics), kind
 * CONSUMER, linked to the trace context of each record of the batch that
 * carries a valid one (at most CDC_TRACE_MAX_LINKS; the rest are counted in
 * droppedLinksCount and the attribute cdc.links_dropped). Attributes:
 * messaging.system=kafka, messaging.operation.name/type=process,
 * messaging.destination.name (the topic, or the topics joined by ','),
 * messaging.destination.partition.id (one partition only),
 * messaging.consumer.group.name, messaging.batch.message_count,
 * cdc.kafka.offsets ("topic[p]@first-last", ...), db.system and
 * db.system.name = postgresql, db.namespace (the target database),
 * cdc.dead_letters; a failed batch has status ERROR and error.type. Each
 * link has messaging.destination.name, messaging.destination.partition.id
 * and messaging.kafka.offset of its record.
 *
 * Part of cdc-apply.
 */
#ifndef CDC_TRACE_SPAN_H
#define CDC_TRACE_SPAN_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"

/** Links per span at most. */
#define CDC_TRACE_MAX_LINKS 128

/** What the span of one batch says. */
typedef struct cdc_trace_span_in {
    const cdc_batch_t *b;     /**< borrowed */
    size_t upto;              /**< items [0, upto) were processed */
    int64_t start_ns, end_ns; /**< Unix time, nanoseconds */
    const char *group;        /**< consumer group (borrowed) */
    const char *db;           /**< target database, NULL when unknown (borrowed) */
    const char *error_type;   /**< NULL: success; else error.type (poison, retriable, ...) */
    const char *error;        /**< status message when failed (borrowed), may be NULL */
} cdc_trace_span_in_t;

/**
 * @brief Encode the span of @p in.
 * @returns new JSON text (one OTLP span object), or NULL when out of memory.
 */
char *cdc_trace_span_json(const cdc_trace_span_in_t *in);

#endif
