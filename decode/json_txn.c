/* The shape of Debezium's transaction metadata in schemaless and
 * schema'd JSON (debezium-format.md, Transaction metadata): a data
 * event's `transaction` block {id, total_order, data_collection_order}
 * and the records of the <prefix>.transaction topic {status, id,
 * event_count, data_collections}. cdc-apply --transactions assembles
 * source transactions from these fields, so a wrong one is the record's
 * error (a bad record), never read as "no transaction" or as a count of
 * -1. The single-pass scanner (jscan.c) leaves every block it cannot
 * vouch for to this path. */
#include "decode_int.h"

#include <jansson.h>
#include <string.h>

/* @p v (the member @p field, NULL when missing) must satisfy @p ok. */
static int want(dctx_t *c, const char *field, json_t *v, bool ok, const char *expected)
{
    if (ok)
        return 0;
    size_t old = dpath_push(c, field);
    int rc = v ? dj_mismatch(c, expected, v)
               : derr(c, CDC_ERR_POISON, "missing: expected %s (Debezium transaction metadata)",
                      expected);
    dpath_pop(c, old);
    return rc;
}

static bool is_pos_int(json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 1;
}

static bool is_id(json_t *v)
{
    return json_is_string(v) && json_string_length(v) > 0;
}

#define ID_TEXT "a non-empty string transaction id (\"txId:LSN\", e.g. \"571:53195829\")"

int dj_check_txn_block(dctx_t *c, json_t *t)
{
    if (!t || json_is_null(t))
        return 0;
    if (!json_is_object(t))
        return want(c, "transaction", t, false,
                    "null or an object {id, total_order, data_collection_order}: fix the producer "
                    "(Debezium writes this block with provide.transaction.metadata=true)");
    size_t old = dpath_push(c, "transaction");
    json_t *dco = json_object_get(t, "data_collection_order");
    int rc = want(c, "id", json_object_get(t, "id"), is_id(json_object_get(t, "id")), ID_TEXT);
    if (rc == 0)
        rc = want(c, "total_order", json_object_get(t, "total_order"),
                  is_pos_int(json_object_get(t, "total_order")),
                  "an integer total_order of 1 or more (the event's place in its transaction)");
    if (rc == 0)
        rc = want(c, "data_collection_order", dco, !dco || json_is_null(dco) || is_pos_int(dco),
                  "an integer data_collection_order of 1 or more");
    dpath_pop(c, old);
    return rc;
}

int dj_check_txn_record(dctx_t *c, json_t *pl)
{
    json_t *st = json_object_get(pl, "status");
    const char *s = json_is_string(st) ? json_string_value(st) : "";
    bool end = !strcmp(s, "END");
    int rc = want(c, "status", st, end || !strcmp(s, "BEGIN"),
                  "status \"BEGIN\" or \"END\" (a transaction-topic record)");
    if (rc == 0)
        rc = want(c, "id", json_object_get(pl, "id"), is_id(json_object_get(pl, "id")), ID_TEXT);
    json_t *n = json_object_get(pl, "event_count");
    if (rc == 0 && end)
        rc = want(c, "event_count", n, json_is_integer(n) && json_integer_value(n) >= 0,
                  "an integer event_count of 0 or more (an END counts its transaction's events)");
    else if (rc == 0)
        rc = want(c, "event_count", n, !n || json_is_null(n) || json_is_integer(n),
                  "null or an integer event_count");
    json_t *dc = json_object_get(pl, "data_collections");
    if (rc == 0 && dc && !json_is_null(dc)) {
        rc = want(c, "data_collections", dc, json_is_array(dc),
                  "null or an array of {data_collection, event_count}");
        size_t old = dpath_push(c, "data_collections");
        for (size_t i = 0; rc == 0 && i < json_array_size(dc); i++) {
            json_t *e = json_array_get(dc, i);
            size_t o2 = dpath_push_idx(c, i);
            json_t *name = json_object_get(e, "data_collection"),
                   *cnt = json_object_get(e, "event_count");
            rc = want(c, "data_collection", name, json_is_string(name),
                      "a string data_collection (\"schema.table\")");
            if (rc == 0)
                rc = want(c, "event_count", cnt,
                          json_is_integer(cnt) && json_integer_value(cnt) >= 0,
                          "an integer event_count of 0 or more");
            dpath_pop(c, o2);
        }
        dpath_pop(c, old);
    }
    return rc;
}

/* The string member @p k of @p o into the text blob, or DOFF_NONE. */
static size_t str_at(dctx_t *c, json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) && json_string_length(v)
               ? dtb_str(c, json_string_value(v), json_string_length(v))
               : DOFF_NONE;
}

int dj_salvage_txn(dctx_t *c, const void *value, size_t len)
{
    json_t *root = value && len ? json_loadb(value, len, 0, NULL) : NULL;
    if (!root)
        return -1;
    /* The JsonConverter's {schema, payload}, or a schemaless envelope. */
    json_t *pl = json_object_get(root, "payload");
    if (!json_is_object(json_object_get(root, "schema")) || !json_is_object(pl))
        pl = root;
    json_t *t = json_object_get(pl, "transaction"), *src = json_object_get(pl, "source");
    int rc = -1;
    if (is_id(json_object_get(t, "id")) && is_pos_int(json_object_get(t, "total_order")) &&
        json_is_object(src) && (c->table = str_at(c, src, "table")) != DOFF_NONE) {
        c->kind = CDC_KIND_CHANGE;
        c->op = 0;
        c->txn_id = str_at(c, t, "id");
        c->txn_order = json_integer_value(json_object_get(t, "total_order"));
        c->schema = str_at(c, src, "schema");
        c->db = str_at(c, src, "db");
        rc = 0;
    }
    json_decref(root);
    return rc;
}
