/*
 * The metric families of design.md, in one table.
 *
 * Programs declare their families from here and only look series up by
 * name, so help strings, label names and buckets exist exactly once; the
 * promtool test renders every entry, so a name that breaks the lint rules
 * fails the unit suite rather than a scrape in production.
 */
#include "cdc/metrics.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>

#include "cdc_config.h"

/* Which program exports a family. */
#define FOR_APPLY  1u
#define FOR_VERIFY 2u
#define FOR_BOTH   (FOR_APPLY | FOR_VERIFY)

typedef struct catalog_entry {
    cdc_metric_desc_t desc;
    unsigned progs;
} catalog_entry_t;

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
static const char *const L_TABLE_KIND[] = {"table", "kind", NULL};
static const char *const L_TABLE_STATUS[] = {"table", "status", NULL};
static const char *const L_TABLE_RESULT[] = {"table", "result", NULL};
static const char *const L_TABLE_SIDE[] = {"table", "side", NULL};

#define C CDC_METRIC_COUNTER
#define G CDC_METRIC_GAUGE
#define H CDC_METRIC_HISTOGRAM

static const catalog_entry_t catalog[] = {
    {{"cdc_build_info", "Build information; the value is always 1.", G, L_BUILD, NULL, 0},
     FOR_BOTH},
    {{"cdc_connection_up",
      "Whether the connection to a component (kafka, postgres, registry) is up (1) or not (0).", G,
      L_COMPONENT, NULL, 0},
     FOR_BOTH},
    {{"cdc_events_total",
      "Change events consumed, by target table and Debezium op (c, u, d, r, t).", C, L_TABLE_OP,
      NULL, 0},
     FOR_APPLY},
    {{"cdc_events_skipped_total",
      "Messages consumed but not applied, by reason (tombstone, heartbeat, transaction, "
      "schema_change, message, filtered).",
      C, L_REASON, NULL, 0},
     FOR_APPLY},
    {{"cdc_apply_rows_total",
      "Rows written to the target, by table and op (upsert, delete, t), after per-key "
      "compaction.",
      C, L_TABLE_OP, NULL, 0},
     FOR_APPLY},
    {{"cdc_apply_batches_total", "Target transactions attempted, by status (ok, failed).", C,
      L_STATUS, NULL, 0},
     FOR_APPLY},
    {{"cdc_apply_batch_duration_seconds",
      "Time to apply and commit one batch in the target, in seconds.", H, L_NONE,
      batch_duration_buckets, NB(batch_duration_buckets)},
     FOR_APPLY},
    {{"cdc_apply_batch_rows", "Rows per applied batch.", H, L_NONE, batch_rows_buckets,
      NB(batch_rows_buckets)},
     FOR_APPLY},
    {{"cdc_errors_total",
      "Errors, by stage (decode, apply, kafka, registry) and error type (poison, retriable, fatal, "
      "offset_conflict, placeholder_row_missing, unreachable, gap); a dead-lettered record counts "
      "as poison.",
      C, L_STAGE_TYPE, NULL, 0},
     FOR_BOTH},
    {{"cdc_retries_total", "Retried operations, by component and reason.", C, L_COMPONENT_REASON,
      NULL, 0},
     FOR_BOTH},
    {{"cdc_dead_letter_total", "Messages written to the dead letter table, by target table.", C,
      L_TABLE, NULL, 0},
     FOR_APPLY},
    {{"cdc_last_applied_source_timestamp_seconds",
      "Source commit time of the last change applied to a table, as a Unix timestamp.", G, L_TABLE,
      NULL, 0},
     FOR_APPLY},
    {{"cdc_last_heartbeat_source_timestamp_seconds",
      "Source time of the last Debezium heartbeat seen, as a Unix timestamp (0 before the "
      "first).",
      G, L_NONE, NULL, 0},
     FOR_APPLY},
    {{"cdc_replication_lag_seconds",
      "Seconds between now and the source time of the last change applied to a table; 0 when "
      "caught up.",
      G, L_TABLE, NULL, 0},
     FOR_APPLY},
    {{"cdc_event_lag_seconds",
      "Seconds from the source commit of a change to the target commit that applied it.", H, L_NONE,
      event_lag_buckets, NB(event_lag_buckets)},
     FOR_APPLY},
    {{"cdc_consumer_lag_messages",
      "Messages between the consumed position and the high watermark of a partition.", G,
      L_TOPIC_PARTITION, NULL, 0},
     FOR_APPLY},
    {{"cdc_assigned_partitions", "Partitions currently assigned to this consumer.", G, L_NONE, NULL,
      0},
     FOR_APPLY},
    {{"cdc_rebalances_total", "Consumer group rebalances seen by this consumer.", C, L_NONE, NULL,
      0},
     FOR_APPLY},
    {{"cdc_gaps_total",
      "Stored positions Kafka could no longer serve (retention ran, topic recreated) that "
      "--on-gap skip skipped to the log start; each is a row in the state schema's gaps table.",
      C, L_TOPIC_PARTITION, NULL, 0},
     FOR_APPLY},
    {{"cdc_queue_depth", "Items waiting in an internal queue.", G, L_QUEUE, NULL, 0}, FOR_APPLY},
    {{"cdc_queue_capacity", "Capacity of an internal queue.", G, L_QUEUE, NULL, 0}, FOR_APPLY},
    {{"cdc_table_consistency_score",
      "Live consistency of a table: share of rows read back after apply whose written columns "
      "equal the event's values (canonical encoding by the column's type; a row not found is "
      "unequal), since start (0 to 1); absent until a row of the table was checked.",
      G, L_TABLE, NULL, 0},
     FOR_APPLY},
    {{"cdc_live_check_rows_total",
      "Rows read back after apply and compared with their event, by table and result (match, "
      "mismatch).",
      C, L_TABLE_RESULT, NULL, 0},
     FOR_APPLY},
    {{"cdc_snapshot_rows_total", "Snapshot (op r) rows applied, by table.", C, L_TABLE, NULL, 0},
     FOR_APPLY},
    {{"cdc_snapshot_running", "Whether a snapshot of a table is in progress (1) or not (0).", G,
      L_TABLE, NULL, 0},
     FOR_APPLY},
    {{"cdc_verify_consistency_score",
      "Consistency score of the last cdc-verify run of a table, as a ratio from 0 to 1.", G,
      L_TABLE, NULL, 0},
     FOR_VERIFY},
    {{"cdc_verify_mismatched_rows",
      "Rows that differ in the last cdc-verify run, by table and kind (missing, extra, "
      "different).",
      G, L_TABLE_KIND, NULL, 0},
     FOR_VERIFY},
    {{"cdc_verify_last_run_timestamp_seconds",
      "End of the last cdc-verify run of a table, by status, as a Unix timestamp.", G,
      L_TABLE_STATUS, NULL, 0},
     FOR_VERIFY},
    {{"cdc_verify_last_success_timestamp_seconds",
      "End of the last successful cdc-verify run of a table, as a Unix timestamp.", G, L_TABLE,
      NULL, 0},
     FOR_VERIFY},
    {{"cdc_verify_duration_seconds", "Duration of the last cdc-verify run of a table, in seconds.",
      G, L_TABLE, NULL, 0},
     FOR_VERIFY},
    {{"cdc_verify_in_flight_rows",
      "Rows that differed in the last cdc-verify run of a table but converged on recheck.", G,
      L_TABLE, NULL, 0},
     FOR_VERIFY},
    {{"cdc_verify_rows",
      "Rows compared in the last cdc-verify run of a table, by side (source, target).", G,
      L_TABLE_SIDE, NULL, 0},
     FOR_VERIFY},
    {{"cdc_verify_status",
      "Outcome of the last cdc-verify run of a table: 0 ok, 1 mismatch (below --threshold, or a "
      "table or column only one side has), 2 error (the run failed; the score and row gauges keep "
      "the last completed run's values).",
      G, L_TABLE, NULL, 0},
     FOR_VERIFY},
};

#undef C
#undef G
#undef H

size_t cdc_metrics_catalog_size(void)
{
    return NB(catalog);
}

const cdc_metric_desc_t *cdc_metrics_catalog_get(size_t i)
{
    return i < NB(catalog) ? &catalog[i].desc : NULL;
}

static int register_prog(cdc_metrics_t *reg, unsigned prog, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < NB(catalog); i++)
        if ((catalog[i].progs & prog) &&
            cdc_metrics_declare(reg, &catalog[i].desc, errstr, errstr_size) != 0)
            return -1;
    if (cdc_metrics_register_process(reg, errstr, errstr_size) != 0)
        return -1;
    /* The _info pattern: value 1, facts in labels, joined in PromQL with
     * "* on(instance) group_left(version)". rd_kafka_version_str() is the
     * library actually loaded, not the headers we compiled against. */
    cdc_gauge_t *info =
        cdc_metrics_gauge(reg, "cdc_build_info", CDC_LABELS(CDC_VERSION, rd_kafka_version_str()));
    if (!info) {
        snprintf(errstr, errstr_size, "cannot create cdc_build_info");
        return -1;
    }
    cdc_gauge_set(info, 1);
    return 0;
}

int cdc_metrics_register_apply(cdc_metrics_t *reg, char *errstr, size_t errstr_size)
{
    return register_prog(reg, FOR_APPLY, errstr, errstr_size);
}

int cdc_metrics_declare_verify_results(cdc_metrics_t *reg, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < NB(catalog); i++)
        if (catalog[i].progs == FOR_VERIFY &&
            cdc_metrics_declare(reg, &catalog[i].desc, errstr, errstr_size) != 0)
            return -1;
    return 0;
}

int cdc_metrics_register_verify(cdc_metrics_t *reg, char *errstr, size_t errstr_size)
{
    return register_prog(reg, FOR_VERIFY, errstr, errstr_size);
}
