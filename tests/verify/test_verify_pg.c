/*
 * cdc-verify against a real PostgreSQL (source and target databases of one
 * throwaway cluster): exact counts for injected differences, no false
 * mismatches for equal values written differently, composite/uuid/text/date
 * keys, stored runs, the textfile through promtool, in-flight rows
 * converging under --recheck, and agreement with pg_comparator.
 */
#include "th.h"
#include "th_pg.h"
#include "th_proc.h"
#include "tv.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <unistd.h>

static th_pg_t pg;
static char verify_bin[512];

/* Run cdc-verify with --output json; returns the exit code and the parsed
 * result of the first table (new, or NULL). */
static int run_verify(json_t **result, const char *const extra[])
{
    char *out = NULL;
    int rc = tv_run_verify(&pg, NULL, extra, 60000, &out);
    if (result) {
        *result = out ? json_loads(out, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
        if (!*result)
            fprintf(stderr, "cdc-verify output: %s\n", out ? out : "(none)");
    }
    free(out);
    return rc;
}

/* cdc-verify --table @p table finds the two sides equal: exit 0, score 1. */
static void check_clean(const char *table)
{
    json_t *r = NULL;
    int rc = run_verify(&r, (const char *const[]){"--table", table, NULL});
    TH_CHECK_INT(rc, 0);
    TH_CHECK(r && json_real_value(json_object_get(r, "score")) == 1.0);
    json_decref(r);
}

static long long jint(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static void setup_both(const char *sql)
{
    TH_ASSERT(th_pg_exec(pg.source_conninfo, sql) == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);
}

static void test_identical(void)
{
    setup_both("CREATE TABLE same (id bigint PRIMARY KEY, v text, n numeric, t timestamptz);"
               "INSERT INTO same SELECT g, 'v' || g, g / 7.0, now() FROM generate_series(1, "
               "5000) g;"
               "UPDATE same SET t = '2020-01-01 00:00:00+00';");
    json_t *r = NULL;
    int rc = run_verify(&r, (const char *const[]){"--table", "same", NULL});
    TH_CHECK_INT(rc, 0);
    TH_ASSERT(r);
    TH_CHECK(json_real_value(json_object_get(r, "score")) == 1.0);
    TH_CHECK_INT(jint(r, "source_rows"), 5000);
    TH_CHECK_INT(jint(r, "target_rows"), 5000);
    TH_CHECK_STR(json_string_value(json_object_get(r, "source_digest")),
                 json_string_value(json_object_get(r, "target_digest")));
    json_decref(r);

    /* two empty tables: score 1.0 */
    setup_both("CREATE TABLE empty_t (id int PRIMARY KEY)");
    check_clean("public.empty_t");
}

/* Equal values written differently (each must compare equal) plus injected
 * missing, extra and different rows (each found exactly). */
static void test_values(void)
{
    /* json (not jsonb) and unconstrained numeric keep their spelling, and
     * float -0 prints as "-0": PostgreSQL's text differs, the values do
     * not. */
    setup_both("CREATE TABLE vals (id int PRIMARY KEY, n numeric, f float8, j json, jb jsonb, "
               "c char(6), ts timestamptz, t text)");
    TH_ASSERT(th_pg_exec(pg.source_conninfo,
                         "INSERT INTO vals VALUES "
                         "(1, 1.5, 0.0, '{\"a\":1,\"b\":[1,2]}', '{\"x\":1,\"y\":2}', 'ab', "
                         "'2018-06-20 13:37:03.03+00', 'same'),"
                         "(2, 12.30, -0.0, '{\"k\": \"v\"}', '{}', 'x', "
                         "'2018-06-20 15:37:03+02', ''),"
                         "(3, 1, 1, '[]', '[]', 'a', 'infinity', 'x'),"
                         "(4, 1, 1, '1', '1', 'a', '2000-01-01', NULL)," /* '' vs NULL */
                         "(5, 1, 1, '1', '1', 'a', '2000-01-01', 'only in source'),"
                         "(6, 1, 1, '1', '1', 'a', '2000-01-01', 'changed')") == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "INSERT INTO vals VALUES "
                         "(1, 1.50, -0.0, '{ \"b\": [1, 2], \"a\": 1.0 }', '{\"y\":2,\"x\":1}', "
                         "'ab    ', '2018-06-20 15:37:03.030+02', 'same'),"
                         "(2, 12.3, 0, '{\"k\":\"v\"}', '{}', 'x ', "
                         "'2018-06-20 13:37:03+00', ''),"
                         "(3, 1.000, 1.0, '[ ]', '[]', 'a', 'infinity', 'x'),"
                         "(4, 1, 1, '1', '1', 'a', '2000-01-01', ''),"
                         "(6, 1, 1, '1', '1', 'a', '2000-01-01', 'changed!'),"
                         "(7, 1, 1, '1', '1', 'a', '2000-01-01', 'only in target')") == 0);
    char *sql = NULL;
    json_t *r = NULL;
    char repair[300];
    snprintf(repair, sizeof repair, "%s/repair.sql", pg.dir);
    char textfile[300];
    snprintf(textfile, sizeof textfile, "%s/verify.prom", pg.dir);
    int rc = run_verify(&r, (const char *const[]){"--table", "vals", "--repair-sql", repair,
                                                  "--textfile", textfile, NULL});
    TH_CHECK_INT(rc, 1);
    TH_ASSERT(r);
    TH_CHECK_INT(jint(r, "missing"), 1);
    TH_CHECK_INT(jint(r, "extra"), 1);
    TH_CHECK_INT(jint(r, "different"), 2);
    TH_CHECK_INT(jint(r, "source_rows"), 6);
    TH_CHECK_INT(jint(r, "target_rows"), 6);
    /* score = 1 - 4/6 */
    double score = json_real_value(json_object_get(r, "score"));
    TH_CHECK(score > 0.3333 && score < 0.3334);
    json_t *mm = json_object_get(r, "mismatches");
    TH_CHECK_INT(json_array_size(mm), 4);
    /* Keys reported exactly: 4 (NULL vs ''), 5 missing, 6 different, 7 extra. */
    for (size_t i = 0; i < json_array_size(mm); i++) {
        json_t *m = json_array_get(mm, i);
        long long id =
            (long long)json_integer_value(json_object_get(json_object_get(m, "key"), "id"));
        const char *kind = json_string_value(json_object_get(m, "kind"));
        if (id == 4 || id == 6)
            TH_CHECK_STR(kind, "different");
        else if (id == 5)
            TH_CHECK_STR(kind, "missing");
        else if (id == 7)
            TH_CHECK_STR(kind, "extra");
        else
            TH_CHECK(!"unexpected key reported");
    }
    json_decref(r);

    /* The stored run and its mismatches. */
    sql = th_pg_query_value(pg.target_conninfo,
                            "SELECT status || ' ' || source_rows || ' ' || target_rows || ' ' || "
                            "missing_rows || ' ' || extra_rows || ' ' || different_rows || ' ' || "
                            "mismatched_rows FROM cdc.verify_runs WHERE table_name = "
                            "'public.vals' ORDER BY run_id DESC LIMIT 1");
    TH_CHECK_STR(sql, "mismatch 6 6 1 1 2 4");
    free(sql);
    sql = th_pg_query_value(pg.target_conninfo,
                            "SELECT string_agg(kind || ':' || (key->>'id'), ',' ORDER BY "
                            "key->>'id') FROM cdc.verify_mismatches m WHERE run_id = (SELECT "
                            "max(run_id) FROM cdc.verify_runs WHERE table_name = 'public.vals')");
    TH_CHECK_STR(sql, "different:4,missing:5,different:6,extra:7");
    free(sql);
    sql = th_pg_query_value(pg.target_conninfo,
                            "SELECT source_rows FROM cdc.table_digests WHERE table_name = "
                            "'public.vals'");
    TH_CHECK_STR(sql, "6");
    free(sql);
    /* Every migration of schemas/state, recorded by name. */
    sql = th_pg_query_value(pg.target_conninfo,
                            "SELECT string_agg(version || ' ' || name, ',' ORDER BY version) "
                            "FROM cdc.schema_version");
    TH_CHECK_STR(sql, "1 base,2 verify_runs_scope,3 gaps,4 dead_letter_trace");
    free(sql);

    /* The textfile passes promtool. */
    if (access("/usr/bin/promtool", X_OK) == 0) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "promtool check metrics < '%s'", textfile);
        TH_CHECK_INT(system(cmd), 0);
    } else {
        fprintf(stderr, "promtool not installed: textfile not linted\n");
    }

    /* The repair statements make the target equal. */
    char *body = th_read_file(repair, NULL);
    TH_ASSERT(body);
    TH_CHECK(th_pg_exec(pg.target_conninfo, body) == 0);
    free(body);
    check_clean("vals");
}

static void test_keys(void)
{
    /* Composite key of text (mixed case and non-ASCII: COLLATE "C" order),
     * date and int; and a uuid key. */
    setup_both("CREATE TABLE comp (region text, day date, n int, v text, "
               "PRIMARY KEY (region, day, n));"
               "INSERT INTO comp SELECT r, DATE '2020-01-01' + (g % 40), g, 'v' || g "
               "FROM unnest(ARRAY['a', 'B', 'é', 'Z', 'aa', 'A b']) r, generate_series(1, 300) g;"
               "CREATE TABLE uu (id uuid PRIMARY KEY, v int);"
               "INSERT INTO uu SELECT md5(g::text)::uuid, g FROM generate_series(1, 3000) g;"
               "CREATE TABLE nopk (a int, b text)");
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "DELETE FROM comp WHERE region = 'é' AND n = 7;"
                         "UPDATE comp SET v = 'x' WHERE region = 'B' AND n = 9;"
                         "INSERT INTO comp VALUES ('b', '2020-01-01', 1, 'new');"
                         "UPDATE uu SET v = -1 WHERE v = 100;"
                         "DELETE FROM uu WHERE v IN (200, 201)") == 0);
    json_t *r = NULL;
    int rc = run_verify(&r, (const char *const[]){"--table", "comp", "--table", "uu", NULL});
    TH_CHECK_INT(rc, 1);
    TH_ASSERT(r);
    TH_CHECK_INT(jint(r, "missing"), 1);
    TH_CHECK_INT(jint(r, "extra"), 1);
    TH_CHECK_INT(jint(r, "different"), 1);
    json_decref(r);
    {
        char *s = th_pg_query_value(pg.target_conninfo,
                                    "SELECT missing_rows || ' ' || extra_rows || ' ' || "
                                    "different_rows FROM cdc.verify_runs WHERE table_name = "
                                    "'public.uu' ORDER BY run_id DESC LIMIT 1");
        TH_CHECK_STR(s, "2 0 1");
        free(s);
    }
    /* no primary key: usage error unless --key */
    rc = run_verify(NULL, (const char *const[]){"--table", "nopk", NULL});
    TH_CHECK_INT(rc, 2);
    rc = run_verify(&r, (const char *const[]){"--table", "nopk", "--key", "a", NULL});
    TH_CHECK_INT(rc, 0);
    json_decref(r);
    /* --where slices, --exclude-column hides a column */
    rc = run_verify(&r, (const char *const[]){"--table", "comp", "--where", "region = 'a'", NULL});
    TH_CHECK_INT(rc, 0);
    json_decref(r);
    rc = run_verify(&r, (const char *const[]){"--table", "uu", "--exclude-column", "v",
                                              "--threshold", "0.99", NULL});
    TH_CHECK_INT(rc, 0);
    TH_CHECK(r && jint(r, "different") == 0 && jint(r, "missing") == 2);
    json_decref(r);
    /* bad connection: exit 2 */
    const char *argv[] = {verify_bin,
                          "--source",
                          "host=127.0.0.1 port=1 dbname=x",
                          "--target",
                          pg.target_conninfo,
                          "--table",
                          "uu",
                          NULL};
    TH_CHECK_INT(th_proc_run(argv, 30000, NULL), 2);
}

/* A writer keeps changing target rows, then sets them right and stops:
 * --recheck must report those rows as in flight, not as mismatches. */
/* Keys that travel in binary (text, bigint, uuid) are reported and
 * repaired from their canonical bytes: escapes, non-ASCII, NULL-free
 * extremes must come back exactly as PostgreSQL spells them, and a key of
 * a text column next to a date key (text COPY field) must too. */
static void test_binary_keys(void)
{
    setup_both(
        "CREATE TABLE bk (k text PRIMARY KEY, v int);"
        "INSERT INTO bk VALUES (E'tab\\there', 1), (E'back\\\\slash', 2), "
        "(E'nl\\nx', 3), ('é', 4), ('', 5), ('same', 6);"
        "CREATE TABLE bi (id bigint, u uuid, d date, v int, PRIMARY KEY (id, u, d));"
        "INSERT INTO bi VALUES (-9223372036854775808, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', "
        "'2020-02-29', 1), (9223372036854775807, '00000000-0000-0000-0000-000000000000', "
        "'infinity', 2), (0, 'ffffffff-ffff-ffff-ffff-ffffffffffff', '1999-12-31', 3)");
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "DELETE FROM bk WHERE k = E'tab\\there';"
                         "UPDATE bk SET v = -2 WHERE k = E'back\\\\slash';"
                         "UPDATE bk SET v = -5 WHERE k = '';"
                         "INSERT INTO bk VALUES (E'new\\\\\\tline\\r', 7);"
                         "UPDATE bi SET v = -1 WHERE id = -9223372036854775808;"
                         "DELETE FROM bi WHERE id = 9223372036854775807;"
                         "INSERT INTO bi VALUES (1, 'ffffffff-ffff-ffff-ffff-ffffffffffff', "
                         "'2000-01-01', 9)") == 0);
    char repair[300];
    snprintf(repair, sizeof repair, "%s/repair-bk.sql", pg.dir);
    const char *const tables[][2] = {{"bk", "different:,different:back\\slash,extra:new\\\tline\r,"
                                            "missing:tab\there"},
                                     {"bi", "different:-9223372036854775808 a0eebc99-9c0b-4ef8-"
                                            "bb6d-6bb9bd380a11 2020-02-29,extra:1 ffffffff-ffff-"
                                            "ffff-ffff-ffffffffffff 2000-01-01,missing:"
                                            "9223372036854775807 00000000-0000-0000-0000-"
                                            "000000000000 infinity"}};
    for (int t = 0; t < 2; t++) {
        json_t *r = NULL;
        int rc = run_verify(
            &r, (const char *const[]){"--table", tables[t][0], "--repair-sql", repair, NULL});
        TH_CHECK_INT(rc, 1);
        TH_ASSERT(r);
        /* The reported keys, sorted, as "kind:k1 k2 k3". */
        json_t *mm = json_object_get(r, "mismatches");
        char *items[8];
        size_t n = json_array_size(mm);
        TH_ASSERT(n <= 8);
        for (size_t i = 0; i < n; i++) {
            json_t *m = json_array_get(mm, i), *key = json_object_get(m, "key");
            char buf[300];
            size_t bl = (size_t)snprintf(buf, sizeof buf,
                                         "%s:", json_string_value(json_object_get(m, "kind")));
            const char *col;
            json_t *v;
            int first = 1;
            json_object_foreach(key, col, v)
            {
                char *dump = json_is_string(v) ? strdup(json_string_value(v))
                                               : json_dumps(v, JSON_ENCODE_ANY);
                bl += (size_t)snprintf(buf + bl, sizeof buf - bl, "%s%s", first ? "" : " ", dump);
                free(dump);
                first = 0;
            }
            items[i] = strdup(buf);
        }
        for (size_t i = 0; i < n; i++) /* insertion sort: a handful */
            for (size_t j = i; j > 0 && strcmp(items[j - 1], items[j]) > 0; j--) {
                char *x = items[j];
                items[j] = items[j - 1];
                items[j - 1] = x;
            }
        char joined[1200] = "";
        for (size_t i = 0; i < n; i++) {
            if (i)
                strcat(joined, ",");
            strncat(joined, items[i], sizeof joined - strlen(joined) - 1);
            free(items[i]);
        }
        TH_CHECK_STR(joined, tables[t][1]);
        json_decref(r);
        /* The repair statements, keyed by those values, make them equal. */
        char *body = th_read_file(repair, NULL);
        TH_ASSERT(body);
        TH_CHECK(th_pg_exec(pg.target_conninfo, body) == 0);
        free(body);
        rc = run_verify(&r, (const char *const[]){"--table", tables[t][0], NULL});
        TH_CHECK_INT(rc, 0);
        json_decref(r);
    }
}

static volatile int writer_stop;

static void *writer(void *arg)
{
    (void)arg;
    PGconn *conn = PQconnectdb(pg.target_conninfo);
    int64_t end = th_now_ms() + 2500;
    int i = 0;
    while (th_now_ms() < end && !writer_stop) {
        char sql[200];
        snprintf(sql, sizeof sql, "UPDATE live SET v = v || '!' WHERE id <= 5; SELECT %d", i++);
        PQclear(PQexec(conn, sql));
        usleep(20000);
    }
    PQclear(PQexec(conn, "UPDATE live SET v = 'v' || id WHERE id <= 5"));
    PQfinish(conn);
    return NULL;
}

static void test_in_flight(void)
{
    setup_both("CREATE TABLE live (id int PRIMARY KEY, v text);"
               "INSERT INTO live SELECT g, 'v' || g FROM generate_series(1, 2000) g");
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "UPDATE live SET v = 'stale' WHERE id <= 5") == 0);
    pthread_t thr;
    pthread_create(&thr, NULL, writer, NULL);
    json_t *r = NULL;
    int rc = run_verify(&r, (const char *const[]){"--table", "live", "--recheck", "10",
                                                  "--recheck-delay", "0.5", NULL});
    writer_stop = 1;
    pthread_join(thr, NULL);
    TH_CHECK_INT(rc, 0);
    TH_ASSERT(r);
    TH_CHECK_INT(jint(r, "in_flight"), 5);
    TH_CHECK_INT(jint(r, "different"), 0);
    TH_CHECK(json_real_value(json_object_get(r, "score")) == 1.0);
    json_decref(r);
    char *s = th_pg_query_value(pg.target_conninfo,
                                "SELECT in_flight_rows || ' ' || status FROM cdc.verify_runs "
                                "WHERE table_name = 'public.live' ORDER BY run_id DESC LIMIT 1");
    TH_CHECK_STR(s, "5 ok");
    free(s);

    /* Without recheck, a row that stays wrong is a mismatch. */
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "UPDATE live SET v = 'wrong' WHERE id = 42") == 0);
    rc = run_verify(&r, (const char *const[]){"--table", "live", "--recheck", "2",
                                              "--recheck-delay", "0.1", NULL});
    TH_CHECK_INT(rc, 1);
    TH_CHECK(r && jint(r, "different") == 1 && jint(r, "in_flight") == 0);
    json_decref(r);
}

/* Same pair of tables, same number of differences as pg_comparator. */
static void test_pg_comparator(void)
{
    if (access("/usr/bin/pg_comparator", X_OK) != 0) {
        fprintf(stderr, "pg_comparator not installed: comparison skipped\n");
        return;
    }
    if (th_pg_exec(pg.source_conninfo, "CREATE EXTENSION IF NOT EXISTS pgcmp") ||
        th_pg_exec(pg.target_conninfo, "CREATE EXTENSION IF NOT EXISTS pgcmp")) {
        fprintf(stderr, "pgcmp extension (postgresql-comparator) missing: comparison skipped\n");
        return;
    }
    setup_both("CREATE TABLE cmp (id int PRIMARY KEY, a text, b int);"
               "INSERT INTO cmp SELECT g, md5(g::text), g FROM generate_series(1, 20000) g");
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "DELETE FROM cmp WHERE id % 1000 = 1;"
                         "UPDATE cmp SET b = -b WHERE id % 997 = 3;"
                         "INSERT INTO cmp SELECT g, 'x', 0 FROM generate_series(30001, 30007) g") ==
              0);
    json_t *r = NULL;
    int rc = run_verify(&r, (const char *const[]){"--table", "cmp", NULL});
    TH_CHECK_INT(rc, 1);
    TH_ASSERT(r);
    long long ours = jint(r, "missing") + jint(r, "extra") + jint(r, "different");
    json_decref(r);
    char u1[600], u2[600];
    snprintf(u1, sizeof u1, "pgsql://postgres@%s:%d/source/public.cmp?id:a,b", pg.host, pg.port);
    snprintf(u2, sizeof u2, "pgsql://postgres@%s:%d/target/public.cmp?id:a,b", pg.host, pg.port);
    const char *argv[] = {"/usr/bin/pg_comparator", "--max-ratio=1.0", u1, u2, NULL};
    char *out = NULL;
    int prc = th_proc_run(argv, 60000, &out);
    if (prc < 0 || !out) {
        fprintf(stderr, "pg_comparator could not run (rc %d): comparison skipped\n", prc);
        free(out);
        return;
    }
    long long theirs = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        if (!strncmp(line, "UPDATE ", 7) || !strncmp(line, "INSERT ", 7) ||
            !strncmp(line, "DELETE ", 7))
            theirs++;
    free(out);
    fprintf(stderr, "differences: cdc-verify %lld, pg_comparator %lld\n", ours, theirs);
    TH_CHECK_INT(ours, theirs);
    TH_CHECK_INT(ours, 20 + 21 + 7); /* deleted, updated, inserted */
}

int main(void)
{
    snprintf(verify_bin, sizeof verify_bin, "%s/cdc-verify", th_build_root());
    if (access(verify_bin, X_OK) != 0)
        TH_SKIP("%s not built", verify_bin);
    TH_ASSERT(th_pg_start(&pg) == 0);
    test_identical();
    test_values();
    test_keys();
    test_binary_keys();
    test_in_flight();
    test_pg_comparator();
    th_pg_stop(&pg);
    TH_DONE();
}
