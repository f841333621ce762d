/* apply-truncate-fk: a source TRUNCATE of tables a foreign key ties
 * together, on a target with that foreign key.
 *
 * PostgreSQL truncates a table a foreign key references only together
 * with the referencing tables, in one statement, and refuses to truncate a
 * table with pending deferred trigger events. Debezium writes one source
 * TRUNCATE of several tables as one op=t per table, one after the other.
 * One topic carries parent p and child c (routed by source.table):
 * p 1, 2; c 11 -> 1, 21 -> 2; truncate c, truncate p; p 3; c 31 -> 3.
 *
 * Asserted, with the foreign key DEFERRABLE INITIALLY DEFERRED and NOT
 * DEFERRABLE: exit 0, p = {3}, c = {31}, the position at the log's end.
 * A truncate of the parent alone (the child kept, as no source allows):
 * exit 1 and one line naming the record's position and the fix, nothing of
 * its batch committed; with --errors-tolerance all it is dead-lettered and
 * the rest applied. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static th_pg_t pg;
static th_broker_t b;
static rd_kafka_t *rk;

static const ta_field_t pf[] = {{"id", "int64", false}};
static const ta_field_t cf[] = {{"id", "int64", false}, {"pid", "int64", false}};

static void produce_ev(const char *topic, const char *table, char op, long long id, long long pid)
{
    char *k = NULL, *v;
    bool child = !strncmp(table, "c_", 2);
    if (op == 't') {
        v = ta_dbz_value("public", table, 't', child ? cf : pf, child ? 2 : 1, NULL, NULL);
    } else {
        json_t *after = child ? json_pack("{s:I,s:I}", "id", (json_int_t)id, "pid", (json_int_t)pid)
                              : json_pack("{s:I}", "id", (json_int_t)id);
        k = ta_dbz_key("id", id);
        v = ta_dbz_value("public", table, 'c', child ? cf : pf, child ? 2 : 1, NULL, after);
    }
    TH_ASSERT(th_kafka_produce_sync(rk, topic, 0, k, v, 10000) == 0);
    free(k);
    free(v);
}

/* Tables p_<tag>, c_<tag> and a topic with the stream above; @p both:
 * the source truncates both tables, else only the parent. Returns the
 * number of records. */
static int setup(const char *tag, const char *fk, bool both, char *topic, size_t tsz)
{
    char p[64], c[64];
    snprintf(p, sizeof(p), "p_%s", tag);
    snprintf(c, sizeof(c), "c_%s", tag);
    snprintf(topic, tsz, "%s", th_unique(tag));
    TH_ASSERT(th_broker_cmd(&b, "create %s 1", topic) == 0);
    char ddl[512];
    snprintf(ddl, sizeof(ddl),
             "CREATE TABLE public.%s (id bigint PRIMARY KEY);"
             "CREATE TABLE public.%s (id bigint PRIMARY KEY, pid bigint NOT NULL "
             "REFERENCES public.%s (id) %s)",
             p, c, p, fk);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, ddl) == 0);
    int n = 0;
    produce_ev(topic, p, 'c', 1, 0), n++;
    produce_ev(topic, p, 'c', 2, 0), n++;
    produce_ev(topic, c, 'c', 11, 1), n++;
    produce_ev(topic, c, 'c', 21, 2), n++;
    if (both)
        produce_ev(topic, c, 't', 0, 0), n++;
    produce_ev(topic, p, 't', 0, 0), n++;
    produce_ev(topic, p, 'c', 3, 0), n++;
    if (both)
        produce_ev(topic, c, 'c', 31, 3), n++;
    return n;
}

static void ids(const char *table, const char *want)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM %s",
             table);
    char *got = th_pg_query_value(pg.target_conninfo, sql);
    if (!got || strcmp(got, want))
        fprintf(stderr, "%s: ids %s, want %s\n", table, got ? got : "(error)", want);
    TH_CHECK(got && !strcmp(got, want));
    free(got);
}

static void case_together(const char *tag, const char *fk)
{
    fprintf(stderr, "--- truncate together, foreign key %s\n", fk);
    char topic[96], log[160], p[64], c[64];
    int n = setup(tag, fk, true, topic, sizeof(topic));
    snprintf(p, sizeof(p), "public.p_%s", tag);
    snprintf(c, sizeof(c), "public.c_%s", tag);
    snprintf(log, sizeof(log), "/tmp/%s.log", topic);
    const char *group = th_unique("g");
    TH_CHECK_INT(ta_apply_run(TA_APPLY_ARGS(b.bootstrap, group, topic, pg.target_conninfo,
                                            "--exit-on-idle", "2", "--metrics-addr", ""),
                              log, 60000),
                 0);
    ids(p, "3");
    ids(c, "31");
    TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, group, topic, 0), n);
    ta_log_finish(log, 3000);
}

static void case_parent_alone(void)
{
    fprintf(stderr, "--- the parent truncated alone\n");
    char topic[96], log[160];
    int n = setup("alone", "DEFERRABLE INITIALLY DEFERRED", false, topic, sizeof(topic));
    snprintf(log, sizeof(log), "/tmp/%s.log", topic);
    const char *group = th_unique("g");
    TH_CHECK_INT(ta_apply_run(TA_APPLY_ARGS(b.bootstrap, group, topic, pg.target_conninfo,
                                            "--exit-on-idle", "2", "--metrics-addr", ""),
                              log, 60000),
                 1);
    char at[160];
    snprintf(at, sizeof(at), "%s[0]@4: TRUNCATE \"public\".\"p_alone\" refused by the target", topic);
    ta_check_log_line(log, at, "--truncate-enabled=false");
    /* The records before it may commit (isolation); the truncate and
     * what follows it do not. */
    TH_CHECK(ta_stored_offset(pg.target_conninfo, group, topic, 0) <= 4);
    ids("public.p_alone", "1,2");

    group = th_unique("g");
    TH_CHECK_INT(
        ta_apply_run(TA_APPLY_ARGS(b.bootstrap, group, topic, pg.target_conninfo, "--exit-on-idle",
                                   "2", "--metrics-addr", "", "--errors-tolerance", "all"),
                     log, 60000),
        0);
    ids("public.p_alone", "1,2,3");
    ids("public.c_alone", "11,21");
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM cdc.dead_letter WHERE group_id = '%s' AND kafka_offset = 4 "
             "AND error LIKE '%%refused by the target%%'",
             group);
    TH_CHECK_INT(ta_query_ll(pg.target_conninfo, sql), 1);
    TH_CHECK_INT(ta_stored_offset(pg.target_conninfo, group, topic, 0), n);
    ta_log_finish(log, 3000);
}

int main(void)
{
    ta_start(&pg, &b, 1);
    rk = ta_producer_new(&b);
    case_together("dfr", "DEFERRABLE INITIALLY DEFERRED");
    case_together("imm", "NOT DEFERRABLE");
    case_parent_alone();
    rd_kafka_destroy(rk);
    ta_stop(&pg, &b);
    TH_DONE();
}
