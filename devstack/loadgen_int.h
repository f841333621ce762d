/* cdc-loadgen's internals, shared by its files (one job each):
 *   loadgen.c         options, signals, the run summary and main
 *   loadgen_source.c  the source side: generated values, table setup, one
 *                     change made in PostgreSQL and read back (RETURNING)
 *   loadgen_kafka.c   the sink side: producing, delivery reports, topics and
 *                     the Schema Registry subjects
 *   loadgen_run.c     the workload: transactions, COMMIT, then the events
 *                     of the transaction; snapshot, TRUNCATE, heartbeats
 *   loadgen_enc.c     rows to the exact Debezium records (loadgen.h)
 */
#ifndef CDC_LOADGEN_INT_H
#define CDC_LOADGEN_INT_H

#include "loadgen.h"

#include "cdc/buf.h"
#include "cdc/config.h"

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Cleared by SIGINT/SIGTERM: the workload stops after the transaction. */
extern volatile sig_atomic_t lg_run;

/* Per-topic delivery accounting, filled by the delivery report callback. */
typedef struct lg_topic {
    const char *name; /* borrowed from the encoder */
    int nparts;       /* from metadata; 0 unknown */
    int64_t records;  /* delivered */
    int64_t *last_off;
    int nlast;
} lg_topic_t;

typedef struct lg_table {
    char *name;
    char *qname; /* quoted schema.table */
    cdc_loadgen_enc_t *enc;
    lg_topic_t topic;
    int64_t *keys; /* live primary keys; the first 5% are the hot ones */
    size_t nkeys, capkeys;
    int64_t next_id;
    char *sql_insert, *sql_update, *sql_update_note, *sql_pk, *sql_delete, *sql_old;
} lg_table_t;

/* A change made in the open source transaction, encoded after COMMIT. */
typedef struct lg_pend {
    lg_table_t *t;
    char op; /* c u d t, or 'p' for a primary-key change */
    cdc_loadgen_row_t before, after;
    bool has_before, has_after;
    int64_t lsn;
} lg_pend_t;

/* Counters per Debezium op, in this order: c u d r t. */
enum { OP_C, OP_U, OP_D, OP_R, OP_T, OP_N };

typedef struct lg {
    /* options */
    cdc_loadgen_format_t fmt;
    const char *prefix, *schema;
    bool full, toast, tombstones, print, mixed;
    int64_t events, pk_changes, truncate_at, heartbeat_ms, txn_size;
    int partitions;
    double rate;

    PGconn *conn;
    rd_kafka_t *rk;
    lg_table_t *tables;
    size_t ntables;
    cdc_loadgen_enc_t *hb_enc;
    lg_topic_t hb;
    uint64_t rng;
    char *db;
    int64_t last_commit_lsn;

    lg_pend_t *pend;
    size_t npend, cappend;
    cdc_buf_t kbuf, vbuf;

    int64_t changes, ops[OP_N], tombstones_n, heartbeats, records, delivered, failed;
    char first_err[512];
} lg_t;
/* loadgen_source.c */

/** @brief splitmix64 in [0, n) (0 for n == 0): same seed, same workload. */
unsigned lg_rndn(lg_t *lg, unsigned n);
/** @brief A statement that returns rows; NULL and errstr on failure.
 *  @return new (PQclear it). */
PGresult *lg_pg_query(lg_t *lg, const char *sql, int n, const char *const *params, char *errstr,
                      size_t errstr_size);
/** @brief A statement (or several) without parameters. */
int lg_pg_exec(lg_t *lg, const char *sql, char *errstr, size_t errstr_size);
/** @brief Integer cell, -1 for NULL. */
int64_t lg_res_i64(const PGresult *res, int row, int col);
/** @brief Copy one result row (select list order) into @p row (new values);
 *  @return its LSN. */
int64_t lg_row_from_res(const PGresult *res, int r, cdc_loadgen_row_t *row);
/** @brief Append a change to the open transaction's list. @return borrowed. */
lg_pend_t *lg_pend_add(lg_t *lg, lg_table_t *t, char op);
/** @brief Create (or with @p reset recreate) the table, read its keys and
 *  prepare the SQL of its changes. */
int lg_table_setup(lg_t *lg, lg_table_t *t, bool reset, char *errstr, size_t errstr_size);
/** @brief Make one change (or a primary-key change) in the open
 *  transaction; @p pv / @p pp are the caller's parameter buffers. */
int lg_do_change(lg_t *lg, lg_table_t *t, bool pk_change, cdc_buf_t *pv, const char **pp,
                 char *errstr, size_t errstr_size);

/* loadgen_kafka.c */

/** @brief Produce one record (value NULL = tombstone, key NULL = truncate);
 *  without a producer, print it only. */
int lg_produce(lg_t *lg, lg_topic_t *tp, const cdc_buf_t *key, const cdc_buf_t *val,
               const char *hname, const char *hval, char *errstr, size_t errstr_size);
/** @brief Create the producer (and with --partitions the topics). */
int lg_kafka_setup(lg_t *lg, const cdc_config_t *cfg, char *errstr, size_t errstr_size);
/** @brief Register every topic's key and value schema; set the encoders' ids. */
int lg_registry_setup(lg_t *lg, const char *url, char *errstr, size_t errstr_size);

/* loadgen_run.c */

/** @brief Emit op=r records for the rows already in the tables. */
int lg_do_snapshot(lg_t *lg, char *errstr, size_t errstr_size);
/** @brief Produce one heartbeat record. */
int lg_heartbeat(lg_t *lg, char *errstr, size_t errstr_size);
/** @brief The --events changes, in transactions of --txn-size. */
int lg_run_workload(lg_t *lg, char *errstr, size_t errstr_size);

#endif
