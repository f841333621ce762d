/**
 * @file loadgen.h
 * @brief cdc-loadgen internals: the fixed `orders` column model and the
 *        Debezium (PostgreSQL connector 2.4.x) record encoders for JSON with
 *        schema, JSON without schema, and Confluent-framed Avro.
 *
 * Private to devstack/: the program and its test are the only users. The
 * encoders never touch the network or the database; they turn rows read back
 * from the source (text as PostgreSQL printed it, under the session settings
 * of CDC_PG_SESSION_SETTINGS) into record bytes.
 */
#ifndef CDC_LOADGEN_H
#define CDC_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/buf.h"

/** Columns of the generated table, in DDL order (see cdc_loadgen_ddl()). */
#define CDC_LOADGEN_NCOLS 13
/** Index of the TOASTable `note` column. */
#define CDC_LOADGEN_COL_NOTE 7
/** A `note` at least this long is stored out of line (STORAGE EXTERNAL and
 *  a tuple over TOAST_TUPLE_THRESHOLD, ~2 KB), so an UPDATE that leaves it
 *  alone sends it as "unchanged toast" and Debezium prints the placeholder. */
#define CDC_LOADGEN_TOAST_MIN 2100

/** Debezium's default unavailable.value.placeholder. */
#define CDC_LOADGEN_PLACEHOLDER "__debezium_unavailable_value"

typedef enum cdc_loadgen_format {
    CDC_LOADGEN_JSON = 0,      /**< JsonConverter, schemas.enable=true */
    CDC_LOADGEN_JSON_NOSCHEMA, /**< JsonConverter, schemas.enable=false */
    CDC_LOADGEN_AVRO,          /**< AvroConverter: 0x00 + int32 id + datum */
} cdc_loadgen_format_t;

/** One row image. Values are PostgreSQL text output of the select list
 *  (cdc_loadgen_select_list()); NULL is SQL NULL. */
typedef struct cdc_loadgen_row {
    char *v[CDC_LOADGEN_NCOLS]; /**< owned (cdc_loadgen_row_clear frees) */
    bool key_only;              /**< DEFAULT-identity delete: only the PK is known */
    bool note_unavailable;      /**< unchanged out-of-line note: placeholder */
} cdc_loadgen_row_t;

/** The `source` block of one event (io.debezium.connector.postgresql.Source). */
typedef struct cdc_loadgen_source {
    const char *db;          /**< borrowed */
    const char *snapshot;    /**< "true", "last" or NULL for "false"; borrowed */
    int64_t ts_ms;           /**< commit time of the source transaction */
    int64_t txid;            /**< txid_current() of that transaction */
    int64_t lsn;             /**< WAL insert position right after the change */
    int64_t last_commit_lsn; /**< previous commit LSN, -1 for null */
} cdc_loadgen_source_t;

/** One change event (value side). */
typedef struct cdc_loadgen_event {
    char op;                         /**< c u d r t */
    const cdc_loadgen_row_t *before; /**< borrowed, may be NULL */
    const cdc_loadgen_row_t *after;  /**< borrowed, may be NULL */
    cdc_loadgen_source_t src;
    int64_t ts_ms; /**< connector processing time */
} cdc_loadgen_event_t;

typedef struct cdc_loadgen_enc_s cdc_loadgen_enc_t;

/** @brief The CREATE TABLE statement for @p qualified (a quoted
 *  schema.table; borrowed), appended to @p out. */
void cdc_loadgen_ddl(cdc_buf_t *out, const char *qualified);

/** @brief SQL select list (static) that yields the CDC_LOADGEN_NCOLS
 *  columns in the text forms the encoders expect, then the WAL insert LSN. */
const char *cdc_loadgen_select_list(void);

/**
 * @brief New encoder for one topic.
 * @param table NULL for the heartbeat topic `__debezium-heartbeat.<prefix>`;
 *              otherwise the data topic `<prefix>.<schema>.<table>`.
 * All strings are copied. Free with cdc_loadgen_enc_destroy().
 */
cdc_loadgen_enc_t *cdc_loadgen_enc_new(cdc_loadgen_format_t fmt, const char *prefix,
                                       const char *schema, const char *table);
/** @brief Free. Accepts NULL. */
void cdc_loadgen_enc_destroy(cdc_loadgen_enc_t *enc);
/** @brief Topic name (borrowed, lives as long as @p enc). */
const char *cdc_loadgen_enc_topic(const cdc_loadgen_enc_t *enc);
/** @brief Avro schema JSON (borrowed) of the key (@p value false) or value. */
const char *cdc_loadgen_enc_avro_schema(const cdc_loadgen_enc_t *enc, bool value);
/** @brief Registry ids to put in the Confluent framing. */
void cdc_loadgen_enc_set_ids(cdc_loadgen_enc_t *enc, int32_t key_id, int32_t value_id);

/** @brief Key record for primary key text @p id (data topics) into @p out
 *  (reset first). For the heartbeat topic @p id is ignored. */
void cdc_loadgen_enc_key(const cdc_loadgen_enc_t *enc, const char *id, cdc_buf_t *out);
/** @brief Value record of @p ev into @p out (reset first).
 *  Returns 0, or -1 when a stored value cannot be encoded (errstr says which). */
int cdc_loadgen_enc_value(const cdc_loadgen_enc_t *enc, const cdc_loadgen_event_t *ev,
                          cdc_buf_t *out, char *errstr, size_t errstr_size);
/** @brief Heartbeat value {ts_ms} into @p out (reset first). */
void cdc_loadgen_enc_heartbeat(const cdc_loadgen_enc_t *enc, int64_t ts_ms, cdc_buf_t *out);

/** @brief Free the values of @p row and zero it. */
void cdc_loadgen_row_clear(cdc_loadgen_row_t *row);

/** @brief Append @p len bytes as a JSON string literal. With @p bytes_only,
 *  every byte >= 0x80 is escaped too (binary payloads in --print). */
void cdc_loadgen_json_str(cdc_buf_t *out, const char *s, size_t len, bool bytes_only);

#endif
