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

/* Keys must not decrease: otherwise the merge would be wrong. Equal keys
 * are rows of one key (a multiset under --key or a keyless target). */
static bool cur_check_order(cursor_t *c, size_t nkeys)
{
    if (c->has_prev) {
        int cmp = key_cmp((const unsigned char *)c->prev.data, c->prev.len, c->rec.key,
                          c->rec.keylen, nkeys);
        if (cmp > 0)
            return false;
        if (cmp == 0)
            return true;
    }
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
        c->b = c->scan ? vscan_next(c->scan) : NULL; /* no scan: a side without the table */
        c->off = 0;
        if (!c->b) {
            c->have = false;
            return;
        }
    }
}

/* The rows of one key on one side: its key (copied, the batch may go),
 * and each row's digest. */
typedef struct group {
    bool have;
    cdc_buf_t key, raw;
    uint64_t *d;
    size_t n, cap;
} group_t;

static void group_free(group_t *g)
{
    cdc_buf_free(&g->key);
    cdc_buf_free(&g->raw);
    free(g->d);
}

static void group_push(group_t *g, uint64_t d)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 4;
        g->d = realloc(g->d, g->cap * sizeof *g->d);
    }
    g->d[g->n++] = d;
}

static void cur_group(cursor_t *c, group_t *g)
{
    g->n = 0;
    g->have = c->have;
    if (!c->have)
        return;
    cdc_buf_reset(&g->key);
    cdc_buf_reset(&g->raw);
    cdc_buf_append(&g->key, c->rec.key, c->rec.keylen);
    if (c->rec.rawlen)
        cdc_buf_append(&g->raw, c->rec.raw, c->rec.rawlen);
    group_push(g, c->rec.digest);
    for (;;) {
        cur_next(c);
        if (!c->have || key_cmp(c->rec.key, c->rec.keylen, (const unsigned char *)g->key.data,
                                g->key.len, c->nkeys) != 0)
            return;
        group_push(g, c->rec.digest);
    }
}

static int u64_cmp(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Multiset difference of two scanned groups (sorts them). */
static void group_match(group_t *a, group_t *b, int64_t n[3])
{
    if (a->n == 1 && b->n == 1) {
        n[CDC_VERIFY_MISSING] = n[CDC_VERIFY_EXTRA] = 0;
        n[CDC_VERIFY_DIFFERENT] = a->d[0] != b->d[0];
        return;
    }
    qsort(a->d, a->n, sizeof *a->d, u64_cmp);
    qsort(b->d, b->n, sizeof *b->d, u64_cmp);
    size_t i = 0, j = 0, common = 0;
    while (i < a->n && j < b->n) {
        if (a->d[i] == b->d[j])
            common++, i++, j++;
        else if (a->d[i] < b->d[j])
            i++;
        else
            j++;
    }
    size_t sa = a->n - common, sb = b->n - common, d = sa < sb ? sa : sb;
    n[CDC_VERIFY_DIFFERENT] = (int64_t)d;
    n[CDC_VERIFY_MISSING] = (int64_t)(sa - d);
    n[CDC_VERIFY_EXTRA] = (int64_t)(sb - d);
}

typedef struct misvec {
    vmis_t *v;
    size_t n, cap;
} misvec_t;

static void misvec_clear(misvec_t *mv, size_t nkeys)
{
    for (size_t i = 0; i < mv->n; i++)
        vfields_free(mv->v[i].keyvals, nkeys);
    mv->n = 0;
}

static void keep(misvec_t *mv, const vplan_t *plan, bool target, const group_t *g,
                 const int64_t n[3])
{
    if (mv->n == mv->cap) {
        mv->cap = mv->cap ? mv->cap * 2 : 64;
        mv->v = realloc(mv->v, mv->cap * sizeof *mv->v);
    }
    vmis_t *m = &mv->v[mv->n++];
    memset(m, 0, sizeof *m);
    memcpy(m->n, n, sizeof m->n);
    vrec_t r = {0, (const unsigned char *)g->key.data, g->key.len, g->raw.data, g->raw.len};
    m->keyvals = vrec_keyvals(plan, target, &r);
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
    for (size_t i = 0; i < res->ntarget_only_columns; i++)
        free(res->target_only_columns[i]);
    free(res->target_only_columns);
    free(res->scope);
    free(res->table);
    free(res);
}

bool cdc_verify_result_ok(const cdc_verify_result_t *res, double threshold)
{
    return res && res->score >= threshold && res->ntarget_only_columns == 0 && !res->target_absent;
}

int vtable_split(const char *name, char **schema, char **table, char *errstr, size_t errstr_size)
{
    char *part[3] = {NULL, NULL, NULL};
    size_t np = 0;
    const char *p = name;
    int rc = -1;
    *schema = *table = NULL;
    for (;;) {
        cdc_buf_t b = CDC_BUF_INIT;
        if (*p == '"') {
            for (p++;; p++) {
                if (!*p) {
                    cdc_buf_free(&b);
                    snprintf(errstr, errstr_size,
                             "--table %s: unterminated quote (write \"my.schema\".\"t\", \"\" for "
                             "a quote inside)",
                             name);
                    goto out;
                }
                if (*p == '"' && p[1] == '"')
                    cdc_buf_putc(&b, '"'), p++;
                else if (*p == '"')
                    break;
                else
                    cdc_buf_putc(&b, *p);
            }
            p++;
        } else {
            while (*p && *p != '.')
                cdc_buf_putc(&b, *p++);
        }
        if (!b.len || np == 2) {
            cdc_buf_free(&b);
            snprintf(errstr, errstr_size,
                     "--table %s: expected [SCHEMA.]TABLE (quote a name that holds a dot: "
                     "\"my.schema\".\"t\")",
                     name);
            goto out;
        }
        part[np++] = cdc_buf_steal(&b);
        if (!*p)
            break;
        if (*p != '.') {
            snprintf(errstr, errstr_size, "--table %s: expected a dot after a quoted name", name);
            goto out;
        }
        p++;
    }
    *schema = np == 2 ? part[0] : strdup("public");
    *table = part[np - 1];
    if (np == 2)
        part[0] = NULL;
    part[np - 1] = NULL;
    rc = 0;
out:
    for (size_t i = 0; i < 3; i++)
        free(part[i]);
    return rc;
}

/* --key COL,COL: a column named twice would make the next column part of
 * the key (the plan counts names, the columns hold one position each). */
static int check_key_option(const char *key, char *errstr, size_t errstr_size)
{
    if (!key || !*key)
        return 0;
    char *dup = strdup(key), *save = NULL;
    char *seen[256];
    size_t n = 0;
    int rc = 0;
    for (char *t = strtok_r(dup, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        char *e = t + strlen(t);
        while (e > t && e[-1] == ' ')
            *--e = '\0';
        if (!*t) {
            snprintf(errstr, errstr_size, "--key %s: empty column name", key);
            rc = -1;
        }
        for (size_t i = 0; i < n && !rc; i++)
            if (strcmp(seen[i], t) == 0) {
                snprintf(errstr, errstr_size, "--key %s: column \"%s\" is named twice", key, t);
                rc = -1;
            }
        if (!rc && n < sizeof seen / sizeof *seen)
            seen[n++] = t;
    }
    if (!rc && (key[strlen(key) - 1] == ',' || key[0] == ',' || strstr(key, ",,"))) {
        snprintf(errstr, errstr_size, "--key %s: empty column name", key);
        rc = -1;
    }
    free(dup);
    return rc;
}

/* Plan checks that need the plan: key columns are always compared, and a
 * key under a nondeterministic collation cannot be merged byte by byte. */
static int check_plan(const vplan_t *plan, const cdc_verify_opts_t *opts, PGconn *cs, PGconn *ct,
                      char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < opts->nexclude; i++)
        for (size_t k = 0; k < plan->nkeys; k++)
            if (strcmp(opts->exclude[i], plan->cols[k].name) == 0) {
                snprintf(errstr, errstr_size,
                         "--exclude-column %s: \"%s\" is a key column of %s and key columns are "
                         "always compared; drop it from --exclude-column or choose --key",
                         opts->exclude[i], plan->cols[k].name, plan->display);
                return -1;
            }
    /* Equal under a nondeterministic collation ('Abc' = 'abc' under a
     * case-insensitive one) is not equal bytes: the merge would call one
     * logical row missing and extra. Refuse rather than contradict. */
    cdc_buf_t names = CDC_BUF_INIT;
    cdc_buf_putc(&names, '{');
    for (size_t k = 0; k < plan->nkeys; k++) {
        if (k)
            cdc_buf_putc(&names, ',');
        cdc_buf_putc(&names, '"');
        for (const char *c = plan->cols[k].name; *c; c++) {
            if (*c == '"' || *c == '\\')
                cdc_buf_putc(&names, '\\');
            cdc_buf_putc(&names, *c);
        }
        cdc_buf_putc(&names, '"');
    }
    cdc_buf_putc(&names, '}');
    const char *params[3] = {plan->schema, plan->table, names.data};
    int rc = 0;
    for (int side = 0; side < 2 && !rc; side++) {
        PGconn *conn = side ? ct : cs;
        PGresult *r = PQexecParams(
            conn,
            "SELECT a.attname, co.collname FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_collation co ON co.oid = a.attcollation "
            "WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = ANY ($3::text[]) "
            /* (through jsonb: collisdeterministic is new in PostgreSQL 12) */
            "AND to_jsonb(co) ->> 'collisdeterministic' = 'false' ORDER BY a.attnum LIMIT 1",
            3, NULL, params, NULL, NULL, 0);
        char e[512];
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            cdc_pg_error(r, conn, e, sizeof e);
            snprintf(errstr, errstr_size, "%s: reading key collations of %s: %s",
                     side ? "target" : "source", plan->display, e);
            rc = -1;
        } else if (PQntuples(r)) {
            snprintf(errstr, errstr_size,
                     "key column \"%s\" of %s has the nondeterministic collation \"%s\" (%s): "
                     "keys equal under it are not equal bytes, so rows cannot be matched; pass "
                     "--key with other columns (e.g. a unique id)",
                     PQgetvalue(r, 0, 0), plan->display, PQgetvalue(r, 0, 1),
                     side ? "target" : "source");
            rc = -1;
        }
        PQclear(r);
    }
    cdc_buf_free(&names);
    return rc;
}

/* True when @p conn has no table @p name (and the name parses). */
static bool target_absent(PGconn *conn, const char *name)
{
    char *schema = NULL, *table = NULL, e[300];
    if (vtable_split(name, &schema, &table, e, sizeof e))
        return false; /* vplan_build says why */
    const char *params[2] = {schema, table};
    PGresult *r = PQexecParams(conn,
                               "SELECT to_regclass(quote_ident($1) || '.' || quote_ident($2)) "
                               "IS NULL",
                               2, NULL, params, NULL, NULL, 0);
    bool absent =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    free(schema);
    free(table);
    return absent;
}

/* What a run compared when not the whole table (new), or NULL. */
static char *scope_of(const cdc_verify_opts_t *opts)
{
    cdc_buf_t b = CDC_BUF_INIT;
    if (opts->where && *opts->where)
        cdc_buf_printf(&b, "where %s", opts->where);
    for (int list = 0; list < 2; list++) {
        size_t n = list ? opts->nexclude : opts->ncolumns;
        const char *const *v = list ? opts->exclude : opts->columns;
        if (!n)
            continue;
        cdc_buf_printf(&b, "%s%s", b.len ? "; " : "", list ? "excluded " : "columns ");
        for (size_t i = 0; i < n; i++)
            cdc_buf_printf(&b, "%s%s", i ? ", " : "", v[i]);
    }
    if (!b.len) {
        cdc_buf_free(&b);
        return NULL;
    }
    return cdc_buf_steal(&b);
}

/* One scan of both sides and the merge. Counts and totals go to @p res
 * (NULL: a later repair pass, which only collects). Mismatched keys after
 * @p after (NULL: from the start) are kept in @p mv up to @p max_keep;
 * @p last gets the last kept key, @p ngroups the mismatched keys seen
 * after @p after. @p target_absent: the target has no such table, so
 * every source row is missing. */
static int merge_pass(const cdc_verify_opts_t *opts, const vplan_t *plan, bool target_absent,
                      size_t max_keep, const cdc_buf_t *after, misvec_t *mv, cdc_buf_t *last,
                      int64_t *ngroups, cdc_verify_result_t *res, char *errstr, size_t errstr_size)
{
    vscan_t ss, ts;
    cursor_t a, b;
    group_t ga, gb;
    int rc = -1;
    memset(&ss, 0, sizeof ss);
    memset(&ts, 0, sizeof ts);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&ga, 0, sizeof ga);
    memset(&gb, 0, sizeof gb);
    *ngroups = 0;
    if (vscan_start(&ss, opts->source_conninfo, plan, false, errstr, errstr_size) ||
        (!target_absent &&
         vscan_start(&ts, opts->target_conninfo, plan, true, errstr, errstr_size)))
        goto out;
    a.scan = &ss;
    b.scan = target_absent ? NULL : &ts;
    a.nkeys = b.nkeys = plan->nkeys;
    double t0 = now_s(), last_p = t0;
    int64_t scanned = 0, iter = 0;

    cur_next(&a);
    cur_next(&b);
    cur_group(&a, &ga);
    cur_group(&b, &gb);
    while (ga.have || gb.have) {
        int c;
        if (!gb.have)
            c = -1;
        else if (!ga.have)
            c = 1;
        else
            c = key_cmp((const unsigned char *)ga.key.data, ga.key.len,
                        (const unsigned char *)gb.key.data, gb.key.len, plan->nkeys);
        int64_t n[3] = {0, 0, 0};
        group_t *g = c <= 0 ? &ga : &gb;
        if (c < 0)
            n[CDC_VERIFY_MISSING] = (int64_t)ga.n;
        else if (c > 0)
            n[CDC_VERIFY_EXTRA] = (int64_t)gb.n;
        else
            group_match(&ga, &gb, n);
        if (n[0] || n[1] || n[2]) {
            if (res) {
                res->missing += n[CDC_VERIFY_MISSING];
                res->extra += n[CDC_VERIFY_EXTRA];
                res->different += n[CDC_VERIFY_DIFFERENT];
            }
            if (!after ||
                key_cmp((const unsigned char *)g->key.data, g->key.len,
                        (const unsigned char *)after->data, after->len, plan->nkeys) > 0) {
                (*ngroups)++;
                if (mv->n < max_keep) {
                    keep(mv, plan, c > 0, g, n);
                    cdc_buf_reset(last);
                    cdc_buf_append(last, g->key.data, g->key.len);
                }
            }
        }
        scanned += (int64_t)(c <= 0 ? ga.n : gb.n);
        if (c <= 0)
            cur_group(&a, &ga);
        if (c >= 0)
            cur_group(&b, &gb);
        if (res && opts->progress && (++iter & 0xffff) == 0) {
            double t = now_s();
            if (t - last_p >= 0.5) {
                progress(plan, scanned, t0, false);
                last_p = t;
            }
        }
    }
    if (a.disorder || b.disorder) {
        snprintf(errstr, errstr_size,
                 "%s rows of %s are not in key order as cdc-verify compares keys (a key type "
                 "PostgreSQL orders differently from its value, e.g. an enum?): use --key with "
                 "other columns",
                 a.disorder ? "source" : "target", plan->display);
        goto out;
    }
    if (ss.failed || ts.failed) {
        snprintf(errstr, errstr_size, "%s", ss.failed ? ss.err : ts.err);
        goto out;
    }
    if (res) {
        if (opts->progress)
            progress(plan, ss.rows, t0, true);
        res->source_rows = ss.rows;
        res->target_rows = ts.rows;
        res->source_digest = ss.digest_sum;
        res->target_digest = ts.digest_sum;
    }
    rc = 0;
out:
    a.b ? vbatch_free(a.b) : (void)0;
    b.b ? vbatch_free(b.b) : (void)0;
    cdc_buf_free(&a.prev);
    cdc_buf_free(&b.prev);
    group_free(&ga);
    group_free(&gb);
    vscan_stop(&ss);
    vscan_stop(&ts);
    return rc;
}

static uint64_t *digests(const vfetch_t *f)
{
    uint64_t *d = calloc(f->n + 1, sizeof *d);
    for (size_t i = 0; i < f->n; i++)
        d[i] = f->rows[i].digest;
    return d;
}

/* Report entries of one kept key, as many of each kind as counted, each
 * with the images that belong to it: a missing row shows only its source
 * image, an extra one only its target image. */
static void report_key(cdc_verify_result_t *res, size_t want, const vplan_t *plan, const vmis_t *m,
                       vfetch_t *fs, vfetch_t *ft)
{
    uint64_t *ds = digests(fs), *dt = digests(ft);
    bool *us = calloc(fs->n + 1, sizeof *us), *ut = calloc(ft->n + 1, sizeof *ut);
    int64_t now[3];
    vmatch(ds, fs->n, dt, ft->n, now, us, ut);
    size_t is = 0, it = 0;
    static const cdc_verify_kind_t order[3] = {CDC_VERIFY_DIFFERENT, CDC_VERIFY_MISSING,
                                               CDC_VERIFY_EXTRA};
    for (int o = 0; o < 3; o++) {
        cdc_verify_kind_t kind = order[o];
        for (int64_t j = 0; j < m->n[kind] && res->nmismatches < want; j++) {
            cdc_verify_mismatch_t *r = &res->mismatches[res->nmismatches++];
            r->kind = kind;
            r->key_json = vkey_json(plan, m->keyvals);
            if (kind != CDC_VERIFY_EXTRA) {
                while (is < fs->n && !us[is])
                    is++;
                /* Unmatched now (else converged since the scan: any row). */
                vrow_t *row = is < fs->n ? &fs->rows[is++] : fs->n ? &fs->rows[0] : NULL;
                r->source_row_json = row && row->json ? strdup(row->json) : NULL;
            }
            if (kind != CDC_VERIFY_MISSING) {
                while (it < ft->n && !ut[it])
                    it++;
                vrow_t *row = it < ft->n ? &ft->rows[it++] : ft->n ? &ft->rows[0] : NULL;
                r->target_row_json = row && row->json ? strdup(row->json) : NULL;
            }
        }
    }
    free(ds);
    free(dt);
    free(us);
    free(ut);
}

int cdc_verify_table(const cdc_verify_opts_t *opts, cdc_verify_result_t **result, char *errstr,
                     size_t errstr_size)
{
    PGconn *cs = NULL, *ct = NULL;
    vplan_t plan;
    misvec_t mv = {0};
    cdc_buf_t last = CDC_BUF_INIT, after = CDC_BUF_INIT;
    vrepair_t rep = {0};
    vfetcher_t fsrc = {0}, ftgt = {0};
    size_t *bidx = NULL; /* a batch of kept keys: their positions, keys and rows */
    char ***bkeys = NULL;
    vfetch_t *bfs = NULL, *bft = NULL;
    cdc_verify_result_t *res = NULL;
    int rc = -1;
    char e[600];
    memset(&plan, 0, sizeof plan);

    res = calloc(1, sizeof *res);
    res->started_at = now_s();
    if (check_key_option(opts->key, errstr, errstr_size))
        goto out;
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
    /* A table the target lacks is a finding (every row missing), not an
     * error: plan it from the source's catalog alone. */
    bool absent = target_absent(ct, opts->table);
    PGconn *ctf = absent ? NULL : ct; /* target fetches: none */
    if (vplan_build(&plan, cs, absent ? cs : ct, opts, errstr, errstr_size) ||
        check_plan(&plan, opts, cs, ct, errstr, errstr_size))
        goto out;
    res->table = strdup(plan.display);
    res->target_absent = absent;
    res->target_only_columns = calloc(plan.ntarget_only + 1, sizeof *res->target_only_columns);
    for (size_t i = 0; i < plan.ntarget_only; i++)
        res->target_only_columns[res->ntarget_only_columns++] = strdup(plan.target_only[i]);
    res->scope = scope_of(opts);
    size_t max_keep = opts->max_retained ? opts->max_retained : 100000;
    if ((size_t)opts->max_report > max_keep)
        max_keep = (size_t)opts->max_report;
    int64_t ngroups = 0;
    if (merge_pass(opts, &plan, absent, max_keep, NULL, &mv, &last, &ngroups, res, errstr,
                   errstr_size))
        goto out;

    /* Recheck: rows changed by replication while we scanned converge.
     * Keys go VFETCH_BATCH at a time, one statement a side per batch. */
    if (mv.n && (vfetcher_init(&fsrc, cs, &plan, false, e, sizeof e) ||
                 vfetcher_init(&ftgt, ctf, &plan, true, e, sizeof e))) {
        snprintf(errstr, errstr_size, "preparing the row fetch: %s", e);
        goto out;
    }
    bidx = calloc(VFETCH_BATCH, sizeof *bidx);
    bkeys = calloc(VFETCH_BATCH, sizeof *bkeys);
    bfs = calloc(VFETCH_BATCH, sizeof *bfs);
    bft = calloc(VFETCH_BATCH, sizeof *bft);
    if (opts->recheck > 0 && mv.n) {
        res->recheck_delay_used = opts->recheck_delay >= 0
                                      ? opts->recheck_delay
                                      : vrecheck_auto_delay(ct, opts->state_schema);
        size_t pending = mv.n;
        for (int round = 0; round < opts->recheck && pending; round++) {
            sleep_s(res->recheck_delay_used);
            for (size_t i = 0; i < mv.n;) {
                size_t nb = 0;
                for (; i < mv.n && nb < VFETCH_BATCH; i++)
                    if (!mv.v[i].converged) {
                        bidx[nb] = i;
                        bkeys[nb++] = mv.v[i].keyvals;
                    }
                if (vfetch_keys(&fsrc, &ftgt, &plan, bkeys, nb, bfs, bft, e, sizeof e)) {
                    snprintf(errstr, errstr_size, "recheck: %s", e);
                    goto out;
                }
                for (size_t j = 0; j < nb; j++) {
                    vmis_t *m = &mv.v[bidx[j]];
                    vfetch_t *fs = &bfs[j], *ft = &bft[j];
                    uint64_t *ds = digests(fs), *dt = digests(ft);
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
                    vfetch_clear(fs, plan.ncols);
                    vfetch_clear(ft, plan.ncols);
                }
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
    if (opts->repair_sql) {
        fprintf(opts->repair_sql, "-- cdc-verify repair for %s\n", plan.display);
        if (absent)
            fprintf(opts->repair_sql,
                    "-- %s does not exist in the target: create it as in the source first\n",
                    plan.display);
        fputs("BEGIN;\n", opts->repair_sql);
        /* Without the table in the target, its columns are the source's. */
        if (mv.n && vrepair_prepare(&rep, cs, absent ? cs : ct, &plan, e, sizeof e)) {
            snprintf(errstr, errstr_size, "preparing the repair fetch: %s", e);
            goto out;
        }
    }
    int pass = 1;
    for (;;) {
        for (size_t i = 0; i < mv.n;) {
            size_t nb = 0;
            for (; i < mv.n && nb < VFETCH_BATCH; i++) {
                if (mv.v[i].converged)
                    continue;
                /* Past the reported rows, only a repair needs the rest. */
                if (!opts->repair_sql && !(pass == 1 && res->nmismatches + nb < want))
                    break;
                bidx[nb] = i;
                bkeys[nb++] = mv.v[i].keyvals;
            }
            if (!nb)
                break;
            if (vfetch_keys(&fsrc, &ftgt, &plan, bkeys, nb, bfs, bft, e, sizeof e) ||
                (opts->repair_sql && vrepair_keys(opts->repair_sql, &rep, absent ? cs : ct, &plan,
                                                  bkeys, nb, bfs, bft, e, sizeof e))) {
                for (size_t j = 0; j < nb; j++) {
                    vfetch_clear(&bfs[j], plan.ncols);
                    vfetch_clear(&bft[j], plan.ncols);
                }
                snprintf(errstr, errstr_size, "fetching mismatched rows: %s", e);
                goto out;
            }
            for (size_t j = 0; j < nb; j++) {
                if (pass == 1 && res->nmismatches < want)
                    report_key(res, want, &plan, &mv.v[bidx[j]], &bfs[j], &bft[j]);
                vfetch_clear(&bfs[j], plan.ncols);
                vfetch_clear(&bft[j], plan.ncols);
            }
        }
        /* More mismatched keys than --max-retained: the repair must still
         * be complete, so scan again for the keys after the last one kept
         * (memory stays bounded; each pass costs a scan). */
        if (!opts->repair_sql || ngroups <= (int64_t)mv.n || !mv.n)
            break;
        cdc_buf_reset(&after);
        cdc_buf_append(&after, last.data, last.len);
        misvec_clear(&mv, plan.nkeys);
        pass++;
        if (merge_pass(opts, &plan, absent, max_keep, &after, &mv, &last, &ngroups, NULL, errstr,
                       errstr_size))
            goto out;
    }
    if (opts->repair_sql)
        fprintf(opts->repair_sql, "COMMIT;\n");
    res->finished_at = now_s();
    *result = res;
    res = NULL;
    rc = 0;
out:
    misvec_clear(&mv, plan.nkeys);
    free(mv.v);
    cdc_buf_free(&last);
    cdc_buf_free(&after);
    vrepair_free(&rep);
    vfetcher_free(&fsrc);
    vfetcher_free(&ftgt);
    free(bidx);
    free(bkeys);
    free(bfs);
    free(bft);
    vplan_free(&plan);
    if (cs)
        PQfinish(cs);
    if (ct)
        PQfinish(ct);
    cdc_verify_result_destroy(res);
    return rc;
}

/* "schema.table" with each part quoted when needed, as --table reads it. */
static const char list_sql[] =
    "SELECT CASE WHEN n.nspname ~ '[.\"]' THEN quote_ident(n.nspname) ELSE n.nspname END || '.' "
    "|| CASE WHEN c.relname ~ '[.\"]' THEN quote_ident(c.relname) ELSE c.relname END "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> $1 ORDER BY 1";

static int list_side(const char *conninfo, const char *side, const char *skip_schema,
                     PGresult **out, char *errstr, size_t errstr_size)
{
    char e[600];
    PGconn *conn = cdc_pg_connect(conninfo, "cdc-verify", e, sizeof e);
    if (!conn) {
        snprintf(errstr, errstr_size, "%s: %s", side, e);
        return -1;
    }
    const char *params[1] = {skip_schema ? skip_schema : ""};
    PGresult *res = PQexecParams(conn, list_sql, 1, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_pg_error(res, conn, e, sizeof e);
        snprintf(errstr, errstr_size, "%s: listing tables: %s", side, e);
        PQclear(res);
        res = NULL;
        rc = -1;
    }
    *out = res;
    PQfinish(conn);
    return rc;
}

int cdc_verify_list_tables(const char *source_conninfo, const char *target_conninfo,
                           const char *skip_schema, char ***tables, char ***target_only,
                           size_t *ntarget_only, char *errstr, size_t errstr_size)
{
    PGresult *rs = NULL, *rt = NULL;
    int n = -1;
    *tables = *target_only = NULL;
    *ntarget_only = 0;
    /* Every source table: one without a primary key is not skipped (it
     * fails with what to do), and the target's own tables are named. */
    if (list_side(source_conninfo, "source", skip_schema, &rs, errstr, errstr_size) ||
        list_side(target_conninfo, "target", skip_schema, &rt, errstr, errstr_size))
        goto out;
    n = PQntuples(rs);
    *tables = calloc((size_t)n + 1, sizeof **tables);
    for (int i = 0; i < n; i++)
        (*tables)[i] = strdup(PQgetvalue(rs, i, 0));
    *target_only = calloc((size_t)PQntuples(rt) + 1, sizeof **target_only);
    for (int j = 0; j < PQntuples(rt); j++) {
        const char *t = PQgetvalue(rt, j, 0);
        bool found = false;
        for (int i = 0; i < n && !found; i++)
            found = strcmp((*tables)[i], t) == 0;
        if (!found)
            (*target_only)[(*ntarget_only)++] = strdup(t);
    }
out:
    PQclear(rs);
    PQclear(rt);
    return n;
}
