/* apply-catalog-*: the target catalog as seen from schemaless JSON and
 * --evolve (issue #8).
 *
 * routing    Schemaless JSON (schemas.enable=false) carries no types: the
 *            value of a bytea column is base64 text, read as bytea only
 *            when the target type lookup finds the column. The lookup must
 *            route like apply does: with --table-format 'public.${topic}'
 *            and '...${source.db}...' the bytes must arrive (\x000102, not
 *            the text of the base64). A schemaless record of a table that
 *            does not exist stops the run (exit 1) with one line naming
 *            the table, and commits nothing past it.
 * reconnect  The target connection drops while cdc-apply is idle
 *            (pg_terminate_backend of its session). Then (a) a schemaless
 *            record of a table not seen yet: the lookup fails on the dead
 *            connection, which must be retried, never decoded without
 *            types; (b) after another drop, a new topic is assigned (the
 *            position read reconnects) and its first record is of a new
 *            table: the lookup must use the new connection (the old one is
 *            freed: a use after free under ASan before the fix). Every
 *            bytea must be exact, and a SIGTERM then exits 0.
 * evolve     --evolve on varchar(10): values that fit leave the column as
 *            it is (it was rewritten to text on the first event, which on
 *            a table used by a view failed on every start); a longer value
 *            widens it to text, or to the source length when the schema's
 *            __debezium.source.column.length says the source widened; a
 *            view on a column that must widen gives one line naming the
 *            view and the column, exit 2, nothing committed past it. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"

#include <signal.h>
#include <unistd.h>

/* A schemaless Debezium change (JsonConverter schemas.enable=false), in
 * the connector's field order. */
static char *bare_value(const char *db, const char *schema, const char *table, long long id,
                        const char *b64)
{
    static long long txid = 500;
    txid++;
    json_t *v =
        json_pack("{s:n,s:{s:I,s:s},s:{s:s,s:s,s:s,s:I,s:s,s:s,s:n,s:s,s:s,s:I,s:I,s:n},"
                  "s:s,s:I,s:n}",
                  "before", "after", "id", (json_int_t)id, "data", b64, "source", "version",
                  "2.4.2.Final", "connector", "postgresql", "name", "srv", "ts_ms",
                  (json_int_t)1700000000000, "snapshot", "false", "db", db, "sequence", "schema",
                  schema, "table", table, "txId", (json_int_t)txid, "lsn", (json_int_t)(txid * 100),
                  "xmin", "op", "c", "ts_ms", (json_int_t)1700000000001, "transaction");
    TH_ASSERT(v);
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(v);
    return s;
}

static void produce_bare(rd_kafka_t *rk, const char *topic, const char *db, const char *schema,
                         const char *table, long long id, const char *b64)
{
    char *v = bare_value(db, schema, table, id, b64);
    ta_produce_keyed(rk, topic, id, v);
}

static char *hexdata(th_pg_t *pg, const char *table, long long id)
{
    char sql[300];
    snprintf(sql, sizeof(sql), "SELECT data::text FROM %s WHERE id = %lld", table, id);
    return th_pg_query_value(pg->target_conninfo, sql);
}

static void check_hex(th_pg_t *pg, const char *table, long long id, const char *want)
{
    char *v = hexdata(pg, table, id);
    if (!v || strcmp(v, want))
        fprintf(stderr, "%s id %lld: data %s, want %s\n", table, id, v ? v : "NULL", want);
    TH_CHECK_STR(v, want);
    free(v);
}

static void show_log(const char *log)
{
    char *out = ta_slurp(log);
    size_t len = strlen(out);
    fprintf(stderr, "cdc-apply log (tail):\n%s\n", len > 6000 ? out + len - 6000 : out);
    free(out);
}

#define BYTEA_DDL "CREATE TABLE %s (id bigint PRIMARY KEY, data bytea)"

static void create_bytea(th_pg_t *pg, const char *qname)
{
    char ddl[300];
    snprintf(ddl, sizeof(ddl), BYTEA_DDL, qname);
    TH_ASSERT(th_pg_exec(pg->target_conninfo, ddl) == 0);
}

/* ---- routing ---- */

static void routing_case(th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk, const char *fmt,
                         const char *topic, const char *target)
{
    char group[64], log[128];
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", th_unique("cat-routing"));
    fprintf(stderr, "--- --table-format '%s' -> %s\n", fmt, target);
    TH_ASSERT(th_broker_cmd(b, "create %s 1", topic) == 0);
    create_bytea(pg, target);
    /* A table of the source's name too, in the schema the event names:
     * the lookup used to read that one's types. Here its data is text. */
    produce_bare(rk, topic, "source", "public", "blobs", 1, "AAEC");     /* 00 01 02 */
    produce_bare(rk, topic, "source", "public", "blobs", 2, "/wA=");     /* ff 00 */
    produce_bare(rk, topic, "source", "public", "blobs", 3, "3q2+7w=="); /* de ad be ef */
    const char *const *args =
        TA_APPLY_ARGS(b->bootstrap, group, topic, pg->target_conninfo, "--table-format", fmt,
                      "--exit-on-idle", "2", "--metrics-addr", "", TA_FAST_GROUP);
    int rc = ta_apply_run(args, log, 30000);
    TH_CHECK_INT(rc, 0);
    check_hex(pg, target, 1, "\\x000102");
    check_hex(pg, target, 2, "\\xff00");
    check_hex(pg, target, 3, "\\xdeadbeef");
    TH_CHECK_INT(ta_stored_offset(pg->target_conninfo, group, topic, 0), 3);
    if (th_failures)
        show_log(log);
    else
        unlink(log);
}

static void missing_case(th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk)
{
    char group[64], log[128], topic[64], table[64];
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(topic, sizeof(topic), "%s", th_unique("srv.public.missing"));
    snprintf(table, sizeof(table), "%s", th_unique("nosuch"));
    snprintf(log, sizeof(log), "/tmp/%s.log", th_unique("cat-missing"));
    fprintf(stderr, "--- missing table public.%s\n", table);
    TH_ASSERT(th_broker_cmd(b, "create %s 1", topic) == 0);
    char present[80];
    snprintf(present, sizeof(present), "public.%s_ok", table);
    create_bytea(pg, present);
    char okname[80];
    snprintf(okname, sizeof(okname), "%s_ok", table);
    produce_bare(rk, topic, "source", "public", okname, 1, "AAEC");
    produce_bare(rk, topic, "source", "public", table, 2, "AAEC");
    produce_bare(rk, topic, "source", "public", okname, 3, "AAEC");
    const char *const *args =
        TA_APPLY_ARGS(b->bootstrap, group, topic, pg->target_conninfo, "--exit-on-idle", "2",
                      "--metrics-addr", "", TA_FAST_GROUP);
    int rc = ta_apply_run(args, log, 30000);
    TH_CHECK_INT(rc, 1);
    char *out = ta_slurp(log);
    /* One error line naming the table and saying what to do. */
    char want[200];
    snprintf(want, sizeof(want), "target table public.%s does not exist", table);
    int lines = 0;
    for (char *l = out; (l = strstr(l, want)); l++)
        lines++;
    TH_CHECK(lines >= 1);
    TH_CHECK(strstr(out, "schemaless JSON") != NULL);
    TH_CHECK(strstr(out, "create the table") != NULL);
    /* The record before it is applied, nothing past it. */
    TH_CHECK_INT(ta_stored_offset(pg->target_conninfo, group, topic, 0), 1);
    check_hex(pg, present, 1, "\\x000102");
    if (th_failures)
        fprintf(stderr, "%s\n", out);
    else
        unlink(log);
    free(out);
}

static void run_routing(th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk)
{
    /* The table the event names exists with a text column: reading its
     * type instead of the routed table's is the defect. */
    TH_ASSERT(th_pg_exec(pg->target_conninfo,
                         "CREATE TABLE public.blobs (id bigint PRIMARY KEY, data text)") == 0);
    char topic[64], target[128];
    snprintf(topic, sizeof(topic), "%s", th_unique("srv.public.blobs"));
    snprintf(target, sizeof(target), "public.");
    for (const char *p = topic; *p; p++)
        snprintf(target + strlen(target), sizeof(target) - strlen(target), "%c",
                 *p == '.' ? '_' : *p);
    routing_case(pg, b, rk, "public.${topic}", topic, target);

    char topic2[64];
    snprintf(topic2, sizeof(topic2), "%s", th_unique("srv.public.blobs"));
    TH_ASSERT(th_pg_exec(pg->target_conninfo, "CREATE SCHEMA IF NOT EXISTS source") == 0);
    routing_case(pg, b, rk, "${source.db}.${source.table}", topic2, "source.blobs");

    missing_case(pg, b, rk);
}

/* ---- reconnect ---- */

static void terminate_apply_session(th_pg_t *pg)
{
    char *n = th_pg_query_value(pg->target_conninfo,
                                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                "WHERE application_name = 'cdc-apply'");
    fprintf(stderr, "terminated %s cdc-apply session(s)\n", n ? n : "?");
    TH_CHECK(n && strcmp(n, "0") != 0);
    free(n);
}

typedef struct row_wait {
    th_pg_t *pg;
    const char *table;
    long long id;
} row_wait_t;

static bool row_there(void *arg)
{
    row_wait_t *w = arg;
    char sql[300];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE id = %lld", w->table, w->id);
    return ta_query_ll(w->pg->target_conninfo, sql) == 1;
}

static void run_reconnect(th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk)
{
    char prefix[64], t1[128], t2[128], group[64], log[128], pattern[160];
    char ta[64], tc[64], tb[64], qa[80], qc[80], qb[80];
    snprintf(prefix, sizeof(prefix), "%s", th_unique("rc"));
    snprintf(t1, sizeof(t1), "%s.public.first", prefix);
    snprintf(t2, sizeof(t2), "%s.public.later", prefix);
    snprintf(pattern, sizeof(pattern), "^%s\\..*", prefix);
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", prefix);
    snprintf(ta, sizeof(ta), "%s", th_unique("ta"));
    snprintf(tc, sizeof(tc), "%s", th_unique("tc"));
    snprintf(tb, sizeof(tb), "%s", th_unique("tb"));
    snprintf(qa, sizeof(qa), "public.%s", ta);
    snprintf(qc, sizeof(qc), "public.%s", tc);
    snprintf(qb, sizeof(qb), "public.%s", tb);
    create_bytea(pg, qa);
    create_bytea(pg, qc);
    create_bytea(pg, qb);
    TH_ASSERT(th_broker_cmd(b, "create %s 1", t1) == 0);
    produce_bare(rk, t1, "source", "public", ta, 1, "AAEC");

    const char *const *args = TA_APPLY_ARGS(
        b->bootstrap, group, pattern, pg->target_conninfo, "--retry-backoff-ms", "100",
        "--metrics-addr", "", "-X", "topic.metadata.refresh.interval.ms=500", TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(args, log);
    row_wait_t w = {pg, qa, 1};
    TH_ASSERT(th_wait_for(row_there, &w, 30000));
    usleep(500 * 1000); /* idle: the batch is committed */

    /* (a) a dead connection when a new table's first schemaless record
     *     is decoded */
    fprintf(stderr, "--- (a) lookup on a dropped connection\n");
    terminate_apply_session(pg);
    usleep(300 * 1000);
    produce_bare(rk, t1, "source", "public", tc, 2, "/wA=");
    w = (row_wait_t){pg, qc, 2};
    TH_CHECK(th_wait_for(row_there, &w, 30000));
    check_hex(pg, qc, 2, "\\xff00");

    /* (b) a drop, then an assignment (its position read reconnects and
     *     frees the old connection), then a new table's first record */
    fprintf(stderr, "--- (b) new partition assigned after a drop\n");
    usleep(500 * 1000);
    terminate_apply_session(pg);
    usleep(300 * 1000);
    TH_ASSERT(th_broker_cmd(b, "create %s 1", t2) == 0);
    produce_bare(rk, t2, "source", "public", tb, 3, "3q2+7w==");
    w = (row_wait_t){pg, qb, 3};
    TH_CHECK(th_wait_for(row_there, &w, 40000));
    check_hex(pg, qb, 3, "\\xdeadbeef");
    check_hex(pg, qa, 1, "\\x000102");

    kill(pid, SIGTERM);
    int rc = ta_wait(pid, 30000);
    TH_CHECK_INT(rc, 0);
    TH_CHECK_INT(ta_stored_offset(pg->target_conninfo, group, t1, 0), 2);
    TH_CHECK_INT(ta_stored_offset(pg->target_conninfo, group, t2, 0), 1);
    char *out = ta_slurp(log);
    TH_CHECK(strstr(out, "retrying") != NULL);
    TH_CHECK(strstr(out, "AddressSanitizer") == NULL && strstr(out, "LeakSanitizer") == NULL);
    free(out);
    if (th_failures)
        show_log(log);
    else
        unlink(log);
}

/* ---- evolve ---- */

/* A JSON-with-schema value of (id int64, name string) whose name field may
 * carry the propagated source type (column.propagate.source.type). */
static char *evolve_value(const char *table, long long id, const char *name, int srclen)
{
    static const ta_field_t fields[] = {{"id", "int64", false}, {"name", "string", true}};
    json_t *after = json_pack("{s:I,s:s}", "id", (json_int_t)id, "name", name);
    char *s = ta_dbz_value("public", table, 'c', fields, 2, NULL, after);
    if (srclen <= 0)
        return s;
    json_error_t e;
    json_t *root = json_loads(s, JSON_PRESERVE_ORDER, &e);
    free(s);
    TH_ASSERT(root);
    /* schema.fields[0] is "before", [1] "after"; field 1 of each is name. */
    json_t *top = json_object_get(json_object_get(root, "schema"), "fields");
    char len[16];
    snprintf(len, sizeof(len), "%d", srclen);
    for (size_t i = 0; i < 2; i++) {
        json_t *f = json_array_get(json_object_get(json_array_get(top, i), "fields"), 1);
        TH_ASSERT(f && !strcmp(json_string_value(json_object_get(f, "field")), "name"));
        json_object_set_new(f, "parameters",
                            json_pack("{s:s,s:s}", "__debezium.source.column.type", "VARCHAR",
                                      "__debezium.source.column.length", len));
    }
    s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return s;
}

static char *col_type(th_pg_t *pg, const char *table)
{
    char sql[300];
    snprintf(sql, sizeof(sql),
             "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
             "'public.%s'::regclass AND attname = 'name'",
             table);
    return th_pg_query_value(pg->target_conninfo, sql);
}

typedef struct evalue {
    const char *name;
    int srclen; /* __debezium.source.column.length, 0: none */
} evalue_t;

static int evolve_run(th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk, const char *table,
                      const evalue_t *vals, size_t n, const char *view, char **outp,
                      char *topic_out, size_t topic_size, char *group_out, size_t group_size)
{
    char ddl[300];
    snprintf(ddl, sizeof(ddl), "CREATE TABLE public.%s (id bigint PRIMARY KEY, name varchar(10))",
             table);
    TH_ASSERT(th_pg_exec(pg->target_conninfo, ddl) == 0);
    if (view) {
        snprintf(ddl, sizeof(ddl), "CREATE VIEW public.%s AS SELECT id, name FROM public.%s", view,
                 table);
        TH_ASSERT(th_pg_exec(pg->target_conninfo, ddl) == 0);
    }
    snprintf(topic_out, topic_size, "srv.public.%s", table);
    snprintf(group_out, group_size, "%s", th_unique("g"));
    TH_ASSERT(th_broker_cmd(b, "create %s 1", topic_out) == 0);
    for (size_t i = 0; i < n; i++) {
        char *v = evolve_value(table, (long long)i + 1, vals[i].name, vals[i].srclen);
        char *k = ta_dbz_key("id", (long long)i + 1);
        TH_ASSERT(th_kafka_produce_sync(rk, topic_out, 0, k, v, 10000) == 0);
        free(k);
        free(v);
    }
    char log[128];
    snprintf(log, sizeof(log), "/tmp/%s.log", th_unique("cat-evolve"));
    const char *const *args =
        TA_APPLY_ARGS(b->bootstrap, group_out, topic_out, pg->target_conninfo, "--evolve",
                      "--exit-on-idle", "2", "--metrics-addr", "", TA_FAST_GROUP);
    int rc = ta_apply_run(args, log, 30000);
    *outp = ta_slurp(log);
    unlink(log);
    return rc;
}

static void evolve_case(th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk, const char *what,
                        const evalue_t *vals, size_t n, const char *want_type)
{
    char table[64], topic[128], group[64];
    snprintf(table, sizeof(table), "%s", th_unique("ev"));
    fprintf(stderr, "--- evolve: %s -> %s\n", what, want_type);
    char *out = NULL;
    int rc = evolve_run(pg, b, rk, table, vals, n, NULL, &out, topic, sizeof(topic), group,
                        sizeof(group));
    int before = th_failures;
    TH_CHECK_INT(rc, 0);
    char *t = col_type(pg, table);
    TH_CHECK_STR(t, want_type);
    free(t);
    TH_CHECK_INT(ta_stored_offset(pg->target_conninfo, group, topic, 0), (long long)n);
    char sql[200];
    snprintf(sql, sizeof(sql), "SELECT name FROM public.%s WHERE id = %zu", table, n);
    t = th_pg_query_value(pg->target_conninfo, sql);
    TH_CHECK_STR(t, vals[n - 1].name);
    free(t);
    if (th_failures != before)
        fprintf(stderr, "%s\n", out);
    free(out);
}

static void run_evolve(th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk)
{
    /* 10 characters, 10 bytes more than that in UTF-8: still fits. */
    const evalue_t fit[] = {{"short", 0},
                            {"exactly10!", 0},
                            {"\xc3\xa4\xc3\xb6\xc3\xbc"
                             "abcdefg",
                             0}};
    evolve_case(pg, b, rk, "values that fit", fit, 3, "character varying(10)");
    const evalue_t fit_src[] = {{"short", 10}, {"also", 10}};
    evolve_case(pg, b, rk, "values that fit, source varchar(10)", fit_src, 2,
                "character varying(10)");
    const evalue_t longer[] = {{"short", 0}, {"fifteen chars!!", 0}};
    evolve_case(pg, b, rk, "a longer value", longer, 2, "text");
    const evalue_t longer_src[] = {{"short", 20}, {"fifteen chars!!", 20}};
    evolve_case(pg, b, rk, "a longer value, source varchar(20)", longer_src, 2,
                "character varying(20)");
    const evalue_t src_wider[] = {{"short", 10}, {"short too", 30}};
    evolve_case(pg, b, rk, "the source widened to varchar(30)", src_wider, 2,
                "character varying(30)");

    /* A view on the column: values that fit must not touch it. */
    char table[64], view[80], topic[128], group[64];
    snprintf(table, sizeof(table), "%s", th_unique("evv"));
    snprintf(view, sizeof(view), "%s_v", table);
    fprintf(stderr, "--- evolve: a view, values that fit, then a longer one\n");
    const evalue_t vals[] = {
        {"short", 0}, {"fits too", 0}, {"this one is too long", 0}, {"after", 0}};
    char *out = NULL;
    int rc = evolve_run(pg, b, rk, table, vals, 4, view, &out, topic, sizeof(topic), group,
                        sizeof(group));
    TH_CHECK_INT(rc, 2);
    char *t = col_type(pg, table);
    TH_CHECK_STR(t, "character varying(10)");
    free(t);
    /* The records that fit are applied, nothing from the long one on. */
    TH_CHECK_INT(ta_stored_offset(pg->target_conninfo, group, topic, 0) <= 2, 1);
    char sql[200];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM public.%s WHERE id >= 3", table);
    TH_CHECK_INT(ta_query_ll(pg->target_conninfo, sql), 0);
    /* One line naming the view and the column, and what to do. */
    char want[200];
    snprintf(want, sizeof(want), "view public.%s depends on it", view);
    const char *line = strstr(out, want);
    TH_CHECK(line != NULL);
    if (line) {
        const char *bol = line;
        while (bol > out && bol[-1] != '\n')
            bol--;
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - bol) : strlen(bol);
        char *l = strndup(bol, len);
        TH_CHECK(strstr(l, "column \"name\"") != NULL);
        TH_CHECK(strstr(l, "drop the view") != NULL);
        TH_CHECK(strstr(l, "ALTER TABLE") != NULL);
        free(l);
    }
    TH_CHECK(strstr(out, "0A000") == NULL || line != NULL);
    if (th_failures)
        fprintf(stderr, "%s\n", out);
    free(out);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "routing";
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    rd_kafka_t *rk = ta_producer_new(&b);
    if (!strcmp(mode, "routing"))
        run_routing(&pg, &b, rk);
    else if (!strcmp(mode, "reconnect"))
        run_reconnect(&pg, &b, rk);
    else if (!strcmp(mode, "evolve"))
        run_evolve(&pg, &b, rk);
    else
        TH_ASSERT(!"mode: routing, reconnect or evolve");
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
    TH_DONE();
}
