/**
 * @file model_gen.h
 * @brief apply-model's generator and model: random Debezium (PostgreSQL
 *        connector) streams over random tables, and an independent model of
 *        what the target must hold after each record.
 *
 * Written for the test only and sharing no code with what it checks: its
 * own Connect JSON encoder (compact, JsonConverter field order), base64,
 * Decimal and time encodings, and PostgreSQL literals computed from the
 * same raw random values.
 *
 * The generator keeps the source's true state per table and emits what
 * Debezium would for each change of it; every record it emits is also fed
 * to the model, which applies Debezium's documented semantics
 * (debezium-format.md §4.1, §4.4, §6): c/r/u upsert from after, a
 * placeholder keeps the stored value, d deletes by key, a tombstone does
 * nothing, t empties the table. At the end the model must equal the source
 * state (a check of the generator) and the target must equal the model.
 */
#ifndef MODEL_GEN_H
#define MODEL_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/** @brief A xorshift64* stream: the seed replays everything. */
typedef struct mg_rng {
    uint64_t s;
} mg_rng_t;

/** @brief Next 64 random bits. */
uint64_t mg_next(mg_rng_t *r);
/** @brief Uniform in [lo, hi]. */
int64_t mg_range(mg_rng_t *r, int64_t lo, int64_t hi);
/** @brief True with probability @p pct percent. */
bool mg_chance(mg_rng_t *r, int pct);

/** Column kinds: the source type and Debezium's encoding of it. */
typedef enum mg_type {
    MG_INT8,    /**< bigint, int64 */
    MG_INT4,    /**< integer, int32 */
    MG_BOOL,    /**< boolean */
    MG_TEXT,    /**< text, string (TOASTable) */
    MG_JSONB,   /**< jsonb, io.debezium.data.Json (TOASTable) */
    MG_BYTEA,   /**< bytea, bytes as base64 (TOASTable) */
    MG_DEC,     /**< numeric(18,s), org.apache.kafka.connect.data.Decimal */
    MG_VDEC,    /**< numeric, io.debezium.data.VariableScaleDecimal */
    MG_DATE,    /**< date, io.debezium.time.Date */
    MG_TS,      /**< timestamp(6), io.debezium.time.MicroTimestamp */
    MG_TSTZ,    /**< timestamptz, io.debezium.time.ZonedTimestamp */
    MG_TIME,    /**< time(6), io.debezium.time.MicroTime */
    MG_TEXTARR, /**< text[], array of string (TOASTable) */
    MG_INTARR,  /**< integer[], array of int32 */
    MG_NTYPES
} mg_type_t;

/** @brief One column. Key columns come first in a table. */
typedef struct mg_col {
    char name[24];
    mg_type_t type;
    bool notnull;
    int scale; /**< MG_DEC only */
} mg_col_t;

/** @brief One value: its PostgreSQL input literal (NULL: SQL NULL) and its
 *  Debezium JSON payload form (owned reference; json null for NULL). */
typedef struct mg_val {
    char *lit;
    json_t *js;
    bool big; /**< large enough to be TOASTed out of line in the source */
} mg_val_t;

/** @brief Rows by key (a chained hash), with a dense list of live rows. */
typedef struct mg_map mg_map_t;

/** Feature switches (each known cdc-apply defect has one). */
typedef struct mg_opts {
    bool toast_notnull;         /**< TOASTable columns may be NOT NULL */
    bool keycol_change;         /**< key changes on --key-columns tables */
    bool nullable_keycols;      /**< a nullable --key-columns column, NULL at times */
    bool topic_route;           /**< --table-format ${topic} may be drawn */
    bool topic_route_noschema;  /**< with ${topic}: schemaless tables (else all have schemas) */
    bool b64_numeric_lookalike; /**< schemaless Decimal base64 that reads as a number */
} mg_opts_t;

#define MG_MAXCOLS 16

/** @brief One source table and its topic. */
typedef struct mg_table {
    char name[64];    /**< source table (schema public) */
    char topic[160];  /**< <prefix>.public.<name> */
    char target[200]; /**< routed target table, unquoted "public.x" */
    int nparts;       /**< topic partitions (1 when it gets truncates) */
    bool full;        /**< REPLICA IDENTITY FULL (before has every column) */
    bool keyless;     /**< no PK: --key-columns names the key columns */
    bool uniq;        /**< keyless: a unique index on the key columns */
    bool nullkey;     /**< keyless, no message.key.columns: null record keys (one
                           partition); a key change is a single u */
    bool with_schema; /**< JsonConverter schemas.enable=true */
    bool truncates;   /**< gets op=t records */
    int ncols, nkey;  /**< key columns are cols[0..nkey-1] */
    mg_col_t cols[MG_MAXCOLS];
    json_t *value_schema; /**< the <...>.Value struct (no "field") */
    json_t *key_schema;
    mg_map_t *src;   /**< the source's true state */
    mg_map_t *model; /**< what the target must hold */
    int64_t next_id;
} mg_table_t;

/** @brief One Kafka record to produce. */
typedef struct mg_rec {
    int table;       /**< index in the generator's tables */
    int partition;   /**< by the hash of the key bytes (0 for a null key) */
    char *key;       /**< NULL: null key */
    char *value;     /**< NULL: tombstone */
    const char *hdr; /**< optional header name (__debezium.oldkey/newkey) */
    char *hdr_val;
    bool poison;   /**< a record the target must dead-letter */
    char what[48]; /**< op and key, for failure reports */
    char from[40]; /**< a key change's old key (the 'K' u), else "" */
} mg_rec_t;

/** @brief A growing list of records (owned strings). */
typedef struct mg_recs {
    mg_rec_t *v;
    size_t n, cap;
} mg_recs_t;

/** @brief The generator. */
typedef struct mg_gen {
    mg_rng_t rng;
    mg_opts_t opts;
    char prefix[64];
    bool topic_route; /**< --table-format ${topic} */
    int ntables;
    mg_table_t *t;
    int64_t lsn, txid;
    bool snapshot_new_style; /**< first/last_in_data_collection markers */
    int npoison;
} mg_gen_t;

/** @brief Draw tables (columns, identities, formats, partitions) for
 *  @p seed. @p prefix (borrowed) is the topic prefix. Returns new. */
mg_gen_t *mg_gen_new(uint64_t seed, const mg_opts_t *opts, const char *prefix);
/** @brief Free the generator, its tables and maps. */
void mg_gen_free(mg_gen_t *g);

/** @brief CREATE TABLE (and index) statements for table @p i under the
 *  name @p as (borrowed, quoted by the caller's choice). New string. */
char *mg_ddl(const mg_gen_t *g, int i, const char *as);

/** @brief The initial snapshot (op r) of @p rows rows per table. */
void mg_snapshot(mg_gen_t *g, int rows, mg_recs_t *out);
/** @brief One random source change (one to three records). */
void mg_step(mg_gen_t *g, mg_recs_t *out);
/** @brief One poison record (bad JSON or a bad value) on a random topic. */
void mg_poison(mg_gen_t *g, mg_recs_t *out);

/** @brief Free the records' strings and reset the list. */
void mg_recs_clear(mg_recs_t *r);

/** @brief Number of live rows of @p m. */
size_t mg_map_count(const mg_map_t *m);
/** @brief Live row @p i (0..count-1) of @p m: its values (ncols). */
const mg_val_t *mg_map_row(const mg_map_t *m, size_t i);
/** @brief Row for @p key (as mg_keystr gives it), NULL when absent. */
const mg_val_t *mg_map_get(const mg_map_t *m, const char *key);
/** @brief The key string of row @p row of table @p t (new). NULL key
 *  columns are spelt "\\N", columns are separated by '|'. */
char *mg_keystr(const mg_table_t *t, const mg_val_t *row);
/** @brief True when the model equals the source state; prints the first
 *  differences. */
bool mg_model_matches_source(const mg_table_t *t);

#endif
