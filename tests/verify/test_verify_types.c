/* verify-types: cdc-verify compares each type as README's "cdc-verify
 * equality rules" say (issue #11), run against the real binary and two real
 * databases. Each case is a table created on both sides, filled with SQL,
 * then verified: the exit code and the counts are the outcome.
 *
 *  1. Types are resolved by OID: a composite named public.numeric with
 *     different data differs (it once decoded as a digitless numeric: every
 *     value 0, score 1.0); an enum named bool or date and a composite named
 *     int8 with equal data are equal (they once stopped the run).
 *  2. "char" (OID 18) is not padded: ' ' <> ''.
 *  3. json/jsonb numbers are exact decimals; a json value jsonb rejects
 *     (\u0000, a lone surrogate, a number beyond numeric) compares by its
 *     exact text (it was normalised: spacing and key order did not count).
 *  5. Ranges, composites and arrays of composites compare element by
 *     element by the element's type.
 *  6. Domains resolve to their base type at any depth, arrays of domains too.
 *  7. real against float8 agrees with PostgreSQL's real = double precision,
 *     and --repair-sql for a real widened to float8 makes the two equal (it
 *     once wrote the untyped '0.1', read by the target as the double 0.1).
 *  9. Values PostgreSQL stores never stop the run.
 *  +  One rule per type family where "=" and "same stored data" disagree. */
#include "th.h"
#include "th_pg.h"
#include "th_proc.h"

static th_pg_t g_pg;

static int verify(const char *table, char **out)
{
    char bin[512];
    snprintf(bin, sizeof(bin), "%s/cdc-verify", th_build_root());
    const char *argv[] = {bin,        "--source",           g_pg.source_conninfo,
                          "--target", g_pg.target_conninfo, "--table",
                          table,      "--store=false",      NULL};
    return th_proc_run(argv, 60000, out);
}

/* Verify @p table with --repair-sql, then run the statements on the target:
 * @returns the exit code of the first run (-1 when the SQL does not run). */
static int verify_and_repair(const char *table)
{
    char bin[512], path[600];
    snprintf(bin, sizeof(bin), "%s/cdc-verify", th_build_root());
    snprintf(path, sizeof(path), "%s/repair.sql", g_pg.dir);
    const char *argv[] = {
        bin,       "--source", g_pg.source_conninfo, "--target",     g_pg.target_conninfo,
        "--table", table,      "--store=false",      "--repair-sql", path,
        NULL};
    char *out = NULL;
    int rc = th_proc_run(argv, 60000, &out);
    free(out);
    char *sql = th_read_file(path, NULL);
    if (!sql || th_pg_exec(g_pg.target_conninfo, sql))
        rc = -1;
    free(sql);
    return rc;
}

static void both(const char *sql)
{
    TH_ASSERT(th_pg_exec(g_pg.source_conninfo, sql) == 0);
    TH_ASSERT(th_pg_exec(g_pg.target_conninfo, sql) == 0);
}

static void src(const char *sql)
{
    TH_ASSERT(th_pg_exec(g_pg.source_conninfo, sql) == 0);
}

static void tgt(const char *sql)
{
    TH_ASSERT(th_pg_exec(g_pg.target_conninfo, sql) == 0);
}

/* Verify @p table: exit code @p rc and, unless rc is 2, different=@p diff
 * with nothing missing or extra. */
static void expect(const char *what, const char *table, int rc, int diff)
{
    char *out = NULL;
    int got = verify(table, &out);
    char want[64];
    snprintf(want, sizeof want, "missing=0 extra=0 different=%d ", diff);
    bool ok = got == rc && (rc == 2 || (out && strstr(out, want)));
    if (!ok) {
        fprintf(stderr, "FAIL %s (%s): exit %d, want %d with %s\n%s\n", what, table, got, rc, want,
                out ? out : "");
        th_failures++;
    }
    free(out);
}

int main(void)
{
    TH_ASSERT(th_pg_start(&g_pg) == 0);

    /* 1. user types named like built-ins */
    both("CREATE TYPE public.numeric AS (a int); "
         "CREATE TABLE t_num (id int PRIMARY KEY, v public.numeric)");
    src("INSERT INTO t_num VALUES (1, row(1)), (2, row(2))");
    tgt("INSERT INTO t_num VALUES (1, row(10)), (2, row(20))");
    expect("composite named numeric", "public.t_num", 1, 2);
    both("CREATE TYPE public.bool AS ENUM ('yes', 'no'); "
         "CREATE TYPE public.date AS ENUM ('mon', 'tue'); "
         "CREATE TYPE public.int8 AS (x text, y int); "
         "CREATE TABLE t_names (id int PRIMARY KEY, b public.bool, d public.date, "
         "i public.int8, ba public.bool[]); "
         "INSERT INTO t_names VALUES (1, 'yes', 'tue', row('a', 1), '{no,yes}'), "
         "(2, 'no', 'mon', row(NULL, 2), NULL)");
    expect("enum bool, enum date, composite int8: equal", "public.t_names", 0, 0);
    tgt("UPDATE t_names SET b = 'no' WHERE id = 1");
    expect("enum named bool: a difference", "public.t_names", 1, 1);

    /* 2. "char" */
    both("CREATE TABLE t_char (id int PRIMARY KEY, c \"char\")");
    src("INSERT INTO t_char VALUES (1, ' '), (2, 'x')");
    tgt("INSERT INTO t_char VALUES (1, ''), (2, 'x')");
    expect("\"char\" ' ' vs ''", "public.t_char", 1, 1);

    /* 3. json numbers, exactly */
    both("CREATE TABLE t_json (id int PRIMARY KEY, j jsonb, t json)");
    src("INSERT INTO t_json VALUES (1, '9007199254740993', '1'), (2, '{\"a\":1e-400}', '1'), "
        "(3, '[0.1]', '1'), (4, '1', '12345678901234567890123'), "
        "(5, '[1.0, 1e0, 10e-1]', '{\"b\":1,\"a\":1.0}')");
    tgt("INSERT INTO t_json VALUES (1, '9007199254740992', '1'), (2, '{\"a\":0}', '1'), "
        "(3, '[0.10000000000000001]', '1'), (4, '1', '12345678901234567890124'), "
        "(5, '[1, 1, 1]', '{\"a\":1, \"b\":1}')");
    expect("json numbers", "public.t_json", 1, 4);
    both("CREATE TABLE t_jx (id int PRIMARY KEY, j json)");
    src("INSERT INTO t_jx VALUES (1, '{\"a\":\"\\u0000\",\"b\":1}'), "
        "(2, '[\"\\ud83d\", 1]'), (3, '[1e131072, 1]'), (4, '[1.5e-16383,2]'), "
        "(5, '[\"\\udc00x\"]'), (6, '[1e131071, 1e-16383, \"\\ud83d\\ude00\"]'), "
        "(7, '{\"k\": \"\\u0000\"}'), (8, '10e-16384'), (9, '{\"a\":1,\"a\":2}')");
    tgt("INSERT INTO t_jx VALUES (1, '{\"b\":1,\"a\":\"\\u0000\"}'), "
        "(2, '[\"\\ud83d\",1]'), (3, '[1e131072,1]'), (4, '[1.5e-16383, 2]'), "
        "(5, '[\"\\udc00x\"]'), (6, '[1E+131071,1e-16383,\"\\ud83d\\ude00\"]'), "
        "(7, '{\"k\": \"\\u0000\"}'), (8, '1e-16383'), (9, '{\"a\":2}')");
    /* 1-4 and 8 differ as written; 5 and 7 are the same text; 6 and 9 are
     * equal as jsonb */
    expect("json values jsonb rejects: their text", "public.t_jx", 1, 5);

    /* 5. ranges, composites, arrays of composites */
    both("CREATE TYPE pair AS (n numeric, f float8); "
         "CREATE TABLE t_struct (id int PRIMARY KEY, r numrange, p pair, ps pair[], "
         "rs numrange[])");
    src("INSERT INTO t_struct VALUES (1, numrange(1.50, 2.0), row(1.50, -0.0), "
        "ARRAY[row(1.50, -0.0)::pair, NULL], ARRAY[numrange(1.50, 2.0)]), "
        "(2, numrange(1.5, 2), row(1.5, 0), NULL, NULL)");
    tgt("INSERT INTO t_struct VALUES (1, numrange(1.5, 2), row(1.5, 0), "
        "ARRAY[row(1.5, 0)::pair, NULL], ARRAY[numrange(1.5, 2)]), "
        "(2, numrange(1.5, 2), row(1.51, 0), NULL, NULL)");
    expect("ranges and composites", "public.t_struct", 1, 1);

    /* 6. domains over domains, arrays of domains */
    src("CREATE DOMAIN d1 AS numeric; CREATE DOMAIN d2 AS d1; "
        "CREATE TABLE t_dom (id int PRIMARY KEY, v d2, a d1[]); "
        "INSERT INTO t_dom VALUES (1, 1.50, '{1.50,2.0}')");
    tgt("CREATE TABLE t_dom (id int PRIMARY KEY, v numeric, a numeric[]); "
        "INSERT INTO t_dom VALUES (1, 1.5, '{1.5,2}')");
    expect("domain over domain vs numeric", "public.t_dom", 0, 0);

    /* 7. real vs float8, as PostgreSQL's "=" says */
    src("CREATE TABLE t_f1 (id int PRIMARY KEY, v real); INSERT INTO t_f1 VALUES (1, 0.1); "
        "CREATE TABLE t_f2 (id int PRIMARY KEY, v real); INSERT INTO t_f2 VALUES (1, 0.1)");
    tgt("CREATE TABLE t_f1 (id int PRIMARY KEY, v float8); "
        "INSERT INTO t_f1 VALUES (1, 0.1::real::float8); "
        "CREATE TABLE t_f2 (id int PRIMARY KEY, v float8); INSERT INTO t_f2 VALUES (1, 0.1)");
    expect("real 0.1 = 0.1::real::float8", "public.t_f1", 0, 0);
    expect("real 0.1 <> float8 0.1", "public.t_f2", 1, 1);
    /* repaired: an update, an insert (a missing row) and a real[] widened */
    src("CREATE TABLE t_f3 (id real PRIMARY KEY, v real, a real[]); "
        "INSERT INTO t_f3 VALUES (0.1, 0.1, '{0.1,-0.3}'), (0.7, 1e-45, '{3.4e38}')");
    tgt("CREATE TABLE t_f3 (id float8 PRIMARY KEY, v float8, a float8[]); "
        "INSERT INTO t_f3 VALUES (0.1::real, 0.1, '{0.1,-0.3}')");
    TH_CHECK_INT(verify_and_repair("public.t_f3"), 1);
    expect("real widened to float8: repaired", "public.t_f3", 0, 0);

    /* 9. valid data never stops the run */
    both("CREATE TABLE t_valid (id int PRIMARY KEY, jb jsonb, j json); "
         "INSERT INTO t_valid VALUES (1, '{\"a\": 1e309}', '{\"a\\u0000b\": 1}'), "
         "(2, '[]', '\"\\ud83d\"'), "
         "(3, (repeat('[', 1500) || repeat(']', 1500))::jsonb, "
         "(repeat('{\"a\":', 1500) || '1' || repeat('}', 1500))::json)");
    expect("values PostgreSQL stores", "public.t_valid", 0, 0);
    /* ... and text forms with every quoting rule of record_out, range_out
     * and array_out, parsed by type on both sides. */
    both("CREATE TYPE inner_t AS (s text, n numeric); "
         "CREATE TYPE outer_t AS (i inner_t, a text[], r tstzrange, e int4range, f float4); "
         "CREATE TABLE t_text (id int PRIMARY KEY, o outer_t, os outer_t[], "
         "iv interval, ts timestamp, n numeric, f4 real); "
         "INSERT INTO t_text VALUES (1, row(row('a,\"b\" \\c)(', 1.50), "
         "'{\"x y\",NULL,\"NULL\",\"\"}', tstzrange('2020-01-01 00:00+02', NULL), "
         "'empty', 'NaN')::outer_t, "
         "ARRAY[row(row('', NULL), '{}', '(,)', '[1,5)', '-Infinity')::outer_t, NULL], "
         "'-178000000 years -2 mons +3 days -04:05:06.789', '0044-03-15 12:00 BC', "
         "repeat('9', 200)::numeric / 7, 1e-45), "
         "(2, row(NULL, NULL, NULL, NULL, NULL)::outer_t, '{}', 'P0D', 'infinity', 'NaN', "
         "'-Infinity')");
    expect("text forms of nested types", "public.t_text", 0, 0);
    tgt("UPDATE t_text SET o.i = row('a,\"b\" \\c)(', 1.5)::inner_t, "
        "os[1].i = row('', 0)::inner_t WHERE id = 1");
    expect("nested types: one field differs", "public.t_text", 1, 1);

    /* One rule per family (README): "=" for numbers, floats, intervals and
     * jsonb; the stored bytes for citext. */
    both("CREATE EXTENSION IF NOT EXISTS citext; "
         "CREATE TABLE t_rules (id int PRIMARY KEY, i interval, n numeric, f float8, "
         "jb jsonb, c citext)");
    src("INSERT INTO t_rules VALUES (1, '1 day', 1.5, -0.0, '{\"b\":1,\"a\":2}', 'x'), "
        "(2, '1 mon', 1, 0, '{}', 'Abc')");
    tgt("INSERT INTO t_rules VALUES (1, '24 hours', 1.50, 0, '{\"a\":2,\"b\":1}', 'x'), "
        "(2, '30 days', 1.000, 0, '{}', 'abc')");
    expect("equality rules", "public.t_rules", 1, 1);

    th_pg_stop(&g_pg);
    TH_DONE();
}
