/**
 * @file status_int.h
 * @brief cdc-apply --status: a read-only report of where the group stands
 *        (stored positions against Kafka's log, lag in records and seconds)
 *        and of the last cdc-verify score per table, with thresholds that
 *        make it a gate for CI and for people. Private to consumer/: only
 *        main.c wires it in.
 *
 * It joins no consumer group: positions come from the state schema, the
 * log bounds from ListOffsets, and the first unapplied record is fetched
 * with the group-less simple consumer (librdkafka's assign() needs a
 * group.id, and a handle with one talks to the group coordinator).
 */
#ifndef CDC_STATUS_INT_H
#define CDC_STATUS_INT_H

#include "cdc/config.h"

#include <stdio.h>

/**
 * @brief cdc-apply's option table with the --status rows appended.
 * @param base  the service's table (borrowed), terminated by a NULL key.
 * @returns new array (free() it after cdc_config_destroy(): the config
 *          borrows it), terminated by a NULL key.
 */
cdc_opt_def_t *cdc_status_options_merge(const cdc_opt_def_t *base);

/**
 * @brief The --status options given without --status are a usage error:
 *        they gate the report, not the service.
 * @returns 0, or -1 with errstr naming the option and the fix.
 */
int cdc_status_check_usage(const cdc_config_t *cfg, char *errstr, size_t errstr_size);

/**
 * @brief Print the report (text or JSON per --output) on @p out and one
 *        line per violation, or the one error line, on @p err.
 * @returns the exit code: 0 all within the thresholds, 1 a violation (lag
 *          over --max-lag, a score under --min-score, a gap, a position
 *          ahead of the log or on a partition that no longer exists), 2
 *          brokers or target unreachable, or a configuration error.
 */
int cdc_status_run(const cdc_config_t *cfg, FILE *out, FILE *err);

#endif
