/**
 * @file txn_gen.h
 * @brief A Debezium orders + order_lines stream with transaction metadata
 *        (BEGIN/END on <prefix>.transaction, the transaction block in every
 *        event), and the model of its source, for the --transactions tests
 *        and benchmark. Each order's nlines is the number of its lines in
 *        the source after every transaction.
 */
#ifndef TXN_GEN_H
#define TXN_GEN_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

/** Highest order / line id. */
#define TG_MAX 200000

typedef struct tg_order {
    bool live;
    int nlines, note;
} tg_order_t;

typedef struct tg_line {
    bool live;
    long long order_id;
    int qty;
} tg_line_t;

typedef struct tg {
    rd_kafka_t *rk; /* borrowed producer */
    int parts;      /* partitions of each data topic */
    char prefix[64], torders[128], tlines[128], ttx[128], topics[400];
    long long txid, lsn, begin_lsn, last_commit;
    long long next_order, next_line, ntxn, nevents;
    long long keep; /* tg_random_txn() leaves orders 1..keep alone */
    bool hold_last; /* tg_commit() keeps the last event for tg_produce_held() */
    tg_order_t orders[TG_MAX];
    tg_line_t lines[TG_MAX];
} tg_t;

/** @brief Start a model under topic prefix @p prefix (topics made by the caller). */
void tg_init(tg_t *g, rd_kafka_t *rk, const char *prefix, int parts);
/** @brief Open a source transaction. */
void tg_begin(tg_t *g);
/** @brief Produce the open transaction: BEGIN, its events, END. */
void tg_commit(tg_t *g);
/** @brief Events of the open transaction. */
void tg_order_create(tg_t *g, long long id, int nlines);
void tg_order_touch(tg_t *g, long long id, int dlines);
void tg_order_delete(tg_t *g, long long id);
void tg_line_create(tg_t *g, long long order_id);
void tg_line_delete(tg_t *g, long long id);
/** @brief A line whose event cannot be decoded (its qty a string where the
 *  schema says int32), its transaction block intact; not in the model. */
void tg_line_create_poison(tg_t *g, long long order_id);
/** @brief Produce the event tg_commit() held back (tg_t.hold_last). */
void tg_produce_held(tg_t *g);
/** @brief One random multi-table transaction (create with 1-4 lines, a
 *  line added or removed, or an order deleted with its lines). */
void tg_random_txn(tg_t *g);
/** @brief Wait for every record to be delivered. */
void tg_flush(tg_t *g);
/** @brief The source's rows as "id:nlines:note;..." and
 *  "id:order_id:qty;..." (new strings, caller frees), ordered by id. */
char *tg_expect_orders(const tg_t *g);
char *tg_expect_lines(const tg_t *g);

#endif
