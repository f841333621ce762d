/*
 * Step 2, scan: the per-side COPY scanner (the plan is plan.c's).
 *
 * The scanner is the hot loop: one thread per side reads binary COPY rows
 * (columns canon cannot decode from binary arrive as ::text), encodes every
 * column canonically straight from the COPY message (no per-field copy),
 * hashes the row and appends a small record (digest + key) to a batch.
 * Batches go through a queue of at most QUEUE_MAX entries, so memory stays
 * bounded whatever the table size and whichever side is faster.
 */
#include "verify_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/pg.h"

#define QUEUE_MAX   4
#define BATCH_BYTES (1u << 20)

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- COPY text fields ------------------------------------------------- */

/* Unescape one COPY text field into @p out. */
static void copy_unescape(const char *p, size_t n, cdc_buf_t *out)
{
    cdc_buf_reset(out);
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c != '\\' || i + 1 >= n) {
            cdc_buf_putc(out, c);
            continue;
        }
        c = p[++i];
        switch (c) {
        case 'b': cdc_buf_putc(out, '\b'); break;
        case 'f': cdc_buf_putc(out, '\f'); break;
        case 'n': cdc_buf_putc(out, '\n'); break;
        case 'r': cdc_buf_putc(out, '\r'); break;
        case 't': cdc_buf_putc(out, '\t'); break;
        case 'v': cdc_buf_putc(out, '\v'); break;
        case 'x': {
            int v = 0, k = 0;
            while (k < 2 && i + 1 < n && strchr("0123456789abcdefABCDEF", p[i + 1]) && p[i + 1]) {
                char h = p[++i];
                v = v * 16 + (h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
                k++;
            }
            cdc_buf_putc(out, (char)v);
            break;
        }
        default:
            if (c >= '0' && c <= '7') {
                int v = c - '0', k = 1;
                while (k < 3 && i + 1 < n && p[i + 1] >= '0' && p[i + 1] <= '7') {
                    v = v * 8 + (p[++i] - '0');
                    k++;
                }
                cdc_buf_putc(out, (char)v);
            } else {
                cdc_buf_putc(out, c);
            }
        }
    }
}

char **vcopy_fields(const char *raw, size_t rawlen, size_t n)
{
    char **f = calloc(n ? n : 1, sizeof *f);
    cdc_buf_t b = CDC_BUF_INIT;
    size_t i = 0, start = 0;
    for (size_t k = 0; k <= rawlen && i < n; k++) {
        if (k == rawlen || raw[k] == '\t') {
            size_t len = k - start;
            if (!(len == 2 && raw[start] == '\\' && raw[start + 1] == 'N')) {
                copy_unescape(raw + start, len, &b);
                f[i] = cdc_buf_steal(&b);
            }
            i++;
            start = k + 1;
        }
    }
    cdc_buf_free(&b);
    return f;
}

char **vrec_keyvals(const vplan_t *plan, bool target, const vrec_t *rec)
{
    size_t ntext = 0;
    for (size_t k = 0; k < plan->nkeys; k++)
        ntext += !(target ? plan->cols[k].tbin : plan->cols[k].sbin);
    char **text = vcopy_fields(rec->raw, rec->rawlen, ntext);
    char **f = calloc(plan->nkeys ? plan->nkeys : 1, sizeof *f);
    const unsigned char *kp = rec->key;
    size_t avail = rec->keylen, ti = 0;
    for (size_t k = 0; k < plan->nkeys; k++) {
        unsigned char tag = 0;
        const unsigned char *pl = NULL;
        size_t plen = 0, fl = cdc_canon_frame(kp, avail, &tag, &pl, &plen);
        if (target ? plan->cols[k].tbin : plan->cols[k].sbin) {
            /* The payload is the value's text: decimal digits, the string,
             * the uuid spelled as uuid_out does. */
            if (fl && tag != CDC_CANON_NULL_TAG)
                f[k] = strndup((const char *)pl, plen);
        } else {
            f[k] = text[ti];
            text[ti++] = NULL;
        }
        kp += fl;
        avail -= fl;
    }
    free_strv(text, ntext);
    return f;
}

void vfields_free(char **f, size_t n)
{
    free_strv(f, n);
}

/* ---- batches and the queue -------------------------------------------- */

size_t vbatch_read(const vbatch_t *b, size_t off, vrec_t *rec)
{
    const char *p = b->data.data + off;
    uint32_t kl, rl;
    memcpy(&rec->digest, p, 8);
    memcpy(&kl, p + 8, 4);
    memcpy(&rl, p + 12, 4);
    rec->key = (const unsigned char *)p + 16;
    rec->keylen = kl;
    rec->raw = p + 16 + kl;
    rec->rawlen = rl;
    return off + 16 + kl + rl;
}

void vbatch_free(vbatch_t *b)
{
    if (!b)
        return;
    cdc_buf_free(&b->data);
    free(b);
}

/* Producer side: wait for room, then append. Returns false when asked to
 * stop. */
static bool queue_push(vscan_t *s, vbatch_t *b)
{
    pthread_mutex_lock(&s->mu);
    while (s->queued >= QUEUE_MAX && !s->stop)
        pthread_cond_wait(&s->cv, &s->mu);
    bool ok = !s->stop;
    if (ok) {
        if (s->tail)
            s->tail->next = b;
        else
            s->head = b;
        s->tail = b;
        s->queued++;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (!ok)
        vbatch_free(b);
    return ok;
}

vbatch_t *vscan_next(vscan_t *s)
{
    pthread_mutex_lock(&s->mu);
    while (!s->head && !s->eof)
        pthread_cond_wait(&s->cv, &s->mu);
    vbatch_t *b = s->head;
    if (b) {
        s->head = b->next;
        if (!s->head)
            s->tail = NULL;
        s->queued--;
        b->next = NULL;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return b;
}

static void scan_finish(vscan_t *s, const char *err)
{
    pthread_mutex_lock(&s->mu);
    if (err) {
        s->failed = true;
        snprintf(s->err, sizeof s->err, "%s: %s", s->target ? "target" : "source", err);
    }
    s->eof = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Key text as COPY text fields (tab-separated, \N, backslash escapes), the
 * form vcopy_fields() reads back for the few rows that mismatch. */
static void raw_key_field(cdc_buf_t *raw, bool first, const unsigned char *f, int32_t fl)
{
    /* Separate by position, not by what came before: an empty first key
     * ('') must still be followed by a tab. */
    if (!first)
        cdc_buf_putc(raw, '\t');
    if (fl < 0) {
        cdc_buf_puts(raw, "\\N");
        return;
    }
    for (int32_t k = 0; k < fl; k++) {
        char c = (char)f[k];
        switch (c) {
        case '\\': cdc_buf_puts(raw, "\\\\"); break;
        case '\t': cdc_buf_puts(raw, "\\t"); break;
        case '\n': cdc_buf_puts(raw, "\\n"); break;
        case '\r': cdc_buf_puts(raw, "\\r"); break;
        default: cdc_buf_putc(raw, c);
        }
    }
}

static void *scan_main(void *arg)
{
    vscan_t *s = arg;
    const vplan_t *plan = s->plan;
    char e[512];
    PGconn *conn = NULL;
    PGresult *res = NULL;
    vbatch_t *b = NULL;
    cdc_buf_t row = CDC_BUF_INIT, raw = CDC_BUF_INIT, sql = CDC_BUF_INIT;
    const char *err = NULL;
    char errbuf[600];
    bool header = true;
    int side = s->target ? 1 : 0;

    conn = cdc_pg_connect(s->conninfo, "cdc-verify", e, sizeof e);
    if (!conn) {
        snprintf(errbuf, sizeof errbuf, "%s", e);
        err = errbuf;
        goto out;
    }
    /* --jobs: every range of a side in the one snapshot exported for it. */
    if (s->snapshot) {
        char *lit = PQescapeLiteral(conn, s->snapshot, strlen(s->snapshot));
        cdc_buf_printf(&sql,
                       "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION "
                       "SNAPSHOT %s",
                       lit ? lit : "''");
        PQfreemem(lit);
        res = PQexec(conn, sql.data);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            cdc_pg_error(res, conn, e, sizeof e);
            snprintf(errbuf, sizeof errbuf, "joining the snapshot of the scan of %s: %s",
                     plan->display, e);
            err = errbuf;
            goto out;
        }
        PQclear(res);
        res = NULL;
        cdc_buf_reset(&sql);
    }
    /* Binary COPY: PostgreSQL skips its text output functions for the
     * binary-capable columns; the others arrive as their ::text. */
    cdc_buf_printf(&sql, "COPY (SELECT %s FROM %s AS _cdc_t", plan->select_bin[side], plan->from);
    if (plan->where)
        cdc_buf_printf(&sql, " WHERE (%s)", plan->where);
    if (s->range) {
        cdc_buf_t rw = CDC_BUF_INIT;
        if (vrange_where(plan, s->range, conn, &rw))
            cdc_buf_printf(&sql, " %s (%s)", plan->where ? "AND" : "WHERE", rw.data);
        cdc_buf_free(&rw);
    }
    cdc_buf_printf(&sql, " ORDER BY %s) TO STDOUT (FORMAT binary)", plan->order_by);
    res = PQexec(conn, sql.data);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        cdc_pg_error(res, conn, e, sizeof e);
        snprintf(errbuf, sizeof errbuf, "COPY of %s failed: %s", plan->display, e);
        err = errbuf;
        goto out;
    }
    PQclear(res);
    res = NULL;

    bool done = false;
    while (!done) {
        char *msg = NULL;
        int n = PQgetCopyData(conn, &msg, 0);
        if (n == -1)
            break;
        if (n < 0) {
            cdc_pg_error(NULL, conn, e, sizeof e);
            snprintf(errbuf, sizeof errbuf, "reading COPY of %s: %s", plan->display, e);
            err = errbuf;
            goto out;
        }
        if (s->stop) {
            PQfreemem(msg);
            goto out;
        }
        const unsigned char *p = (const unsigned char *)msg, *end = p + n;
        if (header) {
            /* "PGCOPY\n\377\r\n\0", flags, header extension length + data */
            if (n < 19 || memcmp(p, "PGCOPY\n\377\r\n", 11) != 0) {
                err = "COPY binary header missing";
                PQfreemem(msg);
                goto out;
            }
            uint32_t ext = rd32(p + 15);
            p += 19 + ext;
            header = false;
        }
        /* One CopyData message normally holds one tuple, the first one may
         * follow the header: loop over whatever is there. */
        while (p + 2 <= end) {
            int16_t nf = (int16_t)(p[0] << 8 | p[1]);
            p += 2;
            if (nf == -1) {
                done = true;
                break;
            }
            if ((size_t)nf != plan->ncols) {
                snprintf(errbuf, sizeof errbuf, "COPY row of %s has %d fields, expected %zu",
                         plan->display, nf, plan->ncols);
                err = errbuf;
                PQfreemem(msg);
                goto out;
            }
            cdc_buf_reset(&row);
            cdc_buf_reset(&raw);
            size_t keybytes = 0, nraw = 0;
            for (size_t col = 0; col < plan->ncols; col++) {
                if (p + 4 > end)
                    goto truncated;
                int32_t fl = (int32_t)rd32(p);
                p += 4;
                if (fl > 0 && (size_t)fl > (size_t)(end - p))
                    goto truncated;
                const vcol_t *vc = &plan->cols[col];
                cdc_canon_type_t ty = side ? vc->ttype : vc->stype;
                bool bin = side ? vc->tbin : vc->sbin;
                const char *f = fl < 0 ? NULL : (const char *)p;
                size_t len = fl < 0 ? 0 : (size_t)fl;
                int rc = bin ? cdc_canon_encode_binary(ty, f, len, &row, e, sizeof e)
                             : cdc_canon_encode(ty, f, len, &row, e, sizeof e);
                if (rc) {
                    snprintf(errbuf, sizeof errbuf, "%s column \"%s\": %s", plan->display, vc->name,
                             e);
                    err = errbuf;
                    PQfreemem(msg);
                    goto out;
                }
                if (col < plan->nkeys && !bin)
                    raw_key_field(&raw, nraw++ == 0, p, fl);
                if (col + 1 == plan->nkeys)
                    keybytes = row.len;
                if (fl > 0)
                    p += fl;
            }
            uint64_t d = cdc_canon_hash(row.data, row.len);
            s->digest_sum += d;
            s->rows++;
            if (!b) {
                b = calloc(1, sizeof *b);
                cdc_buf_reserve(&b->data, BATCH_BYTES + 4096);
            }
            uint32_t kl = (uint32_t)keybytes, rl = (uint32_t)raw.len;
            cdc_buf_reserve(&b->data, 16 + kl + rl);
            char *w = b->data.data + b->data.len;
            memcpy(w, &d, 8);
            memcpy(w + 8, &kl, 4);
            memcpy(w + 12, &rl, 4);
            /* raw stays unallocated (NULL) when no key field travels as
             * text: memcpy wants a valid pointer even for 0 bytes. */
            if (kl)
                memcpy(w + 16, row.data, kl);
            if (rl)
                memcpy(w + 16 + kl, raw.data, rl);
            b->data.len += 16 + (size_t)kl + rl;
            b->nrec++;
            if (b->data.len >= BATCH_BYTES) {
                bool ok = queue_push(s, b);
                b = NULL;
                if (!ok) {
                    PQfreemem(msg);
                    goto out;
                }
            }
        }
        PQfreemem(msg);
        continue;
    truncated:
        PQfreemem(msg);
        snprintf(errbuf, sizeof errbuf, "truncated binary COPY row of %s", plan->display);
        err = errbuf;
        goto out;
    }
    if (done) {
        /* drain the end of the COPY */
        char *msg = NULL;
        while (PQgetCopyData(conn, &msg, 0) >= 0)
            PQfreemem(msg);
    }
    res = PQgetResult(conn);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        cdc_pg_error(res, conn, e, sizeof e);
        snprintf(errbuf, sizeof errbuf, "COPY of %s failed: %s", plan->display, e);
        err = errbuf;
        goto out;
    }
    if (b) {
        queue_push(s, b);
        b = NULL;
    }
out:
    vbatch_free(b);
    PQclear(res);
    if (conn)
        PQfinish(conn);
    cdc_buf_free(&row);
    cdc_buf_free(&raw);
    cdc_buf_free(&sql);
    scan_finish(s, err);
    return NULL;
}

int vscan_start(vscan_t *s, const char *conninfo, const vplan_t *plan, bool target,
                const vrange_t *range, const char *snapshot, char *errstr, size_t errstr_size)
{
    memset(s, 0, sizeof *s);
    s->conninfo = conninfo;
    s->plan = plan;
    s->target = target;
    s->range = range;
    s->snapshot = snapshot;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thr, NULL, scan_main, s) != 0) {
        snprintf(errstr, errstr_size, "cannot start a scan thread");
        return -1;
    }
    s->started = true;
    return 0;
}

void vscan_stop(vscan_t *s)
{
    if (!s->started)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thr, NULL);
    while (s->head) {
        vbatch_t *b = s->head;
        s->head = b->next;
        vbatch_free(b);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    s->started = false;
}

char *vsnapshot_export(PGconn *conn, char *errstr, size_t errstr_size)
{
    PGresult *r = PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    char *snap = NULL;
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        PQclear(r);
        r = PQexec(conn, "SELECT pg_export_snapshot()");
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            snap = strdup(PQgetvalue(r, 0, 0));
    }
    if (!snap) {
        cdc_pg_error(r, conn, errstr, errstr_size);
        PQclear(r);
        vsnapshot_end(conn);
        return NULL;
    }
    PQclear(r);
    return snap;
}

void vsnapshot_end(PGconn *conn)
{
    /* Read only: nothing to keep, and an aborted transaction ends too. */
    PQclear(PQexec(conn, "ROLLBACK"));
}
