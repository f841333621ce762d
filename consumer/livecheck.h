/**
 * @file livecheck.h
 * @brief Apply-time integrity check: after rows are merged, read a sample
 *        of them back (in the same transaction) and compare their canonical
 *        encoding, by the target's column types, with the values the events
 *        carried. A difference means the target did not store what the
 *        source sent (a narrower numeric scale, a timestamp precision, a
 *        trigger, a rule): exactly what a migration must hear about at once,
 *        not at the next nightly cdc-verify.
 */
#ifndef CDC_LIVECHECK_H
#define CDC_LIVECHECK_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "catalog.h"

/** Counts of one check. */
typedef struct cdc_livecheck_result {
    uint64_t checked;    /**< rows compared */
    uint64_t mismatched; /**< rows whose stored value differs, or are absent */
} cdc_livecheck_result_t;

/**
 * @brief Compare up to @p max of the @p n upserted entries (evenly spread)
 *        with the rows now in table @p t.
 * @param v     entries that all write the columns in @p mask (borrowed).
 * @param b     the batch, to name records in warnings (borrowed).
 * @param res   counts are added to it.
 * @returns 0, or -1 with errstr when the query failed (the transaction is
 *          then aborted: the caller treats it like any failed statement).
 */
int cdc_livecheck_rows(PGconn *conn, const cdc_table_t *t, cdc_entry_t *const *v, size_t n,
                       const uint8_t *mask, size_t max, const cdc_batch_t *b,
                       cdc_livecheck_result_t *res, char *errstr, size_t errstr_size);

#endif
