/* The Kafka source's state, private to consumer/: shared by source.c
 * (the group member: rebalances, polling, commits, lag) and
 * source_positions.c (where a partition starts: the stored positions, and
 * a position gone from the log). */
#ifndef CDC_SOURCE_INT_H
#define CDC_SOURCE_INT_H

#include "source.h"

#include "cdc/util.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct part {
    char *topic;
    int32_t partition;
    int64_t stored;      /* next_offset in the state table, -1 if none */
    int64_t accept_from; /* lowest offset we take from the fetch queue */
    bool gap;            /* a fetch found its position gone from the log */
} part_t;

/* A rebalance served inside rd_kafka_consume_batch_queue(): handled once
 * the call returned (see fetch() in source.c). */
typedef struct pending_rebalance {
    rd_kafka_resp_err_t err;
    rd_kafka_topic_partition_list_t *list; /* owned copy */
} pending_rebalance_t;

struct cdc_source_s {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q; /* the consumer queue (owned reference) */
    /* Fetched in one batch call, not yet handed out: buf[bnext, bn). */
    rd_kafka_message_t **buf;
    size_t bn, bnext;
    size_t bmax;   /* how many the next call may take (bounded by bytes) */
    bool in_fetch; /* inside rd_kafka_consume_batch_queue() */
    pending_rebalance_t *pend;
    size_t npend, pendcap;
    uint64_t down_events;       /* all-brokers-down errors seen */
    cdc_source_positions_t pos; /* the stored positions, through the program */
    cdc_source_revoke_cb *revoke;
    void *opaque;
    part_t *parts;
    size_t nparts, cap;
    uint64_t rebalances;
    size_t last_hit;
    volatile sig_atomic_t *stop;
    bool skip_gaps;
    char *group, *schema;
    cdc_source_gap_cb *gap_cb;
    /* Set when a gap stops us (--on-gap fail): the one-line reason. */
    char error[CDC_ERRSTR_SIZE];
    /* Partitions with part_t.gap set. */
    size_t ngaps;
    /* Advisory commits: at most one in flight, later positions coalesced
     * here until it completes (see cdc_source_committed). */
    bool commit_inflight;
    bool closing;
    rd_kafka_topic_partition_list_t *commit_next;
    /* Kafka connectivity, from librdkafka's own signals (served on the
     * polling thread): the statistics' broker states, the all-brokers-down
     * error, and assignments and records, which only come from a broker. */
    bool kafka_up;    /* a broker answers now, as far as we know */
    bool kafka_seen;  /* a broker has answered at least once */
    char *brokers;    /* the bootstrap list, for messages */
    bool down_warned; /* the all-down warning before the first answer */
    /* The group delivered an assignment (an assign callback ran): see
     * cdc_source_destroy for why that matters. */
    bool ever_assigned;
};

/** The partition's entry, or NULL when it is not assigned. */
part_t *cdc_source_find_part(cdc_source_t *src, const char *topic, int32_t partition);

/** Drop the fetched records of @p topic [@p partition] not yet handed out:
 *  called when the partition moves (seek, assignment), so that nothing
 *  read before is handed out after. */
void cdc_source_drop_buffered(cdc_source_t *src, const char *topic, int32_t partition);

/** Read the stored positions of the partitions in @p list (checked for a
 *  gap) and set them as the list's offsets; retries until the target
 *  answers. Returns 0, or -1 on a stop request or a gap that stops us
 *  (src->error). */
int cdc_source_load_positions(cdc_source_t *src, rd_kafka_topic_partition_list_t *list);

#endif
