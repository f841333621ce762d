/* Apply-time integrity check (see livecheck.h).
 *
 * Both sides go through the canonical encoding of the TARGET column's type
 * (resolved by OID exactly as cdc-verify resolves it, pgtype.h): the
 * event's literal and the text PostgreSQL prints for the stored value.
 * Equal data encodes equal whatever its spelling (12.30 vs 12.3, a
 * timestamptz offset), so only real changes of value count. A value the
 * encoder cannot read on either side is not judged (never a false alarm). */
#include "livecheck.h"

#include "cdc/buf.h"
#include "cdc/canon.h"
#include "cdc/log.h"
#include "cdc/pg.h"
#include "value_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Key value text of entry e, key part k (the after image holds the key). */
static const char *key_part(const cdc_table_t *t, const cdc_entry_t *e, size_t k)
{
    const cdc_col_t *c = e->vals[t->key[k]];
    size_t len;
    return c && c->state == CDC_VAL_PRESENT ? cdc_value_text(t->cols[t->key[k]].type, c, &len)
                                            : NULL;
}

static void build_query(cdc_buf_t *q, const cdc_table_t *t, const uint8_t *mask, bool nulls)
{
    cdc_buf_puts(q, "SELECT s.ord");
    for (size_t c = 0; c < t->ncols; c++)
        if (mask[c]) {
            cdc_buf_puts(q, ", t.");
            cdc_pg_append_ident(q, t->cols[c].name);
        }
    cdc_buf_puts(q, " FROM unnest($1::int[]");
    for (size_t k = 0; k < t->nkey; k++)
        cdc_buf_printf(q, ", $%zu::text[]", k + 2);
    cdc_buf_puts(q, ") AS s(ord");
    for (size_t k = 0; k < t->nkey; k++)
        cdc_buf_printf(q, ", k%zu", k);
    cdc_buf_printf(q, ") JOIN %s t ON ", t->qname);
    for (size_t k = 0; k < t->nkey; k++) {
        const cdc_tcol_t *col = &t->cols[t->key[k]];
        if (k)
            cdc_buf_puts(q, " AND ");
        cdc_buf_puts(q, "t.");
        cdc_pg_append_ident(q, col->name);
        /* The cast names a type from the catalog (format_type), never data. */
        /* NOT DISTINCT when a sampled key part is NULL (--key-columns may
         * name nullable columns, unique index or not); '=' otherwise, which
         * an index serves. */
        cdc_buf_printf(q, " %s s.k%zu::%s", nulls ? "IS NOT DISTINCT FROM" : "=", k, col->type);
    }
}

/* Canonical bytes of one value, or -1 when the encoder cannot read it. */
static int canon(cdc_canon_type_t ty, const char *text, size_t len, cdc_buf_t *out)
{
    char err[256];
    cdc_buf_reset(out);
    return cdc_canon_encode(ty, text, len, out, err, sizeof(err));
}

int cdc_livecheck_rows(PGconn *conn, const cdc_table_t *t, cdc_entry_t *const *v, size_t n,
                       const uint8_t *mask, size_t max, const cdc_batch_t *b,
                       cdc_livecheck_result_t *res, char *errstr, size_t errstr_size)
{
    if (!n || !max || !t->nkey)
        return 0;
    size_t m = n < max ? n : max;
    size_t stride = n / m;
    cdc_buf_t *arrs = calloc(t->nkey + 1, sizeof(cdc_buf_t));
    const char **params = calloc(t->nkey + 1, sizeof(char *));
    bool *seen = calloc(m, sizeof(bool));
    cdc_buf_t q = CDC_BUF_INIT, ev = CDC_BUF_INIT, st = CDC_BUF_INIT;
    PGresult *r = NULL;
    int rc = -1;
    bool nulls = false;
    if (!arrs || !params || !seen)
        abort();

    for (size_t i = 0; i < m; i++) {
        const cdc_entry_t *e = v[i * stride];
        char ord[24];
        snprintf(ord, sizeof(ord), "%zu", i);
        cdc_buf_puts(&arrs[0], i ? "," : "{");
        cdc_buf_puts(&arrs[0], ord);
        for (size_t k = 0; k < t->nkey; k++) {
            const char *part = key_part(t, e, k);
            if (part)
                cdc_pg_append_array_elem(&arrs[k + 1], part);
            else
                cdc_buf_puts(&arrs[k + 1], arrs[k + 1].len ? ",NULL" : "{NULL");
            nulls |= !part;
        }
    }
    for (size_t k = 0; k <= t->nkey; k++) {
        cdc_buf_putc(&arrs[k], '}');
        params[k] = arrs[k].data;
    }
    build_query(&q, t, mask, nulls);
    r = PQexecParams(conn, q.data, (int)t->nkey + 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        cdc_pg_error(r, conn, errstr, errstr_size);
        goto out;
    }
    for (int row = 0; row < PQntuples(r); row++) {
        size_t i = (size_t)atol(PQgetvalue(r, row, 0));
        if (i >= m || seen[i])
            continue;
        seen[i] = true;
        const cdc_entry_t *e = v[i * stride];
        const char *bad = NULL;
        int field = 1;
        for (size_t c = 0; c < t->ncols; c++) {
            if (!mask[c])
                continue;
            const cdc_col_t *val = e->vals[c];
            const char *text;
            size_t tlen;
            bool ev_null = !val || val->state != CDC_VAL_PRESENT;
            bool st_null = PQgetisnull(r, row, field);
            cdc_canon_type_t ty = t->cols[c].canon; /* by OID, as cdc-verify */
            if (ev_null || st_null) {
                if (ev_null != st_null)
                    bad = t->cols[c].name;
            } else if ((text = cdc_value_text(t->cols[c].type, val, &tlen)) &&
                       canon(ty, text, tlen, &ev) == 0 &&
                       canon(ty, PQgetvalue(r, row, field), (size_t)PQgetlength(r, row, field),
                             &st) == 0 &&
                       (ev.len != st.len || memcmp(ev.data, st.data, ev.len))) {
                bad = t->cols[c].name;
            }
            field++;
            if (bad)
                break;
        }
        res->checked++;
        if (bad) {
            const cdc_item_t *it = &b->items[e->item];
            res->mismatched++;
            cdc_log_warn("%s[%d]@%lld: %s stored a different value in column \"%s\" than the "
                         "event carried (check the column's type, precision and triggers)",
                         it->rec.topic, it->rec.partition, (long long)it->rec.offset, t->label,
                         bad);
        }
    }
    /* Rows that are not there at all were not stored as sent either. */
    for (size_t i = 0; i < m; i++)
        if (!seen[i]) {
            const cdc_item_t *it = &b->items[v[i * stride]->item];
            res->checked++;
            res->mismatched++;
            cdc_log_warn("%s[%d]@%lld: the row upserted into %s is not there afterwards (a "
                         "trigger or rule?)",
                         it->rec.topic, it->rec.partition, (long long)it->rec.offset, t->label);
        }
    rc = 0;
out:
    PQclear(r);
    for (size_t k = 0; k <= t->nkey; k++)
        cdc_buf_free(&arrs[k]);
    free(arrs);
    free(params);
    free(seen);
    cdc_buf_free(&q);
    cdc_buf_free(&ev);
    cdc_buf_free(&st);
    return rc;
}
