/**
 * @file catalog.h
 * @brief Routing of events to target tables and the cached description of
 *        those tables (columns, types, key), read from the target catalog.
 *
 * Part of cdc-apply. The catalog also creates missing tables
 * (--create-tables) and adds or losslessly widens columns (--evolve).
 */
#ifndef CDC_CATALOG_H
#define CDC_CATALOG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "cdc/canon.h"
#include "cdc/decode.h"
#include "cdc/err.h"
#include "cdc/event.h"

/** One column of a target table. */
typedef struct cdc_tcol {
    char *name;
    char *type;             /**< format_type() of the column, e.g. "numeric(12,2)" */
    bool key;               /**< part of the table's key */
    bool generated;         /**< GENERATED ALWAYS AS (...) STORED: never written */
    cdc_canon_type_t canon; /**< its values' encoding, by type OID (pgtype.h) */
} cdc_tcol_t;

/** Where the columns of one event row go in a table. */
typedef struct cdc_colmap {
    size_t ncols; /**< columns of the row (cdc_row_t.ncols) */
    /** Per row column: index of the target column of that name, or -1. */
    int *idx;
    /** Per key column of the table (cdc_table_t.key order): index of the
     *  first row column of that name, or -1 (what cdc_row_find() finds). */
    int *keypos;
    int missing; /**< first row column the table lacks, or -1 */
} cdc_colmap_t;

typedef struct cdc_colcache cdc_colcache_t;

/** A target table as cdc-apply sees it. Owned by the catalog; pointers stay
 *  valid until cdc_catalog_destroy(). A description is never changed once
 *  loaded: a refresh creates a new one and retires the old (the open batch
 *  indexes its value arrays by the old one's columns). It holds nothing of
 *  a database session: the writer keeps its per-session staging state
 *  itself, by description. */
typedef struct cdc_table {
    char *schema;
    char *name;
    char *qname; /**< quoted "schema"."name" for SQL */
    char *label; /**< schema.name for metrics and messages */
    cdc_tcol_t *cols;
    size_t ncols;
    size_t *key; /**< indexes into cols, in key order */
    size_t nkey;
    /** The key is the primary key or a unique index: ON CONFLICT works.
     *  Otherwise (--key-columns on a table without such an index) upserts
     *  are UPDATE + INSERT WHERE NOT EXISTS. */
    bool key_unique;
    bool identity_always; /**< has GENERATED ALWAYS AS IDENTITY */
    /** A foreign key from or to it is checked per statement (NOT
     *  DEFERRABLE or INITIALLY IMMEDIATE). */
    bool fk_immediate;
    /** Column maps of recently seen event column lists (see
     *  cdc_table_colmap()); NULL in a table not made by the catalog, which
     *  then maps every row afresh. Owned by the table. */
    cdc_colcache_t *colcache;
    /** Sub-types the columns' canon types point to (composite fields,
     *  range subtypes); owned by the table. */
    struct cdc_pgtype_mem *typemem;
} cdc_table_t;

/** Catalog options. */
typedef struct cdc_catalog_conf {
    /** --table-format, e.g. "${source.schema}.${source.table}" (borrowed):
     *  split at its one unquoted dot into a schema and a table part, each
     *  expanded on its own (double quotes make dots literal); more than
     *  one such dot makes cdc_catalog_new() fail. */
    const char *table_format;
    /** --key-columns entries "table:col1,col2" (borrowed array); the
     *  table name splits like table_format. */
    const char *const *key_columns;
    size_t nkey_columns;
    bool create_tables; /**< --create-tables */
    bool evolve;        /**< --evolve */
} cdc_catalog_conf_t;

typedef struct cdc_catalog_s cdc_catalog_t;

/** @brief New catalog; conf strings are copied. NULL with errstr when a
 *  --key-columns entry or --table-format is malformed. */
cdc_catalog_t *cdc_catalog_new(const cdc_catalog_conf_t *conf, char *errstr, size_t errstr_size);
/** @brief Free. Accepts NULL. */
void cdc_catalog_destroy(cdc_catalog_t *cat);

/**
 * @brief Expand --table-format for an event into schema and table names.
 * @returns 0, or -1 (a placeholder the event cannot fill).
 */
int cdc_catalog_route(const cdc_catalog_t *cat, const cdc_event_t *ev, char *schema,
                      size_t schema_size, char *table, size_t table_size);

/**
 * @brief The target table for a change event, loaded on first use and
 *        checked against the event's columns (read again when the event has
 *        a column the cached copy lacks and the target's catalog shows it
 *        now exists: a column it still lacks costs one probe, no new
 *        description; created or evolved when allowed).
 * @param tp  set to the borrowed table on success.
 * @returns 0, or -1 with *cls: POISON for a missing table/column or an event
 *          that has no key for a keyed operation, RETRIABLE for a lost
 *          connection, FATAL otherwise (e.g. --evolve must widen a varchar
 *          column for a value that does not fit and a view uses it: the
 *          message names the view).
 */
int cdc_catalog_resolve(cdc_catalog_t *cat, PGconn *conn, const cdc_event_t *ev, cdc_table_t **tp,
                        cdc_err_class_t *cls, char *errstr, size_t errstr_size);

/**
 * @brief The table cdc_catalog_resolve() would give @p ev without asking
 *        the target: the route cache's last table, described, with every
 *        column of the event, and no --evolve; else NULL (then resolve).
 *
 * The common case of a stream of one table, without the target wait's
 * bracket (its alarm and socket dup) around each record.
 */
cdc_table_t *cdc_catalog_cached(cdc_catalog_t *cat, const cdc_event_t *ev);

/** @brief Index of column @p name in @p t, or -1. */
int cdc_table_col(const cdc_table_t *t, const char *name);

/**
 * @brief Map the columns of @p row to the columns of @p t by name.
 *
 * An event's column list is nearly always one its table has seen before:
 * the answer for the last few lists is kept in the table, so a row costs
 * one name comparison per column instead of a search per column.
 *
 * @param tmp  storage for a map that is not cached (a row with a column
 *             the table lacks, or a table without a cache); release it
 *             with cdc_colmap_release() whatever the result.
 * @returns the map, borrowed: valid until the next cdc_table_colmap() on
 *          @p t or cdc_colmap_release(@p tmp).
 */
const cdc_colmap_t *cdc_table_colmap(const cdc_table_t *t, const cdc_row_t *row, cdc_colmap_t *tmp);

/** @brief Free what cdc_table_colmap() put in @p tmp (which may be unused,
 *  but must have been zeroed or passed to cdc_table_colmap()). */
void cdc_colmap_release(cdc_colmap_t *tmp);

/**
 * @brief Type of the target column a schemaless JSON value goes to, for
 *        the decoder's type lookup (cdc_type_lookup_fn): the record is
 *        routed with --table-format exactly as cdc_catalog_resolve() routes
 *        its event, and the table is loaded on first use.
 * @param conn  the target connection to read the catalog with (borrowed;
 *              NULL when not connected: a RETRIABLE error).
 * @param type  set to the column's type (owned by the catalog, valid until
 *              cdc_catalog_destroy()), or NULL when the table has no such
 *              column or --table-format cannot route the record.
 * @returns 0, or -1 with *cls: RETRIABLE for a lost connection (decode the
 *          record again after reconnecting), POISON when the table does
 *          not exist, FATAL otherwise.
 */
int cdc_catalog_type_lookup(cdc_catalog_t *cat, PGconn *conn, const cdc_type_query_t *q,
                            const char **type, cdc_err_class_t *cls, char *errstr,
                            size_t errstr_size);

#endif
