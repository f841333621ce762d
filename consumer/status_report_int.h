/* cdc-apply --status's report, private to consumer/: what status.c
 * gathers (the target's positions and verify runs, Kafka's log bounds,
 * the thresholds' violations) and status_print.c prints. */
#ifndef CDC_STATUS_REPORT_INT_H
#define CDC_STATUS_REPORT_INT_H

#include "cdc/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum part_state {
    ST_CAUGHT_UP = 0,
    ST_BEHIND,
    ST_GAP,   /* stored position below the log start: records lost */
    ST_AHEAD, /* stored position above the log end: topic recreated? */
    ST_GONE,  /* a stored position for a partition Kafka no longer has */
} part_state_t;

typedef struct part {
    char *topic;
    int32_t partition;
    int64_t stored;              /* next_offset in the state table, -1 when no row */
    int64_t lo, hi;              /* log start and end, -1 when GONE */
    int64_t lag;                 /* records, -1 when meaningless (AHEAD, GONE) */
    int64_t first_off, first_ts; /* first unapplied record read, -1 if none */
    double lag_s;                /* seconds, NAN when unknown */
    part_state_t st;
    bool want_fetch, fetched;
} part_t;

typedef struct table {
    char *name, *status, *finished_at, *error;
    long long run_id;
    bool has_score, has_threshold;
    double score, threshold;
} table_t;

typedef struct violation {
    const char *kind; /* lag, gap, ahead, gone, topic, score, verify */
    const part_t *p;  /* borrowed from the report, or NULL */
    const table_t *t;
    char *topic; /* for kind "topic" */
    char *msg;
} violation_t;

typedef struct report {
    part_t *parts;
    size_t nparts, cap;
    table_t *tables;
    size_t ntables;
    violation_t *viol;
    size_t nviol;
    bool have_max_lag, have_min_score;
    double max_lag, min_score;
    char kafka_err[512]; /* last error librdkafka reported, for the message */
} report_t;

/** The report as a text table on @p out. */
void cdc_status_print_text(const report_t *r, FILE *out);
/** The report as one JSON document on @p out (@p cfg: the options shown). */
void cdc_status_print_json(const report_t *r, const cdc_config_t *cfg, FILE *out);

#endif
