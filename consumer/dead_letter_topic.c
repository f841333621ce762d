/* --dead-letter-topic (dead_letter_topic.h): dead letters copied to a
 * Kafka topic after the target commit that wrote their state table rows.
 *
 * The order is the durable write first: the row in <state>.dead_letter
 * commits with the position, then the copy is produced. A crash between
 * the two leaves the record in the table only (the position has moved);
 * a failed delivery is retried by librdkafka (idempotent: no duplicate
 * from a retry), then logged and counted. So the topic never holds a
 * dead letter the table lacks, may lack one the table holds, and the
 * table is the record. */
#include "dead_letter_topic.h"

#include "cdc/log.h"
#include "cdc/util.h"

#include <inttypes.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cdc_dlq {
    rd_kafka_t *rk;
    char *topic;
    char *group; /* __connect.errors.connector.name */
    cdc_apply_metrics_t *am;
    size_t pending; /* produced, no delivery report yet */
};

/* Delivery reports come from rd_kafka_flush()/poll() on the loop's thread. */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    cdc_dlq_t *dlq = opaque;
    if (dlq->pending)
        dlq->pending--;
    bool ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    cdc_apply_metrics_dead_letter_topic(dlq->am, ok);
    if (!ok)
        cdc_log_warn("--dead-letter-topic %s: a dead letter was not delivered (%s); it is in the "
                     "state schema's dead_letter table",
                     dlq->topic, rd_kafka_err2str(m->err));
}

static int set_prop(rd_kafka_conf_t *c, const char *k, const char *v, char *errstr,
                    size_t errstr_size)
{
    char err[512];
    if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "--dead-letter-topic producer: %s: %s", k, err);
        return -1;
    }
    return 0;
}

cdc_dlq_t *cdc_dlq_new(const cdc_config_t *cfg, cdc_apply_metrics_t *am, char *errstr,
                       size_t errstr_size)
{
    if (errstr_size)
        errstr[0] = '\0';
    const char *topic = cdc_config_get(cfg, "dead-letter-topic");
    if (!topic || !*topic)
        return NULL;
    cdc_dlq_t *dlq = cdc_xcalloc(1, sizeof(*dlq));
    dlq->topic = cdc_xstrdup(topic);
    dlq->group = cdc_xstrdup(cdc_config_get(cfg, "group"));
    dlq->am = am;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char *const *xk, *const *xv;
    size_t nx = cdc_config_rdkafka(cfg, &xk, &xv);
    /* -X first (security settings apply to both clients), then what the
     * copy's guarantee needs, which a -X must not weaken. */
    if (set_prop(c, "bootstrap.servers", cdc_config_get(cfg, "brokers"), errstr, errstr_size))
        goto fail;
    for (size_t i = 0; i < nx; i++) {
        /* The consumer's own settings mean nothing to a producer. */
        if (!strcmp(xk[i], "session.timeout.ms") || !strcmp(xk[i], "heartbeat.interval.ms") ||
            !strncmp(xk[i], "group.", 6) || !strncmp(xk[i], "fetch.", 6) ||
            !strcmp(xk[i], "partition.assignment.strategy") ||
            !strcmp(xk[i], "queued.max.messages.kbytes") || !strcmp(xk[i], "max.poll.interval.ms"))
            continue;
        if (set_prop(c, xk[i], xv[i], errstr, errstr_size))
            goto fail;
    }
    if (set_prop(c, "enable.idempotence", "true", errstr, errstr_size) ||
        set_prop(c, "acks", "all", errstr, errstr_size) ||
        set_prop(c, "client.id", "cdc-apply-dead-letters", errstr, errstr_size) ||
        set_prop(c, "message.timeout.ms", "30000", errstr, errstr_size))
        goto fail;
    rd_kafka_conf_set_log_cb(c, cdc_log_rdkafka_cb);
    rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_conf_set_opaque(c, dlq);
    char err[512];
    dlq->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    if (!dlq->rk) {
        snprintf(errstr, errstr_size, "--dead-letter-topic producer: %s", err);
        goto fail; /* rd_kafka_new() left c to us */
    }
    return dlq;
fail:
    if (!dlq->rk)
        rd_kafka_conf_destroy(c);
    cdc_dlq_destroy(dlq);
    return NULL;
}

void cdc_dlq_destroy(cdc_dlq_t *dlq)
{
    if (!dlq)
        return;
    if (dlq->rk) {
        rd_kafka_flush(dlq->rk, 10000);
        if (dlq->pending)
            cdc_log_warn("--dead-letter-topic %s: %zu dead letters not delivered at exit; they "
                         "are in the state schema's dead_letter table",
                         dlq->topic, dlq->pending);
        rd_kafka_destroy(dlq->rk);
    }
    free(dlq->topic);
    free(dlq->group);
    free(dlq);
}

/* Add a text header (Kafka Connect's context headers are strings). */
static void add_text(rd_kafka_headers_t *h, const char *name, const char *v)
{
    rd_kafka_header_add(h, name, -1, v, (ssize_t)strlen(v));
}

/* The record's own headers, then Kafka Connect's context headers
 * (errors.deadletterqueue.context.headers.enable=true). */
static rd_kafka_headers_t *headers_of(const cdc_dlq_t *dlq, const cdc_item_t *it)
{
    const cdc_record_t *rec = &it->rec;
    rd_kafka_headers_t *h = rd_kafka_headers_new(rec->nheaders + 9);
    for (size_t i = 0; i < rec->nheaders; i++)
        rd_kafka_header_add(h, rec->headers[i].name, -1, rec->headers[i].value,
                            rec->headers[i].value ? (ssize_t)rec->headers[i].len : 0);
    char num[32];
    add_text(h, "__connect.errors.topic", rec->topic);
    snprintf(num, sizeof(num), "%" PRId32, rec->partition);
    add_text(h, "__connect.errors.partition", num);
    snprintf(num, sizeof(num), "%" PRId64, rec->offset);
    add_text(h, "__connect.errors.offset", num);
    add_text(h, "__connect.errors.connector.name", dlq->group);
    add_text(h, "__connect.errors.task.id", "0");
    /* A record that did not decode failed where Connect's converter
     * would; one that decoded failed in the write (the sink's put). */
    bool decoded = it->ev != NULL;
    add_text(h, "__connect.errors.stage", decoded ? "TASK_PUT" : "VALUE_CONVERTER");
    add_text(h, "__connect.errors.class.name", "cdc-apply");
    add_text(h, "__connect.errors.exception.class.name",
             decoded ? "cdc_apply.ApplyError" : "cdc_apply.DecodeError");
    add_text(h, "__connect.errors.exception.message", it->error);
    return h;
}

void cdc_dlq_produce(cdc_dlq_t *dlq, const cdc_batch_t *b, size_t upto)
{
    if (!dlq || !b->ndead)
        return;
    size_t n = 0;
    for (size_t i = 0; i < upto && i < b->nitems; i++) {
        const cdc_item_t *it = &b->items[i];
        if (!it->error)
            continue;
        rd_kafka_headers_t *h = headers_of(dlq, it);
        /* The key keeps the copy in one partition per source key, like
         * the default partitioner of Connect's DLQ producer. */
        rd_kafka_resp_err_t e = rd_kafka_producev(
            dlq->rk, RD_KAFKA_V_TOPIC(dlq->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY((void *)(uintptr_t)it->rec.key, it->rec.key_len),
            RD_KAFKA_V_VALUE((void *)(uintptr_t)it->rec.value, it->rec.value_len),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (e) {
            rd_kafka_headers_destroy(h); /* not taken on failure */
            cdc_apply_metrics_dead_letter_topic(dlq->am, false);
            cdc_log_warn("--dead-letter-topic %s: %s[%" PRId32 "]@%" PRId64
                         " not produced (%s); it is in the state schema's dead_letter table",
                         dlq->topic, it->rec.topic, it->rec.partition, it->rec.offset,
                         rd_kafka_err2str(e));
            continue;
        }
        dlq->pending++;
        n++;
    }
    if (n && rd_kafka_flush(dlq->rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        cdc_log_warn("--dead-letter-topic %s: %zu dead letters still unconfirmed after 30 s "
                     "(retrying in the background)",
                     dlq->topic, dlq->pending);
}
