/**
 * @file dead_letter_topic.h
 * @brief --dead-letter-topic: a copy of every dead letter on a Kafka
 *        topic, as Kafka Connect's errors.deadletterqueue.topic.name
 *        writes it (the record's key, value and headers as read, plus
 *        the __connect.errors.* context headers).
 *
 * Part of cdc-apply. The state table row (dead_letter.c) stays the
 * durable record, written in the transaction that moves the position;
 * the topic copy is produced after that commit, by its own idempotent
 * producer (acks=all), and waited for. A copy that cannot be delivered is
 * logged and counted (cdc_dead_letter_topic_total{result="failed"}): the
 * table still holds the record. Not thread-safe (the loop's thread only).
 */
#ifndef CDC_DEAD_LETTER_TOPIC_H
#define CDC_DEAD_LETTER_TOPIC_H

#include <stddef.h>

#include "apply_metrics.h"
#include "batch.h"
#include "cdc/config.h"

typedef struct cdc_dlq cdc_dlq_t;

/**
 * @brief The producer for --dead-letter-topic of @p cfg (borrowed), with
 *        --brokers and the -X properties.
 * @param am  where deliveries are counted (borrowed; outlives the handle).
 * @returns new; NULL with errstr empty when the option is not set, or with
 *          errstr when a property is refused.
 */
cdc_dlq_t *cdc_dlq_new(const cdc_config_t *cfg, cdc_apply_metrics_t *am, char *errstr,
                       size_t errstr_size);

/** @brief Wait (at most 10 s) for what is still queued, then free.
 *  Accepts NULL. */
void cdc_dlq_destroy(cdc_dlq_t *dlq);

/**
 * @brief Produce the dead letters among the first @p upto items of @p b
 *        (borrowed; committed to the target just now) and wait for their
 *        delivery reports (at most 30 s; later reports are counted when
 *        they come). Accepts a NULL @p dlq (nothing to do).
 */
void cdc_dlq_produce(cdc_dlq_t *dlq, const cdc_batch_t *b, size_t upto);

#endif
