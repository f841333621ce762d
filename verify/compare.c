/*
 * Step 3, compare: the streaming merge-join of both sides' scans into
 * mismatched keys, over the whole table or, under --jobs, over key ranges
 * merged concurrently and then joined in key order (so the outcome is
 * that of one merge).
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

#include "cdc/log.h"
#include "cdc/pg.h"
#include "cdc/util.h"

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

void vmisvec_clear(misvec_t *mv, size_t nkeys)
{
    for (size_t i = 0; i < mv->n; i++)
        vfields_free(mv->v[i].keyvals, nkeys);
    mv->n = 0;
    cdc_buf_reset(&mv->keys);
}

void vmisvec_free(misvec_t *mv, size_t nkeys)
{
    vmisvec_clear(mv, nkeys);
    free(mv->v);
    free(mv->koff);
    cdc_buf_free(&mv->keys);
    memset(mv, 0, sizeof *mv);
}

static void keep(misvec_t *mv, const vplan_t *plan, bool target, const group_t *g,
                 const int64_t n[3])
{
    if (mv->n == mv->cap) {
        mv->cap = mv->cap ? mv->cap * 2 : 64;
        mv->v = realloc(mv->v, mv->cap * sizeof *mv->v);
        mv->koff = realloc(mv->koff, mv->cap * sizeof *mv->koff);
    }
    mv->koff[mv->n] = mv->keys.len;
    cdc_buf_append(&mv->keys, g->key.data, g->key.len);
    vmis_t *m = &mv->v[mv->n++];
    memset(m, 0, sizeof *m);
    memcpy(m->n, n, sizeof m->n);
    vrec_t r = {0, (const unsigned char *)g->key.data, g->key.len, g->raw.data, g->raw.len};
    m->keyvals = vrec_keyvals(plan, target, &r);
}

static void progress(const vplan_t *plan, int64_t rows, double t0, bool final)
{
    double el = cdc_now_wall_s() - t0;
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

/* One scan of both sides (of @p range, NULL: every row; in the exported
 * snapshots @p snap, NULL: each COPY's own) and the merge, as vmerge_pass()
 * says; a set @p stop (another range failed) ends it early. The target
 * without the table (run->absent): every source row is missing. */
static int merge_range(const vrun_t *run, const vrange_t *range, char *const snap[2],
                       atomic_bool *stop, bool show_progress, const cdc_buf_t *after, misvec_t *mv,
                       cdc_buf_t *last, int64_t *ngroups, cdc_verify_result_t *res, char *errstr,
                       size_t errstr_size)
{
    const cdc_verify_opts_t *opts = run->opts;
    const vplan_t *plan = &run->plan;
    bool target_absent = run->absent;
    size_t max_keep = run->max_keep;
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
    if (vscan_start(&ss, opts->source_conninfo, plan, false, range, snap ? snap[0] : NULL, errstr,
                    errstr_size) ||
        (!target_absent && vscan_start(&ts, opts->target_conninfo, plan, true, range,
                                       snap ? snap[1] : NULL, errstr, errstr_size)))
        goto out;
    a.scan = &ss;
    b.scan = target_absent ? NULL : &ts;
    a.nkeys = b.nkeys = plan->nkeys;
    double t0 = cdc_now_wall_s(), last_p = t0;
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
        ++iter;
        if (stop && (iter & 0xff) == 0 && atomic_load(stop)) {
            snprintf(errstr, errstr_size, "stopped: another key range failed");
            goto out;
        }
        if (res && show_progress && (iter & 0xffff) == 0) {
            double t = cdc_now_wall_s();
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
        if (show_progress)
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

int vmerge_pass(const vrun_t *run, const cdc_buf_t *after, misvec_t *mv, cdc_buf_t *last,
                int64_t *ngroups, cdc_verify_result_t *res, char *errstr, size_t errstr_size)
{
    return merge_range(run, NULL, NULL, NULL, res && run->opts->progress, after, mv, last, ngroups,
                       res, errstr, errstr_size);
}

/* One key range's merge, on its own thread with its own two scans (and
 * so its own source and target connections). */
typedef struct rjob {
    const vrun_t *run;
    const vrange_t *range;
    char **snap;
    atomic_bool *stop;
    misvec_t mv;
    cdc_buf_t last;
    int64_t ngroups;
    cdc_verify_result_t res; /* counts and totals only */
    int rc;
    pthread_t thr;
    bool started;
    char err[700];
} rjob_t;

static void *rjob_main(void *arg)
{
    rjob_t *j = arg;
    j->rc = merge_range(j->run, j->range, j->snap, j->stop, false, NULL, &j->mv, &j->last,
                        &j->ngroups, &j->res, j->err, sizeof j->err);
    if (j->rc)
        atomic_store(j->stop, true); /* the others end early: the run fails anyway */
    return NULL;
}

/* Append entry @p i of @p src to @p dst (its key values move). */
static void mv_move(misvec_t *dst, misvec_t *src, size_t i)
{
    if (dst->n == dst->cap) {
        dst->cap = dst->cap ? dst->cap * 2 : 64;
        dst->v = realloc(dst->v, dst->cap * sizeof *dst->v);
        dst->koff = realloc(dst->koff, dst->cap * sizeof *dst->koff);
    }
    size_t end = i + 1 < src->n ? src->koff[i + 1] : src->keys.len;
    dst->koff[dst->n] = dst->keys.len;
    cdc_buf_append(&dst->keys, src->keys.data + src->koff[i], end - src->koff[i]);
    dst->v[dst->n++] = src->v[i];
    src->v[i].keyvals = NULL;
}

/* --jobs: the table's key ranges merged concurrently, then joined in key
 * order: counts and digests add up, and the kept keys are the first
 * max_keep of the whole table, as one merge keeps them. Every range of a
 * side scans in one snapshot exported from run->cs / run->ct (so the
 * ranges together see what one scan would), unless the export fails:
 * then each range's COPY takes its own, and a log line says so. */
static int compare_ranges(vrun_t *run, char *errstr, size_t errstr_size)
{
    const vplan_t *plan = &run->plan;
    char *snap[2] = {NULL, NULL};
    bool shared = true;
    vrange_t *ranges = NULL;
    size_t nr = 0;
    rjob_t *jobs = NULL;
    atomic_bool stop;
    int rc = -1;
    char e[600] = "";
    atomic_init(&stop, false);

    snap[0] = vsnapshot_export(run->cs, e, sizeof e);
    if (snap[0] && !run->absent && !(snap[1] = vsnapshot_export(run->ct, e, sizeof e)))
        vsnapshot_end(run->cs);
    if (!snap[0] || (!run->absent && !snap[1])) {
        cdc_log_info("%s: cannot share one snapshot among the key ranges (%s): each range scans "
                     "in its own",
                     plan->display, e);
        free(snap[0]);
        free(snap[1]);
        snap[0] = snap[1] = NULL;
        shared = false;
    }
    if (vranges_plan(run->cs, run->absent ? NULL : run->ct, plan, (size_t)run->opts->jobs, &ranges,
                     &nr, errstr, errstr_size))
        goto out;
    if (nr <= 1) {
        if (shared) {
            vsnapshot_end(run->cs);
            if (!run->absent)
                vsnapshot_end(run->ct);
            shared = false;
        }
        rc = vmerge_pass(run, NULL, &run->mv, &run->last, &run->ngroups, run->res, errstr,
                         errstr_size);
        goto out;
    }
    cdc_log_info("%s: %zu key ranges scanned at once (split on %s%s), %s", plan->display, nr,
                 ranges[0].ncols > 1 ? "the whole key" : "the first key column",
                 plan->cols[0].collate_c ? " in COLLATE \"C\" order" : "",
                 shared ? "each side in one snapshot" : "each range in its own snapshot");
    jobs = calloc(nr, sizeof *jobs);
    for (size_t i = 0; i < nr; i++) {
        rjob_t *j = &jobs[i];
        j->run = run;
        j->range = &ranges[i];
        j->snap = shared ? snap : NULL;
        j->stop = &stop;
        if (pthread_create(&j->thr, NULL, rjob_main, j) != 0) {
            atomic_store(&stop, true);
            j->rc = -1;
            snprintf(j->err, sizeof j->err, "cannot start a thread");
            break;
        }
        j->started = true;
    }
    for (size_t i = 0; i < nr; i++)
        if (jobs[i].started)
            pthread_join(jobs[i].thr, NULL);
    /* A range that failed first says why; the others only stopped. */
    rjob_t *failed = NULL;
    for (size_t i = 0; i < nr && !failed; i++)
        if (jobs[i].rc && strncmp(jobs[i].err, "stopped:", 8) != 0)
            failed = &jobs[i];
    for (size_t i = 0; i < nr && !failed; i++)
        if (jobs[i].rc)
            failed = &jobs[i];
    if (failed) {
        snprintf(errstr, errstr_size, "key range %zu/%zu: %s", failed->range->index + 1, nr,
                 failed->err);
        goto out;
    }
    cdc_verify_result_t *res = run->res;
    for (size_t i = 0; i < nr; i++) {
        rjob_t *j = &jobs[i];
        res->source_rows += j->res.source_rows;
        res->target_rows += j->res.target_rows;
        res->source_digest += j->res.source_digest;
        res->target_digest += j->res.target_digest;
        res->missing += j->res.missing;
        res->extra += j->res.extra;
        res->different += j->res.different;
        run->ngroups += j->ngroups;
        for (size_t k = 0; k < j->mv.n && run->mv.n < run->max_keep; k++)
            mv_move(&run->mv, &j->mv, k);
    }
    if (run->mv.n) {
        misvec_t *mv = &run->mv;
        cdc_buf_reset(&run->last);
        cdc_buf_append(&run->last, mv->keys.data + mv->koff[mv->n - 1],
                       mv->keys.len - mv->koff[mv->n - 1]);
    }
    rc = 0;
out:
    if (shared) {
        vsnapshot_end(run->cs);
        if (!run->absent)
            vsnapshot_end(run->ct);
    }
    for (size_t i = 0; jobs && i < nr; i++) {
        vmisvec_free(&jobs[i].mv, plan->nkeys);
        cdc_buf_free(&jobs[i].last);
    }
    free(jobs);
    vranges_free(ranges, nr);
    free(snap[0]);
    free(snap[1]);
    return rc;
}

int vrun_compare(vrun_t *run, char *errstr, size_t errstr_size)
{
    if (run->opts->jobs > 1)
        return compare_ranges(run, errstr, errstr_size);
    return vmerge_pass(run, NULL, &run->mv, &run->last, &run->ngroups, run->res, errstr,
                       errstr_size);
}
