/*
 * cdc-apply's metric families (design.md's metric table), in one table per
 * type, indexed by the ids of apply_metrics_catalog.h.
 *
 * The program declares its families from here and looks series up by id,
 * so help strings, label names and buckets exist exactly once and a
 * misspelt or mistyped family does not compile; the promtool test renders
 * every entry, so a name that breaks the lint rules fails the unit suite
 * rather than a scrape in production. (cdc-verify's families are in
 * verify/verify_metrics_catalog.c; the registry itself is core/metrics.c.)
 */
#include "apply_metrics_catalog.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>

#include "cdc_config.h"

/* Batch commit time: a batch is one target transaction, from a millisecond
 * (a few rows, local PostgreSQL) to tens of seconds (a snapshot chunk on a
 * slow disk). */
static const double batch_duration_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                0.25,  0.5,    1,     2.5,  5,     10,   30};
/* Rows per batch, up to the largest batch.max.rows anyone should set. */
static const double batch_rows_buckets[] = {1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 50000};
/* Source commit -> target commit. Bounds bracket the usual lag SLOs
 * (1 s, 1 min, 5 min) and go up to an hour, past which the lag gauges
 * are the better signal anyway. */
static const double event_lag_buckets[] = {0.05, 0.1, 0.25, 0.5, 1,   2.5,  5,   10,
                                           30,   60,  120,  300, 600, 1800, 3600};

#define NB(a) (sizeof(a) / sizeof((a)[0]))

static const char *const L_NONE[] = {NULL};
static const char *const L_BUILD[] = {"version", "librdkafka_version", NULL};
static const char *const L_COMPONENT[] = {"component", NULL};
static const char *const L_TABLE[] = {"table", NULL};
static const char *const L_TABLE_OP[] = {"table", "op", NULL};
static const char *const L_REASON[] = {"reason", NULL};
static const char *const L_STATUS[] = {"status", NULL};
static const char *const L_STAGE_TYPE[] = {"stage", "error_type", NULL};
static const char *const L_COMPONENT_REASON[] = {"component", "reason", NULL};
static const char *const L_TOPIC_PARTITION[] = {"topic", "partition", NULL};
static const char *const L_QUEUE[] = {"queue", NULL};
static const char *const L_TABLE_RESULT[] = {"table", "result", NULL};
static const char *const L_RESULT[] = {"result", NULL};

#define C CDC_METRIC_COUNTER
#define G CDC_METRIC_GAUGE
#define H CDC_METRIC_HISTOGRAM

static const cdc_metric_desc_t counters[CDC_MC_COUNT_] = {
    [CDC_MC_EVENTS] = {"cdc_events_total",
                       "Change events consumed, by target table and Debezium op (c, u, d, r, t).",
                       C, L_TABLE_OP, NULL, 0},
    [CDC_MC_EVENTS_SKIPPED] =
        {"cdc_events_skipped_total",
         "Messages consumed but not applied, by reason (tombstone, heartbeat, "
         "transaction, schema_change, message, filtered, delete_disabled, "
         "truncate_disabled); their positions advance like any other.",
         C, L_REASON, NULL, 0},
    [CDC_MC_APPLY_ROWS] = {"cdc_apply_rows_total",
                           "Rows written to the target, by table and op (upsert, delete, t), after "
                           "per-key compaction.",
                           C, L_TABLE_OP, NULL, 0},
    [CDC_MC_APPLY_BATCHES] = {"cdc_apply_batches_total",
                              "Target transactions attempted, by status (ok, failed).", C, L_STATUS,
                              NULL, 0},
    [CDC_MC_ERRORS] = {"cdc_errors_total",
                       "Errors, by stage (decode, apply, kafka, registry) and error type (poison, "
                       "retriable, fatal, offset_conflict, placeholder_row_missing, unreachable, "
                       "gap); a dead-lettered record counts as poison.",
                       C, L_STAGE_TYPE, NULL, 0},
    [CDC_MC_RETRIES] =
        {"cdc_retries_total",
         "Retried operations, by component (postgres, registry) and reason (connect, apply, "
         "rewind, catalog, fetch).",
         C, L_COMPONENT_REASON, NULL, 0},
    [CDC_MC_DEAD_LETTER] = {"cdc_dead_letter_total",
                            "Messages written to the dead letter table, by target table.", C,
                            L_TABLE, NULL, 0},
    [CDC_MC_REBALANCES] = {"cdc_rebalances_total",
                           "Consumer group rebalances seen by this consumer.", C, L_NONE, NULL, 0},
    [CDC_MC_GAPS] = {"cdc_gaps_total",
                     "Stored positions Kafka could no longer serve (retention ran, topic "
                     "recreated) that --on-gap skip skipped to the log start; each is a row in "
                     "the state schema's gaps table.",
                     C, L_TOPIC_PARTITION, NULL, 0},
    [CDC_MC_LIVE_CHECK_ROWS] =
        {"cdc_live_check_rows_total",
         "Rows read back after apply and compared with their event, by table and "
         "result (match, mismatch).",
         C, L_TABLE_RESULT, NULL, 0},
    [CDC_MC_SNAPSHOT_ROWS] = {"cdc_snapshot_rows_total", "Snapshot (op r) rows applied, by table.",
                              C, L_TABLE, NULL, 0},
    [CDC_MC_TXN_APPLIED] = {"cdc_transactions_applied_total",
                            "--transactions: source transactions applied whole, each inside one "
                            "target transaction.",
                            C, L_NONE, NULL, 0},
    [CDC_MC_TXN_GIVEN_UP] = {"cdc_transactions_given_up_total",
                             "--transactions: source transactions applied in pieces because the "
                             "held records exceeded --max-transaction-bytes (atomicity given up).",
                             C, L_NONE, NULL, 0},
    [CDC_MC_TXN_PARTIAL] = {"cdc_transactions_partial_total",
                            "--transactions, --errors-tolerance all: source transactions applied "
                            "whole but without events that went to the dead letters (WARN names "
                            "them; the dead letter rows hold them).",
                            C, L_NONE, NULL, 0},
    [CDC_MC_TRACE_INVALID] =
        {"cdc_trace_context_invalid_total",
         "Records read whose traceparent/tracestate headers are not valid W3C trace context, by "
         "reason (malformed, bad_version, zero_trace_id, zero_parent_id, bad_tracestate, "
         "tracestate_without_traceparent); such a context is not carried (a bad tracestate "
         "alone is dropped, its traceparent kept).",
         C, L_REASON, NULL, 0},
    [CDC_MC_TRACE_SPANS_EXPORTED] = {"cdc_trace_spans_exported_total",
                                     "Batch spans the OTLP endpoint (--otlp-endpoint) accepted.", C,
                                     L_NONE, NULL, 0},
    [CDC_MC_TRACE_SPANS_DROPPED] =
        {"cdc_trace_spans_dropped_total",
         "Batch spans not exported, by reason (queue_full: the export queue was full; "
         "export_failed: their request failed; shutdown: still queued when the shutdown flush "
         "ended).",
         C, L_REASON, NULL, 0},
    [CDC_MC_TRACE_EXPORT_FAILURES] =
        {"cdc_trace_export_failures_total",
         "Failed OTLP export requests, by reason (connect, timeout, http_status, other).", C,
         L_REASON, NULL, 0},
    [CDC_MC_DEAD_LETTER_TOPIC] =
        {"cdc_dead_letter_topic_total",
         "Dead letters copied to --dead-letter-topic after their state table row committed, by "
         "result (produced: delivered, failed: not delivered; the table row is the record).",
         C, L_RESULT, NULL, 0},
};

static const cdc_metric_desc_t gauges[CDC_MG_COUNT_] = {
    [CDC_MG_BUILD_INFO] = {"cdc_build_info", "Build information; the value is always 1.", G,
                           L_BUILD, NULL, 0},
    [CDC_MG_CONNECTION_UP] =
        {"cdc_connection_up",
         "Whether the connection to a component (kafka, postgres, registry) is up "
         "(1) or not (0).",
         G, L_COMPONENT, NULL, 0},
    [CDC_MG_LAST_APPLIED_SOURCE_TS] =
        {"cdc_last_applied_source_timestamp_seconds",
         "Source commit time of the last change applied to a table, as a Unix "
         "timestamp.",
         G, L_TABLE, NULL, 0},
    [CDC_MG_LAST_HEARTBEAT_SOURCE_TS] =
        {"cdc_last_heartbeat_source_timestamp_seconds",
         "Source time of the last Debezium heartbeat seen, as a Unix timestamp (0 "
         "before the first).",
         G, L_NONE, NULL, 0},
    [CDC_MG_REPLICATION_LAG] =
        {"cdc_replication_lag_seconds",
         "Seconds between now and the source time of the last change applied to a "
         "table; 0 when caught up.",
         G, L_TABLE, NULL, 0},
    [CDC_MG_CONSUMER_LAG] = {"cdc_consumer_lag_messages",
                             "Messages between the consumed position and the high watermark of a "
                             "partition.",
                             G, L_TOPIC_PARTITION, NULL, 0},
    [CDC_MG_ASSIGNED_PARTITIONS] = {"cdc_assigned_partitions",
                                    "Partitions currently assigned to this consumer.", G, L_NONE,
                                    NULL, 0},
    [CDC_MG_QUEUE_DEPTH] =
        {"cdc_queue_depth",
         "Items waiting in an internal queue, by queue (batch: the records of the batch "
         "being collected).",
         G, L_QUEUE, NULL, 0},
    [CDC_MG_QUEUE_CAPACITY] =
        {"cdc_queue_capacity",
         "Capacity of an internal queue, by queue (batch: the records a batch may hold).", G,
         L_QUEUE, NULL, 0},
    [CDC_MG_TABLE_CONSISTENCY_SCORE] =
        {"cdc_table_consistency_score",
         "Live consistency of a table: share of rows read back after apply whose "
         "written columns equal the event's values (canonical encoding by the "
         "column's type; a row not found is unequal), since start (0 to 1); absent "
         "until a row of the table was checked.",
         G, L_TABLE, NULL, 0},
    [CDC_MG_SNAPSHOT_RUNNING] = {"cdc_snapshot_running",
                                 "Whether a snapshot of a table is in progress (1) or not (0).", G,
                                 L_TABLE, NULL, 0},
    [CDC_MG_TXN_OPEN] = {"cdc_transactions_open",
                         "--transactions: source transactions read in part and not applied yet.", G,
                         L_NONE, NULL, 0},
    [CDC_MG_TXN_OPEN_BYTES] = {"cdc_transactions_open_bytes",
                               "--transactions: bytes of the records held for open transactions "
                               "(bounded by --max-transaction-bytes).",
                               G, L_NONE, NULL, 0},
    [CDC_MG_TXN_OLDEST_AGE] = {"cdc_transactions_oldest_open_seconds",
                               "--transactions: age of the oldest open source transaction, 0 "
                               "when none is open.",
                               G, L_NONE, NULL, 0},
};

static const cdc_metric_desc_t histograms[CDC_MH_COUNT_] = {
    [CDC_MH_BATCH_DURATION] = {"cdc_apply_batch_duration_seconds",
                               "Time to apply and commit one batch in the target, in seconds.", H,
                               L_NONE, batch_duration_buckets, NB(batch_duration_buckets)},
    [CDC_MH_BATCH_ROWS] = {"cdc_apply_batch_rows", "Rows per applied batch.", H, L_NONE,
                           batch_rows_buckets, NB(batch_rows_buckets)},
    [CDC_MH_EVENT_LAG] = {"cdc_event_lag_seconds",
                          "Seconds from the source commit of a change to the target commit that "
                          "applied it.",
                          H, L_NONE, event_lag_buckets, NB(event_lag_buckets)},
};

#undef C
#undef G
#undef H

size_t cdc_apply_catalog_size(void)
{
    return CDC_MC_COUNT_ + CDC_MG_COUNT_ + CDC_MH_COUNT_;
}

const cdc_metric_desc_t *cdc_apply_catalog_get(size_t i)
{
    if (i < CDC_MC_COUNT_)
        return &counters[i];
    i -= CDC_MC_COUNT_;
    if (i < CDC_MG_COUNT_)
        return &gauges[i];
    i -= CDC_MG_COUNT_;
    return i < CDC_MH_COUNT_ ? &histograms[i] : NULL;
}

int cdc_apply_catalog_register(cdc_metrics_t *reg, char *errstr, size_t errstr_size)
{
    if (cdc_metrics_declare_table(reg, cdc_apply_catalog_size(), cdc_apply_catalog_get, errstr,
                                  errstr_size) != 0)
        return -1;
    if (cdc_metrics_register_process(reg, errstr, errstr_size) != 0)
        return -1;
    /* The _info pattern: value 1, facts in labels, joined in PromQL with
     * "* on(instance) group_left(version)". rd_kafka_version_str() is the
     * library actually loaded, not the headers we compiled against. */
    cdc_gauge_t *info =
        cdc_apply_gauge(reg, CDC_MG_BUILD_INFO, CDC_LABELS(CDC_VERSION, rd_kafka_version_str()));
    if (!info) {
        snprintf(errstr, errstr_size, "cannot create cdc_build_info");
        return -1;
    }
    cdc_gauge_set(info, 1);
    return 0;
}

cdc_counter_t *cdc_apply_counter(cdc_metrics_t *reg, cdc_apply_counter_id_t id,
                                 const char *const *labelvalues)
{
    return cdc_metrics_table_series(reg, counters, CDC_MC_COUNT_, (size_t)id, CDC_METRIC_COUNTER,
                                    labelvalues);
}

cdc_gauge_t *cdc_apply_gauge(cdc_metrics_t *reg, cdc_apply_gauge_id_t id,
                             const char *const *labelvalues)
{
    return cdc_metrics_table_series(reg, gauges, CDC_MG_COUNT_, (size_t)id, CDC_METRIC_GAUGE,
                                    labelvalues);
}

cdc_histogram_t *cdc_apply_histogram(cdc_metrics_t *reg, cdc_apply_histogram_id_t id,
                                     const char *const *labelvalues)
{
    return cdc_metrics_table_series(reg, histograms, CDC_MH_COUNT_, (size_t)id,
                                    CDC_METRIC_HISTOGRAM, labelvalues);
}

void cdc_apply_catalog_markdown(FILE *out)
{
    fputs("<!-- metrics -->\n", out);
    cdc_metrics_markdown(out, cdc_apply_catalog_size(), cdc_apply_catalog_get);
    cdc_metrics_markdown_process(out);
}
