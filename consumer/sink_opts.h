/**
 * @file sink_opts.h
 * @brief The JDBC-sink style switches of cdc-apply: --delete-enabled,
 *        --truncate-enabled, --tombstone-is-delete and the per-table
 *        --columns-include / --columns-exclude lists.
 *
 * Part of cdc-apply. What they decide happens before a change is routed
 * into the batch: a skipped change is still a batch item (its position
 * advances with the batch, it is counted in cdc_events_skipped_total),
 * and a filtered event loses the columns that must never be written,
 * so the table check, --create-tables' DDL and the writes never see them.
 * Not thread-safe (the loop's thread only).
 */
#ifndef CDC_SINK_OPTS_H
#define CDC_SINK_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "catalog.h"
#include "cdc/config.h"
#include "cdc/decode.h"
#include "cdc/event.h"

typedef struct cdc_sinkopts cdc_sinkopts_t;

/** @brief The options of @p cfg (borrowed; read once, strings copied).
 *  @returns new, or NULL with errstr (a malformed list entry, a key
 *  column of --key-columns excluded) naming the option and the fix. */
cdc_sinkopts_t *cdc_sinkopts_new(const cdc_config_t *cfg, char *errstr, size_t errstr_size);

/** @brief Free. Accepts NULL. */
void cdc_sinkopts_destroy(cdc_sinkopts_t *so);

/** @brief --tombstone-is-delete: the decoder turns a null value into a
 *  delete of its key (cdc_decoder_conf_t.null_value_is_delete). */
bool cdc_sinkopts_tombstone_is_delete(const cdc_sinkopts_t *so);

/**
 * @brief Whether a decoded change must be skipped, and why.
 * @param rec  the record (borrowed): a null value is a tombstone the
 *             decoder turned into a delete.
 * @returns NULL to apply it, else the reason for cdc_events_skipped_total
 *          (static): "delete_disabled", "truncate_disabled", or
 *          "tombstone" (a tombstone that is no delete: no key, or the
 *          tombstones.on.delete record right after its delete).
 */
const char *cdc_sinkopts_skip(cdc_sinkopts_t *so, const cdc_record_t *rec, const cdc_event_t *ev);

/**
 * @brief Remove the columns the lists keep out of the target from the
 *        before and after images of @p ev (in place), for the table
 *        --table-format routes it to.
 * @returns 0, or -1 with errstr when a list would drop a column of the
 *          record key (key columns are always written): a configuration
 *          error.
 */
int cdc_sinkopts_filter(cdc_sinkopts_t *so, const cdc_catalog_t *cat, cdc_event_t *ev, char *errstr,
                        size_t errstr_size);

/**
 * @brief After the table is known: -1 with errstr when the lists drop a
 *        key column of @p t (its primary key or --key-columns), else 0.
 */
int cdc_sinkopts_check_table(const cdc_sinkopts_t *so, const cdc_table_t *t, char *errstr,
                             size_t errstr_size);

#endif
