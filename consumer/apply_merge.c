/* The rows of a batch: per step and table, the deletes, then the upserts
 * grouped by the set of columns they write, each group one COPY into the
 * staging table (apply_stage.c) and one set-based statement that merges
 * it into the target: INSERT ... ON CONFLICT with a unique key, else
 * UPDATE + INSERT WHERE NOT EXISTS. Creates of new keys may go straight
 * into the table (direct_copy()). Inside the open transaction
 * (apply_txn.c). */
#include "writer_int.h"

#include "cdc/log.h"
#include "value_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "c1" = <from>"c1", ... over the columns in @p mask. */
static void set_list(cdc_buf_t *q, const cdc_table_t *t, const uint8_t *mask, const char *from)
{
    bool first = true;
    for (size_t c = 0; c < t->ncols; c++) {
        if (!mask[c])
            continue;
        if (!first)
            cdc_buf_puts(q, ", ");
        first = false;
        cdc_pg_append_ident(q, t->cols[c].name);
        cdc_buf_printf(q, " = %s", from);
        cdc_pg_append_ident(q, t->cols[c].name);
    }
}

/* Key equality of @p a and @p b2. A NULL never equals anything with '=',
 * so a group holding a NULL key part (--key-columns may name nullable
 * columns) matches with IS NOT DISTINCT FROM; the others keep '=', which
 * an index can serve. */
static void key_match(cdc_buf_t *q, const cdc_table_t *t, const char *a, const char *b2, bool nulls)
{
    for (size_t k = 0; k < t->nkey; k++) {
        if (k)
            cdc_buf_puts(q, " AND ");
        cdc_buf_printf(q, "%s.", a);
        cdc_pg_append_ident(q, t->cols[t->key[k]].name);
        cdc_buf_puts(q, nulls ? " IS NOT DISTINCT FROM " : " = ");
        cdc_buf_printf(q, "%s.", b2);
        cdc_pg_append_ident(q, t->cols[t->key[k]].name);
    }
}

/* True when entry @p e has a NULL (or absent) value in a key column. */
static bool entry_null_key(const cdc_table_t *t, const cdc_entry_t *e)
{
    for (size_t k = 0; k < t->nkey; k++) {
        const cdc_col_t *c = e->vals[t->key[k]];
        if (!c || c->state != CDC_VAL_PRESENT)
            return true;
    }
    return false;
}

static int cmp_entry_key(const void *a, const void *b)
{
    const cdc_entry_t *x = *(const cdc_entry_t *const *)a, *y = *(const cdc_entry_t *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static int apply_deletes(cdc_writer_t *w, cdc_table_t *t, unsigned id, cdc_entry_t **v, size_t n,
                         cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    cdc_buf_reset(&w->copy);
    for (size_t i = 0; i < n; i++) {
        /* The key values of the record that set the entry. */
        for (size_t k = 0; k < t->nkey; k++) {
            if (k)
                cdc_buf_putc(&w->copy, '\t');
            cdc_stage_copy_value(&w->copy, v[i]->vals[t->key[k]], t->cols[t->key[k]].type);
        }
        cdc_buf_putc(&w->copy, '\n');
    }
    cdc_buf_t *q = &w->sql;
    uint8_t *keys = calloc(t->ncols ? t->ncols : 1, 1);
    if (!keys)
        abort();
    for (size_t k = 0; k < t->nkey; k++)
        keys[t->key[k]] = 1;
    cdc_buf_reset(q);
    cdc_buf_printf(q, "COPY pg_temp.cdc_del_%u (", id);
    cdc_stage_col_list(q, t, keys, NULL);
    cdc_buf_puts(q, ") FROM STDIN");
    free(keys);
    if (cdc_stage_copy_in(w, q->data, t, v, n, cls, errstr, errstr_size) != 0)
        return -1;
    bool nulls = false;
    for (size_t i = 0; i < n && !nulls; i++)
        nulls = entry_null_key(t, v[i]);
    cdc_buf_reset(q);
    cdc_buf_printf(q, "DELETE FROM %s t USING pg_temp.cdc_del_%u d WHERE ", t->qname, id);
    key_match(q, t, "t", "d", nulls);
    cdc_buf_printf(q, "; TRUNCATE pg_temp.cdc_del_%u", id);
    return cdc_writer_run(w, q->data, cls, errstr, errstr_size);
}

/* The element of table @p t in the array *@p arr of *@p n elements of
 * @p size bytes, each starting with its table pointer; a new zeroed element
 * for @p t at the end when there is none. */
static void *table_slot(void **arr, size_t *n, size_t size, const cdc_table_t *t)
{
    char *a = *arr;
    for (size_t i = 0; i < *n; i++) {
        const cdc_table_t *it;
        memcpy(&it, a + i * size, sizeof(it));
        if (it == t)
            return a + i * size;
    }
    a = realloc(a, (*n + 1) * size);
    if (!a)
        abort();
    *arr = a;
    memset(a + *n * size, 0, size);
    memcpy(a + *n * size, &t, sizeof(t));
    return a + (*n)++ * size;
}

/* The live-check results of @p t in the open transaction. */
static cdc_livecheck_result_t *live_slot(cdc_writer_t *w, const cdc_table_t *t)
{
    void *a = w->live;
    cdc_writer_live_t *e = table_slot(&a, &w->nlive, sizeof(*w->live), t);
    w->live = a;
    return &e->res;
}

/* Names of the columns entry @p e leaves out because its record carried
 * the unchanged-TOAST placeholder for them, into @p out ("a", "b"). */
static void placeholder_cols(const cdc_table_t *t, const cdc_entry_t *e, const cdc_event_t *ev,
                             cdc_buf_t *out)
{
    for (size_t i = 0; i < ev->after.ncols; i++) {
        const cdc_col_t *c = &ev->after.cols[i];
        int idx = c->state == CDC_VAL_UNAVAILABLE ? cdc_table_col(t, c->name) : -1;
        if (idx < 0 || e->vals[idx])
            continue;
        cdc_buf_puts(out, out->len ? ", \"" : "\"");
        cdc_buf_puts(out, c->name);
        cdc_buf_putc(out, '"');
    }
}

/* A group whose rows leave an unchanged-TOAST column out can only update
 * rows the target has: an INSERT would write NULL (or the default) where
 * the source has a value, and PostgreSQL checks NOT NULL on the proposed
 * row before ON CONFLICT could turn it into an update. So such a group is
 * an UPDATE, and a row it would have to create is a real inconsistency
 * (the target lacks a row the source has): a poison record, named.
 * Returns 0, -1 with errstr/cls. */
static int check_present(cdc_writer_t *w, const cdc_batch_t *b, const cdc_table_t *t,
                         cdc_entry_t *const *v, size_t n, bool nulls, cdc_err_class_t *cls,
                         char *errstr, size_t errstr_size)
{
    cdc_buf_t *arrs = calloc(t->nkey + 1, sizeof(cdc_buf_t));
    const char **params = calloc(t->nkey + 1, sizeof(char *));
    cdc_buf_t q = CDC_BUF_INIT;
    if (!arrs || !params)
        abort();
    for (size_t i = 0; i < n; i++) {
        cdc_buf_printf(&arrs[0], "%c%zu", i ? ',' : '{', i);
        for (size_t k = 0; k < t->nkey; k++) {
            const cdc_col_t *c = v[i]->vals[t->key[k]];
            size_t len;
            if (c && c->state == CDC_VAL_PRESENT)
                cdc_pg_append_array_elem(&arrs[k + 1],
                                         cdc_value_text(t->cols[t->key[k]].type, c, &len));
            else
                cdc_buf_puts(&arrs[k + 1], i ? ",NULL" : "{NULL");
        }
    }
    for (size_t k = 0; k <= t->nkey; k++) {
        cdc_buf_putc(&arrs[k], '}');
        params[k] = arrs[k].data;
    }
    cdc_buf_puts(&q, "SELECT s.ord FROM unnest($1::int[]");
    for (size_t k = 0; k < t->nkey; k++)
        cdc_buf_printf(&q, ", $%zu::text[]", k + 2);
    cdc_buf_puts(&q, ") AS s(ord");
    for (size_t k = 0; k < t->nkey; k++)
        cdc_buf_printf(&q, ", k%zu", k);
    cdc_buf_printf(&q, ") WHERE NOT EXISTS (SELECT 1 FROM %s t WHERE ", t->qname);
    for (size_t k = 0; k < t->nkey; k++) {
        const cdc_tcol_t *col = &t->cols[t->key[k]];
        if (k)
            cdc_buf_puts(&q, " AND ");
        cdc_buf_puts(&q, "t.");
        cdc_pg_append_ident(&q, col->name);
        /* The cast names a type from the catalog (format_type), never data. */
        cdc_buf_printf(&q, " %s s.k%zu::%s", nulls ? "IS NOT DISTINCT FROM" : "=", k, col->type);
    }
    cdc_buf_puts(&q, ") ORDER BY s.ord LIMIT 1");
    PGresult *r = cdc_pg_exec_params(w->conn, q.data, (int)t->nkey + 1, params, NULL, NULL,
                                     PGRES_TUPLES_OK, cls, errstr, errstr_size);
    int rc = r ? 0 : -1;
    if (r && PQntuples(r) > 0) {
        size_t i = (size_t)atol(PQgetvalue(r, 0, 0));
        const cdc_item_t *it = &b->items[v[i < n ? i : 0]->item];
        cdc_buf_t names = CDC_BUF_INIT;
        placeholder_cols(t, v[i < n ? i : 0], it->ev, &names);
        snprintf(errstr, errstr_size,
                 "%s[%d]@%lld: an update of a row %s does not have carries the unchanged-TOAST "
                 "placeholder for column(s) %s, so the row cannot be written without losing "
                 "that value: the target is missing rows the source has (re-snapshot the "
                 "table; REPLICA IDENTITY FULL on the source avoids placeholders)",
                 it->rec.topic, it->rec.partition, (long long)it->rec.offset, t->label,
                 names.data ? names.data : "?");
        cdc_buf_free(&names);
        *cls = CDC_ERR_POISON;
        if (w->isolating)
            w->placeholder_rows++; /* counted once: the batch path is always isolated after */
        rc = -1;
    }
    PQclear(r);
    for (size_t k = 0; k <= t->nkey; k++)
        cdc_buf_free(&arrs[k]);
    free(arrs);
    free(params);
    cdc_buf_free(&q);
    return rc;
}

/* Per-table memory of the direct path: after a key conflict, skip it for a
 * while (a replay after a crash, an incremental snapshot re-reading rows). */
static int *direct_skip(cdc_writer_t *w, const cdc_table_t *t)
{
    void *a = w->direct;
    char *e = table_slot(&a, &w->ndirect, sizeof(*w->direct), t);
    w->direct = a;
    return &w->direct[(size_t)(e - (char *)a) / sizeof(*w->direct)].skip;
}

/* Rows whose last change is a create ('c', or a snapshot read 'r') are
 * almost always new: COPY them straight into the table, as fast as a raw
 * COPY, under a savepoint. A key that exists after all (records re-read
 * after a crash) fails the COPY with unique_violation: roll back to the
 * savepoint and let the staging merge (idempotent) do it.
 * Returns 1 applied, 0 not tried or rolled back, -1 error. */
static int direct_copy(cdc_writer_t *w, const cdc_batch_t *b, const cdc_table_t *t,
                       cdc_entry_t *const *v, size_t n, const uint8_t *mask, bool partial,
                       bool nulls, cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    /* A NULL key part never conflicts in a unique index: not this path. */
    if (!t->key_unique || t->identity_always || partial || nulls || n < 16)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char op = b->items[v[i]->item].ev->op;
        if (op != 'c' && op != 'r')
            return 0;
    }
    int *skip = direct_skip(w, t);
    if (*skip > 0) {
        (*skip)--;
        return 0;
    }
    if (cdc_writer_run(w, "SAVEPOINT cdc_direct", cls, errstr, errstr_size) != 0)
        return -1;
    cdc_buf_t *q = &w->sql;
    cdc_buf_reset(q);
    cdc_buf_printf(q, "COPY %s (", t->qname);
    cdc_stage_col_list(q, t, mask, NULL);
    cdc_buf_puts(q, ") FROM STDIN");
    PGresult *res = PQexec(w->conn, q->data);
    int rc = -1;
    if (PQresultStatus(res) == PGRES_COPY_IN) {
        PQclear(res);
        int ok = PQputCopyData(w->conn, w->copy.data ? w->copy.data : "", (int)w->copy.len) == 1 &&
                 PQputCopyEnd(w->conn, NULL) == 1;
        res = PQgetResult(w->conn);
        if (ok && PQresultStatus(res) == PGRES_COMMAND_OK)
            rc = 1;
    }
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    bool conflict = rc != 1 && st && !strcmp(st, "23505");
    if (rc != 1 && !conflict) {
        cdc_pg_error(res, w->conn, errstr, errstr_size);
        *cls = cdc_pg_classify(res, w->conn);
        if (*cls == CDC_ERR_POISON)
            cdc_stage_copy_error(res, t, v, n, errstr, errstr_size);
    }
    PQclear(res);
    while ((res = PQgetResult(w->conn)) != NULL)
        PQclear(res);
    if (rc == 1) {
        cdc_log_debug("direct COPY of %zu new rows into %s", n, t->label);
        return cdc_writer_run(w, "RELEASE SAVEPOINT cdc_direct", cls, errstr, errstr_size) == 0
                   ? 1
                   : -1;
    }
    if (!conflict)
        return -1;
    cdc_log_info("%s already holds some of the %zu keys created in this batch: merging them "
                 "instead (direct COPY paused for 16 batches)",
                 t->label, n);
    *skip = 16;
    return cdc_writer_run(w, "ROLLBACK TO SAVEPOINT cdc_direct", cls, errstr, errstr_size) == 0
               ? 0
               : -1;
}

/* A value PostgreSQL would round or cut to fit the column (see
 * cdc_value_loss()): a poison record, named, instead of a silent change. */
static int value_fits(const cdc_batch_t *b, const cdc_table_t *t, const cdc_entry_t *e, size_t c,
                      cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    const cdc_col_t *val = e->vals[c];
    const char *loss =
        val && val->state == CDC_VAL_PRESENT ? cdc_value_loss(t->cols[c].type, val) : NULL;
    if (!loss)
        return 0;
    const cdc_item_t *it = &b->items[e->item];
    snprintf(errstr, errstr_size,
             "%s[%d]@%lld: %s.%s: a column of type %s cannot hold the event's value (%s) "
             "exactly, it would lose %s: change the column's type to one that holds it%s%s",
             it->rec.topic, it->rec.partition, (long long)it->rec.offset, t->label, t->cols[c].name,
             t->cols[c].type, val->semantic, loss, val->pg_type ? ", e.g. " : "",
             val->pg_type ? val->pg_type : "");
    *cls = CDC_ERR_POISON;
    return -1;
}

/* "UPDATE t SET <nonkey cols> FROM staging table @p id WHERE <key match>; " */
static void put_stg_update(cdc_buf_t *q, const cdc_table_t *t, const uint8_t *nonkey, unsigned id,
                           bool nulls)
{
    cdc_buf_printf(q, "UPDATE %s t SET ", t->qname);
    set_list(q, t, nonkey, "s.");
    cdc_buf_printf(q, " FROM pg_temp.cdc_stg_%u s WHERE ", id);
    key_match(q, t, "t", "s", nulls);
    cdc_buf_puts(q, "; ");
}

/* Upserts (or appends) of entries that all write the columns in @p mask;
 * @p id names the staging table. */
static int apply_upserts(cdc_writer_t *w, const cdc_batch_t *b, cdc_table_t *t, unsigned id,
                         cdc_entry_t **v, size_t n, const uint8_t *mask, bool append, bool partial,
                         bool nulls, cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    cdc_buf_reset(&w->copy);
    for (size_t i = 0; i < n; i++) {
        bool first = true;
        for (size_t c = 0; c < t->ncols; c++) {
            if (!mask[c])
                continue;
            if (value_fits(b, t, v[i], c, cls, errstr, errstr_size) != 0)
                return -1;
            if (!first)
                cdc_buf_putc(&w->copy, '\t');
            first = false;
            cdc_stage_copy_value(&w->copy, v[i]->vals[c], t->cols[c].type);
        }
        cdc_buf_putc(&w->copy, '\n');
    }
    cdc_buf_t *q = &w->sql;
    cdc_buf_reset(q);
    if (append) {
        /* Rows of a table without a key go straight into it. */
        cdc_buf_printf(q, "COPY %s (", t->qname);
        cdc_stage_col_list(q, t, mask, NULL);
        cdc_buf_puts(q, ") FROM STDIN");
        return cdc_stage_copy_in(w, q->data, t, v, n, cls, errstr, errstr_size);
    }
    if (partial && check_present(w, b, t, v, n, nulls, cls, errstr, errstr_size) != 0)
        return -1;
    int d = direct_copy(w, b, t, v, n, mask, partial, nulls, cls, errstr, errstr_size);
    if (d < 0)
        return -1;
    if (d == 1)
        goto check;
    cdc_buf_reset(q);
    cdc_buf_printf(q, "COPY pg_temp.cdc_stg_%u (", id);
    cdc_stage_col_list(q, t, mask, NULL);
    cdc_buf_puts(q, ") FROM STDIN");
    if (cdc_stage_copy_in(w, q->data, t, v, n, cls, errstr, errstr_size) != 0)
        return -1;

    uint8_t *nonkey = malloc(t->ncols ? t->ncols : 1);
    if (!nonkey)
        abort();
    bool any_nonkey = false;
    for (size_t c = 0; c < t->ncols; c++) {
        nonkey[c] = mask[c] && !t->cols[c].key;
        any_nonkey |= nonkey[c];
    }
    cdc_buf_reset(q);
    if (partial) {
        /* Every row exists (check_present): set what the records carry. */
        if (any_nonkey)
            put_stg_update(q, t, nonkey, id, nulls);
    } else if (t->key_unique && !nulls) {
        cdc_buf_printf(q, "INSERT INTO %s AS t (", t->qname);
        cdc_stage_col_list(q, t, mask, NULL);
        cdc_buf_printf(q, ") %sSELECT ", t->identity_always ? "OVERRIDING SYSTEM VALUE " : "");
        cdc_stage_col_list(q, t, mask, NULL);
        cdc_buf_printf(q, " FROM pg_temp.cdc_stg_%u ON CONFLICT (", id);
        for (size_t k = 0; k < t->nkey; k++) {
            if (k)
                cdc_buf_puts(q, ", ");
            cdc_pg_append_ident(q, t->cols[t->key[k]].name);
        }
        if (!any_nonkey) {
            cdc_buf_puts(q, ") DO NOTHING; ");
        } else {
            cdc_buf_puts(q, ") DO UPDATE SET ");
            set_list(q, t, nonkey, "EXCLUDED.");
            cdc_buf_puts(q, "; ");
        }
    } else {
        /* No unique index on the key, or a NULL key part (which a unique
         * index never finds): update what exists, insert the rest. */
        if (any_nonkey)
            put_stg_update(q, t, nonkey, id, nulls);
        cdc_buf_printf(q, "INSERT INTO %s (", t->qname);
        cdc_stage_col_list(q, t, mask, NULL);
        cdc_buf_printf(q, ") %sSELECT ", t->identity_always ? "OVERRIDING SYSTEM VALUE " : "");
        cdc_stage_col_list(q, t, mask, "s.");
        cdc_buf_printf(q, " FROM pg_temp.cdc_stg_%u s WHERE NOT EXISTS (SELECT 1 FROM %s t WHERE ",
                       id, t->qname);
        key_match(q, t, "t", "s", nulls);
        cdc_buf_puts(q, "); ");
    }
    free(nonkey);
    cdc_buf_printf(q, "TRUNCATE pg_temp.cdc_stg_%u", id);
    if (cdc_writer_run(w, q->data, cls, errstr, errstr_size) != 0)
        return -1;
check:
    if (w->live_max && cdc_livecheck_rows(w->conn, t, v, n, mask, w->live_max, b, live_slot(w, t),
                                          errstr, errstr_size) != 0) {
        *cls = cdc_pg_classify(NULL, w->conn);
        return -1;
    }
    return 0;
}

static void entry_mask(const cdc_table_t *t, const cdc_entry_t *e, uint8_t *mask)
{
    for (size_t c = 0; c < t->ncols; c++)
        mask[c] = e->vals[c] != NULL;
}

static int apply_rows(cdc_writer_t *w, const cdc_batch_t *b, cdc_step_t *s, cdc_err_class_t *cls,
                      char *errstr, size_t errstr_size)
{
    cdc_table_t *t = s->table;
    unsigned id;
    if (cdc_stage_ensure(w, t, &id, cls, errstr, errstr_size) != 0)
        return -1;
    size_t n = s->nentries;
    cdc_entry_t **v = malloc((n ? n : 1) * sizeof(*v));
    uint8_t *mask = malloc(t->ncols ? t->ncols : 1), *m2 = malloc(t->ncols ? t->ncols : 1);
    bool *done = calloc(n ? n : 1, sizeof(bool));
    if (!v || !mask || !m2 || !done)
        abort();
    int rc = 0;

    /* Deletes, in key order (all consumers lock rows in the same order);
     * a replace ('r') deletes first, then inserts with the upserts. */
    size_t nd = 0;
    for (size_t i = 0; i < n; i++)
        if (s->entries[i].kind == 'd' || s->entries[i].kind == 'r')
            v[nd++] = &s->entries[i];
    if (nd) {
        qsort(v, nd, sizeof(*v), cmp_entry_key);
        rc = apply_deletes(w, t, id, v, nd, cls, errstr, errstr_size);
    }
    /* Upserts and appends, grouped by the set of columns they write:
     * usually one group; more when TOAST placeholders or a schema change
     * leave columns out of some rows. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        cdc_entry_t *e = &s->entries[i];
        if (e->kind == 'd' || done[i])
            continue;
        entry_mask(t, e, mask);
        size_t m = 0;
        bool append = e->kind == 'i';
        /* Rows with a left-out placeholder column update only, and rows
         * with a NULL key part need NULL-safe matching: their own groups. */
        bool partial = e->partial, nulls = !append && entry_null_key(t, e);
        for (size_t j = i; j < n; j++) {
            cdc_entry_t *f = &s->entries[j];
            if (f->kind == 'd' || (f->kind == 'i') != append || done[j] || f->partial != partial ||
                (!append && entry_null_key(t, f) != nulls))
                continue;
            entry_mask(t, f, m2);
            if (memcmp(mask, m2, t->ncols) == 0) {
                v[m++] = f;
                done[j] = true;
            }
        }
        if (!append)
            qsort(v, m, sizeof(*v), cmp_entry_key);
        rc = apply_upserts(w, b, t, id, v, m, mask, append, partial, nulls, cls, errstr,
                           errstr_size);
    }
    free(v);
    free(mask);
    free(m2);
    free(done);
    return rc;
}

/* Truncate steps @p i .. the last consecutive one, in one statement: one
 * source TRUNCATE of several tables reaches Kafka as one op=t per table,
 * one after the other, and PostgreSQL truncates a table a foreign key
 * references only together with the referencing tables. Returns the last
 * step taken, or SIZE_MAX after an error: refused by the target, it is the
 * truncate record's fault (poison, with its position and the fix). */
static size_t apply_truncates(cdc_writer_t *w, const cdc_batch_t *b, size_t i, cdc_err_class_t *cls,
                              char *errstr, size_t errstr_size)
{
    cdc_buf_t *q = &w->sql;
    cdc_buf_reset(q);
    cdc_buf_printf(q, "TRUNCATE %s", b->steps[i].table->qname);
    size_t j = i + 1;
    for (; j < b->nsteps && b->steps[j].kind == CDC_STEP_TRUNCATE; j++) {
        bool dup = false;
        for (size_t k = i; k < j; k++)
            dup |= b->steps[k].table == b->steps[j].table;
        if (!dup)
            cdc_buf_printf(q, ", %s", b->steps[j].table->qname);
    }
    if (cdc_writer_run(w, q->data, cls, errstr, errstr_size) == 0)
        return j - 1;
    if (*cls != CDC_ERR_RETRIABLE) {
        const cdc_record_t *r = &b->items[b->steps[i].item].rec;
        char pgmsg[600];
        snprintf(pgmsg, sizeof(pgmsg), "%s", errstr);
        snprintf(errstr, errstr_size,
                 "%s[%d]@%lld: %s refused by the target: %s: a table a foreign key references "
                 "is truncated only together with the referencing tables (--transactions "
                 "applies one source TRUNCATE of several tables as one statement); change or "
                 "drop the target's foreign key, or skip truncates with --truncate-enabled=false",
                 r->topic, (int)r->partition, (long long)r->offset, q->data, pgmsg);
        *cls = CDC_ERR_POISON;
    }
    return SIZE_MAX;
}

int cdc_merge_steps(cdc_writer_t *w, cdc_batch_t *b, cdc_err_class_t *cls, char *errstr,
                    size_t errstr_size)
{
    for (size_t i = 0; i < b->nsteps; i++) {
        cdc_step_t *s = &b->steps[i];
        if (s->kind == CDC_STEP_TRUNCATE) {
            i = apply_truncates(w, b, i, cls, errstr, errstr_size);
            if (i == SIZE_MAX)
                return -1;
        } else if (s->nentries && apply_rows(w, b, s, cls, errstr, errstr_size) != 0) {
            return -1; /* (a step a later truncate emptied writes nothing) */
        }
    }
    return 0;
}
