/* apply-schema-change: a column appears in the middle of a batch.
 *
 * 50 creates of t(id, qty, name), then 10 creates that also carry 'extra',
 * all in one batch (batch limits far above 60 records). Case "evolve":
 * --evolve adds the column; case "manual": it was added to the target by
 * hand, and the catalog notices it. Either way the description of t
 * changes while the batch holds rows built against the old one: those rows
 * must be written by their own column positions (a refresh in place once
 * crashed here, and could shift values into other columns). Asserted: exit
 * 0, 60 rows, qty = id and name = 'n' for every row, extra set exactly on
 * 51..60. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"

static const ta_field_t f3[] = {
    {"id", "int64", false}, {"qty", "int32", true}, {"name", "string", true}};
static const ta_field_t f4[] = {{"id", "int64", false},
                                {"qty", "int32", true},
                                {"name", "string", true},
                                {"extra", "string", true}};

static void run_case(bool evolve)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    const char *topic = th_unique("sc");
    TH_ASSERT(th_broker_cmd(&b, "create %s 1", topic) == 0);
    rd_kafka_t *rk = ta_producer_new(&b);
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "CREATE TABLE public.t (id bigint PRIMARY KEY, qty int, name text)") == 0);
    for (long long id = 1; id <= 60; id++) {
        bool wide = id > 50;
        json_t *after =
            json_pack("{s:I,s:i,s:s}", "id", (json_int_t)id, "qty", (int)id, "name", "n");
        if (wide)
            json_object_set_new(after, "extra", json_string("x"));
        char *k = ta_dbz_key("id", id);
        char *v = ta_dbz_value("public", "t", 'c', wide ? f4 : f3, wide ? 4 : 3, NULL, after);
        TH_ASSERT(th_kafka_produce_sync(rk, topic, 0, k, v, 10000) == 0);
        free(k);
        free(v);
    }
    rd_kafka_destroy(rk);
    if (!evolve)
        TH_ASSERT(th_pg_exec(pg.target_conninfo, "ALTER TABLE public.t ADD COLUMN extra text") ==
                  0);
    char log[128];
    snprintf(log, sizeof(log), "/tmp/%s.log", th_unique("schema-change"));
    const char *const *args =
        TA_APPLY_ARGS(b.bootstrap, th_unique("g"), topic, pg.target_conninfo, "--exit-on-idle", "2",
                      "--metrics-addr", "", "--batch-rows", "1000", "--batch-ms", "5000",
                      evolve ? "--evolve" : "--log-level", evolve ? NULL : "info");
    TH_CHECK_INT(ta_apply_run(args, log, 60000), 0);
    TA_CHECK_COUNTS(pg.target_conninfo, {"public.t", 60},
                    {"public.t WHERE qty = id AND name = 'n'", 60},
                    {"public.t WHERE extra = 'x' AND id > 50", 10},
                    {"public.t WHERE extra IS NOT NULL AND id <= 50", 0});
    if (th_failures) {
        char *text = ta_slurp(log);
        fprintf(stderr, "--- %s log:\n%s\n", evolve ? "evolve" : "manual", text ? text : "");
        free(text);
    }
    ta_stop(&pg, &b);
}

int main(void)
{
    run_case(true);
    run_case(false);
    TH_DONE();
}
