/* The DDL cdc-apply runs when allowed: --create-tables creates a missing
 * target table from the event's schema, --evolve adds missing columns and
 * widens types where that loses nothing. The event's pg_type is used here
 * and only here: everywhere else the target's catalog decides a column's
 * type. */
#include "catalog_int.h"

#include "cdc/log.h"
#include "cdc/pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cdc_catalog_create_table(PGconn *conn, cdc_table_t *t, const cdc_event_t *ev,
                             cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    const cdc_row_t *img = cdc_catalog_image_of(ev);
    if (!img || !img->ncols) {
        snprintf(errstr, errstr_size,
                 "target table %s does not exist and %s[%d]@%lld has no row image to create it "
                 "from: create the table",
                 t->label, ev->topic, ev->partition, (long long)ev->offset);
        *cls = CDC_ERR_POISON;
        return -1;
    }
    cdc_buf_t q = CDC_BUF_INIT;
    cdc_buf_puts(&q, "CREATE TABLE IF NOT EXISTS ");
    cdc_buf_puts(&q, t->qname);
    cdc_buf_puts(&q, " (");
    for (size_t i = 0; i < img->ncols; i++) {
        const cdc_col_t *c = &img->cols[i];
        if (!c->pg_type) {
            snprintf(errstr, errstr_size,
                     "cannot create table %s: the event does not say the type of column '%s' "
                     "(schemaless JSON?): create the table, or use schemas.enable=true or Avro",
                     t->label, c->name);
            *cls = CDC_ERR_POISON;
            cdc_buf_free(&q);
            return -1;
        }
        if (i)
            cdc_buf_puts(&q, ", ");
        cdc_pg_append_ident(&q, c->name);
        cdc_buf_printf(&q, " %s", c->pg_type);
    }
    if (ev->has_key && ev->key.ncols) {
        cdc_buf_puts(&q, ", PRIMARY KEY (");
        for (size_t i = 0; i < ev->key.ncols; i++) {
            if (i)
                cdc_buf_puts(&q, ", ");
            cdc_pg_append_ident(&q, ev->key.cols[i].name);
        }
        cdc_buf_putc(&q, ')');
    }
    cdc_buf_putc(&q, ')');
    int rc = cdc_pg_exec(conn, q.data, cls, errstr, errstr_size);
    if (rc == 0)
        cdc_log_info("created table %s from %s[%d]@%lld", t->label, ev->topic, ev->partition,
                     (long long)ev->offset);
    cdc_buf_free(&q);
    return rc;
}

/* Integer widening that loses nothing: int2 -> int4 -> int8, when the
 * event's schema says the source column is wider. varchar is widened only
 * for a value that needs it (see widened_type()). Anything else is left
 * to the operator. */
static bool widens(const char *from, const char *to)
{
    static const char *const ints[] = {"smallint", "integer", "bigint"};
    int fi = -1, ti = -1;
    for (int i = 0; i < 3; i++) {
        if (!strcmp(from, ints[i]))
            fi = i;
        if (!strcmp(to, ints[i]))
            ti = i;
    }
    return fi >= 0 && ti > fi;
}

/* n of exactly "character varying(n)" (not an array of it), else 0. */
static long varchar_len(const char *type)
{
    static const char pre[] = "character varying(";
    if (!type || strncmp(type, pre, sizeof(pre) - 1))
        return 0;
    char *end;
    long n = strtol(type + sizeof(pre) - 1, &end, 10);
    return n > 0 && end[0] == ')' && !end[1] ? n : 0;
}

/* Characters (code points) of UTF-8 text. */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static const char *canonical_type(const char *t)
{
    if (!strcmp(t, "int2"))
        return "smallint";
    if (!strcmp(t, "int4") || !strcmp(t, "int"))
        return "integer";
    if (!strcmp(t, "int8"))
        return "bigint";
    return t;
}

/* The type column @p tc must take for the value @p c, or NULL when it
 * holds it as it is; @p buf is storage for the answer.
 *
 * varchar(n) is widened only when it must: the value is longer than n, or
 * the event's schema says the source column is now longer
 * (__debezium.source.column.length). It then takes the source's length
 * when that is known and holds the value, else text. A plain "string"
 * schema says text for every varchar source column, and rewriting the
 * column on the first event (which also fails on a table a view uses) was
 * wrong. */
static const char *widened_type(const cdc_tcol_t *tc, const cdc_col_t *c, char *buf, size_t bufsz)
{
    long n = varchar_len(tc->type);
    if (n) {
        long m = varchar_len(c->pg_type); /* the source's length, if said */
        size_t len = c->state == CDC_VAL_PRESENT ? utf8_chars(c->text, c->len) : 0;
        if (m <= n && len <= (size_t)n)
            return NULL;
        if (m > n && len <= (size_t)m) {
            snprintf(buf, bufsz, "character varying(%ld)", m);
            return buf;
        }
        return "text";
    }
    if (c->pg_type && widens(tc->type, canonical_type(c->pg_type)))
        return c->pg_type;
    return NULL;
}

/* A failed ALTER COLUMN TYPE on a column a view (or rule) reads: name the
 * views, as PostgreSQL's own message names only the first rule. Returns
 * the error's class. */
static cdc_err_class_t view_err(PGconn *conn, const cdc_table_t *t, const cdc_tcol_t *tc,
                                const char *to, char *errstr, size_t errstr_size)
{
    const char *col = tc->name;
    const char *params[2] = {t->qname, col};
    PGresult *res = PQexecParams(
        conn,
        "SELECT string_agg(DISTINCT format('%I.%I', n.nspname, v.relname), ', ') "
        "FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
        "JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace n ON n.oid = v.relnamespace "
        "WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass "
        "AND d.refobjid = to_regclass($1) AND v.oid <> d.refobjid AND d.refobjsubid = "
        "(SELECT attnum FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2)",
        2, NULL, params, NULL, NULL, 0);
    cdc_err_class_t cls = CDC_ERR_FATAL;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        snprintf(errstr, errstr_size,
                 "--evolve cannot widen column \"%s\" of %s from %s to %s for a value that "
                 "does not fit: view %s depends on it; drop the view, run ALTER TABLE %s ALTER "
                 "COLUMN \"%s\" TYPE %s, recreate the view, and restart",
                 col, t->label, tc->type, to, PQgetvalue(res, 0, 0), t->qname, col, to);
    else if (PQresultStatus(res) != PGRES_TUPLES_OK)
        cls = cdc_pg_classify(res, conn);
    PQclear(res);
    return cls;
}

int cdc_catalog_evolve_table(PGconn *conn, cdc_table_t *t, const cdc_row_t *img, bool *changed,
                             cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < img->ncols; i++) {
        const cdc_col_t *c = &img->cols[i];
        int idx = cdc_table_col(t, c->name);
        cdc_buf_t q = CDC_BUF_INIT;
        char tbuf[48];
        const char *to = NULL;
        if (idx < 0 && c->pg_type) {
            cdc_buf_printf(&q, "ALTER TABLE %s ADD COLUMN IF NOT EXISTS ", t->qname);
            cdc_pg_append_ident(&q, c->name);
            cdc_buf_printf(&q, " %s", c->pg_type);
        } else if (idx >= 0 && (to = widened_type(&t->cols[idx], c, tbuf, sizeof(tbuf)))) {
            cdc_buf_printf(&q, "ALTER TABLE %s ALTER COLUMN ", t->qname);
            cdc_pg_append_ident(&q, c->name);
            cdc_buf_printf(&q, " TYPE %s", to);
        }
        if (q.len) {
            PGresult *res = PQexec(conn, q.data);
            int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
            if (rc == 0) {
                cdc_log_info("evolved %s: %s", t->label, q.data);
            } else {
                const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
                cdc_pg_error(res, conn, errstr, errstr_size);
                *cls = cdc_pg_classify(res, conn);
                /* 0A000: "cannot alter type of a column used by a view or rule" */
                if (to && st && !strcmp(st, "0A000"))
                    *cls = view_err(conn, t, &t->cols[idx], to, errstr, errstr_size);
            }
            PQclear(res);
            cdc_buf_free(&q);
            if (rc)
                return -1;
            *changed = true;
        }
    }
    return 0;
}
