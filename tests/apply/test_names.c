/* apply-names: invariant 4, no SQL built from data.
 *
 * Hand-made Debezium events (loadgen cannot make such names) for a table
 * whose name holds a double quote, a semicolon and a comment, with a
 * column named `x"; DROP TABLE t; --`. Both a pre-created target table and
 * one made by --create-tables must receive the changes (create, create,
 * update, delete) as plain names and values, and the target's table t must
 * still exist with its row. The value itself is hostile too ('\t', '\\',
 * quotes), which checks COPY escaping. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"

#include <unistd.h>

#define EVIL_COL "x\"; DROP TABLE t; --"
#define EVIL_VAL "it's a \"value\";\tDROP TABLE t; -- \\ end"

static const ta_field_t fields[] = {{"id", "int64", false}, {EVIL_COL, "string", true}};

static void produce(rd_kafka_t *rk, const char *topic, const char *table, char op, long long id,
                    const char *val)
{
    json_t *img = json_pack("{s:I,s:s}", "id", (json_int_t)id, EVIL_COL, val);
    json_t *before = op == 'c' ? NULL : json_deep_copy(img);
    char *v = ta_dbz_value("public", table, op, fields, 2, before, op == 'd' ? NULL : img);
    if (op == 'd')
        json_decref(img);
    char *k = ta_dbz_key("id", id);
    TH_ASSERT(th_kafka_produce_sync(rk, topic, 0, k, v, 10000) == 0);
    free(k);
    free(v);
}

static void run_case(bool create, th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk)
{
    char topic[64], table[128], group[64], log[128], qt[300];
    snprintf(topic, sizeof(topic), "%s", th_unique("names"));
    snprintf(table, sizeof(table), "we\"ird; DROP TABLE t; -- %s", th_unique("n"));
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", topic);
    /* The SQL name for our own checks: "" doubles a quote. */
    char *p = qt;
    p += sprintf(p, "public.\"");
    for (const char *s = table; *s; s++) {
        if (*s == '"')
            *p++ = '"';
        *p++ = *s;
    }
    sprintf(p, "\"");
    fprintf(stderr, "--- %s: table %s\n", create ? "--create-tables" : "pre-created", qt);
    TH_ASSERT(th_broker_cmd(b, "create %s 1", topic) == 0);
    if (!create) {
        char ddl[600];
        snprintf(ddl, sizeof(ddl),
                 "CREATE TABLE %s (id bigint PRIMARY KEY, \"x\"\"; DROP TABLE t; --\" text)", qt);
        TH_ASSERT(th_pg_exec(pg->target_conninfo, ddl) == 0);
    }
    produce(rk, topic, table, 'c', 1, "first");
    produce(rk, topic, table, 'c', 2, EVIL_VAL);
    produce(rk, topic, table, 'u', 1, EVIL_VAL);
    produce(rk, topic, table, 'c', 3, "three");
    produce(rk, topic, table, 'd', 3, "three");

    const char *const *args =
        TA_APPLY_ARGS(b->bootstrap, group, topic, pg->target_conninfo, "--exit-on-idle", "2",
                      "--metrics-addr", "", TA_FAST_GROUP, create ? "--create-tables" : NULL);
    TH_CHECK_INT(ta_apply_run_logged(args, log, 30000), 0);
    char sql[800];
    snprintf(sql, sizeof(sql),
             "SELECT string_agg(id::text || '=' || \"x\"\"; DROP TABLE t; --\", '|' ORDER BY id) "
             "FROM %s",
             qt);
    th_pg_check_value(pg->target_conninfo, sql, "1=" EVIL_VAL "|2=" EVIL_VAL);
    th_pg_check_value(pg->target_conninfo, "SELECT count(*) FROM public.t", "1");
    TH_CHECK_INT(ta_stored_offset(pg->target_conninfo, group, topic, 0), 5);
    ta_log_finish(log, 4000);
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "CREATE TABLE public.t (a int); INSERT INTO public.t VALUES (1)") == 0);
    rd_kafka_t *rk = ta_producer_new(&b);
    run_case(false, &pg, &b, rk);
    run_case(true, &pg, &b, rk);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
    TH_DONE();
}
