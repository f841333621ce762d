/**
 * @file canon.h
 * @brief Canonical row encoding: one byte form per value so that equal data
 *        hashes equal whether it came from a Debezium event, the source or
 *        the target (design.md, "Canonical row encoding").
 *
 * Input is the text PostgreSQL outputs with the session settings
 * TimeZone=UTC, DateStyle=ISO, IntervalStyle=iso_8601, extra_float_digits=3,
 * bytea_output=hex, or the literal forms cdc-apply's decoder produces
 * ("2018-06-20 13:37:03.03+00", "\\x0102", "1.50", ...).
 *
 * Framing (pinned by tests/verify/test_canon.c, never change it without a
 * new version): every value is
 *
 *     tag (1 byte) | length (unsigned LEB128) | payload
 *
 * and SQL NULL is the single byte 0x00 with no length, so NULL never equals
 * '' and ('ab','c') never equals ('a','bc'). Tags group kinds whose values
 * are comparable across column types (int4 and int8 and numeric all use 'N',
 * so a column widened during a migration still hashes equal):
 *
 * Tags and payloads (tag: kinds: payload):
 *
 * - N: integers, numeric: exact decimal, no leading/trailing zeros, "-"
 *   only when < 0; `NaN`, `Infinity`, `-Infinity`.
 * - F: float4, float8: the double's shortest round-trip, C "%.Ng" with the
 *   smallest N in 15..17; a real as the double it promotes to (PostgreSQL
 *   compares real = double precision so: real 0.1 is 0.10000000149011612);
 *   -0 is "0"; `NaN`, `Infinity`, `-Infinity`.
 * - D: date: days since 1970-01-01, decimal; `infinity`, `-infinity`.
 * - T: time: microseconds since midnight, decimal.
 * - Z: timetz: "<local µs since midnight>@<UTC offset in seconds east>".
 * - P: timestamp, timestamptz: microseconds since the epoch (tz: as UTC
 *   instant; timestamp: an offset in the text ignored, as PostgreSQL
 *   does); `infinity`, `-infinity`.
 * - S: text, varchar, name, "char", citext: bytes; bpchar without trailing
 *   spaces (PostgreSQL compares char(n) that way; "char" is not padded).
 * - B: bytea: raw bytes. b: bool: `t` or `f`. U: uuid: lowercase
 *   8-4-4-4-12.
 * - J: json, jsonb: compact JSON, object keys sorted bytewise by their
 *   decoded bytes, duplicate keys: the last wins (jsonb semantics, applied
 *   to json too); numbers as exact decimals in N's form (1, 1.0, 1e0 and
 *   10e-1 are one value, as jsonb's numeric equality says), a number with
 *   an exponent beyond +-200000 (json only: beyond numeric) as written;
 *   strings decoded and written with '"', '\' and controls escaped (\b \f
 *   \n \r \t, else \u00XX), a lone surrogate as its \uxxxx escape.
 * - I: interval: total microseconds with 1 month = 30 days and 1 day =
 *   24 h: PostgreSQL's interval equality ('1 day' = '24 hours').
 * - A: arrays: concatenated framed elements (NULL markers included); a
 *   sub-array is a nested A frame; a non-default lower bound adds a
 *   leading L frame holding the "[a:b]" text.
 * - C: composites: the framed fields in attribute order, each by its type.
 * - R: ranges: `E` when empty, else the lower bracket, the two bounds framed
 *   by the subtype (an infinite bound is the NULL marker), the upper
 *   bracket.
 * - O: any other type (enums, extension types): its text output as bytes.
 *
 * A row digest is XXH3_64bits over the concatenated framed values of the key
 * columns (in key order) and then the other columns in bytewise name order.
 */
#ifndef CDC_CANON_H
#define CDC_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/buf.h"

/** Encoding kinds (what a column's values are canonicalised as). */
typedef enum cdc_canon_kind {
    CDC_CANON_OTHER = 0, /**< text output as bytes */
    CDC_CANON_INT,
    CDC_CANON_NUMERIC,
    CDC_CANON_FLOAT4,
    CDC_CANON_FLOAT8,
    CDC_CANON_DATE,
    CDC_CANON_TIME,
    CDC_CANON_TIMETZ,
    CDC_CANON_TIMESTAMP,
    CDC_CANON_TIMESTAMPTZ,
    CDC_CANON_TEXT,
    CDC_CANON_BPCHAR,
    CDC_CANON_BYTEA,
    CDC_CANON_BOOL,
    CDC_CANON_UUID,
    CDC_CANON_JSON,
    CDC_CANON_JSONB,
    CDC_CANON_INTERVAL,
    CDC_CANON_COMPOSITE, /**< a row type: fields by their own types (sub) */
    CDC_CANON_RANGE,     /**< a range: bounds by the subtype (sub[0]) */
} cdc_canon_kind_t;

/** A column's encoding: the kind of its values (of its elements for an
 *  array column). */
typedef struct cdc_canon_type {
    cdc_canon_kind_t kind;
    bool is_array;
    /** COMPOSITE: the field types in attribute order (nsub of them);
     *  RANGE: the subtype (nsub 1); NULL otherwise. Borrowed: whoever built
     *  the type (verify's plan) owns the array and keeps it alive. */
    const struct cdc_canon_type *sub;
    size_t nsub;
} cdc_canon_type_t;

/** The NULL marker byte. */
#define CDC_CANON_NULL_TAG 0x00

/**
 * @brief Type of a PostgreSQL type name: the catalog name ("int4",
 *        "timestamptz", "_int4" for arrays) or the SQL spelling
 *        ("integer", "timestamp with time zone", "character varying(10)",
 *        "text[]"). Unknown names map to CDC_CANON_OTHER; never fails.
 *
 * A bare name cannot tell pg_catalog.numeric from a user's public.numeric,
 * nor the 1-byte "char" from char(n) ("char" here is char(n); format_type's
 * quoted "\"char\"" is the 1-byte type): who reads a catalog resolves by
 * OID (cdc_canon_type_from_oid(), and cdc_pgtype_resolve() in pgtype.h
 * for domains, arrays, composites and ranges).
 * @param typname borrowed.
 */
cdc_canon_type_t cdc_canon_type_from_name(const char *typname);

/** @brief Type of a built-in type OID (pg_type.h; arrays included);
 *  CDC_CANON_OTHER for anything else (resolve it through pg_type: domains
 *  by typbasetype, arrays by typelem, composites and ranges by parts). */
cdc_canon_type_t cdc_canon_type_from_oid(unsigned int oid);

/** @brief Short name of a kind ("numeric", "timestamptz"), static. */
const char *cdc_canon_kind_name(cdc_canon_kind_t kind);

/**
 * @brief Append the framed canonical form of one value to @p out.
 * @param text value text (borrowed, need not be NUL-terminated) or NULL
 *             for SQL NULL.
 * @param len  bytes of @p text.
 * @returns 0, or -1 when the text is not a valid value of the type (errstr
 *          names the kind and the offending text prefix; @p out is left as
 *          it was).
 */
int cdc_canon_encode(cdc_canon_type_t type, const char *text, size_t len, cdc_buf_t *out,
                     char *errstr, size_t errstr_size);

/**
 * @brief Append the framed canonical form of one value given in
 *        PostgreSQL's binary send format (binary COPY, binary results):
 *        the same bytes cdc_canon_encode() produces from its text form.
 *
 * Supported kinds: INT (int2/int4/int8 by @p len), NUMERIC, FLOAT4, FLOAT8,
 * DATE, TIMESTAMP, TIMESTAMPTZ, TEXT, BPCHAR, BYTEA, BOOL, UUID; not arrays,
 * composites or ranges (they go as text: their parts are decoded by type).
 * Binary COPY avoids PostgreSQL's text output functions (timestamps and
 * numerics are costly to print), which is most of a scan's server CPU.
 * @param data value bytes (borrowed) or NULL for SQL NULL.
 * @returns 0, or -1 (unsupported kind or malformed value) with errstr.
 */
int cdc_canon_encode_binary(cdc_canon_type_t type, const void *data, size_t len, cdc_buf_t *out,
                            char *errstr, size_t errstr_size);

/** @brief True when cdc_canon_encode_binary() supports @p type. */
bool cdc_canon_binary_capable(cdc_canon_type_t type);

/** One column of a row given to cdc_canon_row_digest(). */
typedef struct cdc_canon_col {
    const char *name; /**< column name, borrowed */
    cdc_canon_type_t type;
    int key_pos;       /**< position in the key (0, 1, ...) or -1 */
    const char *value; /**< text, borrowed; NULL for SQL NULL */
    size_t len;        /**< bytes of value */
} cdc_canon_col_t;

/**
 * @brief Fill @p order (ncols entries, caller-allocated) with the canonical
 *        column order: key columns by key_pos, then the others by bytewise
 *        name order. Verify computes this once and selects columns in it.
 */
void cdc_canon_row_order(const cdc_canon_col_t *cols, size_t ncols, size_t *order);

/**
 * @brief Row digest: XXH3_64bits over the framed values in canonical order.
 * @param scratch optional buffer reused between calls (borrowed; may be NULL).
 * @returns 0, or -1 when a value does not parse (errstr names the column).
 */
int cdc_canon_row_digest(const cdc_canon_col_t *cols, size_t ncols, cdc_buf_t *scratch,
                         uint64_t *digest, char *errstr, size_t errstr_size);

/** @brief XXH3_64bits of already-encoded bytes (the digest function, named
 *  once so that every caller uses the same one). */
uint64_t cdc_canon_hash(const void *bytes, size_t len);

/**
 * @brief Order two framed values of the same column as PostgreSQL's
 *        ORDER BY (with COLLATE "C" for text) orders the original values:
 *        numbers and times numerically, text/bytea/uuid bytewise, NULL last.
 * @param a,b  one framed value each (borrowed); @p alen/@p blen are set to
 *             the frame lengths consumed, so a caller can walk a key of
 *             several columns.
 * @returns <0, 0, >0.
 */
int cdc_canon_compare(const unsigned char *a, size_t *alen, const unsigned char *b, size_t *blen);

/** @brief Parse the frame at @p p (of @p avail bytes): sets *tag, *payload
 *  and *plen. Returns the whole frame length, or 0 when truncated. A NULL
 *  frame has tag 0 and plen 0. */
size_t cdc_canon_frame(const unsigned char *p, size_t avail, unsigned char *tag,
                       const unsigned char **payload, size_t *plen);

#endif
