/**
 * @file decode_int.h
 * @brief Internals shared by the decode/ sources: the schema tree both the
 *        JSON (Connect schema) and the Avro front ends compile to, the
 *        per-record decoding context, and the value formatters.
 *
 * Calls go one way (no arrow points back up):
 *
 *   decoder.c       the handle and cdc_decoder_decode(): reads the framing
 *     |             (frame.c), obtains the schema (schema_cache.c), picks a
 *     |             front end, assembles the event (record.c)
 *     +--> schema_cache.c --> registry.c (HTTP), json_schema.c /
 *     |                       avro_schema.c (schema text -> dsch_t tree;
 *     |                       avro_plan.c: each Avro record's decode plan)
 *     +--> frame.c     Schema Registry header, {"schema","payload"} spans
 *     +--> front ends, given the schema and the bytes, only walk bytes:
 *            jscan.c (single-pass JSON), json.c + json_hint.c (jansson),
 *            avro.c (binary datum)
 *              |
 *              +--> classify.c     the record kind, one rule set for all
 *              +--> json_scalar.h/.c  one JSON scalar formatter (both JSON
 *              |                   paths; the common types inline)
 *              +--> record.c       text blob, path/errors, columns, source
 *              |                   and metadata blocks, the final event
 *              +--> types.c, placeholder.c, schema.c (leaf helpers)
 *
 * Front ends never fetch a schema and never call into decoder.c; what they
 * need of the configuration is in the context (dctx_t.opts). avro_generic.c
 * (avro-c's reader, for the bench, cross-check and fuzzer only) asks the
 * same classifier.
 */
#ifndef CDC_DECODE_INT_H
#define CDC_DECODE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "cdc/buf.h"
#include "cdc/decode.h"

/* ---- arena: schemas live in one per cache entry, freed together ---- */

typedef struct darena_chunk darena_chunk_t;
typedef struct darena {
    darena_chunk_t *head;
} darena_t;

void *darena_alloc(darena_t *a, size_t n); /* zeroed */
char *darena_strndup(darena_t *a, const char *s, size_t n);
char *darena_strdup(darena_t *a, const char *s);
void darena_free(darena_t *a);

/* ---- schema tree ---- */

typedef enum dtype {
    DT_NULL = 0,
    DT_BOOL,
    DT_INT8,
    DT_INT16,
    DT_INT32,
    DT_INT64,
    DT_FLOAT32,
    DT_FLOAT64,
    DT_STRING,
    DT_BYTES,
    DT_ARRAY,
    DT_MAP,
    DT_STRUCT,
    DT_UNION, /* Avro only */
    DT_ENUM,  /* Avro only: symbol index on the wire */
    DT_FIXED, /* Avro only */
} dtype_t;

/* Semantic types we convert; anything else is formatted by its base type. */
typedef enum dsem {
    SEM_NONE = 0,
    SEM_DATE,
    SEM_TIME,
    SEM_MICROTIME,
    SEM_NANOTIME,
    SEM_TIMESTAMP,
    SEM_MICROTS,
    SEM_NANOTS,
    SEM_ZONEDTS,
    SEM_ZONEDTIME,
    SEM_MICRODURATION,
    SEM_INTERVAL,
    SEM_ISODATE,
    SEM_ISOTIME,
    SEM_ISOTS,
    SEM_DECIMAL,
    SEM_VSDECIMAL,
    SEM_JSON,
    SEM_UUID,
    SEM_XML,
    SEM_ENUM,
    SEM_ENUMSET,
    SEM_BITS,
    SEM_YEAR,
    SEM_GEOMETRY,
    SEM_GEOGRAPHY,
    SEM_POINT,
    SEM_LTREE,
    SEM_TSVECTOR,
    SEM_CDATE,
    SEM_CTIME,
    SEM_CTS,
    SEM_OTHER,
} dsem_t;

typedef struct dsch dsch_t;
struct daplan;
typedef struct dfield {
    const char *name;
    dsch_t *sch;
} dfield_t;

struct dsch {
    dtype_t type;
    bool optional;
    dsem_t sem;
    const char *name;     /* connect name / Avro full name, or NULL */
    const char *semantic; /* what cdc_col_t.semantic shows */
    const char *pg_type;
    int scale;
    bool has_scale;
    int64_t bits_len; /* Bits "length" parameter, -1 if absent */
    int varchar_len;  /* STRING of a VARCHAR source column: its length (the
                         __debezium.source.column.* parameters), else 0 */
    dsch_t *items;    /* ARRAY */
    dsch_t *values;   /* MAP */
    dfield_t *fields; /* STRUCT */
    size_t nfields;
    bool dup_fields;   /* STRUCT: two fields share a name (JSON schemas) */
    dsch_t **branches; /* UNION */
    size_t nbranches;
    const char **symbols; /* ENUM */
    size_t nsymbols;
    size_t fixed_size; /* FIXED */
    /* STRUCT: what dcol_add() copies per column (each field's name, and its
     * unwrapped schema's semantic and pg_type) as one NUL-separated block
     * built by dsch_finish(), copied into a record's text blob once per
     * record by dtb_names(); names_at[3 * i + k] is field i's name (k 0),
     * semantic (1) and pg_type (2) offset in it, UINT32_MAX for none. */
    char *names;
    size_t names_len;
    uint32_t *names_at;
    /* Avro records: what avro.c needs of each field, worked out once per
     * schema (da_plan_record()) instead of once per datum. */
    const struct daplan *aplan;
};

/** Map a connect.name to a semantic id (SEM_OTHER for unknown names). */
dsem_t dsch_sem_of(const char *name);
/** Fill semantic and pg_type of @p s (after its children are set). */
void dsch_finish(darena_t *a, dsch_t *s);
/** Note the propagated source type of a string (column.propagate.source.type):
 *  a VARCHAR of @p length makes pg_type "character varying(length)". */
void dsch_source_type(dsch_t *s, const char *type, int length);
/** Set pg_type numeric(p,s) when the precision is known. */
void dsch_set_numeric(darena_t *a, dsch_t *s, int precision);
/** For ["null",T] unions: T, else @p s itself. */
const dsch_t *dsch_unwrap(const dsch_t *s);
/** Field of a struct by name, NULL if absent. */
const dfield_t *dsch_field(const dsch_t *s, const char *name);

/** Compile a Connect (JsonConverter) schema object. NULL + err on error. */
dsch_t *dj_compile_schema(darena_t *a, json_t *js, char *err, size_t errsz);
/** Compile an Avro schema text. NULL + err on error. */
dsch_t *da_compile_schema(darena_t *a, const char *text, size_t len, char *err, size_t errsz);

/** The role of an Avro record's field when the record is an envelope (or a
 *  metadata record): what da_decode_value() does with it. */
typedef enum darole {
    DR_OTHER = 0,
    DR_BEFORE,
    DR_AFTER,
    DR_SOURCE,
    DR_TRANSACTION,
    DR_OP,
    DR_TS_MS,
} darole_t;

/** One field of an Avro record as the datum decoder reads it. */
typedef struct dafield {
    const dsch_t *u; /* dsch_unwrap() of the field's schema */
    /* The column's name, semantic and pg_type as offsets into the
     * record's string pack (daplan_t.pack), DOFF_NONE when absent. */
    size_t name, sem, pg;
    bool optional; /* cdc_col_t.optional */
    bool ph;       /* the placeholder has a text form for this type */
    bool ph_text;  /* ... and it is the placeholder's bytes (dph_t.raw):
                      a string or enum */
    bool meta;     /* dflat_is_meta(): a flattened row's metadata field */
    darole_t role;
} dafield_t;

/** The decode plan of one Avro record schema. */
typedef struct daplan {
    dafield_t *f;     /* one per field, in the record's order */
    const char *pack; /* the fields' names, semantic and pg_type strings,
                         each NUL-terminated: copied into an event at once */
    size_t pack_len;
    unsigned shape; /* dclass_field() of every field (the classifier's) */
} daplan_t;

/** Build the plan (s->aplan) of Avro record @p s, once the whole tree it
 *  is part of is compiled (its fields' types are final). */
void da_plan_record(darena_t *a, dsch_t *s);

/* ---- placeholders (placeholder.c) ---- */

typedef struct dph {
    cdc_buf_t raw;       /* the placeholder bytes */
    cdc_buf_t forms[10]; /* text forms, see placeholder.c */
} dph_t;
void dph_init(dph_t *ph, const char *placeholder);
void dph_free(dph_t *ph);
/** Does @p text equal the placeholder form of a value of schema @p s
 *  (any form when @p s is NULL)? */
bool dph_match(const dph_t *ph, const dsch_t *s, const char *text, size_t len);

/* ---- per-record context ---- */

#define DOFF_NONE ((size_t)-1)

typedef struct scol {
    size_t name, text, sem, pg; /* offsets into the text blob or DOFF_NONE */
    size_t len;
    cdc_val_state_t state;
    bool optional;
} scol_t;

typedef struct srow {
    scol_t *v;
    size_t n, cap;
} srow_t;

/** Small name -> text list for the source/transaction blocks and the
 *  top-level scalars of metadata records. */
typedef struct dkv {
    const char *name; /* borrowed from the schema/json, valid while decoding */
    size_t text;      /* offset or DOFF_NONE for null */
} dkv_t;
#define DKV_MAX 48
typedef struct dkvs {
    dkv_t v[DKV_MAX];
    size_t n;
} dkvs_t;

/* 128 segments of at least two characters (".x", "[0]") fill the 255
 * characters an error message shows of a path: deeper ones were never seen. */
#define DPATH_MAX 128

/** What the front ends need of the decoder's configuration (owned by the
 *  decoder, read-only while a record is decoded). */
typedef struct dopts {
    cdc_decimal_handling_t dec_mode; /* the connector modes, for schemaless */
    cdc_binary_handling_t bin_mode;  /* records (cdc_decoder_conf_t) */
    cdc_time_precision_t time_mode;
    dph_t ph; /* the unavailable-value placeholder */
} dopts_t;

/* Schema strings (column names, semantic names, PostgreSQL types) are copied
 * into each event so it owns them; the same pointer (the after image shares
 * names with the before image and the key, many columns share a type) is
 * copied once per record. Keyed by the pointer, which is only sound for
 * schema-owned strings that cannot be freed while the record is decoded. */
#define DINTERN_SLOTS 256
typedef struct dintern {
    uint32_t gen; /* record counter: entries of older records are stale */
    struct {
        const char *s;
        size_t off;
        uint32_t gen;
    } slot[DINTERN_SLOTS];
} dintern_t;
/** Forget the interned offsets (a new record, the text blob cut back, or
 *  cached schemas freed). */
void dintern_reset(dintern_t *in);

typedef struct dctx {
    const dopts_t *opts;
    dintern_t *intern;
    const cdc_type_lookup_t *lookup; /* this call's (cdc_decoder_decode_with), or NULL */
    const cdc_record_t *rec;
    cdc_buf_t *tb;      /* the event's text blob */
    cdc_buf_t *scratch; /* decoder-owned scratch buffers (DSCRATCH_*) */
    srow_t *tmprow;     /* decoder-owned row for blocks read as name/text */
    char *errstr;
    size_t errstr_size;
    cdc_err_class_t cls;
    int depth;

    cdc_kind_t kind;
    char op;
    size_t topic, connector, db, schema, table, snapshot, txn_id, txn_status;
    bool has_key, has_before, has_after;
    srow_t *key, *before, *after;
    int64_t source_ts_ms, source_ts_us, ts_ms, lsn, txid, txn_event_count, txn_order;
    bool txn_has_coll; /* an END's data_collections was an array (DSCRATCH_TXNC) */
    /* The jansson path's exact text of the payload's real numbers and
     * integers beyond int64 (json.c), or NULL. */
    struct dnums *nums;
    size_t pathlen;
    /* Where in the record we are, for error messages: a stack of segments
     * (field names, borrowed until popped, or array indexes), turned into
     * "value.after.tags[2]" only when a record fails. Last member: the
     * single-pass scanner saves and restores everything before it. */
    struct dseg {
        const char *name; /* NULL: index */
        size_t idx;
    } path[DPATH_MAX];
} dctx_t;

/* Decoder-owned scratch buffers, reused across records so the hot path
 * does not allocate: unescaped JSON strings, base64-decoded bytes,
 * NUL-terminated copies of JSON key names (reserved up front, so pointers
 * into it stay put while one record is decoded), and one array element's
 * text before its PostgreSQL array quoting. */
/* DSCRATCH_TXNC, an END's data_collections, shares DSCRATCH_ELEM: that is
 * written only by the JSON scanner's array elements of data events, never
 * while a transaction-topic record's entries are collected (reset first). */
enum {
    DSCRATCH_STR = 0,
    DSCRATCH_BIN,
    DSCRATCH_NAMES,
    DSCRATCH_ELEM,
    DSCRATCH_N,
    DSCRATCH_TXNC = DSCRATCH_ELEM
};

/* An END record's data_collections entry while it is decoded: its name an
 * offset into the text blob. Kept in DSCRATCH_TXNC; only transaction-topic
 * records write it, so data events pay nothing for it (and the decoder
 * keeps its size). */
typedef struct dtxncoll {
    size_t name;
    int64_t count;
} dtxncoll_t;
/** Append one data_collections entry, its name at @p name in the text blob. */
void dtxn_coll_add(dctx_t *c, size_t name, int64_t count);

/* ---- inline buffer writes: the per-value hot path must not pay a call
 * into core/buf.c per byte ---- */

/** Room for @p n more bytes (plus the NUL); returns the write position. */
static inline char *dbuf_room(cdc_buf_t *b, size_t n)
{
    if (b->len + n + 1 > b->cap)
        cdc_buf_reserve(b, n);
    return b->data + b->len;
}

/** Commit @p n bytes written at dbuf_room() and keep the NUL invariant. */
static inline void dbuf_commit(cdc_buf_t *b, size_t n)
{
    b->len += n;
    b->data[b->len] = '\0';
}

static inline void dbuf_putc(cdc_buf_t *b, char ch)
{
    char *w = dbuf_room(b, 1);
    w[0] = ch;
    dbuf_commit(b, 1);
}

static inline void dbuf_append(cdc_buf_t *b, const void *s, size_t n)
{
    char *w = dbuf_room(b, n);
    if (n)
        memcpy(w, s, n);
    dbuf_commit(b, n);
}

/* ---- record building (record.c) ---- */

/* text blob helpers */
size_t dtb_str(dctx_t *c, const char *s, size_t n);
size_t dtb_cstr(dctx_t *c, const char *s);
/** The offset of @p n bytes at @p s (a schema-owned blob, NULs allowed)
 *  in the text blob: copied once per record, like the interned strings. */
size_t dtb_intern_blob(dctx_t *c, const char *s, size_t n);
const char *dtb_get(const dctx_t *c, size_t off);

/* path helpers: push returns the old length to restore */
size_t dpath_push(dctx_t *c, const char *seg);
size_t dpath_push_idx(dctx_t *c, size_t i);
void dpath_pop(dctx_t *c, size_t old);

/** Fail the record: "topic[p]@o: <path>: <fmt...>"; returns -1. */
int derr(dctx_t *c, cdc_err_class_t cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Add a column to @p row with its text taken from c->tb[start..] (the
 *  caller formatted it there); handles the placeholder check. @p s may be
 *  NULL (schemaless); @p hint_pg is the looked-up type for schemaless. */
void dcol_add(dctx_t *c, srow_t *row, const char *name, const dsch_t *s, const char *hint_pg,
              bool isnull, size_t start);
/** The state and text of column @p col whose text the caller formatted at
 *  c->tb[start..]: null, the placeholder (@p is_ph: "keep the stored
 *  value", never handed on as data, design invariant 6) or the text. */
static inline void dcol_state(dctx_t *c, scol_t *col, bool isnull, bool is_ph, size_t start)
{
    if (isnull || is_ph) {
        c->tb->len = start;
        col->state = isnull ? CDC_VAL_NULL : CDC_VAL_UNAVAILABLE;
    } else {
        col->len = c->tb->len - start;
        dbuf_putc(c->tb, '\0');
        col->state = CDC_VAL_PRESENT;
        col->text = start;
    }
}
/** The offset in c->tb of struct schema @p st's names block (dsch_t.names),
 *  copied there once per record; DOFF_NONE when @p st has none. */
size_t dtb_names(dctx_t *c, const dsch_t *st);
/** dcol_add() for field @p fi of struct schema @p st, whose names block is
 *  at @p names in c->tb (dtb_names(), not DOFF_NONE). */
void dcol_add_field(dctx_t *c, srow_t *row, const dsch_t *st, size_t fi, size_t names, bool isnull,
                    size_t start);
/** Add a column that is absent-but-unavailable or null. */
scol_t *drow_push(srow_t *row);

/** Look up the target type of a column through the call's lookup (*type
 *  NULL when there is none or it does not know the column). Returns 0, or
 *  -1 after derr() with the lookup's class. */
int dlookup(dctx_t *c, const char *column, const char **type);

/** Collect the source / transaction block values (common to both paths)
 *  into the event. */
void denv_source(dctx_t *c, const dkvs_t *kv);
void denv_transaction(dctx_t *c, const dkvs_t *kv);
/** A schema-change record: its top-level scalars @p top (databaseName) and
 *  its source block @p src (either may be empty). */
void drec_schema_change(dctx_t *c, const dkvs_t *top, const dkvs_t *src);
const char *dkv_get(const dctx_t *c, const dkvs_t *kv, const char *name);
bool dkv_has(const dkvs_t *kv, const char *name);
/** Flattened records: is this an ExtractNewRecordState metadata field? */
bool dflat_is_meta(const char *name);
/** Apply the collected flattened metadata (__op, __deleted, __table ...). */
int dflat_finish(dctx_t *c, const dkvs_t *meta);
/** Derive schema/table from the topic name when nothing else said. */
void dtopic_names(dctx_t *c);
/** The finished event: one allocation (struct, columns, text blob). */
cdc_event_t *drec_event(const dctx_t *c);

/* ---- the record classifier (classify.c) ---- */

/** Top-level fields the classifier asks about (DF_* bits). */
enum {
    DF_OP = 1u << 0,
    DF_SOURCE = 1u << 1,
    DF_BEFORE = 1u << 2,
    DF_AFTER = 1u << 3,
    DF_DDL = 1u << 4,
    DF_TABLE_CHANGES = 1u << 5,
    DF_HISTORY_RECORD = 1u << 6,
    DF_STATUS = 1u << 7,
    DF_ID = 1u << 8,
    DF_EVENT_COUNT = 1u << 9,
    DF_DATA_COLLECTIONS = 1u << 10,
    DF_TS_MS = 1u << 11,
    /** Not a field: a source object next to an object-or-null before/after
     *  image (schemaless JSON), an envelope whose op is missing. */
    DF_ENV_SHAPE = 1u << 12,
};

/** What a front end knows of a record value before walking it. */
typedef struct dshape {
    /** The value schema's name (Connect name, or Avro full name), NULL when
     *  there is none (schemaless JSON, an unnamed Connect schema). */
    const char *name;
    /** True when every record carries a name, so a name that says nothing
     *  still lets the envelope's field rule decide (Avro: the converter
     *  names an unnamed Connect struct io.confluent.connect.avro.
     *  ConnectDefault, and records have names of their own). */
    bool always_named;
    unsigned fields; /**< DF_* fields present */
    /** DF_* fields whose value has the form the kind needs: op a string,
     *  ts_ms an integer, status a string (a schema's fields: as declared),
     *  and DF_ENV_SHAPE. */
    unsigned typed;
    size_t nfields; /**< number of top-level fields */
} dshape_t;

typedef enum dclass {
    DC_ENVELOPE = 0, /* a Debezium change event (op decides change/message) */
    DC_HEARTBEAT,
    DC_TXN,
    DC_SCHEMA_CHANGE,
    DC_FLAT, /* a row (ExtractNewRecordState, or any other value) */
} dclass_t;

/** The DF_* bit of a top-level field name, 0 for others. */
unsigned dclass_field(const char *name, size_t len);
/** The kind of record @p sh is, on topic @p topic (may be NULL). */
dclass_t dclassify(const dshape_t *sh, const char *topic);

/* ---- front ends: given the schema (NULL: none) and the bytes ---- */

/** The jansson path of a JSON value / key; @p wrapped: the payload of a
 *  {"schema","payload"} message (its errors say "payload"). */
int dj_decode_value(dctx_t *c, const dsch_t *root, const char *p, size_t n, bool wrapped);
int dj_decode_key(dctx_t *c, const dsch_t *root, const char *p, size_t n, bool wrapped);
/** Single-pass payload scanner (jscan.c): 1 when the record was decoded,
 *  0 when it is not one the scanner handles exactly (the caller restores
 *  the context and uses the jansson path). Never sets an error. */
int dj_fast_value(dctx_t *c, const dsch_t *root, const char *p, size_t n);
int dj_fast_key(dctx_t *c, const dsch_t *root, const char *p, size_t n);
/* jscan_text.c: the scanner's cold helpers. */
/** Length of one strictly valid UTF-8 sequence at @p p (jansson's rules:
 *  no overlongs, no surrogates, nothing above U+10FFFF), 0 if invalid. */
size_t dj_utf8_seq(const uint8_t *p, const uint8_t *e);
/** The 4 hex digits at @p p as a number, -1 if they are not. */
int dj_hex4(const char *p, const char *e);
/** Code point @p cp as UTF-8 onto @p b. */
void dj_put_utf8(cdc_buf_t *b, uint32_t cp);
/** The Avro datum at @p p + @p hdr (the frame was read by the decoder; byte
 *  positions in messages count from @p p) of schema @p root (id @p id). */
int da_decode_value(dctx_t *c, const dsch_t *root, int64_t id, const uint8_t *p, size_t hdr,
                    size_t n);
int da_decode_key(dctx_t *c, const dsch_t *root, const uint8_t *p, size_t hdr, size_t n);

/* ---- the schemaless JSON path (json_hint.c, used by json.c) ---- */

/** Format a schemaless value: as the target column type @p pg says (NULL:
 *  generic). *isnull for a JSON null. */
int dj_fmt_hint(dctx_t *c, const char *pg, json_t *v, cdc_buf_t *out, bool *isnull);
/** Generic text of a schemaless JSON value (arrays as PostgreSQL arrays,
 *  VariableScaleDecimal objects as decimals, other objects as JSON). */
int dj_fmt_generic(dctx_t *c, json_t *v, cdc_buf_t *out);
/* json.c helpers the schemaless path shares */
int dj_mismatch(dctx_t *c, const char *expected, json_t *v);
/** A data event's `transaction` block @p t (NULL: absent): null or
 *  {id, total_order, data_collection_order} of the right types, else -1
 *  after derr() (json_txn.c). */
int dj_check_txn_block(dctx_t *c, json_t *t);
/** A transaction-topic record @p pl: status BEGIN or END, an id, an END's
 *  integer event_count, data_collections' entries; else -1 after derr(). */
int dj_check_txn_record(dctx_t *c, json_t *pl);
/** The transaction block and source table of a record that failed to
 *  decode (cdc_decoder_salvage_txn()); 0, or -1 when not readable. */
int dj_salvage_txn(dctx_t *c, const void *value, size_t len);
int dj_fmt_array(dctx_t *c, const dsch_t *items, const char *elem_pg, json_t *v, cdc_buf_t *out);
int dj_fmt_map(dctx_t *c, const dsch_t *values, json_t *v, cdc_buf_t *out);
int dj_fmt_vsdecimal(dctx_t *c, json_t *v, cdc_buf_t *out);
int dj_fmt_geometry(dctx_t *c, json_t *v, cdc_buf_t *out);
int dj_fmt_point(dctx_t *c, json_t *v, cdc_buf_t *out);
int dj_b64_bytes(dctx_t *c, json_t *v, cdc_buf_t *tmp, const char *what);
/** A real's exact source text (decimal.format=NUMERIC), NULL if unknown. */
const char *dj_num_text(dctx_t *c, json_t *v, size_t *len);

/* ---- wire framing (frame.c) ---- */

typedef struct dspan {
    const char *p;
    size_t n;
} dspan_t;

/** True when the document is exactly {"schema": X, "payload": Y}. */
bool dframe_json_split(const char *p, size_t n, dspan_t *schema, dspan_t *payload);
/** True when the message is {"schema":<bytes>,"payload":...} (JSON
 *  whitespace allowed between those tokens) with exactly the given schema
 *  bytes; *payload up to the document's last '}' (trimmed). */
bool dframe_json_prefix(const char *p, size_t n, const char *bytes, size_t len, dspan_t *payload,
                        bool *stop);
/** True when @p s is exactly one JSON value (trailing whitespace allowed). */
bool dframe_json_one_value(dspan_t s);
/** Schema Registry header: 0x00 + 4-byte (8 with @p eight) id. Returns the
 *  header length, 0 when @p p is not framed so. */
size_t dframe_avro(const uint8_t *p, size_t n, bool eight, int64_t *id);

/* ---- schema cache: both caches and the registry client (schema_cache.c) ---- */

typedef struct dcache dcache_t;
/** @p registry_url NULL or "": no registry. NULL when the HTTP client
 *  cannot be set up. */
dcache_t *dcache_new(const char *registry_url, int timeout_ms, int retries);
void dcache_destroy(dcache_t *sc);
/** Compiled JSON schema of the exact schema text @p p (cached by its hash);
 *  NULL + err when it is not a valid Connect schema. *flushed when the
 *  cache was emptied to make room (earlier schemas are freed). */
const dsch_t *dcache_json(dcache_t *sc, const char *p, size_t n, bool *flushed, char *err,
                          size_t errsz);
/** Most recently used JSON schemas: the exact schema bytes and the compiled
 *  tree, so a wrapped message whose schema text equals one of them skips the
 *  span scan and the hash. @p i from 0; NULL past the end. */
const dsch_t *dcache_json_mru(const dcache_t *sc, size_t i, const char **bytes, size_t *len);
/** Put Avro schema text @p text under @p id (kept if already there). */
int dcache_avro_add(dcache_t *sc, int64_t id, const char *text, size_t len, char *err,
                    size_t errsz);
/** Schema of registry id @p id: the cache, else the registry. NULL with
 *  *cls and err when unknown or the registry fails. */
const dsch_t *dcache_avro(dcache_t *sc, int64_t id, cdc_err_class_t *cls, char *err, size_t errsz);

/** The single-pass JSON payload scanner is on by default; tests and the
 *  differential fuzzer turn it off to compare against the jansson path. */
void ddec_set_fastpath(struct cdc_decoder_s *dec, bool on);

/* ---- registry client (registry.c, used by schema_cache.c) ---- */

typedef struct dreg dreg_t;
dreg_t *dreg_new(const char *url, int timeout_ms, int retries);
void dreg_destroy(dreg_t *r);
/** Fetch the schema text of @p id (new string in *out). Returns 0, or -1
 *  with *cls RETRIABLE (unreachable, 5xx) or POISON (unknown id). */
int dreg_fetch(dreg_t *r, int64_t id, char **out, cdc_err_class_t *cls, char *err, size_t errsz);
/** Parse a registry GET /schemas/ids/{id} response body (new string). */
int dreg_parse_response(const char *body, size_t len, char **out, char *err, size_t errsz);

/* ---- value formatters (types.c); all append to @p out ---- */

int dfmt_b64_decode(const char *s, size_t n, cdc_buf_t *out);
void dfmt_b64_encode(const uint8_t *p, size_t n, cdc_buf_t *out);
int dfmt_decimal(cdc_buf_t *out, const uint8_t *b, size_t n, int scale);
/**
 * A JSON number's exact text (decimal.format=NUMERIC) as a plain numeric
 * literal with @p scale fraction digits (scale < 0: as many as the value
 * has), by decimal string arithmetic. Returns 0; -1 if the text is not a
 * JSON number or beyond what PostgreSQL's numeric holds; -2 if it has
 * non-zero digits beyond @p scale (nothing is appended on failure).
 */
int dfmt_num_text(cdc_buf_t *out, const char *p, size_t n, int scale);
void dfmt_date(cdc_buf_t *out, int64_t days);
/** time of day; @p v in units of 10^-digits seconds */
void dfmt_time(cdc_buf_t *out, int64_t v, int digits);
void dfmt_timestamp(cdc_buf_t *out, int64_t v, int digits);
void dfmt_duration_us(cdc_buf_t *out, int64_t us);
int dfmt_zoned(cdc_buf_t *out, const char *s, size_t n);
void dfmt_double(cdc_buf_t *out, double d);
void dfmt_float(cdc_buf_t *out, float f);
void dfmt_int(cdc_buf_t *out, int64_t v);
void dfmt_bytea(cdc_buf_t *out, const uint8_t *p, size_t n);
void dfmt_bits(cdc_buf_t *out, const uint8_t *p, size_t n, int64_t length);
void dfmt_geometry(cdc_buf_t *out, const uint8_t *wkb, size_t n, bool has_srid, int64_t srid);
void dfmt_point(cdc_buf_t *out, double x, double y);
/** The members a semantic struct (VariableScaleDecimal, Geometry, Point)
 *  is read from, in the order dsem_field() numbers them. */
enum { DSF_SCALE, DSF_VALUE, DSF_WKB, DSF_SRID, DSF_X, DSF_Y, DSF_N };
/** Which DSF_* member the field @p name is; DSF_N for none of them. */
int dsem_field(const char *name);
/** One scalar member of a semantic struct as a reader found it (not
 *  found: isnull). */
typedef struct dsem_scal {
    bool isnull;
    int64_t i;
    double d;
    const uint8_t *b;
    size_t n;
} dsem_scal_t;
/** dfmt_sem_struct()'s results besides 0 and -1. */
enum { DSEM_NULLS = 1, DSEM_RANGE = 2 };
/** A reader's scalar field @p i of the struct into @p m: 0, or -1 with an
 *  error the reader has recorded. */
typedef int(dsem_member_cb)(void *arg, size_t i, dsem_scal_t *m);
/** Append semantic struct @p s (VariableScaleDecimal, Point, else
 *  Geometry/Geography) from its fields, each read by @p member.
 *  @returns 0, -1 (@p member's error), DSEM_NULLS (a decimal without scale
 *  or value) or DSEM_RANGE (a decimal PostgreSQL cannot hold, *value_n
 *  bytes): the reader words those two. */
int dfmt_sem_struct(cdc_buf_t *out, const dsch_t *s, dsem_member_cb *member, void *arg,
                    size_t *value_n);
/** A reader's rendering of field @p i of the struct into @p val: 0, or an
 *  error the reader has recorded. */
typedef int(dfmt_field_cb)(void *arg, size_t i, cdc_buf_t *val, bool *isnull);
/** Append struct @p s as JSON text of its fields (each as its PostgreSQL
 *  text, see dfmt_struct_field()), each rendered by @p field; @returns 0 or
 *  the first error of @p field. */
int dfmt_struct_json(cdc_buf_t *out, const dsch_t *s, dfmt_field_cb *field, void *arg);
/** The value of one hex digit, either case; -1 if @p ch is none. */
static inline int dfmt_hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}
/** Append one array element (already formatted) with PG array quoting. */
void dfmt_array_elem(cdc_buf_t *out, const char *s, size_t n, bool raw);
/** Append one hstore key or value with hstore quoting. */
void dfmt_hstore_str(cdc_buf_t *out, const char *s, size_t n);
/** Append the bytes as a JSON string: quote, backslash and control
 * characters escaped, everything else as is. */
void dfmt_json_str(cdc_buf_t *out, const char *s, size_t n);
/** Append one member of a struct rendered as JSON text: `,"name":` (no comma
 * for the first, @p i == 0), then null or @p val as a JSON string. */
void dfmt_struct_field(cdc_buf_t *out, size_t i, const char *name, const cdc_buf_t *val,
                       bool isnull);
/** Append element @p idx of an array (PG array text, @p raw: nested array
 * text as is) or map (hstore text, @p key of @p kn bytes; NULL key: ""),
 * with its separator; @p val is the element's text. */
void dfmt_block_elem(cdc_buf_t *out, size_t idx, bool is_map, bool raw, const char *key, size_t kn,
                     const cdc_buf_t *val, bool isnull);
/** Integer semantic types (Date, MicroTimestamp, ...) or a plain integer. */
void dfmt_int_sem(cdc_buf_t *out, dsem_t sem, int64_t v);
/** String semantic types (ZonedTimestamp, ...) or the string as is. */
void dfmt_str_sem(cdc_buf_t *out, dsem_t sem, const char *s, size_t n);
/** Bytes semantic types (Decimal, Bits) or bytea. */
int dfmt_bytes_sem(cdc_buf_t *out, const dsch_t *s, const uint8_t *p, size_t n);
/** Parse "numeric(p,s)", "timestamp(3)" ... precision/scale, -1 if none. */
int dpg_typmod(const char *pg, int which);

#endif
