/*
 * Plan (catalog lookups on both sides) and the per-side COPY scanner.
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
#include "cdc/pgtype.h"

#define QUEUE_MAX   4
#define BATCH_BYTES (1u << 20)

/* ---- plan ------------------------------------------------------------- */

typedef struct catcol {
    char *name;
    unsigned typoid; /* atttypid */
    bool collatable;
} catcol_t;

static int load_columns(PGconn *conn, const char *schema, const char *table, catcol_t **cols,
                        size_t *ncols, char ***pk, size_t *npk, double *reltuples, char *errstr,
                        size_t errstr_size)
{
    const char *params[2] = {schema, table};
    PGresult *res = NULL;
    int rc = -1;
    char e[512];
    /* The type's OID: cdc_pgtype_resolve() maps it. */
    res = PQexecParams(conn,
                       "SELECT a.attname, a.atttypid, a.attcollation <> 0, c.reltuples::float8 "
                       "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "JOIN pg_attribute a ON a.attrelid = c.oid "
                       "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 "
                       "AND NOT a.attisdropped ORDER BY a.attnum",
                       2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_pg_error(res, conn, e, sizeof e);
        snprintf(errstr, errstr_size, "reading columns of %s.%s: %s", schema, table, e);
        goto out;
    }
    *ncols = (size_t)PQntuples(res);
    if (*ncols == 0) {
        snprintf(errstr, errstr_size, "table %s.%s not found (or has no columns): check --table",
                 schema, table);
        goto out;
    }
    *cols = calloc(*ncols, sizeof **cols);
    for (size_t i = 0; i < *ncols; i++) {
        (*cols)[i].name = strdup(PQgetvalue(res, (int)i, 0));
        (*cols)[i].typoid = (unsigned)strtoul(PQgetvalue(res, (int)i, 1), NULL, 10);
        (*cols)[i].collatable = PQgetvalue(res, (int)i, 2)[0] == 't';
    }
    if (reltuples)
        *reltuples = atof(PQgetvalue(res, 0, 3));
    PQclear(res);
    res = PQexecParams(conn,
                       "SELECT a.attname FROM pg_index i "
                       "JOIN pg_class c ON c.oid = i.indrelid "
                       "JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
                       "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
                       "WHERE n.nspname = $1 AND c.relname = $2 AND i.indisprimary "
                       "ORDER BY k.ord",
                       2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_pg_error(res, conn, e, sizeof e);
        snprintf(errstr, errstr_size, "reading the primary key of %s.%s: %s", schema, table, e);
        goto out;
    }
    *npk = (size_t)PQntuples(res);
    *pk = calloc(*npk + 1, sizeof **pk);
    for (size_t i = 0; i < *npk; i++)
        (*pk)[i] = strdup(PQgetvalue(res, (int)i, 0));
    rc = 0;
out:
    PQclear(res);
    return rc;
}

static void free_catcols(catcol_t *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free(c[i].name);
    }
    free(c);
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

static const catcol_t *find_col(const catcol_t *c, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].name, name) == 0)
            return &c[i];
    return NULL;
}

/* Types whose binary send format canon decodes: exactly these built-in
 * OIDs (under any domains; an extension type mapped to a kind, such as
 * citext, keeps the text path: its send function is its own business).
 *
 * Key columns need their PostgreSQL spelling for the report, the recheck
 * queries and the repair statements. Integers, text and uuid get it back
 * from their canonical payload (decimal digits, the bytes, lowercase
 * 8-4-4-4-12: exactly int8out/textout/uuid_out), so they travel in binary
 * like the other columns: the server skips int8out and the client a text
 * parse per row. Other key types (dates, numerics, char(n), ...) stay
 * text, as their canonical form is not their spelling. */
static bool binary_ok(unsigned base, cdc_canon_type_t type, bool key)
{
    /* int2 int4 int8 numeric float4 float8 date timestamp timestamptz
     * text varchar bpchar bytea bool uuid */
    static const unsigned oids[] = {21,   23, 20,   1700, 700, 701, 1082, 1114,
                                    1184, 25, 1043, 1042, 17,  16,  2950, 0};
    static const unsigned key_oids[] = {21, 23, 20, 25, 1043, 2950, 0};
    if (!cdc_canon_binary_capable(type))
        return false;
    const unsigned *list = key ? key_oids : oids;
    for (int i = 0; list[i]; i++)
        if (base == list[i])
            return true;
    return false;
}

/* Each column's type on one side (@p types: that side's canonical types,
 * @p base: the OIDs under domains, both ncols long). */
static int resolve_columns(PGconn *conn, const char *schema, const char *table,
                           const catcol_t *cols, size_t ncols, cdc_pgtype_mem_t **mem,
                           cdc_canon_type_t *types, unsigned *base, char *errstr,
                           size_t errstr_size)
{
    unsigned *oids = calloc(ncols ? ncols : 1, sizeof *oids);
    char e[512];
    if (!oids) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < ncols; i++)
        oids[i] = cols[i].typoid;
    int rc = cdc_pgtype_resolve(conn, oids, ncols, mem, types, base, NULL, e, sizeof e);
    if (rc)
        snprintf(errstr, errstr_size, "reading the column types of %s.%s: %s", schema, table, e);
    free(oids);
    return rc;
}

int vplan_build(vplan_t *plan, PGconn *conn_s, PGconn *conn_t, const cdc_verify_opts_t *opts,
                char *errstr, size_t errstr_size)
{
    catcol_t *sc = NULL, *tc = NULL;
    cdc_canon_type_t *sty = NULL, *tty = NULL;
    unsigned *sbase = NULL, *tbase = NULL;
    size_t nsc = 0, ntc = 0, nspk = 0, ntpk = 0, nkeys = 0;
    char **spk = NULL, **tpk = NULL, **keys = NULL;
    cdc_canon_col_t *cc = NULL;
    size_t *order = NULL;
    int rc = -1;
    memset(plan, 0, sizeof *plan);

    if (vtable_split(opts->table, &plan->schema, &plan->table, errstr, errstr_size))
        goto out;
    size_t dl = strlen(plan->schema) + strlen(plan->table) + 2;
    plan->display = malloc(dl);
    snprintf(plan->display, dl, "%s.%s", plan->schema, plan->table);

    if (load_columns(conn_s, plan->schema, plan->table, &sc, &nsc, &spk, &nspk, &plan->reltuples,
                     errstr, errstr_size))
        goto out;
    char e2[600];
    if (load_columns(conn_t, plan->schema, plan->table, &tc, &ntc, &tpk, &ntpk, NULL, e2,
                     sizeof e2)) {
        snprintf(errstr, errstr_size, "target: %s", e2);
        goto out;
    }
    /* The key: --key, else the source's primary key. */
    if (opts->key && *opts->key) {
        char *dup = strdup(opts->key), *save = NULL;
        keys = calloc(strlen(opts->key) + 1, sizeof *keys);
        for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ')
                t++;
            keys[nkeys++] = strdup(t);
        }
        free(dup);
    } else {
        if (nspk == 0) {
            /* --table as given (quoted where needed, also under
             * --all-tables): the command to run is pasteable. */
            snprintf(errstr, errstr_size,
                     "table %s has no primary key: name the columns that identify a row with "
                     "--table '%s' --key col1,col2",
                     plan->display, opts->table);
            goto out;
        }
        keys = spk;
        nkeys = nspk;
        spk = NULL;
    }
    for (size_t k = 0; k < nkeys; k++)
        if (!find_col(sc, nsc, keys[k])) {
            snprintf(errstr, errstr_size, "key column \"%s\" is not a column of %s", keys[k],
                     plan->display);
            goto out;
        }

    /* A misspelt --column would silently leave only the key compared. */
    for (size_t i = 0; i < opts->ncolumns + opts->nexclude; i++) {
        const char *name =
            i < opts->ncolumns ? opts->columns[i] : opts->exclude[i - opts->ncolumns];
        /* An excluded column may be one only the target has. */
        if (!find_col(sc, nsc, name) && !(i >= opts->ncolumns && find_col(tc, ntc, name))) {
            snprintf(errstr, errstr_size, "%s %s: %s has no such column",
                     i < opts->ncolumns ? "--column" : "--exclude-column", name, plan->display);
            goto out;
        }
    }

    /* Each side's types, from its own catalog (OIDs of user types differ). */
    sty = calloc(nsc, sizeof *sty);
    tty = calloc(ntc, sizeof *tty);
    sbase = calloc(nsc, sizeof *sbase);
    tbase = calloc(ntc, sizeof *tbase);
    if (!sty || !tty || !sbase || !tbase) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (resolve_columns(conn_s, plan->schema, plan->table, sc, nsc, &plan->typemem, sty, sbase,
                        errstr, errstr_size))
        goto out;
    if (resolve_columns(conn_t, plan->schema, plan->table, tc, ntc, &plan->typemem, tty, tbase, e2,
                        sizeof e2)) {
        snprintf(errstr, errstr_size, "target: %s", e2);
        goto out;
    }

    /* Columns: the source's, filtered; every one must exist in the target. */
    cc = calloc(nsc, sizeof *cc);
    size_t n = 0;
    for (size_t i = 0; i < nsc; i++) {
        int kp = -1;
        for (size_t k = 0; k < nkeys; k++)
            if (strcmp(keys[k], sc[i].name) == 0)
                kp = (int)k;
        if (kp < 0 && (in_list(sc[i].name, opts->exclude, opts->nexclude) ||
                       (opts->ncolumns && !in_list(sc[i].name, opts->columns, opts->ncolumns))))
            continue;
        if (!find_col(tc, ntc, sc[i].name)) {
            snprintf(errstr, errstr_size,
                     "column \"%s\" of %s is missing in the target: fix the schema or pass "
                     "--exclude-column %s",
                     sc[i].name, plan->display, sc[i].name);
            goto out;
        }
        cc[n++] = (cdc_canon_col_t){sc[i].name, sty[i], kp, NULL, 0};
    }
    /* Columns only the target has are never compared: say so, unless
     * excluded by name (a --column list names the whole scope). */
    plan->target_only = calloc(ntc ? ntc : 1, sizeof *plan->target_only);
    for (size_t i = 0; i < ntc && !opts->ncolumns; i++)
        if (!find_col(sc, nsc, tc[i].name) && !in_list(tc[i].name, opts->exclude, opts->nexclude))
            plan->target_only[plan->ntarget_only++] = strdup(tc[i].name);
    order = calloc(n ? n : 1, sizeof *order);
    cdc_canon_row_order(cc, n, order);
    plan->cols = calloc(n ? n : 1, sizeof *plan->cols);
    plan->ncols = n;
    plan->nkeys = nkeys;
    cdc_buf_t sel = CDC_BUF_INIT, ob = CDC_BUF_INIT, from = CDC_BUF_INIT;
    cdc_buf_t selb[2] = {CDC_BUF_INIT, CDC_BUF_INIT};
    for (size_t i = 0; i < n; i++) {
        const cdc_canon_col_t *c = &cc[order[i]];
        const catcol_t *s = find_col(sc, nsc, c->name), *t = find_col(tc, ntc, c->name);
        vcol_t *v = &plan->cols[i];
        v->name = strdup(c->name);
        v->stype = c->type;
        size_t si = (size_t)(s - sc), ti = t ? (size_t)(t - tc) : 0;
        v->ttype = t ? tty[ti] : c->type;
        v->collate_c = s && s->collatable;
        v->key_pos = c->key_pos;
        v->sbin = s && binary_ok(sbase[si], v->stype, v->key_pos >= 0);
        v->tbin = t && binary_ok(tbase[ti], v->ttype, v->key_pos >= 0);
        if (i)
            cdc_buf_puts(&sel, ", ");
        cdc_pg_append_ident(&sel, v->name);
        for (int side = 0; side < 2; side++) {
            if (i)
                cdc_buf_puts(&selb[side], ", ");
            cdc_pg_append_ident(&selb[side], v->name);
            if (!(side ? v->tbin : v->sbin))
                cdc_buf_puts(&selb[side], "::text");
        }
        if (v->key_pos >= 0) {
            if (ob.len)
                cdc_buf_puts(&ob, ", ");
            /* Qualified: the select list casts keys to text under the same
             * name, and ORDER BY would otherwise sort the text. */
            cdc_buf_puts(&ob, "_cdc_t.");
            cdc_pg_append_ident(&ob, v->name);
            /* Byte order on both sides whatever their collations: the merge
             * compares canonical bytes. */
            if (v->collate_c)
                cdc_buf_puts(&ob, " COLLATE \"C\"");
        }
    }
    cdc_pg_append_qualified(&from, plan->schema, plan->table);
    plan->select_list = cdc_buf_steal(&sel);
    plan->select_bin[0] = cdc_buf_steal(&selb[0]);
    plan->select_bin[1] = cdc_buf_steal(&selb[1]);
    plan->order_by = cdc_buf_steal(&ob);
    plan->from = cdc_buf_steal(&from);
    plan->where = opts->where && *opts->where ? strdup(opts->where) : NULL;
    rc = 0;
out:
    free_catcols(sc, nsc);
    free_catcols(tc, ntc);
    free_strv(spk, nspk);
    free_strv(tpk, ntpk);
    free_strv(keys, nkeys);
    free(cc);
    free(order);
    free(sty);
    free(tty);
    free(sbase);
    free(tbase);
    return rc;
}

void vplan_free(vplan_t *plan)
{
    for (size_t i = 0; plan->cols && i < plan->ncols; i++)
        free(plan->cols[i].name);
    free(plan->cols);
    free(plan->schema);
    free(plan->table);
    free(plan->display);
    free(plan->select_list);
    free(plan->select_bin[0]);
    free(plan->select_bin[1]);
    free(plan->from);
    free(plan->where);
    free(plan->order_by);
    cdc_pgtype_mem_free(plan->typemem);
    free_strv(plan->target_only, plan->ntarget_only);
    memset(plan, 0, sizeof *plan);
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
    /* Binary COPY: PostgreSQL skips its text output functions for the
     * binary-capable columns; the others arrive as their ::text. */
    cdc_buf_printf(&sql, "COPY (SELECT %s FROM %s AS _cdc_t", plan->select_bin[side], plan->from);
    if (plan->where)
        cdc_buf_printf(&sql, " WHERE (%s)", plan->where);
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

int vscan_start(vscan_t *s, const char *conninfo, const vplan_t *plan, bool target, char *errstr,
                size_t errstr_size)
{
    memset(s, 0, sizeof *s);
    s->conninfo = conninfo;
    s->plan = plan;
    s->target = target;
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
