/* verify-jobs: --jobs N gives the results of --jobs 1, byte for byte
 * (timings removed): the JSON report (counts, score, digests, the
 * mismatch list in its order), the textfile gauges, the repair statements
 * and the rows stored in verify_runs / verify_mismatches. Tables with
 * random differences (a seeded random() on the target):
 *
 *  ck   composite (text, int) primary key, the text part under an ICU
 *       collation in the source and the default one in the target (split
 *       on the whole key as a row value, COLLATE "C" like the scan);
 *  tk   a text primary key of mixed case, accents and digits;
 *  nk   a keyless table verified with --key email (nullable, duplicated:
 *       NULL keys go to one range) and --key email,n (n nullable too);
 *  gone a table only the source has (every row missing, ranges on one side).
 *
 * Then two tables at once (2 workers of 2 ranges), a --max-retained below
 * the mismatches (the kept keys are the first of the whole table, and the
 * repair scans again past them), and a range that fails on the target:
 * exit 2 with one line naming the table and the range, as a serial run. */
#include "th.h"
#include "th_pg.h"
#include "th_proc.h"
#include "tv.h"

#include <unistd.h>

#include "cdc/buf.h"

static th_pg_t pg;
static char bin[512], errfile[400], textfile[400], repairfile[400];

/* Run cdc-verify --jobs @p jobs with -o json, --textfile, --repair-sql and
 * @p extra; stdout into *out, stderr into *err (both new). */
static int run(const char *jobs, const char *const extra[], char **out, char **err)
{
    const char *argv[40];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "--source";
    argv[n++] = pg.source_conninfo;
    argv[n++] = "--target";
    argv[n++] = pg.target_conninfo;
    argv[n++] = "-o";
    argv[n++] = "json";
    argv[n++] = "--progress";
    argv[n++] = "never";
    argv[n++] = "--textfile";
    argv[n++] = textfile;
    argv[n++] = "--repair-sql";
    argv[n++] = repairfile;
    argv[n++] = "--jobs";
    argv[n++] = jobs;
    for (int i = 0; extra[i] && n < 39; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    unlink(textfile);
    return tv_run_err(errfile, argv, 120000, out, err);
}

/* @p s without the run's timings ("duration_seconds":N,). */
static char *untimed(const char *s)
{
    cdc_buf_t b = CDC_BUF_INIT;
    static const char key[] = "\"duration_seconds\":";
    for (const char *p = s; *p;) {
        const char *q = strstr(p, key);
        if (!q) {
            cdc_buf_puts(&b, p);
            break;
        }
        cdc_buf_append(&b, p, (size_t)(q - p));
        q += sizeof key - 1;
        while (*q && *q != ',' && *q != '}')
            q++;
        if (*q == ',')
            q++;
        p = q;
    }
    return b.data ? cdc_buf_steal(&b) : strdup("");
}

/* The textfile without its time gauges. */
static char *gauges_untimed(void)
{
    char *all = tv_slurp_path(textfile);
    cdc_buf_t b = CDC_BUF_INIT;
    char *save = NULL;
    for (char *l = strtok_r(all, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (!strstr(l, "timestamp_seconds") && !strstr(l, "duration_seconds"))
            cdc_buf_printf(&b, "%s\n", l);
    free(all);
    return b.data ? cdc_buf_steal(&b) : strdup("");
}

static long long max_run_id(void)
{
    char *v = th_pg_query_value(pg.target_conninfo,
                                "SELECT coalesce(max(run_id), 0) FROM cdc.verify_runs");
    long long id = v ? atoll(v) : 0;
    free(v);
    return id;
}

/* The stored runs after run id @p from up to @p to, without ids and times. */
static char *stored(long long from, long long to)
{
    char sql[1200];
    snprintf(sql, sizeof sql,
             "SELECT coalesce((SELECT string_agg(concat_ws('|', table_name, source_rows, "
             "target_rows, mismatched_rows, missing_rows, extra_rows, different_rows, "
             "in_flight_rows, score, threshold, status, error, scope), E'\\n' ORDER BY run_id) "
             "FROM cdc.verify_runs WHERE run_id > %lld AND run_id <= %lld), '') || E'\\n--\\n' || "
             "coalesce((SELECT string_agg(concat_ws('|', table_name, key::text, kind, "
             "source_row::text, target_row::text), E'\\n' ORDER BY table_name, key::text, kind, "
             "source_row::text, target_row::text) FROM cdc.verify_mismatches WHERE run_id > %lld "
             "AND run_id <= %lld), '')",
             from, to, from, to);
    char *v = th_pg_query_value(pg.target_conninfo, sql);
    return v ? v : strdup("(query failed)");
}

/* Everything --jobs 1 and --jobs @p jobs say about @p extra is the same;
 * @p split: the --jobs run says it split a table into key ranges. */
static void same(const char *what, const char *jobs, bool split, int want_rc,
                 const char *const extra[])
{
    char *out1, *err1, *outn, *errn;
    long long r0 = max_run_id();
    int rc1 = run("1", extra, &out1, &err1);
    char *g1 = gauges_untimed(), *rep1 = tv_slurp_path(repairfile);
    long long r1 = max_run_id();
    int rcn = run(jobs, extra, &outn, &errn);
    char *gn = gauges_untimed(), *repn = tv_slurp_path(repairfile);
    long long r2 = max_run_id();
    char *s1 = stored(r0, r1), *sn = stored(r1, r2);
    char *u1 = untimed(out1), *un = untimed(outn);
    int before = th_failures;
    TH_CHECK_INT(rc1, want_rc);
    TH_CHECK_INT(rcn, want_rc);
    TH_CHECK(strlen(u1) > 10);
    TH_CHECK_STR(un, u1);
    TH_CHECK_STR(gn, g1);
    TH_CHECK_STR(repn, rep1);
    TH_CHECK_STR(sn, s1);
    TH_CHECK(r2 > r1 && r1 > r0);
    if (split)
        TH_CHECK(strstr(errn, "key ranges scanned at once") != NULL);
    TH_CHECK(strstr(err1, "key ranges") == NULL);
    if (th_failures != before)
        fprintf(stderr, "case %s:\n--jobs 1 stderr: %s\n--jobs %s stderr: %s\nstdout: %s\n", what,
                err1, jobs, errn, out1);
    else
        fprintf(stderr, "case %s: same (%zu bytes of report)\n", what, strlen(u1));
    free(out1), free(err1), free(outn), free(errn), free(g1), free(gn), free(rep1), free(repn);
    free(s1), free(sn), free(u1), free(un);
}

static void both(const char *sql)
{
    TH_ASSERT(th_pg_exec(pg.source_conninfo, sql) == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);
}

int main(void)
{
    TH_ASSERT(th_pg_start(&pg) == 0);
    snprintf(bin, sizeof bin, "%s/cdc-verify", th_build_root());
    snprintf(errfile, sizeof errfile, "%s/verify.err", pg.dir);
    snprintf(textfile, sizeof textfile, "%s/verify.prom", pg.dir);
    snprintf(repairfile, sizeof repairfile, "%s/repair.sql", pg.dir);

    /* ck: the source orders its text key by an ICU collation when there is
     * one, the target by the database's; the ranges and the merge use
     * COLLATE "C" on both. */
    char *icu = th_pg_query_value(pg.source_conninfo,
                                  "SELECT count(*) FROM pg_collation WHERE collname = 'en-x-icu'");
    bool have_icu = icu && strcmp(icu, "0") != 0;
    free(icu);
    TH_ASSERT(th_pg_exec(pg.source_conninfo,
                         have_icu ? "CREATE TABLE ck (region text COLLATE \"en-x-icu\", id int, "
                                    "v text, PRIMARY KEY (region, id))"
                                  : "CREATE TABLE ck (region text, id int, v text, PRIMARY KEY "
                                    "(region, id))") == 0);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "CREATE TABLE ck (region text, id int, v text, "
                                             "PRIMARY KEY (region, id))") == 0);
    both("INSERT INTO ck SELECT r, i, md5(r || i) FROM unnest(ARRAY['a', 'B', 'b', 'Zürich', "
         "'zebra', 'Ä', 'apple pie', 'Apple', '_x', '10', '9', '', 'é', 'E']) r, "
         "generate_series(1, 300) i;"
         "CREATE TABLE tk (k text PRIMARY KEY, v int);"
         "INSERT INTO tk SELECT CASE i % 4 WHEN 0 THEN upper(md5(i::text)) WHEN 1 THEN 'é' || "
         "md5(i::text) WHEN 2 THEN i::text ELSE md5(i::text) END, i FROM generate_series(1, 3000) "
         "i;"
         "CREATE TABLE nk (email text, n int, v int);"
         "INSERT INTO nk SELECT CASE WHEN i % 10 = 0 THEN NULL ELSE 'u' || (i % 700) END, "
         "CASE WHEN i % 7 = 0 THEN NULL ELSE i % 3 END, i FROM generate_series(1, 3000) i;"
         "ANALYZE ck; ANALYZE tk; ANALYZE nk");
    /* Random differences in the target (seeded: the same every run). */
    TH_ASSERT(th_pg_exec(pg.target_conninfo,
                         "SELECT setseed(0.25);"
                         "DELETE FROM ck WHERE random() < 0.02;"
                         "UPDATE ck SET v = 'changed' WHERE random() < 0.02;"
                         "INSERT INTO ck SELECT region, id + 1000, v FROM ck WHERE random() < 0.01;"
                         "DELETE FROM tk WHERE random() < 0.02;"
                         "UPDATE tk SET v = -v WHERE random() < 0.02;"
                         "INSERT INTO tk SELECT k || 'x', v FROM tk WHERE random() < 0.01;"
                         "DELETE FROM nk WHERE random() < 0.02;"
                         "UPDATE nk SET v = -v WHERE random() < 0.02;"
                         /* a double-applied insert: the same row twice */
                         "INSERT INTO nk SELECT * FROM nk WHERE random() < 0.02;"
                         "INSERT INTO nk VALUES (NULL, NULL, 7), (NULL, 1, 8)") == 0);
    TH_ASSERT(th_pg_exec(pg.source_conninfo,
                         "CREATE TABLE gone (id int PRIMARY KEY, v text);"
                         "INSERT INTO gone SELECT i, 'v' || i FROM generate_series(1, 500) i") ==
              0);

    same("ck", "4", true, 1,
         (const char *const[]){"--table", "ck", "--max-report", "100000", "--recheck", "1",
                               "--recheck-delay", "0", NULL});
    same("tk", "4", true, 1,
         (const char *const[]){"--table", "tk", "--max-report", "100000", NULL});
    same("nk --key email", "4", true, 1,
         (const char *const[]){"--table", "nk", "--key", "email", "--max-report", "100000", NULL});
    same(
        "nk --key email,n", "3", true, 1,
        (const char *const[]){"--table", "nk", "--key", "email,n", "--max-report", "100000", NULL});
    same("gone", "4", true, 1,
         (const char *const[]){"--table", "gone", "--max-report", "100000", NULL});
    same("ck and tk at once", "4", true, 1,
         (const char *const[]){"--table", "ck", "--table", "tk", "--max-report", "100000", NULL});
    same("three tables, 3 workers", "3", false, 1,
         (const char *const[]){"--table", "tk", "--table", "ck", "--table", "gone", NULL});
    /* Fewer keys kept than mismatched: the first of the whole table. */
    same("ck --max-retained 5", "4", true, 1,
         (const char *const[]){"--table", "ck", "--max-retained", "5", "--max-report", "3", NULL});

    /* A range that fails (a --where that divides by zero on one target
     * row): exit 2, one line naming the table and the range, no hang. */
    TH_ASSERT(th_pg_exec(pg.target_conninfo, "UPDATE ck SET v = 'boom' WHERE region = 'zebra' "
                                             "AND id = 7") == 0);
    const char *const bad[] = {"--table", "ck", "--where",
                               "1 / (CASE WHEN v = 'boom' THEN 0 ELSE 1 END) = 1", NULL};
    char *out, *err;
    TH_CHECK_INT(run("1", bad, &out, &err), 2);
    TH_CHECK(strstr(err, "public.ck") && strstr(err, "division by zero"));
    free(out), free(err);
    TH_CHECK_INT(run("4", bad, &out, &err), 2);
    TH_CHECK(strstr(err, "ck: key range ") && strstr(err, "division by zero"));
    TH_CHECK(strstr(out, "\"status\":\"error\"") != NULL);
    int errlines = 0;
    for (const char *p = err; (p = strstr(p, "division by zero")); p++)
        errlines++;
    TH_CHECK_INT(errlines, 1);
    if (th_failures)
        fprintf(stderr, "failing range: stderr %s stdout %s\n", err, out);
    free(out), free(err);

    /* --jobs outside 1..64 is a one-line usage error. */
    TH_CHECK_INT(run("0", (const char *const[]){"--table", "ck", NULL}, &out, &err), 2);
    TH_CHECK(strstr(err, "--jobs") && strstr(err, "1 to 64"));
    free(out), free(err);
    TH_CHECK_INT(run("65", (const char *const[]){"--table", "ck", NULL}, &out, &err), 2);
    TH_CHECK(strstr(err, "--jobs") && strstr(err, "1 to 64"));
    free(out), free(err);
    th_pg_stop(&pg);
    TH_DONE();
}
