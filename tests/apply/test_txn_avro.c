/* apply-txn-avro: cdc-apply --transactions on Avro (Confluent framing,
 * schemas from devstack/cdc-registry-mock), written the way the
 * AvroConverter writes Debezium 2.4's PostgreSQL records: envelopes with
 * the source and transaction blocks (schemas/debezium), and the
 * <prefix>.transaction topic's TransactionMetadataValue records with their
 * data_collections. 40 transactions, each an order and 1-3 lines, over 2
 * partitions per table, each END after its events; one END in the middle
 * (order 17: 4 events) counts 5 in event_count, 4 in its data_collections. With
 * --errors-tolerance all: 39 transactions applied whole
 * (cdc_transactions_applied_total), the contradictory END is a dead letter
 * naming the sum, its events are applied in pieces (given up, 1), the
 * target equals the source and every position is at its end. */
#include "debezium_schemas.h"
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_registry.h"

#include "cdc/buf.h"
#include "cdc/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTXN    40
#define BAD_TXN 17 /* its END's event_count is not the sum of its counts */

static char prefix[64], torders[128], tlines[128], ttx[128];
static int id_okey, id_oval, id_lkey, id_lval, id_tkey, id_tval;
static rd_kafka_t *rk;
static long long txid = 700, lsn = 5000000;

static void put_str(cdc_buf_t *b, const char *s)
{
    cdc_avro_long_append(b, (int64_t)strlen(s));
    cdc_buf_append(b, s, strlen(s));
}

static void frame(cdc_buf_t *b, int id)
{
    cdc_buf_reset(b);
    cdc_buf_putc(b, 0);
    for (int i = 3; i >= 0; i--)
        cdc_buf_putc(b, (char)((unsigned)id >> (8 * i) & 0xff));
}

static void produce(const char *topic, int32_t part, const cdc_buf_t *k, const cdc_buf_t *v)
{
    rd_kafka_resp_err_t err;
    do {
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_KEY(k->data, k->len), RD_KAFKA_V_VALUE(v->data, v->len),
                                RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 50);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    TH_ASSERT(err == RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* The Envelope of public.@p table with its Value fields @p fields. */
static int register_envelope(th_registry_t *reg, const char *topic, const char *table,
                             const char *fields)
{
    char *s = NULL;
    char ns[200];
    snprintf(ns, sizeof(ns), "%s.public.%s", prefix, table);
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_buf_printf(&b,
                   "{\"type\":\"record\",\"name\":\"Envelope\",\"namespace\":\"%s\",\"fields\":["
                   "{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"record\",\"name\":"
                   "\"Value\",\"fields\":[%s],\"connect.name\":\"%s.Value\"}],\"default\":null},"
                   "{\"name\":\"after\",\"type\":[\"null\",\"%s.Value\"],\"default\":null},"
                   "{\"name\":\"source\",\"type\":%s},{\"name\":\"op\",\"type\":\"string\"},"
                   "{\"name\":\"ts_ms\",\"type\":[\"null\",\"long\"],\"default\":null},"
                   "{\"name\":\"transaction\",\"type\":[\"null\",%s],\"default\":null}],"
                   "\"connect.version\":1,\"connect.name\":\"%s.Envelope\"}",
                   ns, fields, ns, ns, cdc_dbz_pg_source_avro, cdc_dbz_txn_block_avro, ns);
    s = cdc_buf_steal(&b);
    char subject[200];
    snprintf(subject, sizeof(subject), "%s-value", topic);
    int id = th_registry_register(reg, subject, s);
    free(s);
    TH_ASSERT(id > 0);
    return id;
}

static int register_schema(th_registry_t *reg, const char *topic, const char *kind,
                           const char *schema)
{
    char subject[200];
    snprintf(subject, sizeof(subject), "%s-%s", topic, kind);
    int id = th_registry_register(reg, subject, schema);
    TH_ASSERT(id > 0);
    return id;
}

static int norder, nline; /* events of the open transaction per table */
static int total;         /* its total_order */

/* A create event of order (@p line false: id, nlines) or line (id, order_id). */
static void event(bool line, long long id, long long other, long long begin)
{
    cdc_buf_t k = CDC_BUF_INIT, v = CDC_BUF_INIT;
    frame(&k, line ? id_lkey : id_okey);
    cdc_avro_long_append(&k, id);
    frame(&v, line ? id_lval : id_oval);
    cdc_avro_long_append(&v, 0); /* before: null */
    cdc_avro_long_append(&v, 1); /* after */
    cdc_avro_long_append(&v, id);
    cdc_avro_long_append(&v, other); /* nlines (int) or order_id (long) */
    cdc_avro_long_append(&v, 1);     /* note / qty: present */
    if (line)
        cdc_avro_long_append(&v, id % 5 + 1);
    else
        put_str(&v, "n");
    put_str(&v, "2.4.2.Final");
    put_str(&v, "postgresql");
    put_str(&v, prefix);
    cdc_avro_long_append(&v, 1700000000000LL + txid);
    cdc_avro_long_append(&v, 0); /* snapshot: the enum branch */
    put_str(&v, "false");
    put_str(&v, "src");
    cdc_avro_long_append(&v, 0); /* sequence: null */
    put_str(&v, "public");
    put_str(&v, line ? "order_lines" : "orders");
    cdc_avro_long_append(&v, 1);
    cdc_avro_long_append(&v, txid);
    cdc_avro_long_append(&v, 1);
    cdc_avro_long_append(&v, lsn += 8);
    cdc_avro_long_append(&v, 0); /* xmin: null */
    put_str(&v, "c");
    cdc_avro_long_append(&v, 1);
    cdc_avro_long_append(&v, 1700000000100LL + txid);
    cdc_avro_long_append(&v, 1); /* transaction */
    char tid[64];
    snprintf(tid, sizeof(tid), "%lld:%lld", txid, begin);
    put_str(&v, tid);
    cdc_avro_long_append(&v, ++total);
    cdc_avro_long_append(&v, line ? ++nline : ++norder);
    produce(line ? tlines : torders, (int32_t)(id % 2), &k, &v);
    cdc_buf_free(&k);
    cdc_buf_free(&v);
}

/* BEGIN, or END counting @p count events (data_collections: the real ones). */
static void tx_record(bool end, long long begin, int count)
{
    cdc_buf_t k = CDC_BUF_INIT, v = CDC_BUF_INIT;
    char tid[64];
    snprintf(tid, sizeof(tid), "%lld:%lld", txid, begin);
    frame(&k, id_tkey);
    put_str(&k, tid);
    frame(&v, id_tval);
    put_str(&v, end ? "END" : "BEGIN");
    put_str(&v, tid);
    cdc_avro_long_append(&v, end);
    if (end)
        cdc_avro_long_append(&v, count);
    cdc_avro_long_append(&v, end);
    if (end) {
        cdc_avro_long_append(&v, 2);
        put_str(&v, "public.orders");
        cdc_avro_long_append(&v, norder);
        put_str(&v, "public.order_lines");
        cdc_avro_long_append(&v, nline);
        cdc_avro_long_append(&v, 0);
    }
    cdc_avro_long_append(&v, 1700000000000LL + txid);
    produce(ttx, 0, &k, &v);
    cdc_buf_free(&k);
    cdc_buf_free(&v);
}

#define TXN_VALUE                                                                                  \
    "{\"type\":\"record\",\"name\":\"TransactionMetadataValue\",\"namespace\":\"io.debezium."      \
    "connector.common\",\"fields\":[{\"name\":\"status\",\"type\":\"string\"},{\"name\":\"id\","   \
    "\"type\":\"string\"},{\"name\":\"event_count\",\"type\":[\"null\",\"long\"],\"default\":"     \
    "null},{\"name\":\"data_collections\",\"type\":[\"null\",{\"type\":\"array\",\"items\":{"      \
    "\"type\":\"record\",\"name\":\"ConnectDefault\",\"namespace\":\"io.confluent.connect.avro\"," \
    "\"fields\":[{\"name\":\"data_collection\",\"type\":\"string\"},{\"name\":\"event_count\","    \
    "\"type\":\"long\"}]}}],\"default\":null},{\"name\":\"ts_ms\",\"type\":\"long\"}],"            \
    "\"connect.name\":\"io.debezium.connector.common.TransactionMetadataValue\"}"

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    th_registry_t reg;
    memset(&reg, 0, sizeof(reg));
    ta_start(&pg, &b, 1);
    TH_ASSERT(th_registry_start(&reg, 0) == 0);
    rk = ta_producer_new(&b);
    snprintf(prefix, sizeof(prefix), "%s", th_unique("txa"));
    snprintf(torders, sizeof(torders), "%s.public.orders", prefix);
    snprintf(tlines, sizeof(tlines), "%s.public.order_lines", prefix);
    snprintf(ttx, sizeof(ttx), "%s.transaction", prefix);
    TH_ASSERT(th_broker_cmd(&b, "create %s 2", torders) == 0);
    TH_ASSERT(th_broker_cmd(&b, "create %s 2", tlines) == 0);
    TH_ASSERT(th_broker_cmd(&b, "create %s 1", ttx) == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "CREATE TABLE orders (id bigint PRIMARY KEY, nlines int NOT NULL, note "
                         "text); CREATE TABLE order_lines (id bigint PRIMARY KEY, order_id bigint "
                         "NOT NULL, qty int)") == 0);
    char key[200];
    snprintf(key, sizeof(key),
             "{\"type\":\"record\",\"name\":\"Key\",\"namespace\":\"%s.public.orders\","
             "\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}",
             prefix);
    id_okey = register_schema(&reg, torders, "key", key);
    snprintf(key, sizeof(key),
             "{\"type\":\"record\",\"name\":\"Key\",\"namespace\":\"%s.public.order_lines\","
             "\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}",
             prefix);
    id_lkey = register_schema(&reg, tlines, "key", key);
    id_oval = register_envelope(&reg, torders, "orders",
                                "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"nlines\",\"type\":"
                                "\"int\"},{\"name\":\"note\",\"type\":[\"null\",\"string\"],"
                                "\"default\":null}");
    id_lval = register_envelope(&reg, tlines, "order_lines",
                                "{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"order_id\","
                                "\"type\":\"long\"},{\"name\":\"qty\",\"type\":[\"null\",\"int\"],"
                                "\"default\":null}");
    id_tkey = register_schema(&reg, ttx, "key",
                              "{\"type\":\"record\",\"name\":\"TransactionMetadataKey\","
                              "\"namespace\":\"io.debezium.connector.common\",\"fields\":[{"
                              "\"name\":\"id\",\"type\":\"string\"}]}");
    id_tval = register_schema(&reg, ttx, "value", TXN_VALUE);
    cdc_buf_t want_o = CDC_BUF_INIT, want_l = CDC_BUF_INIT;
    long long next_line = 0;
    for (long long o = 1; o <= NTXN; o++) {
        long long begin = lsn + 1;
        txid++;
        norder = nline = total = 0;
        tx_record(false, begin, 0);
        int k = 1 + (int)(o % 3);
        event(false, o, k, begin);
        cdc_buf_printf(&want_o, "%s%lld:%d:n", o > 1 ? ";" : "", o, k);
        for (int i = 0; i < k; i++) {
            event(true, ++next_line, o, begin);
            cdc_buf_printf(&want_l, "%s%lld:%lld:%lld", next_line > 1 ? ";" : "", next_line, o,
                           next_line % 5 + 1);
        }
        tx_record(true, begin, total + (o == BAD_TXN));
    }
    TH_ASSERT(rd_kafka_flush(rk, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR);

    char group[64], log[128], url[64], addr[32], topics[400];
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", prefix);
    snprintf(topics, sizeof(topics), "%s,%s,%s", torders, tlines, ttx);
    int port = ta_free_port();
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    const char *const *args =
        TA_APPLY_ARGS(b.bootstrap, group, topics, pg.target_conninfo, "--transactions",
                      "--schema-registry", reg.url, "--errors-tolerance", "all", "--metrics-addr",
                      addr, "--exit-on-idle", "4", TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(args, log);
    const char *lab[1] = {NULL};
    double want_ap = NTXN - 1;
    char *m = ta_scrape_until(pid, url, "cdc_transactions_applied_total", lab, &want_ap, 1, 60000);
    TH_CHECK(m && ta_metric_sum(m, "cdc_transactions_applied_total", NULL) == NTXN - 1);
    free(m);
    double one = 1; /* counted on the next tick */
    m = ta_scrape_until(pid, url, "cdc_transactions_given_up_total", lab, &one, 1, 10000);
    TH_CHECK(m && ta_metric_sum(m, "cdc_transactions_given_up_total", NULL) == 1);
    free(m);
    TH_CHECK_INT(ta_wait(pid, 60000), 0);
    char *got_o = th_pg_query_value(pg.target_conninfo,
                                    "SELECT string_agg(id || ':' || nlines || ':' || note, ';' "
                                    "ORDER BY id) FROM orders");
    char *got_l = th_pg_query_value(pg.target_conninfo,
                                    "SELECT string_agg(id || ':' || order_id || ':' || qty, ';' "
                                    "ORDER BY id) FROM order_lines");
    TH_CHECK(got_o && !strcmp(got_o, want_o.data));
    TH_CHECK(got_l && !strcmp(got_l, want_l.data));
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo,
                             "SELECT count(*) FROM cdc.dead_letter WHERE error LIKE '%event_count "
                             "5 is not the sum of its data_collections counts (4)%'"),
                 1);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, torders, 2);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, tlines, 2);
    ta_check_positions(b.bootstrap, pg.target_conninfo, group, ttx, 1);
    if (th_failures) {
        char *l = ta_slurp(log);
        fprintf(stderr, "cdc-apply log:\n%s\n", l);
        free(l);
    }
    ta_log_finish(log, 4000);
    free(got_o);
    free(got_l);
    cdc_buf_free(&want_o);
    cdc_buf_free(&want_l);
    rd_kafka_destroy(rk);
    th_registry_stop(&reg);
    ta_stop(&pg, &b);
    TH_DONE();
}
