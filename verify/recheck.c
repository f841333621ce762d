/*
 * Single-row fetches by key (recheck, row JSON for the report, repair
 * statements) and the recheck delay.
 *
 * A fetch hashes the row exactly like the scan does (same columns, same
 * order, same canonical encoding), so a row that converged compares equal
 * here iff it would have compared equal in a new full scan.
 */
#include "verify_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/pg.h"

#define FETCH_STMT "cdc_verify_fetch"

int vfetch_prepare(PGconn *conn, const vplan_t *plan, char *errstr, size_t errstr_size)
{
    cdc_buf_t sql = CDC_BUF_INIT;
    cdc_buf_printf(&sql, "SELECT _r.*, to_jsonb(_r)::text FROM (SELECT %s FROM %s WHERE ",
                   plan->select_list, plan->from);
    for (size_t k = 0; k < plan->nkeys; k++) {
        if (k)
            cdc_buf_puts(&sql, " AND ");
        cdc_pg_append_ident(&sql, plan->cols[k].name);
        /* NOT DISTINCT: a --key column may hold NULL, and "= NULL" finds
         * nothing on either side, which would pass for convergence. */
        cdc_buf_printf(&sql, " IS NOT DISTINCT FROM $%zu", k + 1);
    }
    /* The slice predicate too: a row that left the slice is gone from it. */
    if (plan->where)
        cdc_buf_printf(&sql, " AND (%s)", plan->where);
    cdc_buf_puts(&sql, " LIMIT 1) _r");
    PGresult *res = PQprepare(conn, FETCH_STMT, sql.data, 0, NULL);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        cdc_pg_error(res, conn, errstr, errstr_size);
        rc = -1;
    }
    PQclear(res);
    cdc_buf_free(&sql);
    return rc;
}

void vfetch_clear(vfetch_t *f, size_t ncols)
{
    for (size_t i = 0; f->vals && i < ncols; i++)
        free(f->vals[i]);
    free(f->vals);
    free(f->json);
    memset(f, 0, sizeof *f);
}

int vfetch_row(PGconn *conn, const vplan_t *plan, bool target, char *const *keyvals, vfetch_t *out,
               char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof *out);
    PGresult *res = PQexecPrepared(conn, FETCH_STMT, (int)plan->nkeys, (const char *const *)keyvals,
                                   NULL, NULL, 0);
    cdc_buf_t row = CDC_BUF_INIT;
    int rc = -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_pg_error(res, conn, errstr, errstr_size);
        goto out;
    }
    if (PQntuples(res) == 0) {
        rc = 0;
        goto out;
    }
    out->present = true;
    out->vals = calloc(plan->ncols ? plan->ncols : 1, sizeof *out->vals);
    for (size_t i = 0; i < plan->ncols; i++) {
        const vcol_t *c = &plan->cols[i];
        bool null = PQgetisnull(res, 0, (int)i);
        const char *v = null ? NULL : PQgetvalue(res, 0, (int)i);
        size_t len = null ? 0 : (size_t)PQgetlength(res, 0, (int)i);
        char e[300];
        if (cdc_canon_encode(target ? c->ttype : c->stype, v, len, &row, e, sizeof e)) {
            snprintf(errstr, errstr_size, "column \"%s\": %s", c->name, e);
            goto out;
        }
        out->vals[i] = v ? strdup(v) : NULL;
    }
    out->digest = cdc_canon_hash(row.data ? row.data : "", row.len);
    out->json = strdup(PQgetvalue(res, 0, (int)plan->ncols));
    rc = 0;
out:
    if (rc)
        vfetch_clear(out, plan->ncols);
    PQclear(res);
    cdc_buf_free(&row);
    return rc;
}

char *vkey_json(const vplan_t *plan, char *const *keyvals)
{
    json_t *o = json_object();
    for (size_t k = 0; k < plan->nkeys; k++) {
        const vcol_t *c = &plan->cols[k];
        json_t *v = NULL;
        if (!keyvals[k]) {
            v = json_null();
        } else if (c->stype.kind == CDC_CANON_INT && !c->stype.is_array) {
            char *end = NULL;
            long long n = strtoll(keyvals[k], &end, 10);
            v = *end ? json_string(keyvals[k]) : json_integer(n);
        } else {
            v = json_string(keyvals[k]);
        }
        if (!v) /* not UTF-8: keep it visible rather than drop the key */
            v = json_string("<invalid utf-8>");
        json_object_set_new(o, c->name, v);
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

/* Lag from the state schema: cdc-apply's own lag figure when it keeps an
 * apply_status table with lag_seconds, else the age of the newest offset
 * row (an upper bound while changes flow; clamped because an idle source
 * would make it arbitrarily large), else 5 s. */
double vrecheck_auto_delay(PGconn *conn_t, const char *schema)
{
    const char *params[1] = {schema ? schema : "cdc"};
    double lag = -1;
    PGresult *res = PQexecParams(
        conn_t,
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = $1 "
        "AND table_name = 'apply_status' AND column_name = 'lag_seconds'), "
        "to_regclass(quote_ident($1) || '.offsets') IS NOT NULL",
        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        bool has_status = PQgetvalue(res, 0, 0)[0] == 't';
        bool has_offsets = PQgetvalue(res, 0, 1)[0] == 't';
        cdc_buf_t sql = CDC_BUF_INIT;
        if (has_status) {
            cdc_buf_puts(&sql, "SELECT max(lag_seconds)::float8 FROM ");
            cdc_pg_append_qualified(&sql, schema, "apply_status");
        } else if (has_offsets) {
            cdc_buf_puts(&sql, "SELECT extract(epoch FROM now() - max(updated_at))::float8 FROM ");
            cdc_pg_append_qualified(&sql, schema, "offsets");
        }
        if (sql.len) {
            PGresult *r2 = PQexec(conn_t, sql.data);
            if (PQresultStatus(r2) == PGRES_TUPLES_OK && PQntuples(r2) == 1 &&
                !PQgetisnull(r2, 0, 0))
                lag = atof(PQgetvalue(r2, 0, 0));
            PQclear(r2);
        }
        cdc_buf_free(&sql);
    }
    PQclear(res);
    if (lag < 0)
        return 5.0;
    lag += 1.0; /* margin: the lag figure itself is a little old */
    return lag > 60 ? 60 : lag;
}

static void put_ident(FILE *out, PGconn *conn, const char *name)
{
    char *q = PQescapeIdentifier(conn, name, strlen(name));
    fputs(q ? q : "\"?\"", out);
    PQfreemem(q);
}

static void put_literal(FILE *out, PGconn *conn, const char *v)
{
    if (!v) {
        fputs("NULL", out);
        return;
    }
    char *q = PQescapeLiteral(conn, v, strlen(v));
    fputs(q ? q : "NULL", out);
    PQfreemem(q);
}

static void put_from(FILE *out, PGconn *conn, const vplan_t *plan)
{
    put_ident(out, conn, plan->schema);
    fputc('.', out);
    put_ident(out, conn, plan->table);
}

static void put_key_where(FILE *out, PGconn *conn, const vplan_t *plan, char *const *keyvals)
{
    fputs(" WHERE ", out);
    for (size_t k = 0; k < plan->nkeys; k++) {
        if (k)
            fputs(" AND ", out);
        put_ident(out, conn, plan->cols[k].name);
        fputs(" IS NOT DISTINCT FROM ", out);
        put_literal(out, conn, keyvals[k]);
    }
}

void vrepair_append(FILE *out, PGconn *conn_t, const vplan_t *plan, const vmis_t *m,
                    const vfetch_t *src)
{
    /* Values are the source's text output under the canonical session
     * settings, which the target's input functions accept as is. */
    if (m->kind == CDC_VERIFY_EXTRA || !src->present) {
        fputs("DELETE FROM ", out);
        put_from(out, conn_t, plan);
        put_key_where(out, conn_t, plan, m->keyvals);
        fputs(";\n", out);
        return;
    }
    if (m->kind == CDC_VERIFY_MISSING) {
        fputs("INSERT INTO ", out);
        put_from(out, conn_t, plan);
        fputs(" (", out);
        for (size_t i = 0; i < plan->ncols; i++) {
            if (i)
                fputs(", ", out);
            put_ident(out, conn_t, plan->cols[i].name);
        }
        fputs(") VALUES (", out);
        for (size_t i = 0; i < plan->ncols; i++) {
            if (i)
                fputs(", ", out);
            put_literal(out, conn_t, src->vals[i]);
        }
        fputs(");\n", out);
        return;
    }
    if (plan->ncols == plan->nkeys)
        return; /* nothing but the key: equal keys cannot differ */
    fputs("UPDATE ", out);
    put_from(out, conn_t, plan);
    fputs(" SET ", out);
    for (size_t i = plan->nkeys; i < plan->ncols; i++) {
        if (i > plan->nkeys)
            fputs(", ", out);
        put_ident(out, conn_t, plan->cols[i].name);
        fputs(" = ", out);
        put_literal(out, conn_t, src->vals[i]);
    }
    put_key_where(out, conn_t, plan, m->keyvals);
    fputs(";\n", out);
}
