/**
 * @file event.h
 * @brief The normalized change event: what decoding produces and apply,
 *        cdc-decode and the digests consume.
 *
 * Every column value is carried as the PostgreSQL text literal that, cast to
 * the column's type, is exactly the source value (Decimal "30.50",
 * MicroTimestamp "2018-06-20 15:13:16.945104", bytea "\\x0102", arrays
 * "{1,2,NULL}", json as its text). One representation serves COPY text
 * format, query parameters and the canonical digest encoding.
 *
 * All strings inside an event are owned by the event and stay valid until
 * cdc_event_destroy().
 */
#ifndef CDC_EVENT_H
#define CDC_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** What a Kafka record turned out to be. */
typedef enum cdc_kind {
    CDC_KIND_CHANGE = 0,    /**< a data change; see cdc_event_t.op */
    CDC_KIND_TOMBSTONE,     /**< null value (after a delete); skip */
    CDC_KIND_HEARTBEAT,     /**< Debezium heartbeat; source_ts_ms is its ts_ms */
    CDC_KIND_TXN,           /**< transaction metadata BEGIN/END */
    CDC_KIND_SCHEMA_CHANGE, /**< schema-change topic record; skip */
    CDC_KIND_MESSAGE,       /**< op=m logical decoding message; skip */
} cdc_kind_t;

/** State of one column value inside an image. */
typedef enum cdc_val_state {
    CDC_VAL_NULL = 0, /**< explicit SQL NULL */
    CDC_VAL_PRESENT,  /**< text holds the value */
    /** Debezium's unchanged-TOAST placeholder in any of its per-type forms:
     *  "keep the stored value", never data. */
    CDC_VAL_UNAVAILABLE,
} cdc_val_state_t;

/** One column of a key, before or after image. */
typedef struct cdc_col {
    const char *name; /**< column (field) name, as in the event */
    cdc_val_state_t state;
    const char *text; /**< PostgreSQL text literal, NUL-terminated;
                           NULL unless state == CDC_VAL_PRESENT */
    size_t len;       /**< strlen(text) (0 when text is NULL) */
    /** Debezium/Connect semantic name ("io.debezium.time.MicroTimestamp",
     *  "org.apache.kafka.connect.data.Decimal") or the plain Connect type
     *  ("int32", "string") when the field has no name; NULL when unknown
     *  (schemaless JSON without a target type hint). */
    const char *semantic;
    /** PostgreSQL type that holds the value exactly ("bigint",
     *  "numeric(10,2)", "timestamp(6)", "timestamptz", "text", "bytea",
     *  "jsonb", "int4[]", ...), used by --create-tables; NULL if unknown. */
    const char *pg_type;
    bool optional; /**< the schema allows NULL */
} cdc_col_t;

/** An image: columns in the order the event listed them. */
typedef struct cdc_row {
    cdc_col_t *cols;
    size_t ncols;
} cdc_row_t;

/** One entry of a transaction END's data_collections. */
typedef struct cdc_txn_collection {
    const char *name;    /**< data_collection: "schema.table" (MySQL "db.table") */
    int64_t event_count; /**< the transaction's events of that collection */
} cdc_txn_collection_t;

/** A decoded Kafka record. */
typedef struct cdc_event {
    cdc_kind_t kind;
    /** For CDC_KIND_CHANGE: 'c' create, 'u' update, 'd' delete, 'r' read
     *  (snapshot), 't' truncate. For flattened records the op comes from
     *  __op / __deleted (a null value is a delete). */
    char op;

    /* Position of the record; topic is owned by the event. */
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t kafka_ts_ms; /**< record timestamp, -1 if none */

    /* From the source block (or flattened __db/__schema/__table fields). */
    const char *connector; /**< "postgresql", "mysql", ... or NULL */
    const char *db;
    const char *schema; /**< NULL for MySQL */
    const char *table;

    bool has_key; /**< the Kafka key was a non-null struct */
    cdc_row_t key;
    bool has_before;
    cdc_row_t before;
    bool has_after;
    cdc_row_t after;

    int64_t source_ts_ms;    /**< commit time in the source DB, -1 if unknown */
    int64_t source_ts_us;    /**< µs precision when the event has it, else -1 */
    int64_t ts_ms;           /**< time the connector processed it, -1 if unknown */
    int64_t lsn;             /**< source.lsn, -1 if absent */
    int64_t txid;            /**< source.txId, -1 if absent */
    const char *snapshot;    /**< source.snapshot ("true","last","false",
                                  "incremental",...) or NULL */
    const char *txn_id;      /**< transaction.id, or the TXN record's id */
    const char *txn_status;  /**< "BEGIN"/"END" for CDC_KIND_TXN, else NULL */
    int64_t txn_event_count; /**< END records: event_count, else -1 */
    int64_t txn_order;       /**< transaction.total_order (1-based position of
                                  the event in its transaction), else -1 */
    /** END records: their data_collections entries, in record order (owned
     *  by the event); NULL when the record has none (null or absent), and
     *  for every other record. */
    const cdc_txn_collection_t *txn_collections;
    size_t txn_ncollections; /**< entries in txn_collections */

    void *priv_; /**< decoder-owned storage; do not touch */
} cdc_event_t;

/** @brief Free an event and every string in it. Accepts NULL. */
void cdc_event_destroy(cdc_event_t *ev);

/** @brief Find a column by exact name; borrowed, NULL if absent. */
const cdc_col_t *cdc_row_find(const cdc_row_t *row, const char *name);

/** @brief Name of a kind ("change", "tombstone", "heartbeat", "transaction",
 *  "schema_change", "message"). */
const char *cdc_kind_name(cdc_kind_t kind);

#endif
