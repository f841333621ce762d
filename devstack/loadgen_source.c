/* cdc-loadgen, the source side: generated column values, the tables, and
 * each change made in PostgreSQL and read back with RETURNING so the event
 * carries the row as PostgreSQL stored it (see loadgen_int.h). */
#include "loadgen_int.h"

#include "cdc/buf.h"
#include "cdc/log.h"
#include "cdc/pg.h"
#include "cdc/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- helpers ----------------------------------------------------------- */

/* splitmix64: tiny, seedable, good enough for a workload mix. */
static uint64_t rnd(lg_t *lg)
{
    uint64_t z = (lg->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

unsigned lg_rndn(lg_t *lg, unsigned n)
{
    return n ? (unsigned)(rnd(lg) % n) : 0;
}

PGresult *lg_pg_query(lg_t *lg, const char *sql, int n, const char *const *params, char *errstr,
                      size_t errstr_size)
{
    cdc_err_class_t cls;
    return cdc_pg_exec_params(lg->conn, sql, n, params, NULL, NULL, PGRES_TUPLES_OK, &cls, errstr,
                              errstr_size);
}

/* Plain PQexec: allows several statements (the session settings). */
int lg_pg_exec(lg_t *lg, const char *sql, char *errstr, size_t errstr_size)
{
    return cdc_pg_exec(lg->conn, sql, NULL, errstr, errstr_size);
}

int64_t lg_res_i64(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? -1 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Copy one result row (select list order) into @p row; returns its LSN. */
int64_t lg_row_from_res(const PGresult *res, int r, cdc_loadgen_row_t *row)
{
    memset(row, 0, sizeof(*row));
    for (int i = 0; i < CDC_LOADGEN_NCOLS; i++)
        row->v[i] = PQgetisnull(res, r, i) ? NULL : strdup(PQgetvalue(res, r, i));
    return lg_res_i64(res, r, CDC_LOADGEN_NCOLS);
}

static void keys_add(lg_table_t *t, int64_t id)
{
    if (t->nkeys == t->capkeys) {
        t->capkeys = t->capkeys ? t->capkeys * 2 : 256;
        t->keys = realloc(t->keys, t->capkeys * sizeof(*t->keys));
        if (!t->keys)
            abort();
    }
    t->keys[t->nkeys++] = id;
}

/* ---- value generation ------------------------------------------------- */

static const char *const words[] = {"alpha", "bravo", "charlie", "delta",  "echo", "foxtrot",
                                    "golf",  "hotel", "india",   "juliet", "kilo", "lima"};

static void gen_note(lg_t *lg, cdc_buf_t *b)
{
    cdc_buf_reset(b);
    /* Long notes are the TOAST case: well over CDC_LOADGEN_TOAST_MIN. */
    size_t target = lg->toast ? 3000 + lg_rndn(lg, 1500) : 10 + lg_rndn(lg, 40);
    cdc_buf_printf(b, "note %u:", lg_rndn(lg, 100000));
    while (b->len < target) {
        cdc_buf_putc(b, ' ');
        cdc_buf_puts(b, words[lg_rndn(lg, sizeof(words) / sizeof(words[0]))]);
    }
}

static void gen_ts(lg_t *lg, cdc_buf_t *b, bool tz)
{
    time_t secs = (time_t)(1700000000 + lg_rndn(lg, 365 * 86400));
    unsigned us = lg_rndn(lg, 1000000);
    /* Some whole milliseconds and whole seconds so the trailing-zero rules
     * of the ISO form get exercised. */
    if (lg_rndn(lg, 3) == 0)
        us -= us % 1000;
    if (lg_rndn(lg, 5) == 0)
        us = 0;
    struct tm tm;
    gmtime_r(&secs, &tm);
    cdc_buf_reset(b);
    cdc_buf_printf(b, "%04d-%02d-%02d %02d:%02d:%02d.%06u%s", tm.tm_year + 1900, tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us, tz ? "+00" : "");
}

static void gen_amount(lg_t *lg, cdc_buf_t *b)
{
    cdc_buf_reset(b);
    cdc_buf_printf(b, "%s%u.%02u", lg_rndn(lg, 20) == 0 ? "-" : "", lg_rndn(lg, 10000000),
                   lg_rndn(lg, 100));
}

/* Parameters $2..$13 of the INSERT, in DDL order after id; NULL = SQL NULL. */
static void gen_row(lg_t *lg, cdc_buf_t *pv, const char **pp)
{
    static const char *const statuses[] = {"new", "paid", "shipped", "cancelled"};
    static const char *const tags[] = {"{}", "{red,blue}", "{\"with space\",NULL}",
                                       "{a,\"b,c\",\"quote\\\"d\"}", "{\"ünï\"}"};
    for (int i = 0; i < CDC_LOADGEN_NCOLS; i++) {
        cdc_buf_reset(&pv[i]);
        pp[i] = NULL;
    }
    cdc_buf_printf(&pv[1], "customer-%03u", lg_rndn(lg, 1000));
    gen_amount(lg, &pv[2]);
    cdc_buf_puts(&pv[3], statuses[lg_rndn(lg, 4)]);
    gen_ts(lg, &pv[4], true);
    gen_ts(lg, &pv[5], false);
    cdc_buf_printf(&pv[6], "%d", (int)lg_rndn(lg, 1000) - 100);
    gen_note(lg, &pv[7]);
    cdc_buf_puts(&pv[8], tags[lg_rndn(lg, 5)]);
    cdc_buf_printf(&pv[9], "{\"n\": %u, \"src\": \"loadgen\", \"nested\": {\"ok\": true}}",
                   lg_rndn(lg, 1000));
    cdc_buf_puts(&pv[10], lg_rndn(lg, 2) ? "true" : "false");
    uint64_t a = rnd(lg), b = rnd(lg);
    cdc_buf_printf(&pv[11], "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
                   (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
                   0x8000u | ((unsigned)(b >> 48) & 0x3fff),
                   (unsigned long long)(b & 0xffffffffffffULL));
    time_t d = (time_t)(19723 + lg_rndn(lg, 1000)) * 86400;
    struct tm tm;
    gmtime_r(&d, &tm);
    cdc_buf_printf(&pv[12], "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    for (int i = 1; i < CDC_LOADGEN_NCOLS; i++)
        pp[i] = pv[i].data;
    /* Explicit NULLs matter (consumers must not replace them by defaults). */
    static const int nullable[] = {6, 8, 9, 10, 12};
    for (size_t i = 0; i < sizeof(nullable) / sizeof(nullable[0]); i++)
        if (lg_rndn(lg, 10) == 0)
            pp[nullable[i]] = NULL;
}

/* ---- tables ------------------------------------------------------------ */

int lg_table_setup(lg_t *lg, lg_table_t *t, bool reset, char *errstr, size_t errstr_size)
{
    int rc = -1;
    cdc_buf_t b = CDC_BUF_INIT;
    PGresult *res = NULL;
    const char *sel = cdc_loadgen_select_list();

    cdc_pg_append_qualified(&b, lg->schema, t->name);
    t->qname = cdc_buf_steal(&b);
    if (reset) {
        cdc_buf_printf(&b, "DROP TABLE IF EXISTS %s", t->qname);
        if (lg_pg_exec(lg, b.data, errstr, errstr_size) != 0)
            goto out;
        cdc_buf_reset(&b);
    }
    cdc_loadgen_ddl(&b, t->qname);
    if (lg_pg_exec(lg, b.data, errstr, errstr_size) != 0)
        goto out;
    cdc_buf_reset(&b);
    /* STORAGE EXTERNAL: out of line and uncompressed. A compressible note
     * would otherwise stay inline, and pgoutput sends inline values in full,
     * so no placeholder would ever appear. */
    cdc_buf_printf(&b, "ALTER TABLE %s REPLICA IDENTITY %s, ALTER COLUMN note SET STORAGE EXTERNAL",
                   t->qname, lg->full ? "FULL" : "DEFAULT");
    if (lg_pg_exec(lg, b.data, errstr, errstr_size) != 0)
        goto out;
    cdc_buf_reset(&b);

    cdc_buf_printf(&b, "SELECT id FROM %s ORDER BY id", t->qname);
    if (!(res = lg_pg_query(lg, b.data, 0, NULL, errstr, errstr_size)))
        goto out;
    t->next_id = 1;
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t id = lg_res_i64(res, i, 0);
        keys_add(t, id);
        if (id >= t->next_id)
            t->next_id = id + 1;
    }
    cdc_buf_reset(&b);

#define SQL(field, ...)                                                                            \
    do {                                                                                           \
        cdc_buf_printf(&b, __VA_ARGS__);                                                           \
        t->field = cdc_buf_steal(&b);                                                              \
    } while (0)
    SQL(sql_insert,
        "INSERT INTO %s (id, customer, amount, status, created_at, updated_at, qty, note, tags,"
        " attrs, flag, ref, ship_date) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
        " $12, $13) RETURNING %s",
        t->qname, sel);
    /* Leaving note out of SET keeps its TOAST pointer: the "unchanged
     * toast" case of pgoutput. */
    SQL(sql_update,
        "UPDATE %s SET amount = $2, status = $3, updated_at = $4, qty = $5, flag = $6"
        " WHERE id = $1 RETURNING %s",
        t->qname, sel);
    SQL(sql_update_note,
        "UPDATE %s SET amount = $2, status = $3, updated_at = $4, qty = $5, flag = $6, note = $7"
        " WHERE id = $1 RETURNING %s",
        t->qname, sel);
    SQL(sql_pk, "UPDATE %s SET id = $2, updated_at = $3, note = $4 WHERE id = $1 RETURNING %s",
        t->qname, sel);
    SQL(sql_delete, "DELETE FROM %s WHERE id = $1 RETURNING %s", t->qname, sel);
    SQL(sql_old, "SELECT %s FROM %s WHERE id = $1 FOR UPDATE", sel, t->qname);
#undef SQL
    rc = 0;
out:
    PQclear(res);
    cdc_buf_free(&b);
    return rc;
}

/* ---- changes ----------------------------------------------------------- */

lg_pend_t *lg_pend_add(lg_t *lg, lg_table_t *t, char op)
{
    if (lg->npend == lg->cappend) {
        lg->cappend = lg->cappend ? lg->cappend * 2 : 64;
        lg->pend = realloc(lg->pend, lg->cappend * sizeof(*lg->pend));
        if (!lg->pend)
            abort();
    }
    lg_pend_t *p = &lg->pend[lg->npend++];
    memset(p, 0, sizeof(*p));
    p->t = t;
    p->op = op;
    return p;
}

/* The note of the new image is the placeholder when DEFAULT identity,
 * the UPDATE left it alone, and it lives out of line. */
static void mark_toast(lg_t *lg, cdc_loadgen_row_t *after, bool note_set)
{
    const char *n = after->v[CDC_LOADGEN_COL_NOTE];
    after->note_unavailable = !lg->full && !note_set && n && strlen(n) >= CDC_LOADGEN_TOAST_MIN;
}

static int fetch_old(lg_t *lg, lg_table_t *t, const char *id, cdc_loadgen_row_t *row, char *errstr,
                     size_t errstr_size)
{
    const char *p[1] = {id};
    PGresult *res = lg_pg_query(lg, t->sql_old, 1, p, errstr, errstr_size);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        snprintf(errstr, errstr_size, "row id=%s vanished from %s (another writer?)", id, t->qname);
        PQclear(res);
        return -1;
    }
    lg_row_from_res(res, 0, row);
    PQclear(res);
    return 0;
}

static int one_row(PGresult *res, const char *what, const lg_table_t *t, char *errstr,
                   size_t errstr_size)
{
    if (PQntuples(res) == 1)
        return 0;
    snprintf(errstr, errstr_size, "%s on %s touched %d rows, expected 1 (another writer?)", what,
             t->qname, PQntuples(res));
    return -1;
}

int lg_do_change(lg_t *lg, lg_table_t *t, bool pk_change, cdc_buf_t *pv, const char **pp,
                 char *errstr, size_t errstr_size)
{
    int rc = -1;
    PGresult *res = NULL;
    char idtxt[32], newtxt[32];
    unsigned r = lg_rndn(lg, 100);
    char op = 'c';
    if (pk_change && t->nkeys)
        op = 'p';
    else if (lg->mixed && t->nkeys)
        op = r < 60 ? 'u' : r < 80 ? 'c' : 'd';

    size_t idx = 0;
    if (op == 'u' || op == 'p') {
        /* Hot keys: 80% of updates hit the first 5% of the live keys. */
        size_t hot = t->nkeys / 20 ? t->nkeys / 20 : 1;
        idx = lg_rndn(lg, 100) < 80 ? lg_rndn(lg, (unsigned)hot) : lg_rndn(lg, (unsigned)t->nkeys);
    } else if (op == 'd') {
        idx = lg_rndn(lg, (unsigned)t->nkeys);
    }
    if (op != 'c')
        snprintf(idtxt, sizeof(idtxt), "%lld", (long long)t->keys[idx]);

    lg_pend_t *p = lg_pend_add(lg, t, op);
    if (op == 'c') {
        gen_row(lg, pv, pp);
        snprintf(idtxt, sizeof(idtxt), "%lld", (long long)t->next_id);
        pp[0] = idtxt;
        if (!(res = lg_pg_query(lg, t->sql_insert, CDC_LOADGEN_NCOLS, pp, errstr, errstr_size)) ||
            one_row(res, "INSERT", t, errstr, errstr_size) != 0)
            goto out;
        p->lsn = lg_row_from_res(res, 0, &p->after);
        p->has_after = true;
        keys_add(t, t->next_id++);
    } else if (op == 'u') {
        bool note = lg_rndn(lg, 100) < (lg->toast ? 20u : 30u);
        if (lg->full) {
            if (fetch_old(lg, t, idtxt, &p->before, errstr, errstr_size) != 0)
                goto out;
            p->has_before = true;
        }
        const char *up[7];
        for (int i = 0; i < 7; i++)
            cdc_buf_reset(&pv[i]);
        up[0] = idtxt;
        gen_amount(lg, &pv[1]);
        up[1] = pv[1].data;
        up[2] = lg_rndn(lg, 2) ? "shipped" : "paid";
        gen_ts(lg, &pv[3], false);
        up[3] = pv[3].data;
        cdc_buf_printf(&pv[4], "%u", lg_rndn(lg, 500));
        up[4] = lg_rndn(lg, 10) ? pv[4].data : NULL;
        up[5] = lg_rndn(lg, 2) ? "true" : "false";
        gen_note(lg, &pv[6]);
        up[6] = pv[6].data;
        res = lg_pg_query(lg, note ? t->sql_update_note : t->sql_update, note ? 7 : 6, up, errstr,
                          errstr_size);
        if (!res || one_row(res, "UPDATE", t, errstr, errstr_size) != 0)
            goto out;
        p->lsn = lg_row_from_res(res, 0, &p->after);
        p->has_after = true;
        mark_toast(lg, &p->after, note);
    } else if (op == 'p') {
        /* The PK change always rewrites note: with an unchanged out-of-line
         * note Debezium's create event would carry the placeholder, and no
         * consumer could then rebuild the row (the old one is deleted). */
        int64_t nid = t->next_id++;
        snprintf(newtxt, sizeof(newtxt), "%lld", (long long)nid);
        if (lg->full) {
            if (fetch_old(lg, t, idtxt, &p->before, errstr, errstr_size) != 0)
                goto out;
        } else {
            p->before.v[0] = strdup(idtxt);
            p->before.key_only = true;
        }
        p->has_before = true;
        const char *up[4];
        cdc_buf_reset(&pv[2]);
        gen_ts(lg, &pv[2], false);
        gen_note(lg, &pv[3]);
        up[0] = idtxt;
        up[1] = newtxt;
        up[2] = pv[2].data;
        up[3] = pv[3].data;
        if (!(res = lg_pg_query(lg, t->sql_pk, 4, up, errstr, errstr_size)) ||
            one_row(res, "UPDATE of the key", t, errstr, errstr_size) != 0)
            goto out;
        p->lsn = lg_row_from_res(res, 0, &p->after);
        p->has_after = true;
        mark_toast(lg, &p->after, true);
        t->keys[idx] = nid;
    } else { /* 'd' */
        const char *dp[1] = {idtxt};
        if (!(res = lg_pg_query(lg, t->sql_delete, 1, dp, errstr, errstr_size)) ||
            one_row(res, "DELETE", t, errstr, errstr_size) != 0)
            goto out;
        p->lsn = lg_row_from_res(res, 0, &p->before);
        p->has_before = true;
        /* DEFAULT identity logs only the key of the old row. */
        p->before.key_only = !lg->full;
        t->keys[idx] = t->keys[--t->nkeys];
    }
    rc = 0;
out:
    if (rc != 0)
        lg->npend--; /* the transaction is rolled back by the caller */
    PQclear(res);
    return rc;
}
