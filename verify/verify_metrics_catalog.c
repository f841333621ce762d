/*
 * cdc-verify's metric families (design.md's metric table): the result
 * gauges a run writes to a node_exporter textfile or a Pushgateway, in one
 * table indexed by the ids of verify_metrics_catalog.h, so help strings and label
 * names exist exactly once and a misspelt family does not compile. (The
 * registry itself is core/metrics.c; cdc-apply's families are
 * consumer/apply_metrics_catalog.c.)
 */
#include "verify_metrics_catalog.h"

#include <stdio.h>
#include <string.h>

static const char *const L_TABLE[] = {"table", NULL};
static const char *const L_TABLE_KIND[] = {"table", "kind", NULL};
static const char *const L_TABLE_STATUS[] = {"table", "status", NULL};
static const char *const L_TABLE_SIDE[] = {"table", "side", NULL};

#define G CDC_METRIC_GAUGE

static const cdc_metric_desc_t gauges[CDC_MV_COUNT_] = {
    [CDC_MV_CONSISTENCY_SCORE] =
        {"cdc_verify_consistency_score",
         "Consistency score of the last cdc-verify run of a table, as a ratio from 0 "
         "to 1.",
         G, L_TABLE, NULL, 0},
    [CDC_MV_MISMATCHED_ROWS] =
        {"cdc_verify_mismatched_rows",
         "Rows that differ in the last cdc-verify run, by table and kind (missing, "
         "extra, different).",
         G, L_TABLE_KIND, NULL, 0},
    [CDC_MV_LAST_RUN_TS] =
        {"cdc_verify_last_run_timestamp_seconds",
         "End of the last cdc-verify run of a table, by status (ok, mismatch, error), as a Unix "
         "timestamp.",
         G, L_TABLE_STATUS, NULL, 0},
    [CDC_MV_LAST_SUCCESS_TS] =
        {"cdc_verify_last_success_timestamp_seconds",
         "End of the last successful cdc-verify run of a table, as a Unix timestamp.", G, L_TABLE,
         NULL, 0},
    [CDC_MV_DURATION] = {"cdc_verify_duration_seconds",
                         "Duration of the last cdc-verify run of a table, in seconds.", G, L_TABLE,
                         NULL, 0},
    [CDC_MV_IN_FLIGHT_ROWS] =
        {"cdc_verify_in_flight_rows",
         "Rows that differed in the last cdc-verify run of a table but converged on "
         "recheck.",
         G, L_TABLE, NULL, 0},
    [CDC_MV_ROWS] = {"cdc_verify_rows",
                     "Rows compared in the last cdc-verify run of a table, by side (source, "
                     "target).",
                     G, L_TABLE_SIDE, NULL, 0},
    [CDC_MV_STATUS] = {"cdc_verify_status",
                       "Outcome of the last cdc-verify run of a table: 0 ok, 1 mismatch (below "
                       "--threshold, or a table or column only one side has), 2 error (the run "
                       "failed; the score and row gauges keep the last completed run's values).",
                       G, L_TABLE, NULL, 0},
};

#undef G

size_t cdc_verify_catalog_size(void)
{
    return CDC_MV_COUNT_;
}

const cdc_metric_desc_t *cdc_verify_catalog_get(size_t i)
{
    return i < CDC_MV_COUNT_ ? &gauges[i] : NULL;
}

const cdc_metric_desc_t *cdc_verify_catalog_find(const char *name)
{
    for (size_t i = 0; i < CDC_MV_COUNT_; i++)
        if (gauges[i].name && strcmp(gauges[i].name, name) == 0)
            return &gauges[i];
    return NULL;
}

int cdc_verify_catalog_declare(cdc_metrics_t *reg, char *errstr, size_t errstr_size)
{
    return cdc_metrics_declare_table(reg, CDC_MV_COUNT_, cdc_verify_catalog_get, errstr,
                                     errstr_size);
}

cdc_gauge_t *cdc_verify_gauge(cdc_metrics_t *reg, cdc_verify_gauge_id_t id,
                              const char *const *labelvalues)
{
    return cdc_metrics_table_series(reg, gauges, CDC_MV_COUNT_, (size_t)id, CDC_METRIC_GAUGE,
                                    labelvalues);
}

void cdc_verify_catalog_markdown(FILE *out)
{
    fputs("<!-- metrics -->\n", out);
    cdc_metrics_markdown(out, cdc_verify_catalog_size(), cdc_verify_catalog_get);
}
