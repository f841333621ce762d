/*
 * cdc-verify's by-key fetch, recheck and repair against a real PostgreSQL:
 *  - the batch fetch of a primary key table is answered by the index
 *    (EXPLAIN (FORMAT JSON) has an index node and no Seq Scan), for a
 *    bigint key, a composite text (default and "C" collation) + int key,
 *    and NULL --key values of a keyless table with an index on the key;
 *  - it returns exactly the rows key IS NOT DISTINCT FROM value returns,
 *    every copy under a duplicated key included;
 *  - a whole run with differences scans no table more than once a side
 *    (pg_stat_user_tables: one sequential scan per row and side before);
 *  - the repair: an UPDATE of only the differing columns, INSERT ... ON
 *    CONFLICT for a missing row, DELETE for an extra one, "=" / IS NULL
 *    predicates, composite and text keys, NULLs in non-key columns; a key
 *    that is not unique in the target falls back to DELETE + INSERT and
 *    says so; applied, a new verify scores 1.0;
 *  - more reported mismatches than one stored batch are all stored.
 */
#include "th.h"
#include "th_pg.h"
#include "th_proc.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../verify/verify_int.h"
#include "cdc/pg.h"

static th_pg_t pg;
static char verify_bin[512];

static void both(const char *sql)
{
    TH_ASSERT(th_pg_exec(pg.source_conninfo, sql) == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);
}

/* cdc-verify with @p extra; stdout in *out (new). */
static int run_store(const char *const extra[], char **out, bool store)
{
    const char *argv[40];
    int n = 0;
    argv[n++] = verify_bin;
    argv[n++] = "--source";
    argv[n++] = pg.source_conninfo;
    argv[n++] = "--target";
    argv[n++] = pg.target_conninfo;
    argv[n++] = "--progress";
    argv[n++] = "never";
    if (!store)
        argv[n++] = "--store=false";
    for (int i = 0; extra[i] && n < 38; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return th_proc_run(argv, 60000, out);
}

static int run(const char *const extra[], char **out)
{
    return run_store(extra, out, false);
}

#define CHECK_IN(hay, needle)                                                                      \
    do {                                                                                           \
        const char *h_ = (hay);                                                                    \
        if (!h_ || !strstr(h_, (needle))) {                                                        \
            fprintf(stderr, "%s:%d: missing \"%s\" in:\n%s\n", __FILE__, __LINE__, (needle),       \
                    h_ ? h_ : "(null)");                                                           \
            th_failures++;                                                                         \
        }                                                                                          \
    } while (0)

/* The plan of one table on the target, as cdc-verify builds it. */
typedef struct ctx {
    PGconn *cs, *ct;
    vplan_t plan;
    vfetcher_t fs, ft;
} ctx_t;

static void ctx_open(ctx_t *c, const char *table, const char *key)
{
    char e[600];
    memset(c, 0, sizeof *c);
    c->cs = cdc_pg_connect(pg.source_conninfo, "test", e, sizeof e);
    c->ct = cdc_pg_connect(pg.target_conninfo, "test", e, sizeof e);
    TH_ASSERT(c->cs && c->ct);
    cdc_verify_opts_t o = {0};
    o.source_conninfo = pg.source_conninfo;
    o.target_conninfo = pg.target_conninfo;
    o.table = table;
    o.key = key;
    TH_ASSERT(vplan_build(&c->plan, c->cs, c->ct, &o, e, sizeof e) == 0);
    TH_ASSERT(vfetcher_init(&c->fs, c->cs, &c->plan, false, e, sizeof e) == 0);
    TH_ASSERT(vfetcher_init(&c->ft, c->ct, &c->plan, true, e, sizeof e) == 0);
}

static void ctx_close(ctx_t *c)
{
    vfetcher_free(&c->fs);
    vfetcher_free(&c->ft);
    vplan_free(&c->plan);
    PQfinish(c->cs);
    PQfinish(c->ct);
}

/* EXPLAIN (FORMAT JSON) of the target's fetch of @p n keys (all of the
 * NULL pattern of keys[0]): the plan uses an index, never a Seq Scan. */
static void check_plan_uses_index(ctx_t *c, char **const *keys, size_t n, const char *what)
{
    bool null[8] = {false};
    size_t idx[64];
    char *params[10] = {NULL};
    TH_ASSERT(c->plan.nkeys < 8 && n <= 64);
    for (size_t k = 0; k < c->plan.nkeys; k++)
        null[k] = !keys[0][k];
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    cdc_buf_t sql = CDC_BUF_INIT;
    cdc_buf_puts(&sql, "EXPLAIN (FORMAT JSON) ");
    vfetch_sql(&sql, &c->ft, &c->plan, null, c->plan.select_list, true, false);
    size_t np = vfetch_params(&c->plan, null, keys, idx, n, params);
    PGresult *r =
        PQexecParams(c->ct, sql.data, (int)np, NULL, (const char *const *)params, NULL, NULL, 0);
    TH_ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK);
    const char *plan = PQgetvalue(r, 0, 0);
    if (!strstr(plan, "\"Node Type\": \"Index") && !strstr(plan, "\"Node Type\": \"Bitmap Index")) {
        fprintf(stderr, "%s: no index node in the plan of\n%s\n%s\n", what, sql.data, plan);
        th_failures++;
    }
    if (strstr(plan, "Seq Scan")) {
        fprintf(stderr, "%s: a Seq Scan in the plan of\n%s\n%s\n", what, sql.data, plan);
        th_failures++;
    }
    PQclear(r);
    for (size_t i = 0; i < np; i++)
        free(params[i]);
    cdc_buf_free(&sql);
}

/* The rows of one key the old way (IS NOT DISTINCT FROM on every key
 * column), as sorted "v1|v2|..." lines, against the batch fetch's. */
static char *reference_rows(ctx_t *c, PGconn *conn, char *const *key)
{
    cdc_buf_t sql = CDC_BUF_INIT;
    cdc_buf_printf(&sql, "SELECT coalesce(string_agg(l, E'\\n' ORDER BY l), '') FROM (SELECT ");
    for (size_t i = 0; i < c->plan.ncols; i++) {
        cdc_buf_puts(&sql, i ? " || '|' || " : "");
        cdc_buf_puts(&sql, "coalesce(");
        cdc_pg_append_ident(&sql, c->plan.cols[i].name);
        cdc_buf_puts(&sql, "::text, '\\N')");
    }
    cdc_buf_printf(&sql, " AS l FROM %s WHERE true", c->plan.from);
    for (size_t k = 0; k < c->plan.nkeys; k++) {
        cdc_buf_puts(&sql, " AND ");
        cdc_pg_append_ident(&sql, c->plan.cols[k].name);
        cdc_buf_printf(&sql, " IS NOT DISTINCT FROM $%zu", k + 1);
    }
    cdc_buf_puts(&sql, ") x");
    PGresult *r = PQexecParams(conn, sql.data, (int)c->plan.nkeys, NULL, (const char *const *)key,
                               NULL, NULL, 0);
    TH_ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK);
    char *s = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    cdc_buf_free(&sql);
    return s;
}

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *fetched_rows(ctx_t *c, const vfetch_t *f)
{
    char **lines = calloc(f->n + 1, sizeof *lines);
    for (size_t j = 0; j < f->n; j++) {
        cdc_buf_t l = CDC_BUF_INIT;
        for (size_t i = 0; i < c->plan.ncols; i++) {
            const char *v = f->rows[j].vals[i];
            cdc_buf_printf(&l, "%s%s", i ? "|" : "", v ? v : "\\N");
        }
        lines[j] = cdc_buf_steal(&l);
    }
    qsort(lines, f->n, sizeof *lines, line_cmp);
    cdc_buf_t all = CDC_BUF_INIT;
    for (size_t j = 0; j < f->n; j++) {
        cdc_buf_printf(&all, "%s%s", j ? "\n" : "", lines[j]);
        free(lines[j]);
    }
    free(lines);
    return cdc_buf_steal(&all);
}

/* The batch fetch of @p keys on both sides equals the old predicate's. */
static void check_same_rows(ctx_t *c, char **const *keys, size_t n, const size_t *want_target)
{
    vfetch_t *s = calloc(n, sizeof *s), *t = calloc(n, sizeof *t);
    char e[600];
    TH_ASSERT(vfetch_keys(&c->fs, &c->ft, &c->plan, keys, n, s, t, e, sizeof e) == 0);
    for (size_t i = 0; i < n; i++) {
        for (int side = 0; side < 2; side++) {
            char *ref = reference_rows(c, side ? c->ct : c->cs, keys[i]);
            char *got = fetched_rows(c, side ? &t[i] : &s[i]);
            TH_CHECK_STR(got, ref);
            free(ref);
            free(got);
        }
        if (want_target)
            TH_CHECK_INT((long long)t[i].n, (long long)want_target[i]);
        vfetch_clear(&s[i], c->plan.ncols);
        vfetch_clear(&t[i], c->plan.ncols);
    }
    free(s);
    free(t);
}

static void test_fetch_plans(void)
{
    both("CREATE TABLE fp (id bigint PRIMARY KEY, v text, n numeric);"
         "INSERT INTO fp SELECT g, 'v' || g, g / 3.0 FROM generate_series(1, 50000) g;"
         "CREATE TABLE fc (region text, name text COLLATE \"C\", n int, v text, "
         "PRIMARY KEY (region, name, n));"
         "INSERT INTO fc SELECT r, 'N' || (g % 97), g, CASE WHEN g % 5 = 0 THEN NULL ELSE 'x' END "
         "FROM unnest(ARRAY['a', 'B', 'é', 'Z b']) r, generate_series(1, 12500) g;"
         /* keyless, nullable key columns with an index on them, copies */
         "CREATE TABLE fn (a int, b text, v int);"
         "INSERT INTO fn SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'b' || g END, g "
         "FROM generate_series(1, 50000) g;"
         "INSERT INTO fn VALUES (10, NULL, -1), (NULL, NULL, 1), (NULL, NULL, 2), (7, 'b7', 70);"
         "CREATE INDEX ON fn (a, b);"
         "ANALYZE fp; ANALYZE fc; ANALYZE fn");
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "UPDATE fp SET v = 'changed' WHERE id = 3;"
                                             "DELETE FROM fp WHERE id = 4;"
                                             "DELETE FROM fn WHERE a = 7 AND v = 70;"
                                             "ANALYZE fp; ANALYZE fn") == 0);
    ctx_t c;
    {
        ctx_open(&c, "fp", NULL);
        char *k[][1] = {{"3"}, {"4"}, {"9"}, {"999999"}, {"1"}};
        char **keys[] = {k[0], k[1], k[2], k[3], k[4]};
        check_plan_uses_index(&c, keys, 5, "bigint primary key");
        size_t want[] = {1, 0, 1, 0, 1};
        check_same_rows(&c, keys, 5, want);
        ctx_close(&c);
    }
    {
        ctx_open(&c, "fc", NULL);
        char *k[][3] = {{"é", "N7", "7"}, {"Z b", "N0", "97"}, {"B", "N5", "5"}, {"b", "N5", "5"}};
        char **keys[] = {k[0], k[1], k[2], k[3]};
        check_plan_uses_index(&c, keys, 4, "composite text (collations) + int key");
        size_t want[] = {1, 1, 1, 0};
        check_same_rows(&c, keys, 4, want);
        ctx_close(&c);
    }
    {
        ctx_open(&c, "fn", "a,b");
        char *k[][2] = {{"10", NULL}, {"7", "b7"}, {NULL, NULL}, {"20", NULL}, {"11", "b11"}};
        char **keys[] = {k[0], k[1], k[2], k[3], k[4]};
        char **nullb[] = {k[0], k[3]};
        check_plan_uses_index(&c, nullb, 2, "nullable --key, NULL value");
        char **nonull[] = {k[1], k[4]};
        check_plan_uses_index(&c, nonull, 2, "nullable --key, values");
        /* every copy: (10, NULL) twice, (7, b7) once in the target */
        size_t want[] = {2, 1, 2, 1, 1};
        check_same_rows(&c, keys, 5, want);
        ctx_close(&c);
    }
}

/* Sequential scans of @p table so far on @p conninfo (and index scans). */
static void scans(const char *conninfo, const char *table, long long *seq, long long *idx)
{
    char sql[300];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(seq_scan, 0) || ' ' || coalesce(idx_scan, 0) FROM "
             "pg_stat_user_tables WHERE relname = '%s'",
             table);
    char *v = th_pg_query_value(conninfo, sql);
    TH_ASSERT(v);
    TH_ASSERT(sscanf(v, "%lld %lld", seq, idx) == 2);
    free(v);
}

/* A run with differences: one scan of the table a side (at most one
 * sequential: the merge scan's), the mismatched keys by the index. */
static void test_no_scan_per_row(void)
{
    both("CREATE TABLE ns (id int PRIMARY KEY, v text);"
         "INSERT INTO ns SELECT g, 'v' || g FROM generate_series(1, 50000) g; ANALYZE ns");
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "UPDATE ns SET v = 'x' WHERE id % 2000 = 0;" /* 25 different */
                         "DELETE FROM ns WHERE id % 2000 = 1;"        /* 25 missing */
                         "ANALYZE ns") == 0);
    long long s0, i0, t0, j0;
    scans(pg.source_conninfo, "ns", &s0, &i0);
    scans(pg.target_conninfo, "ns", &t0, &j0);
    char path[300];
    snprintf(path, sizeof path, "%s/ns.sql", pg.dir);
    char *out = NULL;
    TH_CHECK_INT(run((const char *const[]){"--table", "ns", "--recheck", "1", "--recheck-delay",
                                           "0", "--repair-sql", path, NULL},
                     &out),
                 1);
    CHECK_IN(out, "missing=25 extra=0 different=25");
    free(out);
    /* Statistics arrive when the backends flush them: wait for the index
     * lookups (50 keys, fetched three times), then count the scans. */
    long long s1 = 0, i1 = 0, t1 = 0, j1 = 0;
    int64_t end = th_now_ms() + 15000;
    do {
        usleep(100 * 1000);
        scans(pg.source_conninfo, "ns", &s1, &i1);
        scans(pg.target_conninfo, "ns", &t1, &j1);
    } while ((i1 - i0 < 100 || j1 - j0 < 100 || s1 + i1 == s0 + i0) && th_now_ms() < end);
    usleep(300 * 1000); /* the scanner's own backend flushes separately */
    scans(pg.source_conninfo, "ns", &s1, &i1);
    scans(pg.target_conninfo, "ns", &t1, &j1);
    fprintf(stderr, "source: %lld seq, %lld index scans; target: %lld seq, %lld index scans\n",
            s1 - s0, i1 - i0, t1 - t0, j1 - j0);
    TH_CHECK(s1 - s0 <= 1);
    TH_CHECK(t1 - t0 <= 1);
    TH_CHECK(i1 - i0 >= 100);
    TH_CHECK(j1 - j0 >= 100);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "psql -X -q -v ON_ERROR_STOP=1 -d '%s' -f '%s' >&2",
             pg.target_conninfo, path);
    TH_CHECK_INT(system(cmd), 0);
    TH_CHECK_INT(run((const char *const[]){"--table", "ns", NULL}, NULL), 0);
}

static void apply_and_reverify(const char *path, const char *const verify_args[])
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "psql -X -q -v ON_ERROR_STOP=1 -d '%s' -f '%s' >&2",
             pg.target_conninfo, path);
    TH_CHECK_INT(system(cmd), 0);
    char *out = NULL;
    TH_CHECK_INT(run(verify_args, &out), 0);
    CHECK_IN(out, "OK score=1.000000");
    free(out);
}

static void test_repair_forms(void)
{
    /* Composite text + int key, NULLs in non-key columns. */
    both("CREATE TABLE rf (region text, n int, a text, b int, c numeric, "
         "PRIMARY KEY (region, n));"
         "INSERT INTO rf SELECT r, g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'a' || g END, g, "
         "round(g / 4.0, 2) FROM unnest(ARRAY['x', 'É', 'it''s']) r, generate_series(1, 20) g");
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "UPDATE rf SET b = -b WHERE region = 'x' AND n = 1;"    /* b only */
                         "UPDATE rf SET a = NULL WHERE region = 'É' AND n = 2;"  /* to NULL */
                         "UPDATE rf SET a = 'set' WHERE region = 'x' AND n = 3;" /* from NULL */
                         "UPDATE rf SET c = 2.5 WHERE region = 'x' AND n = 10;"  /* 2.50: equal */
                         "UPDATE rf SET c = 9, b = 0 WHERE region = 'it''s' AND n = 4;"
                         "DELETE FROM rf WHERE region = 'it''s' AND n = 6;" /* missing */
                         "INSERT INTO rf VALUES ('extra', 1, NULL, NULL, NULL)") == 0);
    char path[300];
    snprintf(path, sizeof path, "%s/rf.sql", pg.dir);
    char *out = NULL;
    TH_CHECK_INT(run((const char *const[]){"--table", "rf", "--repair-sql", path, NULL}, &out), 1);
    CHECK_IN(out, "missing=1 extra=1 different=4");
    free(out);
    char *sql = th_read_text(path);
    /* Only the columns that differ; "=" on every key column. */
    CHECK_IN(sql, "UPDATE \"public\".\"rf\" AS _cdc_t SET \"b\" = '1' WHERE _cdc_t.\"region\" = "
                  "'x' AND _cdc_t.\"n\" = '1';\n");
    CHECK_IN(sql, "UPDATE \"public\".\"rf\" AS _cdc_t SET \"a\" = 'a2' WHERE _cdc_t.\"region\" = "
                  "'É' AND _cdc_t.\"n\" = '2';\n");
    CHECK_IN(sql, "UPDATE \"public\".\"rf\" AS _cdc_t SET \"a\" = NULL WHERE _cdc_t.\"region\" = "
                  "'x' AND _cdc_t.\"n\" = '3';\n");
    CHECK_IN(sql, "UPDATE \"public\".\"rf\" AS _cdc_t SET \"b\" = '4', \"c\" = '1.00' WHERE "
                  "_cdc_t.\"region\" = 'it''s' AND _cdc_t.\"n\" = '4';\n");
    TH_CHECK(!strstr(sql, "'x' AND _cdc_t.\"n\" = '10'")); /* 2.5 = 2.50: none */
    CHECK_IN(sql, "INSERT INTO \"public\".\"rf\" (\"region\", \"n\", \"a\", \"b\", \"c\") VALUES "
                  "('it''s', '6', NULL, '6', '1.50') ON CONFLICT (\"region\", \"n\") DO UPDATE "
                  "SET \"a\" = excluded.\"a\", \"b\" = excluded.\"b\", \"c\" = excluded.\"c\";\n");
    CHECK_IN(sql, "DELETE FROM \"public\".\"rf\" AS _cdc_t WHERE _cdc_t.\"region\" = 'extra' AND "
                  "_cdc_t.\"n\" = '1';\n");
    TH_CHECK(!strstr(sql, "DISTINCT"));
    TH_CHECK(!strstr(sql, "not unique"));
    free(sql);
    apply_and_reverify(path, (const char *const[]){"--table", "rf", NULL});

    /* --key that no unique index of the target covers, NULL key values,
     * copies: DELETE + INSERT, said in a comment. */
    both("CREATE TABLE rk (a int, b text, v text);"
         "INSERT INTO rk VALUES (1, 'p', 'one'), (2, NULL, 'two'), (3, 'q', NULL), "
         "(4, 'r', 'four'), (5, 's', 'five')");
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "UPDATE rk SET v = 'TWO' WHERE a = 2;"
                                             "INSERT INTO rk VALUES (3, 'q', NULL);" /* a copy */
                                             "DELETE FROM rk WHERE a = 4;"
                                             "INSERT INTO rk VALUES (6, NULL, NULL)") == 0);
    snprintf(path, sizeof path, "%s/rk.sql", pg.dir);
    TH_CHECK_INT(
        run((const char *const[]){"--table", "rk", "--key", "a,b", "--repair-sql", path, NULL},
            &out),
        1);
    CHECK_IN(out, "missing=1 extra=2 different=1");
    free(out);
    sql = th_read_text(path);
    CHECK_IN(sql, "-- the key of public.rk is not unique in the target");
    CHECK_IN(sql, "UPDATE \"public\".\"rk\" AS _cdc_t SET \"v\" = 'two' WHERE _cdc_t.\"a\" = '2' "
                  "AND _cdc_t.\"b\" IS NULL;\n");
    /* The copies go, then the row comes back: DELETEs before every INSERT. */
    const char *del3 = strstr(sql, "DELETE FROM \"public\".\"rk\" AS _cdc_t WHERE _cdc_t.\"a\" = "
                                   "'3' AND _cdc_t.\"b\" = 'q';\n");
    const char *ins3 = strstr(sql, "INSERT INTO \"public\".\"rk\" (\"a\", \"b\", \"v\") VALUES "
                                   "('3', 'q', NULL);\n");
    TH_CHECK(del3 && ins3 && del3 < ins3);
    CHECK_IN(sql,
             "INSERT INTO \"public\".\"rk\" (\"a\", \"b\", \"v\") VALUES ('4', 'r', 'four');\n");
    CHECK_IN(sql, "DELETE FROM \"public\".\"rk\" AS _cdc_t WHERE _cdc_t.\"a\" = '6' AND "
                  "_cdc_t.\"b\" IS NULL;\n");
    TH_CHECK(!strstr(sql, "ON CONFLICT ("));
    free(sql);
    apply_and_reverify(path, (const char *const[]){"--table", "rk", "--key", "a,b", NULL});

    /* A generated column is never SET (it follows the others), and an
     * extra row is deleted before a missing one takes its unique value
     * (found by the adversarial run: both repairs failed to apply). */
    both("CREATE TABLE rg (id int PRIMARY KEY, x int, g int GENERATED ALWAYS AS (x * 2) STORED);"
         "INSERT INTO rg (id, x) VALUES (1, 1), (2, 2);"
         "CREATE TABLE ru (id int PRIMARY KEY, code text UNIQUE);"
         "INSERT INTO ru VALUES (1, 'a'), (2, 'b')");
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "UPDATE rg SET x = 5 WHERE id = 2;"
                                             "DELETE FROM ru WHERE id = 2;"
                                             "INSERT INTO ru VALUES (3, 'b')") == 0);
    snprintf(path, sizeof path, "%s/rg.sql", pg.dir);
    TH_CHECK_INT(
        run((const char *const[]){"--table", "rg", "--table", "ru", "--repair-sql", path, NULL},
            &out),
        1);
    free(out);
    sql = th_read_text(path);
    CHECK_IN(sql,
             "UPDATE \"public\".\"rg\" AS _cdc_t SET \"x\" = '2' WHERE _cdc_t.\"id\" = '2';\n");
    TH_CHECK(!strstr(sql, "\"g\" ="));
    free(sql);
    apply_and_reverify(path, (const char *const[]){"--table", "rg", "--table", "ru", NULL});
}

/* More reported mismatches than one stored batch: every one stored, with
 * its kind and images (NULL for the side without the row). */
static void test_store_many(void)
{
    both("CREATE TABLE sm (id int PRIMARY KEY, v int);"
         "INSERT INTO sm SELECT g, g FROM generate_series(1, 3000) g");
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "UPDATE sm SET v = -v WHERE id <= 1200;"
                                             "DELETE FROM sm WHERE id > 2700") == 0);
    char *out = NULL;
    TH_CHECK_INT(
        run_store((const char *const[]){"--table", "sm", "--max-report", "2000", NULL}, &out, true),
        1);
    CHECK_IN(out, "missing=300 extra=0 different=1200");
    free(out);
    char *v = th_pg_query_value(
        pg.target_conninfo,
        "SELECT count(*) || ' ' || count(*) FILTER (WHERE kind = 'missing' AND target_row IS "
        "NULL AND source_row->>'v' = key->>'id') || ' ' || count(*) FILTER (WHERE kind = "
        "'different' AND (target_row->>'v')::int = -(source_row->>'v')::int) || ' ' || "
        "count(DISTINCT key) FROM cdc.verify_mismatches WHERE run_id = (SELECT max(run_id) "
        "FROM cdc.verify_runs WHERE table_name = 'public.sm')");
    TH_CHECK_STR(v, "1500 300 1200 1500");
    free(v);
}

int main(void)
{
    snprintf(verify_bin, sizeof verify_bin, "%s/cdc-verify", th_build_root());
    if (access(verify_bin, X_OK) != 0)
        TH_SKIP("%s not built", verify_bin);
    TH_ASSERT(th_pg_start(&pg) == 0);
    test_fetch_plans();
    test_no_scan_per_row();
    test_repair_forms();
    test_store_many();
    th_pg_stop(&pg);
    TH_DONE();
}
