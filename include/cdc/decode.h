/**
 * @file decode.h
 * @brief Turn one Kafka record into a normalized change event (event.h).
 *
 * The decoder understands Debezium envelopes written by the JsonConverter
 * (schemas.enable true or false) and by the Confluent Avro converter (schema
 * registry framing), flattened records (ExtractNewRecordState), and
 * classifies everything else (tombstone, heartbeat, transaction metadata,
 * schema change, op=m message).
 *
 * A decoder is not thread-safe: use one per consumer thread. Schemas are
 * cached inside the handle forever (registry ids are immutable; JSON schemas
 * are keyed by a hash of their exact bytes).
 */
#ifndef CDC_DECODE_H
#define CDC_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "cdc/buf.h"
#include "cdc/err.h"
#include "cdc/event.h"

/** Wire format of record values and keys. */
typedef enum cdc_format {
    CDC_FORMAT_AUTO = 0, /**< 0x00 first byte: Avro, else JSON */
    CDC_FORMAT_JSON,
    CDC_FORMAT_AVRO,
} cdc_format_t;

/** How the connector writes NUMERIC/DECIMAL values (its
 *  decimal.handling.mode). Only read for records without a schema
 *  (schemas.enable=false): a record with a schema says what it is. */
typedef enum cdc_decimal_handling {
    CDC_DECIMAL_PRECISE = 0, /**< base64 of the unscaled two's-complement
                                  big-endian value; scale from the column */
    CDC_DECIMAL_STRING,      /**< decimal text, "1234.00" */
    CDC_DECIMAL_DOUBLE,      /**< a JSON number */
} cdc_decimal_handling_t;

/** How the connector writes BYTEA values (its binary.handling.mode); only
 *  read for records without a schema. */
typedef enum cdc_binary_handling {
    CDC_BINARY_BYTES = 0,       /**< "bytes" (default): base64 */
    CDC_BINARY_BASE64,          /**< "base64": base64 */
    CDC_BINARY_BASE64_URL_SAFE, /**< "base64-url-safe": base64 with - and _ */
    CDC_BINARY_HEX,             /**< "hex": hex digits */
} cdc_binary_handling_t;

/** How the connector writes TIME and TIMESTAMP values (its
 *  time.precision.mode); only read for records without a schema, where a
 *  bare integer's unit must come from here and the column's precision. */
typedef enum cdc_time_precision {
    CDC_TIME_ADAPTIVE = 0,               /**< (0-3) digits: ms, else µs */
    CDC_TIME_ADAPTIVE_TIME_MICROSECONDS, /**< TIME: µs; TIMESTAMP as adaptive */
    CDC_TIME_CONNECT,                    /**< ms always */
} cdc_time_precision_t;

/** Decoder configuration; plain struct, zero-initialise then set fields. */
typedef struct cdc_decoder_conf {
    cdc_format_t format;
    /** Schema registry base URL ("http://host:8081", or an Apicurio
     *  ".../apis/ccompat/v7" URL); borrowed, copied by cdc_decoder_new(). */
    const char *registry_url;
    /** Apicurio 2.x framing: 0x00 + 8-byte big-endian globalId instead of
     *  Confluent's 4-byte id. */
    bool apicurio_8byte_id;
    /** unavailable.value.placeholder of the connector; NULL means Debezium's
     *  default "__debezium_unavailable_value". A "hex:" prefix gives the
     *  bytes in hex, as Debezium accepts. Borrowed, copied. */
    const char *placeholder;
    /** Per-request registry timeout in ms (0: 5000). */
    int registry_timeout_ms;
    /** Registry attempts before giving up with a retriable error (0: 3). */
    int registry_retries;
    /** Treat a null value as a delete of the key's row instead of a
     *  tombstone (topics written through ExtractNewRecordState with
     *  delete.tombstone.handling.mode=tombstone). */
    bool null_value_is_delete;
    /** The connector's decimal.handling.mode, for schemaless records. */
    cdc_decimal_handling_t decimal_handling;
    /** The connector's binary.handling.mode, for schemaless records. */
    cdc_binary_handling_t binary_handling;
    /** The connector's time.precision.mode, for schemaless records. */
    cdc_time_precision_t time_precision;
} cdc_decoder_conf_t;

/** A Kafka record header; all pointers borrowed. */
typedef struct cdc_header {
    const char *name;
    const void *value; /**< NULL for a null header value */
    size_t len;
} cdc_header_t;

/** One Kafka record as handed to the decoder; all pointers borrowed for the
 *  duration of cdc_decoder_decode(). A NULL value (or key) is a null. */
typedef struct cdc_record {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /**< -1 if none */
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    const cdc_header_t *headers;
    size_t nheaders;
} cdc_record_t;

/** What a schemaless JSON type lookup is asked: the routing fields of the
 *  record being decoded (as far as they are known; any may be NULL, e.g.
 *  schema for MySQL) and the column. All borrowed for the call. */
typedef struct cdc_type_query {
    const char *topic;  /**< the record's topic */
    const char *db;     /**< source.db or __db */
    const char *schema; /**< source.schema or __schema */
    const char *table;  /**< source.table, __table, or from the topic name */
    const char *column; /**< the JSON key */
} cdc_type_query_t;

/**
 * @brief Target column type lookup used for schemaless JSON.
 * @param type  set to a PostgreSQL type name ("numeric(10,2)", "timestamp",
 *              "timestamptz", "bytea", "jsonb", "date", "int4[]", ...) that
 *              stays valid while the record is decoded, or NULL when the
 *              target has no such column.
 * @returns 0, or -1 with *cls and errstr: the record then fails with that
 *          class (RETRIABLE: the target is unreachable, decode the record
 *          again later; never "decode without types").
 */
typedef int (*cdc_type_lookup_fn)(void *opaque, const cdc_type_query_t *q, const char **type,
                                  cdc_err_class_t *cls, char *errstr, size_t errstr_size);

/** A type lookup for one cdc_decoder_decode_with() call (nothing of it is
 *  kept by the decoder). */
typedef struct cdc_type_lookup {
    cdc_type_lookup_fn fn;
    void *opaque; /**< passed to fn; borrowed for the call */
} cdc_type_lookup_t;

typedef struct cdc_decoder_s cdc_decoder_t;

/**
 * @brief New decoder.
 * @param conf borrowed; strings are copied. NULL means all defaults.
 * @returns new handle (free with cdc_decoder_destroy()) or NULL with errstr.
 */
cdc_decoder_t *cdc_decoder_new(const cdc_decoder_conf_t *conf, char *errstr, size_t errstr_size);

/** @brief Free the decoder and its schema caches. Accepts NULL. Events
 *  already returned stay valid. */
void cdc_decoder_destroy(cdc_decoder_t *dec);

/**
 * @brief Put an Avro schema into the id cache without asking the registry
 *        (tests, offline decoding, or a schema obtained another way).
 * @param json the Avro schema text (borrowed).
 * @returns 0, or -1 with errstr when the schema is not valid Avro.
 */
int cdc_decoder_add_schema(cdc_decoder_t *dec, int64_t id, const char *json, size_t len,
                           char *errstr, size_t errstr_size);

/**
 * @brief Decode one record.
 * @param evp  on success *evp is a new event (free with cdc_event_destroy()).
 * @param cls  on failure the class: CDC_ERR_POISON (this record is bad),
 *             CDC_ERR_RETRIABLE (registry unreachable: retry the same
 *             record later), CDC_ERR_FATAL (configuration wrong).
 * @returns 0 or -1; errstr then reads
 *          "topic[partition]@offset: path: expected X, found Y[: hint]".
 */
int cdc_decoder_decode(cdc_decoder_t *dec, const cdc_record_t *rec, cdc_event_t **evp,
                       cdc_err_class_t *cls, char *errstr, size_t errstr_size);

/**
 * @brief cdc_decoder_decode() with a target type lookup for schemaless JSON
 *        (values of columns it knows are read as that type: bytea from
 *        base64, numeric, timestamps...).
 * @param lookup  borrowed for this call only; NULL: no lookup.
 * @returns as cdc_decoder_decode(); a failed lookup fails the record with
 *          the lookup's class.
 */
int cdc_decoder_decode_with(cdc_decoder_t *dec, const cdc_record_t *rec,
                            const cdc_type_lookup_t *lookup, cdc_event_t **evp,
                            cdc_err_class_t *cls, char *errstr, size_t errstr_size);

/**
 * @brief For a JSON record cdc_decoder_decode() refused: its transaction
 *        block and source table, when those can still be read (the error
 *        was elsewhere, e.g. in a column value), so that cdc-apply
 *        --transactions can count the dead-lettered event toward its
 *        source transaction.
 * @param evp set to a new event (caller frees) of kind CDC_KIND_CHANGE and
 *        op 0 that holds only the position, db, schema, table, txn_id and
 *        txn_order: never to be applied.
 * @returns 0, or -1 when they cannot be read (invalid JSON, Avro, no
 *          transaction block {id, total_order} or no source table).
 */
int cdc_decoder_salvage_txn(cdc_decoder_t *dec, const cdc_record_t *rec, cdc_event_t **evp);

/** Flags for cdc_event_to_json_ext(). */
#define CDC_EVJSON_TYPES 0x1 /**< add "types":{col:"semantic pg_type"} */

/**
 * @brief Append the one-line JSON form of @p ev (the cdc-decode output) to
 *        @p out, without a trailing newline:
 *        {"topic","partition","offset","op","db","schema","table","key",
 *         "before","after","source_ts_ms","unavailable"} for changes,
 *        {"kind":...,"topic",...} for everything else. Columns whose value is
 *        unavailable are left out of their image and named in "unavailable"
 *        (prefixed "before." when in the before image).
 * @returns 0.
 */
int cdc_event_to_json(const cdc_event_t *ev, cdc_buf_t *out);
/** @brief cdc_event_to_json() with CDC_EVJSON_* flags. */
int cdc_event_to_json_ext(const cdc_event_t *ev, cdc_buf_t *out, unsigned flags);

#endif
