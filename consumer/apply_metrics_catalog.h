/**
 * @file apply_metrics_catalog.h
 * @brief cdc-apply's metric families (apply_metrics_catalog.c), named by ids the
 *        compiler checks.
 *
 * A series is looked up by its family's id, one enum per metric type, so a
 * misspelt family does not compile and a counter id passed where a gauge
 * is wanted is a -Wenum-conversion error (-Werror):
 *
 * @code
 *   cdc_counter_t *c = cdc_apply_counter(reg, CDC_MC_EVENTS,
 *                                        CDC_LABELS("public.orders", "c"));
 * @endcode
 *
 * The exported names, help texts and labels are the catalog's entries;
 * the registry (and its thread safety) is core's (cdc/metrics.h).
 */
#ifndef CDC_APPLY_METRICS_CATALOG_H
#define CDC_APPLY_METRICS_CATALOG_H

#include <stddef.h>
#include <stdio.h>

#include "cdc/metrics.h"

/** Counter families. */
typedef enum cdc_apply_counter_id {
    CDC_MC_EVENTS,                /**< cdc_events_total{table,op} */
    CDC_MC_EVENTS_SKIPPED,        /**< cdc_events_skipped_total{reason} */
    CDC_MC_APPLY_ROWS,            /**< cdc_apply_rows_total{table,op} */
    CDC_MC_APPLY_BATCHES,         /**< cdc_apply_batches_total{status} */
    CDC_MC_ERRORS,                /**< cdc_errors_total{stage,error_type} */
    CDC_MC_RETRIES,               /**< cdc_retries_total{component,reason} */
    CDC_MC_DEAD_LETTER,           /**< cdc_dead_letter_total{table} */
    CDC_MC_REBALANCES,            /**< cdc_rebalances_total */
    CDC_MC_GAPS,                  /**< cdc_gaps_total{topic,partition} */
    CDC_MC_LIVE_CHECK_ROWS,       /**< cdc_live_check_rows_total{table,result} */
    CDC_MC_SNAPSHOT_ROWS,         /**< cdc_snapshot_rows_total{table} */
    CDC_MC_TXN_APPLIED,           /**< cdc_transactions_applied_total */
    CDC_MC_TXN_GIVEN_UP,          /**< cdc_transactions_given_up_total */
    CDC_MC_TXN_PARTIAL,           /**< cdc_transactions_partial_total */
    CDC_MC_TRACE_INVALID,         /**< cdc_trace_context_invalid_total{reason} */
    CDC_MC_TRACE_SPANS_EXPORTED,  /**< cdc_trace_spans_exported_total */
    CDC_MC_TRACE_SPANS_DROPPED,   /**< cdc_trace_spans_dropped_total{reason} */
    CDC_MC_TRACE_EXPORT_FAILURES, /**< cdc_trace_export_failures_total{reason} */
    CDC_MC_DEAD_LETTER_TOPIC,     /**< cdc_dead_letter_topic_total{result} */
    CDC_MC_COUNT_                 /**< number of counter families */
} cdc_apply_counter_id_t;

/** Gauge families. */
typedef enum cdc_apply_gauge_id {
    CDC_MG_BUILD_INFO,               /**< cdc_build_info{version,librdkafka_version} */
    CDC_MG_CONNECTION_UP,            /**< cdc_connection_up{component} */
    CDC_MG_LAST_APPLIED_SOURCE_TS,   /**< cdc_last_applied_source_timestamp_seconds{table} */
    CDC_MG_LAST_HEARTBEAT_SOURCE_TS, /**< cdc_last_heartbeat_source_timestamp_seconds */
    CDC_MG_REPLICATION_LAG,          /**< cdc_replication_lag_seconds{table} */
    CDC_MG_CONSUMER_LAG,             /**< cdc_consumer_lag_messages{topic,partition} */
    CDC_MG_ASSIGNED_PARTITIONS,      /**< cdc_assigned_partitions */
    CDC_MG_QUEUE_DEPTH,              /**< cdc_queue_depth{queue} */
    CDC_MG_QUEUE_CAPACITY,           /**< cdc_queue_capacity{queue} */
    CDC_MG_TABLE_CONSISTENCY_SCORE,  /**< cdc_table_consistency_score{table} */
    CDC_MG_SNAPSHOT_RUNNING,         /**< cdc_snapshot_running{table} */
    CDC_MG_TXN_OPEN,                 /**< cdc_transactions_open */
    CDC_MG_TXN_OPEN_BYTES,           /**< cdc_transactions_open_bytes */
    CDC_MG_TXN_OLDEST_AGE,           /**< cdc_transactions_oldest_open_seconds */
    CDC_MG_COUNT_                    /**< number of gauge families */
} cdc_apply_gauge_id_t;

/** Histogram families. */
typedef enum cdc_apply_histogram_id {
    CDC_MH_BATCH_DURATION, /**< cdc_apply_batch_duration_seconds */
    CDC_MH_BATCH_ROWS,     /**< cdc_apply_batch_rows */
    CDC_MH_EVENT_LAG,      /**< cdc_event_lag_seconds */
    CDC_MH_COUNT_          /**< number of histogram families */
} cdc_apply_histogram_id_t;

/**
 * @brief Declare every cdc-apply family on @p reg (borrowed), plus
 *        process_* and cdc_build_info{version, librdkafka_version} = 1.
 * @returns 0, or -1 with errstr set.
 */
int cdc_apply_catalog_register(cdc_metrics_t *reg, char *errstr, size_t errstr_size);

/** @brief Number of families in the catalog, and family @p i (borrowed,
 *  static; counters, then gauges, then histograms), for tests and docs
 *  generation. NULL past the end. */
size_t cdc_apply_catalog_size(void);
const cdc_metric_desc_t *cdc_apply_catalog_get(size_t i);

/**
 * @brief The series of counter family @p id with these label values, as
 *        cdc_metrics_counter() (borrowed handle; NULL for a family not
 *        declared on @p reg or a wrong number of values).
 */
cdc_counter_t *cdc_apply_counter(cdc_metrics_t *reg, cdc_apply_counter_id_t id,
                                 const char *const *labelvalues);
/** @brief Gauge form of cdc_apply_counter(). */
cdc_gauge_t *cdc_apply_gauge(cdc_metrics_t *reg, cdc_apply_gauge_id_t id,
                             const char *const *labelvalues);
/** @brief Histogram form of cdc_apply_counter(). */
cdc_histogram_t *cdc_apply_histogram(cdc_metrics_t *reg, cdc_apply_histogram_id_t id,
                                     const char *const *labelvalues);

/** @brief README's rows of these families and the process_* ones
 *  (--help-markdown; see cdc_metrics_markdown()). */
void cdc_apply_catalog_markdown(FILE *out);

#endif
