/* apply-direct-copy: creates go straight into the table with COPY, and fall
 * back to the idempotent merge when a key exists after all.
 *
 * The target already holds ids 41..60 with other values (as after a
 * re-snapshot, or data loaded before cdc-apply started). The stream
 * creates ids 1..100 (snapshot reads, op r) in one partition, then
 * updates 90..100; batches of 30. Asserted: exit 0; the first batch went
 * in by direct COPY and the second met the existing keys and was merged
 * (both said in the log); 100 rows; every row has the event's values (the
 * pre-existing ones overwritten, none duplicated or failed); a trigger
 * counts exactly one INSERT for every id outside 41..60 and none inside. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"

static const ta_field_t f[] = {{"id", "int64", false}, {"qty", "int32", true}};

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    const char *topic = th_unique("dc");
    TH_ASSERT(th_broker_cmd(&b, "create %s 1", topic) == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "CREATE TABLE public.t (id bigint PRIMARY KEY, qty int);"
                         "CREATE TABLE public.ins (id bigint, n int);"
                         "CREATE FUNCTION count_ins() RETURNS trigger LANGUAGE plpgsql AS $$"
                         " BEGIN INSERT INTO public.ins VALUES (NEW.id, 1); RETURN NEW; END $$;"
                         "CREATE TRIGGER t_ins AFTER INSERT ON public.t FOR EACH ROW"
                         " EXECUTE FUNCTION count_ins();"
                         "INSERT INTO public.t SELECT g, -1 FROM generate_series(41, 60) g;"
                         "TRUNCATE public.ins") == 0);
    rd_kafka_t *rk = ta_producer_new(&b);
    for (int pass = 0; pass < 2; pass++)
        for (long long id = pass ? 90 : 1; id <= 100; id++) {
            json_t *after =
                json_pack("{s:I,s:i}", "id", (json_int_t)id, "qty", (int)(pass ? id * 10 : id));
            char *k = ta_dbz_key("id", id);
            char *v = ta_dbz_value("public", "t", pass ? 'u' : 'r', f, 2, NULL, after);
            TH_ASSERT(th_kafka_produce_sync(rk, topic, 0, k, v, 10000) == 0);
            free(k);
            free(v);
        }
    rd_kafka_destroy(rk);
    char log[128];
    snprintf(log, sizeof(log), "/tmp/%s.log", th_unique("direct"));
    /* Small batches: several direct COPYs, the first one conflicting. */
    const char *const *args = TA_APPLY_ARGS(
        b.bootstrap, th_unique("g"), topic, pg.target_conninfo, "--exit-on-idle", "2",
        "--metrics-addr", "", "--batch-rows", "30", "--batch-ms", "5000", "--log-level", "debug");
    TH_CHECK_INT(ta_apply_run(args, log, 60000), 0);
    TA_CHECK_COUNTS(pg.target_conninfo, {"public.t", 100},
                    {"public.t WHERE qty = CASE WHEN id >= 90 THEN id * 10 ELSE id END", 100},
                    {"(SELECT id FROM public.ins WHERE id NOT BETWEEN 41 AND 60 GROUP BY id "
                     "HAVING sum(n) = 1) x",
                     80},
                    {"public.ins WHERE id BETWEEN 41 AND 60", 0},
                    {"(SELECT id FROM public.ins GROUP BY id HAVING sum(n) > 1) x", 0});
    char *text = ta_slurp(log);
    TH_ASSERT(text);
    TH_CHECK(strstr(text, "direct COPY of 30 new rows into public.t") != NULL);
    TH_CHECK(strstr(text, "public.t already holds some of the 30 keys") != NULL);
    if (th_failures) {
        fprintf(stderr, "--- log:\n%s\n", text);
    }
    free(text);
    ta_stop(&pg, &b);
    TH_DONE();
}
