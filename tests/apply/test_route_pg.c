/* apply-route-pg: a source schema or table with a dot reaches its own
 * table, end to end.
 *
 * Target schema "Sch.ema" with table ta"ble é (no primary key: keyed by
 * --key-columns '"Sch.ema"."ta""ble é":id'), and a decoy schema "Sch" with
 * table ema.ta"ble é, where the old first-dot split sent the rows. Debezium
 * events (with schemas) for source schema Sch.ema: create 1, create 2,
 * update 1. Default --table-format: the rows are in "Sch.ema", the decoy
 * is empty. Custom --table-format '"Sch.ema"."t."${source.table}' with
 * source table 2 goes to "Sch.ema"."t.2". A format with two unquoted dots
 * exits 2 with a one-line error. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"

#include <string.h>
#include <unistd.h>

static const ta_field_t fields[] = {{"id", "int64", false}, {"v", "string", true}};

static void produce(rd_kafka_t *rk, const char *topic, const char *table, char op, long long id,
                    const char *val)
{
    json_t *img = json_pack("{s:I,s:s}", "id", (json_int_t)id, "v", val);
    json_t *before = op == 'c' ? NULL : json_pack("{s:I,s:s}", "id", (json_int_t)id, "v", "old");
    char *v = ta_dbz_value("Sch.ema", table, op, fields, 2, before, img);
    char *k = ta_dbz_key("id", id);
    TH_ASSERT(th_kafka_produce_sync(rk, topic, 0, k, v, 10000) == 0);
    free(k);
    free(v);
}

static int run(th_pg_t *pg, th_broker_t *b, const char *topic, const char *fmt, const char *log)
{
    const char *const *args =
        TA_APPLY_ARGS(b->bootstrap, th_unique("g"), topic, pg->target_conninfo, "--exit-on-idle",
                      "2", "--metrics-addr", "", "--key-columns", "\"Sch.ema\".\"ta\"\"ble é\":id",
                      TA_FAST_GROUP, fmt ? "--table-format" : NULL, fmt);
    return ta_apply_run_logged(args, log, 30000);
}

static void check(th_pg_t *pg, const char *sql, const char *want)
{
    char *got = th_pg_query_value(pg->target_conninfo, sql);
    TH_CHECK_STR(got ? got : "(null)", want);
    free(got);
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    TH_ASSERT(
        th_pg_exec(pg.target_conninfo,
                   "CREATE SCHEMA \"Sch.ema\"; CREATE SCHEMA \"Sch\"; "
                   "CREATE TABLE \"Sch.ema\".\"ta\"\"ble é\" (id bigint, v text); "
                   "CREATE TABLE \"Sch\".\"ema.ta\"\"ble é\" (id bigint PRIMARY KEY, v text); "
                   "CREATE TABLE \"Sch.ema\".\"t.2\" (id bigint PRIMARY KEY, v text)") == 0);
    rd_kafka_t *rk = ta_producer_new(&b);

    fprintf(stderr, "--- default --table-format\n");
    char topic[64], log[128];
    snprintf(topic, sizeof(topic), "%s", th_unique("dots"));
    snprintf(log, sizeof(log), "/tmp/%s.log", topic);
    TH_ASSERT(th_broker_cmd(&b, "create %s 1", topic) == 0);
    produce(rk, topic, "ta\"ble é", 'c', 1, "one");
    produce(rk, topic, "ta\"ble é", 'c', 2, "two");
    produce(rk, topic, "ta\"ble é", 'u', 1, "upd");
    TH_CHECK_INT(run(&pg, &b, topic, NULL, log), 0);
    check(&pg,
          "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM \"Sch.ema\".\"ta\"\"ble é\"",
          "1=upd,2=two");
    check(&pg, "SELECT count(*) FROM \"Sch\".\"ema.ta\"\"ble é\"", "0");

    fprintf(stderr, "--- --table-format with a quoted dotted schema and table prefix\n");
    snprintf(topic, sizeof(topic), "%s", th_unique("dots"));
    snprintf(log, sizeof(log), "/tmp/%s.log", topic);
    TH_ASSERT(th_broker_cmd(&b, "create %s 1", topic) == 0);
    produce(rk, topic, "2", 'c', 7, "seven");
    TH_CHECK_INT(run(&pg, &b, topic, "\"Sch.ema\".\"t.\"${source.table}", log), 0);
    check(&pg, "SELECT string_agg(id || '=' || v, ',') FROM \"Sch.ema\".\"t.2\"", "7=seven");

    fprintf(stderr, "--- a format that cannot be split\n");
    TH_CHECK_INT(run(&pg, &b, topic, "Sch.ema.${source.table}", log), 2);
    char *out = ta_slurp(log);
    TH_CHECK(strstr(out, "--table-format 'Sch.ema.${source.table}': more than one unquoted '.'") !=
             NULL);
    free(out);

    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
    TH_DONE();
}
