/*
 * Fetches by key, for the recheck (recheck.c), the row JSON of the report
 * and the repair statements (repair.c), and the digest match of the rows
 * fetched.
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
const char *vliteral_cast(const vcol_t *c)
{
    if (c && c->stype.kind == CDC_CANON_FLOAT4 && c->ttype.kind == CDC_CANON_FLOAT8 &&
        c->stype.is_array == c->ttype.is_array)
        return c->stype.is_array ? "::real[]" : "::real";
    return "";
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
     * real (vliteral_cast()). */
    char e[512];
    PGresult *res = vplan_catalog(
        conn, plan,
        "SELECT a.attname, format_type(a.atttypid, -1) FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
        false, e, sizeof e);
    if (!res) {
        snprintf(errstr, errstr_size, "reading the key types of %s: %s", plan->display, e);
        vfetcher_free(f);
        return -1;
    }
    for (size_t k = 0; k < plan->nkeys; k++) {
        const vcol_t *c = &plan->cols[k];
        const char *lc = vliteral_cast(c);
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

bool vsame_nulls(const vplan_t *plan, char *const *a, char *const *b)
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
            if (!done[j] && vsame_nulls(plan, keyvals[i], keyvals[j])) {
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

uint64_t *vdigests(const vfetch_t *f)
{
    uint64_t *d = calloc(f->n + 1, sizeof *d);
    for (size_t i = 0; i < f->n; i++)
        d[i] = f->rows[i].digest;
    return d;
}
