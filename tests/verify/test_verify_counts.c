/* verify-counts: cdc-verify reports that were wrong or silently incomplete
 * (issue #11), each against the real binary and two real databases:
 *
 *  - a column only the target has: reported (text and JSON) and a finding
 *    (exit 1) unless --exclude-column names it;
 *  - text keys under a nondeterministic collation: refused (exit 2, one line
 *    naming column, collation and --key), never missing=1 extra=1;
 *  - duplicated rows under --key (keyless target, double-applied insert):
 *    a multiset per key, extra and missing copies counted exactly, the
 *    report listing each with its own side's image only, and a repair that
 *    makes both equal;
 *  - --key id,id and --exclude-column on a key column: usage errors;
 *  - --repair-sql past --max-retained and with --column: complete, whole
 *    rows; applied with psql, a full verify then scores 1.0;
 *  - --all-tables: keyless and target-only tables named (not exit 0), names
 *    with dots quoted;
 *  - --where with a qualified column works in the scan and the fetch alike;
 *  - --where / --column runs stored with their scope;
 *  - a table the target lacks: a finding (every row missing), repairable.
 */
#include "th.h"
#include "th_pg.h"
#include "th_proc.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

static th_pg_t pg;
static char bin[512];

static char *slurp_path(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END); /* th_slurp reads up to the position */
    char *s = th_slurp(f);
    fclose(f);
    return s ? s : strdup("");
}

/* Run cdc-verify with @p src / @p tgt and the NULL-terminated @p extra;
 * stdout and stderr come back (new). Returns the exit code. */
static int run_db(const char *src, const char *tgt, const char *const extra[], char **out,
                  char **err)
{
    const char *argv[48];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "--source";
    argv[n++] = src;
    argv[n++] = "--target";
    argv[n++] = tgt;
    argv[n++] = "--progress";
    argv[n++] = "never";
    for (int i = 0; extra[i] && n < 46; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    char po[300], pe[300];
    snprintf(po, sizeof po, "%s/verify.out", pg.dir);
    snprintf(pe, sizeof pe, "%s/verify.err", pg.dir);
    fflush(NULL);
    pid_t pid = fork();
    TH_ASSERT(pid >= 0);
    if (pid == 0) {
        int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0)
            _exit(127);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    int st = 0;
    TH_ASSERT(waitpid(pid, &st, 0) == pid);
    *out = slurp_path(po);
    *err = slurp_path(pe);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (th_failures == 0 && getenv("VERIFY_COUNTS_DEBUG"))
        fprintf(stderr, "rc=%d\nstdout:\n%s\nstderr:\n%s\n", rc, *out, *err);
    return rc;
}

static int run(const char *const extra[], char **out, char **err)
{
    return run_db(pg.source_conninfo, pg.target_conninfo, extra, out, err);
}

static void both(const char *sql)
{
    TH_ASSERT(th_pg_exec(pg.source_conninfo, sql) == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);
}

#define CHECK_IN(hay, needle)                                                                      \
    do {                                                                                           \
        if (!strstr((hay), (needle))) {                                                            \
            fprintf(stderr, "%s:%d: missing \"%s\" in:\n%s\n", __FILE__, __LINE__, (needle),       \
                    (hay));                                                                        \
            th_failures++;                                                                         \
        }                                                                                          \
    } while (0)
#define CHECK_NOT_IN(hay, needle)                                                                  \
    do {                                                                                           \
        if (strstr((hay), (needle))) {                                                             \
            fprintf(stderr, "%s:%d: unexpected \"%s\" in:\n%s\n", __FILE__, __LINE__, (needle),    \
                    (hay));                                                                        \
            th_failures++;                                                                         \
        }                                                                                          \
    } while (0)

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Item 4: a column only the target has. */
static void test_target_only_column(void)
{
    char *out, *err;
    TH_ASSERT(th_pg_exec(pg.source_conninfo, "CREATE TABLE tcol (id int PRIMARY KEY, v int);"
                                             "INSERT INTO tcol VALUES (1, 1), (2, 2)") == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "CREATE TABLE tcol (id int PRIMARY KEY, v int, note text);"
                         "INSERT INTO tcol VALUES (1, 1, 'x'), (2, 2, 'y')") == 0);
    TH_CHECK_INT(run((const char *const[]){"--table", "tcol", "--store=false", NULL}, &out, &err),
                 1);
    CHECK_IN(out, "public.tcol: MISMATCH score=1.000000");
    CHECK_IN(out, "\"note\" exists only in the target: not compared");
    CHECK_IN(out, "--exclude-column note");
    free(out), free(err);
    TH_CHECK_INT(
        run((const char *const[]){"--table", "tcol", "--store=false", "--output", "json", NULL},
            &out, &err),
        1);
    CHECK_IN(out, "\"status\":\"mismatch\"");
    CHECK_IN(out, "\"target_only_columns\":[\"note\"]");
    free(out), free(err);
    /* Excluded by name: not a finding. */
    TH_CHECK_INT(run((const char *const[]){"--table", "tcol", "--store=false", "--exclude-column",
                                           "note", "--output", "json", NULL},
                     &out, &err),
                 0);
    CHECK_IN(out, "\"status\":\"ok\"");
    CHECK_IN(out, "\"target_only_columns\":[]");
    free(out), free(err);
    /* Stored as a mismatch too. */
    TH_CHECK_INT(run((const char *const[]){"--table", "tcol", NULL}, &out, &err), 1);
    char *st = th_pg_query_value(pg.target_conninfo, "SELECT status FROM cdc.verify_runs "
                                                     "WHERE table_name = 'public.tcol' "
                                                     "ORDER BY run_id DESC LIMIT 1");
    TH_CHECK_STR(st, "mismatch");
    free(st);
    free(out), free(err);
}

/* Item 8: keys under a nondeterministic collation. */
static void test_nondeterministic_key(void)
{
    char *out, *err;
    char *icu = th_pg_query_value(pg.source_conninfo,
                                  "SELECT count(*) FROM pg_collation WHERE collprovider = 'i'");
    if (!icu || strcmp(icu, "0") == 0) {
        fprintf(stderr,
                "no ICU collations in this PostgreSQL: nondeterministic key case not run\n");
        free(icu);
        return;
    }
    free(icu);
    both("CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);"
         "CREATE TABLE ndk (name text COLLATE ci PRIMARY KEY, id int NOT NULL, v int)");
    TH_ASSERT(th_pg_exec(pg.source_conninfo, "INSERT INTO ndk VALUES ('Abc', 1, 1)") == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "INSERT INTO ndk VALUES ('abc', 1, 1)") == 0);
    TH_CHECK_INT(run((const char *const[]){"--table", "ndk", "--store=false", NULL}, &out, &err),
                 2);
    TH_CHECK_STR(out, "");
    CHECK_IN(err, "key column \"name\" of public.ndk has the nondeterministic collation \"ci\"");
    CHECK_IN(err, "--key");
    TH_CHECK_INT(lines(err), 1);
    free(out), free(err);
    /* With another key the run works: the names differ in bytes. */
    TH_CHECK_INT(run((const char *const[]){"--table", "ndk", "--key", "id", "--store=false", NULL},
                     &out, &err),
                 1);
    CHECK_IN(out, "missing=0 extra=0 different=1");
    free(out), free(err);
}

/* Item 10: rows are a multiset per key. */
static void test_duplicates(void)
{
    char *out, *err;
    both("CREATE TABLE dup (id int, v text)");
    TH_ASSERT(th_pg_exec(pg.source_conninfo,
                         "INSERT INTO dup VALUES (1, 'a'), (2, 'b'), (3, 'c'), (3, 'c')") == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "INSERT INTO dup VALUES (1, 'a'), (1, 'a'), (2, 'b'), (3, 'c')") == 0);
    const char *keys[] = {"id", "id,v"};
    for (int k = 0; k < 2; k++) {
        TH_CHECK_INT(run((const char *const[]){"--table", "dup", "--key", keys[k], "--store=false",
                                               "--output", "json", NULL},
                         &out, &err),
                     1);
        CHECK_IN(out, "\"source_rows\":4,\"target_rows\":4,\"mismatched_rows\":2,\"missing\":1,"
                      "\"extra\":1,\"different\":0");
        CHECK_IN(out, "\"score\":0.5");
        /* Each copy with its own side's image only. */
        CHECK_IN(out, k == 0 ? "{\"kind\":\"extra\",\"key\":{\"id\":1},\"source\":null,"
                               "\"target\":{\"v\":\"a\",\"id\":1}}"
                             : "{\"kind\":\"extra\",\"key\":{\"id\":1,\"v\":\"a\"},\"source\":null,"
                               "\"target\":{\"v\":\"a\",\"id\":1}}");
        CHECK_IN(out, k == 0 ? "{\"kind\":\"missing\",\"key\":{\"id\":3},\"source\":{\"v\":"
                               "\"c\",\"id\":3},\"target\":null}"
                             : "{\"kind\":\"missing\",\"key\":{\"id\":3,\"v\":\"c\"},\"source\":{"
                               "\"v\":\"c\",\"id\":3},\"target\":null}");
        CHECK_NOT_IN(err, "orders differently");
        free(out), free(err);
    }
    /* A copy that differs from its twin: one different, counted once. */
    both("CREATE TABLE dup2 (id int, v text)");
    TH_ASSERT(th_pg_exec(pg.source_conninfo, "INSERT INTO dup2 VALUES (1, 'a'), (1, 'b')") == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "INSERT INTO dup2 VALUES (1, 'a'), (1, 'z')") == 0);
    TH_CHECK_INT(run((const char *const[]){"--table", "dup2", "--key", "id", "--store=false",
                                           "--recheck", "1", "--recheck-delay", "0", NULL},
                     &out, &err),
                 1);
    CHECK_IN(out, "source_rows=2 target_rows=2 missing=0 extra=0 different=1 in_flight=0");
    CHECK_IN(out, "source: {\"v\": \"b\", \"id\": 1}");
    CHECK_IN(out, "target: {\"v\": \"z\", \"id\": 1}");
    free(out), free(err);

    /* The repair makes the copies right. */
    char path[300], cmd[1200];
    snprintf(path, sizeof path, "%s/dup.sql", pg.dir);
    TH_CHECK_INT(run((const char *const[]){"--table", "dup", "--key", "id", "--store=false",
                                           "--repair-sql", path, NULL},
                     &out, &err),
                 1);
    free(out), free(err);
    snprintf(cmd, sizeof cmd, "psql -X -q -v ON_ERROR_STOP=1 -d '%s' -f '%s' >&2",
             pg.target_conninfo, path);
    TH_CHECK_INT(system(cmd), 0);
    TH_CHECK_INT(run((const char *const[]){"--table", "dup", "--key", "id", "--store=false", NULL},
                     &out, &err),
                 0);
    CHECK_IN(out, "public.dup: OK score=1.000000 source_rows=4 target_rows=4");
    free(out), free(err);
}

/* Item 11: usage errors for a key named twice and an excluded key. */
static void test_key_usage(void)
{
    char *out, *err;
    both("CREATE TABLE one (id int PRIMARY KEY); CREATE TABLE two (id int PRIMARY KEY, v int)");
    TH_CHECK_INT(
        run((const char *const[]){"--table", "one", "--key", "id,id", "--store=false", NULL}, &out,
            &err),
        2);
    CHECK_IN(err, "--key id,id: column \"id\" is named twice");
    TH_CHECK_INT(lines(err), 1);
    free(out), free(err);
    TH_CHECK_INT(
        run((const char *const[]){"--table", "two", "--key", "id, id", "--store=false", NULL}, &out,
            &err),
        2);
    CHECK_IN(err, "column \"id\" is named twice");
    free(out), free(err);
    TH_CHECK_INT(
        run((const char *const[]){"--table", "two", "--key", "id,,v", "--store=false", NULL}, &out,
            &err),
        2);
    CHECK_IN(err, "--key id,,v: empty column name");
    free(out), free(err);
    TH_CHECK_INT(run((const char *const[]){"--table", "two", "--exclude-column", "id",
                                           "--store=false", NULL},
                     &out, &err),
                 2);
    CHECK_IN(err, "--exclude-column id: \"id\" is a key column of public.two");
    TH_CHECK_INT(lines(err), 1);
    free(out), free(err);
}

/* Item 12: the repair is complete past --max-retained, and whole with
 * --column. */
static void test_repair_complete(void)
{
    char *out, *err;
    both("CREATE TABLE rep (id int PRIMARY KEY, v int, w text)");
    TH_ASSERT(th_pg_exec(pg.source_conninfo,
                         "INSERT INTO rep SELECT g, g, 'w' || g FROM generate_series(1, 10) g") ==
              0);
    /* missing 1, 5, 9; different (v) 2, 4, 8; extra 11, 12 */
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "INSERT INTO rep SELECT g, CASE WHEN g IN (2, 4, 8) THEN -g ELSE g END, "
                         "'w' || g FROM generate_series(1, 12) g WHERE g NOT IN (1, 5, 9)") == 0);
    char path[300], cmd[1200];
    snprintf(path, sizeof path, "%s/rep.sql", pg.dir);
    TH_CHECK_INT(
        run((const char *const[]){"--table", "rep", "--column", "v", "--max-retained", "1",
                                  "--max-report", "0", "--store=false", "--repair-sql", path, NULL},
            &out, &err),
        1);
    CHECK_IN(out, "source_rows=10 target_rows=9 missing=3 extra=2 different=3");
    free(out), free(err);
    char *sql = slurp_path(path);
    /* Whole source rows for the missing, only v for the different. */
    CHECK_IN(sql, "BEGIN;\n");
    /* A missing row under the primary key: INSERT ... ON CONFLICT; every
     * predicate "=" on the key (the index answers it). */
    CHECK_IN(sql, "INSERT INTO \"public\".\"rep\" (\"id\", \"v\", \"w\") VALUES ('1', '1', 'w1') "
                  "ON CONFLICT (\"id\") DO UPDATE SET \"v\" = excluded.\"v\", \"w\" = "
                  "excluded.\"w\";");
    CHECK_IN(sql, "INSERT INTO \"public\".\"rep\" (\"id\", \"v\", \"w\") VALUES ('9', '9', 'w9') "
                  "ON CONFLICT (\"id\") DO UPDATE SET \"v\" = excluded.\"v\", \"w\" = "
                  "excluded.\"w\";");
    CHECK_IN(sql, "UPDATE \"public\".\"rep\" AS _cdc_t SET \"v\" = '8' WHERE _cdc_t.\"id\" = '8';");
    CHECK_IN(sql, "DELETE FROM \"public\".\"rep\" AS _cdc_t WHERE _cdc_t.\"id\" = '12';");
    TH_CHECK(!strstr(sql, "DISTINCT"));
    CHECK_IN(sql, "COMMIT;\n");
    free(sql);
    snprintf(cmd, sizeof cmd, "psql -X -q -v ON_ERROR_STOP=1 -d '%s' -f '%s' >&2",
             pg.target_conninfo, path);
    TH_CHECK_INT(system(cmd), 0);
    /* A full verify (every column) after the repair: equal. */
    TH_CHECK_INT(run((const char *const[]){"--table", "rep", "--store=false", NULL}, &out, &err),
                 0);
    CHECK_IN(out, "public.rep: OK score=1.000000 source_rows=10 target_rows=10 missing=0 extra=0 "
                  "different=0");
    free(out), free(err);
}

/* Item 13: --all-tables names keyless and target-only tables. */
static void test_all_tables(void)
{
    char *out, *err;
    TH_ASSERT(th_pg_exec(pg.admin_conninfo, "CREATE DATABASE at_src") == 0);
    TH_ASSERT(th_pg_exec(pg.admin_conninfo, "CREATE DATABASE at_tgt") == 0);
    char src[600], tgt[600];
    snprintf(src, sizeof src, "host=%s port=%d user=postgres dbname=at_src", pg.host, pg.port);
    snprintf(tgt, sizeof tgt, "host=%s port=%d user=postgres dbname=at_tgt", pg.host, pg.port);
    /* A keyless table, with different data: never a silent exit 0, and no
     * stop for the other tables, which are verified and reported; the run
     * exits with the worst table's code. */
    const char *ddl = "CREATE TABLE nokey (id int, v int); CREATE TABLE keyed (id int PRIMARY "
                      "KEY, v int); CREATE TABLE same (id int PRIMARY KEY)";
    TH_ASSERT(th_pg_exec(src, ddl) == 0 && th_pg_exec(tgt, ddl) == 0);
    TH_ASSERT(th_pg_exec(src, "INSERT INTO nokey VALUES (1, 1); INSERT INTO keyed VALUES (1, 1)") ==
              0);
    TH_ASSERT(th_pg_exec(tgt, "INSERT INTO nokey VALUES (1, 2); INSERT INTO keyed VALUES (1, 2)") ==
              0);
    TH_CHECK_INT(
        run_db(src, tgt, (const char *const[]){"--all-tables", "--store=false", NULL}, &out, &err),
        2);
    CHECK_IN(err, "public.nokey");
    CHECK_IN(err, "no primary key");
    CHECK_IN(err, "--table 'public.nokey' --key col1,col2");
    TH_CHECK_INT(lines(err), 1);
    CHECK_IN(out, "public.keyed: MISMATCH");
    CHECK_IN(out, "missing=0 extra=0 different=1");
    CHECK_IN(out, "public.same: OK");
    free(out), free(err);
    TH_ASSERT(th_pg_exec(src, "DROP TABLE keyed, same") == 0 &&
              th_pg_exec(tgt, "DROP TABLE keyed, same") == 0);
    /* A schema and a table with dots in their names, and a table only the
     * target has. */
    ddl = "CREATE SCHEMA \"my.app\"; CREATE TABLE \"my.app\".\"t.1\" (id int PRIMARY KEY, v int);"
          "INSERT INTO \"my.app\".\"t.1\" VALUES (1, 1); DROP TABLE nokey";
    TH_ASSERT(th_pg_exec(src, ddl) == 0 && th_pg_exec(tgt, ddl) == 0);
    TH_ASSERT(th_pg_exec(tgt, "CREATE TABLE leftover (id int PRIMARY KEY)") == 0);
    char prom[300];
    snprintf(prom, sizeof prom, "%s/at.prom", pg.dir);
    TH_CHECK_INT(
        run_db(src, tgt,
               (const char *const[]){"--all-tables", "--store=false", "--textfile", prom, NULL},
               &out, &err),
        1);
    CHECK_IN(out, "my.app.t.1: OK score=1.000000 source_rows=1 target_rows=1");
    CHECK_IN(out, "public.leftover: MISMATCH exists only in the target");
    TH_CHECK_STR(err, "");
    free(out), free(err);
    char *gauges = slurp_path(prom);
    CHECK_IN(gauges, "cdc_verify_last_run_timestamp_seconds{table=\"public.leftover\",status="
                     "\"mismatch\"}");
    free(gauges);
    TH_CHECK_INT(
        run_db(src, tgt,
               (const char *const[]){"--table", "\"my.app\".\"t.1\"", "--store=false", NULL}, &out,
               &err),
        0);
    CHECK_IN(out, "my.app.t.1: OK");
    free(out), free(err);
    TH_CHECK_INT(run_db(src, tgt,
                        (const char *const[]){"--table", "\"my.app.t.1", "--store=false", NULL},
                        &out, &err),
                 2);
    CHECK_IN(err, "unterminated quote");
    free(out), free(err);
}

/* Item 14: --where means the same in the scan and the fetch. */
static void test_where_form(void)
{
    char *out, *err;
    both("CREATE TABLE wh (id int PRIMARY KEY, v int)");
    TH_ASSERT(th_pg_exec(pg.source_conninfo, "INSERT INTO wh VALUES (1, 1), (2, 2), (3, 3)") == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "INSERT INTO wh VALUES (1, 1), (2, 20), (3, 30)") ==
              0);
    TH_CHECK_INT(
        run((const char *const[]){"--table", "wh", "--where", "_cdc_t.id <= 2", "--recheck", "1",
                                  "--recheck-delay", "0", "--store=false", NULL},
            &out, &err),
        1);
    CHECK_IN(out, "source_rows=2 target_rows=2 missing=0 extra=0 different=1 in_flight=0");
    CHECK_IN(out, "target: {\"v\": 20, \"id\": 2}");
    free(out), free(err);
}

/* A table the target lacks: every source row missing (a finding), and a
 * repair that fills it once created. */
static void test_target_table_absent(void)
{
    char *out, *err;
    TH_ASSERT(th_pg_exec(
                  pg.source_conninfo,
                  "CREATE TABLE gone (id int PRIMARY KEY, v text);"
                  "INSERT INTO gone VALUES (1, 'a'), (2, NULL); CREATE TABLE gone0 (id int)") == 0);
    char path[300], cmd[1200];
    snprintf(path, sizeof path, "%s/gone.sql", pg.dir);
    TH_CHECK_INT(
        run((const char *const[]){"--table", "gone", "--store=false", "--repair-sql", path, NULL},
            &out, &err),
        1);
    CHECK_IN(out, "public.gone: MISMATCH score=0.000000 source_rows=2 target_rows=0 missing=2 "
                  "extra=0 different=0");
    CHECK_IN(out, "public.gone does not exist in the target: every source row is missing");
    CHECK_IN(out, "  missing   {\"id\":2}\n    source: {\"v\": null, \"id\": 2}\n");
    TH_CHECK_STR(err, "");
    free(out), free(err);
    char *sql = slurp_path(path);
    CHECK_IN(sql, "-- public.gone does not exist in the target: create it as in the source first");
    free(sql);
    /* An empty source table: score 1.0, but still not verified equal. */
    TH_CHECK_INT(run((const char *const[]){"--table", "gone0", "--key", "id", "--store=false",
                                           "--output", "json", NULL},
                     &out, &err),
                 1);
    CHECK_IN(out, "\"status\":\"mismatch\"");
    CHECK_IN(out, "\"target_absent\":true");
    free(out), free(err);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "CREATE TABLE gone (id int PRIMARY KEY, v text)") ==
              0);
    snprintf(cmd, sizeof cmd, "psql -X -q -v ON_ERROR_STOP=1 -d '%s' -f '%s' >&2",
             pg.target_conninfo, path);
    TH_CHECK_INT(system(cmd), 0);
    TH_CHECK_INT(run((const char *const[]){"--table", "gone", "--store=false", NULL}, &out, &err),
                 0);
    CHECK_IN(out, "public.gone: OK score=1.000000 source_rows=2 target_rows=2");
    free(out), free(err);
}

/* --where / --column runs are stored with their scope, and leave the
 * table's digest alone. */
static void test_scope_stored(void)
{
    char *out, *err;
    TH_CHECK_INT(run((const char *const[]){"--table", "wh", NULL}, &out, &err), 1);
    free(out), free(err);
    /* A state schema from before the column (migration 0002 not applied)
     * gets it. */
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "ALTER TABLE cdc.verify_runs DROP COLUMN scope; DELETE FROM "
                         "cdc.schema_version WHERE version = 2") == 0);
    TH_CHECK_INT(
        run((const char *const[]){"--table", "wh", "--where", "id = 1", "--column", "v", NULL},
            &out, &err),
        0);
    free(out), free(err);
    char *v = th_pg_query_value(pg.target_conninfo,
                                "SELECT coalesce(scope, '(null)') || ' ' || status FROM "
                                "cdc.verify_runs WHERE table_name = 'public.wh' ORDER BY run_id "
                                "DESC LIMIT 1");
    TH_CHECK_STR(v, "where id = 1; columns v ok");
    free(v);
    v = th_pg_query_value(pg.target_conninfo, "SELECT count(*) FROM cdc.verify_runs WHERE "
                                              "table_name = 'public.wh' AND scope IS NULL");
    TH_CHECK_STR(v, "1");
    free(v);
    /* The full run's digest and counts stay: the slice is not the table. */
    v = th_pg_query_value(pg.target_conninfo, "SELECT source_rows || '/' || target_rows FROM "
                                              "cdc.table_digests WHERE table_name = 'public.wh'");
    TH_CHECK_STR(v, "3/3");
    free(v);
}

int main(void)
{
    TH_ASSERT(th_pg_start(&pg) == 0);
    snprintf(bin, sizeof bin, "%s/cdc-verify", th_build_root());
    test_target_only_column();
    test_nondeterministic_key();
    test_duplicates();
    test_key_usage();
    test_repair_complete();
    test_all_tables();
    test_where_form();
    test_scope_stored();
    test_target_table_absent();
    th_pg_stop(&pg);
    TH_DONE();
}
