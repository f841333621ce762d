/* apply-writer-edges: how the writer meets data the easy path gets wrong.
 *
 * Each case makes its own topic, table and group, produces compact JSON
 * records as Kafka Connect's JsonConverter writes them (schema + payload,
 * Debezium 2.4 PostgreSQL envelope), runs cdc-apply to idle and checks the
 * rows in the target, the exit code, the dead letters and the error line.
 *
 *   toast      an update carrying the unchanged-TOAST placeholder (in every
 *              per-type form: text, jsonb, bytea, text[], int[], bytea[],
 *              uuid[], hstore) of NOT NULL columns, alone in its batch and
 *              with other changes of its key; the row keeps its values.
 *   toast-missing  the same update for a row the target does not have:
 *              an error naming topic[0]@offset (tolerance none), a dead
 *              letter (tolerance all), never an inserted row.
 *   toast-redo a delete, then a placeholder update of that key in one batch.
 *   keychange  --key-columns on a keyless table, REPLICA IDENTITY FULL:
 *              a 'u' whose before and after keys differ moves the row.
 *   nullkey    --key-columns naming a nullable column (with and without a
 *              unique index): updates and deletes of a row whose key part
 *              is NULL.
 *   timeout    a record whose row always exceeds statement_timeout (57014
 *              on every try): isolated after 5 identical failures.
 *   types      table-driven: Connect types x plausible column types, each
 *              stored exactly or a dead letter naming table.column.
 *   headers    a dead letter whose header name and value are not UTF-8.
 *
 * An argument (toast, keychange, nullkey, timeout, types, headers) runs
 * one group only.
 */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"

#include <stdarg.h>
#include <unistd.h>

static th_pg_t pg;
static th_broker_t broker;
static rd_kafka_t *rk;
static const char *target; /* cdc-apply's --target when not pg.target_conninfo */

#define PH     "__debezium_unavailable_value"
#define PH_B64 "X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="

/* A Debezium value: @p fields is a JSON array (text) of Connect field
 * schemas; @p before/@p after are payload images (text, NULL for null). */
static char *dbz_value(const char *table, char op, const char *fields, const char *before,
                       const char *after)
{
    char opstr[2] = {op, 0}, vname[256];
    snprintf(vname, sizeof(vname), "srv.public.%s.Value", table);
    json_error_t je;
    json_t *fs = json_loads(fields, 0, &je);
    TH_ASSERT(fs);
    json_t *b = before ? json_loads(before, 0, &je) : json_null();
    json_t *a = after ? json_loads(after, 0, &je) : json_null();
    TH_ASSERT(b && a);
    json_t *src = json_pack("[{s:s,s:b,s:s},{s:s,s:b,s:s},{s:s,s:b,s:s},{s:s,s:b,s:s}]", "type",
                            "string", "optional", 0, "field", "version", "type", "int64",
                            "optional", 0, "field", "ts_ms", "type", "string", "optional", 0,
                            "field", "schema", "type", "string", "optional", 0, "field", "table");
    json_t *sch =
        json_pack("{s:s,s:[{s:s,s:O,s:b,s:s,s:s},{s:s,s:O,s:b,s:s,s:s},{s:s,s:o,s:b,s:s,s:s},"
                  "{s:s,s:b,s:s},{s:s,s:b,s:s}],s:b,s:s}",
                  "type", "struct", "fields", "type", "struct", "fields", fs, "optional", 1, "name",
                  vname, "field", "before", "type", "struct", "fields", fs, "optional", 1, "name",
                  vname, "field", "after", "type", "struct", "fields", src, "optional", 0, "name",
                  "io.debezium.connector.postgresql.Source", "field", "source", "type", "string",
                  "optional", 0, "field", "op", "type", "int64", "optional", 1, "field", "ts_ms",
                  "optional", 0, "name", "srv.public.x.Envelope");
    json_decref(fs);
    json_t *payload =
        json_pack("{s:o,s:o,s:{s:s,s:I,s:s,s:s},s:s,s:I}", "before", b, "after", a, "source",
                  "version", "2.4.2.Final", "ts_ms", (json_int_t)1700000000000, "schema", "public",
                  "table", table, "op", opstr, "ts_ms", (json_int_t)1700000000001);
    json_t *root = json_pack("{s:o,s:o}", "schema", sch, "payload", payload);
    TH_ASSERT(root);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static void produce(const char *topic, const char *key, const char *val)
{
    TH_ASSERT(th_kafka_produce_sync(rk, topic, 0, key, val, 10000) == 0);
}

typedef struct run {
    char topic[64], table[64], group[64], log[128];
} run_t;

static void run_init(run_t *r, const char *what)
{
    snprintf(r->topic, sizeof(r->topic), "%s", th_unique(what));
    snprintf(r->table, sizeof(r->table), "%s", th_unique("t"));
    snprintf(r->group, sizeof(r->group), "%s", th_unique("g"));
    snprintf(r->log, sizeof(r->log), "/tmp/%s.log", r->topic);
    TH_ASSERT(th_broker_cmd(&broker, "create %s 1", r->topic) == 0);
    fprintf(stderr, "--- %s (topic %s, table %s)\n", what, r->topic, r->table);
}

/* Run cdc-apply to idle; @p extra: more arguments (NULL-terminated). */
static int apply(const run_t *r, const char *tolerance, const char *const *extra)
{
    const char *args[40] = {"--brokers",
                            broker.bootstrap,
                            "--group",
                            r->group,
                            "--topics",
                            r->topic,
                            "--target",
                            target ? target : pg.target_conninfo,
                            "--exit-on-idle",
                            "2",
                            "--errors-tolerance",
                            tolerance,
                            "--metrics-addr",
                            "",
                            TA_FAST_GROUP};
    size_t n = 0;
    while (args[n])
        n++;
    for (size_t i = 0; extra && extra[i] && n < 38; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    int rc = ta_apply_run(args, r->log, 60000);
    return rc;
}

static void dump_log(const run_t *r)
{
    char *out = ta_slurp(r->log);
    fprintf(stderr, "cdc-apply log:\n%s\n", out);
    free(out);
}

/* The end of a case: the log on failure, else remove it. */
static void run_done(const run_t *r)
{
    if (th_failures)
        dump_log(r);
    else
        unlink(r->log);
}

/* True when one line of the log holds every string of @p want. */
static bool log_line_has(const run_t *r, const char *level, const char *a, const char *b)
{
    char *out = ta_slurp(r->log);
    bool found = false;
    for (char *line = out; line && *line && !found;) {
        char *eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        found = strstr(line, level) && strstr(line, a) && (!b || strstr(line, b));
        line = eol ? eol + 1 : NULL;
    }
    free(out);
    return found;
}

/* Run one SQL text made from @p fmt on the target; the test fails if it does. */
__attribute__((format(printf, 1, 2))) static void exec_fmt(const char *fmt, ...)
{
    char *sql = NULL;
    va_list ap;
    va_start(ap, fmt);
    TH_ASSERT(vasprintf(&sql, fmt, ap) > 0);
    va_end(ap);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);
    free(sql);
}

/* ---- 1. unchanged TOASTed NOT NULL columns ---- */

static const char toast_fields[] =
    "[{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"},"
    "{\"type\":\"int32\",\"optional\":true,\"field\":\"qty\"},"
    "{\"type\":\"string\",\"optional\":false,\"field\":\"note\"},"
    "{\"type\":\"string\",\"optional\":false,\"name\":\"io.debezium.data.Json\",\"version\":1,"
    "\"field\":\"doc\"},"
    "{\"type\":\"bytes\",\"optional\":false,\"field\":\"bin\"},"
    "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"optional\":true},\"optional\":false,"
    "\"field\":\"tags\"},"
    "{\"type\":\"array\",\"items\":{\"type\":\"int32\",\"optional\":true},\"optional\":false,"
    "\"field\":\"nums\"},"
    "{\"type\":\"array\",\"items\":{\"type\":\"bytes\",\"optional\":true},\"optional\":false,"
    "\"field\":\"bins\"},"
    "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"optional\":true,\"name\":"
    "\"io.debezium.data.Uuid\",\"version\":1},\"optional\":false,\"field\":\"ids\"},"
    "{\"type\":\"map\",\"keys\":{\"type\":\"string\",\"optional\":false},\"values\":{\"type\":"
    "\"string\",\"optional\":true},\"optional\":false,\"field\":\"hs\"}]";

/* The after image of an update of @p id setting qty, every other column
 * the unchanged-TOAST placeholder in its type's form. */
static char *toast_after(int id, int qty)
{
    char *s = NULL;
    TH_ASSERT(asprintf(&s,
                       "{\"id\":%d,\"qty\":%d,\"note\":\"" PH "\",\"doc\":\"" PH
                       "\",\"bin\":\"" PH_B64 "\",\"tags\":[\"" PH "\"],"
                       "\"nums\":[95,95,100,101,98,101,122,105,117,109,95,117,110,97,118,97,105,"
                       "108,97,98,108,101,95,118,97,108,117,101],\"bins\":[\"" PH_B64 "\"],"
                       "\"ids\":[\"b68a35a7-17ad-35b3-af2a-ae46edb4545a\"],\"hs\":{\"" PH "\":\"" PH
                       "\"}}",
                       id, qty) > 0);
    return s;
}

/* @p after NULL: a delete of @p id (key only, as with REPLICA IDENTITY
 * NOTHING: no before image). */
static void produce_toast(const run_t *r, int id, const char *after)
{
    char *v = dbz_value(r->table, after ? 'u' : 'd', toast_fields, NULL, after);
    char key[256];
    snprintf(key, sizeof(key),
             "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\","
             "\"optional\":false,\"field\":\"id\"}],\"optional\":false,"
             "\"name\":\"k\"},\"payload\":{\"id\":%d}}",
             id);
    produce(r->topic, key, v);
    free(v);
}

static void produce_toast_update(const run_t *r, int id, int qty)
{
    char *after = toast_after(id, qty);
    produce_toast(r, id, after);
    free(after);
}

/* A fingerprint of the big columns of row @p id. */
static char *toast_sig(const run_t *r, int id)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT qty || ' ' || md5(note) || ' ' || md5(doc::text) || ' ' || md5(bin) || ' ' "
             "|| md5(tags::text) || ' ' || md5(nums::text) || ' ' || md5(bins::text) || ' ' || "
             "md5(ids::text) || ' ' || md5(hs::text) FROM public.%s WHERE id = %d",
             r->table, id);
    return th_pg_query_value(pg.target_conninfo, sql);
}

static void toast_table(const run_t *r, bool keyless)
{
    exec_fmt("CREATE TABLE public.%s (id int %s, qty int, note text NOT NULL, doc jsonb "
             "NOT NULL, bin bytea NOT NULL, tags text[] NOT NULL, nums int[] NOT NULL, bins "
             "bytea[] NOT NULL, ids uuid[] NOT NULL, hs hstore NOT NULL)",
             r->table, keyless ? "" : "PRIMARY KEY");
    /* Values far over the TOAST threshold, as on the source. */
    exec_fmt("INSERT INTO public.%s SELECT i, 1, repeat('n', 5000), jsonb_build_object('a', "
             "repeat('j', 5000)), convert_to(repeat('b', 5000), 'UTF8'), ARRAY[repeat('t', "
             "5000)], ARRAY(SELECT generate_series(1, 2000)), ARRAY[convert_to(repeat('c', "
             "5000), 'UTF8')], ARRAY[gen_random_uuid()], hstore('k', repeat('h', 5000)) FROM "
             "generate_series(1, 3) i",
             r->table);
}

/* @p keyless: no primary key, --key-columns (the UPDATE + INSERT path). */
static void case_toast(bool keyless)
{
    run_t r;
    run_init(&r, keyless ? "toastkeyless" : "toast");
    toast_table(&r, keyless);
    char kc[128];
    snprintf(kc, sizeof(kc), "public.%s:id", r.table);
    const char *const *extra = TH_ARGS("--key-columns", kc);
    char *before[4];
    for (int id = 1; id <= 3; id++)
        before[id] = toast_sig(&r, id);
    /* Alone in its batch: one record, one run. */
    produce_toast_update(&r, 1, 2);
    int rc = apply(&r, "none", keyless ? extra : NULL);
    TH_CHECK_INT(rc, 0);
    if (rc)
        dump_log(&r);
    /* Several changes of one key in a batch (2), and another key (3). */
    produce_toast_update(&r, 2, 5);
    produce_toast_update(&r, 3, 7);
    produce_toast_update(&r, 2, 6);
    rc = apply(&r, "none", keyless ? extra : NULL);
    TH_CHECK_INT(rc, 0);
    if (rc)
        dump_log(&r);
    const int want_qty[4] = {0, 2, 6, 7};
    for (int id = 1; id <= 3; id++) {
        char *after = toast_sig(&r, id), want[600];
        snprintf(want, sizeof(want), "%d%s", want_qty[id], strchr(before[id], ' '));
        TH_CHECK_STR(after, want);
        free(after);
        free(before[id]);
    }
    TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, r.group, r.topic, 0), 4);
    run_done(&r);
}

static void case_toast_missing(const char *tolerance)
{
    run_t r;
    run_init(&r, "toastmiss");
    toast_table(&r, false);
    char *before = toast_sig(&r, 1);
    /* A good update, then one of row 9 (not in the target), then another. */
    produce_toast_update(&r, 1, 2);
    produce_toast_update(&r, 9, 9);
    produce_toast_update(&r, 3, 4);
    int rc = apply(&r, tolerance, NULL);
    char pos[128];
    snprintf(pos, sizeof(pos), "%s[0]@1", r.topic);
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM public.%s WHERE id = 9", r.table);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, sql), 0);
    snprintf(sql, sizeof(sql), "SELECT qty FROM public.%s WHERE id = 1", r.table);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, sql), 2);
    if (!strcmp(tolerance, "none")) {
        TH_CHECK_INT(rc, 1);
        TH_CHECK(log_line_has(&r, "ERROR", pos, "unchanged-TOAST"));
        TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, r.group, r.topic, 0), 1);
        snprintf(sql, sizeof(sql), "SELECT qty FROM public.%s WHERE id = 3", r.table);
        TH_CHECK_INT(ta_query_ll(pg.target_conninfo, sql), 1);
    } else {
        TH_CHECK_INT(rc, 0);
        TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, r.group, r.topic, 0), 3);
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM cdc.dead_letter WHERE group_id = '%s' AND topic = '%s' "
                 "AND kafka_offset = 1 AND error LIKE '%%unchanged-TOAST%%'",
                 r.group, r.topic);
        TH_CHECK_INT(ta_query_ll(pg.target_conninfo, sql), 1);
        snprintf(sql, sizeof(sql), "SELECT qty FROM public.%s WHERE id = 3", r.table);
        TH_CHECK_INT(ta_query_ll(pg.target_conninfo, sql), 4);
    }
    if (th_failures)
        dump_log(&r);
    char *after = toast_sig(&r, 1), want[600];
    snprintf(want, sizeof(want), "2%s", strchr(before, ' '));
    TH_CHECK_STR(after, want);
    free(after);
    free(before);
    run_done(&r);
}

/* A delete and then a placeholder update of the same key in one batch:
 * the row is gone when the update comes, so the update is a bad record
 * (the batch compacts the two into delete + re-create). */
static void case_toast_redo(void)
{
    run_t r;
    run_init(&r, "toastredo");
    toast_table(&r, false);
    produce_toast(&r, 2, NULL);
    produce_toast_update(&r, 2, 8);
    produce_toast_update(&r, 1, 3);
    int rc = apply(&r, "all", NULL);
    TH_CHECK_INT(rc, 0);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT string_agg(id || ':' || qty, ',' ORDER BY id) FROM public.%s", r.table);
    char *rows = th_pg_query_value(pg.target_conninfo, sql);
    TH_CHECK_STR(rows, "1:3,3:1");
    free(rows);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM cdc.dead_letter WHERE group_id = '%s' AND topic = '%s' AND "
             "kafka_offset = 1 AND error LIKE '%%unchanged-TOAST%%'",
             r.group, r.topic);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, sql), 1);
    TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, r.group, r.topic, 0), 3);
    run_done(&r);
}

/* ---- 5. a key change under --key-columns ---- */

static const char log_fields[] = "[{\"type\":\"int32\",\"optional\":true,\"field\":\"id\"},"
                                 "{\"type\":\"string\",\"optional\":true,\"field\":\"v\"}]";

/* A change of the keyless table: Debezium sends a null key. */
static void produce_log(const run_t *r, char op, const char *before, const char *after)
{
    char *v = dbz_value(r->table, op, log_fields, before, after);
    produce(r->topic, NULL, v);
    free(v);
}

static char *table_rows(const run_t *r, const char *cols)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(string_agg(%s, ',' ORDER BY %s), '') FROM public.%s", cols, cols,
             r->table);
    return th_pg_query_value(pg.target_conninfo, sql);
}

static void case_keychange(bool unique)
{
    run_t r;
    run_init(&r, unique ? "keychangeu" : "keychange");
    exec_fmt("CREATE TABLE public.%s (id int, v text)", r.table);
    if (unique)
        exec_fmt("CREATE UNIQUE INDEX ON public.%s (id)", r.table);
    exec_fmt("INSERT INTO public.%s VALUES (1, 'a'), (5, 'e')", r.table);
    char kc[128];
    snprintf(kc, sizeof(kc), "public.%s:id", r.table);
    const char *const *extra = TH_ARGS("--key-columns", kc);
    /* Alone in its batch. */
    produce_log(&r, 'u', "{\"id\":1,\"v\":\"a\"}", "{\"id\":2,\"v\":\"b\"}");
    int rc = apply(&r, "none", extra);
    TH_CHECK_INT(rc, 0);
    char *rows = table_rows(&r, "id || ':' || v");
    TH_CHECK_STR(rows, "2:b,5:e");
    free(rows);
    /* In one batch, in order: 2 -> 3, 1 created again, 5 -> 1 would now
     * collide with the new 1, so 5 -> 6, then 3 -> 4. */
    produce_log(&r, 'u', "{\"id\":2,\"v\":\"b\"}", "{\"id\":3,\"v\":\"c\"}");
    produce_log(&r, 'c', NULL, "{\"id\":1,\"v\":\"z\"}");
    produce_log(&r, 'u', "{\"id\":5,\"v\":\"e\"}", "{\"id\":6,\"v\":\"f\"}");
    produce_log(&r, 'u', "{\"id\":3,\"v\":\"c\"}", "{\"id\":4,\"v\":\"d\"}");
    /* And back: 6 -> 5 (the key 5 was deleted earlier in the batch). */
    produce_log(&r, 'u', "{\"id\":6,\"v\":\"f\"}", "{\"id\":5,\"v\":\"g\"}");
    rc = apply(&r, "none", extra);
    TH_CHECK_INT(rc, 0);
    rows = table_rows(&r, "id || ':' || v");
    TH_CHECK_STR(rows, "1:z,4:d,5:g");
    free(rows);
    TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, r.group, r.topic, 0), 6);
    run_done(&r);
}

/* ---- 9. nullable key columns under --key-columns ---- */

static const char nk_fields[] = "[{\"type\":\"int32\",\"optional\":true,\"field\":\"a\"},"
                                "{\"type\":\"int32\",\"optional\":true,\"field\":\"b\"},"
                                "{\"type\":\"string\",\"optional\":true,\"field\":\"v\"}]";

static void produce_nk(const run_t *r, char op, const char *before, const char *after)
{
    char *v = dbz_value(r->table, op, nk_fields, before, after);
    produce(r->topic, NULL, v);
    free(v);
}

static void case_nullkey(bool unique)
{
    run_t r;
    run_init(&r, unique ? "nullkeyu" : "nullkey");
    exec_fmt("CREATE TABLE public.%s (a int, b int, v text)", r.table);
    if (unique)
        exec_fmt("CREATE UNIQUE INDEX ON public.%s (a, b)", r.table);
    exec_fmt("INSERT INTO public.%s VALUES (1, NULL, 'x'), (2, NULL, 'y'), (3, 3, 'z'), (4, NULL, "
             "'w')",
             r.table);
    char kc[128];
    snprintf(kc, sizeof(kc), "public.%s:a,b", r.table);
    const char *const *extra = TH_ARGS("--key-columns", kc);
    /* REPLICA IDENTITY FULL: before images hold every column. */
    produce_nk(&r, 'u', "{\"a\":1,\"b\":null,\"v\":\"x\"}", "{\"a\":1,\"b\":null,\"v\":\"x2\"}");
    produce_nk(&r, 'd', "{\"a\":2,\"b\":null,\"v\":\"y\"}", NULL);
    produce_nk(&r, 'u', "{\"a\":3,\"b\":3,\"v\":\"z\"}", "{\"a\":3,\"b\":3,\"v\":\"z2\"}");
    produce_nk(&r, 'c', NULL, "{\"a\":5,\"b\":null,\"v\":\"n\"}");
    int rc = apply(&r, "none", extra);
    TH_CHECK_INT(rc, 0);
    /* A later run: the created row is updated, not duplicated. */
    produce_nk(&r, 'u', "{\"a\":5,\"b\":null,\"v\":\"n\"}", "{\"a\":5,\"b\":null,\"v\":\"n2\"}");
    produce_nk(&r, 'u', "{\"a\":4,\"b\":null,\"v\":\"w\"}", "{\"a\":4,\"b\":null,\"v\":\"w2\"}");
    rc = apply(&r, "none", extra);
    TH_CHECK_INT(rc, 0);
    char *rows = table_rows(&r, "a || ':' || coalesce(b::text, 'null') || ':' || v");
    TH_CHECK_STR(rows, "1:null:x2,3:3:z2,4:null:w2,5:null:n2");
    free(rows);
    run_done(&r);
}

/* ---- 7. headers that are not UTF-8 on the dead-letter path ---- */

static void case_headers(void)
{
    run_t r;
    run_init(&r, "headers");
    exec_fmt("CREATE TABLE public.%s (id int PRIMARY KEY, v text)", r.table);
    const char *bad = "{\"schema\": oops, not JSON";
    /* Names and values as bytes: Latin-1 "é", a lone continuation byte, a
     * control character in a valid name, a header without a value. */
    rd_kafka_resp_err_t err =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(r.topic), RD_KAFKA_V_PARTITION(0),
                          RD_KAFKA_V_VALUE((void *)(uintptr_t)bad, strlen(bad)),
                          RD_KAFKA_V_HEADER("caf\xe9", "\xc3\x28", (ssize_t)2),
                          RD_KAFKA_V_HEADER("line\nbreak \"q\"", "ok", (ssize_t)2),
                          RD_KAFKA_V_HEADER("empty", NULL, (ssize_t)0),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    TH_ASSERT(err == RD_KAFKA_RESP_ERR_NO_ERROR);
    TH_ASSERT(rd_kafka_flush(rk, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    int rc = apply(&r, "all", NULL);
    TH_CHECK_INT(rc, 0);
    TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, r.group, r.topic, 0), 1);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT headers::text FROM cdc.dead_letter WHERE group_id = '%s' AND topic = '%s' "
             "AND kafka_offset = 0",
             r.group, r.topic);
    char *h = th_pg_query_value(pg.target_conninfo, sql);
    TH_CHECK_STR(h, "[{\"hex\": \"c328\", \"name_hex\": \"636166e9\"}, {\"hex\": \"6f6b\", "
                    "\"name\": \"line\\nbreak \\\"q\\\"\"}, {\"hex\": null, \"name\": \"empty\"}]");
    free(h);
    run_done(&r);
}

/* ---- 10. an error that recurs on every retry ---- */

static void produce_kv(const run_t *r, int id, const char *v)
{
    static const char fields[] = "[{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"},"
                                 "{\"type\":\"string\",\"optional\":true,\"field\":\"v\"}]";
    char after[128], key[256];
    snprintf(after, sizeof(after), "{\"id\":%d,\"v\":\"%s\"}", id, v);
    snprintf(key, sizeof(key),
             "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":"
             "false,\"field\":\"id\"}],\"optional\":false,\"name\":\"k\"},\"payload\":{\"id\":%d}}",
             id);
    char *val = dbz_value(r->table, 'c', fields, NULL, after);
    produce(r->topic, key, val);
    free(val);
}

static void case_timeout(const char *tolerance)
{
    run_t r;
    run_init(&r, "timeout");
    /* One record's row always takes longer than the session's
     * statement_timeout: 57014 on every try of the batch. */
    exec_fmt("CREATE TABLE public.%s (id int PRIMARY KEY, v text)", r.table);
    exec_fmt("CREATE FUNCTION public.%s_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF "
             "NEW.v = 'slow' THEN PERFORM pg_sleep(3); END IF; RETURN NEW; END $$",
             r.table);
    exec_fmt("CREATE TRIGGER slow BEFORE INSERT OR UPDATE ON public.%s FOR EACH ROW EXECUTE "
             "FUNCTION public.%s_slow()",
             r.table, r.table);
    produce_kv(&r, 1, "a");
    produce_kv(&r, 2, "slow");
    produce_kv(&r, 3, "c");
    char conninfo[700];
    snprintf(conninfo, sizeof(conninfo), "%s options='-c statement_timeout=400'",
             pg.target_conninfo);
    target = conninfo;
    const char *const *extra = TH_ARGS("--retry-backoff-ms", "50");
    int64_t t0 = th_now_ms();
    int rc = apply(&r, tolerance, extra);
    target = NULL;
    fprintf(stderr, "cdc-apply took %lld ms\n", (long long)(th_now_ms() - t0));
    char pos[128], sql[512];
    snprintf(pos, sizeof(pos), "%s[0]@1", r.topic);
    TH_CHECK(log_line_has(&r, "WARN", "failed 5 times in a row with SQLSTATE 57014", NULL));
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM public.%s WHERE id = 2", r.table);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, sql), 0);
    if (!strcmp(tolerance, "none")) {
        TH_CHECK_INT(rc, 1);
        TH_CHECK(log_line_has(&r, "ERROR", pos, "statement timeout"));
        TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, r.group, r.topic, 0), 1);
        char *rows = table_rows(&r, "id::text");
        TH_CHECK_STR(rows, "1");
        free(rows);
    } else {
        TH_CHECK_INT(rc, 0);
        TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, r.group, r.topic, 0), 3);
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM cdc.dead_letter WHERE group_id = '%s' AND topic = '%s' "
                 "AND kafka_offset = 1 AND error LIKE '%%57014%%'",
                 r.group, r.topic);
        TH_CHECK_INT(ta_query_ll(pg.target_conninfo, sql), 1);
        char *rows = table_rows(&r, "id::text");
        TH_CHECK_STR(rows, "1,3");
        free(rows);
    }
    run_done(&r);
}

/* ---- 11. every Connect type into every plausible column type ---- */

static const struct tcase {
    const char *field;  /* the Connect schema of column v (without "field") */
    const char *value;  /* its JSON payload value */
    const char *type;   /* target column type */
    const char *stored; /* v::text afterwards, or NULL: a dead letter */
    const char *error;  /* with tolerance all: a substring of its error */
} tcases[] = {
    /* BOOLEAN: also what Debezium sends for bit(1). */
    {"\"type\":\"boolean\"", "false", "bit(1)", "0", NULL},
    {"\"type\":\"boolean\"", "true", "bit(1)", "1", NULL},
    {"\"type\":\"boolean\"", "true", "bit varying(4)", "1", NULL},
    {"\"type\":\"boolean\"", "false", "boolean", "false", NULL},
    {"\"type\":\"boolean\"", "true", "smallint", "1", NULL},
    {"\"type\":\"boolean\"", "true", "integer", "1", NULL},
    {"\"type\":\"boolean\"", "false", "bigint", "0", NULL},
    {"\"type\":\"boolean\"", "true", "numeric", "1", NULL},
    {"\"type\":\"boolean\"", "true", "text", "true", NULL},
    {"\"type\":\"boolean\"", "false", "varchar(5)", "false", NULL},
    {"\"type\":\"boolean\"", "true", "date", NULL, "a column of type date"},
    /* INT16 / INT32 / INT64. */
    {"\"type\":\"int16\"", "-32768", "smallint", "-32768", NULL},
    {"\"type\":\"int16\"", "7", "integer", "7", NULL},
    {"\"type\":\"int32\"", "2147483647", "bigint", "2147483647", NULL},
    {"\"type\":\"int32\"", "12", "numeric(5,1)", "12.0", NULL},
    {"\"type\":\"int32\"", "12", "text", "12", NULL},
    {"\"type\":\"int32\"", "1", "boolean", "true", NULL},
    {"\"type\":\"int32\"", "0", "boolean", "false", NULL},
    {"\"type\":\"int32\"", "5", "boolean", NULL, "a column of type boolean"},
    {"\"type\":\"int64\"", "9223372036854775807", "bigint", "9223372036854775807", NULL},
    {"\"type\":\"int64\"", "9223372036854775807", "numeric", "9223372036854775807", NULL},
    {"\"type\":\"int64\"", "4294967296", "integer", NULL, "a column of type integer"},
    {"\"type\":\"int64\"", "70000", "smallint", NULL, "a column of type smallint"},
    /* The column has the schema's own type (VARCHAR(3)): the value breaks
     * its schema, and the error says so instead of naming the same type. */
    {"\"type\":\"string\",\"parameters\":{\"__debezium.source.column.type\":\"VARCHAR\","
     "\"__debezium.source.column.length\":\"3\"}",
     "\"abcdef\"", "character varying(3)", NULL, "own schema's type character varying(3)"},
    /* FLOAT. */
    {"\"type\":\"double\"", "1.5", "double precision", "1.5", NULL},
    {"\"type\":\"double\"", "1.5", "numeric", "1.5", NULL},
    {"\"type\":\"float\"", "0.25", "real", "0.25", NULL},
    /* BYTES, and Bits (bit(n>1), varbit): little-endian bit order. */
    {"\"type\":\"bytes\"", "\"AQID\"", "bytea", "\\x010203", NULL},
    {"\"type\":\"bytes\",\"name\":\"io.debezium.data.Bits\",\"version\":1,\"parameters\":"
     "{\"length\":\"3\"}",
     "\"BQ==\"", "bit(3)", "101", NULL},
    {"\"type\":\"bytes\",\"name\":\"io.debezium.data.Bits\",\"version\":1,\"parameters\":"
     "{\"length\":\"10\"}",
     "\"AQI=\"", "bit(10)", "1000000001", NULL},
    {"\"type\":\"bytes\",\"name\":\"io.debezium.data.Bits\",\"version\":1,\"parameters\":"
     "{\"length\":\"3\"}",
     "\"BQ==\"", "bit varying(8)", "101", NULL},
    {"\"type\":\"bytes\",\"name\":\"io.debezium.data.Bits\",\"version\":1,\"parameters\":"
     "{\"length\":\"3\"}",
     "\"BQ==\"", "bit(2)", NULL, "a column of type bit(2)"},
    {"\"type\":\"bytes\",\"name\":\"io.debezium.data.Bits\",\"version\":1,\"parameters\":"
     "{\"length\":\"3\"}",
     "\"BQ==\"", "bytea", NULL, "a column of type bytea"},
    {"\"type\":\"bytes\"", "\"AQID\"", "bit varying(16)", NULL, "a column of type bit varying(16)"},
    /* Decimal: "C+o=" is 3050, scale 2. */
    {"\"type\":\"bytes\",\"name\":\"org.apache.kafka.connect.data.Decimal\",\"version\":1,"
     "\"parameters\":{\"scale\":\"2\",\"connect.decimal.precision\":\"10\"}",
     "\"C+o=\"", "numeric(10,2)", "30.50", NULL},
    {"\"type\":\"bytes\",\"name\":\"org.apache.kafka.connect.data.Decimal\",\"version\":1,"
     "\"parameters\":{\"scale\":\"2\"}",
     "\"C+o=\"", "double precision", "30.5", NULL},
    {"\"type\":\"bytes\",\"name\":\"org.apache.kafka.connect.data.Decimal\",\"version\":1,"
     "\"parameters\":{\"scale\":\"2\"}",
     "\"C+o=\"", "text", "30.50", NULL},
    {"\"type\":\"bytes\",\"name\":\"org.apache.kafka.connect.data.Decimal\",\"version\":1,"
     "\"parameters\":{\"scale\":\"2\"}",
     "\"C+o=\"", "integer", NULL, "a column of type integer"},
    {"\"type\":\"struct\",\"name\":\"io.debezium.data.VariableScaleDecimal\",\"version\":1,"
     "\"fields\":[{\"type\":\"int32\",\"optional\":false,\"field\":\"scale\"},{\"type\":"
     "\"bytes\",\"optional\":false,\"field\":\"value\"}]",
     "{\"scale\":2,\"value\":\"C+o=\"}", "numeric", "30.50", NULL},
    /* Times. */
    {"\"type\":\"int32\",\"name\":\"io.debezium.time.Date\",\"version\":1", "19000", "date",
     "2022-01-08", NULL},
    {"\"type\":\"int32\",\"name\":\"io.debezium.time.Date\",\"version\":1", "19000", "timestamp",
     "2022-01-08 00:00:00", NULL},
    {"\"type\":\"int32\",\"name\":\"io.debezium.time.Date\",\"version\":1", "19000", "timestamptz",
     "2022-01-08 00:00:00+00", NULL},
    {"\"type\":\"int32\",\"name\":\"io.debezium.time.Date\",\"version\":1", "19000", "text",
     "2022-01-08", NULL},
    {"\"type\":\"int64\",\"name\":\"io.debezium.time.MicroTimestamp\",\"version\":1",
     "1529507596945104", "timestamp(6)", "2018-06-20 15:13:16.945104", NULL},
    {"\"type\":\"int64\",\"name\":\"io.debezium.time.MicroTimestamp\",\"version\":1",
     "1529507596945104", "timestamptz", "2018-06-20 15:13:16.945104+00", NULL},
    {"\"type\":\"int64\",\"name\":\"io.debezium.time.Timestamp\",\"version\":1", "1529507596945",
     "timestamp(3)", "2018-06-20 15:13:16.945", NULL},
    {"\"type\":\"string\",\"name\":\"io.debezium.time.ZonedTimestamp\",\"version\":1",
     "\"2018-06-20T13:37:03.5Z\"", "timestamptz", "2018-06-20 13:37:03.5+00", NULL},
    {"\"type\":\"string\",\"name\":\"io.debezium.time.ZonedTimestamp\",\"version\":1",
     "\"2018-06-20T13:37:03Z\"", "timestamp", "2018-06-20 13:37:03", NULL},
    {"\"type\":\"string\",\"name\":\"io.debezium.time.ZonedTimestamp\",\"version\":1",
     "\"2018-06-20T13:37:03Z\"", "text", "2018-06-20 13:37:03+00", NULL},
    {"\"type\":\"int64\",\"name\":\"io.debezium.time.MicroTime\",\"version\":1", "3723000001",
     "time(6)", "01:02:03.000001", NULL},
    {"\"type\":\"int64\",\"name\":\"io.debezium.time.MicroTime\",\"version\":1", "3723000001",
     "timetz", "01:02:03.000001+00", NULL},
    {"\"type\":\"string\",\"name\":\"io.debezium.time.ZonedTime\",\"version\":1", "\"10:15:30Z\"",
     "timetz", "10:15:30+00", NULL},
    {"\"type\":\"int64\",\"name\":\"io.debezium.time.MicroDuration\",\"version\":1", "3723000000",
     "interval", "01:02:03", NULL},
    {"\"type\":\"int32\",\"name\":\"io.debezium.time.Time\",\"version\":1", "45296789", "time(3)",
     "12:34:56.789", NULL},
    {"\"type\":\"int64\",\"name\":\"io.debezium.time.NanoTimestamp\",\"version\":1",
     "1529507596945104000", "timestamp(6)", "2018-06-20 15:13:16.945104", NULL},
    {"\"type\":\"string\",\"name\":\"io.debezium.time.ZonedTimestamp\",\"version\":1",
     "\"infinity\"", "timestamptz", "infinity", NULL},
    {"\"type\":\"string\",\"name\":\"io.debezium.data.Enum\",\"version\":1,"
     "\"parameters\":{\"allowed\":\"new,paid\"}",
     "\"paid\"", "text", "paid", NULL},
    /* A date column keeps a timestamp only when it is midnight. */
    {"\"type\":\"int64\",\"name\":\"io.debezium.time.MicroTimestamp\",\"version\":1",
     "1529452800000000", "date", "2018-06-20", NULL},
    {"\"type\":\"int64\",\"name\":\"io.debezium.time.MicroTimestamp\",\"version\":1",
     "1529507596945104", "date", NULL, "it would lose the time of day"},
    {"\"type\":\"string\",\"name\":\"io.debezium.time.ZonedTimestamp\",\"version\":1",
     "\"2018-06-20T13:37:03Z\"", "date", NULL, "it would lose the time of day"},
    /* JSON, UUID. */
    {"\"type\":\"string\",\"name\":\"io.debezium.data.Json\",\"version\":1",
     "\"{\\\"a\\\":1,\\\"b\\\":[true]}\"", "jsonb", "{\"a\": 1, \"b\": [true]}", NULL},
    {"\"type\":\"string\",\"name\":\"io.debezium.data.Json\",\"version\":1", "\"{\\\"a\\\":1}\"",
     "json", "{\"a\":1}", NULL},
    {"\"type\":\"string\",\"name\":\"io.debezium.data.Json\",\"version\":1", "\"{\\\"a\\\":1}\"",
     "text", "{\"a\":1}", NULL},
    {"\"type\":\"string\",\"name\":\"io.debezium.data.Uuid\",\"version\":1",
     "\"0E9A8B3C-1D2E-4F50-8a6b-7c8d9e0f1a2b\"", "uuid", "0e9a8b3c-1d2e-4f50-8a6b-7c8d9e0f1a2b",
     NULL},
    {"\"type\":\"string\",\"name\":\"io.debezium.data.Uuid\",\"version\":1",
     "\"0e9a8b3c-1d2e-4f50-8a6b-7c8d9e0f1a2b\"", "text", "0e9a8b3c-1d2e-4f50-8a6b-7c8d9e0f1a2b",
     NULL},
    {"\"type\":\"string\",\"name\":\"io.debezium.data.Uuid\",\"version\":1", "\"not-a-uuid\"",
     "uuid", NULL, "own schema's type uuid"}, /* a uuid column is the schema's type */
    /* Arrays. */
    {"\"type\":\"array\",\"items\":{\"type\":\"int32\",\"optional\":true}", "[1,null,3]",
     "integer[]", "{1,NULL,3}", NULL},
    {"\"type\":\"array\",\"items\":{\"type\":\"int32\",\"optional\":true}", "[1,2]", "bigint[]",
     "{1,2}", NULL},
    {"\"type\":\"array\",\"items\":{\"type\":\"int32\",\"optional\":true}", "[1,2]", "text[]",
     "{1,2}", NULL},
    {"\"type\":\"array\",\"items\":{\"type\":\"string\",\"optional\":true}", "[\"a b\",\"c\"]",
     "text[]", "{\"a b\",c}", NULL},
    {"\"type\":\"array\",\"items\":{\"type\":\"boolean\",\"optional\":true}", "[true,false]",
     "boolean[]", "{t,f}", NULL},
};

static void case_types(void)
{
    run_t r;
    run_init(&r, "types");
    size_t n = sizeof(tcases) / sizeof(tcases[0]);
    char(*tables)[96] = calloc(n, sizeof(*tables));
    TH_ASSERT(tables);
    for (size_t i = 0; i < n; i++) {
        const struct tcase *c = &tcases[i];
        snprintf(tables[i], sizeof(tables[i]), "%s_%zu", r.table, i);
        exec_fmt("CREATE TABLE public.%s (id int PRIMARY KEY, v %s)", tables[i], c->type);
        char fields[1024], after[512], key[256];
        snprintf(fields, sizeof(fields),
                 "[{\"type\":\"int32\",\"optional\":false,\"field\":\"id\"},{%s,\"optional\":"
                 "true,\"field\":\"v\"}]",
                 c->field);
        snprintf(after, sizeof(after), "{\"id\":1,\"v\":%s}", c->value);
        snprintf(key, sizeof(key),
                 "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int32\",\"optional\":"
                 "false,\"field\":\"id\"}],\"optional\":false,\"name\":\"k\"},\"payload\":{\"id\":"
                 "1}}");
        char *v = dbz_value(tables[i], 'c', fields, NULL, after);
        produce(r.topic, key, v);
        free(v);
    }
    int rc = apply(&r, "all", NULL);
    TH_CHECK_INT(rc, 0);
    TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, r.group, r.topic, 0), (long long)n);
    for (size_t i = 0; i < n; i++) {
        const struct tcase *c = &tcases[i];
        char sql[512];
        snprintf(sql, sizeof(sql), "SELECT v::text FROM public.%s WHERE id = 1", tables[i]);
        char *got = th_pg_query_value(pg.target_conninfo, sql);
        snprintf(sql, sizeof(sql),
                 "SELECT error FROM cdc.dead_letter WHERE group_id = '%s' AND topic = '%s' AND "
                 "kafka_offset = %zu",
                 r.group, r.topic, i);
        char *err = th_pg_query_value(pg.target_conninfo, sql);
        char col[128];
        snprintf(col, sizeof(col), "public.%s.v: ", tables[i]);
        bool ok = c->stored ? got && !strcmp(got, c->stored) && !err
                            : !got && err && strstr(err, c->error) && strstr(err, col) &&
                                  strstr(err, strstr(c->error, "own schema")
                                                  ? "fix the record's producer"
                                                  : "change the column's type") &&
                                  !strchr(err, '\n');
        if (!ok)
            fprintf(stderr, "type pair %zu (%s) %s -> %s: stored %s, dead letter %s\n", i, c->field,
                    c->value, c->type, got ? got : "(none)", err ? err : "(none)");
        TH_CHECK(ok);
        free(got);
        free(err);
    }
    free(tables);
    run_done(&r);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    memset(&pg, 0, sizeof(pg));
    TH_ASSERT(th_pg_start(&pg) == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "CREATE EXTENSION IF NOT EXISTS hstore") == 0);
    TH_ASSERT(th_broker_start(&broker, 1, NULL) == 0);
    rk = th_kafka_producer_new(broker.bootstrap, NULL);
    TH_ASSERT(rk);
    if (!only || !strcmp(only, "toast")) {
        case_toast(false);
        case_toast(true);
        case_toast_missing("none");
        case_toast_missing("all");
        case_toast_redo();
    }
    if (!only || !strcmp(only, "keychange")) {
        case_keychange(false);
        case_keychange(true);
    }
    if (!only || !strcmp(only, "timeout")) {
        case_timeout("none");
        case_timeout("all");
    }
    if (!only || !strcmp(only, "types"))
        case_types();
    if (!only || !strcmp(only, "headers"))
        case_headers();
    if (!only || !strcmp(only, "nullkey")) {
        case_nullkey(false);
        case_nullkey(true);
    }
    rd_kafka_destroy(rk);
    th_broker_stop(&broker);
    th_pg_stop(&pg);
    TH_DONE();
}
