/* The normalized event: lifetime, lookup, and the cdc-decode JSON line. */
#include "cdc/decode.h"
#include "cdc/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An event is one allocation (struct, column arrays and text blob), built
 * by the decoder; freeing it is a single free(). */
void cdc_event_destroy(cdc_event_t *ev)
{
    free(ev);
}

const cdc_col_t *cdc_row_find(const cdc_row_t *row, const char *name)
{
    for (size_t i = 0; i < row->ncols; i++)
        if (strcmp(row->cols[i].name, name) == 0)
            return &row->cols[i];
    return NULL;
}

const char *cdc_kind_name(cdc_kind_t kind)
{
    switch (kind) {
    case CDC_KIND_CHANGE: return "change";
    case CDC_KIND_TOMBSTONE: return "tombstone";
    case CDC_KIND_HEARTBEAT: return "heartbeat";
    case CDC_KIND_TXN: return "transaction";
    case CDC_KIND_SCHEMA_CHANGE: return "schema_change";
    case CDC_KIND_MESSAGE: return "message";
    }
    return "unknown";
}

static void json_str(cdc_buf_t *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    cdc_buf_putc(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        cdc_buf_append(out, s + run, i - run);
        run = i + 1;
        switch (ch) {
        case '"': cdc_buf_puts(out, "\\\""); break;
        case '\\': cdc_buf_puts(out, "\\\\"); break;
        case '\n': cdc_buf_puts(out, "\\n"); break;
        case '\r': cdc_buf_puts(out, "\\r"); break;
        case '\t': cdc_buf_puts(out, "\\t"); break;
        default: {
            char u[7] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15], 0};
            cdc_buf_puts(out, u);
        }
        }
    }
    cdc_buf_append(out, s + run, n - run);
    cdc_buf_putc(out, '"');
}

static void json_cstr(cdc_buf_t *out, const char *s)
{
    if (!s)
        cdc_buf_puts(out, "null");
    else
        json_str(out, s, strlen(s));
}

static void json_key(cdc_buf_t *out, const char *k)
{
    cdc_buf_putc(out, ',');
    json_cstr(out, k);
    cdc_buf_putc(out, ':');
}

static void json_row(cdc_buf_t *out, bool has, const cdc_row_t *row)
{
    if (!has) {
        cdc_buf_puts(out, "null");
        return;
    }
    cdc_buf_putc(out, '{');
    bool first = true;
    for (size_t i = 0; i < row->ncols; i++) {
        const cdc_col_t *col = &row->cols[i];
        if (col->state == CDC_VAL_UNAVAILABLE)
            continue;
        if (!first)
            cdc_buf_putc(out, ',');
        first = false;
        json_cstr(out, col->name);
        cdc_buf_putc(out, ':');
        if (col->state == CDC_VAL_NULL)
            cdc_buf_puts(out, "null");
        else
            json_str(out, col->text, col->len);
    }
    cdc_buf_putc(out, '}');
}

static void json_types(cdc_buf_t *out, const char *label, bool has, const cdc_row_t *row)
{
    if (!has || row->ncols == 0)
        return;
    json_key(out, label);
    cdc_buf_putc(out, '{');
    for (size_t i = 0; i < row->ncols; i++) {
        const cdc_col_t *col = &row->cols[i];
        if (i)
            cdc_buf_putc(out, ',');
        json_cstr(out, col->name);
        cdc_buf_putc(out, ':');
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "%s %s%s", col->semantic ? col->semantic : "?",
                 col->pg_type ? col->pg_type : "?", col->optional ? "" : " not-null");
        json_cstr(out, tmp);
    }
    cdc_buf_putc(out, '}');
}

static void json_i64(cdc_buf_t *out, const char *k, int64_t v)
{
    json_key(out, k);
    if (v < 0)
        cdc_buf_puts(out, "null");
    else
        cdc_buf_printf(out, "%lld", (long long)v);
}

int cdc_event_to_json_ext(const cdc_event_t *ev, cdc_buf_t *out, unsigned flags)
{
    if (ev->kind == CDC_KIND_CHANGE) {
        cdc_buf_puts(out, "{\"topic\":");
        json_cstr(out, ev->topic);
    } else {
        cdc_buf_puts(out, "{\"kind\":");
        json_cstr(out, cdc_kind_name(ev->kind));
        json_key(out, "topic");
        json_cstr(out, ev->topic);
    }
    cdc_buf_printf(out, ",\"partition\":%d,\"offset\":%lld", (int)ev->partition,
                   (long long)ev->offset);
    switch (ev->kind) {
    case CDC_KIND_CHANGE: {
        char op[2] = {ev->op, 0};
        json_key(out, "op");
        json_cstr(out, op);
        json_key(out, "db");
        json_cstr(out, ev->db);
        json_key(out, "schema");
        json_cstr(out, ev->schema);
        json_key(out, "table");
        json_cstr(out, ev->table);
        json_key(out, "key");
        json_row(out, ev->has_key, &ev->key);
        json_key(out, "before");
        json_row(out, ev->has_before, &ev->before);
        json_key(out, "after");
        json_row(out, ev->has_after, &ev->after);
        json_i64(out, "source_ts_ms", ev->source_ts_ms);
        if (ev->txn_id) {
            json_key(out, "txn_id");
            json_cstr(out, ev->txn_id);
        }
        json_key(out, "unavailable");
        cdc_buf_putc(out, '[');
        bool first = true;
        const cdc_row_t *rows[2] = {&ev->after, &ev->before};
        for (int r = 0; r < 2; r++) {
            for (size_t i = 0; i < rows[r]->ncols; i++) {
                if (rows[r]->cols[i].state != CDC_VAL_UNAVAILABLE)
                    continue;
                if (!first)
                    cdc_buf_putc(out, ',');
                first = false;
                char tmp[512];
                snprintf(tmp, sizeof(tmp), "%s%s", r ? "before." : "", rows[r]->cols[i].name);
                json_cstr(out, tmp);
            }
        }
        cdc_buf_putc(out, ']');
        if (flags & CDC_EVJSON_TYPES) {
            json_types(out, "key_types", ev->has_key, &ev->key);
            json_types(out, "types", ev->has_after, &ev->after);
            if (!ev->has_after)
                json_types(out, "types", ev->has_before, &ev->before);
        }
        break;
    }
    case CDC_KIND_TOMBSTONE:
        json_key(out, "key");
        json_row(out, ev->has_key, &ev->key);
        break;
    case CDC_KIND_HEARTBEAT: json_i64(out, "source_ts_ms", ev->source_ts_ms); break;
    case CDC_KIND_TXN:
        json_key(out, "status");
        json_cstr(out, ev->txn_status);
        json_key(out, "id");
        json_cstr(out, ev->txn_id);
        json_i64(out, "event_count", ev->txn_event_count);
        if (ev->txn_collections) {
            json_key(out, "data_collections");
            cdc_buf_putc(out, '[');
            for (size_t i = 0; i < ev->txn_ncollections; i++) {
                if (i)
                    cdc_buf_putc(out, ',');
                cdc_buf_puts(out, "{\"data_collection\":");
                json_cstr(out, ev->txn_collections[i].name);
                json_i64(out, "event_count", ev->txn_collections[i].event_count);
                cdc_buf_putc(out, '}');
            }
            cdc_buf_putc(out, ']');
        }
        json_i64(out, "source_ts_ms", ev->source_ts_ms);
        break;
    case CDC_KIND_MESSAGE:
        json_key(out, "db");
        json_cstr(out, ev->db);
        json_i64(out, "source_ts_ms", ev->source_ts_ms);
        break;
    case CDC_KIND_SCHEMA_CHANGE:
        json_key(out, "db");
        json_cstr(out, ev->db);
        break;
    }
    cdc_buf_putc(out, '}');
    return 0;
}

int cdc_event_to_json(const cdc_event_t *ev, cdc_buf_t *out)
{
    return cdc_event_to_json_ext(ev, out, 0);
}
