/**
 * @file apply_metrics.h
 * @brief cdc-apply's metric handles and how batches, errors and the
 *        consumer's state turn into them (design.md's metric table).
 */
#ifndef CDC_APPLY_METRICS_H
#define CDC_APPLY_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "batch.h"
#include "cdc/metrics.h"
#include "source.h"
#include "writer.h"

typedef struct cdc_apply_metrics_s cdc_apply_metrics_t;

/** @brief Handles on @p reg (borrowed; families already declared by
 *  cdc_apply_catalog_register()). */
cdc_apply_metrics_t *cdc_apply_metrics_new(cdc_metrics_t *reg);
/** @brief Free. Accepts NULL. */
void cdc_apply_metrics_destroy(cdc_apply_metrics_t *am);

/** @brief A batch's first @p upto items were committed in @p seconds. */
void cdc_apply_metrics_batch(cdc_apply_metrics_t *am, const cdc_batch_t *b, size_t upto,
                             double seconds);
/** @brief A batch transaction failed. */
void cdc_apply_metrics_batch_failed(cdc_apply_metrics_t *am);
/** @brief A record was skipped (tombstone, heartbeat, transaction, ...). */
void cdc_apply_metrics_skipped(cdc_apply_metrics_t *am, const cdc_event_t *ev);
/** @brief cdc_events_skipped_total{reason}++ for a change a sink option
 *  skipped (@p reason borrowed: delete_disabled, truncate_disabled, ...). */
void cdc_apply_metrics_skipped_reason(cdc_apply_metrics_t *am, const char *reason);
/** @brief cdc_dead_letter_topic_total{result}++ (produced or failed). */
void cdc_apply_metrics_dead_letter_topic(cdc_apply_metrics_t *am, bool ok);
/** @brief cdc_errors_total{stage,error_type}++. */
void cdc_apply_metrics_error(cdc_apply_metrics_t *am, const char *stage, const char *type);
/** @brief cdc_retries_total{component,reason}++. */
void cdc_apply_metrics_retry(cdc_apply_metrics_t *am, const char *component, const char *reason);
/** @brief cdc_connection_up{component}. */
void cdc_apply_metrics_conn(cdc_apply_metrics_t *am, const char *component, bool up);
/** @brief Apply-time check results of a committed batch: counts per table
 *  and cdc_table_consistency_score (since start). */
void cdc_apply_metrics_live(cdc_apply_metrics_t *am, const cdc_writer_live_t *res, size_t n);
/** @brief Rows created without an unavailable TOAST column's value (the
 *  row was missing in the target), as
 *  cdc_errors_total{stage="apply",error_type="placeholder_row_missing"}. */
void cdc_apply_metrics_placeholder_rows(cdc_apply_metrics_t *am, uint64_t rows);
/** @brief Once a second: assignment, consumer lag, replication lag, queues. */
void cdc_apply_metrics_tick(cdc_apply_metrics_t *am, cdc_source_t *src, const cdc_batch_t *b,
                            size_t batch_capacity);

#endif
