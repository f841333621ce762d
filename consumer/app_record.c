/* cdc-apply: one polled record's way into the open batch: decode (with
 * retries while the registry or the target's catalog is unreachable),
 * route and compact; a bad record becomes a dead letter (tolerance all)
 * or stops the loop after what came before it is applied. */
#include "app_int.h"

#include "cdc/log.h"
#include "cdc/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Route and compact one decoded change. Returns 0, or -1 with err/cls. */
static int add_change(app_t *a, size_t idx, cdc_err_class_t *cls, char *err, size_t errsz)
{
    int attempt = 0;
    for (;;) {
        if (cdc_app_connect_target(a, a->w, &attempt) != 0) {
            *cls = CDC_ERR_FATAL;
            snprintf(err, errsz, "no target connection");
            return -1;
        }
        cdc_table_t *t = cdc_catalog_cached(a->cat, a->batch.items[idx].ev);
        if (t) /* nothing to ask the target */
            return cdc_batch_add_change(&a->batch, idx, t, cls, err, errsz);
        cdc_app_wait_begin(a, WAIT_LOOP, a->w);
        int rc = cdc_catalog_resolve(a->cat, cdc_writer_conn(a->w), a->batch.items[idx].ev, &t, cls,
                                     err, errsz);
        if (cdc_app_wait_end(a, WAIT_LOOP, err, errsz) && rc != 0)
            *cls = CDC_ERR_RETRIABLE;
        if (rc == 0 && cdc_sinkopts_check_table(a->so, t, err, errsz) != 0) {
            *cls = CDC_ERR_FATAL;
            return -1;
        }
        if (rc == 0)
            return cdc_batch_add_change(&a->batch, idx, t, cls, err, errsz);
        if (*cls != CDC_ERR_RETRIABLE)
            return -1;
        cdc_log_warn("%s (retrying)", err);
        cdc_app_reconnect_reset(a, a->w);
        if (!cdc_app_backoff(a, ++attempt, "postgres", "catalog"))
            return -1;
    }
}

/* What the decoder's type lookup needs for one decode call: the catalog
 * and the connection of this moment (nothing keeps it past the call). */
typedef struct lookup_ctx {
    cdc_catalog_t *cat;
    PGconn *conn; /* NULL when not connected */
    bool failed;  /* the lookup failed retriably: reconnect, then decode again */
} lookup_ctx_t;

static int target_type(void *opaque, const cdc_type_query_t *q, const char **type,
                       cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    lookup_ctx_t *lc = opaque;
    int rc = cdc_catalog_type_lookup(lc->cat, lc->conn, q, type, cls, errstr, errstr_size);
    if (rc != 0 && *cls == CDC_ERR_RETRIABLE)
        lc->failed = true;
    return rc;
}

/* Decode with retries while the registry or, for schemaless JSON, the
 * target's catalog is unreachable. */
static int decode(app_t *a, const cdc_record_t *rec, cdc_event_t **ev, cdc_err_class_t *cls,
                  char *err, size_t errsz)
{
    int attempt = 0, target_attempt = 0;
    for (;;) {
        lookup_ctx_t lc = {a->cat, cdc_writer_connected(a->w) ? cdc_writer_conn(a->w) : NULL,
                           false};
        cdc_type_lookup_t lk = {target_type, &lc};
        if (cdc_decoder_decode_with(a->dec, rec, &lk, ev, cls, err, errsz) == 0) {
            if (a->have_registry)
                cdc_apply_metrics_conn(a->am, "registry", true);
            return 0;
        }
        if (*cls != CDC_ERR_RETRIABLE)
            return -1;
        if (lc.failed) {
            /* Never "decode without types": that stores the JSON form
             * (base64 for bytea). Reconnect and decode again. */
            cdc_log_warn("%s (retrying)", err);
            cdc_app_reconnect_reset(a, a->w);
            if (!cdc_app_backoff(a, ++target_attempt, "postgres", "catalog"))
                return -1;
            if (cdc_app_connect_target(a, a->w, &target_attempt) != 0) {
                *cls = CDC_ERR_FATAL;
                snprintf(err, errsz, "no target connection");
                return -1;
            }
            continue;
        }
        cdc_apply_metrics_conn(a->am, "registry", false);
        cdc_apply_metrics_error(a->am, "registry", "unreachable");
        if (attempt % 5 == 0)
            cdc_log_warn("%s (retrying)", err);
        if (!cdc_app_backoff(a, ++attempt, "registry", "fetch"))
            return -1;
    }
}

static void to_record(const rd_kafka_message_t *m, cdc_record_t *rec, cdc_header_t *hdrs,
                      size_t maxh)
{
    memset(rec, 0, sizeof(*rec));
    rec->topic = rd_kafka_topic_name(m->rkt);
    rec->partition = m->partition;
    rec->offset = m->offset;
    rd_kafka_timestamp_type_t tst;
    rec->timestamp_ms = rd_kafka_message_timestamp(m, &tst);
    rec->key = m->key;
    rec->key_len = m->key_len;
    rec->value = m->payload;
    rec->value_len = m->len;
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR && h) {
        const char *name;
        const void *val;
        size_t len;
        for (size_t i = 0; i < maxh && !rd_kafka_header_get_all(h, i, &name, &val, &len); i++) {
            hdrs[i] = (cdc_header_t){name, val, len};
            rec->nheaders = i + 1;
        }
        rec->headers = hdrs;
    }
}

/* Bad record under tolerance none: apply what came before it, then stop
 * without moving past it. */
static void stop_at(app_t *a, const char *err, const char *stage, const char *const *kv)
{
    cdc_apply_metrics_error(a->am, stage, "poison");
    /* --transactions: the open batch may hold part of the record's
     * transaction; nothing of it is committed, a restart reads it again. */
    if (!a->txa && cdc_app_flush(a) != 0)
        return;
    char msg[1600];
    snprintf(msg, sizeof(msg),
             "%s: stopping (--errors-tolerance none); fix the record's producer or the target, "
             "or use --errors-tolerance all to dead-letter it",
             err);
    cdc_app_fail_kv(a, 1, kv, msg);
}

/* The record's headers in their own allocation (the batch frees it with
 * the item), or NULL when there are none, which is the common case. */
static const cdc_header_t *own_headers(const cdc_record_t *rec)
{
    if (!rec->nheaders)
        return NULL;
    cdc_header_t *h = malloc(rec->nheaders * sizeof(*h));
    if (!h)
        abort();
    memcpy(h, rec->headers, rec->nheaders * sizeof(*h));
    return h;
}

void cdc_app_add_decoded(app_t *a, rd_kafka_message_t *m, const cdc_record_t *rec, cdc_event_t *ev,
                         char *dead, bool skip)
{
    char err[CDC_ERRSTR_WRAP_SIZE];
    cdc_err_class_t cls = CDC_ERR_NONE;
    /* The fence's expected positions are set when the batch is applied
     * (expect_positions()), not looked up per record. */
    int64_t expected = -1;
    size_t idx = cdc_batch_add_item(&a->batch, m, rec, ev, expected);
    cdc_item_t *it = &a->batch.items[idx];
    /* Headers are needed later only for dead letters. */
    it->rec.headers = rec->headers;
    if (dead) {
        cdc_batch_set_dead(&a->batch, idx, dead);
        free(dead);
        return;
    }
    if (skip || ev->kind != CDC_KIND_CHANGE) {
        it->skipped = true;
        cdc_apply_metrics_skipped(a->am, ev);
        return;
    }
    const char *why = cdc_sinkopts_skip(a->so, rec, ev);
    if (why) {
        it->skipped = true;
        cdc_apply_metrics_skipped_reason(a->am, why);
        return;
    }
    if (cdc_sinkopts_filter(a->so, a->cat, ev, err, sizeof(err)) != 0) {
        /* A configuration error: nothing of this record is committed. */
        cdc_batch_pop(&a->batch);
        cdc_app_fail(a, 2, err);
        return;
    }
    if (add_change(a, idx, &cls, err, sizeof(err)) != 0) {
        if (cls == CDC_ERR_POISON && a->tolerance_all) {
            cdc_batch_set_dead(&a->batch, idx, err);
            return;
        }
        /* The log fields of the record's trace context, read before the
         * record (its headers and message) leaves the batch; an invalid
         * one was counted when it was polled (cdc_app_handle()). */
        cdc_trace_ctx_t tc;
        cdc_trace_invalid_t tinv;
        const char *tkv[5];
        const char *const *kv =
            cdc_app_trace_kv(&tc, rec->nheaders && cdc_trace_ctx_parse(rec, &tc, &tinv), tkv);
        /* Take the record out of the batch: it must not be committed. */
        cdc_batch_pop(&a->batch);
        if (cls == CDC_ERR_POISON)
            stop_at(a, err, "apply", kv);
        else if (a->stopping || cls == CDC_ERR_RETRIABLE)
            cdc_app_give_up(a, 2, err);
        else
            cdc_app_fail(a, 2, err);
    }
}

void cdc_app_handle(app_t *a, rd_kafka_message_t *m)
{
    /* Header views into the message; 64 is far beyond what Debezium and
     * tracing add. */
    cdc_header_t hdrs[64];
    cdc_record_t rec;
    to_record(m, &rec, hdrs, 64);
    /* Read now: the log line of a bad record outlives its message. */
    cdc_trace_ctx_t tc;
    const char *tkv[5];
    const char *const *kv = cdc_app_trace_kv(&tc, cdc_app_trace_record(a, &rec, &tc), tkv);
    char err[CDC_ERRSTR_WRAP_SIZE];
    cdc_err_class_t cls = CDC_ERR_NONE;
    cdc_event_t *ev = NULL;
    if (decode(a, &rec, &ev, &cls, err, sizeof(err)) != 0) {
        if (cls == CDC_ERR_POISON && a->tolerance_all) {
            rec.headers = own_headers(&rec);
            if (a->txa) {
                /* Its transaction block, when readable, makes it count
                 * toward its transaction: that goes without it (WARN). */
                cdc_event_t *held = NULL;
                cdc_decoder_salvage_txn(a->dec, &rec, &held);
                cdc_app_txn_add(a, m, &rec, held, cdc_xstrdup(err));
            } else
                cdc_app_add_decoded(a, m, &rec, NULL, cdc_xstrdup(err), false);
            return;
        }
        rd_kafka_message_destroy(m);
        if (cls == CDC_ERR_POISON)
            stop_at(a, err, "decode", kv);
        else if (cls == CDC_ERR_RETRIABLE)
            cdc_app_give_up(a, 2, err);
        else
            cdc_app_fail(a, 2, err);
        return;
    }
    rec.headers = own_headers(&rec);
    if (a->txa)
        cdc_app_txn_add(a, m, &rec, ev, NULL);
    else
        cdc_app_add_decoded(a, m, &rec, ev, NULL, false);
}
