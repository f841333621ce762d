/**
 * @file batch.h
 * @brief A batch of consumed records on its way to one target transaction.
 *
 * Changes are compacted per table and key as they are added: the last
 * change of a key wins, in partition order (invariant 2), and an update
 * whose columns are unavailable (TOAST placeholders, invariant 6) takes
 * those columns from an earlier change of the same key in the batch, or
 * leaves them out so the stored value is kept. A truncate is a barrier:
 * changes before it are applied before it, changes after it after it.
 *
 * Part of cdc-apply. Not thread-safe.
 */
#ifndef CDC_BATCH_H
#define CDC_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/buf.h"
#include "catalog.h"
#include "cdc/decode.h"
#include "cdc/err.h"
#include "cdc/event.h"

/** The final state of one key in one step. */
typedef struct cdc_entry {
    /** 'u' upsert; 'd' delete; 'r' replace (deleted, then created again in
     *  this batch: delete + insert); 'i' append (table without a key). */
    char kind;
    /** Per target column (t->ncols of the table the entry was built
     *  against): the value to write, or NULL when the column is not written
     *  (absent from the event, unavailable, or generated). A delete holds
     *  only the key columns. Borrowed from events the batch owns. */
    const cdc_col_t **vals; /**< in the batch's slabs */
    char *key;              /**< the key's identity: canonical key values
                                 (in the batch's slabs) */
    size_t key_len;
    size_t item; /**< index of the last record that set it */
    /** An unavailable (TOAST placeholder) column is left out: correct when
     *  the row exists, a loss of that column when the upsert inserts. */
    bool partial;
} cdc_entry_t;

/** What one step does. */
typedef enum cdc_step_kind {
    CDC_STEP_ROWS = 0, /**< upserts/deletes of one table */
    CDC_STEP_TRUNCATE, /**< TRUNCATE of one table */
} cdc_step_kind_t;

/** One step, applied in order inside the batch's transaction. */
typedef struct cdc_step {
    cdc_step_kind_t kind;
    cdc_table_t *table;   /**< borrowed from the catalog */
    cdc_entry_t *entries; /**< CDC_STEP_ROWS: one per key, in arrival order */
    size_t nentries, cap;
    uint32_t *slots; /**< open-addressing index of entries by key */
    size_t nslots;
    size_t item; /**< CDC_STEP_TRUNCATE: the record */
} cdc_step_t;

/** One consumed record, kept until the batch is committed. */
typedef struct cdc_item {
    void *msg;          /**< the transport's message (freed by the batch) */
    cdc_record_t rec;   /**< views into msg; rec.headers is owned (freed) */
    cdc_event_t *ev;    /**< decoded event (owned), NULL if skipped/failed */
    cdc_table_t *table; /**< target table of a change, else NULL */
    char *error;        /**< set when the record goes to the dead letters */
    bool skipped;       /**< counted but not applied (tombstone, ...) */
} cdc_item_t;

/** Position covered by the batch in one partition. */
typedef struct cdc_part_range {
    char *topic;
    int32_t partition;
    int64_t first_offset;  /**< first offset in the batch */
    int64_t last_offset;   /**< last offset in the batch */
    int64_t expected_next; /**< next_offset the state table must hold now
                                (-1: no row yet) */
} cdc_part_range_t;

/** A chunk of the memory the steps' entries keep their values and keys in:
 *  two small allocations per change otherwise, all freed together when the
 *  steps are cleared anyway. */
typedef struct cdc_slab {
    struct cdc_slab *next;
    size_t used, cap;
    _Alignas(16) char data[];
} cdc_slab_t;

typedef struct cdc_batch {
    cdc_item_t *items;
    size_t nitems, items_cap;
    cdc_step_t *steps;
    size_t nsteps, steps_cap;
    size_t barrier; /**< steps before this index are closed */
    /** --transactions: a change of a table with an immediate foreign key
     *  (cdc_table_t.fk_immediate) goes into a run of consecutive changes
     *  to its table (a change to another table closes it), so the steps
     *  keep the source's order across tables and the key holds. */
    bool runs;
    cdc_part_range_t *parts;
    size_t nparts, parts_cap;
    size_t last_part; /**< index in parts of the last record's (a hint) */
    size_t bytes;     /**< record bytes held */
    size_t nchanges;  /**< change events added */
    size_t ndead;     /**< items with an error (dead letters) */
    int64_t first_ms; /**< monotonic time of the first item, 0 if empty */
    void (*free_msg)(void *msg);
    cdc_slab_t *slabs;         /**< entries' vals and keys; newest first */
    cdc_buf_t keybuf;          /**< scratch: the key being looked up */
    cdc_buf_t keybuf2;         /**< scratch: a 'u' event's old (before) key */
    const cdc_col_t **scratch; /**< scratch: a row's values by column */
    size_t scratch_cap;
} cdc_batch_t;

/** @brief Initialise an empty batch; @p free_msg frees an item's msg. */
void cdc_batch_init(cdc_batch_t *b, void (*free_msg)(void *msg));
/** @brief Drop everything (events, messages, steps); the batch is reusable. */
void cdc_batch_reset(cdc_batch_t *b);
/** @brief Free all memory. */
void cdc_batch_free(cdc_batch_t *b);

/**
 * @brief Add a record (steals @p msg and @p ev, which may be NULL) and
 *        account its position. @p expected_next is the partition's stored
 *        next_offset when this is the partition's first record in the batch.
 * @returns the item index.
 */
size_t cdc_batch_add_item(cdc_batch_t *b, void *msg, const cdc_record_t *rec, cdc_event_t *ev,
                          int64_t expected_next);

/**
 * @brief Compact the change of item @p idx (its ev, routed to @p t) into
 *        the batch's steps.
 * @returns 0, or -1 with *cls = POISON when the event lacks a key value
 *          the table needs (errstr names the record and the fix).
 */
int cdc_batch_add_change(cdc_batch_t *b, size_t idx, cdc_table_t *t, cdc_err_class_t *cls,
                         char *errstr, size_t errstr_size);

/** @brief Remove the last item (never compacted: call before
 *  cdc_batch_add_change() succeeded) and shrink its partition's range. */
void cdc_batch_pop(cdc_batch_t *b);

/** @brief Mark item @p idx as a dead letter with @p error (copied). */
void cdc_batch_set_dead(cdc_batch_t *b, size_t idx, const char *error);

/** @brief Rebuild the steps from items [0, n) (for isolating a bad record):
 *  clears the steps and re-adds every applied change among them. */
int cdc_batch_rebuild(cdc_batch_t *b, size_t n, cdc_err_class_t *cls, char *errstr,
                      size_t errstr_size);

/** @brief Build the key bytes of @p row for table @p t into @p out.
 *  @returns 0, or -1 when a key column is missing from the row. */
int cdc_batch_key(const cdc_table_t *t, const cdc_row_t *row, cdc_buf_t *out, const char **missing);

#endif
