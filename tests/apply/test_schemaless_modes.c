/* apply-schemaless-modes: JSON without schema (schemas.enable=false) is
 * read by the connector's modes, never guessed from the value.
 *
 * Target public.p (id bigint PK, d numeric(18,2), b bytea, ts timestamp).
 *   precise (the defaults): "1234" is base64 of the unscaled -2658824, so d
 *     is -26588.24 (not 1234.00); "C+o=" is 30.50; b "3q2+7w==" is
 *     \xdeadbeef; ts 1529507596945104 is MicroTimestamp µs. Exit 0.
 *   Then "1234.00" (decimal text) arrives under precise: exit 1, one ERROR
 *     line naming topic[0]@2, after.d and --decimal-handling, the position
 *     stays at 2 and the row is not written.
 * Target public.s, the same columns, with --decimal-handling string
 *   --binary-handling hex --time-precision connect: "1234.00" is 1234.00,
 *   "1234" is 1234.00, b "deadbeef" is \xdeadbeef, ts 1529507596945 is ms. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"

#include <string.h>

#define DDL " (id bigint PRIMARY KEY, d numeric(18,2), b bytea, ts timestamp)"

/* A schemaless create as the JsonConverter writes it. */
static char *bare_value(const char *table, long long id, const char *after)
{
    char *v = NULL;
    TH_ASSERT(asprintf(&v,
                       "{\"before\":null,\"after\":{\"id\":%lld,%s},\"source\":{\"version\":\"2.5."
                       "0.Final\",\"connector\":\"postgresql\",\"name\":\"dbserver1\",\"ts_ms\":"
                       "1700000000123,\"snapshot\":\"false\",\"db\":\"shop\",\"sequence\":\"[null,"
                       "\\\"26658848\\\"]\",\"schema\":\"public\",\"table\":\"%s\",\"txId\":771,"
                       "\"lsn\":26658848,\"xmin\":null},\"op\":\"c\",\"ts_ms\":1700000000456,"
                       "\"transaction\":null}",
                       id, after, table) > 0);
    return v;
}

static void produce(rd_kafka_t *rk, const char *topic, const char *table, long long id,
                    const char *after)
{
    ta_produce_keyed(rk, topic, id, bare_value(table, id, after));
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    const char *tp = ta_topic_new(&b, "bp", 1), *ts = ta_topic_new(&b, "bs", 1);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "CREATE TABLE public.p" DDL ";"
                                             "CREATE TABLE public.s" DDL) == 0);
    rd_kafka_t *rk = ta_producer_new(&b);
    produce(rk, tp, "p", 1, "\"d\":\"1234\",\"b\":\"3q2+7w==\",\"ts\":1529507596945104");
    produce(rk, tp, "p", 2, "\"d\":\"C+o=\",\"b\":null,\"ts\":null");
    const char *group = th_unique("g");
    char log[128];
    snprintf(log, sizeof(log), "/tmp/%s.log", th_unique("bare"));
    const char *const *pargs = TA_APPLY_ARGS(b.bootstrap, group, tp, pg.target_conninfo, "--format",
                                             "json", "--exit-on-idle", "2", "--metrics-addr", "");
    TH_CHECK_INT(ta_apply_run(pargs, log, 60000), 0);
    TH_CHECK_INT(ta_count(pg.target_conninfo,
                          "public.p WHERE id = 1 AND d = -26588.24 AND b = "
                          "'\\xdeadbeef' AND ts = '2018-06-20 15:13:16.945104'"),
                 1);
    TH_CHECK_INT(ta_count(pg.target_conninfo, "public.p WHERE id = 2 AND d = 30.50"), 1);

    /* Decimal text under precise: refused with a clear line, nothing lost. */
    produce(rk, tp, "p", 3, "\"d\":\"1234.00\",\"b\":null,\"ts\":null");
    char want[256];
    snprintf(want, sizeof(want), "%s[0]@2: value.after.d: \"1234.00\" is not base64", tp);
    ta_check_stops_at(pg.target_conninfo, pargs, log, "public.p WHERE id = 3", group, tp, 2, want,
                      "--decimal-handling string");

    /* The string, hex and connect modes, as such a connector writes. */
    produce(rk, ts, "s", 1, "\"d\":\"1234.00\",\"b\":\"deadbeef\",\"ts\":1529507596945");
    produce(rk, ts, "s", 2, "\"d\":\"1234\",\"b\":\"\",\"ts\":null");
    const char *const *sargs =
        TA_APPLY_ARGS(b.bootstrap, th_unique("g"), ts, pg.target_conninfo, "--format", "json",
                      "--decimal-handling", "string", "--binary-handling", "hex",
                      "--time-precision", "connect", "--exit-on-idle", "2", "--metrics-addr", "");
    TH_CHECK_INT(ta_apply_run(sargs, log, 60000), 0);
    TH_CHECK_INT(ta_count(pg.target_conninfo,
                          "public.s WHERE id = 1 AND d::text = '1234.00' AND b = '\\xdeadbeef' AND "
                          "ts = '2018-06-20 15:13:16.945'"),
                 1);
    TH_CHECK_INT(
        ta_count(pg.target_conninfo, "public.s WHERE id = 2 AND d::text = '1234.00' AND b = '\\x'"),
        1);
    if (th_failures) {
        char *text = ta_slurp(log);
        fprintf(stderr, "--- log:\n%s\n", text ? text : "");
        free(text);
    }
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
    TH_DONE();
}
