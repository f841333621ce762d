/**
 * @file verify_metrics_catalog.h
 * @brief cdc-verify's metric families (verify_metrics_catalog.c), named by ids the
 *        compiler checks (a misspelt family does not compile; an id of
 *        another enum is a -Wenum-conversion error).
 */
#ifndef CDC_VERIFY_METRICS_CATALOG_H
#define CDC_VERIFY_METRICS_CATALOG_H

#include <stddef.h>
#include <stdio.h>

#include "cdc/metrics.h"

/** cdc-verify's families; all are gauges (the last run's results). */
typedef enum cdc_verify_gauge_id {
    CDC_MV_CONSISTENCY_SCORE, /**< cdc_verify_consistency_score{table} */
    CDC_MV_MISMATCHED_ROWS,   /**< cdc_verify_mismatched_rows{table,kind} */
    CDC_MV_LAST_RUN_TS,       /**< cdc_verify_last_run_timestamp_seconds{table,status} */
    CDC_MV_LAST_SUCCESS_TS,   /**< cdc_verify_last_success_timestamp_seconds{table} */
    CDC_MV_DURATION,          /**< cdc_verify_duration_seconds{table} */
    CDC_MV_IN_FLIGHT_ROWS,    /**< cdc_verify_in_flight_rows{table} */
    CDC_MV_ROWS,              /**< cdc_verify_rows{table,side} */
    CDC_MV_STATUS,            /**< cdc_verify_status{table} */
    CDC_MV_COUNT_             /**< number of families */
} cdc_verify_gauge_id_t;

/** @brief Declare cdc-verify's result families on @p reg (borrowed),
 *  without process metrics or build info: for a node_exporter textfile or
 *  a Pushgateway, where a finished job's process metrics would mislead.
 *  @returns 0, or -1 with errstr set. */
int cdc_verify_catalog_declare(cdc_metrics_t *reg, char *errstr, size_t errstr_size);

/** @brief Number of families, and family @p i (borrowed, static; index ==
 *  id), for tests and docs generation. NULL past the end. */
size_t cdc_verify_catalog_size(void);
const cdc_metric_desc_t *cdc_verify_catalog_get(size_t i);
/** @brief The family named @p name (borrowed, static), or NULL: for
 *  reading back a textfile an earlier run wrote. */
const cdc_metric_desc_t *cdc_verify_catalog_find(const char *name);

/** @brief The series of gauge family @p id with these label values, as
 *  cdc_metrics_gauge() (borrowed handle; NULL when not declared on @p reg
 *  or a wrong number of values). */
cdc_gauge_t *cdc_verify_gauge(cdc_metrics_t *reg, cdc_verify_gauge_id_t id,
                              const char *const *labelvalues);

/** @brief README's rows of these families (--help-markdown; see
 *  cdc_metrics_markdown()). */
void cdc_verify_catalog_markdown(FILE *out);

#endif
