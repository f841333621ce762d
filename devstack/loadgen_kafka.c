/* cdc-loadgen, the sink side: producing records, delivery reports (the
 * run's accounting), topics, and the Schema Registry subjects for
 * --format avro (see loadgen_int.h). */
#include "loadgen_int.h"

#include "cdc/buf.h"
#include "cdc/log.h"
#include "cdc/pg.h"
#include "cdc/util.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Kafka ------------------------------------------------------------- */

static void print_record(FILE *out, const char *topic, int32_t partition, int64_t offset,
                         int64_t ts, const void *key, size_t klen, const void *val, size_t vlen,
                         const char *hname, const char *hval, bool binary)
{
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_buf_puts(&b, "{\"topic\":");
    cdc_loadgen_json_str(&b, topic, strlen(topic), false);
    cdc_buf_printf(&b,
                   ",\"partition\":%d,\"offset\":%lld,\"tstype\":\"create\",\"ts\":%lld,"
                   "\"broker\":-1",
                   (int)partition, (long long)offset, (long long)ts);
    if (hname) {
        cdc_buf_puts(&b, ",\"headers\":[");
        cdc_loadgen_json_str(&b, hname, strlen(hname), false);
        cdc_buf_putc(&b, ',');
        cdc_loadgen_json_str(&b, hval, strlen(hval), false);
        cdc_buf_putc(&b, ']');
    }
    cdc_buf_puts(&b, ",\"key\":");
    if (key)
        cdc_loadgen_json_str(&b, key, klen, binary);
    else
        cdc_buf_puts(&b, "null");
    cdc_buf_puts(&b, ",\"payload\":");
    if (val)
        cdc_loadgen_json_str(&b, val, vlen, binary);
    else
        cdc_buf_puts(&b, "null");
    cdc_buf_puts(&b, "}\n");
    fwrite(b.data, 1, b.len, out);
    cdc_buf_free(&b);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    lg_t *lg = opaque;
    lg_topic_t *tp = m->_private;
    (void)rk;
    if (m->err) {
        if (!lg->failed++)
            snprintf(lg->first_err, sizeof(lg->first_err), "delivery to %s [%d] failed: %s",
                     tp->name, (int)m->partition, rd_kafka_err2str(m->err));
        return;
    }
    lg->delivered++;
    tp->records++;
    if (m->partition >= tp->nlast) {
        int n = (int)m->partition + 1;
        tp->last_off = realloc(tp->last_off, (size_t)n * sizeof(*tp->last_off));
        if (!tp->last_off)
            abort();
        for (int i = tp->nlast; i < n; i++)
            tp->last_off[i] = -1;
        tp->nlast = n;
    }
    tp->last_off[m->partition] = m->offset;
    if (lg->print) {
        const char *hname = NULL;
        const void *hval = NULL;
        size_t hlen = 0;
        rd_kafka_headers_t *hdrs = NULL;
        char hbuf[128] = "";
        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_all(hdrs, 0, &hname, &hval, &hlen) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(hbuf, sizeof(hbuf), "%.*s", (int)hlen, (const char *)hval);
        } else {
            hname = NULL;
        }
        rd_kafka_timestamp_type_t tstype;
        print_record(stdout, tp->name, m->partition, m->offset,
                     rd_kafka_message_timestamp(m, &tstype), m->key, m->key_len, m->payload, m->len,
                     hname, hbuf, lg->fmt == CDC_LOADGEN_AVRO);
    }
}

/* Produce one record (value NULL = tombstone, key NULL = truncate). */
int lg_produce(lg_t *lg, lg_topic_t *tp, const cdc_buf_t *key, const cdc_buf_t *val,
               const char *hname, const char *hval, char *errstr, size_t errstr_size)
{
    lg->records++;
    if (!lg->rk) {
        /* --print without --brokers: the partition the default partitioner
         * would pick for a keyed record; -1 (broker's choice) for null keys. */
        int32_t part = -1;
        int nparts = lg->partitions > 0 ? lg->partitions : 1;
        if (key)
            part = rd_kafka_msg_partitioner_murmur2(NULL, key->data, key->len, nparts, NULL, NULL);
        print_record(stdout, tp->name, part, -1, cdc_now_wall_ms(), key ? key->data : NULL,
                     key ? key->len : 0, val ? val->data : NULL, val ? val->len : 0, hname, hval,
                     lg->fmt == CDC_LOADGEN_AVRO);
        return 0;
    }
    for (;;) {
        rd_kafka_headers_t *hdrs = NULL;
        if (hname) {
            hdrs = rd_kafka_headers_new(1);
            rd_kafka_header_add(hdrs, hname, -1, hval, -1);
        }
        rd_kafka_resp_err_t err = rd_kafka_producev(
            lg->rk, RD_KAFKA_V_TOPIC(tp->name), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key ? key->data : NULL, key ? key->len : 0),
            RD_KAFKA_V_VALUE(val ? val->data : NULL, val ? val->len : 0), RD_KAFKA_V_HEADERS(hdrs),
            RD_KAFKA_V_OPAQUE(tp), RD_KAFKA_V_END);
        if (!err)
            return 0;
        rd_kafka_headers_destroy(hdrs); /* not taken over on failure */
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(errstr, errstr_size, "produce to %s: %s", tp->name, rd_kafka_err2str(err));
            return -1;
        }
        /* Back-pressure: serve delivery reports until there is room. */
        rd_kafka_poll(lg->rk, 100);
    }
}

/* CreateTopics when --partitions is given. The mock cluster of librdkafka
 * 2.0.2 has no CreateTopics: then we say how to create them instead. */
static void create_topics(lg_t *lg)
{
    size_t n = lg->ntables + (lg->hb_enc ? 1 : 0);
    rd_kafka_NewTopic_t **nt = calloc(n, sizeof(*nt));
    rd_kafka_queue_t *q = rd_kafka_queue_new(lg->rk);
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(lg->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    char errstr[CDC_ERRSTR_SIZE];
    if (!nt)
        abort();
    const struct rd_kafka_metadata *md = NULL;
    size_t nnew = 0;
    rd_kafka_event_t *ev = NULL;
    rd_kafka_AdminOptions_set_operation_timeout(opts, 5000, errstr, sizeof(errstr));
    rd_kafka_AdminOptions_set_request_timeout(opts, 5000, errstr, sizeof(errstr));
    /* all_topics metadata does not auto-create; only ask for missing ones
     * (and so skip the CreateTopics wait on brokers that lack it). */
    if (rd_kafka_metadata(lg->rk, 1, NULL, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        md = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *name = i < lg->ntables ? lg->tables[i].topic.name : lg->hb.name;
        bool exists = false;
        for (int j = 0; md && j < md->topic_cnt && !exists; j++)
            exists = !strcmp(md->topics[j].topic, name) && !md->topics[j].err;
        if (exists)
            continue;
        nt[nnew] = rd_kafka_NewTopic_new(name, lg->partitions, -1, errstr, sizeof(errstr));
        if (!nt[nnew]) /* replication factor -1 needs broker 2.4+: fall back to 1 */
            nt[nnew] = rd_kafka_NewTopic_new(name, lg->partitions, 1, errstr, sizeof(errstr));
        nnew++;
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    if (nnew == 0)
        goto out;
    rd_kafka_CreateTopics(lg->rk, nt, nnew, opts, q);
    ev = rd_kafka_queue_poll(q, 8000);
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    if (!res) {
        cdc_log_warn("CreateTopics: %s; create the topics with %d partitions beforehand "
                     "(cdc-mock-broker: 'create TOPIC %d')",
                     ev ? rd_kafka_event_error_string(ev) : "no answer in 8 s", lg->partitions,
                     lg->partitions);
    } else {
        size_t cnt;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                cdc_log_warn("CreateTopics %s: %s; create it with %d partitions beforehand "
                             "(cdc-mock-broker: 'create TOPIC %d')",
                             rd_kafka_topic_result_name(tr[i]), rd_kafka_err2str(e), lg->partitions,
                             lg->partitions);
        }
    }
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    for (size_t i = 0; i < nnew; i++)
        rd_kafka_NewTopic_destroy(nt[i]);
    free(nt);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
}

static int topic_partitions(lg_t *lg, const char *name)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(lg->rk, name, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = 0;
    if (rd_kafka_metadata(lg->rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && !md->topics[0].err)
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

int lg_kafka_setup(lg_t *lg, const cdc_config_t *cfg, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *const *keys, *const *vals;
    size_t nx = cdc_config_rdkafka(cfg, &keys, &vals);
    /* murmur2_random is the Java client's default partitioner (murmur2 of the
     * key bytes, positive, mod P; random for null keys), so a key lands
     * where Kafka Connect would put it and per-key order holds. Idempotence
     * keeps retries from duplicating or reordering. */
    const char *props[][2] = {
        {"bootstrap.servers", cdc_config_get(cfg, "brokers")},
        {"enable.idempotence", "true"},
        {"partitioner", "murmur2_random"},
        {"linger.ms", "5"},
        {"message.timeout.ms", "60000"},
    };
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], errstr, errstr_size) !=
            RD_KAFKA_CONF_OK)
            goto fail;
    for (size_t i = 0; i < nx; i++)
        if (rd_kafka_conf_set(conf, keys[i], vals[i], errstr, errstr_size) != RD_KAFKA_CONF_OK)
            goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_log_cb(conf, cdc_log_rdkafka_cb);
    rd_kafka_conf_set_opaque(conf, lg);
    lg->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (!lg->rk)
        goto fail;
    conf = NULL;
    if (lg->partitions > 0)
        create_topics(lg);
    for (size_t i = 0; i < lg->ntables; i++) {
        lg_topic_t *tp = &lg->tables[i].topic;
        tp->nparts = topic_partitions(lg, tp->name);
        if (lg->partitions > 0 && tp->nparts && tp->nparts != lg->partitions)
            cdc_log_warn("topic %s has %d partitions, not the %d asked for", tp->name, tp->nparts,
                         lg->partitions);
    }
    return 0;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    return -1;
}

/* ---- Schema Registry --------------------------------------------------- */

static size_t curl_sink(char *p, size_t sz, size_t n, void *ud)
{
    cdc_buf_append(ud, p, sz * n);
    return sz * n;
}

static int registry_register(const char *url, const char *subject, const char *schema, int32_t *id,
                             char *errstr, size_t errstr_size)
{
    int rc = -1;
    CURL *curl = curl_easy_init();
    struct curl_slist *hdr = NULL;
    cdc_buf_t full = CDC_BUF_INIT, resp = CDC_BUF_INIT;
    json_t *body = json_pack("{s:s}", "schema", schema);
    char *bodytxt = json_dumps(body, JSON_COMPACT);
    json_t *ans = NULL;
    long status = 0;
    if (!curl || !bodytxt) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    size_t ul = strlen(url);
    cdc_buf_printf(&full, "%.*s/subjects/%s/versions",
                   (int)(ul && url[ul - 1] == '/' ? ul - 1 : ul), url, subject);
    hdr = curl_slist_append(hdr, "Content-Type: application/vnd.schemaregistry.v1+json");
    curl_easy_setopt(curl, CURLOPT_URL, full.data);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, bodytxt);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, curl_sink);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 15L);
    CURLcode ce = curl_easy_perform(curl);
    if (ce != CURLE_OK) {
        snprintf(errstr, errstr_size, "schema registry %s: %s (is --schema-registry right?)",
                 full.data, curl_easy_strerror(ce));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    ans = json_loadb(resp.data ? resp.data : "", resp.len, 0, NULL);
    json_t *jid = json_object_get(ans, "id");
    if (status != 200 || !json_is_integer(jid)) {
        snprintf(errstr, errstr_size, "schema registry refused subject %s: HTTP %ld %.200s",
                 subject, status, resp.data ? resp.data : "");
        goto out;
    }
    *id = (int32_t)json_integer_value(jid);
    rc = 0;
out:
    json_decref(ans);
    json_decref(body);
    free(bodytxt);
    curl_slist_free_all(hdr);
    if (curl)
        curl_easy_cleanup(curl);
    cdc_buf_free(&full);
    cdc_buf_free(&resp);
    return rc;
}

int lg_registry_setup(lg_t *lg, const char *url, char *errstr, size_t errstr_size)
{
    size_t n = lg->ntables + (lg->hb_enc ? 1 : 0);
    char subject[512];
    for (size_t i = 0; i < n; i++) {
        cdc_loadgen_enc_t *enc = i < lg->ntables ? lg->tables[i].enc : lg->hb_enc;
        int32_t kid, vid;
        snprintf(subject, sizeof(subject), "%s-key", cdc_loadgen_enc_topic(enc));
        if (registry_register(url, subject, cdc_loadgen_enc_avro_schema(enc, false), &kid, errstr,
                              errstr_size) != 0)
            return -1;
        snprintf(subject, sizeof(subject), "%s-value", cdc_loadgen_enc_topic(enc));
        if (registry_register(url, subject, cdc_loadgen_enc_avro_schema(enc, true), &vid, errstr,
                              errstr_size) != 0)
            return -1;
        cdc_loadgen_enc_set_ids(enc, kid, vid);
    }
    return 0;
}
