/**
 * @file writer.h
 * @brief Applies a batch to the target PostgreSQL in ONE transaction: the
 *        rows, truncates, dead letters and the offset rows commit together
 *        (invariants 1 and 3).
 *
 * The transaction first locks the batch's rows in <state>.offsets and
 * checks that they still hold the positions the batch starts from. A
 * consumer that lost its partitions without noticing (a zombie after a
 * session timeout) therefore fails this check instead of applying a change
 * a second time; the caller then re-reads the positions and seeks.
 *
 * Rows travel as COPY data into per-session staging tables and are merged
 * with one set-based statement per table and column set; no SQL text is
 * ever built from data (invariant 4).
 */
#ifndef CDC_WRITER_H
#define CDC_WRITER_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "cdc/err.h"
#include "livecheck.h"

typedef struct cdc_writer_s cdc_writer_t;

/** Result of cdc_writer_apply(). */
typedef enum cdc_write_status {
    CDC_WRITE_OK = 0,
    CDC_WRITE_ERROR = -1, /**< see cls: retriable, poison or fatal */
    /** The stored offsets moved under us (another consumer applied these
     *  partitions): nothing was written; re-read positions and seek. */
    CDC_WRITE_CONFLICT = -2,
} cdc_write_status_t;

/**
 * @brief New writer (not connected yet).
 * @param conninfo target database (borrowed, copied).
 * @param state_schema schema of the state tables, e.g. "cdc" (copied).
 * @param group consumer group id stored with each offset (copied).
 */
cdc_writer_t *cdc_writer_new(const char *conninfo, const char *state_schema, const char *group);
/** @brief Close and free. Accepts NULL. */
void cdc_writer_destroy(cdc_writer_t *w);

/** @brief (Re)connect when not connected, create the state schema if
 *  needed. Returns 0 or -1 with errstr (retriable when the server is down). */
int cdc_writer_connect(cdc_writer_t *w, cdc_err_class_t *cls, char *errstr, size_t errstr_size);
/** @brief Drop the connection (after a failure), so the next call reconnects. */
void cdc_writer_disconnect(cdc_writer_t *w);
/** @brief Borrowed connection, NULL when not connected. */
PGconn *cdc_writer_conn(cdc_writer_t *w);
/** @brief True when a connection is up. */
bool cdc_writer_connected(const cdc_writer_t *w);

/**
 * @brief Stored next offsets of @p n partitions of @p topic.
 * @param next  out: the stored next offset, or -1 where no row exists.
 */
int cdc_writer_load_offsets(cdc_writer_t *w, const char *topic, const int32_t *partitions, size_t n,
                            int64_t *next, cdc_err_class_t *cls, char *errstr, size_t errstr_size);

/**
 * @brief Apply the whole batch in one transaction.
 * @returns CDC_WRITE_OK; CDC_WRITE_CONFLICT; or CDC_WRITE_ERROR with *cls
 *          and errstr. On error nothing is committed.
 */
cdc_write_status_t cdc_writer_apply(cdc_writer_t *w, cdc_batch_t *b, cdc_err_class_t *cls,
                                    char *errstr, size_t errstr_size);

/**
 * @brief Apply the batch one record at a time under savepoints, to find
 *        the records that cannot be applied.
 *
 * With @p dead_letter true every failing record becomes a dead letter
 * (cdc_batch_set_dead) and the rest is committed with the offsets. With
 * false, the records before the first failing one are committed with their
 * offsets, nothing after it, and *bad is its item index.
 */
cdc_write_status_t cdc_writer_apply_isolated(cdc_writer_t *w, cdc_batch_t *b, bool dead_letter,
                                             size_t *bad, cdc_err_class_t *cls, char *errstr,
                                             size_t errstr_size);

/** Apply-time check results of one table in the last transaction. */
typedef struct cdc_writer_live {
    const cdc_table_t *table;
    cdc_livecheck_result_t res;
} cdc_writer_live_t;

/** @brief --transactions: every batch's transaction checks, just before
 *  its COMMIT, that the backend @p pid (the member lock's session) still
 *  holds the group's advisory lock; if not, nothing of the batch commits
 *  and the apply fails with CDC_ERR_FATAL. 0 turns the check off. */
void cdc_writer_set_member_lock(cdc_writer_t *w, int pid);
/** @brief Whether a batch found the member lock lost (its session ended):
 *  the member then exits 3, for a restart to stand by or take over. */
bool cdc_writer_lock_lost(const cdc_writer_t *w);

/** @brief Read back up to @p max_rows upserted rows per table and batch and
 *  compare them with the events (livecheck.h); 0 turns it off. */
void cdc_writer_set_live_check(cdc_writer_t *w, size_t max_rows);

/** @brief Results of the last transaction's checks (borrowed, valid until
 *  the next apply); meaningful after CDC_WRITE_OK. Returns the count. */
size_t cdc_writer_live_results(const cdc_writer_t *w, const cdc_writer_live_t **res);

/** @brief Records (so far) whose update carried an unchanged-TOAST
 *  placeholder for a row the target does not have: never inserted (the
 *  value is unknown), each stopped the consumer or went to the dead
 *  letters. */
uint64_t cdc_writer_placeholder_rows(const cdc_writer_t *w);

#endif
