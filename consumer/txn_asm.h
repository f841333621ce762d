/**
 * @file txn_asm.h
 * @brief --transactions: the assembler that holds records until their
 *        source transaction is complete and releases them in source commit
 *        order, a transaction's events in its own total_order.
 *
 * Every record of a transactional pipeline goes through it, partition by
 * partition in offset order. A partition's queue is released from its head
 * only: a record that belongs to no transaction (snapshot reads,
 * tombstones, heartbeats, BEGIN markers) goes at once; a data event of a
 * transaction waits for that transaction. A transaction goes when its END
 * (Debezium's <prefix>.transaction topic) is the head of its partition
 * (END order is commit order), as many distinct events as END counts have
 * arrived, and all of them are the heads of their partitions: then its
 * events, sorted by total_order, and its END are released together. So a
 * partition's released records are always a prefix of it, and positions
 * past them never pass an event of a transaction not yet released.
 *
 * Bounded memory: a transaction whose held records pass max_bytes is
 * given up: what is held of it is released (in total_order), its later
 * events pass one by one, its END (skipped) goes only after every event it
 * counts, so that the transaction topic's position never passes an event
 * not released; WARN and a counter. All
 * open transactions together (those waiting behind an incomplete one, or
 * read ahead of a slower partition) are bounded at 4 x max_bytes: past
 * it, the first blocking one in commit order (its END heads the
 * transaction topic; else the head of the fullest partition) is given up. Re-delivered events (the
 * same transaction id and total_order, or a transaction already released) are released as
 * duplicates, to be skipped. A record that contradicts its transaction
 * (total_order outside 1..event_count, an event for a transaction already
 * applied that was never part of it, an END counting fewer events than
 * arrived, or an END's data_collections that contradict it or its events:
 * txn_coll.c) is released at its place with bad set and error saying why;
 * a transaction whose END was refused is given up. A record held with an
 * error (dead-lettered, its transaction block read) counts toward its
 * transaction like any event: that goes whole without it (WARN, counted).
 *
 * Part of cdc-apply. Not thread-safe.
 */
#ifndef CDC_TXN_ASM_H
#define CDC_TXN_ASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/decode.h"
#include "cdc/event.h"

/** One record held by the assembler; its fields are handed over on release. */
typedef struct cdc_txn_rec {
    void *msg;        /**< the transport's message (owned) */
    cdc_record_t rec; /**< views into msg; rec.headers is owned */
    cdc_event_t *ev;  /**< owned; NULL when decoding failed (see error) */
    char *error;      /**< owned dead-letter reason, or NULL */
    size_t bytes;     /**< accounted size */
    void *txn_;       /**< assembler-owned: its transaction */
    bool end_, dup_;  /**< assembler-owned */
    bool bad;         /**< set by the assembler: refused, error says why */
} cdc_txn_rec_t;

typedef struct cdc_txn_asm cdc_txn_asm_t;

/** What a released record is. */
typedef enum cdc_txn_release {
    CDC_TXN_PASS = 0,  /**< apply as usual (no transaction, or given up) */
    CDC_TXN_MEMBER,    /**< an event of a complete transaction */
    CDC_TXN_DUPLICATE, /**< already released once: skip it */
} cdc_txn_release_t;

/** @brief Called for each released record, in release order; takes over
 *  @p r's msg, headers, ev and error (the struct itself is freed after). */
typedef void (*cdc_txn_emit_fn)(void *opaque, cdc_txn_rec_t *r, cdc_txn_release_t how);

/** @brief New assembler; @p free_msg frees a record's msg. */
cdc_txn_asm_t *cdc_txn_asm_new(size_t max_bytes, void (*free_msg)(void *msg));
/** @brief Free it and everything it holds. Accepts NULL. */
void cdc_txn_asm_destroy(cdc_txn_asm_t *a);

/** @brief Hold @p r (copied; takes over its msg, headers, ev, error) read
 *  at monotonic time @p now_ms. */
void cdc_txn_asm_add(cdc_txn_asm_t *a, const cdc_txn_rec_t *r, int64_t now_ms);

/** @brief Release whatever can go (see the file comment), then give up
 *  transactions while the held records exceed max_bytes.
 *  @returns the number of records released. */
size_t cdc_txn_asm_release(cdc_txn_asm_t *a, cdc_txn_emit_fn emit, void *opaque);

/** The collections (schema.table, ...) whose topics this member reads: a
 *  transaction missing events of another one is never taken as applied
 *  in pieces before a restart (its events may still come). */
void cdc_txn_asm_set_known(cdc_txn_asm_t *a, bool (*known)(void *opaque, const char *collection),
                           void *opaque);

/** @brief The number of partitions assigned: once the assembler holds
 *  records of each, an END at the head of its queue whose missing events
 *  every partition is past (applied in pieces before a restart) goes with
 *  what arrived of it (WARN). Until called, such an END waits. */
void cdc_txn_asm_set_assigned(cdc_txn_asm_t *a, size_t n);

/** @brief Drop everything held and forget what was released or given up
 *  (a rewind reads it again from the stored positions: none of it may be
 *  skipped as a re-delivery). */
void cdc_txn_asm_reset(cdc_txn_asm_t *a);

/** @brief For each partition with held records: its first held offset. */
void cdc_txn_asm_each_held(const cdc_txn_asm_t *a,
                           void (*fn)(void *opaque, const char *topic, int32_t partition,
                                      int64_t first_offset),
                           void *opaque);

/** Counters and gauges of the assembler. */
typedef struct cdc_txn_stats {
    size_t open;           /**< transactions with held records or a held END */
    size_t held_bytes;     /**< bytes of the held records */
    size_t held_records;   /**< held records */
    int64_t oldest_age_ms; /**< age of the oldest open transaction (0: none) */
    uint64_t applied;      /**< transactions released whole */
    uint64_t given_up;     /**< transactions given up (max_bytes, stalled) */
    uint64_t partial;      /**< transactions released whole without their dead-lettered events */
} cdc_txn_stats_t;

/** @brief Current figures at monotonic time @p now_ms. */
void cdc_txn_asm_stats(const cdc_txn_asm_t *a, int64_t now_ms, cdc_txn_stats_t *st);

/** @brief The open transaction the others wait behind (from the END that
 *  heads its queue, else the oldest, to the one whose records stand before
 *  it) at @p now_ms as "<id> (open N s,
 *  waiting for its END | its END counts N events, M arrived)" into @p buf
 *  ("" when none is open). */
void cdc_txn_asm_describe_oldest(const cdc_txn_asm_t *a, int64_t now_ms, char *buf, size_t n);

/** @brief WARN once for each open transaction older than @p after_ms: what
 *  it waits for (its END, or events END counted that did not arrive). */
void cdc_txn_asm_warn_stalled(cdc_txn_asm_t *a, int64_t now_ms, int64_t after_ms);

#endif
