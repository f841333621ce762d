/*
 * The repair statements (--repair-sql): for each mismatched key, the
 * statements that make the target's rows equal the source's, from the
 * rows fetched by key (fetch.c).
 */
#include "verify_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/pg.h"

static const vcol_t *plan_col(const vplan_t *plan, const char *name)
{
    for (size_t i = 0; i < plan->ncols; i++)
        if (strcmp(plan->cols[i].name, name) == 0)
            return &plan->cols[i];
    return NULL;
}

/* Statements are built in a buffer with pg.h's quoting (identifiers always
 * quoted, literals with E'' when they hold a backslash): the file runs the
 * same on any server, whatever its standard_conforming_strings. */
static void put_value(cdc_buf_t *b, const vcol_t *c, const char *v)
{
    if (!v) {
        cdc_buf_puts(b, "NULL");
        return;
    }
    cdc_pg_append_literal(b, v);
    cdc_buf_puts(b, vliteral_cast(c));
}

/* " WHERE k1 = 'v' AND k2 IS NULL AND (where)": the same FROM ... AS
 * _cdc_t form as the scan, so a --where predicate means the same thing in
 * every statement, and predicates the index on the key answers. */
static void put_key_where(cdc_buf_t *b, const vplan_t *plan, char *const *keyvals)
{
    cdc_buf_puts(b, " WHERE ");
    for (size_t k = 0; k < plan->nkeys; k++) {
        if (k)
            cdc_buf_puts(b, " AND ");
        cdc_buf_puts(b, "_cdc_t.");
        cdc_pg_append_ident(b, plan->cols[k].name);
        if (!keyvals[k]) {
            cdc_buf_puts(b, " IS NULL");
            continue;
        }
        cdc_buf_puts(b, " = ");
        put_value(b, &plan->cols[k], keyvals[k]);
    }
    if (plan->where)
        cdc_buf_printf(b, " AND (%s)", plan->where);
}

void vrepair_free(vrepair_t *r)
{
    vfields_free(r->cols, r->ncols);
    vfields_free(r->conflict, r->nconflict);
    free(r->plan_idx);
    vfetcher_free(&r->src);
    if (r->later)
        fclose(r->later);
    memset(r, 0, sizeof *r);
}

/* The columns of a unique index of the target that are all key columns
 * (the fewest such), for ON CONFLICT; none: the key is not unique there.
 * Only a plain, valid, immediate index can arbitrate ON CONFLICT. */
static int find_conflict(vrepair_t *r, PGconn *conn_t, const vplan_t *plan, char *errstr,
                         size_t errstr_size)
{
    PGresult *res = vplan_catalog(
        conn_t, plan,
        "SELECT i.indexrelid, a.attname FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
        "WHERE n.nspname = $1 AND c.relname = $2 AND i.indisunique AND i.indisvalid "
        "AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey) x(attnum) LEFT JOIN pg_attribute b "
        "ON b.attrelid = c.oid AND b.attnum = x.attnum "
        "WHERE b.attname IS NULL OR b.attname <> ALL ($3::text[])) "
        "ORDER BY i.indnatts, NOT i.indisprimary, i.indexrelid, k.ord",
        true, errstr, errstr_size);
    if (!res)
        return -1;
    int nt = PQntuples(res);
    r->conflict = calloc((size_t)nt + 1, sizeof *r->conflict);
    for (int t = 0; t < nt && strcmp(PQgetvalue(res, t, 0), PQgetvalue(res, 0, 0)) == 0; t++)
        r->conflict[r->nconflict++] = strdup(PQgetvalue(res, t, 1));
    PQclear(res);
    return 0;
}

int vrepair_prepare(vrepair_t *r, PGconn *conn_s, PGconn *conn_t, const vplan_t *plan, char *errstr,
                    size_t errstr_size)
{
    memset(r, 0, sizeof *r);
    /* The target's insertable columns (not generated) that the source has,
     * in the target's order: a repaired row is the source's whole row,
     * whatever --column / --exclude-column narrowed the comparison to. */
    static const char *const cols_sql =
        "SELECT a.attname, a.attgenerated <> '' FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum";
    PGresult *rs = NULL, *rt = vplan_catalog(conn_t, plan, cols_sql, false, errstr, errstr_size);
    int rc = -1;
    if (!rt)
        goto out;
    rs = vplan_catalog(conn_s, plan, cols_sql, false, errstr, errstr_size);
    if (!rs)
        goto out;
    r->cols = calloc((size_t)PQntuples(rt) + 1, sizeof *r->cols);
    for (int i = 0; i < PQntuples(rt); i++) {
        const char *name = PQgetvalue(rt, i, 0);
        if (PQgetvalue(rt, i, 1)[0] == 't')
            continue;
        for (int j = 0; j < PQntuples(rs); j++)
            if (strcmp(PQgetvalue(rs, j, 0), name) == 0 && PQgetvalue(rs, j, 1)[0] != 't') {
                r->cols[r->ncols++] = strdup(name);
                break;
            }
    }
    /* Every inserted column compared: the fetched rows are whole. */
    r->plan_idx = calloc(r->ncols + 1, sizeof *r->plan_idx);
    for (size_t i = 0; i < r->ncols && r->plan_idx; i++) {
        const vcol_t *c = plan_col(plan, r->cols[i]);
        if (c)
            r->plan_idx[i] = (size_t)(c - plan->cols);
        else {
            free(r->plan_idx);
            r->plan_idx = NULL;
        }
    }
    if (vfetcher_init(&r->src, conn_s, plan, false, errstr, errstr_size) ||
        find_conflict(r, conn_t, plan, errstr, errstr_size))
        goto out;
    rc = 0;
out:
    PQclear(rt);
    PQclear(rs);
    if (rc)
        vrepair_free(r);
    return rc;
}

static bool in_conflict(const vrepair_t *r, const char *name)
{
    for (size_t i = 0; i < r->nconflict; i++)
        if (strcmp(r->conflict[i], name) == 0)
            return true;
    return false;
}

/* ON CONFLICT applies to a key whose conflict columns are all non-NULL
 * (a unique index lets NULLs repeat). */
static bool key_unique(const vrepair_t *r, const vplan_t *plan, char *const *keyvals)
{
    if (!r->nconflict)
        return false;
    for (size_t k = 0; k < plan->nkeys; k++)
        if (!keyvals[k] && in_conflict(r, plan->cols[k].name))
            return false;
    return true;
}

/* INSERT of one full source row (@p vals: r->ncols, NULL for SQL NULL). */
static void put_insert(cdc_buf_t *b, const vrepair_t *r, const vplan_t *plan,
                       const char *const *vals, bool on_conflict)
{
    cdc_buf_printf(b, "INSERT INTO %s (", plan->from);
    for (size_t i = 0; i < r->ncols; i++) {
        if (i)
            cdc_buf_puts(b, ", ");
        cdc_pg_append_ident(b, r->cols[i]);
    }
    /* Values are the source's text output under the canonical session
     * settings, which the target's input functions accept as is. */
    cdc_buf_puts(b, ") VALUES (");
    for (size_t i = 0; i < r->ncols; i++) {
        if (i)
            cdc_buf_puts(b, ", ");
        put_value(b, plan_col(plan, r->cols[i]), vals[i]);
    }
    cdc_buf_putc(b, ')');
    if (on_conflict) {
        /* The row may have arrived since: it becomes the source's. */
        cdc_buf_puts(b, " ON CONFLICT (");
        for (size_t i = 0; i < r->nconflict; i++) {
            if (i)
                cdc_buf_puts(b, ", ");
            cdc_pg_append_ident(b, r->conflict[i]);
        }
        size_t nset = 0;
        for (size_t i = 0; i < r->ncols; i++) {
            if (in_conflict(r, r->cols[i]))
                continue;
            cdc_buf_puts(b, nset++ ? ", " : ") DO UPDATE SET ");
            cdc_pg_append_ident(b, r->cols[i]);
            cdc_buf_puts(b, " = excluded.");
            cdc_pg_append_ident(b, r->cols[i]);
        }
        if (!nset)
            cdc_buf_puts(b, ") DO NOTHING");
    }
    cdc_buf_puts(b, ";\n");
}

/* UPDATE of the compared columns whose values differ (canonical forms, the
 * rule the rows were compared by): the others are equal already, and the
 * columns not compared are the target's business. */
static bool writable(const vrepair_t *r, const char *name)
{
    for (size_t i = 0; i < r->ncols; i++)
        if (strcmp(r->cols[i], name) == 0)
            return true;
    return false;
}

static int put_update(cdc_buf_t *b, const vrepair_t *r, const vplan_t *plan, char *const *keyvals,
                      const vrow_t *s, const vrow_t *t, char *errstr, size_t errstr_size)
{
    cdc_buf_t cs = CDC_BUF_INIT, ct = CDC_BUF_INIT;
    size_t nset = 0;
    int rc = -1;
    for (size_t i = plan->nkeys; i < plan->ncols; i++) {
        const vcol_t *c = &plan->cols[i];
        const char *sv = s->vals[i], *tv = t->vals[i];
        char e[300];
        cdc_buf_reset(&cs);
        cdc_buf_reset(&ct);
        if (cdc_canon_encode(c->stype, sv, sv ? strlen(sv) : 0, &cs, e, sizeof e) ||
            cdc_canon_encode(c->ttype, tv, tv ? strlen(tv) : 0, &ct, e, sizeof e)) {
            snprintf(errstr, errstr_size, "column \"%s\": %s", c->name, e);
            goto out;
        }
        if (cs.len == ct.len && (!cs.len || memcmp(cs.data, ct.data, cs.len) == 0))
            continue;
        /* A generated column follows the others (it cannot be SET). */
        if (!writable(r, c->name))
            continue;
        if (!nset++)
            cdc_buf_printf(b, "UPDATE %s AS _cdc_t SET ", plan->from);
        else
            cdc_buf_puts(b, ", ");
        cdc_pg_append_ident(b, c->name);
        cdc_buf_puts(b, " = ");
        put_value(b, c, sv);
    }
    if (nset) {
        put_key_where(b, plan, keyvals);
        cdc_buf_puts(b, ";\n");
    }
    rc = 0;
out:
    cdc_buf_free(&cs);
    cdc_buf_free(&ct);
    return rc;
}

static void put_delete(cdc_buf_t *b, const vplan_t *plan, char *const *keyvals)
{
    cdc_buf_printf(b, "DELETE FROM %s AS _cdc_t", plan->from);
    put_key_where(b, plan, keyvals);
    cdc_buf_puts(b, ";\n");
}

/* What a key's rows need: nothing, an UPDATE, or inserts (after a DELETE
 * when the target has rows of the key). */
typedef enum { FIX_NONE, FIX_UPDATE, FIX_DELETE, FIX_INSERT } fix_t;

static fix_t fix_of(const vfetch_t *src, const vfetch_t *tgt)
{
    uint64_t *ds = calloc(src->n + 1, sizeof *ds), *dt = calloc(tgt->n + 1, sizeof *dt);
    for (size_t i = 0; i < src->n; i++)
        ds[i] = src->rows[i].digest;
    for (size_t i = 0; i < tgt->n; i++)
        dt[i] = tgt->rows[i].digest;
    int64_t n[3];
    vmatch(ds, src->n, dt, tgt->n, n, NULL, NULL);
    free(ds);
    free(dt);
    if (!n[0] && !n[1] && !n[2])
        return FIX_NONE; /* equal now */
    if (src->n == 1 && tgt->n == 1)
        return FIX_UPDATE;
    /* Missing, extra, or copies under one key: the target's rows of the
     * key become the source's (one DELETE cannot pick one of two equal
     * copies, so all go and the source's come back whole). */
    return src->n ? FIX_INSERT : FIX_DELETE;
}

/* One full source row of a batch result. */
typedef struct srow {
    PGresult *res; /* borrowed from the batch results */
    int t;
} srow_t;

/* The whole source rows of the keys @p idx (@p nins of them), one
 * statement per NULL pattern: @p rows[first[i] .. first[i + 1]) are key
 * i's (positions into keyvals), the results are kept in @p batches. */
static int fetch_full(const vrepair_t *r, const vplan_t *plan, char **const *keyvals, size_t n,
                      const size_t *idx, size_t nins, PGresult **batches, size_t *nbatches,
                      srow_t **rows, size_t *first, char *errstr, size_t errstr_size)
{
    cdc_buf_t sel = CDC_BUF_INIT, sql = CDC_BUF_INIT;
    bool *got = calloc(n + 1, sizeof *got), *null = calloc(plan->nkeys + 1, sizeof *null);
    size_t *sub = calloc(nins + 1, sizeof *sub), *fill = calloc(n + 1, sizeof *fill);
    char **params = calloc(plan->nkeys + 2, sizeof *params);
    size_t np = 0, total = 0;
    int rc = -1;
    for (size_t i = 0; i < r->ncols; i++) {
        if (i)
            cdc_buf_puts(&sel, ", ");
        cdc_buf_puts(&sel, "_cdc_t.");
        cdc_pg_append_ident(&sel, r->cols[i]);
    }
    if (!r->ncols)
        cdc_buf_puts(&sel, "1");
    for (size_t a = 0; a < nins; a++) {
        size_t i = idx[a], m = 0;
        if (got[i])
            continue;
        for (size_t c = a; c < nins; c++)
            if (!got[idx[c]] && vsame_nulls(plan, keyvals[i], keyvals[idx[c]])) {
                sub[m++] = idx[c];
                got[idx[c]] = true;
            }
        for (size_t k = 0; k < plan->nkeys; k++)
            null[k] = !keyvals[i][k];
        cdc_buf_reset(&sql);
        vfetch_sql(&sql, &r->src, plan, null, sel.data, false, false);
        vfields_free(params, np);
        params = calloc(plan->nkeys + 2, sizeof *params);
        np = vfetch_params(plan, null, keyvals, sub, m, params);
        cdc_err_class_t cls;
        PGresult *res =
            cdc_pg_exec_params(r->src.conn, sql.data, (int)np, (const char *const *)params, NULL,
                               NULL, PGRES_TUPLES_OK, &cls, errstr, errstr_size);
        if (!res)
            goto out;
        batches[(*nbatches)++] = res;
        total += (size_t)PQntuples(res);
    }
    /* Group the rows by key (counting sort on the key position). */
    memset(first, 0, (n + 1) * sizeof *first);
    for (size_t j = 0; j < *nbatches; j++)
        for (int t = 0; t < PQntuples(batches[j]); t++) {
            size_t o = (size_t)strtoul(PQgetvalue(batches[j], t, 0), NULL, 10);
            if (o >= n) {
                snprintf(errstr, errstr_size, "fetch returned key position %zu of %zu", o, n);
                goto out;
            }
            first[o + 1]++;
        }
    for (size_t i = 0; i < n; i++)
        first[i + 1] += first[i];
    *rows = calloc(total + 1, sizeof **rows);
    for (size_t j = 0; j < *nbatches; j++)
        for (int t = 0; t < PQntuples(batches[j]); t++) {
            size_t o = (size_t)strtoul(PQgetvalue(batches[j], t, 0), NULL, 10);
            (*rows)[first[o] + fill[o]++] = (srow_t){batches[j], t};
        }
    rc = 0;
out:
    vfields_free(params, np);
    cdc_buf_free(&sel);
    cdc_buf_free(&sql);
    free(got);
    free(null);
    free(sub);
    free(fill);
    return rc;
}

int vrepair_keys(FILE *out, vrepair_t *r, PGconn *conn_t, const vplan_t *plan,
                 char **const *keyvals, size_t n, const vfetch_t *src, const vfetch_t *tgt,
                 char *errstr, size_t errstr_size)
{
    (void)conn_t; /* statements are quoted by pg.h, not by the server */
    fix_t *fix = calloc(n + 1, sizeof *fix);
    size_t *idx = calloc(n + 1, sizeof *idx), *first = calloc(n + 2, sizeof *first), nins = 0;
    size_t nbatches = 0;
    PGresult **batches = NULL;
    srow_t *rows = NULL;
    char **vals = NULL;                           /* borrowed values of one row to insert */
    cdc_buf_t b = CDC_BUF_INIT, l = CDC_BUF_INIT; /* DELETEs now; the rest later */
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        fix[i] = fix_of(&src[i], &tgt[i]);
        if (fix[i] == FIX_INSERT)
            idx[nins++] = i;
    }
    if (!r->noted && nins && !r->nconflict) {
        cdc_buf_printf(&b,
                       "-- the key of %s is not unique in the target (no primary key or unique "
                       "index on key columns): rows are replaced by DELETE + INSERT, not "
                       "INSERT ... ON CONFLICT\n",
                       plan->display);
        r->noted = true;
    }
    vals = calloc(r->ncols + 1, sizeof *vals);
    batches = calloc(nins + 1, sizeof *batches);
    /* The compared columns are not the whole row (--column, --exclude-column,
     * a column the target lacks): the whole rows, from the source. */
    if (nins && !r->plan_idx &&
        fetch_full(r, plan, keyvals, n, idx, nins, batches, &nbatches, &rows, first, errstr,
                   errstr_size))
        goto out;
    /* Statements key by key, in the order the keys came. */
    for (size_t i = 0; i < n; i++) {
        switch (fix[i]) {
        case FIX_NONE: break;
        case FIX_UPDATE:
            /* Nothing but the key: equal keys cannot differ. */
            if (plan->ncols > plan->nkeys && put_update(&l, r, plan, keyvals[i], &src[i].rows[0],
                                                        &tgt[i].rows[0], errstr, errstr_size))
                goto out;
            break;
        case FIX_DELETE: put_delete(&b, plan, keyvals[i]); break;
        case FIX_INSERT: {
            /* A missing row under a unique key: INSERT ... ON CONFLICT. */
            bool upsert = key_unique(r, plan, keyvals[i]) && src[i].n == 1 && tgt[i].n == 0;
            if (!upsert && tgt[i].n)
                put_delete(&b, plan, keyvals[i]);
            if (r->plan_idx) { /* the compared rows are whole rows */
                for (size_t j = 0; j < src[i].n; j++) {
                    for (size_t c = 0; c < r->ncols; c++)
                        vals[c] = src[i].rows[j].vals[r->plan_idx[c]];
                    put_insert(&l, r, plan, (const char *const *)vals, upsert);
                }
            }
            for (size_t j = first[i]; !r->plan_idx && j < first[i + 1]; j++) {
                for (size_t c = 0; c < r->ncols; c++)
                    vals[c] = PQgetisnull(rows[j].res, rows[j].t, (int)c + 1)
                                  ? NULL
                                  : PQgetvalue(rows[j].res, rows[j].t, (int)c + 1);
                put_insert(&l, r, plan, (const char *const *)vals, upsert);
            }
            break;
        }
        }
    }
    if (l.len && !r->later && !(r->later = tmpfile())) {
        snprintf(errstr, errstr_size,
                 "cannot create a temporary file for the repair statements: %s", strerror(errno));
        goto out;
    }
    if ((b.len && fwrite(b.data, 1, b.len, out) != b.len) ||
        (l.len && fwrite(l.data, 1, l.len, r->later) != l.len)) {
        snprintf(errstr, errstr_size, "writing the repair statements failed");
        goto out;
    }
    rc = 0;
out:
    cdc_buf_free(&l);
    for (size_t j = 0; j < nbatches; j++)
        PQclear(batches[j]);
    free(batches);
    free(rows);
    free(vals);
    free(fix);
    free(idx);
    free(first);
    cdc_buf_free(&b);
    return rc;
}

int vrepair_flush(FILE *out, vrepair_t *r, char *errstr, size_t errstr_size)
{
    if (!r->later)
        return 0;
    char buf[65536];
    size_t n;
    int rc = 0;
    rewind(r->later);
    while ((n = fread(buf, 1, sizeof buf, r->later)) > 0)
        if (fwrite(buf, 1, n, out) != n) {
            rc = -1;
            break;
        }
    if (ferror(r->later))
        rc = -1;
    if (rc)
        snprintf(errstr, errstr_size, "writing the repair statements failed");
    fclose(r->later);
    r->later = NULL;
    return rc;
}
