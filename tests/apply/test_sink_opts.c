/* apply-sink-opts: the JDBC-sink style options (issue #10 part 3).
 *
 * disabled   --delete-enabled=false --truncate-enabled=false: a delete (and
 *            its tombstone) and a truncate are skipped and counted
 *            (cdc_events_skipped_total{reason="delete_disabled"|
 *            "truncate_disabled"}), every row stays and the position is
 *            the end offset; the same topic under the defaults deletes and
 *            truncates (the records are real ones).
 * tombstone  a flattened topic (ExtractNewRecordState: no envelope), values
 *            with and without schema, keys as the JsonConverter writes them
 *            (with schema and without): without --tombstone-is-delete the
 *            tombstones are skipped and the rows stay; with it they delete
 *            their rows. On an envelope topic, d + its tombstone: the d
 *            deletes, the tombstone is counted as a tombstone.
 * columns    --columns-exclude keeps a column out of inserts and updates
 *            (a stored value stays) and out of --create-tables DDL;
 *            --columns-include writes only the listed columns; a key
 *            column in a list is a one-line error (exit 2) that moves no
 *            position.
 * dlq        --dead-letter-topic: two poison records (one that does not
 *            decode, one the target refuses) with headers are rows of
 *            cdc.dead_letter AND messages of the topic with the same key,
 *            value and headers plus the __connect.errors.* headers;
 *            cdc_dead_letter_topic_total{result="produced"} is 2. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"

#include <stdint.h>
#include <unistd.h>

static const ta_field_t fields[] = {
    {"id", "int64", false}, {"qty", "int32", true}, {"name", "string", true}};

static json_t *row(long long id, int qty, const char *name)
{
    return json_pack("{s:I,s:i,s:s}", "id", (json_int_t)id, "qty", qty, "name", name);
}

static void produce(rd_kafka_t *rk, const char *topic, const char *key, const char *val)
{
    TH_ASSERT(th_kafka_produce_sync(rk, topic, 0, key, val, 10000) == 0);
}

/* A Debezium envelope change of public.@p table. */
static void produce_env(rd_kafka_t *rk, const char *topic, const char *table, char op, long long id,
                        json_t *before, json_t *after)
{
    char *k = op == 't' ? NULL : ta_dbz_key("id", id);
    char *v = ta_dbz_value("public", table, op, fields, 3, before, after);
    produce(rk, topic, k, v);
    free(k);
    free(v);
}

static void make_table(const th_pg_t *pg, const char *table, const char *extra)
{
    char sql[400];
    snprintf(sql, sizeof(sql),
             "CREATE TABLE public.%s (id bigint PRIMARY KEY, qty int, name text%s)", table,
             extra ? extra : "");
    TH_ASSERT(th_pg_exec(pg->target_conninfo, sql) == 0);
}

static char *ids_of(const th_pg_t *pg, const char *table)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM public.%s", table);
    return th_pg_query_value(pg->target_conninfo, sql);
}

static void check_ids(const th_pg_t *pg, const char *table, const char *want)
{
    char *ids = ids_of(pg, table);
    if (!ids || strcmp(ids, want))
        fprintf(stderr, "%s: ids '%s', want '%s'\n", table, ids ? ids : "(null)", want);
    TH_CHECK_STR(ids, want);
    free(ids);
}

/* Run cdc-apply with @p args (metrics on @p port) until the metric sums
 * of @p labels reach @p mins, then to its idle exit; returns the last
 * metrics body (caller frees). */
static char *run_scraped(const char *const *args, const char *log, int port, const char *metric,
                         const char *const *labels, const double *mins, size_t n)
{
    pid_t pid = ta_apply_spawn(args, log);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    char *body = ta_scrape_until(pid, url, metric, labels, mins, n, 60000);
    int st = ta_wait(pid, 60000);
    if (st != 0) {
        char *out = ta_slurp(log);
        fprintf(stderr, "cdc-apply exit %d:\n%s\n", st, out);
        free(out);
    }
    TH_CHECK_INT(st, 0);
    return body;
}

/* Run cdc-apply on @p topic under a fresh group (stored in @p group, 64
 * bytes) to its idle exit (0), with @p extra (borrowed; NULL: none) as
 * one more option. */
static void run_fresh(const th_broker_t *b, const th_pg_t *pg, const char *topic, const char *log,
                      const char *extra, char *group)
{
    snprintf(group, 64, "%s", th_unique("g"));
    TH_CHECK_INT(
        ta_apply_run_logged(TA_APPLY_ARGS(b->bootstrap, group, topic, pg->target_conninfo,
                                          "--exit-on-idle", "3", "--metrics-addr", "", extra),
                            log, 60000),
        0);
}

static void case_disabled(th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk)
{
    fprintf(stderr, "--- disabled deletes and truncates\n");
    char table[64], topic[128], group[64], log[128], port_s[32];
    snprintf(table, sizeof(table), "%s", th_unique("so_dis"));
    snprintf(topic, sizeof(topic), "srv.public.%s", table);
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", table);
    TH_ASSERT(th_broker_cmd(b, "create %s 1", topic) == 0);
    make_table(pg, table, NULL);
    for (long long id = 1; id <= 3; id++)
        produce_env(rk, topic, table, 'c', id, NULL, row(id, 1, "a"));
    produce_env(rk, topic, table, 'd', 2, row(2, 1, "a"), NULL);
    char *k = ta_dbz_key("id", 2);
    produce(rk, topic, k, NULL); /* its tombstone */
    free(k);
    produce_env(rk, topic, table, 't', 0, NULL, NULL);
    produce_env(rk, topic, table, 'c', 4, NULL, row(4, 1, "a"));
    int64_t end = ta_end_offset(b->bootstrap, topic, 0);

    int port = ta_free_port();
    snprintf(port_s, sizeof(port_s), "127.0.0.1:%d", port);
    const char *labels[] = {"reason=\"delete_disabled\"", "reason=\"truncate_disabled\"",
                            "reason=\"tombstone\""};
    const double mins[] = {1, 1, 1};
    /* Both option forms: the command line's =false and a config file. */
    char conf[160];
    snprintf(conf, sizeof(conf), "/tmp/%s.conf", table);
    FILE *f = fopen(conf, "w");
    TH_ASSERT(f);
    fprintf(f, "truncate-enabled=false\n");
    fclose(f);
    char *body = run_scraped(TA_APPLY_ARGS(b->bootstrap, group, topic, pg->target_conninfo,
                                           "--exit-on-idle", "3", "--metrics-addr", port_s,
                                           "--delete-enabled=false", "--config", conf),
                             log, port, "cdc_events_skipped_total", labels, mins, 3);
    TH_CHECK(body);
    if (body) {
        TH_CHECK_INT((long long)ta_metric_sum(body, "cdc_events_skipped_total",
                                              "reason=\"delete_disabled\""),
                     1);
        TH_CHECK_INT((long long)ta_metric_sum(body, "cdc_events_skipped_total",
                                              "reason=\"truncate_disabled\""),
                     1);
    }
    free(body);
    unlink(conf);
    check_ids(pg, table, "1,2,3,4");
    TH_CHECK_INT(ta_stored_offset(pg->target_conninfo, group, topic, 0), end);

    /* The defaults apply them: the delete, then the truncate. */
    run_fresh(b, pg, topic, log, NULL, group);
    check_ids(pg, table, "4");
    ta_log_finish(log, 4000);
}

/* A flattened value (ExtractNewRecordState) of public.@p table, with the
 * JsonConverter's schema or without. */
static char *flat_value(const char *table, long long id, bool with_schema)
{
    json_t *payload = row(id, (int)id * 10, "f");
    if (!with_schema) {
        char *s = json_dumps(payload, JSON_COMPACT);
        json_decref(payload);
        return s;
    }
    char name[200];
    snprintf(name, sizeof(name), "srv.public.%s.Value", table);
    json_t *root =
        json_pack("{s:{s:s,s:[{s:s,s:b,s:s},{s:s,s:b,s:s},{s:s,s:b,s:s}],s:b,s:s},s:o}", "schema",
                  "type", "struct", "fields", "type", "int64", "optional", 0, "field", "id", "type",
                  "int32", "optional", 1, "field", "qty", "type", "string", "optional", 1, "field",
                  "name", "optional", 0, "name", name, "payload", payload);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static char *flat_key(long long id, bool with_schema)
{
    if (with_schema)
        return ta_dbz_key("id", id);
    char *s = NULL;
    TH_ASSERT(asprintf(&s, "{\"id\":%lld}", id) > 0);
    return s;
}

static void case_tombstone(th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk)
{
    fprintf(stderr, "--- tombstone is delete\n");
    char table[64], topic[128], log[128], port_s[32];
    snprintf(table, sizeof(table), "%s", th_unique("so_tomb"));
    snprintf(topic, sizeof(topic), "srv.public.%s", table);
    snprintf(log, sizeof(log), "/tmp/%s.log", table);
    TH_ASSERT(th_broker_cmd(b, "create %s 1", topic) == 0);
    make_table(pg, table, NULL);
    /* ids 1..4: odd ones with schemas, even ones without. */
    for (long long id = 1; id <= 4; id++) {
        char *k = flat_key(id, id % 2), *v = flat_value(table, id, id % 2);
        produce(rk, topic, k, v);
        free(k);
        free(v);
    }
    for (long long id = 1; id <= 2; id++) {
        char *k = flat_key(id, id % 2);
        produce(rk, topic, k, NULL);
        free(k);
    }
    produce(rk, topic, NULL, NULL); /* no key: nothing to delete by */

    char group[64];
    run_fresh(b, pg, topic, log, NULL, group);
    check_ids(pg, table, "1,2,3,4");
    run_fresh(b, pg, topic, log, "--tombstone-is-delete", group);
    check_ids(pg, table, "3,4");
    TH_CHECK_INT(ta_stored_offset(pg->target_conninfo, group, topic, 0),
                 ta_end_offset(b->bootstrap, topic, 0));

    /* An envelope topic: c 1, c 2, d 1 + its tombstone, c 3 (once it is
     * counted, the tombstone before it was handled). */
    char etable[64], etopic[128];
    snprintf(etable, sizeof(etable), "%s", th_unique("so_env"));
    snprintf(etopic, sizeof(etopic), "srv.public.%s", etable);
    TH_ASSERT(th_broker_cmd(b, "create %s 1", etopic) == 0);
    make_table(pg, etable, NULL);
    produce_env(rk, etopic, etable, 'c', 1, NULL, row(1, 1, "e"));
    produce_env(rk, etopic, etable, 'c', 2, NULL, row(2, 1, "e"));
    produce_env(rk, etopic, etable, 'd', 1, row(1, 1, "e"), NULL);
    char *k = ta_dbz_key("id", 1);
    produce(rk, etopic, k, NULL);
    free(k);
    produce_env(rk, etopic, etable, 'c', 3, NULL, row(3, 1, "e"));
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    int port = ta_free_port();
    snprintf(port_s, sizeof(port_s), "127.0.0.1:%d", port);
    const char *labels[] = {"op=\"c\"", "op=\"d\""};
    const double mins[] = {3, 1};
    char *body = run_scraped(TA_APPLY_ARGS(b->bootstrap, group, etopic, pg->target_conninfo,
                                           "--exit-on-idle", "3", "--metrics-addr", port_s,
                                           "--tombstone-is-delete"),
                             log, port, "cdc_events_total", labels, mins, 2);
    TH_CHECK(body);
    if (body) {
        TH_CHECK_INT(
            (long long)ta_metric_sum(body, "cdc_events_skipped_total", "reason=\"tombstone\""), 1);
        TH_CHECK_INT((long long)ta_metric_sum(body, "cdc_events_total", "op=\"d\""), 1);
    }
    free(body);
    check_ids(pg, etable, "2,3");
    ta_log_finish(log, 4000);
}

/* The rows of public.@p table (id, qty, name, secret) as
 * "id:qty:name:secret ..." ('-' for NULL) must be @p want. */
static void check_rows(const th_pg_t *pg, const char *table, const char *want)
{
    char sql[400];
    snprintf(sql, sizeof(sql),
             "SELECT string_agg(id || ':' || qty || ':' || coalesce(name, '-') || ':' || "
             "coalesce(secret, '-'), ' ' ORDER BY id) FROM public.%s",
             table);
    th_pg_check_value(pg->target_conninfo, sql, want);
}

static void case_columns(th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk)
{
    fprintf(stderr, "--- column lists\n");
    static const ta_field_t sfields[] = {{"id", "int64", false},
                                         {"qty", "int32", true},
                                         {"name", "string", true},
                                         {"secret", "string", true}};
    char ex[64], in[64], cr[64], topics[400], log[128], group[64];
    snprintf(ex, sizeof(ex), "%s", th_unique("so_ex"));
    snprintf(in, sizeof(in), "%s", th_unique("so_in"));
    snprintf(cr, sizeof(cr), "%s", th_unique("so_cr"));
    snprintf(log, sizeof(log), "/tmp/%s.log", ex);
    snprintf(topics, sizeof(topics), "srv.public.%s,srv.public.%s,srv.public.%s", ex, in, cr);
    const char *tabs[] = {ex, in, cr};
    for (int i = 0; i < 3; i++) {
        char topic[128];
        snprintf(topic, sizeof(topic), "srv.public.%s", tabs[i]);
        TH_ASSERT(th_broker_cmd(b, "create %s 1", topic) == 0);
        /* c 1, u 1 (another secret), c 2 */
        for (int j = 0; j < 3; j++) {
            long long id = j == 2 ? 2 : 1;
            char secret[32];
            snprintf(secret, sizeof(secret), "leak%d", j);
            char *k = ta_dbz_key("id", id);
            char *v = ta_dbz_value("public", tabs[i], j == 1 ? 'u' : 'c', sfields, 4, NULL,
                                   json_pack("{s:I,s:i,s:s,s:s}", "id", (json_int_t)id, "qty",
                                             5 + j, "name", "n", "secret", secret));
            produce(rk, topic, k, v);
            free(k);
            free(v);
        }
    }
    make_table(pg, ex, ", secret text");
    make_table(pg, in, ", secret text");
    char sql[300];
    snprintf(sql, sizeof(sql), "INSERT INTO public.%s VALUES (1, 0, 'n', 'keep')", ex);
    TH_ASSERT(th_pg_exec(pg->target_conninfo, sql) == 0);
    char exs[128], ins[128], crs[128];
    snprintf(exs, sizeof(exs), "public.%s:secret", ex);
    snprintf(ins, sizeof(ins), "%s:id,qty", in); /* no schema: any */
    snprintf(crs, sizeof(crs), "public.%s:secret,name", cr);

    /* At start: a malformed entry, and a list that drops a column of
     * --key-columns. */
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    TH_CHECK_INT(ta_apply_run(TA_APPLY_ARGS(b->bootstrap, group, topics, pg->target_conninfo,
                                            "--metrics-addr", "", "--columns-exclude", ex),
                              log, 30000),
                 2);
    ta_check_log_line(log, "--columns-exclude", "expected TABLE:COL[,COL...]");
    char kc[128];
    snprintf(kc, sizeof(kc), "public.%s:id,name", in);
    TH_CHECK_INT(ta_apply_run(TA_APPLY_ARGS(b->bootstrap, group, topics, pg->target_conninfo,
                                            "--metrics-addr", "", "--columns-include", ins,
                                            "--key-columns", kc, "--columns-exclude", exs),
                              log, 30000),
                 2);
    ta_check_log_line(log, "--columns-include leaves out column", "add it to the list");
    /* Both lists for one table (one of them without a schema): the column
     * in both would be dropped without a word. */
    char both[128];
    snprintf(both, sizeof(both), "public.%s:qty", in);
    TH_CHECK_INT(ta_apply_run(TA_APPLY_ARGS(b->bootstrap, group, topics, pg->target_conninfo,
                                            "--metrics-addr", "", "--columns-include", ins,
                                            "--columns-exclude", both),
                              log, 30000),
                 2);
    ta_check_log_line(log, "both apply to table", "give a table one of the two lists");

    /* A key column in a list: exit 2, one line, nothing moved, no table
     * created (the table's topic alone: another table's batch would
     * commit before the record that fails). */
    char bad[128], crtopic[128];
    snprintf(bad, sizeof(bad), "public.%s:secret,id", cr);
    snprintf(crtopic, sizeof(crtopic), "srv.public.%s", cr);
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    TH_CHECK_INT(ta_apply_run(TA_APPLY_ARGS(b->bootstrap, group, crtopic, pg->target_conninfo,
                                            "--exit-on-idle", "3", "--metrics-addr", "",
                                            "--create-tables", "--columns-exclude", bad),
                              log, 60000),
                 2);
    ta_check_log_line(log, "--columns-exclude drops column id", "key columns are always written");
    char cq[160];
    snprintf(cq, sizeof(cq), "SELECT count(*) FROM %s.offsets WHERE group_id = '%s'", "cdc", group);
    TH_CHECK_INT(ta_query_ll(pg->target_conninfo, cq), 0);
    snprintf(cq, sizeof(cq), "SELECT (to_regclass('public.%s') IS NULL)::int", cr);
    TH_CHECK_INT(ta_query_ll(pg->target_conninfo, cq), 1);

    snprintf(group, sizeof(group), "%s", th_unique("g"));
    TH_CHECK_INT(
        ta_apply_run_logged(TA_APPLY_ARGS(b->bootstrap, group, topics, pg->target_conninfo,
                                          "--exit-on-idle", "3", "--metrics-addr", "",
                                          "--create-tables", "--columns-exclude", exs,
                                          "--columns-include", ins, "--columns-exclude", crs),
                            log, 60000),
        0);
    char *v;
    check_rows(pg, ex, "1:6:n:keep 2:7:n:-"); /* updated, but its secret kept */
    check_rows(pg, in, "1:6:-:- 2:7:-:-");
    snprintf(sql, sizeof(sql),
             "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM "
             "information_schema.columns WHERE table_schema = 'public' AND table_name = '%s'",
             cr);
    v = th_pg_query_value(pg->target_conninfo, sql);
    TH_CHECK_STR(v, "id,qty"); /* created without the excluded columns */
    free(v);
    check_ids(pg, cr, "1,2");
    ta_log_finish(log, 4000);
}

/* The messages of partition 0 of @p topic (up to @p max), 30 s at most;
 * *end is its high watermark. *crk is the consumer (new): destroy it
 * after the messages, which hold it. */
static size_t consume_all(const th_broker_t *b, const char *topic, rd_kafka_message_t **out,
                          size_t max, int64_t *end, rd_kafka_t **crk)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", b->bootstrap, NULL, 0);
    rd_kafka_conf_set(c, "group.id", th_unique("rd"), NULL, 0);
    rd_kafka_conf_set(c, "enable.auto.commit", "false", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    TH_ASSERT(rk);
    int64_t lo = 0, hi = 0;
    TH_ASSERT(rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 10000) == 0);
    *end = hi;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    TH_ASSERT(rd_kafka_assign(rk, l) == 0);
    rd_kafka_topic_partition_list_destroy(l);
    size_t n = 0;
    int64_t deadline = th_now_ms() + 30000, next = lo;
    while (next < hi && n < max && th_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        next = m->offset + 1;
        out[n++] = m;
    }
    *crk = rk;
    return n;
}

static char *header(rd_kafka_message_t *m, const char *name)
{
    rd_kafka_headers_t *h = NULL;
    const void *val = NULL;
    size_t len = 0;
    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &val, &len))
        return NULL;
    return val ? strndup(val, len) : strdup("(null)");
}

static void check_header(rd_kafka_message_t *m, const char *name, const char *want)
{
    char *v = header(m, name);
    if (!v || (want[0] == '~' ? !strstr(v, want + 1) : strcmp(v, want) != 0))
        fprintf(stderr, "header %s: '%s', want '%s'\n", name, v ? v : "(none)", want);
    TH_CHECK(v && (want[0] == '~' ? strstr(v, want + 1) != NULL : strcmp(v, want) == 0));
    free(v);
}

static void case_dlq(th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk)
{
    fprintf(stderr, "--- dead letter topic\n");
    char table[64], topic[128], dlq[64], group[64], log[128], port_s[32];
    snprintf(table, sizeof(table), "%s", th_unique("so_dlq"));
    snprintf(topic, sizeof(topic), "srv.public.%s", table);
    snprintf(dlq, sizeof(dlq), "%s", th_unique("dlq"));
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", table);
    TH_ASSERT(th_broker_cmd(b, "create %s 1", topic) == 0);
    TH_ASSERT(th_broker_cmd(b, "create %s 1", dlq) == 0);
    make_table(pg, table, NULL);
    produce_env(rk, topic, table, 'c', 1, NULL, row(1, 1, "a"));
    /* @1: does not decode (id is not an int64); @2: the target refuses
     * qty "abc" (the schema says string); both with headers. */
    static const ta_field_t str_fields[] = {
        {"id", "int64", false}, {"qty", "string", true}, {"name", "string", true}};
    char *keys[2] = {ta_dbz_key("id", 100), ta_dbz_key("id", 101)};
    char *vals[2] = {ta_dbz_value("public", table, 'c', fields, 3, NULL,
                                  json_pack("{s:s,s:i,s:s}", "id", "abc", "qty", 1, "name", "bad")),
                     ta_dbz_value("public", table, 'c', str_fields, 3, NULL,
                                  json_pack("{s:I,s:s,s:s}", "id", (json_int_t)101, "qty", "abc",
                                            "name", "bad"))};
    for (int i = 0; i < 2; i++) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(2);
        rd_kafka_header_add(h, "traceparent", -1,
                            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", -1);
        rd_kafka_header_add(h, "raw", -1, "\x01\x02", 2);
        TH_ASSERT(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                    RD_KAFKA_V_KEY(keys[i], strlen(keys[i])),
                                    RD_KAFKA_V_VALUE(vals[i], strlen(vals[i])),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                                    RD_KAFKA_V_OPAQUE(NULL), RD_KAFKA_V_END) == 0);
        TH_ASSERT(rd_kafka_flush(rk, 10000) == 0);
    }
    produce_env(rk, topic, table, 'c', 2, NULL, row(2, 1, "a"));

    /* Without --errors-tolerance all it is a usage error. */
    TH_CHECK_INT(ta_apply_run(TA_APPLY_ARGS(b->bootstrap, group, topic, pg->target_conninfo,
                                            "--metrics-addr", "", "--dead-letter-topic", dlq),
                              log, 30000),
                 2);
    ta_check_log_line(log, "--dead-letter-topic needs --errors-tolerance all", "");

    int port = ta_free_port();
    snprintf(port_s, sizeof(port_s), "127.0.0.1:%d", port);
    const char *labels[] = {"result=\"produced\""};
    const double mins[] = {2};
    char *body =
        run_scraped(TA_APPLY_ARGS(b->bootstrap, group, topic, pg->target_conninfo, "--exit-on-idle",
                                  "3", "--metrics-addr", port_s, "--errors-tolerance", "all",
                                  "--dead-letter-topic", dlq, TA_FAST_GROUP),
                    log, port, "cdc_dead_letter_topic_total", labels, mins, 1);
    TH_CHECK(body);
    if (body) {
        TH_CHECK_INT(
            (long long)ta_metric_sum(body, "cdc_dead_letter_topic_total", "result=\"produced\""),
            2);
        TH_CHECK_INT(
            (long long)ta_metric_sum(body, "cdc_dead_letter_topic_total", "result=\"failed\""), 0);
    }
    if (th_failures && body)
        fprintf(stderr, "--- metrics:\n%s\n", body);
    free(body);
    check_ids(pg, table, "1,2");
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT string_agg(kafka_offset::text, ',' ORDER BY kafka_offset) FROM "
             "cdc.dead_letter WHERE group_id = '%s' AND topic = '%s'",
             group, topic);
    char *offs = th_pg_query_value(pg->target_conninfo, sql);
    TH_CHECK_STR(offs, "1,2");
    free(offs);

    rd_kafka_message_t *ms[4];
    int64_t end = -1;
    rd_kafka_t *crk = NULL;
    size_t n = consume_all(b, dlq, ms, 4, &end, &crk);
    TH_CHECK_INT((long long)end, 2); /* one copy each, no duplicate */
    TH_CHECK_INT((long long)n, 2);
    for (size_t i = 0; i < n && i < 2; i++) {
        rd_kafka_message_t *m = ms[i];
        TH_CHECK(m->key_len == strlen(keys[i]) && !memcmp(m->key, keys[i], m->key_len));
        TH_CHECK(m->len == strlen(vals[i]) && !memcmp(m->payload, vals[i], m->len));
        check_header(m, "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        check_header(m, "raw", "\x01\x02");
        check_header(m, "__connect.errors.topic", topic);
        check_header(m, "__connect.errors.partition", "0");
        check_header(m, "__connect.errors.offset", i == 0 ? "1" : "2");
        check_header(m, "__connect.errors.stage", i == 0 ? "VALUE_CONVERTER" : "TASK_PUT");
        check_header(m, "__connect.errors.connector.name", group);
        check_header(m, "__connect.errors.exception.message",
                     i == 0 ? "~expected an int64" : "~invalid input syntax for type integer");
        check_header(m, "__connect.errors.exception.class.name", "~cdc_apply.");
        rd_kafka_message_destroy(m);
    }
    rd_kafka_destroy(crk);
    for (int i = 0; i < 2; i++) {
        free(keys[i]);
        free(vals[i]);
    }
    ta_log_finish(log, 4000);
}

int main(int argc, char **argv)
{
    /* An argument picks one case (disabled, tombstone, columns, dlq). */
    const char *only = argc > 1 ? argv[1] : NULL;
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    rd_kafka_t *rk = ta_producer_new(&b);
    if (!only || !strcmp(only, "disabled"))
        case_disabled(&pg, &b, rk);
    if (!only || !strcmp(only, "tombstone"))
        case_tombstone(&pg, &b, rk);
    if (!only || !strcmp(only, "columns"))
        case_columns(&pg, &b, rk);
    if (!only || !strcmp(only, "dlq"))
        case_dlq(&pg, &b, rk);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
    TH_DONE();
}
