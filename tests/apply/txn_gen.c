/* A Debezium stream with transaction metadata (provide.transaction.metadata
 * =true) for orders + order_lines, written the way the PostgreSQL
 * connector 2.4 writes it with the JsonConverter (schemas.enable=true):
 * BEGIN and END records on <prefix>.transaction, the transaction block
 * {id, total_order, data_collection_order} in every data event, a
 * tombstone after each delete. Orders go to partition id % 3 of
 * <prefix>.public.orders, lines to id % 3 of <prefix>.public.order_lines:
 * the events of one transaction are spread over partitions and topics.
 * The model of the source is kept alongside (txn_gen.h). */
#include "txn_gen.h"

#include "th.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPT(t, f) "{\"type\":\"" t "\",\"optional\":true,\"field\":\"" f "\"}"
#define REQ(t, f) "{\"type\":\"" t "\",\"optional\":false,\"field\":\"" f "\"}"

static const char *const source_schema =
    "{\"type\":\"struct\",\"fields\":[" REQ("string", "version") "," REQ("string", "connector") "," REQ("string", "name") "," REQ(
        "int64",
        "ts_ms") ","
                 "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\","
                 "\"version\":1,"
                 "\"parameters\":{\"allowed\":\"true,last,false,incremental\"},\"default\":"
                 "\"false\","
                 "\"field\":\"snapshot\"}," REQ("string", "db") "," OPT("string", "sequence") "," REQ(
                     "string",
                     "schema") "," REQ("string",
                                       "table") "," OPT("int64",
                                                        "txId") "," OPT("int64",
                                                                        "lsn") "," OPT("int64",
                                                                                       "xmin") "],"
                                                                                               "\"o"
                                                                                               "pti"
                                                                                               "ona"
                                                                                               "l\""
                                                                                               ":fa"
                                                                                               "lse"
                                                                                               ",\""
                                                                                               "nam"
                                                                                               "e\""
                                                                                               ":\""
                                                                                               "io."
                                                                                               "deb"
                                                                                               "ezi"
                                                                                               "um."
                                                                                               "con"
                                                                                               "nec"
                                                                                               "tor"
                                                                                               ".po"
                                                                                               "stg"
                                                                                               "res"
                                                                                               "ql."
                                                                                               "Sou"
                                                                                               "rce"
                                                                                               "\","
                                                                                               "\"f"
                                                                                               "iel"
                                                                                               "d\""
                                                                                               ":\""
                                                                                               "sou"
                                                                                               "rce"
                                                                                               "\""
                                                                                               "}";

static const char *const block_schema =
    "{\"type\":\"struct\",\"fields\":[" REQ("string", "id") "," REQ("int64", "total_order") "," REQ(
        "int64", "data_collection_order") "],\"optional\":true,\"name\":\"event.block\","
                                          "\"version\":1,\"field\":\"transaction\"}";

static void produce(tg_t *g, const char *topic, int32_t part, const char *key, const char *value)
{
    rd_kafka_resp_err_t err;
    do {
        err = rd_kafka_producev(
            g->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE((void *)(uintptr_t)value, value ? strlen(value) : 0), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(g->rk, 50);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    TH_ASSERT(err == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_poll(g->rk, 0);
}

/* Macros, not variables: literal formats the compiler checks at -O0 too. */
#define KEY_FMT                                                                                    \
    "{\"schema\":{\"type\":\"struct\",\"fields\":[" REQ(                                           \
        "int64", "id") "],\"optional\":false,"                                                     \
                       "\"name\":\"%s.public.%s.Key\"},\"payload\":{\"id\":%lld}}"

/* Pending events of the open transaction (produced at its END). */
typedef struct ev {
    bool line;
    long long id;
    char *key, *value;
    bool tombstone;
} ev_t;

static ev_t pend[4096];
static int npend, ndata, norder_ev, nline_ev;

static void row_json(const tg_t *g, bool line, long long id, char *out, size_t n)
{
    if (line)
        snprintf(out, n, "{\"id\":%lld,\"order_id\":%lld,\"qty\":%d}", id, g->lines[id].order_id,
                 g->lines[id].qty);
    else
        snprintf(out, n, "{\"id\":%lld,\"nlines\":%d,\"note\":\"n%d\"}", id, g->orders[id].nlines,
                 g->orders[id].note);
}

static void event(tg_t *g, bool line, long long id, char op, const char *before, const char *after)
{
    const char *table = line ? "order_lines" : "orders";
    const char *fields =
        line ? REQ("int64", "id") "," REQ("int64", "order_id") "," OPT("int32", "qty")
             : REQ("int64", "id") "," REQ("int32", "nlines") "," OPT("string", "note");
    size_t cap = 8192;
    char *v = malloc(cap);
    char *k = malloc(512);
    TH_ASSERT(v && k);
    int order = ++ndata; /* total_order counts data events only */
    int dco = line ? ++nline_ev : ++norder_ev;
    long long lsn = g->lsn += 8;
    snprintf(
        v, cap,
        "{\"schema\":{\"type\":\"struct\",\"fields\":["
        "{\"type\":\"struct\",\"fields\":[%s],\"optional\":true,\"name\":\"%s.public.%s."
        "Value\",\"field\":\"before\"},"
        "{\"type\":\"struct\",\"fields\":[%s],\"optional\":true,\"name\":\"%s.public.%s."
        "Value\",\"field\":\"after\"},%s," REQ("string", "op") "," OPT(
            "int64",
            "ts_ms") ",%s"
                     "],\"optional\":false,\"name\":\"%s.public.%s.Envelope\",\"version\":1},"
                     "\"payload\":{\"before\":%s,\"after\":%s,\"source\":{\"version\":\"2.4.2."
                     "Final\","
                     "\"connector\":\"postgresql\",\"name\":\"%s\",\"ts_ms\":%lld,\"snapshot\":"
                     "\"false\","
                     "\"db\":\"src\",\"sequence\":\"[\\\"%lld\\\",\\\"%lld\\\"]\",\"schema\":"
                     "\"public\","
                     "\"table\":\"%s\",\"txId\":%lld,\"lsn\":%lld,\"xmin\":null},\"op\":\"%c\","
                     "\"ts_ms\":%lld,\"transaction\":{\"id\":\"%lld:%lld\",\"total_order\":%d,"
                     "\"data_collection_order\":%d}}}",
        fields, g->prefix, table, fields, g->prefix, table, source_schema, block_schema, g->prefix,
        table, before ? before : "null", after ? after : "null", g->prefix,
        1700000000000LL + g->txid, g->last_commit, lsn, table, g->txid, lsn, op,
        1700000000100LL + g->txid, g->txid, g->begin_lsn, order, dco);
    snprintf(k, 512, KEY_FMT, g->prefix, table, id);
    TH_ASSERT(npend < 4000);
    pend[npend++] = (ev_t){line, id, k, v, false};
    if (op == 'd') {
        /* tombstones.on.delete=true: the key with a null value, no block. */
        char *k2 = malloc(512);
        TH_ASSERT(k2);
        snprintf(k2, 512, KEY_FMT, g->prefix, table, id);
        pend[npend++] = (ev_t){line, id, k2, NULL, true};
    }
}

#define TXKEY_FMT                                                                                  \
    "{\"schema\":{\"type\":\"struct\",\"fields\":[" REQ(                                           \
        "string", "id") "],\"optional\":false,"                                                    \
                        "\"name\":\"io.debezium.connector.common.TransactionMetadataKey\"},"       \
                        "\"payload\":{\"id\":"                                                     \
                        "\"%lld:%lld\"}}"

static void tx_record(tg_t *g, bool end, int count)
{
    char key[512], val[4096], dc[512] = "null", cnt[32] = "null";
    snprintf(key, sizeof(key), TXKEY_FMT, g->txid, g->begin_lsn);
    if (end) {
        snprintf(cnt, sizeof(cnt), "%d", count);
        int n = snprintf(dc, sizeof(dc), "[");
        if (norder_ev)
            n += snprintf(dc + n, sizeof(dc) - (size_t)n,
                          "{\"data_collection\":\"public.orders\",\"event_count\":%d}", norder_ev);
        if (nline_ev)
            snprintf(dc + n, sizeof(dc) - (size_t)n,
                     "%s{\"data_collection\":\"public.order_lines\",\"event_count\":%d}]",
                     norder_ev ? "," : "", nline_ev);
        else
            snprintf(dc + n, sizeof(dc) - (size_t)n, "]");
    }
    snprintf(
        val, sizeof(val),
        "{\"schema\":{\"type\":\"struct\",\"fields\":[" REQ("string", "status") "," REQ(
            "string",
            "id") "," OPT("int64",
                          "event_count") ","
                                         "{\"type\":\"array\",\"items\":{\"type\":\"struct\","
                                         "\"fields\":[" REQ("string", "data_collection") "," REQ(
                                             "int64",
                                             "event_count") "],\"optional\":"
                                                            "false},"
                                                            "\"optional\":true,\"field\":"
                                                            "\"data_"
                                                            "collections\"}," REQ(
                                                                "int64",
                                                                "ts_ms") "],"
                                                                         "\"optional\":false,"
                                                                         "\"name\":\"io."
                                                                         "debezium."
                                                                         "connector.common."
                                                                         "TransactionMetadataVa"
                                                                         "lue"
                                                                         "\",\"version\":1},"
                                                                         "\"payload\":{"
                                                                         "\"status\":"
                                                                         "\"%s\",\"id\":"
                                                                         "\"%lld:%lld\","
                                                                         "\"event_"
                                                                         "count\":%s,\"data_"
                                                                         "collections\":%s,"
                                                                         "\"ts_"
                                                                         "ms\":%lld}}",
        end ? "END" : "BEGIN", g->txid, g->begin_lsn, cnt, dc, 1700000000000LL + g->txid);
    produce(g, g->ttx, 0, key, val);
}

void tg_init(tg_t *g, rd_kafka_t *rk, const char *prefix, int parts)
{
    memset(g, 0, sizeof(*g));
    g->rk = rk;
    g->parts = parts;
    snprintf(g->prefix, sizeof(g->prefix), "%s", prefix);
    snprintf(g->torders, sizeof(g->torders), "%s.public.orders", prefix);
    snprintf(g->tlines, sizeof(g->tlines), "%s.public.order_lines", prefix);
    snprintf(g->ttx, sizeof(g->ttx), "%s.transaction", prefix);
    snprintf(g->topics, sizeof(g->topics), "%s,%s,%s", g->torders, g->tlines, g->ttx);
    g->txid = 500;
    g->lsn = 1000000;
}

void tg_begin(tg_t *g)
{
    g->txid++;
    g->begin_lsn = g->lsn + 1;
    npend = ndata = norder_ev = nline_ev = 0;
}

void tg_commit(tg_t *g)
{
    int count = 0;
    for (int i = 0; i < npend; i++)
        count += !pend[i].tombstone;
    tx_record(g, false, 0);
    int held = g->hold_last && npend > 0;
    for (int i = 0; i < npend - held; i++) {
        produce(g, pend[i].line ? g->tlines : g->torders, (int32_t)(pend[i].id % g->parts),
                pend[i].key, pend[i].value);
        free(pend[i].key);
        free(pend[i].value);
    }
    tx_record(g, true, count);
    if (held)
        pend[0] = pend[npend - 1];
    npend = held;
    g->last_commit = g->lsn;
    g->ntxn++;
    g->nevents += count;
}

void tg_order_create(tg_t *g, long long id, int nlines)
{
    TH_ASSERT(id < TG_MAX);
    g->orders[id] = (tg_order_t){true, nlines, (int)(id % 7)};
    char a[256];
    row_json(g, false, id, a, sizeof(a));
    event(g, false, id, 'c', NULL, a);
}

void tg_order_touch(tg_t *g, long long id, int dlines)
{
    char b[256], a[256];
    row_json(g, false, id, b, sizeof(b));
    g->orders[id].nlines += dlines;
    g->orders[id].note++;
    row_json(g, false, id, a, sizeof(a));
    event(g, false, id, 'u', b, a);
}

/* The delete event of order or line @p id (its last image as before). */
static void row_delete(tg_t *g, bool line, long long id)
{
    char b[256];
    row_json(g, line, id, b, sizeof(b));
    if (line)
        g->lines[id].live = false;
    else
        g->orders[id].live = false;
    event(g, line, id, 'd', b, NULL);
}

void tg_order_delete(tg_t *g, long long id)
{
    row_delete(g, false, id);
}

void tg_line_create(tg_t *g, long long order_id)
{
    long long id = ++g->next_line;
    TH_ASSERT(id < TG_MAX);
    g->lines[id] = (tg_line_t){true, order_id, (int)(id % 5) + 1};
    char a[256];
    row_json(g, true, id, a, sizeof(a));
    event(g, true, id, 'c', NULL, a);
}

void tg_line_delete(tg_t *g, long long id)
{
    row_delete(g, true, id);
}

void tg_line_create_poison(tg_t *g, long long order_id)
{
    long long id = ++g->next_line;
    TH_ASSERT(id < TG_MAX);
    g->lines[id] = (tg_line_t){false, order_id, 0};
    char a[256];
    snprintf(a, sizeof(a), "{\"id\":%lld,\"order_id\":%lld,\"qty\":\"many\"}", id, order_id);
    event(g, true, id, 'c', NULL, a);
}

void tg_produce_held(tg_t *g)
{
    TH_ASSERT(npend == 1);
    produce(g, pend[0].line ? g->tlines : g->torders, (int32_t)(pend[0].id % g->parts), pend[0].key,
            pend[0].value);
    free(pend[0].key);
    free(pend[0].value);
    npend = 0;
}

void tg_random_txn(tg_t *g)
{
    tg_begin(g);
    int r = rand() % 100;
    long long pick = g->next_order > g->keep ? g->keep + 1 + rand() % (g->next_order - g->keep) : 0;
    if (r < 50 || !pick || !g->orders[pick].live) {
        long long id = ++g->next_order;
        int k = 1 + rand() % 4;
        tg_order_create(g, id, k);
        for (int i = 0; i < k; i++)
            tg_line_create(g, id);
    } else if (r < 80) {
        /* a line added or removed, and the order's count with it */
        long long victim = 0;
        for (long long l = g->next_line; l > 0 && !victim && l > g->next_line - 400; l--)
            if (g->lines[l].live && g->lines[l].order_id == pick)
                victim = l;
        if (victim && rand() % 2) {
            tg_line_delete(g, victim);
            tg_order_touch(g, pick, -1);
        } else {
            tg_line_create(g, pick);
            tg_order_touch(g, pick, +1);
        }
    } else {
        for (long long l = 1; l <= g->next_line; l++)
            if (g->lines[l].live && g->lines[l].order_id == pick)
                tg_line_delete(g, l);
        tg_order_delete(g, pick);
    }
    tg_commit(g);
}

void tg_flush(tg_t *g)
{
    TH_ASSERT(rd_kafka_flush(g->rk, 60000) == RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* "a;b;..." of the live rows 1..@p n, each written by @p put (at most
 * @p each bytes). */
static char *expect_join(const tg_t *g, long long n, size_t each,
                         int (*put)(const tg_t *, long long, char *, size_t))
{
    size_t cap = 64 + (size_t)n * each, len = 0;
    char *s = malloc(cap);
    TH_ASSERT(s);
    s[0] = 0;
    for (long long i = 1; i <= n; i++) {
        if (len)
            s[len++] = ';';
        int w = put(g, i, s + len, cap - len);
        if (w <= 0 && len) /* not live: take the separator back */
            s[--len] = 0;
        else if (w > 0)
            len += (size_t)w;
    }
    return s;
}

static int put_order(const tg_t *g, long long i, char *out, size_t cap)
{
    if (!g->orders[i].live)
        return 0;
    return snprintf(out, cap, "%lld:%d:n%d", i, g->orders[i].nlines, g->orders[i].note);
}

static int put_line(const tg_t *g, long long i, char *out, size_t cap)
{
    if (!g->lines[i].live)
        return 0;
    return snprintf(out, cap, "%lld:%lld:%d", i, g->lines[i].order_id, g->lines[i].qty);
}

char *tg_expect_orders(const tg_t *g)
{
    return expect_join(g, g->next_order, 32, put_order);
}

char *tg_expect_lines(const tg_t *g)
{
    return expect_join(g, g->next_line, 40, put_line);
}
