/**
 * @file source.h
 * @brief The Kafka side of cdc-apply: a consumer-group member whose
 *        positions come from the target's state table, not from Kafka.
 *
 * On every assignment the partitions start at the stored next offset (or
 * at the earliest record still in the log when none is stored: the normal
 * first start). A stored offset the log no longer holds is a gap: it stops
 * the consumer, or with skip_gaps is skipped and recorded; Kafka never
 * moves a position by itself (auto.offset.reset=error). Kafka's committed offsets are
 * written after each target commit only so that lag tools see progress.
 */
#ifndef CDC_SOURCE_H
#define CDC_SOURCE_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "cdc/err.h"
#include "cdc/state.h"

typedef struct cdc_source_s cdc_source_t;

/**
 * How the source reads and moves stored positions: implemented by the
 * program over its target connection, so that the source knows nothing of
 * the writer. Called on the polling thread (inside rebalance callbacks and
 * cdc_source_resolve_gap()/cdc_source_rewind()).
 */
typedef struct cdc_source_positions {
    /** Connect to where the positions are, when not connected. Returns 0,
     *  or -1 with errstr (the source retries or reports it). */
    int (*connect)(void *opaque, cdc_err_class_t *cls, char *errstr, size_t errstr_size);
    /** Stored next offset of @p topic [@p partition] into *next (-1: no
     *  row). Returns 0, or -1 with *cls and errstr. */
    int (*load)(void *opaque, const char *topic, int32_t partition, int64_t *next,
                cdc_err_class_t *cls, char *errstr, size_t errstr_size);
    /** Record a gap accepted with --on-gap skip and move the stored
     *  position (cdc_state_record_gap()). Returns 0; 1 when the position
     *  moved meanwhile; -1 with *cls: RETRIABLE whenever the connection is
     *  gone afterwards. */
    int (*record_gap)(void *opaque, const cdc_state_gap_t *gap, cdc_err_class_t *cls, char *errstr,
                      size_t errstr_size);
    /** Drop the connection after a failed call, so the next one
     *  reconnects. */
    void (*reset)(void *opaque);
    void *opaque; /**< passed to each; borrowed, must outlive the source */
} cdc_source_positions_t;

/** Called from inside poll before partitions are taken away (flush the
 *  open batch) or when they were lost (drop it). */
typedef void(cdc_source_revoke_cb)(void *opaque, bool lost);

/** Called when a gap was accepted (--on-gap skip) and recorded: the
 *  partition's position moved from @p from (-1: none stored) to @p to. */
typedef void(cdc_source_gap_cb)(void *opaque, const char *topic, int32_t partition, int64_t from,
                                int64_t to);

/** Source options. */
typedef struct cdc_source_conf {
    const char *brokers;
    const char *group;
    const char *topics;         /**< "a,b" or "^regex" */
    const char *const *rk_keys; /**< -X pairs */
    const char *const *rk_vals;
    size_t nrk;
    int queue_kbytes; /**< queued.max.messages.kbytes */
    /** When it becomes non-zero, retries inside callbacks give up (the
     *  program is shutting down); borrowed, may be NULL. */
    volatile sig_atomic_t *stop;
    /** A stored position outside the partition's log (retention ran, the
     *  topic was recreated): false stops (cdc_source_error), true skips to
     *  the log start, recorded in <state_schema>.gaps (invariant 8). */
    bool skip_gaps;
    const char *state_schema; /**< where the state tables are, for messages (borrowed) */
    cdc_source_gap_cb *gap;   /**< may be NULL; gets the opaque of cdc_source_new */
} cdc_source_conf_t;

/**
 * @brief Create the consumer and subscribe. Positions are read and moved
 *        through @p pos (copied; its opaque is borrowed).
 * @returns new handle, or NULL with errstr (bad property, bad topic list).
 */
cdc_source_t *cdc_source_new(const cdc_source_conf_t *conf, const cdc_source_positions_t *pos,
                             cdc_source_revoke_cb *revoke, void *opaque, char *errstr,
                             size_t errstr_size);

/** @brief Leave the group and free. Accepts NULL. */
void cdc_source_destroy(cdc_source_t *src);

/**
 * @brief Next message to apply, or NULL after @p timeout_ms. Records are
 *        fetched in batches (one librdkafka call takes what the queue
 *        holds) and handed out one by one; the rebalances a batch call
 *        served are handled (their callbacks run) right after it, before
 *        any of its records. Records of a partition that is revoked, newly
 *        assigned or sought are dropped from the batch, and records below
 *        the partition's accepted position (left over from before a seek)
 *        here. An event (a consumer error, a gap) returns NULL before the
 *        next record. Consumer errors are logged and counted; a fatal one
 *        sets *fatal.
 * @returns new message (rd_kafka_message_destroy) or NULL.
 */
rd_kafka_message_t *cdc_source_poll(cdc_source_t *src, int timeout_ms, bool *fatal);

/** @brief The reason the consumer must stop (a gap at assignment under
 *  --on-gap fail), one line; NULL while all is well. Borrowed. */
const char *cdc_source_error(const cdc_source_t *src);

/** @brief True when a fetch found its position gone from the log
 *  (auto.offset.reset=error): flush the open batch, then call
 *  cdc_source_resolve_gap(). */
bool cdc_source_gap_pending(const cdc_source_t *src);

/**
 * @brief Handle the pending gap after the open batch was committed: check
 *        the partition's stored position against its log again, then seek
 *        back to it, or skip and record the gap (--on-gap skip).
 * @returns 0, or -1 with errstr: the gap under --on-gap fail (exit 1), or
 *          the check could not be made (see *retriable).
 */
int cdc_source_resolve_gap(cdc_source_t *src, bool *retriable, char *errstr, size_t errstr_size);

/** @brief Calls @p fn for each assigned partition. */
void cdc_source_each_partition(cdc_source_t *src,
                               void (*fn)(void *opaque, const char *topic, int32_t partition),
                               void *opaque);

/** @brief Stored next offset of a partition as the fence expects it. */
int64_t cdc_source_expected(const cdc_source_t *src, const char *topic, int32_t partition);

/** @brief After a commit of @p b: remember the new positions and commit
 *  them to Kafka asynchronously (advisory). */
void cdc_source_committed(cdc_source_t *src, const cdc_batch_t *b, size_t upto_items);

/** @brief Forget the batch's records: read the stored positions of its
 *  partitions again and seek there. Returns 0 or -1 with errstr. */
int cdc_source_rewind(cdc_source_t *src, const cdc_batch_t *b, char *errstr, size_t errstr_size);

/** @brief The librdkafka handle (borrowed), for metrics. */
rd_kafka_t *cdc_source_rk(cdc_source_t *src);
/** @brief Number of partitions assigned now. */
size_t cdc_source_assigned(const cdc_source_t *src);
/** @brief Whether a Kafka broker answers now: false from the
 *  all-brokers-down error, or statistics (statistics.interval.ms, 1 s)
 *  showing no bootstrap or cluster broker in state UP, until a broker is UP
 *  again (or an assignment or a record comes). False before the first. */
bool cdc_source_kafka_up(const cdc_source_t *src);
/** @brief Whether a Kafka broker has answered at least once. */
bool cdc_source_kafka_seen(const cdc_source_t *src);
/** @brief The bootstrap list (borrowed), for messages. */
const char *cdc_source_brokers(const cdc_source_t *src);
/** @brief Rebalances seen so far. */
uint64_t cdc_source_rebalances(const cdc_source_t *src);
/** @brief Consumer lag of each assigned partition: calls @p fn for each
 *  with the high watermark known locally (no network round trip). */
void cdc_source_each_lag(cdc_source_t *src,
                         void (*fn)(void *opaque, const char *topic, int32_t partition,
                                    int64_t lag),
                         void *opaque);

#endif
