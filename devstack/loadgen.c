/* cdc-loadgen: makes real changes in a source PostgreSQL database and
 * produces to Kafka the records Debezium's PostgreSQL connector would
 * produce for them, so a consumer under test can be checked against the
 * real source (the target must end row-for-row equal to it).
 *
 * Every event carries the row as PostgreSQL stored it: each change is an
 * INSERT/UPDATE/DELETE ... RETURNING in a session with the canonical settings
 * (TimeZone=UTC, DateStyle=ISO, extra_float_digits=3, bytea_output=hex).
 * Events of a source transaction are produced after its COMMIT, like
 * Debezium, which only sees committed transactions. */
#include "loadgen.h"

#include "cdc/buf.h"
#include "cdc/config.h"
#include "cdc/log.h"
#include "cdc/pg.h"
#include "cdc/util.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cdc_config.h"

/* librdkafka's mock cluster (cdc-mock-broker) keeps about this much per
 * partition and then drops the oldest segments. */
#define MOCK_MAX_MSGS  100000
#define MOCK_MAX_BYTES (5 * 1024 * 1024)

static const cdc_opt_def_t defs[] = {
    {"source", 's', CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_REQUIRED | CDC_OPT_CONNINFO,
     "CONNINFO", "source PostgreSQL database (libpq conninfo or URI) the changes are made in"},
    {"brokers", 'b', CDC_OPT_STRING, NULL, 0, -1, NULL, 0, "LIST",
     "Kafka bootstrap servers; without it nothing is produced (needs --print)"},
    {"topic-prefix", 0, CDC_OPT_STRING, "dbserver1", 0, -1, NULL, 0, "NAME",
     "Debezium topic.prefix: topics are <prefix>.<schema>.<table>"},
    {"schema", 0, CDC_OPT_STRING, "public", 0, -1, NULL, 0, "NAME", "source schema"},
    {"table", 't', CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_MULTI, "NAME",
     "table to generate changes in (default orders)"},
    {"tables", 0, CDC_OPT_INT, "0", 0, 1000, NULL, 0, "N",
     "use N tables orders_1..orders_N instead of --table"},
    {"reset", 0, CDC_OPT_BOOL, NULL, 0, -1, NULL, 0, NULL,
     "drop and recreate the tables first (otherwise CREATE IF NOT EXISTS)"},
    {"partitions", 'p', CDC_OPT_INT, "0", 0, 10000, NULL, 0, "P",
     "create the topics with P partitions (admin CreateTopics; 0 = leave to the broker)"},
    {"format", 'f', CDC_OPT_ENUM, "json", 0, -1, "json|json-noschema|avro", 0, "FORMAT",
     "converter: JsonConverter with/without schemas, or Confluent Avro"},
    {"schema-registry", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_CONNINFO, "URL",
     "Schema Registry for --format avro (subjects <topic>-key / <topic>-value)"},
    {"events", 'n', CDC_OPT_INT, "1000", 0, 1e12, NULL, 0, "N",
     "source row changes to make (cdc-mock-broker keeps only ~5 MB / 100k messages per "
     "partition and drops the oldest beyond that)"},
    {"workload", 'w', CDC_OPT_ENUM, "mixed", 0, -1, "insert|mixed", 0, "KIND",
     "insert only, or 60% update / 20% insert / 20% delete with 80% of updates on 5% of keys"},
    {"replica-identity", 0, CDC_OPT_ENUM, "default", 0, -1, "default|full", 0, "ID",
     "REPLICA IDENTITY set on the tables (full fills 'before')"},
    {"toast", 0, CDC_OPT_BOOL, NULL, 0, -1, NULL, 0, NULL,
     "store > 2 KB notes out of line; most updates leave them alone, so under DEFAULT "
     "identity the event carries __debezium_unavailable_value"},
    {"pk-changes", 0, CDC_OPT_INT, "0", 0, 1e12, NULL, 0, "N",
     "N of the changes update the primary key (delete + tombstone + create, with headers)"},
    {"truncate-at", 0, CDC_OPT_INT, "0", 0, 1e12, NULL, 0, "K",
     "TRUNCATE the tables after K changes (op=t, null key: with P > 1 its order against "
     "the row events of other partitions is not guaranteed, as with Debezium)"},
    {"snapshot", 0, CDC_OPT_BOOL, NULL, 0, -1, NULL, 0, NULL,
     "first emit op=r records for the rows already in the tables"},
    {"tombstones", 0, CDC_OPT_ENUM, "true", 0, -1, "true|false", 0, "BOOL",
     "write a null-value record after each delete (tombstones.on.delete)"},
    {"heartbeat-ms", 0, CDC_OPT_INT, "0", 0, 86400000, NULL, 0, "MS",
     "write heartbeats to __debezium-heartbeat.<prefix> every MS (0 = off)"},
    {"seed", 0, CDC_OPT_INT, "1", 0, 9e18, NULL, 0, "N", "random seed (same seed, same workload)"},
    {"txn-size", 0, CDC_OPT_INT, "1", 1, 1000000, NULL, 0, "N", "changes per source transaction"},
    {"print", 0, CDC_OPT_BOOL, NULL, 0, -1, NULL, 0, NULL,
     "also write each record to stdout as a kcat -J line"},
    {"rate", 0, CDC_OPT_DOUBLE, "0", 0, 1e9, NULL, 0, "N",
     "at most N changes per second (0 = as fast as possible)"},
    {"summary-json", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, 0, "FILE",
     "write the run summary as JSON to FILE"},
    {NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL, NULL},
};

static volatile sig_atomic_t run = 1;

static void on_signal(int sig)
{
    (void)sig;
    run = 0;
}

/* Per-topic delivery accounting, filled by the delivery report callback. */
typedef struct lg_topic {
    const char *name; /* borrowed from the encoder */
    int nparts;       /* from metadata; 0 unknown */
    int64_t records;  /* delivered */
    int64_t *last_off;
    int nlast;
} lg_topic_t;

typedef struct lg_table {
    char *name;
    char *qname; /* quoted schema.table */
    cdc_loadgen_enc_t *enc;
    lg_topic_t topic;
    int64_t *keys; /* live primary keys; the first 5% are the hot ones */
    size_t nkeys, capkeys;
    int64_t next_id;
    char *sql_insert, *sql_update, *sql_update_note, *sql_pk, *sql_delete, *sql_old;
} lg_table_t;

/* A change made in the open source transaction, encoded after COMMIT. */
typedef struct lg_pend {
    lg_table_t *t;
    char op; /* c u d t, or 'p' for a primary-key change */
    cdc_loadgen_row_t before, after;
    bool has_before, has_after;
    int64_t lsn;
} lg_pend_t;

enum { OP_C, OP_U, OP_D, OP_R, OP_T, OP_N };
static const char op_names[OP_N] = {'c', 'u', 'd', 'r', 't'};

typedef struct lg {
    /* options */
    cdc_loadgen_format_t fmt;
    const char *prefix, *schema;
    bool full, toast, tombstones, print, mixed;
    int64_t events, pk_changes, truncate_at, heartbeat_ms, txn_size;
    int partitions;
    double rate;

    PGconn *conn;
    rd_kafka_t *rk;
    lg_table_t *tables;
    size_t ntables;
    cdc_loadgen_enc_t *hb_enc;
    lg_topic_t hb;
    uint64_t rng;
    char *db;
    int64_t last_commit_lsn;

    lg_pend_t *pend;
    size_t npend, cappend;
    cdc_buf_t kbuf, vbuf;

    int64_t changes, ops[OP_N], tombstones_n, heartbeats, records, delivered, failed;
    char first_err[512];
} lg_t;

/* ---- helpers ----------------------------------------------------------- */

/* splitmix64: tiny, seedable, good enough for a workload mix. */
static uint64_t rnd(lg_t *lg)
{
    uint64_t z = (lg->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned rndn(lg_t *lg, unsigned n)
{
    return n ? (unsigned)(rnd(lg) % n) : 0;
}

static PGresult *pg_q(lg_t *lg, const char *sql, int n, const char *const *params, char *errstr,
                      size_t errstr_size)
{
    PGresult *res = PQexecParams(lg->conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    cdc_pg_error(res, lg->conn, errstr, errstr_size);
    PQclear(res);
    return NULL;
}

/* Plain PQexec: allows several statements (the session settings). */
static int pg_x(lg_t *lg, const char *sql, char *errstr, size_t errstr_size)
{
    PGresult *res = PQexec(lg->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : -1;
    if (rc)
        cdc_pg_error(res, lg->conn, errstr, errstr_size);
    PQclear(res);
    return rc;
}

static int64_t res_i64(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? -1 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Copy one result row (select list order) into @p row; returns its LSN. */
static int64_t row_from_res(const PGresult *res, int r, cdc_loadgen_row_t *row)
{
    memset(row, 0, sizeof(*row));
    for (int i = 0; i < CDC_LOADGEN_NCOLS; i++)
        row->v[i] = PQgetisnull(res, r, i) ? NULL : strdup(PQgetvalue(res, r, i));
    return res_i64(res, r, CDC_LOADGEN_NCOLS);
}

static void keys_add(lg_table_t *t, int64_t id)
{
    if (t->nkeys == t->capkeys) {
        t->capkeys = t->capkeys ? t->capkeys * 2 : 256;
        t->keys = realloc(t->keys, t->capkeys * sizeof(*t->keys));
        if (!t->keys)
            abort();
    }
    t->keys[t->nkeys++] = id;
}

/* ---- value generation ------------------------------------------------- */

static const char *const words[] = {"alpha", "bravo", "charlie", "delta",  "echo", "foxtrot",
                                    "golf",  "hotel", "india",   "juliet", "kilo", "lima"};

static void gen_note(lg_t *lg, cdc_buf_t *b)
{
    cdc_buf_reset(b);
    /* Long notes are the TOAST case: well over CDC_LOADGEN_TOAST_MIN. */
    size_t target = lg->toast ? 3000 + rndn(lg, 1500) : 10 + rndn(lg, 40);
    cdc_buf_printf(b, "note %u:", rndn(lg, 100000));
    while (b->len < target) {
        cdc_buf_putc(b, ' ');
        cdc_buf_puts(b, words[rndn(lg, sizeof(words) / sizeof(words[0]))]);
    }
}

static void gen_ts(lg_t *lg, cdc_buf_t *b, bool tz)
{
    time_t secs = (time_t)(1700000000 + rndn(lg, 365 * 86400));
    unsigned us = rndn(lg, 1000000);
    /* Some whole milliseconds and whole seconds so the trailing-zero rules
     * of the ISO form get exercised. */
    if (rndn(lg, 3) == 0)
        us -= us % 1000;
    if (rndn(lg, 5) == 0)
        us = 0;
    struct tm tm;
    gmtime_r(&secs, &tm);
    cdc_buf_reset(b);
    cdc_buf_printf(b, "%04d-%02d-%02d %02d:%02d:%02d.%06u%s", tm.tm_year + 1900, tm.tm_mon + 1,
                   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us, tz ? "+00" : "");
}

static void gen_amount(lg_t *lg, cdc_buf_t *b)
{
    cdc_buf_reset(b);
    cdc_buf_printf(b, "%s%u.%02u", rndn(lg, 20) == 0 ? "-" : "", rndn(lg, 10000000), rndn(lg, 100));
}

/* Parameters $2..$13 of the INSERT, in DDL order after id; NULL = SQL NULL. */
static void gen_row(lg_t *lg, cdc_buf_t *pv, const char **pp)
{
    static const char *const statuses[] = {"new", "paid", "shipped", "cancelled"};
    static const char *const tags[] = {"{}", "{red,blue}", "{\"with space\",NULL}",
                                       "{a,\"b,c\",\"quote\\\"d\"}", "{\"ünï\"}"};
    for (int i = 0; i < CDC_LOADGEN_NCOLS; i++) {
        cdc_buf_reset(&pv[i]);
        pp[i] = NULL;
    }
    cdc_buf_printf(&pv[1], "customer-%03u", rndn(lg, 1000));
    gen_amount(lg, &pv[2]);
    cdc_buf_puts(&pv[3], statuses[rndn(lg, 4)]);
    gen_ts(lg, &pv[4], true);
    gen_ts(lg, &pv[5], false);
    cdc_buf_printf(&pv[6], "%d", (int)rndn(lg, 1000) - 100);
    gen_note(lg, &pv[7]);
    cdc_buf_puts(&pv[8], tags[rndn(lg, 5)]);
    cdc_buf_printf(&pv[9], "{\"n\": %u, \"src\": \"loadgen\", \"nested\": {\"ok\": true}}",
                   rndn(lg, 1000));
    cdc_buf_puts(&pv[10], rndn(lg, 2) ? "true" : "false");
    uint64_t a = rnd(lg), b = rnd(lg);
    cdc_buf_printf(&pv[11], "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
                   (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
                   0x8000u | ((unsigned)(b >> 48) & 0x3fff),
                   (unsigned long long)(b & 0xffffffffffffULL));
    time_t d = (time_t)(19723 + rndn(lg, 1000)) * 86400;
    struct tm tm;
    gmtime_r(&d, &tm);
    cdc_buf_printf(&pv[12], "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    for (int i = 1; i < CDC_LOADGEN_NCOLS; i++)
        pp[i] = pv[i].data;
    /* Explicit NULLs matter (consumers must not replace them by defaults). */
    static const int nullable[] = {6, 8, 9, 10, 12};
    for (size_t i = 0; i < sizeof(nullable) / sizeof(nullable[0]); i++)
        if (rndn(lg, 10) == 0)
            pp[nullable[i]] = NULL;
}

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
static int produce(lg_t *lg, lg_topic_t *tp, const cdc_buf_t *key, const cdc_buf_t *val,
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

static int kafka_setup(lg_t *lg, const cdc_config_t *cfg, char *errstr, size_t errstr_size)
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

static int registry_setup(lg_t *lg, const char *url, char *errstr, size_t errstr_size)
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

/* ---- tables ------------------------------------------------------------ */

static int table_setup(lg_t *lg, lg_table_t *t, bool reset, char *errstr, size_t errstr_size)
{
    int rc = -1;
    cdc_buf_t b = CDC_BUF_INIT;
    PGresult *res = NULL;
    const char *sel = cdc_loadgen_select_list();

    cdc_pg_append_qualified(&b, lg->schema, t->name);
    t->qname = cdc_buf_steal(&b);
    if (reset) {
        cdc_buf_printf(&b, "DROP TABLE IF EXISTS %s", t->qname);
        if (pg_x(lg, b.data, errstr, errstr_size) != 0)
            goto out;
        cdc_buf_reset(&b);
    }
    cdc_loadgen_ddl(&b, t->qname);
    if (pg_x(lg, b.data, errstr, errstr_size) != 0)
        goto out;
    cdc_buf_reset(&b);
    /* STORAGE EXTERNAL: out of line and uncompressed. A compressible note
     * would otherwise stay inline, and pgoutput sends inline values in full,
     * so no placeholder would ever appear. */
    cdc_buf_printf(&b, "ALTER TABLE %s REPLICA IDENTITY %s, ALTER COLUMN note SET STORAGE EXTERNAL",
                   t->qname, lg->full ? "FULL" : "DEFAULT");
    if (pg_x(lg, b.data, errstr, errstr_size) != 0)
        goto out;
    cdc_buf_reset(&b);

    cdc_buf_printf(&b, "SELECT id FROM %s ORDER BY id", t->qname);
    if (!(res = pg_q(lg, b.data, 0, NULL, errstr, errstr_size)))
        goto out;
    t->next_id = 1;
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t id = res_i64(res, i, 0);
        keys_add(t, id);
        if (id >= t->next_id)
            t->next_id = id + 1;
    }
    cdc_buf_reset(&b);

#define SQL(field, ...)                                                                            \
    do {                                                                                           \
        cdc_buf_printf(&b, __VA_ARGS__);                                                           \
        t->field = cdc_buf_steal(&b);                                                              \
    } while (0)
    SQL(sql_insert,
        "INSERT INTO %s (id, customer, amount, status, created_at, updated_at, qty, note, tags,"
        " attrs, flag, ref, ship_date) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
        " $12, $13) RETURNING %s",
        t->qname, sel);
    /* Leaving note out of SET keeps its TOAST pointer: the "unchanged
     * toast" case of pgoutput. */
    SQL(sql_update,
        "UPDATE %s SET amount = $2, status = $3, updated_at = $4, qty = $5, flag = $6"
        " WHERE id = $1 RETURNING %s",
        t->qname, sel);
    SQL(sql_update_note,
        "UPDATE %s SET amount = $2, status = $3, updated_at = $4, qty = $5, flag = $6, note = $7"
        " WHERE id = $1 RETURNING %s",
        t->qname, sel);
    SQL(sql_pk, "UPDATE %s SET id = $2, updated_at = $3, note = $4 WHERE id = $1 RETURNING %s",
        t->qname, sel);
    SQL(sql_delete, "DELETE FROM %s WHERE id = $1 RETURNING %s", t->qname, sel);
    SQL(sql_old, "SELECT %s FROM %s WHERE id = $1 FOR UPDATE", sel, t->qname);
#undef SQL
    rc = 0;
out:
    PQclear(res);
    cdc_buf_free(&b);
    return rc;
}

/* ---- changes ----------------------------------------------------------- */

static lg_pend_t *pend_add(lg_t *lg, lg_table_t *t, char op)
{
    if (lg->npend == lg->cappend) {
        lg->cappend = lg->cappend ? lg->cappend * 2 : 64;
        lg->pend = realloc(lg->pend, lg->cappend * sizeof(*lg->pend));
        if (!lg->pend)
            abort();
    }
    lg_pend_t *p = &lg->pend[lg->npend++];
    memset(p, 0, sizeof(*p));
    p->t = t;
    p->op = op;
    return p;
}

/* The note of the new image is the placeholder when DEFAULT identity,
 * the UPDATE left it alone, and it lives out of line. */
static void mark_toast(lg_t *lg, cdc_loadgen_row_t *after, bool note_set)
{
    const char *n = after->v[CDC_LOADGEN_COL_NOTE];
    after->note_unavailable = !lg->full && !note_set && n && strlen(n) >= CDC_LOADGEN_TOAST_MIN;
}

static int fetch_old(lg_t *lg, lg_table_t *t, const char *id, cdc_loadgen_row_t *row, char *errstr,
                     size_t errstr_size)
{
    const char *p[1] = {id};
    PGresult *res = pg_q(lg, t->sql_old, 1, p, errstr, errstr_size);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        snprintf(errstr, errstr_size, "row id=%s vanished from %s (another writer?)", id, t->qname);
        PQclear(res);
        return -1;
    }
    row_from_res(res, 0, row);
    PQclear(res);
    return 0;
}

static int one_row(PGresult *res, const char *what, const lg_table_t *t, char *errstr,
                   size_t errstr_size)
{
    if (PQntuples(res) == 1)
        return 0;
    snprintf(errstr, errstr_size, "%s on %s touched %d rows, expected 1 (another writer?)", what,
             t->qname, PQntuples(res));
    return -1;
}

static int do_change(lg_t *lg, lg_table_t *t, bool pk_change, cdc_buf_t *pv, const char **pp,
                     char *errstr, size_t errstr_size)
{
    int rc = -1;
    PGresult *res = NULL;
    char idtxt[32], newtxt[32];
    unsigned r = rndn(lg, 100);
    char op = 'c';
    if (pk_change && t->nkeys)
        op = 'p';
    else if (lg->mixed && t->nkeys)
        op = r < 60 ? 'u' : r < 80 ? 'c' : 'd';

    size_t idx = 0;
    if (op == 'u' || op == 'p') {
        /* Hot keys: 80% of updates hit the first 5% of the live keys. */
        size_t hot = t->nkeys / 20 ? t->nkeys / 20 : 1;
        idx = rndn(lg, 100) < 80 ? rndn(lg, (unsigned)hot) : rndn(lg, (unsigned)t->nkeys);
    } else if (op == 'd') {
        idx = rndn(lg, (unsigned)t->nkeys);
    }
    if (op != 'c')
        snprintf(idtxt, sizeof(idtxt), "%lld", (long long)t->keys[idx]);

    lg_pend_t *p = pend_add(lg, t, op);
    if (op == 'c') {
        gen_row(lg, pv, pp);
        snprintf(idtxt, sizeof(idtxt), "%lld", (long long)t->next_id);
        pp[0] = idtxt;
        if (!(res = pg_q(lg, t->sql_insert, CDC_LOADGEN_NCOLS, pp, errstr, errstr_size)) ||
            one_row(res, "INSERT", t, errstr, errstr_size) != 0)
            goto out;
        p->lsn = row_from_res(res, 0, &p->after);
        p->has_after = true;
        keys_add(t, t->next_id++);
    } else if (op == 'u') {
        bool note = rndn(lg, 100) < (lg->toast ? 20u : 30u);
        if (lg->full) {
            if (fetch_old(lg, t, idtxt, &p->before, errstr, errstr_size) != 0)
                goto out;
            p->has_before = true;
        }
        const char *up[7];
        for (int i = 0; i < 7; i++)
            cdc_buf_reset(&pv[i]);
        up[0] = idtxt;
        gen_amount(lg, &pv[1]);
        up[1] = pv[1].data;
        up[2] = rndn(lg, 2) ? "shipped" : "paid";
        gen_ts(lg, &pv[3], false);
        up[3] = pv[3].data;
        cdc_buf_printf(&pv[4], "%u", rndn(lg, 500));
        up[4] = rndn(lg, 10) ? pv[4].data : NULL;
        up[5] = rndn(lg, 2) ? "true" : "false";
        gen_note(lg, &pv[6]);
        up[6] = pv[6].data;
        res = pg_q(lg, note ? t->sql_update_note : t->sql_update, note ? 7 : 6, up, errstr,
                   errstr_size);
        if (!res || one_row(res, "UPDATE", t, errstr, errstr_size) != 0)
            goto out;
        p->lsn = row_from_res(res, 0, &p->after);
        p->has_after = true;
        mark_toast(lg, &p->after, note);
    } else if (op == 'p') {
        /* The PK change always rewrites note: with an unchanged out-of-line
         * note Debezium's create event would carry the placeholder, and no
         * consumer could then rebuild the row (the old one is deleted). */
        int64_t nid = t->next_id++;
        snprintf(newtxt, sizeof(newtxt), "%lld", (long long)nid);
        if (lg->full) {
            if (fetch_old(lg, t, idtxt, &p->before, errstr, errstr_size) != 0)
                goto out;
        } else {
            p->before.v[0] = strdup(idtxt);
            p->before.key_only = true;
        }
        p->has_before = true;
        const char *up[4];
        cdc_buf_reset(&pv[2]);
        gen_ts(lg, &pv[2], false);
        gen_note(lg, &pv[3]);
        up[0] = idtxt;
        up[1] = newtxt;
        up[2] = pv[2].data;
        up[3] = pv[3].data;
        if (!(res = pg_q(lg, t->sql_pk, 4, up, errstr, errstr_size)) ||
            one_row(res, "UPDATE of the key", t, errstr, errstr_size) != 0)
            goto out;
        p->lsn = row_from_res(res, 0, &p->after);
        p->has_after = true;
        mark_toast(lg, &p->after, true);
        t->keys[idx] = nid;
    } else { /* 'd' */
        const char *dp[1] = {idtxt};
        if (!(res = pg_q(lg, t->sql_delete, 1, dp, errstr, errstr_size)) ||
            one_row(res, "DELETE", t, errstr, errstr_size) != 0)
            goto out;
        p->lsn = row_from_res(res, 0, &p->before);
        p->has_before = true;
        /* DEFAULT identity logs only the key of the old row. */
        p->before.key_only = !lg->full;
        t->keys[idx] = t->keys[--t->nkeys];
    }
    rc = 0;
out:
    if (rc != 0)
        lg->npend--; /* the transaction is rolled back by the caller */
    PQclear(res);
    return rc;
}

/* ---- emission ---------------------------------------------------------- */

static int emit(lg_t *lg, lg_table_t *t, char op, const cdc_loadgen_row_t *before,
                const cdc_loadgen_row_t *after, const cdc_loadgen_source_t *src, const char *hname,
                const char *hval, char *errstr, size_t errstr_size)
{
    cdc_loadgen_event_t ev = {op, before, after, *src, cdc_now_wall_ms()};
    const cdc_loadgen_row_t *k = after ? after : before;
    if (k)
        cdc_loadgen_enc_key(t->enc, k->v[0], &lg->kbuf);
    if (cdc_loadgen_enc_value(t->enc, &ev, &lg->vbuf, errstr, errstr_size) != 0)
        return -1;
    if (produce(lg, &t->topic, k ? &lg->kbuf : NULL, &lg->vbuf, hname, hval, errstr, errstr_size) !=
        0)
        return -1;
    lg->ops[op == 'c' ? OP_C : op == 'u' ? OP_U : op == 'd' ? OP_D : op == 'r' ? OP_R : OP_T]++;
    /* Tombstone: same key, null value, so compaction can drop the key. */
    if (op == 'd' && lg->tombstones) {
        if (produce(lg, &t->topic, &lg->kbuf, NULL, NULL, NULL, errstr, errstr_size) != 0)
            return -1;
        lg->tombstones_n++;
    }
    return 0;
}

static int emit_pending(lg_t *lg, int64_t txid, int64_t ts_ms, char *errstr, size_t errstr_size)
{
    int rc = 0;
    char kbuf[64];
    for (size_t i = 0; i < lg->npend && rc == 0; i++) {
        lg_pend_t *p = &lg->pend[i];
        cdc_loadgen_source_t src = {lg->db, NULL, ts_ms, txid, p->lsn, lg->last_commit_lsn};
        if (p->op == 't') {
            rc = emit(lg, p->t, 't', NULL, NULL, &src, NULL, NULL, errstr, errstr_size);
        } else if (p->op == 'p') {
            /* Headers carry the other key as SimpleHeaderConverter prints a
             * struct: {"id":N}. */
            snprintf(kbuf, sizeof(kbuf), "{\"id\":%s}", p->after.v[0]);
            rc = emit(lg, p->t, 'd', &p->before, NULL, &src, "__debezium.newkey", kbuf, errstr,
                      errstr_size);
            snprintf(kbuf, sizeof(kbuf), "{\"id\":%s}", p->before.v[0]);
            if (rc == 0)
                rc = emit(lg, p->t, 'c', NULL, &p->after, &src, "__debezium.oldkey", kbuf, errstr,
                          errstr_size);
        } else {
            rc = emit(lg, p->t, p->op, p->has_before ? &p->before : NULL,
                      p->has_after ? &p->after : NULL, &src, NULL, NULL, errstr, errstr_size);
        }
    }
    for (size_t i = 0; i < lg->npend; i++) {
        cdc_loadgen_row_clear(&lg->pend[i].before);
        cdc_loadgen_row_clear(&lg->pend[i].after);
    }
    lg->npend = 0;
    return rc;
}

/* Read the transaction's id and a commit timestamp, COMMIT, then produce
 * its events: Debezium sees a transaction only once it committed. */
static int commit_and_emit(lg_t *lg, char *errstr, size_t errstr_size)
{
    PGresult *res =
        pg_q(lg,
             "SELECT txid_current(), floor(extract(epoch from clock_timestamp()) * 1000)"
             "::bigint",
             0, NULL, errstr, errstr_size);
    if (!res)
        return -1;
    int64_t txid = res_i64(res, 0, 0), ts = res_i64(res, 0, 1);
    PQclear(res);
    if (pg_x(lg, "COMMIT", errstr, errstr_size) != 0)
        return -1;
    if (emit_pending(lg, txid, ts, errstr, errstr_size) != 0)
        return -1;
    if (!(res = pg_q(lg, "SELECT (pg_current_wal_lsn() - '0/0')::bigint", 0, NULL, errstr,
                     errstr_size)))
        return -1;
    lg->last_commit_lsn = res_i64(res, 0, 0);
    PQclear(res);
    return 0;
}

static int do_truncate(lg_t *lg, char *errstr, size_t errstr_size)
{
    cdc_buf_t b = CDC_BUF_INIT;
    PGresult *res = NULL;
    int rc = -1;
    cdc_buf_puts(&b, "TRUNCATE ");
    for (size_t i = 0; i < lg->ntables; i++)
        cdc_buf_printf(&b, "%s%s", i ? ", " : "", lg->tables[i].qname);
    if (pg_x(lg, "BEGIN", errstr, errstr_size) != 0 || pg_x(lg, b.data, errstr, errstr_size) != 0)
        goto out;
    if (!(res = pg_q(lg, "SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint", 0, NULL, errstr,
                     errstr_size)))
        goto out;
    /* One TRUNCATE of several tables: one op=t event per table. */
    for (size_t i = 0; i < lg->ntables; i++) {
        pend_add(lg, &lg->tables[i], 't')->lsn = res_i64(res, 0, 0);
        lg->tables[i].nkeys = 0;
    }
    rc = commit_and_emit(lg, errstr, errstr_size);
out:
    PQclear(res);
    cdc_buf_free(&b);
    return rc;
}

static int do_snapshot(lg_t *lg, char *errstr, size_t errstr_size)
{
    int rc = -1;
    PGresult *res = NULL, *rows = NULL;
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_loadgen_row_t row;
    memset(&row, 0, sizeof(row));
    if (pg_x(lg, "BEGIN ISOLATION LEVEL REPEATABLE READ", errstr, errstr_size) != 0)
        goto out;
    if (!(res = pg_q(lg,
                     "SELECT txid_current(), (pg_current_wal_lsn() - '0/0')::bigint,"
                     " floor(extract(epoch from clock_timestamp()) * 1000)::bigint",
                     0, NULL, errstr, errstr_size)))
        goto out;
    cdc_loadgen_source_t src = {
        lg->db, "true", res_i64(res, 0, 2), res_i64(res, 0, 0), res_i64(res, 0, 1), -1};
    size_t last_table = lg->ntables;
    for (size_t i = 0; i < lg->ntables; i++)
        if (lg->tables[i].nkeys)
            last_table = i;
    for (size_t i = 0; i < lg->ntables; i++) {
        lg_table_t *t = &lg->tables[i];
        cdc_buf_reset(&b);
        cdc_buf_printf(&b, "SELECT %s FROM %s ORDER BY id", cdc_loadgen_select_list(), t->qname);
        if (!(rows = pg_q(lg, b.data, 0, NULL, errstr, errstr_size)))
            goto out;
        int n = PQntuples(rows);
        for (int r = 0; r < n; r++) {
            row_from_res(rows, r, &row);
            /* Debezium 2.4 marks the final record of the whole snapshot. */
            src.snapshot = (i == last_table && r == n - 1) ? "last" : "true";
            if (emit(lg, t, 'r', NULL, &row, &src, NULL, NULL, errstr, errstr_size) != 0)
                goto out;
            cdc_loadgen_row_clear(&row);
        }
        PQclear(rows);
        rows = NULL;
    }
    if (pg_x(lg, "COMMIT", errstr, errstr_size) != 0)
        goto out;
    rc = 0;
out:
    cdc_loadgen_row_clear(&row);
    PQclear(res);
    PQclear(rows);
    cdc_buf_free(&b);
    return rc;
}

static int heartbeat(lg_t *lg, char *errstr, size_t errstr_size)
{
    int64_t ts = cdc_now_wall_ms();
    cdc_loadgen_enc_key(lg->hb_enc, NULL, &lg->kbuf);
    cdc_loadgen_enc_heartbeat(lg->hb_enc, ts, &lg->vbuf);
    if (produce(lg, &lg->hb, &lg->kbuf, &lg->vbuf, NULL, NULL, errstr, errstr_size) != 0)
        return -1;
    lg->heartbeats++;
    return 0;
}

static int run_workload(lg_t *lg, char *errstr, size_t errstr_size)
{
    cdc_buf_t pv[CDC_LOADGEN_NCOLS];
    const char *pp[CDC_LOADGEN_NCOLS];
    int rc = -1;
    int64_t done = 0, pk_done = 0, start = cdc_now_mono_us(), last_hb = 0;
    bool truncated = lg->truncate_at == 0, in_txn = false;
    for (int i = 0; i < CDC_LOADGEN_NCOLS; i++)
        pv[i] = (cdc_buf_t)CDC_BUF_INIT;

    while (done < lg->events && run) {
        if (lg->hb_enc && cdc_now_wall_ms() - last_hb >= lg->heartbeat_ms) {
            if (heartbeat(lg, errstr, errstr_size) != 0)
                goto out;
            last_hb = cdc_now_wall_ms();
        }
        if (pg_x(lg, "BEGIN", errstr, errstr_size) != 0)
            goto out;
        in_txn = true;
        for (int64_t j = 0; j < lg->txn_size && done < lg->events; j++) {
            if (!truncated && done == lg->truncate_at)
                break;
            /* Spread the PK changes evenly: change #k is due once
             * done >= (k + 1) * events / (pk_changes + 1). */
            bool pk = pk_done < lg->pk_changes &&
                      done >= (pk_done + 1) * lg->events / (lg->pk_changes + 1);
            lg_table_t *t = &lg->tables[rndn(lg, (unsigned)lg->ntables)];
            if (do_change(lg, t, pk, pv, pp, errstr, errstr_size) != 0)
                goto out;
            if (lg->pend[lg->npend - 1].op == 'p')
                pk_done++;
            done++;
            lg->changes++;
            if (lg->rate > 0) {
                int64_t due = start + (int64_t)((double)done * 1e6 / lg->rate);
                int64_t wait = due - cdc_now_mono_us();
                if (wait > 0)
                    usleep((useconds_t)wait);
            }
            if (lg->rk)
                rd_kafka_poll(lg->rk, 0);
        }
        in_txn = false;
        if (commit_and_emit(lg, errstr, errstr_size) != 0)
            goto out;
        if (!truncated && done == lg->truncate_at) {
            if (do_truncate(lg, errstr, errstr_size) != 0)
                goto out;
            truncated = true;
        }
    }
    if (pk_done < lg->pk_changes)
        cdc_log_warn("only %lld of %lld primary-key changes made (tables were empty)",
                     (long long)pk_done, (long long)lg->pk_changes);
    rc = 0;
out:
    if (in_txn && rc != 0) {
        char e2[256];
        pg_x(lg, "ROLLBACK", e2, sizeof(e2));
    }
    for (int i = 0; i < CDC_LOADGEN_NCOLS; i++)
        cdc_buf_free(&pv[i]);
    return rc;
}

/* ---- summary ----------------------------------------------------------- */

static json_t *topic_json(const lg_topic_t *tp)
{
    json_t *offs = json_object();
    char k[16];
    for (int i = 0; i < tp->nlast; i++) {
        if (tp->last_off[i] < 0)
            continue;
        snprintf(k, sizeof(k), "%d", i);
        json_object_set_new(offs, k, json_integer(tp->last_off[i]));
    }
    return json_pack("{s:I,s:o}", "records", (json_int_t)tp->records, "last_offsets", offs);
}

static int write_summary(const lg_t *lg, const char *path, char *errstr, size_t errstr_size)
{
    json_t *ops = json_object(), *topics = json_object();
    for (int i = 0; i < OP_N; i++) {
        char k[2] = {op_names[i], 0};
        json_object_set_new(ops, k, json_integer(lg->ops[i]));
    }
    for (size_t i = 0; i < lg->ntables; i++)
        json_object_set_new(topics, lg->tables[i].topic.name, topic_json(&lg->tables[i].topic));
    if (lg->hb_enc)
        json_object_set_new(topics, lg->hb.name, topic_json(&lg->hb));
    json_t *root =
        json_pack("{s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:o}", "changes", (json_int_t)lg->changes, "ops",
                  ops, "tombstones", (json_int_t)lg->tombstones_n, "heartbeats",
                  (json_int_t)lg->heartbeats, "records", (json_int_t)lg->records, "delivered",
                  (json_int_t)lg->delivered, "failed", (json_int_t)lg->failed, "topics", topics);
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc != 0)
        snprintf(errstr, errstr_size, "cannot write --summary-json %s: %s", path, strerror(errno));
    return rc ? -1 : 0;
}

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    cdc_log_debug("source: %s", msg);
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
    int rc = 1;
    char errstr[CDC_ERRSTR_SIZE] = "";
    lg_t lg;
    memset(&lg, 0, sizeof(lg));
    lg.kbuf = (cdc_buf_t)CDC_BUF_INIT;
    lg.vbuf = (cdc_buf_t)CDC_BUF_INIT;
    cdc_config_t *cfg = cdc_config_new("cdc-loadgen",
                                       "make changes in a source PostgreSQL and produce the "
                                       "Debezium records for them",
                                       defs);
    switch (cdc_config_parse(cfg, argc, argv, stdout, errstr, sizeof(errstr))) {
    case CDC_CONFIG_EXIT: rc = 0; goto out;
    case CDC_CONFIG_ERROR:
        fprintf(stderr, "cdc-loadgen: %s\n", errstr);
        rc = 2;
        goto out;
    case CDC_CONFIG_OK: break;
    }
    cdc_log_init("cdc-loadgen",
                 (cdc_log_level_t)cdc_log_level_parse(cdc_config_get(cfg, "log-level")),
                 (cdc_log_format_t)cdc_log_format_parse(cdc_config_get(cfg, "log-format")), NULL);

    const char *fmt = cdc_config_get(cfg, "format");
    lg.fmt = !strcmp(fmt, "avro")            ? CDC_LOADGEN_AVRO
             : !strcmp(fmt, "json-noschema") ? CDC_LOADGEN_JSON_NOSCHEMA
                                             : CDC_LOADGEN_JSON;
    lg.prefix = cdc_config_get(cfg, "topic-prefix");
    lg.schema = cdc_config_get(cfg, "schema");
    lg.full = !strcmp(cdc_config_get(cfg, "replica-identity"), "full");
    lg.toast = cdc_config_get_bool(cfg, "toast");
    lg.tombstones = !strcmp(cdc_config_get(cfg, "tombstones"), "true");
    lg.print = cdc_config_get_bool(cfg, "print");
    lg.mixed = !strcmp(cdc_config_get(cfg, "workload"), "mixed");
    lg.events = cdc_config_get_int(cfg, "events");
    lg.pk_changes = cdc_config_get_int(cfg, "pk-changes");
    lg.truncate_at = cdc_config_get_int(cfg, "truncate-at");
    lg.heartbeat_ms = cdc_config_get_int(cfg, "heartbeat-ms");
    lg.txn_size = cdc_config_get_int(cfg, "txn-size");
    lg.partitions = (int)cdc_config_get_int(cfg, "partitions");
    lg.rate = cdc_config_get_double(cfg, "rate");
    lg.rng = (uint64_t)cdc_config_get_int(cfg, "seed");
    const char *brokers = cdc_config_get(cfg, "brokers");
    const char *registry = cdc_config_get(cfg, "schema-registry");

    if (!brokers && !lg.print) {
        fprintf(stderr, "cdc-loadgen: nothing to do: give --brokers, --print, or both\n");
        rc = 2;
        goto out;
    }
    if (lg.fmt == CDC_LOADGEN_AVRO && !registry) {
        fprintf(stderr, "cdc-loadgen: --format avro needs --schema-registry URL (the records "
                        "carry registry schema ids)\n");
        rc = 2;
        goto out;
    }
    if (lg.pk_changes > lg.events || (lg.truncate_at && lg.truncate_at > lg.events)) {
        fprintf(stderr, "cdc-loadgen: --pk-changes and --truncate-at must not exceed --events\n");
        rc = 2;
        goto out;
    }

    /* Tables: --tables N, else every --table, else orders. */
    const char *const *names = NULL;
    size_t nnames = cdc_config_get_list(cfg, "table", &names);
    int64_t ntab = cdc_config_get_int(cfg, "tables");
    lg.ntables = ntab > 0 ? (size_t)ntab : nnames ? nnames : 1;
    lg.tables = calloc(lg.ntables, sizeof(*lg.tables));
    if (!lg.tables)
        abort();
    for (size_t i = 0; i < lg.ntables; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        if (ntab > 0)
            cdc_buf_printf(&b, "orders_%zu", i + 1);
        else
            cdc_buf_puts(&b, nnames ? names[i] : "orders");
        lg.tables[i].name = cdc_buf_steal(&b);
        lg.tables[i].enc = cdc_loadgen_enc_new(lg.fmt, lg.prefix, lg.schema, lg.tables[i].name);
        lg.tables[i].topic.name = cdc_loadgen_enc_topic(lg.tables[i].enc);
    }
    if (lg.heartbeat_ms > 0) {
        lg.hb_enc = cdc_loadgen_enc_new(lg.fmt, lg.prefix, NULL, NULL);
        lg.hb.name = cdc_loadgen_enc_topic(lg.hb_enc);
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    lg.conn = cdc_pg_connect(cdc_config_get(cfg, "source"), "cdc-loadgen", errstr, sizeof(errstr));
    if (!lg.conn)
        goto fail;
    /* NOTICEs ("table does not exist, skipping") are noise on stderr. */
    PQsetNoticeProcessor(lg.conn, quiet_notice, NULL);
    PGresult *res;
    if (pg_x(&lg, CDC_PG_SESSION_SETTINGS, errstr, sizeof(errstr)) != 0 ||
        !(res = pg_q(&lg, "SELECT current_database(), (pg_current_wal_lsn() - '0/0')::bigint", 0,
                     NULL, errstr, sizeof(errstr))))
        goto fail;
    lg.db = strdup(PQgetvalue(res, 0, 0));
    lg.last_commit_lsn = res_i64(res, 0, 1);
    PQclear(res);
    for (size_t i = 0; i < lg.ntables; i++)
        if (table_setup(&lg, &lg.tables[i], cdc_config_get_bool(cfg, "reset"), errstr,
                        sizeof(errstr)) != 0)
            goto fail;

    if (brokers && kafka_setup(&lg, cfg, errstr, sizeof(errstr)) != 0)
        goto fail;
    if (lg.fmt == CDC_LOADGEN_AVRO && registry_setup(&lg, registry, errstr, sizeof(errstr)) != 0)
        goto fail;

    /* Each change is 1..3 records; a JSON-with-schema value is ~3.5 KB and a
     * TOASTed note adds ~4 KB. Warn before the mock broker silently drops. */
    {
        int parts = lg.partitions > 0 ? lg.partitions : 1;
        if (lg.ntables && lg.tables[0].topic.nparts > 0)
            parts = lg.tables[0].topic.nparts;
        double per = (lg.fmt == CDC_LOADGEN_JSON   ? 3500.0
                      : lg.fmt == CDC_LOADGEN_AVRO ? 250.0
                                                   : 800.0) +
                     (lg.toast ? 4000.0 : 0.0);
        double msgs = (double)lg.events * 1.3 / (double)lg.ntables / parts;
        if (msgs > MOCK_MAX_MSGS || msgs * per > MOCK_MAX_BYTES)
            cdc_log_warn("about %.0f records / %.1f MB per partition: if the broker is "
                         "cdc-mock-broker it keeps only ~5 MB / 100k messages per partition and "
                         "drops the oldest; use more --partitions or fewer --events",
                         msgs, msgs * per / 1048576.0);
    }

    if (cdc_config_get_bool(cfg, "snapshot") && do_snapshot(&lg, errstr, sizeof(errstr)) != 0)
        goto fail;
    if (run_workload(&lg, errstr, sizeof(errstr)) != 0)
        goto fail;
    if (lg.hb_enc && heartbeat(&lg, errstr, sizeof(errstr)) != 0)
        goto fail;

    if (lg.rk) {
        /* Wait for every delivery report: the summary and exit status are
         * about what the broker acknowledged, not what we queued. */
        rd_kafka_resp_err_t ferr = rd_kafka_flush(lg.rk, 90000);
        if (ferr) {
            snprintf(errstr, sizeof(errstr), "%d records still undelivered after 90 s: %s",
                     rd_kafka_outq_len(lg.rk), rd_kafka_err2str(ferr));
            goto fail;
        }
        if (lg.failed) {
            snprintf(errstr, sizeof(errstr), "%lld records not delivered; first: %.400s",
                     (long long)lg.failed, lg.first_err);
            goto fail;
        }
    }
    rc = 0;
    goto summary;
fail:
    fprintf(stderr, "cdc-loadgen: %s\n", errstr);
    rc = 1;
summary:
    fprintf(stderr,
            "cdc-loadgen: changes=%lld c=%lld u=%lld d=%lld r=%lld t=%lld tombstones=%lld "
            "heartbeats=%lld records=%lld delivered=%lld failed=%lld\n",
            (long long)lg.changes, (long long)lg.ops[OP_C], (long long)lg.ops[OP_U],
            (long long)lg.ops[OP_D], (long long)lg.ops[OP_R], (long long)lg.ops[OP_T],
            (long long)lg.tombstones_n, (long long)lg.heartbeats, (long long)lg.records,
            (long long)lg.delivered, (long long)lg.failed);
    if (cdc_config_get(cfg, "summary-json") &&
        write_summary(&lg, cdc_config_get(cfg, "summary-json"), errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "cdc-loadgen: %s\n", errstr);
        rc = 1;
    }
out:
    if (lg.rk)
        rd_kafka_destroy(lg.rk);
    if (lg.conn)
        PQfinish(lg.conn);
    for (size_t i = 0; i < lg.ntables; i++) {
        lg_table_t *t = &lg.tables[i];
        cdc_loadgen_enc_destroy(t->enc);
        free(t->name);
        free(t->qname);
        free(t->keys);
        free(t->topic.last_off);
        free(t->sql_insert);
        free(t->sql_update);
        free(t->sql_update_note);
        free(t->sql_pk);
        free(t->sql_delete);
        free(t->sql_old);
    }
    free(lg.tables);
    for (size_t i = 0; i < lg.npend; i++) {
        cdc_loadgen_row_clear(&lg.pend[i].before);
        cdc_loadgen_row_clear(&lg.pend[i].after);
    }
    free(lg.pend);
    free(lg.hb.last_off);
    cdc_loadgen_enc_destroy(lg.hb_enc);
    free(lg.db);
    cdc_buf_free(&lg.kbuf);
    cdc_buf_free(&lg.vbuf);
    cdc_config_destroy(cfg);
    return rc;
}
