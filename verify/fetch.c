/*
 * Fetches by key (recheck, row JSON for the report, repair statements),
 * the repair statements, and the recheck delay.
 *
 * Keys are fetched VFETCH_BATCH per statement and side, both sides at
 * once, each key by "=" on its columns (IS NULL for a NULL --key value):
 * predicates the primary key or any index on the key answers. The old
 * "key IS NOT DISTINCT FROM $1" was one sequential scan per row and side.
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

void vfetcher_free(vfetcher_t *f)
{
    vfields_free(f->casts, f->nkeys);
    memset(f, 0, sizeof *f);
}

int vfetcher_init(vfetcher_t *f, PGconn *conn, const vplan_t *plan, bool target, char *errstr,
                  size_t errstr_size)
{
    memset(f, 0, sizeof *f);
    f->conn = conn;
    f->target = target;
    f->nkeys = plan->nkeys;
    f->casts = calloc(plan->nkeys + 1, sizeof *f->casts);
    if (!conn)
        return 0;
    /* Typmod -1, not NULL: format_type() then names char(n) "bpchar" and
     * bit(n) "bit" quoted, not character(1) and bit(1), which would cut
     * the key. The cast is the side's own type, as an untyped parameter
     * would get; a real key compared to a double precision one is typed
     * real (literal_cast()). */
    const char *params[2] = {plan->schema, plan->table};
    cdc_err_class_t cls;
    char e[512];
    PGresult *res = cdc_pg_exec_params(
        conn,
        "SELECT a.attname, format_type(a.atttypid, -1) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
        2, params, NULL, NULL, PGRES_TUPLES_OK, &cls, e, sizeof e);
    if (!res) {
        snprintf(errstr, errstr_size, "reading the key types of %s: %s", plan->display, e);
        vfetcher_free(f);
        return -1;
    }
    for (size_t k = 0; k < plan->nkeys; k++) {
        const vcol_t *c = &plan->cols[k];
        const char *lc = literal_cast(c);
        for (int t = 0; t < PQntuples(res) && !*lc && !f->casts[k]; t++)
            if (strcmp(PQgetvalue(res, t, 0), c->name) == 0) {
                size_t len = strlen(PQgetvalue(res, t, 1)) + 3;
                f->casts[k] = malloc(len);
                snprintf(f->casts[k], len, "::%s", PQgetvalue(res, t, 1));
            }
        if (!f->casts[k])
            f->casts[k] = strdup(lc);
    }
    PQclear(res);
    return 0;
}

void vfetch_sql(cdc_buf_t *sql, const vfetcher_t *f, const vplan_t *plan, const bool *null,
                const char *inner, bool json, bool text_image)
{
    /* The keys as a relation (_cdc_k: position, then each non-NULL key
     * value as text), each joined to its rows by a LATERAL subquery: the
     * planner runs it as a nested loop of index lookups, one per key. */
    cdc_buf_puts(sql, "SELECT _cdc_k.o, _cdc_r.*");
    if (json)
        cdc_buf_puts(sql, text_image ? ", to_jsonb(_cdc_x)::text" : ", to_jsonb(_cdc_r)::text");
    cdc_buf_puts(sql, " FROM unnest($1::int[]");
    int p = 2;
    for (size_t k = 0; k < plan->nkeys; k++)
        if (!null[k])
            cdc_buf_printf(sql, ", $%d::text[]", p++);
    cdc_buf_puts(sql, ") AS _cdc_k(o");
    for (size_t k = 0; k < plan->nkeys; k++)
        if (!null[k])
            cdc_buf_printf(sql, ", k%zu", k);
    cdc_buf_printf(sql, ") CROSS JOIN LATERAL (SELECT %s FROM %s AS _cdc_t WHERE ", inner,
                   plan->from);
    for (size_t k = 0; k < plan->nkeys; k++) {
        if (k)
            cdc_buf_puts(sql, " AND ");
        cdc_buf_puts(sql, "_cdc_t.");
        cdc_pg_append_ident(sql, plan->cols[k].name);
        /* "=" compares under the column's collation, deterministic on a
         * key (check_plan()), so equal means equal bytes; "IS NULL" keeps
         * a NULL --key value matching its rows, as IS NOT DISTINCT FROM
         * did, and a btree index answers it too. */
        if (null[k])
            cdc_buf_puts(sql, " IS NULL");
        else
            cdc_buf_printf(sql, " = _cdc_k.k%zu%s", k, f->casts[k]);
    }
    /* The slice predicate too: a row that left the slice is gone from it. */
    if (plan->where)
        cdc_buf_printf(sql, " AND (%s)", plan->where);
    cdc_buf_puts(sql, ") _cdc_r");
    if (json && text_image) {
        cdc_buf_puts(sql, ", LATERAL (SELECT ");
        for (size_t i = 0; i < plan->ncols; i++) {
            if (i)
                cdc_buf_puts(sql, ", ");
            cdc_buf_puts(sql, "_cdc_r.");
            cdc_pg_append_ident(sql, plan->cols[i].name);
            cdc_buf_puts(sql, "::text AS ");
            cdc_pg_append_ident(sql, plan->cols[i].name);
        }
        cdc_buf_puts(sql, ") _cdc_x");
    }
}

size_t vfetch_params(const vplan_t *plan, const bool *null, char **const *keyvals,
                     const size_t *idx, size_t n, char **params)
{
    size_t np = 0;
    cdc_buf_t b = CDC_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        cdc_buf_printf(&b, "%c%zu", i ? ',' : '{', idx[i]);
    params[np++] = n ? (cdc_buf_putc(&b, '}'), cdc_buf_steal(&b)) : strdup("{}");
    for (size_t k = 0; k < plan->nkeys; k++) {
        if (null[k])
            continue;
        for (size_t i = 0; i < n; i++)
            cdc_pg_append_array_elem(&b, keyvals[idx[i]][k]);
        params[np++] = n ? (cdc_buf_putc(&b, '}'), cdc_buf_steal(&b)) : strdup("{}");
    }
    return np;
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

/* Send one batch statement (the answer is read by recv_batch()). */
static int send_batch(const vfetcher_t *f, const vplan_t *plan, const bool *null,
                      char **const *keyvals, const size_t *idx, size_t n, bool text_image,
                      char *errstr, size_t errstr_size)
{
    cdc_buf_t sql = CDC_BUF_INIT;
    char **params = calloc(plan->nkeys + 2, sizeof *params);
    vfetch_sql(&sql, f, plan, null, plan->select_list, true, text_image);
    size_t np = vfetch_params(plan, null, keyvals, idx, n, params);
    int rc = 0;
    if (!PQsendQueryParams(f->conn, sql.data, (int)np, NULL, (const char *const *)params, NULL,
                           NULL, 0)) {
        cdc_pg_error(NULL, f->conn, errstr, errstr_size);
        rc = -1;
    }
    vfields_free(params, np);
    cdc_buf_free(&sql);
    return rc;
}

/* The answer to send_batch(), or NULL with errstr; a data exception making
 * the jsonb image (22xxx) sets *data_err, for the caller to retry. */
static PGresult *recv_batch(const vfetcher_t *f, bool *data_err, char *errstr, size_t errstr_size)
{
    PGresult *res = NULL, *r;
    *data_err = false;
    while ((r = PQgetResult(f->conn))) {
        if (res)
            PQclear(r); /* one statement, one result */
        else
            res = r;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        *data_err = state && strncmp(state, "22", 2) == 0;
        cdc_pg_error(res, f->conn, errstr, errstr_size);
        PQclear(res);
        res = NULL;
    }
    return res;
}

static PGresult *run_batch(const vfetcher_t *f, const vplan_t *plan, const bool *null,
                           char **const *keyvals, const size_t *idx, size_t n, bool text_image,
                           bool *data_err, char *errstr, size_t errstr_size)
{
    *data_err = false;
    if (send_batch(f, plan, null, keyvals, idx, n, text_image, errstr, errstr_size))
        return NULL;
    return recv_batch(f, data_err, errstr, errstr_size);
}

/* Decode the rows of @p res into their keys' fetches. */
static int take_rows(PGresult *res, const vfetcher_t *f, const vplan_t *plan, vfetch_t *out,
                     size_t nout, char *errstr, size_t errstr_size)
{
    int nt = PQntuples(res);
    size_t *cnt = calloc(nout + 1, sizeof *cnt);
    int *pos = calloc((size_t)nt + 1, sizeof *pos);
    cdc_buf_t row = CDC_BUF_INIT;
    int rc = -1;
    for (int t = 0; t < nt; t++) {
        long o = strtol(PQgetvalue(res, t, 0), NULL, 10);
        if (o < 0 || (size_t)o >= nout) {
            snprintf(errstr, errstr_size, "fetch returned key position %ld of %zu", o, nout);
            goto out;
        }
        pos[t] = (int)o;
        cnt[o]++;
    }
    for (size_t i = 0; i < nout; i++)
        if (cnt[i])
            out[i].rows = realloc(out[i].rows, (out[i].n + cnt[i]) * sizeof *out[i].rows);
    for (int t = 0; t < nt; t++) {
        vfetch_t *fo = &out[pos[t]];
        vrow_t *r = &fo->rows[fo->n++];
        memset(r, 0, sizeof *r);
        r->vals = calloc(plan->ncols ? plan->ncols : 1, sizeof *r->vals);
        cdc_buf_reset(&row);
        for (size_t i = 0; i < plan->ncols; i++) {
            const vcol_t *c = &plan->cols[i];
            int col = (int)i + 1;
            bool null = PQgetisnull(res, t, col);
            const char *v = null ? NULL : PQgetvalue(res, t, col);
            size_t len = null ? 0 : (size_t)PQgetlength(res, t, col);
            char e[300];
            if (cdc_canon_encode(f->target ? c->ttype : c->stype, v, len, &row, e, sizeof e)) {
                snprintf(errstr, errstr_size, "column \"%s\": %s", c->name, e);
                goto out;
            }
            r->vals[i] = v ? strdup(v) : NULL;
        }
        r->digest = cdc_canon_hash(row.data ? row.data : "", row.len);
        r->json = strdup(PQgetvalue(res, t, (int)plan->ncols + 1));
    }
    rc = 0;
out:
    free(cnt);
    free(pos);
    cdc_buf_free(&row);
    return rc;
}

static bool same_nulls(const vplan_t *plan, char *const *a, char *const *b)
{
    for (size_t k = 0; k < plan->nkeys; k++)
        if (!a[k] != !b[k])
            return false;
    return true;
}

/* One side's rows of the keys @p idx after a data exception making the
 * jsonb image (to_jsonb() casts json to jsonb, which rejects \u0000, a
 * lone surrogate, a number beyond numeric): the keys one by one, and the
 * offending key's rows with an image of every column as its text, so that
 * only its image changes and the row is still compared and reported. */
static int fetch_one_by_one(const vfetcher_t *f, const vplan_t *plan, const bool *null,
                            char **const *keyvals, const size_t *idx, size_t m, vfetch_t *out,
                            size_t n, char *errstr, size_t errstr_size)
{
    for (size_t j = 0; j < m; j++) {
        bool data_err;
        PGresult *res =
            run_batch(f, plan, null, keyvals, &idx[j], 1, false, &data_err, errstr, errstr_size);
        if (!res && data_err)
            res =
                run_batch(f, plan, null, keyvals, &idx[j], 1, true, &data_err, errstr, errstr_size);
        int rc = !res || take_rows(res, f, plan, out, n, errstr, errstr_size) ? -1 : 0;
        PQclear(res);
        if (rc)
            return -1;
    }
    return 0;
}

int vfetch_keys(const vfetcher_t *fs, const vfetcher_t *ft, const vplan_t *plan,
                char **const *keyvals, size_t n, vfetch_t *outs, vfetch_t *outt, char *errstr,
                size_t errstr_size)
{
    const vfetcher_t *f[2] = {fs, ft};
    vfetch_t *out[2] = {outs, outt};
    for (int s = 0; s < 2; s++)
        if (f[s])
            memset(out[s], 0, n * sizeof *out[s]);
    bool *done = calloc(n + 1, sizeof *done), *null = calloc(plan->nkeys + 1, sizeof *null);
    size_t *idx = calloc(n + 1, sizeof *idx);
    int rc = -1;
    /* One statement a side per pattern of NULL key values: a NOT NULL key
     * has one pattern, so one statement a side per batch. */
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        size_t m = 0;
        for (size_t j = i; j < n; j++)
            if (!done[j] && same_nulls(plan, keyvals[i], keyvals[j])) {
                idx[m++] = j;
                done[j] = true;
            }
        for (size_t k = 0; k < plan->nkeys; k++)
            null[k] = !keyvals[i][k];
        /* Both sides at once (two servers, usually): the batch costs the
         * slower side's time, not the sum. */
        bool sent[2] = {false, false}, data_err[2] = {false, false};
        PGresult *res[2] = {NULL, NULL};
        char e[2][512];
        int bad = -1; /* the side that failed */
        for (int s = 0; s < 2 && bad < 0; s++)
            if (f[s] && f[s]->conn) {
                if (send_batch(f[s], plan, null, keyvals, idx, m, false, e[s], sizeof e[s]))
                    bad = s;
                sent[s] = bad < 0;
            }
        for (int s = 0; s < 2; s++)
            if (sent[s] && !(res[s] = recv_batch(f[s], &data_err[s], e[s], sizeof e[s])) &&
                !data_err[s] && bad < 0)
                bad = s;
        for (int s = 0; s < 2; s++)
            if (bad < 0 && sent[s] &&
                (res[s] ? take_rows(res[s], f[s], plan, out[s], n, e[s], sizeof e[s])
                        : fetch_one_by_one(f[s], plan, null, keyvals, idx, m, out[s], n, e[s],
                                           sizeof e[s])))
                bad = s;
        PQclear(res[0]);
        PQclear(res[1]);
        if (bad >= 0) {
            snprintf(errstr, errstr_size, "%s", e[bad]);
            goto out;
        }
    }
    rc = 0;
out:
    if (rc)
        for (int s = 0; s < 2; s++)
            for (size_t i = 0; f[s] && i < n; i++)
                vfetch_clear(&out[s][i], plan->ncols);
    free(done);
    free(null);
    free(idx);
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

/* ---- repair statements ------------------------------------------------ */

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
    cdc_buf_puts(b, literal_cast(c));
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
    memset(r, 0, sizeof *r);
}

/* The columns of a unique index of the target that are all key columns
 * (the fewest such), for ON CONFLICT; none: the key is not unique there.
 * Only a plain, valid, immediate index can arbitrate ON CONFLICT. */
static int find_conflict(vrepair_t *r, PGconn *conn_t, const vplan_t *plan, char *errstr,
                         size_t errstr_size)
{
    cdc_buf_t keys = CDC_BUF_INIT;
    for (size_t k = 0; k < plan->nkeys; k++)
        cdc_pg_append_array_elem(&keys, plan->cols[k].name);
    cdc_buf_putc(&keys, '}');
    const char *params[3] = {plan->schema, plan->table, keys.data};
    cdc_err_class_t cls;
    PGresult *res = cdc_pg_exec_params(
        conn_t,
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
        3, params, NULL, NULL, PGRES_TUPLES_OK, &cls, errstr, errstr_size);
    cdc_buf_free(&keys);
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
    const char *params[2] = {plan->schema, plan->table};
    /* The target's insertable columns (not generated) that the source has,
     * in the target's order: a repaired row is the source's whole row,
     * whatever --column / --exclude-column narrowed the comparison to. */
    static const char *const cols_sql =
        "SELECT a.attname, a.attgenerated <> '' FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum";
    cdc_err_class_t cls;
    PGresult *rs = NULL, *rt = cdc_pg_exec_params(conn_t, cols_sql, 2, params, NULL, NULL,
                                                  PGRES_TUPLES_OK, &cls, errstr, errstr_size);
    int rc = -1;
    if (!rt)
        goto out;
    rs = cdc_pg_exec_params(conn_s, cols_sql, 2, params, NULL, NULL, PGRES_TUPLES_OK, &cls, errstr,
                            errstr_size);
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
static int put_update(cdc_buf_t *b, const vplan_t *plan, char *const *keyvals, const vrow_t *s,
                      const vrow_t *t, char *errstr, size_t errstr_size)
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
            if (!got[idx[c]] && same_nulls(plan, keyvals[i], keyvals[idx[c]])) {
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
    char **vals = NULL; /* borrowed values of one row to insert */
    cdc_buf_t b = CDC_BUF_INIT;
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
            if (plan->ncols > plan->nkeys && put_update(&b, plan, keyvals[i], &src[i].rows[0],
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
                    put_insert(&b, r, plan, (const char *const *)vals, upsert);
                }
            }
            for (size_t j = first[i]; !r->plan_idx && j < first[i + 1]; j++) {
                for (size_t c = 0; c < r->ncols; c++)
                    vals[c] = PQgetisnull(rows[j].res, rows[j].t, (int)c + 1)
                                  ? NULL
                                  : PQgetvalue(rows[j].res, rows[j].t, (int)c + 1);
                put_insert(&b, r, plan, (const char *const *)vals, upsert);
            }
            break;
        }
        }
    }
    if (b.len && fwrite(b.data, 1, b.len, out) != b.len) {
        snprintf(errstr, errstr_size, "writing the repair statements failed");
        goto out;
    }
    rc = 0;
out:
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
 * counts stay exact as kinds move. Also prepares the by-key fetchers
 * step 5 uses. */
int vrun_recheck(vrun_t *run, char *errstr, size_t errstr_size)
{
    const cdc_verify_opts_t *opts = run->opts;
    cdc_verify_result_t *res = run->res;
    char e[600];
    /* Recheck: rows changed by replication while we scanned converge.
     * Keys go VFETCH_BATCH at a time, one statement a side per batch. */
    if (run->mv.n && (vfetcher_init(&run->fsrc, run->cs, &run->plan, false, e, sizeof e) ||
                      vfetcher_init(&run->ftgt, run->ctf, &run->plan, true, e, sizeof e))) {
        snprintf(errstr, errstr_size, "preparing the row fetch: %s", e);
        return -1;
    }
    run->bidx = calloc(VFETCH_BATCH, sizeof *run->bidx);
    run->bkeys = calloc(VFETCH_BATCH, sizeof *run->bkeys);
    run->bfs = calloc(VFETCH_BATCH, sizeof *run->bfs);
    run->bft = calloc(VFETCH_BATCH, sizeof *run->bft);
    if (opts->recheck > 0 && run->mv.n) {
        res->recheck_delay_used = opts->recheck_delay >= 0
                                      ? opts->recheck_delay
                                      : vrecheck_auto_delay(run->ct, opts->state_schema);
        size_t pending = run->mv.n;
        for (int round = 0; round < opts->recheck && pending; round++) {
            sleep_s(res->recheck_delay_used);
            for (size_t i = 0; i < run->mv.n;) {
                size_t nb = 0;
                for (; i < run->mv.n && nb < VFETCH_BATCH; i++)
                    if (!run->mv.v[i].converged) {
                        run->bidx[nb] = i;
                        run->bkeys[nb++] = run->mv.v[i].keyvals;
                    }
                if (vfetch_keys(&run->fsrc, &run->ftgt, &run->plan, run->bkeys, nb, run->bfs,
                                run->bft, e, sizeof e)) {
                    snprintf(errstr, errstr_size, "recheck: %s", e);
                    return -1;
                }
                for (size_t j = 0; j < nb; j++) {
                    vmis_t *m = &run->mv.v[run->bidx[j]];
                    vfetch_t *fs = &run->bfs[j], *ft = &run->bft[j];
                    uint64_t *ds = vdigests(fs), *dt = vdigests(ft);
                    int64_t now[3];
                    vmatch(ds, fs->n, dt, ft->n, now, NULL, NULL);
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
                    vfetch_clear(fs, run->plan.ncols);
                    vfetch_clear(ft, run->plan.ncols);
                }
            }
        }
    }

    return 0;
}
