/* Private to the catalog's files: routing (route.c: --table-format and
 * the one-entry route cache), table descriptions (catalog.c: load, map,
 * resolve, type lookup) and the DDL that --create-tables and --evolve
 * run (catalog_evolve.c). Every function that reads or changes the
 * target takes the connection it uses as an argument. */
#ifndef CDC_CATALOG_INT_H
#define CDC_CATALOG_INT_H

#include "cdc/buf.h"
#include "catalog.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct keycols {
    char *schema; /* NULL: the TABLE of --key-columns named no schema */
    char *table;  /* unquoted, as split by cdc_route_split_name() */
    char **cols;
    size_t ncols;
} keycols_t;

struct cdc_catalog_s {
    char *format; /* --table-format as given, for messages */
    /* Its two parts (cdc_route_split_name()): each is expanded on its
     * own, so a value's dots stay in its name. fmt_schema NULL: "public". */
    char *fmt_schema, *fmt_table;
    keycols_t *kc;
    size_t nkc;
    bool create_tables, evolve;
    cdc_table_t **tables;
    size_t ntables;
    /* Descriptions replaced by a refresh. The open batch (and the writer's
     * list of staged tables) may still point at them: their column
     * positions index the batch's value arrays, so they live until the
     * catalog is destroyed. Only a schema change creates one. */
    cdc_table_t **retired;
    size_t nretired;
    /* One-entry routing cache: consecutive events mostly hit one table.
     * The key is the event fields --table-format can use (db, schema,
     * table, topic; NULL reads as ""), each NUL-terminated, compared field
     * by field: a hit formats and copies nothing. */
    cdc_buf_t last_route;
    size_t last_route_len[4];
    cdc_table_t *last_table;
};

/* The event fields --table-format can use; NULL when absent. */
typedef struct route_in {
    const char *db, *schema, *table, *topic;
} route_in_t;

/* ---- routing (route.c) ---- */

/* Split a qualified name "schema.table" at its one unquoted dot into
 * @p schema (NULL when there is no such dot) and @p table, both new and
 * unquoted. Double quotes make a dot (or anything) literal and are
 * removed, "" inside them is one quote: "Sch.ema"."ta""ble". With
 * @p placeholders, the dots inside ${...} do not split either. Returns 0,
 * or -1 with the reason in @p why (more than one unquoted dot, an empty
 * part, an unterminated quote). */
int cdc_route_split_name(const char *s, bool placeholders, char **schema, char **table, char *why,
                         size_t why_size);

/* The one routing function: apply (cdc_catalog_resolve) and the decoder's
 * type lookup both go through it, so a schemaless value is read as the
 * type of the very column it is written to. Returns 0, or -1 for a
 * placeholder the event cannot fill or an empty name. */
int cdc_route_names(const cdc_catalog_t *cat, const route_in_t *in, char *schema,
                    size_t schema_size, char *table, size_t table_size);

/* The routing fields of @p in, NULL read as "" (as --table-format does). */
void cdc_route_fields(const route_in_t *in, const char *f[4]);
/* Whether @p f are the fields of the last routed event (the cache key). */
bool cdc_route_is_last(const cdc_catalog_t *cat, const char *const f[4]);
/* Remember that @p f route to @p t. */
void cdc_route_remember(cdc_catalog_t *cat, const char *const f[4], cdc_table_t *t);

/* ---- DDL (catalog_evolve.c) ---- */

/* The row image a table is created or evolved from: after, else before. */
static inline const cdc_row_t *cdc_catalog_image_of(const cdc_event_t *ev)
{
    if (ev->has_after)
        return &ev->after;
    if (ev->has_before)
        return &ev->before;
    return NULL;
}

/* --create-tables: CREATE TABLE IF NOT EXISTS from the event's schema
 * (its pg_types; its key as the primary key). Returns 0, or -1 with *cls
 * (POISON when the event cannot say the types). */
int cdc_catalog_create_table(PGconn *conn, cdc_table_t *t, const cdc_event_t *ev,
                             cdc_err_class_t *cls, char *errstr, size_t errstr_size);

/* --evolve: add the columns of @p img that @p t lacks and widen those
 * that cannot hold its values, where that is lossless; *changed when a
 * statement ran (then read the table again). Returns 0, or -1 with *cls. */
int cdc_catalog_evolve_table(PGconn *conn, cdc_table_t *t, const cdc_row_t *img, bool *changed,
                             cdc_err_class_t *cls, char *errstr, size_t errstr_size);

#endif
