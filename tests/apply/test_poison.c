/* apply-poison: invariant 3, no silent drops.
 *
 * Three kinds of bad record, each between good ones in a one-partition
 * topic (good ids 1..5 at offsets 0..4, the bad record at offset 5, good
 * ids 6..8 at offsets 6..8):
 *   decode  an int64 column holding "abc" (the decoder rejects it),
 *   json    a value that is not JSON at all,
 *   apply   a value that decodes (the schema says string) but that the
 *           target's int column refuses: found by the writer's isolation
 *           under savepoints, after the batch failed as a whole.
 * --errors-tolerance none: exit 1, an ERROR line naming topic[0]@5 and the
 * cause, cdc.offsets next_offset == 5 (not past it), ids 1..5 applied and
 * 6..8 not.
 * --errors-tolerance all (one topic with all three kinds): exit 0,
 * cdc.dead_letter holds each bad record's key and value byte for byte with
 * its offset and error, every good record is applied and the position is
 * the end offset. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"

#include <unistd.h>

typedef enum bad { BAD_DECODE, BAD_JSON, BAD_APPLY } bad_t;

static const struct pcase {
    const char *name;
    bad_t bad;
    const char *cause; /* substring the ERROR line must hold */
} cases[] = {
    {"decode", BAD_DECODE, "expected an int64"},
    {"json", BAD_JSON, "JSON"},
    {"apply", BAD_APPLY, "invalid input syntax for type integer"},
};

static const ta_field_t good_fields[] = {
    {"id", "int64", false}, {"qty", "int32", true}, {"name", "string", true}};
/* The apply-poison record's schema: qty as a string (decodes fine). */
static const ta_field_t str_fields[] = {
    {"id", "int64", false}, {"qty", "string", true}, {"name", "string", true}};

static char *good_value(const char *table, long long id)
{
    return ta_dbz_value(
        "public", table, 'c', good_fields, 3, NULL,
        json_pack("{s:I,s:i,s:s}", "id", (json_int_t)id, "qty", (int)id * 10, "name", "good"));
}

/* The bad record for @p id; its key and value are returned (new). */
static void bad_record(bad_t bad, const char *table, long long id, char **key, char **val)
{
    *key = ta_dbz_key("id", id);
    switch (bad) {
    case BAD_DECODE:
        *val = ta_dbz_value("public", table, 'c', good_fields, 3, NULL,
                            json_pack("{s:s,s:i,s:s}", "id", "abc", "qty", 1, "name", "bad"));
        break;
    case BAD_JSON:
        *val = strdup("{\"schema\": {\"type\": \"struct\", oops this is not JSON");
        break;
    case BAD_APPLY:
        *val = ta_dbz_value(
            "public", table, 'c', str_fields, 3, NULL,
            json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "qty", "abc", "name", "bad"));
        break;
    }
}

static void produce(rd_kafka_t *rk, const char *topic, const char *key, const char *val)
{
    TH_ASSERT(th_kafka_produce_sync(rk, topic, 0, key, val, 10000) == 0);
}

static void produce_good(rd_kafka_t *rk, const char *topic, const char *table, long long id)
{
    char *k = ta_dbz_key("id", id), *v = good_value(table, id);
    produce(rk, topic, k, v);
    free(k);
    free(v);
}

static void make_table(const th_pg_t *pg, const char *table)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "CREATE TABLE public.%s (id bigint PRIMARY KEY, qty int, name text)",
             table);
    TH_ASSERT(th_pg_exec(pg->target_conninfo, sql) == 0);
}

static void case_none(const struct pcase *c, th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk)
{
    char topic[64], table[64], group[64], log[128], sql[512];
    snprintf(topic, sizeof(topic), "%s", th_unique("poison"));
    snprintf(table, sizeof(table), "%s", th_unique("pt"));
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", topic);
    fprintf(stderr, "--- tolerance none, %s\n", c->name);
    TH_ASSERT(th_broker_cmd(b, "create %s 1", topic) == 0);
    make_table(pg, table);
    for (long long id = 1; id <= 5; id++)
        produce_good(rk, topic, table, id);
    char *k, *v;
    bad_record(c->bad, table, 100, &k, &v);
    produce(rk, topic, k, v);
    free(k);
    free(v);
    for (long long id = 6; id <= 8; id++)
        produce_good(rk, topic, table, id);

    const char *const *args =
        TA_APPLY_ARGS(b->bootstrap, group, topic, pg->target_conninfo, "--exit-on-idle", "3",
                      "--metrics-addr", "", TA_FAST_GROUP);
    TH_CHECK_INT(ta_apply_run(args, log, 30000), 1);
    char *out = ta_slurp(log);
    char want[128];
    snprintf(want, sizeof(want), "%s[0]@5", topic);
    /* The ERROR line: names the record and the cause. */
    const char *line = strstr(out, "ERROR");
    bool named = false;
    while (line) {
        const char *eol = strchr(line, '\n');
        char *l = strndup(line, eol ? (size_t)(eol - line) : strlen(line));
        if (strstr(l, want) && strstr(l, c->cause))
            named = true;
        free(l);
        line = strstr(line + 1, "ERROR");
    }
    if (!named)
        fprintf(stderr, "no ERROR line with '%s' and '%s' in:\n%s\n", want, c->cause, out);
    TH_CHECK(named);
    free(out);
    TH_CHECK_INT(ta_stored_offset(pg->target_conninfo, group, topic, 0), 5);
    snprintf(sql, sizeof(sql), "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.%s",
             table);
    char *ids = th_pg_query_value(pg->target_conninfo, sql);
    TH_CHECK_STR(ids, "1,2,3,4,5");
    free(ids);
    /* A restart stops at the same record again: nothing was skipped. */
    TH_CHECK_INT(ta_apply_run(args, log, 30000), 1);
    TH_CHECK_INT(ta_stored_offset(pg->target_conninfo, group, topic, 0), 5);
    ta_log_finish(log, 4000);
}

static void case_all(th_pg_t *pg, th_broker_t *b, rd_kafka_t *rk)
{
    char topic[64], table[64], group[64], log[128], sql[700];
    snprintf(topic, sizeof(topic), "%s", th_unique("dlq"));
    snprintf(table, sizeof(table), "%s", th_unique("pt"));
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", topic);
    fprintf(stderr, "--- tolerance all\n");
    TH_ASSERT(th_broker_cmd(b, "create %s 1", topic) == 0);
    make_table(pg, table);
    /* good 1, bad@1, good 2, bad@3, good 3, bad@5, good 4..6 */
    char *keys[3], *vals[3];
    long long id = 1;
    int64_t off = 0, bad_off[3];
    for (int i = 0; i < 3; i++) {
        produce_good(rk, topic, table, id++);
        off++;
        bad_record(cases[i].bad, table, 100 + i, &keys[i], &vals[i]);
        produce(rk, topic, keys[i], vals[i]);
        bad_off[i] = off++;
    }
    for (; id <= 6; id++, off++)
        produce_good(rk, topic, table, id);

    const char *const *args =
        TA_APPLY_ARGS(b->bootstrap, group, topic, pg->target_conninfo, "--exit-on-idle", "2",
                      "--errors-tolerance", "all", "--metrics-addr", "");
    TH_CHECK_INT(ta_apply_run_logged(args, log, 30000), 0);
    snprintf(sql, sizeof(sql), "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.%s",
             table);
    char *ids = th_pg_query_value(pg->target_conninfo, sql);
    TH_CHECK_STR(ids, "1,2,3,4,5,6");
    free(ids);
    TH_CHECK_INT(ta_stored_offset(pg->target_conninfo, group, topic, 0), off);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM cdc.dead_letter WHERE group_id = '%s' AND topic = '%s'", group,
             topic);
    TH_CHECK_INT(ta_query_ll(pg->target_conninfo, sql), 3);
    for (int i = 0; i < 3; i++) {
        /* Byte-exact: compare hex of what we produced with the stored bytes. */
        size_t kl = strlen(keys[i]), vl = strlen(vals[i]);
        char *kh = malloc(kl * 2 + 1), *vh = malloc(vl * 2 + 1);
        for (size_t j = 0; j < kl; j++)
            sprintf(kh + 2 * j, "%02x", (unsigned char)keys[i][j]);
        for (size_t j = 0; j < vl; j++)
            sprintf(vh + 2 * j, "%02x", (unsigned char)vals[i][j]);
        char *q = NULL;
        TH_ASSERT(asprintf(&q,
                           "SELECT (encode(key, 'hex') = '%s')::text || ' ' || (encode(value, "
                           "'hex') = '%s')::text || ' ' || (error <> '')::text FROM "
                           "cdc.dead_letter WHERE group_id = '%s' AND topic = '%s' AND "
                           "partition = 0 AND kafka_offset = %lld",
                           kh, vh, group, topic, (long long)bad_off[i]) > 0);
        char *r = th_pg_query_value(pg->target_conninfo, q);
        fprintf(stderr, "dead letter @%lld (%s): %s\n", (long long)bad_off[i], cases[i].name,
                r ? r : "(missing)");
        TH_CHECK_STR(r, "true true true");
        free(r);
        free(q);
        snprintf(sql, sizeof(sql),
                 "SELECT error FROM cdc.dead_letter WHERE group_id = '%s' AND topic = '%s' AND "
                 "kafka_offset = %lld",
                 group, topic, (long long)bad_off[i]);
        char *err = th_pg_query_value(pg->target_conninfo, sql);
        TH_CHECK(err && strstr(err, cases[i].cause));
        if (err && !strstr(err, cases[i].cause))
            fprintf(stderr, "error '%s' lacks '%s'\n", err, cases[i].cause);
        free(err);
        free(kh);
        free(vh);
        free(keys[i]);
        free(vals[i]);
    }
    ta_log_finish(log, 4000);
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    rd_kafka_t *rk = ta_producer_new(&b);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        case_none(&cases[i], &pg, &b, rk);
    case_all(&pg, &b, rk);
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
    TH_DONE();
}
