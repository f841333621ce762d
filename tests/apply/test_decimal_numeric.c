/* apply-decimal-numeric: decimals written as JSON numbers (JsonConverter
 * decimal.format=NUMERIC) land with their exact digits, never through a
 * double.
 *
 * Target public.n (id bigint PK, m numeric(24,2), w numeric(30,0)), records
 * with schema (Decimal scale 2 precision 24, scale 0 precision 30):
 *   1: m 1234567890123456789012.34, w 123456789012345678901234567890
 *   2: m 9007199254740993.01, w 1e2 (exponent form: 100)
 *   exit 0, both stored digit for digit.
 * Target public.b (id bigint PK, m numeric(22,2)), schemaless:
 *   1: m 12345678901234567890.12, exit 0, stored exactly.
 * Then m 1.234 (more fraction digits than the scale) arrives on the schema
 *   topic: exit 1, one ERROR line naming topic[0]@2, after.m and the scale,
 *   the row is not written and the position stays at 2. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"

#include <string.h>

#define SRC                                                                                        \
    "{\"version\":\"2.5.0.Final\",\"connector\":\"postgresql\",\"name\":\"dbserver1\",\"ts_ms\":"  \
    "1700000000123,\"snapshot\":\"false\",\"db\":\"shop\",\"sequence\":\"[null,\\\"26658848\\\"]"  \
    "\",\"schema\":\"public\",\"table\":\"%s\",\"txId\":771,\"lsn\":26658848,\"xmin\":null}"

#define DEC(f, s, p)                                                                               \
    "{\"type\":\"bytes\",\"optional\":true,\"name\":\"org.apache.kafka.connect.data.Decimal\","    \
    "\"version\":1,\"parameters\":{\"scale\":\"" s "\",\"connect.decimal.precision\":\"" p         \
    "\"},\"field\":\"" f "\"}"

#define ROW(img)                                                                                   \
    "{\"type\":\"struct\",\"fields\":[{\"type\":\"int64\",\"optional\":false,\"field\":\"id\"}"    \
    "," DEC("m", "2", "24") "," DEC("w", "0",                                                      \
                                    "30") "],\"optional\":true,\"name\":"                          \
                                          "\"dbserver1.public.n.Value\",\"field\":\"" img "\"}"

#define SCHEMA                                                                                     \
    "{\"type\":\"struct\",\"fields\":[" ROW("before") "," ROW(                                     \
        "after") ",{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,"      \
                 "\"field\":\"version\"},{\"type\":\"string\",\"optional\":false,\"field\":"       \
                 "\"connector\"},{\"type\":\"string\",\"optional\":false,\"field\":\"name\"},{"    \
                 "\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},{\"type\":"           \
                 "\"string\",\"optional\":true,\"field\":\"snapshot\"},{\"type\":\"string\","      \
                 "\"optional\":false,\"field\":\"db\"},{\"type\":\"string\",\"optional\":true,"    \
                 "\"field\":\"sequence\"},{\"type\":\"string\",\"optional\":false,\"field\":"      \
                 "\"schema\"},{\"type\":\"string\",\"optional\":false,\"field\":\"table\"},{"      \
                 "\"type\":\"int64\",\"optional\":true,\"field\":\"txId\"},{\"type\":\"int64\","   \
                 "\"optional\":true,\"field\":\"lsn\"},{\"type\":\"int64\",\"optional\":true,"     \
                 "\"field\":\"xmin\"}],\"optional\":false,\"name\":"                               \
                 "\"io.debezium.connector.postgresql.Source\",\"field\":\"source\"},{\"type\":"    \
                 "\"string\",\"optional\":false,\"field\":\"op\"},{\"type\":\"int64\","            \
                 "\"optional\":true,\"field\":\"ts_ms\"}],\"optional\":false,\"name\":"            \
                 "\"dbserver1.public.n.Envelope\",\"version\":2}"

static void produce(rd_kafka_t *rk, const char *topic, const char *table, bool schema, long long id,
                    const char *after)
{
    char src[512];
    snprintf(src, sizeof(src), SRC, table);
    char *v = NULL;
    TH_ASSERT(asprintf(&v,
                       "%s{\"before\":null,\"after\":{\"id\":%lld,%s},\"source\":%s,\"op\":\"c\","
                       "\"ts_ms\":1700000000456,\"transaction\":null}%s",
                       schema ? "{\"schema\":" SCHEMA ",\"payload\":" : "", id, after, src,
                       schema ? "}" : "") > 0);
    ta_produce_keyed(rk, topic, id, v);
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    const char *tn = ta_topic_new(&b, "dn", 1), *tb = ta_topic_new(&b, "db", 1);
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "CREATE TABLE public.n (id bigint PRIMARY KEY, m numeric(24,2), w "
                         "numeric(30,0));"
                         "CREATE TABLE public.b (id bigint PRIMARY KEY, m numeric(22,2))") == 0);
    rd_kafka_t *rk = ta_producer_new(&b);
    produce(rk, tn, "n", true, 1,
            "\"m\":1234567890123456789012.34,\"w\":123456789012345678901234567890");
    produce(rk, tn, "n", true, 2, "\"m\":9007199254740993.01,\"w\":1e2");
    produce(rk, tb, "b", false, 1, "\"m\":12345678901234567890.12");
    const char *group = th_unique("g");
    char topics[256], log[128];
    snprintf(topics, sizeof(topics), "^(%s|%s)$", tn, tb);
    snprintf(log, sizeof(log), "/tmp/%s.log", th_unique("decnum"));
    const char *const *args =
        TA_APPLY_ARGS(b.bootstrap, group, topics, pg.target_conninfo, "--format", "json",
                      "--exit-on-idle", "2", "--metrics-addr", "");
    TH_CHECK_INT(ta_apply_run(args, log, 60000), 0);
    TA_CHECK_COUNTS(
        pg.target_conninfo,
        {"public.n WHERE id = 1 AND m::text = '1234567890123456789012.34' AND "
         "w::text = '123456789012345678901234567890'",
         1},
        {"public.n WHERE id = 2 AND m::text = '9007199254740993.01' AND w::text = '100'", 1},
        {"public.b WHERE id = 1 AND m::text = '12345678901234567890.12'", 1});

    /* A digit beyond the schema's scale: refused, not rounded. */
    produce(rk, tn, "n", true, 3, "\"m\":1.234,\"w\":null");
    char want[256];
    snprintf(want, sizeof(want), "%s[0]@2: value.payload.after.m: the decimal 1.234 has more", tn);
    ta_check_stops_at(pg.target_conninfo, args, log, "public.n WHERE id = 3", group, tn, 2, want,
                      "scale 2");
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
    TH_DONE();
}
