/* Routing of events to target tables: --table-format, split at its one
 * unquoted dot into a schema and a table part, each expanded on its own
 * from the event's source fields; and the one-entry cache that lets
 * consecutive events of one table skip the expansion. */
#include "catalog_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cdc_route_split_name(const char *s, bool placeholders, char **schema, char **table, char *why,
                         size_t why_size)
{
    cdc_buf_t part[2] = {CDC_BUF_INIT, CDC_BUF_INIT};
    int np = 0;
    bool nonempty[2] = {false, false};
    int rc = -1;
    *schema = *table = NULL;
    for (const char *p = s; *p;) {
        if (*p == '"') {
            const char *q = p + 1;
            for (;; q++) {
                if (!*q) {
                    snprintf(why, why_size, "unterminated double quote");
                    goto out;
                }
                if (*q == '"' && q[1] != '"')
                    break;
                if (*q == '"')
                    q++; /* "" is one quote */
                cdc_buf_putc(&part[np], *q);
            }
            nonempty[np] = true;
            p = q + 1;
        } else if (placeholders && p[0] == '$' && p[1] == '{' && strchr(p, '}')) {
            const char *end = strchr(p, '}');
            cdc_buf_append(&part[np], p, (size_t)(end - p + 1));
            nonempty[np] = true;
            p = end + 1;
        } else if (*p == '.') {
            if (np == 1) {
                snprintf(why, why_size,
                         "more than one unquoted '.' (quote a name that has a dot, e.g. "
                         "\"my.schema\".table)");
                goto out;
            }
            np = 1;
            p++;
        } else {
            cdc_buf_putc(&part[np], *p++);
            nonempty[np] = true;
        }
    }
    if (!nonempty[0] || (np == 1 && !nonempty[1])) {
        snprintf(why, why_size, "empty schema or table name");
        goto out;
    }
    if (np == 1) {
        *schema = cdc_buf_steal(&part[0]);
        *table = cdc_buf_steal(&part[1]);
    } else {
        *table = cdc_buf_steal(&part[0]);
    }
    rc = 0;
out:
    cdc_buf_free(&part[0]);
    cdc_buf_free(&part[1]);
    return rc;
}

/* Debezium's default naming replaces the dots of a topic name with '_'. */
static void put_topic(cdc_buf_t *b, const char *topic)
{
    for (const char *p = topic; *p; p++)
        cdc_buf_putc(b, *p == '.' ? '_' : *p);
}

static int expand(const char *fmt, const route_in_t *ev, cdc_buf_t *out)
{
    const char *p = fmt;
    while (*p) {
        if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p, '}');
            if (!end)
                return -1;
            size_t n = (size_t)(end - p - 2);
            const char *name = p + 2;
            const char *v = NULL;
            if (n == 13 && !strncmp(name, "source.schema", n))
                v = ev->schema ? ev->schema : ev->db; /* MySQL has no schema */
            else if (n == 12 && !strncmp(name, "source.table", n))
                v = ev->table;
            else if (n == 9 && !strncmp(name, "source.db", n))
                v = ev->db;
            else if (n == 5 && !strncmp(name, "topic", n)) {
                if (!ev->topic)
                    return -1;
                put_topic(out, ev->topic);
                p = end + 1;
                continue;
            } else
                return -1;
            if (!v || !*v)
                return -1;
            cdc_buf_puts(out, v);
            p = end + 1;
        } else {
            cdc_buf_putc(out, *p++);
        }
    }
    return 0;
}

/* One part of --table-format, expanded into @p out (size @p size).
 * Returns -1 for a placeholder the event cannot fill or an empty name. */
static int expand_part(const char *fmt, const route_in_t *in, char *out, size_t size)
{
    cdc_buf_t b = CDC_BUF_INIT;
    int rc = expand(fmt, in, &b) != 0 || !b.data || !b.len ? -1 : 0;
    if (rc == 0)
        snprintf(out, size, "%.*s", (int)b.len, b.data);
    cdc_buf_free(&b);
    return rc;
}

/* The schema and table parts of --table-format are expanded separately:
 * a dot inside a source schema or table name is part of that name, never
 * a separator (schema "Sch.ema" was routed to schema "Sch", table
 * "ema.<table>"). A format without an unquoted dot names a table of the
 * public schema. */
int cdc_route_names(const cdc_catalog_t *cat, const route_in_t *in, char *schema,
                    size_t schema_size, char *table, size_t table_size)
{
    if (cat->fmt_schema) {
        if (expand_part(cat->fmt_schema, in, schema, schema_size) != 0)
            return -1;
    } else {
        snprintf(schema, schema_size, "public");
    }
    return expand_part(cat->fmt_table, in, table, table_size);
}

int cdc_catalog_route(const cdc_catalog_t *cat, const cdc_event_t *ev, char *schema,
                      size_t schema_size, char *table, size_t table_size)
{
    route_in_t in = {ev->db, ev->schema, ev->table, ev->topic};
    return cdc_route_names(cat, &in, schema, schema_size, table, table_size);
}

void cdc_route_fields(const route_in_t *in, const char *f[4])
{
    f[0] = in->db ? in->db : "";
    f[1] = in->schema ? in->schema : "";
    f[2] = in->table ? in->table : "";
    f[3] = in->topic ? in->topic : "";
}

bool cdc_route_is_last(const cdc_catalog_t *cat, const char *const f[4])
{
    if (!cat->last_table || !cat->last_route.len)
        return false;
    const char *p = cat->last_route.data;
    for (int i = 0; i < 4; i++) {
        if (strcmp(p, f[i]))
            return false;
        p += cat->last_route_len[i] + 1;
    }
    return true;
}

void cdc_route_remember(cdc_catalog_t *cat, const char *const f[4], cdc_table_t *t)
{
    cdc_buf_reset(&cat->last_route);
    for (int i = 0; i < 4; i++) {
        cat->last_route_len[i] = strlen(f[i]);
        cdc_buf_append(&cat->last_route, f[i], cat->last_route_len[i] + 1);
    }
    cat->last_table = t;
}
