/* Staging: rows travel as COPY data into per-session temp tables (one
 * pair per table description: cdc_stg_<id> for upserts, cdc_del_<id> for
 * the keys of deletes) and are merged from there (apply_merge.c), so no
 * SQL text is ever built from data (invariant 4).
 *
 * Which descriptions have their temp tables in the current session is the
 * writer's own state, here: the catalog's descriptions know nothing of
 * sessions. */
#include "writer_int.h"

#include "value_int.h"
#include "cdc/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t slot_of(const cdc_table_t *t, size_t nslots)
{
    /* Fibonacci hashing of the pointer; the low bits are alignment. */
    uint64_t h = (uint64_t)(uintptr_t)t * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & (nslots - 1);
}

static void slots_grow(cdc_stage_set_t *s)
{
    free(s->slots);
    s->nslots = s->nslots ? s->nslots * 2 : 16;
    s->slots = calloc(s->nslots, sizeof(*s->slots));
    if (!s->slots)
        abort();
    for (size_t e = 0; e < s->nents; e++) {
        size_t i = slot_of(s->ents[e].table, s->nslots);
        while (s->slots[i])
            i = (i + 1) & (s->nslots - 1);
        s->slots[i] = e + 1;
    }
}

/* The entry of @p t, added (not staged) when new. */
static size_t stage_find(cdc_stage_set_t *s, const cdc_table_t *t)
{
    if (s->nslots) {
        for (size_t i = slot_of(t, s->nslots); s->slots[i]; i = (i + 1) & (s->nslots - 1))
            if (s->ents[s->slots[i] - 1].table == t)
                return s->slots[i] - 1;
    }
    if (s->nents == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->ents = cdc_xrealloc(s->ents, s->cap * sizeof(*s->ents));
    }
    size_t e = s->nents++;
    s->ents[e] = (cdc_stage_t){t, (unsigned)e, false};
    if (2 * s->nents > s->nslots) {
        slots_grow(s); /* rehashes every entry, the new one included */
    } else {
        size_t i = slot_of(t, s->nslots);
        while (s->slots[i])
            i = (i + 1) & (s->nslots - 1);
        s->slots[i] = e + 1;
    }
    return e;
}

void cdc_stage_set_free(cdc_stage_set_t *s)
{
    free(s->ents);
    free(s->slots);
    free(s->made);
    memset(s, 0, sizeof(*s));
}

void cdc_stage_forget(cdc_stage_set_t *s, size_t mark)
{
    for (size_t i = mark; i < s->nmade; i++)
        s->ents[s->made[i]].staged = false;
    s->nmade = mark;
    if (s->txn_mark > mark)
        s->txn_mark = mark;
}

void cdc_stage_session_lost(cdc_stage_set_t *s)
{
    cdc_stage_forget(s, 0);
}

void cdc_stage_txn_mark(cdc_stage_set_t *s)
{
    s->txn_mark = s->nmade;
}

size_t cdc_stage_mark(const cdc_stage_set_t *s)
{
    return s->nmade;
}

void cdc_stage_copy_value(cdc_buf_t *b, const cdc_col_t *c, const char *type)
{
    if (!c || c->state != CDC_VAL_PRESENT) {
        cdc_buf_puts(b, "\\N");
        return;
    }
    size_t len;
    const char *s = cdc_value_text(type, c, &len), *run = s;
    cdc_buf_reserve(b, len + 8);
    for (const char *p = s; p < s + len; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: continue;
        }
        cdc_buf_append(b, run, (size_t)(p - run));
        cdc_buf_puts(b, esc);
        run = p + 1;
    }
    cdc_buf_append(b, run, (size_t)(s + len - run));
}

void cdc_stage_col_list(cdc_buf_t *q, const cdc_table_t *t, const uint8_t *mask, const char *prefix)
{
    bool first = true;
    for (size_t i = 0; i < t->ncols; i++) {
        if (!mask[i])
            continue;
        if (!first)
            cdc_buf_puts(q, ", ");
        first = false;
        if (prefix)
            cdc_buf_puts(q, prefix);
        cdc_pg_append_ident(q, t->cols[i].name);
    }
}

int cdc_stage_ensure(cdc_writer_t *w, const cdc_table_t *t, unsigned *id, cdc_err_class_t *cls,
                     char *errstr, size_t errstr_size)
{
    cdc_stage_set_t *s = &w->stage;
    size_t e = stage_find(s, t);
    *id = s->ents[e].id;
    if (s->ents[e].staged)
        return 0;
    cdc_buf_t *q = &w->sql;
    uint8_t *all = calloc(t->ncols ? t->ncols : 1, 1), *keys = calloc(t->ncols ? t->ncols : 1, 1);
    if (!all || !keys)
        abort();
    for (size_t i = 0; i < t->ncols; i++)
        all[i] = !t->cols[i].generated;
    for (size_t k = 0; k < t->nkey; k++)
        keys[t->key[k]] = 1;
    cdc_buf_reset(q);
    cdc_buf_printf(q, "DROP TABLE IF EXISTS pg_temp.cdc_stg_%u, pg_temp.cdc_del_%u; ", *id, *id);
    cdc_buf_printf(q, "CREATE TEMP TABLE cdc_stg_%u AS SELECT ", *id);
    cdc_stage_col_list(q, t, all, NULL);
    cdc_buf_printf(q, " FROM %s WITH NO DATA; ", t->qname);
    if (t->nkey) {
        cdc_buf_printf(q, "CREATE TEMP TABLE cdc_del_%u AS SELECT ", *id);
        cdc_stage_col_list(q, t, keys, NULL);
        cdc_buf_printf(q, " FROM %s WITH NO DATA", t->qname);
    }
    free(all);
    free(keys);
    if (cdc_writer_run(w, q->data, cls, errstr, errstr_size) != 0)
        return -1;
    s->ents[e].staged = true;
    if (s->nmade == s->made_cap) {
        s->made_cap = s->made_cap ? s->made_cap * 2 : 8;
        s->made = realloc(s->made, s->made_cap * sizeof(*s->made));
        if (!s->made)
            abort();
    }
    s->made[s->nmade++] = e;
    return 0;
}

/* A value COPY refused: name the column, both types and the fix instead
 * of PostgreSQL's bare "invalid input syntax for type bit". The COPY's
 * context ("COPY cdc_stg_3, line 2, column qty: ...") gives the line
 * (entry @p v[line - 1], or the row @p t holds for a direct COPY) and the
 * column. */
void cdc_stage_copy_error(const PGresult *res, const cdc_table_t *t, cdc_entry_t *const *v,
                          size_t n, char *errstr, size_t errstr_size)
{
    const char *ctx = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
    const char *ln = ctx ? strstr(ctx, ", line ") : NULL;
    if (!t || !ln)
        return;
    long line = strtol(ln + 7, NULL, 10);
    int col = -1;
    size_t best = 0;
    for (size_t c = 0; c < t->ncols; c++) {
        cdc_buf_t pat = CDC_BUF_INIT;
        cdc_buf_printf(&pat, ", column %s:", t->cols[c].name);
        if (strstr(ctx, pat.data) && pat.len > best) {
            best = pat.len;
            col = (int)c;
        }
        cdc_buf_free(&pat);
    }
    if (col < 0 || line < 1 || (size_t)line > n)
        return;
    const cdc_col_t *val = v[line - 1]->vals[col];
    char pgmsg[600];
    snprintf(pgmsg, sizeof(pgmsg), "%s", errstr);
    const char *sem = val && val->semantic ? val->semantic : "unknown";
    const char *fits = val && val->pg_type ? val->pg_type : NULL;
    if (fits && !strcmp(fits, t->cols[col].type)) {
        /* The column has the type the record's schema declares: the value
         * breaks its own schema, and no column change is the fix. */
        snprintf(errstr, errstr_size,
                 "%s.%s: the event's value does not fit its own schema's type %s (%s): %s: fix "
                 "the record's producer",
                 t->label, t->cols[col].name, fits, sem, pgmsg);
        return;
    }
    snprintf(errstr, errstr_size,
             "%s.%s: a column of type %s cannot hold the event's value (%s): %s: change the "
             "column's type%s%s, or the source's",
             t->label, t->cols[col].name, t->cols[col].type, sem, pgmsg,
             fits ? " to one that holds it, e.g. " : "", fits ? fits : "");
}

int cdc_stage_copy_in(cdc_writer_t *w, const char *sql, const cdc_table_t *t, cdc_entry_t *const *v,
                      size_t n, cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    PGresult *res = PQexec(w->conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        cdc_pg_error(res, w->conn, errstr, errstr_size);
        *cls = cdc_pg_classify(res, w->conn);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    int ok = PQputCopyData(w->conn, w->copy.data ? w->copy.data : "", (int)w->copy.len) == 1 &&
             PQputCopyEnd(w->conn, NULL) == 1;
    res = PQgetResult(w->conn);
    int rc = 0;
    if (!ok || PQresultStatus(res) != PGRES_COMMAND_OK) {
        cdc_pg_error(res, w->conn, errstr, errstr_size);
        *cls = cdc_pg_classify(res, w->conn);
        if (*cls == CDC_ERR_POISON)
            cdc_stage_copy_error(res, t, v, n, errstr, errstr_size);
        rc = -1;
    }
    PQclear(res);
    while ((res = PQgetResult(w->conn)) != NULL)
        PQclear(res);
    return rc;
}
