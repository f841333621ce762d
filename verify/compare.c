/*
 * cdc_verify_table(): plan, concurrent scans, streaming merge-join,
 * recheck, row JSON for the report, repair statements.
 *
 * The merge relies on both sides streaming rows in the same order; the
 * ORDER BY (COLLATE "C" on text keys) and cdc_canon_compare() agree for
 * the key kinds PostgreSQL orders by value (numbers, times, text, bytea,
 * uuid). For anything else the merge checks that each side's keys are
 * strictly increasing under cdc_canon_compare() and fails loudly rather
 * than reporting false mismatches.
 */
#include "verify_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cdc/pg.h"

static double now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

const char *cdc_verify_kind_name(cdc_verify_kind_t kind)
{
    switch (kind) {
    case CDC_VERIFY_MISSING: return "missing";
    case CDC_VERIFY_EXTRA: return "extra";
    case CDC_VERIFY_DIFFERENT: return "different";
    }
    return "different";
}

static int key_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl,
                   size_t nkeys)
{
    for (size_t k = 0; k < nkeys; k++) {
        size_t x = al, y = bl;
        int c = cdc_canon_compare(a, &x, b, &y);
        if (c)
            return c;
        if (!x || !y)
            return 0;
        a += x, al -= x, b += y, bl -= y;
    }
    return 0;
}

/* One side's cursor over its batches. */
typedef struct cursor {
    vscan_t *scan;
    size_t nkeys;
    bool disorder; /* keys did not strictly increase */
    vbatch_t *b;
    size_t off;
    vrec_t rec;
    bool have;
    cdc_buf_t prev; /* previous key, for the order check */
    bool has_prev;
} cursor_t;

/* Keys must strictly increase: otherwise the merge would be wrong. */
static bool cur_check_order(cursor_t *c, size_t nkeys)
{
    if (c->has_prev && key_cmp((const unsigned char *)c->prev.data, c->prev.len, c->rec.key,
                               c->rec.keylen, nkeys) >= 0)
        return false;
    cdc_buf_reset(&c->prev);
    cdc_buf_append(&c->prev, c->rec.key, c->rec.keylen);
    c->has_prev = true;
    return true;
}

static void cur_next(cursor_t *c)
{
    for (;;) {
        if (c->b && c->off < c->b->data.len) {
            c->off = vbatch_read(c->b, c->off, &c->rec);
            c->have = true;
            if (!cur_check_order(c, c->nkeys)) {
                c->disorder = true;
                c->have = false;
            }
            return;
        }
        vbatch_free(c->b);
        c->b = vscan_next(c->scan);
        c->off = 0;
        if (!c->b) {
            c->have = false;
            return;
        }
    }
}

typedef struct misvec {
    vmis_t *v;
    size_t n, cap;
} misvec_t;

static void keep(misvec_t *mv, size_t max, cdc_verify_kind_t kind, const vplan_t *plan, bool target,
                 const vrec_t *r)
{
    if (mv->n >= max)
        return;
    if (mv->n == mv->cap) {
        mv->cap = mv->cap ? mv->cap * 2 : 64;
        mv->v = realloc(mv->v, mv->cap * sizeof *mv->v);
    }
    vmis_t *m = &mv->v[mv->n++];
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->keyvals = vrec_keyvals(plan, target, r);
}

static void progress(const vplan_t *plan, int64_t rows, double t0, bool final)
{
    double el = now_s() - t0;
    double rate = el > 0 ? (double)rows / el : 0;
    double total = plan->reltuples > 0 ? plan->reltuples : 0;
    if (total > 0 && (double)rows <= total) {
        double eta = rate > 0 ? (total - (double)rows) / rate : 0;
        fprintf(stderr, "\r%s: %lld/%.0f rows (%.0f%%), %.0f rows/s, ETA %.0fs   ", plan->display,
                (long long)rows, total, 100.0 * (double)rows / total, rate, eta);
    } else {
        fprintf(stderr, "\r%s: %lld rows, %.0f rows/s   ", plan->display, (long long)rows, rate);
    }
    if (final)
        fputc('\n', stderr);
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

void cdc_verify_result_destroy(cdc_verify_result_t *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->nmismatches; i++) {
        free(res->mismatches[i].key_json);
        free(res->mismatches[i].source_row_json);
        free(res->mismatches[i].target_row_json);
    }
    free(res->mismatches);
    free(res->table);
    free(res);
}

int cdc_verify_table(const cdc_verify_opts_t *opts, cdc_verify_result_t **result, char *errstr,
                     size_t errstr_size)
{
    PGconn *cs = NULL, *ct = NULL;
    vplan_t plan;
    vscan_t ss, ts;
    cursor_t a, b;
    misvec_t mv = {0};
    cdc_verify_result_t *res = NULL;
    int rc = -1;
    char e[600];
    memset(&plan, 0, sizeof plan);
    memset(&ss, 0, sizeof ss);
    memset(&ts, 0, sizeof ts);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);

    res = calloc(1, sizeof *res);
    res->started_at = now_s();
    cs = cdc_pg_connect(opts->source_conninfo, "cdc-verify", e, sizeof e);
    if (!cs) {
        snprintf(errstr, errstr_size, "source: %s", e);
        goto out;
    }
    ct = cdc_pg_connect(opts->target_conninfo, "cdc-verify", e, sizeof e);
    if (!ct) {
        snprintf(errstr, errstr_size, "target: %s", e);
        goto out;
    }
    if (vplan_build(&plan, cs, ct, opts, errstr, errstr_size))
        goto out;
    res->table = strdup(plan.display);
    if (vscan_start(&ss, opts->source_conninfo, &plan, false, errstr, errstr_size) ||
        vscan_start(&ts, opts->target_conninfo, &plan, true, errstr, errstr_size))
        goto out;
    a.scan = &ss;
    b.scan = &ts;
    a.nkeys = b.nkeys = plan.nkeys;
    size_t max_keep = opts->max_retained ? opts->max_retained : 100000;
    if ((size_t)opts->max_report > max_keep)
        max_keep = (size_t)opts->max_report;
    double t0 = now_s(), last = t0;
    int64_t scanned = 0;

    cur_next(&a);
    cur_next(&b);
    while (a.have || b.have) {
        int c;
        if (!b.have)
            c = -1;
        else if (!a.have)
            c = 1;
        else
            c = key_cmp(a.rec.key, a.rec.keylen, b.rec.key, b.rec.keylen, plan.nkeys);
        if (c < 0) {
            res->missing++;
            keep(&mv, max_keep, CDC_VERIFY_MISSING, &plan, false, &a.rec);
            cur_next(&a);
        } else if (c > 0) {
            res->extra++;
            keep(&mv, max_keep, CDC_VERIFY_EXTRA, &plan, true, &b.rec);
            cur_next(&b);
        } else {
            if (a.rec.digest != b.rec.digest) {
                res->different++;
                keep(&mv, max_keep, CDC_VERIFY_DIFFERENT, &plan, false, &a.rec);
            }
            cur_next(&a);
            cur_next(&b);
        }
        if (opts->progress && (++scanned & 0xffff) == 0) {
            double t = now_s();
            if (t - last >= 0.5) {
                progress(&plan, scanned, t0, false);
                last = t;
            }
        }
    }
    if (a.disorder || b.disorder) {
        snprintf(errstr, errstr_size,
                 "%s rows of %s are not in key order as cdc-verify compares keys (a key type "
                 "PostgreSQL orders differently from its value, e.g. an enum?): use --key with "
                 "other columns",
                 a.disorder ? "source" : "target", plan.display);
        goto out;
    }
    if (ss.failed || ts.failed) {
        snprintf(errstr, errstr_size, "%s", ss.failed ? ss.err : ts.err);
        goto out;
    }
    if (opts->progress)
        progress(&plan, ss.rows, t0, true);
    res->source_rows = ss.rows;
    res->target_rows = ts.rows;
    res->source_digest = ss.digest_sum;
    res->target_digest = ts.digest_sum;
    vscan_stop(&ss);
    vscan_stop(&ts);

    /* Recheck: rows changed by replication while we scanned converge. */
    if (mv.n &&
        (vfetch_prepare(cs, &plan, e, sizeof e) || vfetch_prepare(ct, &plan, e, sizeof e))) {
        snprintf(errstr, errstr_size, "preparing the row fetch: %s", e);
        goto out;
    }
    if (opts->recheck > 0 && mv.n) {
        res->recheck_delay_used = opts->recheck_delay >= 0
                                      ? opts->recheck_delay
                                      : vrecheck_auto_delay(ct, opts->state_schema);
        size_t pending = mv.n;
        for (int round = 0; round < opts->recheck && pending; round++) {
            sleep_s(res->recheck_delay_used);
            for (size_t i = 0; i < mv.n; i++) {
                vmis_t *m = &mv.v[i];
                if (m->converged)
                    continue;
                vfetch_t fs = {0}, ft = {0};
                if (vfetch_row(cs, &plan, false, m->keyvals, &fs, e, sizeof e) ||
                    vfetch_row(ct, &plan, true, m->keyvals, &ft, e, sizeof e)) {
                    vfetch_clear(&fs, plan.ncols);
                    vfetch_clear(&ft, plan.ncols);
                    snprintf(errstr, errstr_size, "recheck: %s", e);
                    goto out;
                }
                cdc_verify_kind_t old = m->kind;
                if (!fs.present && !ft.present)
                    m->converged = true;
                else if (fs.present && ft.present)
                    m->converged = fs.digest == ft.digest, m->kind = CDC_VERIFY_DIFFERENT;
                else
                    m->kind = fs.present ? CDC_VERIFY_MISSING : CDC_VERIFY_EXTRA;
                /* Keep the counters exact as kinds move. */
                int64_t *cnt[3] = {&res->missing, &res->extra, &res->different};
                (*cnt[old])--;
                if (m->converged) {
                    res->in_flight++;
                    pending--;
                } else {
                    (*cnt[m->kind])++;
                }
                vfetch_clear(&fs, plan.ncols);
                vfetch_clear(&ft, plan.ncols);
            }
        }
    }

    /* Row JSON for the reported rows; repair statements for all kept. */
    int64_t mismatched = res->missing + res->extra + res->different;
    int64_t denom = res->source_rows > res->target_rows ? res->source_rows : res->target_rows;
    res->score = denom ? 1.0 - (double)mismatched / (double)denom : 1.0;
    if (res->score < 0)
        res->score = 0;
    size_t want = (size_t)(opts->max_report > 0 ? opts->max_report : 0);
    res->mismatches = calloc(want ? want : 1, sizeof *res->mismatches);
    if (opts->repair_sql)
        fprintf(opts->repair_sql, "-- cdc-verify repair for %s\nBEGIN;\n", plan.display);
    for (size_t i = 0; i < mv.n; i++) {
        vmis_t *m = &mv.v[i];
        if (m->converged)
            continue;
        bool report = res->nmismatches < want;
        if (!report && !opts->repair_sql)
            break;
        vfetch_t fs = {0}, ft = {0};
        if (vfetch_row(cs, &plan, false, m->keyvals, &fs, e, sizeof e) ||
            vfetch_row(ct, &plan, true, m->keyvals, &ft, e, sizeof e)) {
            vfetch_clear(&fs, plan.ncols);
            vfetch_clear(&ft, plan.ncols);
            snprintf(errstr, errstr_size, "fetching mismatched rows: %s", e);
            goto out;
        }
        if (report) {
            cdc_verify_mismatch_t *r = &res->mismatches[res->nmismatches++];
            r->kind = m->kind;
            r->key_json = vkey_json(&plan, m->keyvals);
            r->source_row_json = fs.json;
            r->target_row_json = ft.json;
            fs.json = ft.json = NULL;
        }
        if (opts->repair_sql)
            vrepair_append(opts->repair_sql, ct, &plan, m, &fs);
        vfetch_clear(&fs, plan.ncols);
        vfetch_clear(&ft, plan.ncols);
    }
    if (opts->repair_sql)
        fprintf(opts->repair_sql, "COMMIT;\n");
    res->finished_at = now_s();
    *result = res;
    res = NULL;
    rc = 0;
out:
    a.b ? vbatch_free(a.b) : (void)0;
    b.b ? vbatch_free(b.b) : (void)0;
    cdc_buf_free(&a.prev);
    cdc_buf_free(&b.prev);
    vscan_stop(&ss);
    vscan_stop(&ts);
    for (size_t i = 0; i < mv.n; i++) {
        vfields_free(mv.v[i].keyvals, plan.nkeys);
        free(mv.v[i].src_json);
        free(mv.v[i].tgt_json);
    }
    free(mv.v);
    vplan_free(&plan);
    if (cs)
        PQfinish(cs);
    if (ct)
        PQfinish(ct);
    cdc_verify_result_destroy(res);
    return rc;
}

int cdc_verify_list_tables(const char *conninfo, const char *skip_schema, char ***tables,
                           char *errstr, size_t errstr_size)
{
    char e[600];
    PGconn *conn = cdc_pg_connect(conninfo, "cdc-verify", e, sizeof e);
    if (!conn) {
        snprintf(errstr, errstr_size, "source: %s", e);
        return -1;
    }
    const char *params[1] = {skip_schema ? skip_schema : ""};
    PGresult *res = PQexecParams(
        conn,
        "SELECT n.nspname || '.' || c.relname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> $1 "
        "AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) "
        "ORDER BY 1",
        1, NULL, params, NULL, NULL, 0);
    int n = -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_pg_error(res, conn, e, sizeof e);
        snprintf(errstr, errstr_size, "listing tables: %s", e);
    } else {
        n = PQntuples(res);
        *tables = calloc((size_t)n + 1, sizeof **tables);
        for (int i = 0; i < n; i++)
            (*tables)[i] = strdup(PQgetvalue(res, i, 0));
    }
    PQclear(res);
    PQfinish(conn);
    return n;
}
