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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc/pg.h"

#define FETCH_STMT      "cdc_verify_fetch"
#define FETCH_TEXT_STMT "cdc_verify_fetch_text"
#define FULL_STMT       "cdc_verify_full"

/* The cast a value of @p c needs after its literal or parameter: a source real
 * written into a target double precision column is typed real, so that
 * PostgreSQL widens the real exactly; the untyped text '0.1' would become
 * the double nearest 0.1, which `real = double precision` tells apart from
 * the real 0.1 (the rule cdc-verify compares by). */
static const char *literal_cast(const vcol_t *c)
{
    if (c && c->stype.kind == CDC_CANON_FLOAT4 && c->ttype.kind == CDC_CANON_FLOAT8 &&
        c->stype.is_array == c->ttype.is_array)
        return c->stype.is_array ? "::real[]" : "::real";
    return "";
}

static const vcol_t *plan_col(const vplan_t *plan, const char *name)
{
    for (size_t i = 0; i < plan->ncols; i++)
        if (strcmp(plan->cols[i].name, name) == 0)
            return &plan->cols[i];
    return NULL;
}

/* " WHERE _cdc_t."k1" IS NOT DISTINCT FROM $1 AND ... AND (where)": the
 * same FROM ... AS _cdc_t form as the scan, so a --where predicate means
 * the same thing (and works or fails the same way) in every statement. */
static void key_where_params(cdc_buf_t *sql, const vplan_t *plan)
{
    cdc_buf_puts(sql, " WHERE ");
    for (size_t k = 0; k < plan->nkeys; k++) {
        if (k)
            cdc_buf_puts(sql, " AND ");
        cdc_buf_puts(sql, "_cdc_t.");
        cdc_pg_append_ident(sql, plan->cols[k].name);
        /* NOT DISTINCT: a --key column may hold NULL, and "= NULL" finds
         * nothing on either side, which would pass for convergence. */
        cdc_buf_printf(sql, " IS NOT DISTINCT FROM $%zu%s", k + 1, literal_cast(&plan->cols[k]));
    }
    /* The slice predicate too: a row that left the slice is gone from it. */
    if (plan->where)
        cdc_buf_printf(sql, " AND (%s)", plan->where);
}

static int prepare(PGconn *conn, const char *name, const char *sql, char *errstr,
                   size_t errstr_size)
{
    PGresult *res = PQprepare(conn, name, sql, 0, NULL);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        cdc_pg_error(res, conn, errstr, errstr_size);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

int vfetch_prepare(PGconn *conn, const vplan_t *plan, char *errstr, size_t errstr_size)
{
    cdc_buf_t sql = CDC_BUF_INIT;
    /* Every row of the key: without a unique key on a side, one key may
     * stand for several rows (compared as a multiset). */
    cdc_buf_printf(&sql, "SELECT _r.*, to_jsonb(_r)::text FROM (SELECT %s FROM %s AS _cdc_t",
                   plan->select_list, plan->from);
    key_where_params(&sql, plan);
    cdc_buf_puts(&sql, ") _r");
    int rc = prepare(conn, FETCH_STMT, sql.data, errstr, errstr_size);
    /* The same rows with an image of every column as its text: to_jsonb()
     * casts a json value to jsonb, which rejects some json stores (\u0000,
     * a lone surrogate, a number beyond numeric); such a row's image is
     * then the text form, and the row is still compared and reported. */
    cdc_buf_reset(&sql);
    cdc_buf_printf(&sql, "SELECT _r.*, to_jsonb(_x)::text FROM (SELECT %s FROM %s AS _cdc_t",
                   plan->select_list, plan->from);
    key_where_params(&sql, plan);
    cdc_buf_puts(&sql, ") _r, LATERAL (SELECT ");
    for (size_t i = 0; i < plan->ncols; i++) {
        if (i)
            cdc_buf_puts(&sql, ", ");
        cdc_buf_puts(&sql, "_r.");
        cdc_pg_append_ident(&sql, plan->cols[i].name);
        cdc_buf_puts(&sql, "::text AS ");
        cdc_pg_append_ident(&sql, plan->cols[i].name);
    }
    cdc_buf_puts(&sql, ") _x");
    if (!rc)
        rc = prepare(conn, FETCH_TEXT_STMT, sql.data, errstr, errstr_size);
    cdc_buf_free(&sql);
    return rc;
}

static void row_clear(vrow_t *r, size_t ncols)
{
    for (size_t i = 0; r->vals && i < ncols; i++)
        free(r->vals[i]);
    free(r->vals);
    free(r->json);
}

void vfetch_clear(vfetch_t *f, size_t ncols)
{
    for (size_t i = 0; i < f->n; i++)
        row_clear(&f->rows[i], ncols);
    free(f->rows);
    memset(f, 0, sizeof *f);
}

int vfetch_rows(PGconn *conn, const vplan_t *plan, bool target, char *const *keyvals, vfetch_t *out,
                char *errstr, size_t errstr_size)
{
    memset(out, 0, sizeof *out);
    if (!conn)
        return 0; /* a side without the table: no rows */
    PGresult *res = PQexecPrepared(conn, FETCH_STMT, (int)plan->nkeys, (const char *const *)keyvals,
                                   NULL, NULL, 0);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (PQresultStatus(res) != PGRES_TUPLES_OK && state && strncmp(state, "22", 2) == 0) {
        /* a data exception making the jsonb image: the text image */
        PQclear(res);
        res = PQexecPrepared(conn, FETCH_TEXT_STMT, (int)plan->nkeys, (const char *const *)keyvals,
                             NULL, NULL, 0);
    }
    cdc_buf_t row = CDC_BUF_INIT;
    int rc = -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_pg_error(res, conn, errstr, errstr_size);
        goto out;
    }
    int nt = PQntuples(res);
    out->rows = calloc(nt ? (size_t)nt : 1, sizeof *out->rows);
    for (int t = 0; t < nt; t++) {
        vrow_t *r = &out->rows[out->n++];
        r->vals = calloc(plan->ncols ? plan->ncols : 1, sizeof *r->vals);
        cdc_buf_reset(&row);
        for (size_t i = 0; i < plan->ncols; i++) {
            const vcol_t *c = &plan->cols[i];
            bool null = PQgetisnull(res, t, (int)i);
            const char *v = null ? NULL : PQgetvalue(res, t, (int)i);
            size_t len = null ? 0 : (size_t)PQgetlength(res, t, (int)i);
            char e[300];
            if (cdc_canon_encode(target ? c->ttype : c->stype, v, len, &row, e, sizeof e)) {
                snprintf(errstr, errstr_size, "column \"%s\": %s", c->name, e);
                goto out;
            }
            r->vals[i] = v ? strdup(v) : NULL;
        }
        r->digest = cdc_canon_hash(row.data ? row.data : "", row.len);
        r->json = strdup(PQgetvalue(res, t, (int)plan->ncols));
    }
    rc = 0;
out:
    if (rc)
        vfetch_clear(out, plan->ncols);
    PQclear(res);
    cdc_buf_free(&row);
    return rc;
}

void vmatch(const uint64_t *a, size_t na, const uint64_t *b, size_t nb, int64_t n[3], bool *ua,
            bool *ub)
{
    /* Fetched groups are small (usually one row a side): quadratic is fine. */
    bool *used = calloc(nb ? nb : 1, sizeof *used);
    size_t sa = 0;
    for (size_t i = 0; i < na; i++) {
        size_t j = 0;
        while (j < nb && (used[j] || b[j] != a[i]))
            j++;
        if (j < nb)
            used[j] = true;
        else
            sa++;
        if (ua)
            ua[i] = j >= nb;
    }
    size_t sb = 0;
    for (size_t j = 0; j < nb; j++) {
        sb += !used[j];
        if (ub)
            ub[j] = !used[j];
    }
    free(used);
    size_t d = sa < sb ? sa : sb;
    n[CDC_VERIFY_DIFFERENT] = (int64_t)d;
    n[CDC_VERIFY_MISSING] = (int64_t)(sa - d);
    n[CDC_VERIFY_EXTRA] = (int64_t)(sb - d);
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

/* Same shape as key_where_params(), with the key's literals. */
static void put_key_where(FILE *out, PGconn *conn, const vplan_t *plan, char *const *keyvals)
{
    fputs(" WHERE ", out);
    for (size_t k = 0; k < plan->nkeys; k++) {
        if (k)
            fputs(" AND ", out);
        fputs("_cdc_t.", out);
        put_ident(out, conn, plan->cols[k].name);
        fputs(" IS NOT DISTINCT FROM ", out);
        put_literal(out, conn, keyvals[k]);
        if (keyvals[k])
            fputs(literal_cast(&plan->cols[k]), out);
    }
    if (plan->where)
        fprintf(out, " AND (%s)", plan->where);
}

void vrepair_free(vrepair_t *r)
{
    for (size_t i = 0; r->cols && i < r->ncols; i++)
        free(r->cols[i]);
    free(r->cols);
    memset(r, 0, sizeof *r);
}

int vrepair_prepare(vrepair_t *r, PGconn *conn_s, PGconn *conn_t, const vplan_t *plan, char *errstr,
                    size_t errstr_size)
{
    memset(r, 0, sizeof *r);
    const char *params[2] = {plan->schema, plan->table};
    /* The target's insertable columns (not generated) that the source has,
     * in the target's order: a repaired row is the source's whole row,
     * whatever --column / --exclude-column narrowed the comparison to. */
    static const char *const cols_sql =
        "SELECT a.attname, a.attgenerated <> '' FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum";
    PGresult *rt = PQexecParams(conn_t, cols_sql, 2, NULL, params, NULL, NULL, 0);
    PGresult *rs = PQexecParams(conn_s, cols_sql, 2, NULL, params, NULL, NULL, 0);
    cdc_buf_t sql = CDC_BUF_INIT;
    int rc = -1;
    if (PQresultStatus(rt) != PGRES_TUPLES_OK || PQresultStatus(rs) != PGRES_TUPLES_OK) {
        bool t = PQresultStatus(rt) != PGRES_TUPLES_OK;
        cdc_pg_error(t ? rt : rs, t ? conn_t : conn_s, errstr, errstr_size);
        goto out;
    }
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
    cdc_buf_puts(&sql, "SELECT ");
    for (size_t i = 0; i < r->ncols; i++) {
        if (i)
            cdc_buf_puts(&sql, ", ");
        cdc_buf_puts(&sql, "_cdc_t.");
        cdc_pg_append_ident(&sql, r->cols[i]);
    }
    if (!r->ncols)
        cdc_buf_puts(&sql, "1");
    cdc_buf_printf(&sql, " FROM %s AS _cdc_t", plan->from);
    key_where_params(&sql, plan);
    rc = prepare(conn_s, FULL_STMT, sql.data, errstr, errstr_size);
out:
    PQclear(rt);
    PQclear(rs);
    cdc_buf_free(&sql);
    return rc;
}

/* INSERT every source row of the key, whole. */
static int insert_full(FILE *out, const vrepair_t *r, PGconn *conn_s, PGconn *conn_t,
                       const vplan_t *plan, char *const *keyvals, char *errstr, size_t errstr_size)
{
    PGresult *res = PQexecPrepared(conn_s, FULL_STMT, (int)plan->nkeys,
                                   (const char *const *)keyvals, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_pg_error(res, conn_s, errstr, errstr_size);
        PQclear(res);
        return -1;
    }
    /* Values are the source's text output under the canonical session
     * settings, which the target's input functions accept as is. */
    for (int t = 0; t < PQntuples(res); t++) {
        fputs("INSERT INTO ", out);
        put_from(out, conn_t, plan);
        fputs(" (", out);
        for (size_t i = 0; i < r->ncols; i++) {
            if (i)
                fputs(", ", out);
            put_ident(out, conn_t, r->cols[i]);
        }
        fputs(") VALUES (", out);
        for (size_t i = 0; i < r->ncols; i++) {
            if (i)
                fputs(", ", out);
            bool null = PQgetisnull(res, t, (int)i);
            put_literal(out, conn_t, null ? NULL : PQgetvalue(res, t, (int)i));
            if (!null)
                fputs(literal_cast(plan_col(plan, r->cols[i])), out);
        }
        fputs(");\n", out);
    }
    PQclear(res);
    return 0;
}

static void delete_key(FILE *out, PGconn *conn_t, const vplan_t *plan, char *const *keyvals)
{
    fputs("DELETE FROM ", out);
    put_from(out, conn_t, plan);
    fputs(" AS _cdc_t", out);
    put_key_where(out, conn_t, plan, keyvals);
    fputs(";\n", out);
}

int vrepair_key(FILE *out, const vrepair_t *r, PGconn *conn_s, PGconn *conn_t, const vplan_t *plan,
                char *const *keyvals, const vfetch_t *src, const vfetch_t *tgt, char *errstr,
                size_t errstr_size)
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
        return 0; /* equal now */
    if (src->n == 1 && tgt->n == 1) {
        if (plan->ncols == plan->nkeys)
            return 0; /* nothing but the key: equal keys cannot differ */
        /* Only the compared columns: the others were not compared, and
         * are the target's business. */
        fputs("UPDATE ", out);
        put_from(out, conn_t, plan);
        fputs(" AS _cdc_t SET ", out);
        for (size_t i = plan->nkeys; i < plan->ncols; i++) {
            if (i > plan->nkeys)
                fputs(", ", out);
            put_ident(out, conn_t, plan->cols[i].name);
            fputs(" = ", out);
            put_literal(out, conn_t, src->rows[0].vals[i]);
            if (src->rows[0].vals[i])
                fputs(literal_cast(&plan->cols[i]), out);
        }
        put_key_where(out, conn_t, plan, keyvals);
        fputs(";\n", out);
        return 0;
    }
    /* Missing, extra, or copies under one key: the target's rows of the
     * key become the source's (one DELETE cannot pick one of two equal
     * copies, so all go and the source's come back whole). */
    if (tgt->n)
        delete_key(out, conn_t, plan, keyvals);
    if (src->n)
        return insert_full(out, r, conn_s, conn_t, plan, keyvals, errstr, errstr_size);
    return 0;
}

uint64_t *vdigests(const vfetch_t *f)
{
    uint64_t *d = calloc(f->n + 1, sizeof *d);
    for (size_t i = 0; i < f->n; i++)
        d[i] = f->rows[i].digest;
    return d;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Step 4: rows changed by replication while we scanned converge. The
 * counts stay exact as kinds move. */
int vrun_recheck(vrun_t *run, char *errstr, size_t errstr_size)
{
    const cdc_verify_opts_t *opts = run->opts;
    cdc_verify_result_t *res = run->res;
    char e[600];
    if (run->mv.n && (vfetch_prepare(run->cs, &run->plan, e, sizeof e) ||
                      (run->ctf && vfetch_prepare(run->ctf, &run->plan, e, sizeof e)))) {
        snprintf(errstr, errstr_size, "preparing the row fetch: %s", e);
        return -1;
    }
    if (opts->recheck > 0 && run->mv.n) {
        res->recheck_delay_used = opts->recheck_delay >= 0
                                      ? opts->recheck_delay
                                      : vrecheck_auto_delay(run->ct, opts->state_schema);
        size_t pending = run->mv.n;
        for (int round = 0; round < opts->recheck && pending; round++) {
            sleep_s(res->recheck_delay_used);
            for (size_t i = 0; i < run->mv.n; i++) {
                vmis_t *m = &run->mv.v[i];
                if (m->converged)
                    continue;
                vfetch_t fs = {0}, ft = {0};
                if (vfetch_rows(run->cs, &run->plan, false, m->keyvals, &fs, e, sizeof e) ||
                    vfetch_rows(run->ctf, &run->plan, true, m->keyvals, &ft, e, sizeof e)) {
                    vfetch_clear(&fs, run->plan.ncols);
                    vfetch_clear(&ft, run->plan.ncols);
                    snprintf(errstr, errstr_size, "recheck: %s", e);
                    return -1;
                }
                uint64_t *ds = vdigests(&fs), *dt = vdigests(&ft);
                int64_t now[3];
                vmatch(ds, fs.n, dt, ft.n, now, NULL, NULL);
                free(ds);
                free(dt);
                /* Keep the counters exact as kinds move. */
                int64_t *cnt[3] = {&res->missing, &res->extra, &res->different};
                int64_t before = 0, after_n = 0;
                for (int k = 0; k < 3; k++) {
                    *cnt[k] += now[k] - m->n[k];
                    before += m->n[k];
                    after_n += now[k];
                    m->n[k] = now[k];
                }
                if (after_n < before)
                    res->in_flight += before - after_n;
                if (!after_n) {
                    m->converged = true;
                    pending--;
                }
                vfetch_clear(&fs, run->plan.ncols);
                vfetch_clear(&ft, run->plan.ncols);
            }
        }
    }
    return 0;
}
