/* apply-livecheck-types: the live check judges a value by the target
 * column's type as cdc-verify does (by OID), so equal data is never a
 * mismatch and a real narrowing always is.
 *
 * One topic carries inserts (Debezium 2.4 JSON with schema, compact) into
 * one table per case; each table has an int key and one column v:
 *
 *   dnum    a domain over numeric(12,2); Decimal scale 1: 1.5 is 1.50
 *   ddom    a domain over that domain: the same values
 *   adom    an array of the domain; arrays of doubles [1.5,2]
 *   comp    a composite named public.numeric (a int, b text): "(01,x)" is
 *           stored as (1,x), equal; it is not read as a number
 *   enum    an enum: Debezium's Enum strings
 *   json    jsonb with integers beyond int64 and 1.0 vs 1.00
 *   tstz    timestamptz(3) from ZonedTimestamp with microseconds: 1 row at
 *           whole milliseconds (equal), 1 with .945104 (stored .945)
 *   narrow  numeric(12,1) from Decimal scale 2: 12.34 and 5.55 are rounded
 *           (2 mismatches), 12.30 is equal
 *
 * cdc-apply runs until cdc_events_total counts every record (the live
 * counters are added before it); asserted exactly per table:
 * cdc_live_check_rows_total{result="match"|"mismatch"} and
 * cdc_table_consistency_score = match / (match + mismatch).
 *
 * The score is the share since start: table refresh gets one narrowed row
 * of two, then a column is added (the catalog loads a new description of
 * the table) and two equal rows: 0.75, not the new description's 1. Table
 * gone receives only deletes: its counters are 0 and it has no score
 * series (nothing was checked, so no 1 is claimed). */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"
#include "th_registry.h"

#include <sys/wait.h>
#include <unistd.h>

#define DEC1                                                                                       \
    "\"type\":\"bytes\",\"name\":\"org.apache.kafka.connect.data.Decimal\",\"version\":1,"         \
    "\"parameters\":{\"scale\":\"1\",\"connect.decimal.precision\":\"12\"}"
#define DEC2                                                                                       \
    "\"type\":\"bytes\",\"name\":\"org.apache.kafka.connect.data.Decimal\",\"version\":1,"         \
    "\"parameters\":{\"scale\":\"2\",\"connect.decimal.precision\":\"12\"}"

typedef struct lcase {
    const char *table;
    const char *coltype; /* the target column's type */
    const char *field;   /* the Connect schema of v (inside {...,"field":"v"}) */
    const char *values[4];
    int mismatches;
} lcase_t;

static const lcase_t cases[] = {
    {"dnum", "lc_money", DEC1, {"\"Dw==\"", "\"FA==\"", "\"ew==\""}, 0},
    {"ddom", "lc_money2", DEC1, {"\"Dw==\"", "\"FA==\"", "\"ew==\""}, 0},
    {"adom",
     "lc_money[]",
     "\"type\":\"array\",\"items\":{\"type\":\"double\",\"optional\":true}",
     {"[1.5,2]", "[0.1,null]"},
     0},
    {"comp", "public.numeric", "\"type\":\"string\"", {"\"(01,x)\"", "\"(2,\\\"y z\\\")\""}, 0},
    {"enum",
     "lc_status",
     "\"type\":\"string\",\"name\":\"io.debezium.data.Enum\",\"version\":1,\"parameters\":"
     "{\"allowed\":\"new,paid\"}",
     {"\"new\"", "\"paid\""},
     0},
    {"json",
     "jsonb",
     "\"type\":\"string\",\"name\":\"io.debezium.data.Json\",\"version\":1",
     {"\"{\\\"n\\\":123456789012345678901234567890,\\\"m\\\":-9223372036854775809}\"",
      "\"{\\\"a\\\":[1.0,1.00,1e2]}\""},
     0},
    {"tstz",
     "timestamptz(3)",
     "\"type\":\"string\",\"name\":\"io.debezium.time.ZonedTimestamp\",\"version\":1",
     {"\"2018-06-20T15:13:16.945000Z\"", "\"2018-06-20T15:13:16.945104Z\""},
     1},
    {"narrow", "numeric(12,1)", DEC2, {"\"BNI=\"", "\"BM4=\"", "\"Ais=\""}, 2},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* A Debezium event into public.@p table: @p fields is the JSON array of
 * the row's Connect field schemas, @p before/@p after payload images
 * (JSON text, NULL for null). */
static char *dbz_event(const char *table, const char *fields, char op, const char *before,
                       const char *after)
{
    char *s = NULL;
    TH_ASSERT(
        asprintf(
            &s,
            "{\"schema\":{\"type\":\"struct\",\"fields\":["
            "{\"type\":\"struct\",\"fields\":%s,\"optional\":true,\"name\":\"srv.public.%s.Value\","
            "\"field\":\"before\"},"
            "{\"type\":\"struct\",\"fields\":%s,\"optional\":true,\"name\":\"srv.public.%s.Value\","
            "\"field\":\"after\"},"
            "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":"
            "\"version\"},{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},{\"type\":"
            "\"string\",\"optional\":false,\"field\":\"schema\"},{\"type\":\"string\","
            "\"optional\":false,\"field\":\"table\"}],\"optional\":false,\"name\":"
            "\"io.debezium.connector.postgresql.Source\",\"field\":\"source\"},"
            "{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},"
            "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"}],"
            "\"optional\":false,\"name\":\"srv.public.%s.Envelope\"},"
            "\"payload\":{\"before\":%s,\"after\":%s,\"source\":{\"version\":"
            "\"2.4.2.Final\",\"ts_ms\":1700000000000,\"schema\":\"public\",\"table\":\"%s\"},"
            "\"op\":\"%c\",\"ts_ms\":1700000000001}}",
            fields, table, fields, table, table, before ? before : "null", after ? after : "null",
            table, op) > 0);
    return s;
}

/* The Connect field schemas of (id, v[, w int32]) with v of schema @p v. */
static void row_fields(char *out, size_t size, const char *v, bool w)
{
    snprintf(out, size,
             "[{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"},{%s,\"optional\":true,"
             "\"field\":\"v\"}%s]",
             v, w ? ",{\"type\":\"int32\",\"optional\":true,\"field\":\"w\"}" : "");
}

static void produce(rd_kafka_t *rk, const char *topic, int id, char *val)
{
    char *key = ta_dbz_key("id", id);
    TH_ASSERT(th_kafka_produce_sync(rk, topic, 0, key, val, 10000) == 0);
    free(key);
    free(val);
}

/* A create event of (id, v) into the case's table. */
static char *create_event(const lcase_t *c, int id, const char *value)
{
    char fields[1024], after[600];
    row_fields(fields, sizeof(fields), c->field, false);
    snprintf(after, sizeof(after), "{\"id\":%d,\"v\":%s}", id, value);
    return dbz_event(c->table, fields, 'c', NULL, after);
}

/* Scrape @p url until cdc_events_total reaches @p events (the live-check
 * counters of a batch are added before its events are counted), 60 s at
 * most; returns the last body (caller frees) or NULL. */
static char *scrape_applied(pid_t pid, const char *url, double events)
{
    const char *labels[] = {NULL};
    return ta_scrape_until(pid, url, "cdc_events_total", labels, &events, 1, 60000);
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    th_pg_start(&pg);
    TH_ASSERT(th_broker_start(&b, 1, NULL) == 0);
    char topic[64];
    snprintf(topic, sizeof(topic), "%s", th_unique("lctypes"));
    TH_ASSERT(th_broker_cmd(&b, "create %s 1", topic) == 0);

    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "CREATE DOMAIN lc_money AS numeric(12,2);"
                         "CREATE DOMAIN lc_money2 AS lc_money CHECK (VALUE >= 0);"
                         "CREATE TYPE public.numeric AS (a int, b text);"
                         "CREATE TYPE lc_status AS ENUM ('new', 'paid')") == 0);
    rd_kafka_t *rk = ta_producer_new(&b);
    int records = 0;
    for (size_t i = 0; i < NCASES; i++) {
        const lcase_t *c = &cases[i];
        char ddl[300];
        snprintf(ddl, sizeof(ddl), "CREATE TABLE public.%s (id int PRIMARY KEY, v %s)", c->table,
                 c->coltype);
        TH_ASSERT(th_pg_exec(pg.target_conninfo, ddl) == 0);
        for (int k = 0; k < 4 && c->values[k]; k++, records++)
            produce(rk, topic, k + 1, create_event(c, k + 1, c->values[k]));
    }
    /* refresh: numeric(12,1) from scale 2, 12.34 (narrowed) and 12.30;
     * after a column is added, two more 12.30 rows through the refreshed
     * description. Since start: 3 matches of 4. */
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "CREATE TABLE public.refresh (id int PRIMARY KEY, v numeric(12,1))") == 0);
    char f2[1024], f3[1024];
    row_fields(f2, sizeof(f2), DEC2, false);
    row_fields(f3, sizeof(f3), DEC2, true);
    produce(rk, topic, 1, dbz_event("refresh", f2, 'c', NULL, "{\"id\":1,\"v\":\"BNI=\"}"));
    produce(rk, topic, 2, dbz_event("refresh", f2, 'c', NULL, "{\"id\":2,\"v\":\"BM4=\"}"));
    records += 2;
    /* gone: only deletes, so no row is read back: no score series. */
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "CREATE TABLE public.gone (id int PRIMARY KEY, v int);"
                                             "INSERT INTO public.gone VALUES (1, 1), (2, 2)") == 0);
    char fi[1024];
    row_fields(fi, sizeof(fi), "\"type\":\"int32\"", false);
    produce(rk, topic, 1, dbz_event("gone", fi, 'd', "{\"id\":1,\"v\":1}", NULL));
    produce(rk, topic, 2, dbz_event("gone", fi, 'd', "{\"id\":2,\"v\":2}", NULL));
    records += 2;

    int port = ta_free_port();
    char addr[64], url[128], log[128];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    snprintf(log, sizeof(log), "/tmp/%s.log", th_unique("livecheck-types"));
    const char *const *ap =
        TA_APPLY_ARGS(b.bootstrap, th_unique("g"), topic, pg.target_conninfo, "--metrics-addr",
                      addr, "--live-check-rows", "1000", TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(ap, log);
    TH_ASSERT(pid > 0);
    char *body = scrape_applied(pid, url, records);
    free(body);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "ALTER TABLE public.refresh ADD COLUMN w int") == 0);
    produce(rk, topic, 3, dbz_event("refresh", f3, 'c', NULL, "{\"id\":3,\"v\":\"BM4=\",\"w\":3}"));
    produce(rk, topic, 4, dbz_event("refresh", f3, 'c', NULL, "{\"id\":4,\"v\":\"BM4=\",\"w\":4}"));
    records += 2;
    rd_kafka_destroy(rk);
    body = scrape_applied(pid, url, records);
    kill(pid, SIGTERM);
    TH_CHECK_INT(ta_wait(pid, 30000), 0);
    TH_ASSERT(body != NULL);
    TH_CHECK(ta_metric_sum(body, "cdc_events_total", NULL) == records);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT count(w) FROM public.refresh"), 2);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, "SELECT count(*) FROM public.gone"), 0);

    TH_CHECK(ta_metric_sum(body, "cdc_live_check_rows_total",
                           "table=\"public.refresh\",result=\"match\"") == 3);
    TH_CHECK(ta_metric_sum(body, "cdc_live_check_rows_total",
                           "table=\"public.refresh\",result=\"mismatch\"") == 1);
    TH_CHECK(ta_metric_sum(body, "cdc_table_consistency_score", "table=\"public.refresh\"") ==
             0.75);
    TH_CHECK(strstr(body, "cdc_live_check_rows_total{table=\"public.gone\",result=\"match\"} 0"));
    TH_CHECK(strstr(body, "cdc_table_consistency_score{table=\"public.gone\"") == NULL);

    for (size_t i = 0; i < NCASES; i++) {
        const lcase_t *c = &cases[i];
        int rows = 0;
        while (rows < 4 && c->values[rows])
            rows++;
        char lt[128], lm[200];
        snprintf(lt, sizeof(lt), "table=\"public.%s\"", c->table);
        snprintf(lm, sizeof(lm), "%s,result=\"mismatch\"", lt);
        double mism = ta_metric_sum(body, "cdc_live_check_rows_total", lm);
        snprintf(lm, sizeof(lm), "%s,result=\"match\"", lt);
        double match = ta_metric_sum(body, "cdc_live_check_rows_total", lm);
        double score = ta_metric_sum(body, "cdc_table_consistency_score", lt);
        double want = 1.0 - (double)c->mismatches / rows;
        fprintf(stderr, "%-6s %-15s match %.0f mismatch %.0f score %g\n", c->table, c->coltype,
                match, mism, score);
        TH_CHECK(mism == c->mismatches);
        TH_CHECK(match == rows - c->mismatches);
        TH_CHECK(score > want - 1e-9 && score < want + 1e-9);
    }

    char *text = ta_slurp(log);
    TH_ASSERT(text);
    TH_CHECK(strstr(text, "public.narrow stored a different value in column \"v\"") != NULL);
    TH_CHECK(strstr(text, "public.tstz stored a different value in column \"v\"") != NULL);
    TH_CHECK(strstr(text, "public.dnum stored a different value") == NULL);
    ta_dump_log_metrics(text, body);
    ta_stop(&pg, &b);
    TH_DONE();
}
