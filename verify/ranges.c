/*
 * Step 1 under --jobs: the split points that cut one table into key
 * ranges (sampled from the source's key distribution), and each range's
 * predicate for the scans.
 */
#include "verify_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"
#include "cdc/pg.h"

/* Key column @p k as the scan orders it. */
static void key_expr(cdc_buf_t *out, const vplan_t *plan, size_t k)
{
    cdc_buf_puts(out, "_cdc_t.");
    cdc_pg_append_ident(out, plan->cols[k].name);
    if (plan->cols[k].collate_c)
        cdc_buf_puts(out, " COLLATE \"C\"");
}

/* 1: every key column is NOT NULL on @p conn, 0: one is nullable, -1 error. */
static int key_not_null(PGconn *conn, const vplan_t *plan, char *errstr, size_t errstr_size)
{
    PGresult *r = vplan_catalog(
        conn, plan,
        "SELECT coalesce(bool_and(a.attnotnull), false) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = ANY ($3::text[])",
        true, errstr, errstr_size);
    int rc = -1;
    if (r && PQntuples(r) == 1)
        rc = PQgetvalue(r, 0, 0)[0] == 't';
    else if (r)
        cdc_pg_error(r, conn, errstr, errstr_size);
    PQclear(r);
    return rc;
}

void vranges_free(vrange_t *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        vfields_free(r[i].lo, r[i].lo ? r[i].ncols : 0);
        vfields_free(r[i].hi, r[i].hi ? r[i].ncols : 0);
    }
    free(r);
}

static char **sample_row(PGresult *r, int row, size_t ncols)
{
    char **v = calloc(ncols, sizeof *v);
    for (size_t k = 0; k < ncols; k++)
        v[k] = strdup(PQgetvalue(r, row, (int)k));
    return v;
}

/* Rows sampled for the split points: enough for even ranges, few enough
 * to cost little next to the scan. */
#define SAMPLE_ROWS 20000.0

/* The first @p ncols key columns (as text, in key order) of @p pct percent
 * of the source's rows where none of them is NULL. */
static PGresult *sample_keys(PGconn *conn_s, const vplan_t *plan, size_t ncols, double pct)
{
    cdc_buf_t sql = CDC_BUF_INIT;
    cdc_buf_puts(&sql, "SELECT ");
    for (size_t k = 0; k < ncols; k++) {
        cdc_buf_puts(&sql, k ? ", _cdc_t." : "_cdc_t.");
        cdc_pg_append_ident(&sql, plan->cols[k].name);
        cdc_buf_puts(&sql, "::text");
    }
    cdc_buf_printf(&sql, " FROM %s AS _cdc_t TABLESAMPLE SYSTEM (%.6f) WHERE ", plan->from, pct);
    if (plan->where)
        cdc_buf_printf(&sql, "(%s) AND ", plan->where);
    for (size_t k = 0; k < ncols; k++) {
        cdc_buf_puts(&sql, k ? " AND _cdc_t." : "_cdc_t.");
        cdc_pg_append_ident(&sql, plan->cols[k].name);
        cdc_buf_puts(&sql, " IS NOT NULL");
    }
    cdc_buf_puts(&sql, " ORDER BY ");
    for (size_t k = 0; k < ncols; k++) {
        if (k)
            cdc_buf_puts(&sql, ", ");
        key_expr(&sql, plan, k);
    }
    PGresult *r = PQexec(conn_s, sql.data);
    cdc_buf_free(&sql);
    return r;
}

int vranges_plan(PGconn *conn_s, PGconn *conn_t, const vplan_t *plan, size_t want,
                 vrange_t **ranges, size_t *nranges, char *errstr, size_t errstr_size)
{
    PGresult *r = NULL;
    char e[600];
    int rc = -1;
    size_t ncols = plan->nkeys, nsplit = 0;
    int *split = NULL;
    *ranges = NULL;
    *nranges = 0;
    /* The range predicates are evaluated by each side with its own types:
     * a key typed differently (int vs text) could order differently. */
    for (size_t k = 0; k < plan->nkeys && conn_t; k++)
        if (plan->cols[k].stype.kind != plan->cols[k].ttype.kind ||
            plan->cols[k].stype.is_array != plan->cols[k].ttype.is_array) {
            cdc_log_info("%s: key column \"%s\" has different types in source and target: "
                         "scanned as one key range",
                         plan->display, plan->cols[k].name);
            want = 1;
        }
    if (want > 1 && plan->nkeys) {
        /* Row values compare unknown on a NULL part: a nullable key is split
         * on its first column only, whose NULLs go to the last range. */
        int nn = key_not_null(conn_s, plan, e, sizeof e);
        int nt = nn == 1 && conn_t ? key_not_null(conn_t, plan, e, sizeof e) : nn;
        if (nn < 0 || nt < 0) {
            snprintf(errstr, errstr_size, "reading the key's nullability of %s: %s", plan->display,
                     e);
            goto out;
        }
        if (!nn || !nt)
            ncols = 1;
        /* A never-analyzed table has no reltuples: guess from its size (at
         * most ~200 rows a page, so the sample is not larger than meant). */
        double est = plan->reltuples;
        if (est <= 0) {
            r = vplan_catalog(conn_s, plan,
                              "SELECT pg_relation_size(quote_ident($1) || '.' || quote_ident($2)) "
                              "/ 8192 * 200.0",
                              false, e, sizeof e);
            if (r && PQntuples(r) == 1)
                est = strtod(PQgetvalue(r, 0, 0), NULL);
            PQclear(r);
            r = NULL;
        }
        double pct = est > SAMPLE_ROWS ? 100.0 * SAMPLE_ROWS / est : 100.0;
        if (pct < 0.001)
            pct = 0.001;
        r = sample_keys(conn_s, plan, ncols, pct);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            cdc_pg_error(r, conn_s, e, sizeof e);
            snprintf(errstr, errstr_size, "sampling the key of %s for --jobs: %s", plan->display,
                     e);
            goto out;
        }
        /* Evenly spaced sample rows, each split point after the last. */
        int n = PQntuples(r);
        split = calloc(want, sizeof *split);
        for (size_t j = 1; j < want && n > 0; j++) {
            int row = (int)((double)j * n / (double)want);
            bool same = nsplit > 0;
            for (size_t k = 0; k < ncols && same; k++)
                same = strcmp(PQgetvalue(r, row, (int)k),
                              PQgetvalue(r, split[nsplit - 1], (int)k)) == 0;
            if (!same && row > 0)
                split[nsplit++] = row;
        }
    }
    *nranges = nsplit + 1;
    *ranges = calloc(*nranges, sizeof **ranges);
    for (size_t i = 0; i < *nranges; i++) {
        vrange_t *g = &(*ranges)[i];
        g->index = i;
        g->count = *nranges;
        g->ncols = ncols;
        g->lo = i ? sample_row(r, split[i - 1], ncols) : NULL;
        g->hi = i < nsplit ? sample_row(r, split[i], ncols) : NULL;
        g->nulls = i == nsplit && ncols == 1;
    }
    rc = 0;
out:
    PQclear(r);
    free(split);
    return rc;
}

static void put_bound(cdc_buf_t *out, const vplan_t *plan, const vrange_t *r, char *const *v,
                      const char *op, PGconn *conn)
{
    if (r->ncols > 1)
        cdc_buf_putc(out, '(');
    for (size_t k = 0; k < r->ncols; k++) {
        if (k)
            cdc_buf_puts(out, ", ");
        key_expr(out, plan, k);
    }
    cdc_buf_puts(out, r->ncols > 1 ? ") " : " ");
    cdc_buf_puts(out, op);
    cdc_buf_puts(out, r->ncols > 1 ? " (" : " ");
    for (size_t k = 0; k < r->ncols; k++) {
        char *lit = PQescapeLiteral(conn, v[k], strlen(v[k]));
        cdc_buf_printf(out, "%s%s", k ? ", " : "", lit ? lit : "NULL");
        PQfreemem(lit);
    }
    if (r->ncols > 1)
        cdc_buf_putc(out, ')');
}

bool vrange_where(const vplan_t *plan, const vrange_t *r, PGconn *conn, cdc_buf_t *out)
{
    if (!r->lo && !r->hi)
        return false;
    if (r->lo && r->nulls)
        cdc_buf_putc(out, '(');
    if (r->lo)
        put_bound(out, plan, r, r->lo, ">=", conn);
    if (r->lo && r->nulls) {
        cdc_buf_puts(out, " OR ");
        key_expr(out, plan, 0);
        cdc_buf_puts(out, " IS NULL)");
    }
    if (r->lo && r->hi)
        cdc_buf_puts(out, " AND ");
    if (r->hi)
        put_bound(out, plan, r, r->hi, "<", conn);
    return true;
}
