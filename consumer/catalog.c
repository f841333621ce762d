/* Target-table descriptions for cdc-apply (routing is route.c, the DDL of
 * --create-tables and --evolve catalog_evolve.c).
 *
 * Column types come from the target's catalog, never from the event: the
 * target decides how a value is stored, and COPY text input casts the
 * decoder's literal to it. The event's pg_type is only used to create or
 * evolve tables when the user allowed it. */
#include "catalog_int.h"

#include "cdc/log.h"
#include "cdc/pg.h"
#include "cdc/pgtype.h"
#include "cdc/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How many column lists a table remembers: an insert's after image, an
 * update's before and after, a delete's before and key. More distinct lists
 * than that (events of several connector versions interleaved) still work,
 * they just map afresh more often. */
#define COLCACHE_SLOTS 4

struct cdc_colcache {
    /* Only maps without a missing column are kept: every idx[] names a
     * column of the table, so a row matches a slot when its names equal
     * those columns' names in order. No copy of the names is needed, and
     * the table's columns never change (a refresh makes a new table). */
    cdc_colmap_t slot[COLCACHE_SLOTS];
    unsigned used; /* slots filled */
    unsigned next; /* slot to replace when all are filled */
    unsigned last; /* slot of the last hit, tried first */
};

cdc_catalog_t *cdc_catalog_new(const cdc_catalog_conf_t *conf, char *errstr, size_t errstr_size)
{
    cdc_catalog_t *cat = cdc_xcalloc(1, sizeof(*cat));
    cat->format =
        cdc_xstrdup(conf->table_format ? conf->table_format : "${source.schema}.${source.table}");
    char why[200];
    if (cdc_route_split_name(cat->format, true, &cat->fmt_schema, &cat->fmt_table, why,
                             sizeof(why)) != 0) {
        snprintf(errstr, errstr_size, "--table-format '%s': %s", cat->format, why);
        cdc_catalog_destroy(cat);
        return NULL;
    }
    cat->create_tables = conf->create_tables;
    cat->evolve = conf->evolve;
    cat->kc = cdc_xcalloc(conf->nkey_columns, sizeof(*cat->kc));
    for (size_t i = 0; i < conf->nkey_columns; i++) {
        const char *e = conf->key_columns[i];
        const char *colon = strrchr(e, ':');
        if (!colon || colon == e || !colon[1]) {
            snprintf(errstr, errstr_size,
                     "--key-columns '%s': expected TABLE:COL[,COL...] (e.g. public.events:id)", e);
            cdc_catalog_destroy(cat);
            return NULL;
        }
        char *name = strndup(e, (size_t)(colon - e));
        if (!name)
            abort();
        keycols_t *k = &cat->kc[cat->nkc++];
        int src = cdc_route_split_name(name, false, &k->schema, &k->table, why, sizeof(why));
        free(name);
        if (src != 0) {
            snprintf(errstr, errstr_size, "--key-columns '%s': %s", e, why);
            cdc_catalog_destroy(cat);
            return NULL;
        }
        char *list = cdc_xstrdup(colon + 1), *save = NULL;
        for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
            k->cols = realloc(k->cols, (k->ncols + 1) * sizeof(char *));
            k->cols[k->ncols++] = cdc_xstrdup(c);
        }
        free(list);
    }
    return cat;
}

void cdc_colmap_release(cdc_colmap_t *tmp)
{
    free(tmp->idx);
    free(tmp->keypos);
    memset(tmp, 0, sizeof(*tmp));
}

static void colcache_clear(cdc_colcache_t *cc)
{
    if (!cc)
        return;
    for (unsigned i = 0; i < cc->used; i++)
        cdc_colmap_release(&cc->slot[i]);
    cc->used = cc->next = cc->last = 0;
}

static void table_clear(cdc_table_t *t)
{
    /* The maps index the columns being dropped. */
    colcache_clear(t->colcache);
    for (size_t i = 0; i < t->ncols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].type);
    }
    free(t->cols);
    free(t->key);
    cdc_pgtype_mem_free(t->typemem);
    t->cols = NULL;
    t->key = NULL;
    t->typemem = NULL;
    t->ncols = t->nkey = 0;
}

static void table_free(cdc_table_t *t)
{
    table_clear(t);
    free(t->schema);
    free(t->name);
    free(t->qname);
    free(t->label);
    free(t->colcache);
    free(t);
}

void cdc_catalog_destroy(cdc_catalog_t *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->ntables; i++)
        table_free(cat->tables[i]);
    for (size_t i = 0; i < cat->nretired; i++)
        table_free(cat->retired[i]);
    free(cat->tables);
    free(cat->retired);
    for (size_t i = 0; i < cat->nkc; i++) {
        free(cat->kc[i].schema);
        free(cat->kc[i].table);
        for (size_t j = 0; j < cat->kc[i].ncols; j++)
            free(cat->kc[i].cols[j]);
        free(cat->kc[i].cols);
    }
    free(cat->kc);
    free(cat->format);
    free(cat->fmt_schema);
    free(cat->fmt_table);
    cdc_buf_free(&cat->last_route);
    free(cat);
}

int cdc_table_col(const cdc_table_t *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (!strcmp(t->cols[i].name, name))
            return (int)i;
    return -1;
}

static void colmap_fill(const cdc_table_t *t, const cdc_row_t *row, cdc_colmap_t *m)
{
    m->ncols = row->ncols;
    m->idx = cdc_xrealloc(m->idx, row->ncols * sizeof(*m->idx));
    m->keypos = cdc_xrealloc(m->keypos, t->nkey * sizeof(*m->keypos));
    m->missing = -1;
    for (size_t i = 0; i < row->ncols; i++) {
        m->idx[i] = cdc_table_col(t, row->cols[i].name);
        if (m->idx[i] < 0 && m->missing < 0)
            m->missing = (int)i;
    }
    /* The first row column of the key column's name, as cdc_row_find()
     * would find it (column names are unique in a table, so idx equality is
     * name equality). */
    for (size_t k = 0; k < t->nkey; k++) {
        m->keypos[k] = -1;
        for (size_t i = 0; i < row->ncols; i++)
            if (m->idx[i] == (int)t->key[k]) {
                m->keypos[k] = (int)i;
                break;
            }
    }
}

/* The decoder copies column names into each event (they are not shared
 * across events), so a match is a comparison of names, not of pointers. */
static bool colmap_matches(const cdc_table_t *t, const cdc_colmap_t *m, const cdc_row_t *row)
{
    if (m->ncols != row->ncols)
        return false;
    for (size_t i = 0; i < row->ncols; i++)
        if (strcmp(t->cols[m->idx[i]].name, row->cols[i].name))
            return false;
    return true;
}

const cdc_colmap_t *cdc_table_colmap(const cdc_table_t *t, const cdc_row_t *row, cdc_colmap_t *tmp)
{
    cdc_colcache_t *cc = t->colcache;
    if (cc)
        for (unsigned j = 0; j < cc->used; j++) {
            unsigned i = (cc->last + j) % cc->used;
            if (colmap_matches(t, &cc->slot[i], row)) {
                cc->last = i;
                return &cc->slot[i];
            }
        }
    colmap_fill(t, row, tmp);
    if (!cc || tmp->missing >= 0)
        return tmp;
    /* Keep it: the slot's old arrays go to tmp, which the caller frees. */
    unsigned i = cc->used < COLCACHE_SLOTS ? cc->used++ : cc->next++ % COLCACHE_SLOTS;
    cdc_colmap_t old = cc->slot[i];
    cc->slot[i] = *tmp;
    *tmp = old;
    cc->last = i;
    return &cc->slot[i];
}

static const keycols_t *find_keycols(const cdc_catalog_t *cat, const cdc_table_t *t)
{
    for (size_t i = 0; i < cat->nkc; i++)
        if ((!cat->kc[i].schema || !strcmp(cat->kc[i].schema, t->schema)) &&
            !strcmp(cat->kc[i].table, t->name))
            return &cat->kc[i];
    return NULL;
}

static int query_err(PGresult *res, PGconn *conn, const char *what, cdc_err_class_t *cls,
                     char *errstr, size_t errstr_size)
{
    char msg[400];
    cdc_pg_error(res, conn, msg, sizeof(msg));
    *cls = cdc_pg_classify(res, conn);
    snprintf(errstr, errstr_size, "%s: %s", what, msg);
    PQclear(res);
    return -1;
}

/* Run catalog query @p sql with @p n text params; NULL on failure with
 * *cls and errstr ("<what>: <error>") set, as query_err. */
static PGresult *catalog_query(PGconn *conn, const char *sql, int n, const char *const *params,
                               const char *what, cdc_err_class_t *cls, char *errstr,
                               size_t errstr_size)
{
    char msg[400];
    PGresult *res = cdc_pg_exec_params(conn, sql, n, params, NULL, NULL, PGRES_TUPLES_OK, cls, msg,
                                       sizeof(msg));
    if (!res)
        snprintf(errstr, errstr_size, "%s: %s", what, msg);
    return res;
}

/* Read columns and key of t from the catalog. Returns 1 when the table
 * does not exist, 0 when loaded, -1 on error. */
static int load_table(cdc_catalog_t *cat, PGconn *conn, cdc_table_t *t, cdc_err_class_t *cls,
                      char *errstr, size_t errstr_size)
{
    const char *params[1] = {t->qname};
    PGresult *res = catalog_query(
        conn,
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> '', "
        "       a.attidentity = 'a', "
        /* int2vector subscripts start at 0: number the key columns with
         * ORDINALITY instead of trusting array_position. */
        "       coalesce((SELECT k.n FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(att, n) "
        "                 WHERE i.indrelid = c.oid AND i.indisprimary AND k.att = a.attnum), 0), "
        "       a.atttypid "
        "FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
        "WHERE c.oid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum",
        1, params, "reading the target catalog", cls, errstr, errstr_size);
    if (!res)
        return -1;
    int n = PQntuples(res);
    if (n == 0) {
        PQclear(res);
        return 1;
    }
    table_clear(t);
    t->cols = cdc_xcalloc((size_t)n, sizeof(cdc_tcol_t));
    t->key = cdc_xcalloc((size_t)n, sizeof(size_t));
    t->identity_always = false;
    int *keypos = cdc_xcalloc((size_t)n, sizeof(int));
    unsigned *oids = cdc_xcalloc((size_t)n, sizeof(unsigned));
    for (int i = 0; i < n; i++) {
        cdc_tcol_t *c = &t->cols[t->ncols++];
        c->name = cdc_xstrdup(PQgetvalue(res, i, 0));
        c->type = cdc_xstrdup(PQgetvalue(res, i, 1));
        c->generated = PQgetvalue(res, i, 2)[0] == 't';
        if (PQgetvalue(res, i, 3)[0] == 't')
            t->identity_always = true;
        keypos[i] = atoi(PQgetvalue(res, i, 4));
        oids[i] = (unsigned)strtoul(PQgetvalue(res, i, 5), NULL, 10);
    }
    PQclear(res);
    /* Canonical types by OID, as cdc-verify resolves them: a domain is its
     * base type, a user type named "numeric" is not numeric. */
    cdc_canon_type_t *canon = cdc_xcalloc((size_t)n, sizeof(cdc_canon_type_t));
    char terr[400];
    int trc = cdc_pgtype_resolve(conn, oids, (size_t)n, &t->typemem, canon, NULL, cls, terr,
                                 sizeof(terr));
    for (int i = 0; i < n && trc == 0; i++)
        t->cols[i].canon = canon[i];
    free(canon);
    free(oids);
    if (trc) {
        snprintf(errstr, errstr_size, "reading the target's column types: %s", terr);
        free(keypos);
        return -1;
    }

    const keycols_t *kc = find_keycols(cat, t);
    if (kc) {
        t->key_unique = false;
        for (size_t j = 0; j < kc->ncols; j++) {
            int idx = cdc_table_col(t, kc->cols[j]);
            if (idx < 0) {
                snprintf(errstr, errstr_size,
                         "--key-columns names column '%s' that table %s does not have", kc->cols[j],
                         t->label);
                *cls = CDC_ERR_FATAL;
                free(keypos);
                return -1;
            }
            t->cols[idx].key = true;
            t->key[t->nkey++] = (size_t)idx;
        }
        /* ON CONFLICT needs a unique index on exactly these columns. */
        cdc_buf_t q = CDC_BUF_INIT;
        cdc_buf_puts(&q, "SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass($1) AND "
                         "i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND "
                         "i.indnkeyatts = ");
        cdc_buf_printf(&q, "%zu", kc->ncols);
        for (size_t j = 0; j < kc->ncols; j++) {
            cdc_buf_puts(&q, " AND (SELECT attnum FROM pg_attribute WHERE attrelid = i.indrelid "
                             "AND attname = ");
            cdc_pg_append_literal(&q, kc->cols[j]);
            cdc_buf_puts(&q, ") = ANY(i.indkey::int2[])");
        }
        res = PQexecParams(conn, q.data, 1, NULL, params, NULL, NULL, 0);
        cdc_buf_free(&q);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            free(keypos);
            return query_err(res, conn, "reading the target's unique indexes", cls, errstr,
                             errstr_size);
        }
        t->key_unique = PQntuples(res) > 0;
        PQclear(res);
    } else {
        /* Primary key columns in key order. */
        for (int pos = 1; pos <= n; pos++)
            for (int i = 0; i < n; i++)
                if (keypos[i] == pos) {
                    t->cols[i].key = true;
                    t->key[t->nkey++] = (size_t)i;
                }
        t->key_unique = t->nkey > 0;
    }
    free(keypos);
    /* A foreign key checked at each statement, from or to this table:
     * --transactions then keeps the source's order across tables. */
    res = catalog_query(conn,
                        "SELECT 1 FROM pg_constraint WHERE contype = 'f' AND NOT condeferred AND "
                        "(conrelid = to_regclass($1) OR confrelid = to_regclass($1)) LIMIT 1",
                        1, params, "reading the target's foreign keys", cls, errstr, errstr_size);
    if (!res)
        return -1;
    t->fk_immediate = PQntuples(res) > 0;
    PQclear(res);
    return 0;
}

static cdc_table_t *table_new(cdc_catalog_t *cat, const char *schema, const char *name)
{
    cdc_table_t *t = cdc_xcalloc(1, sizeof(*t));
    t->schema = cdc_xstrdup(schema);
    t->name = cdc_xstrdup(name);
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_pg_append_qualified(&b, schema, name);
    t->qname = cdc_buf_steal(&b);
    cdc_buf_printf(&b, "%s.%s", schema, name);
    t->label = cdc_buf_steal(&b);
    t->colcache = cdc_xcalloc(1, sizeof(*t->colcache));
    return t;
}

static cdc_table_t *find_or_add(cdc_catalog_t *cat, const char *schema, const char *name)
{
    for (size_t i = 0; i < cat->ntables; i++)
        if (!strcmp(cat->tables[i]->schema, schema) && !strcmp(cat->tables[i]->name, name))
            return cat->tables[i];
    cdc_table_t *t = table_new(cat, schema, name);
    cat->tables = realloc(cat->tables, (cat->ntables + 1) * sizeof(*cat->tables));
    if (!cat->tables)
        abort();
    cat->tables[cat->ntables++] = t;
    return t;
}

/* Read a loaded table's description again into a NEW object that replaces
 * it; the old one is retired, never changed (see 'retired'). */
static int reload_table(cdc_catalog_t *cat, PGconn *conn, cdc_table_t **tp, cdc_err_class_t *cls,
                        char *errstr, size_t errstr_size)
{
    cdc_table_t *old = *tp, *t = table_new(cat, old->schema, old->name);
    int rc = load_table(cat, conn, t, cls, errstr, errstr_size);
    if (rc != 0) {
        if (rc == 1) {
            snprintf(errstr, errstr_size, "target table %s was dropped while in use", old->label);
            *cls = CDC_ERR_POISON;
        }
        table_free(t);
        return -1;
    }
    for (size_t i = 0; i < cat->ntables; i++)
        if (cat->tables[i] == old)
            cat->tables[i] = t;
    cat->retired = realloc(cat->retired, (cat->nretired + 1) * sizeof(*cat->retired));
    if (!cat->retired)
        abort();
    cat->retired[cat->nretired++] = old;
    if (cat->last_table == old)
        cat->last_table = t;
    *tp = t;
    return 0;
}

/* Whether the target table of @p t has column @p name now: a single-row
 * catalog probe, so that an event column the target really lacks (a
 * stream of records dead-lettered for it) costs one round trip, not a
 * re-read of the whole table and a new description each (memory grew
 * without bound, invariant 5). A column added since the table was read
 * is seen at once, as before. Returns 1, 0, or -1 with *cls. */
static int col_exists(PGconn *conn, const cdc_table_t *t, const char *name, cdc_err_class_t *cls,
                      char *errstr, size_t errstr_size)
{
    const char *params[2] = {t->qname, name};
    PGresult *res =
        catalog_query(conn,
                      "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) "
                      "AND attname = $2 AND attnum > 0 AND NOT attisdropped",
                      2, params, "reading the target catalog", cls, errstr, errstr_size);
    if (!res)
        return -1;
    int n = PQntuples(res);
    PQclear(res);
    return n > 0;
}

/* First column of @p img that @p t lacks, or NULL. */
static const char *missing_col(const cdc_table_t *t, const cdc_row_t *img)
{
    if (!img)
        return NULL;
    cdc_colmap_t tmp = {0};
    const cdc_colmap_t *m = cdc_table_colmap(t, img, &tmp);
    const char *miss = m->missing < 0 ? NULL : img->cols[m->missing].name;
    cdc_colmap_release(&tmp);
    return miss;
}

cdc_table_t *cdc_catalog_cached(cdc_catalog_t *cat, const cdc_event_t *ev)
{
    const char *route[4];
    route_in_t in = {ev->db, ev->schema, ev->table, ev->topic};
    cdc_route_fields(&in, route);
    if (cat->evolve || !cdc_route_is_last(cat, route) || !cat->last_table->ncols ||
        missing_col(cat->last_table, cdc_catalog_image_of(ev)))
        return NULL;
    return cat->last_table;
}

int cdc_catalog_resolve(cdc_catalog_t *cat, PGconn *conn, const cdc_event_t *ev, cdc_table_t **tp,
                        cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    char schema[256], table[256];
    const char *route[4];
    route_in_t in = {ev->db, ev->schema, ev->table, ev->topic};
    cdc_route_fields(&in, route);
    bool hit = cdc_route_is_last(cat, route) && cat->last_table->ncols;
    cdc_table_t *t = NULL;
    if (hit) {
        t = cat->last_table;
    } else {
        if (cdc_route_names(cat, &in, schema, sizeof(schema), table, sizeof(table)) != 0) {
            snprintf(errstr, errstr_size,
                     "%s[%d]@%lld: --table-format '%s' needs a field the event does not have",
                     ev->topic, ev->partition, (long long)ev->offset, cat->format);
            *cls = CDC_ERR_POISON;
            return -1;
        }
        t = find_or_add(cat, schema, table);
    }
    if (!t->ncols) {
        int rc = load_table(cat, conn, t, cls, errstr, errstr_size);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            if (!cat->create_tables) {
                snprintf(errstr, errstr_size,
                         "%s[%d]@%lld: target table %s does not exist: create it, use "
                         "--create-tables, or fix --table-format",
                         ev->topic, ev->partition, (long long)ev->offset, t->label);
                *cls = CDC_ERR_POISON;
                return -1;
            }
            if (cdc_catalog_create_table(conn, t, ev, cls, errstr, errstr_size) != 0 ||
                load_table(cat, conn, t, cls, errstr, errstr_size) != 0)
                return -1;
        }
    }
    /* Every column of the event must exist in the target. */
    const cdc_row_t *img = cdc_catalog_image_of(ev);
    const char *miss = missing_col(t, img);
    if (miss || (cat->evolve && img)) {
        bool changed = false;
        if (cat->evolve && img &&
            cdc_catalog_evolve_table(conn, t, img, &changed, cls, errstr, errstr_size) != 0) {
            char why[1024];
            snprintf(why, sizeof(why), "%s", errstr);
            snprintf(errstr, errstr_size, "%s[%d]@%lld: %s", ev->topic, ev->partition,
                     (long long)ev->offset, why);
            return -1;
        }
        /* Someone may have added it since we cached the table: read the
         * table again only when the catalog says so. */
        int added = 0;
        if (miss && !changed && (added = col_exists(conn, t, miss, cls, errstr, errstr_size)) < 0)
            return -1;
        if (added || changed) {
            if (reload_table(cat, conn, &t, cls, errstr, errstr_size) != 0)
                return -1;
            miss = missing_col(t, img);
        }
        if (miss) {
            snprintf(errstr, errstr_size,
                     "%s[%d]@%lld: target table %s has no column \"%s\": add it, or use --evolve",
                     ev->topic, ev->partition, (long long)ev->offset, t->label, miss);
            *cls = CDC_ERR_POISON;
            return -1;
        }
    }
    if (hit)
        cat->last_table = t; /* a reload above may have replaced it */
    else
        cdc_route_remember(cat, route, t);
    *tp = t;
    return 0;
}

static int not_connected(const cdc_table_t *t, cdc_err_class_t *cls, char *errstr,
                         size_t errstr_size)
{
    snprintf(errstr, errstr_size, "reading the target catalog for %s: not connected", t->label);
    *cls = CDC_ERR_RETRIABLE;
    return -1;
}

int cdc_catalog_type_lookup(cdc_catalog_t *cat, PGconn *conn, const cdc_type_query_t *q,
                            const char **type, cdc_err_class_t *cls, char *errstr,
                            size_t errstr_size)
{
    *type = NULL;
    route_in_t in = {q->db, q->schema, q->table, q->topic};
    const char *route[4];
    cdc_route_fields(&in, route);
    cdc_table_t *t;
    if (cdc_route_is_last(cat, route)) {
        t = cat->last_table;
    } else {
        char s[256], tn[256];
        /* A record --table-format cannot route is refused by
         * cdc_catalog_resolve() with the reason; no type helps it. */
        if (cdc_route_names(cat, &in, s, sizeof(s), tn, sizeof(tn)) != 0)
            return 0;
        t = find_or_add(cat, s, tn);
        cdc_route_remember(cat, route, t);
    }
    if (!t->ncols) {
        if (!conn)
            return not_connected(t, cls, errstr, errstr_size);
        int rc = load_table(cat, conn, t, cls, errstr, errstr_size);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            snprintf(errstr, errstr_size,
                     "target table %s does not exist, and schemaless JSON (schemas.enable=false) "
                     "has no column types to create it from: create the table, or fix "
                     "--table-format",
                     t->label);
            *cls = CDC_ERR_POISON;
            return -1;
        }
    }
    int idx = cdc_table_col(t, q->column);
    if (idx < 0) {
        /* Added since we read the table? Reading it as text would store
         * the JSON form (base64 for bytea) in the new column. */
        if (!conn)
            return not_connected(t, cls, errstr, errstr_size);
        int added = col_exists(conn, t, q->column, cls, errstr, errstr_size);
        if (added < 0)
            return -1;
        if (added) {
            if (reload_table(cat, conn, &t, cls, errstr, errstr_size) != 0)
                return -1;
            idx = cdc_table_col(t, q->column);
        }
    }
    *type = idx < 0 ? NULL : t->cols[idx].type;
    return 0;
}
