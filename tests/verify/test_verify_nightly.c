/* verify-nightly: what the nightly cdc-verify job leaves for Prometheus,
 * run against the real binary and two real databases.
 *
 *  1. Runs for table a, then for table b: the textfile has both tables
 *     (a run once rewrote it with its own tables only).
 *  2. A failed run for a (a bad --where): a keeps its last score and row
 *     gauges, cdc_verify_status{table="public.a"} is 2 and its run gauge
 *     says status="error"; b is untouched. A source that cannot be reached
 *     does the same for b.
 *  3. -o json prints one record per requested table, a failed one
 *     included with its error text, and the exit codes stay 0/1/2.
 *  4. A Pushgateway that answers 500, or a closed port, is a WARN line
 *     and does not change the exit code; an error run POSTs (keeps the
 *     group's score), a completed one PUTs.
 *  5. Processes writing the same textfile at once lose no table (flock).
 *  6. The shipped alert rules, fed the series these runs really wrote
 *     (promtool test rules): CdcVerifyInconsistent fires for a after its
 *     mismatch run and stays firing after its failed run; CdcVerifyError
 *     fires only after the failed run. */
#include "th.h"
#include "th_pg.h"
#include "th_proc.h"
#include "tv.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cdc/buf.h"
#include "verify.h"

static th_pg_t pg;
static char bin[512], textfile[400], errfile[400];

/* Run cdc-verify with the databases, --textfile and -o json plus @p extra;
 * stdout into *out, stderr into *err (both new). */
static int verify_with(const char *source, const char *const extra[], char **out, char **err)
{
    const char *argv[40];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "--source";
    argv[n++] = source;
    argv[n++] = "--target";
    argv[n++] = pg.target_conninfo;
    argv[n++] = "--textfile";
    argv[n++] = textfile;
    argv[n++] = "-o";
    argv[n++] = "json";
    argv[n++] = "--progress";
    argv[n++] = "never";
    for (int i = 0; extra[i] && n < 39; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    char *o = NULL, *e = NULL;
    int rc = tv_run_err(errfile, argv, 60000, &o, &e);
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = e;
    else
        free(e);
    return rc;
}

static int verify(const char *const extra[], char **out, char **err)
{
    return verify_with(pg.source_conninfo, extra, out, err);
}

/* The value of the series written exactly as @p series ("name{labels}"),
 * or NAN when the file has no such line. */
static double series_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NAN;
}

/* The JSON records of -o json output, one a line: the one for @p table. */
static json_t *record_for(const char *out, const char *table, int *nrecords)
{
    json_t *found = NULL;
    int n = 0;
    for (const char *p = out; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        json_t *o = json_loadb(p, len, 0, NULL);
        if (o) {
            n++;
            if (!found && strcmp(json_string_value(json_object_get(o, "table")), table) == 0)
                found = json_incref(o);
            json_decref(o);
        }
        p = nl ? nl + 1 : NULL;
    }
    if (nrecords)
        *nrecords = n;
    return found;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* ---- a tiny HTTP server that answers every request with one status ---- */

typedef struct http_srv {
    int fd;
    int port;
    int status;
    pthread_t thr;
    pthread_mutex_t mu;
    char methods[256]; /* "PUT,POST," as the requests came */
    int requests;
} http_srv_t;

static void *http_main(void *arg)
{
    http_srv_t *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[65536];
        size_t got = 0;
        long want = -1;
        /* Read the head and the Content-Length body. */
        while (got < sizeof buf - 1) {
            ssize_t r = read(c, buf + got, sizeof buf - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            buf[got] = '\0';
            char *end = strstr(buf, "\r\n\r\n");
            if (end && want < 0) {
                char *cl = strcasestr(buf, "Content-Length:");
                want = (long)(end + 4 - buf) + (cl ? atol(cl + 15) : 0);
            }
            if (want >= 0 && (long)got >= want)
                break;
        }
        pthread_mutex_lock(&s->mu);
        char *sp = strchr(buf, ' ');
        if (sp && strlen(s->methods) + (size_t)(sp - buf) + 2 < sizeof s->methods) {
            strncat(s->methods, buf, (size_t)(sp - buf));
            strcat(s->methods, ",");
        }
        s->requests++;
        int status = s->status;
        pthread_mutex_unlock(&s->mu);
        char resp[200];
        int rl =
            snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status);
        ssize_t w = write(c, resp, (size_t)rl);
        (void)w;
        close(c);
    }
}

static void http_start(http_srv_t *s, int status)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->status = status;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    TH_ASSERT(s->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    TH_ASSERT(bind(s->fd, (struct sockaddr *)&a, sizeof a) == 0);
    TH_ASSERT(listen(s->fd, 16) == 0);
    socklen_t al = sizeof a;
    TH_ASSERT(getsockname(s->fd, (struct sockaddr *)&a, &al) == 0);
    s->port = ntohs(a.sin_port);
    TH_ASSERT(pthread_create(&s->thr, NULL, http_main, s) == 0);
}

static void http_stop(http_srv_t *s)
{
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->thr, NULL);
}

/* A port nobody listens on: bound, then closed. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    TH_ASSERT(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    TH_ASSERT(getsockname(fd, (struct sockaddr *)&a, &al) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- promtool: the shipped rules on the series the runs wrote --------- */

/* Append to @p yaml one input series per sample line of @p before or
 * @p after: its value for 5 minutes from each file (_ where absent). */
static void add_series(cdc_buf_t *yaml, const char *before, const char *after)
{
    const char *files[2] = {before, after};
    cdc_buf_t seen = CDC_BUF_INIT;
    cdc_buf_puts(&seen, "\n");
    for (int f = 0; f < 2; f++) {
        for (const char *p = files[f]; p && *p;) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            const char *sp = memchr(p, ' ', len);
            if (*p != '#' && sp && strncmp(p, "cdc_verify_", 11) == 0) {
                char series[512];
                snprintf(series, sizeof series, "%.*s", (int)(sp - p), p);
                char key[520];
                snprintf(key, sizeof key, "\n%s\n", series);
                if (!strstr(seen.data, key)) {
                    cdc_buf_printf(&seen, "%s\n", series);
                    cdc_buf_printf(yaml, "      - series: '%s'\n        values: '", series);
                    for (int k = 0; k < 2; k++) {
                        double v = series_value(files[k], series);
                        for (int m = 0; m < 5; m++) {
                            if (isnan(v))
                                cdc_buf_puts(yaml, "_ ");
                            else
                                cdc_buf_printf(yaml, "%.17g ", v);
                        }
                    }
                    cdc_buf_puts(yaml, "'\n");
                }
            }
            p = nl ? nl + 1 : NULL;
        }
    }
    cdc_buf_free(&seen);
}

static void expect_alerts(cdc_buf_t *yaml, const char *at, const char *alert, const char *table)
{
    cdc_buf_printf(yaml,
                   "      - expr: 'ALERTS{alertname=\"%s\", alertstate=\"firing\"}'\n"
                   "        eval_time: %s\n",
                   alert, at);
    if (!table) {
        cdc_buf_puts(yaml, "        exp_samples: []\n");
        return;
    }
    cdc_buf_printf(yaml,
                   "        exp_samples:\n"
                   "          - labels: 'ALERTS{alertname=\"%s\", alertstate=\"firing\", "
                   "severity=\"warning\", table=\"%s\"}'\n"
                   "            value: 1\n",
                   alert, table);
}

static void promtool_rules(const char *before, const char *after)
{
    if (access("/usr/bin/promtool", X_OK) != 0) {
        fprintf(stderr, "promtool not installed: the rules not run on the textfile\n");
        return;
    }
    /* The merged file is valid exposition text. */
    char lint[600];
    snprintf(lint, sizeof lint, "promtool check metrics < '%s'", textfile);
    TH_CHECK_INT(system(lint), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/verify-nightly.test.yml", pg.dir);
    cdc_buf_t y = CDC_BUF_INIT;
    cdc_buf_printf(&y,
                   "rule_files:\n  - '%s/deploy/prometheus/cdc-alerts.yml'\n"
                   "evaluation_interval: 1m\n"
                   "tests:\n  - interval: 1m\n    input_series:\n",
                   th_source_root());
    add_series(&y, before, after);
    cdc_buf_puts(&y, "    promql_expr_test:\n");
    /* 0-4m: the file after a's mismatch run and b's ok run;
     * 5-9m: after a's failed run. */
    expect_alerts(&y, "3m", "CdcVerifyInconsistent", "public.a");
    expect_alerts(&y, "3m", "CdcVerifyError", NULL);
    expect_alerts(&y, "8m", "CdcVerifyInconsistent", "public.a");
    expect_alerts(&y, "8m", "CdcVerifyError", "public.a");
    FILE *f = fopen(path, "w");
    TH_ASSERT(f);
    fputs(y.data, f);
    fclose(f);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "promtool test rules '%s'", path);
    int rc = system(cmd);
    TH_CHECK_INT(rc, 0);
    if (rc)
        fprintf(stderr, "promtool input:\n%s\n", y.data);
    cdc_buf_free(&y);
}

/* ---- concurrent writers ------------------------------------------------ */

static void concurrent_writers(void)
{
    char path[400];
    snprintf(path, sizeof path, "%s/concurrent.prom", pg.dir);
    /* A name that needs escaping survives every rewrite. */
    char e0[512];
    cdc_verify_gauges_t odd = {.table = "s.we\"ird\\name", .status = "mismatch", .last_run = 1};
    TH_CHECK_INT(cdc_verify_metrics_write_textfile(path, &odd, 1, e0, sizeof e0), 0);
    enum { PROCS = 4, WRITES = 40 };
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        TH_ASSERT(pids[p] >= 0);
        if (pids[p] == 0) {
            int bad = 0;
            for (int k = 0; k < WRITES; k++) {
                char t[64], e[512];
                snprintf(t, sizeof t, "public.t%d_%d", p, k);
                cdc_verify_gauges_t g = {.table = t, .status = "ok", .last_run = 1000 + k};
                bad |= cdc_verify_metrics_write_textfile(path, &g, 1, e, sizeof e) != 0;
            }
            _exit(bad);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int st = 0;
        TH_CHECK(waitpid(pids[p], &st, 0) == pids[p] && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    char *text = tv_slurp_path(path);
    int lost = 0;
    for (int p = 0; p < PROCS; p++)
        for (int k = 0; k < WRITES; k++) {
            char s[128];
            snprintf(s, sizeof s, "cdc_verify_status{table=\"public.t%d_%d\"}", p, k);
            lost += isnan(series_value(text, s));
        }
    TH_CHECK_INT(lost, 0);
    TH_CHECK(series_value(text, "cdc_verify_status{table=\"s.we\\\"ird\\\\name\"}") == 1);
    free(text);
}

int main(void)
{
    TH_ASSERT(th_pg_start(&pg) == 0);
    snprintf(bin, sizeof bin, "%s/cdc-verify", th_build_root());
    snprintf(textfile, sizeof textfile, "%s/cdc-verify.prom", pg.dir);
    snprintf(errfile, sizeof errfile, "%s/verify.stderr", pg.dir);
    const char *S = pg.source_conninfo, *T = pg.target_conninfo;
    TH_ASSERT(th_pg_exec(S, "CREATE TABLE a (id int PRIMARY KEY, v text);"
                            "INSERT INTO a VALUES (1,'x'),(2,'y'),(3,'z'),(4,'w');"
                            "CREATE TABLE b (id int PRIMARY KEY, v text);"
                            "INSERT INTO b VALUES (1,'x'),(2,'y')") == 0);
    TH_ASSERT(th_pg_exec(T, "CREATE TABLE a (id int PRIMARY KEY, v text);"
                            "INSERT INTO a VALUES (1,'x'),(2,'y'),(3,'z');"
                            "CREATE TABLE b (id int PRIMARY KEY, v text);"
                            "INSERT INTO b VALUES (1,'x'),(2,'y')") == 0);
    char *out = NULL, *err = NULL, *text = NULL;
    json_t *r = NULL;
    int nrec = 0;

    /* 1. a (one row missing: score 0.75), then b (equal): both in the file. */
    TH_CHECK_INT(verify((const char *const[]){"--table", "public.a", NULL}, &out, &err), 1);
    free(out);
    free(err);
    TH_CHECK_INT(verify((const char *const[]){"--table", "public.b", NULL}, &out, &err), 0);
    free(out);
    free(err);
    char *after_ok = tv_slurp_path(textfile);
    TH_CHECK(series_value(after_ok, "cdc_verify_consistency_score{table=\"public.a\"}") == 0.75);
    TH_CHECK(series_value(after_ok, "cdc_verify_consistency_score{table=\"public.b\"}") == 1);
    TH_CHECK(series_value(after_ok,
                          "cdc_verify_mismatched_rows{table=\"public.a\",kind=\"missing\"}") == 1);
    TH_CHECK(series_value(after_ok, "cdc_verify_status{table=\"public.a\"}") == 1);
    TH_CHECK(series_value(after_ok, "cdc_verify_status{table=\"public.b\"}") == 0);
    TH_CHECK(!isnan(
        series_value(after_ok, "cdc_verify_last_success_timestamp_seconds{table=\"public.b\"}")));
    if (th_failures)
        fprintf(stderr, "textfile after a, b:\n%s\n", after_ok);

    /* 2+3. a fails (bad --where, named without its schema): a JSON record
     * with the error, exit 2; a keeps its score, status error. */
    int rc = verify((const char *const[]){"--table", "a", "--where", "no_such_col > 0", NULL}, &out,
                    &err);
    TH_CHECK_INT(rc, 2);
    r = record_for(out, "public.a", &nrec);
    TH_CHECK_INT(nrec, 1);
    TH_CHECK(r && strcmp(jstr(r, "status"), "error") == 0 &&
             strstr(jstr(r, "error"), "no_such_col"));
    if (!r)
        fprintf(stderr, "stdout: %s\nstderr: %s\n", out, err);
    json_decref(r);
    free(out);
    free(err);
    char *after_err = tv_slurp_path(textfile);
    TH_CHECK(series_value(after_err, "cdc_verify_consistency_score{table=\"public.a\"}") == 0.75);
    TH_CHECK(series_value(after_err,
                          "cdc_verify_mismatched_rows{table=\"public.a\",kind=\"missing\"}") == 1);
    TH_CHECK(series_value(after_err, "cdc_verify_rows{table=\"public.a\",side=\"source\"}") == 4);
    TH_CHECK(series_value(after_err, "cdc_verify_status{table=\"public.a\"}") == 2);
    TH_CHECK(!isnan(series_value(
        after_err, "cdc_verify_last_run_timestamp_seconds{table=\"public.a\",status=\"error\"}")));
    TH_CHECK(isnan(series_value(
        after_err,
        "cdc_verify_last_run_timestamp_seconds{table=\"public.a\",status=\"mismatch\"}")));
    TH_CHECK(isnan(series_value(after_err, "cdc_verify_status{table=\"a\"}")));
    TH_CHECK(series_value(after_err, "cdc_verify_consistency_score{table=\"public.b\"}") == 1);
    TH_CHECK(series_value(after_err, "cdc_verify_status{table=\"public.b\"}") == 0);
    if (th_failures)
        fprintf(stderr, "textfile after a failed:\n%s\n", after_err);
    promtool_rules(after_ok, after_err);

    /* Two tables, one unknown: a record for each, exit 2. */
    rc = verify((const char *const[]){"--table", "public.b", "--table", "public.nosuch", NULL},
                &out, &err);
    TH_CHECK_INT(rc, 2);
    r = record_for(out, "public.b", &nrec);
    TH_CHECK_INT(nrec, 2);
    TH_CHECK(r && strcmp(jstr(r, "status"), "ok") == 0);
    json_decref(r);
    r = record_for(out, "public.nosuch", NULL);
    TH_CHECK(r && strcmp(jstr(r, "status"), "error") == 0 && strstr(jstr(r, "error"), "nosuch"));
    if (!r)
        fprintf(stderr, "stdout: %s\nstderr: %s\n", out, err);
    json_decref(r);
    free(out);
    free(err);

    /* The source unreachable: b keeps its score and success time, status
     * error. */
    text = tv_slurp_path(textfile);
    double b_success =
        series_value(text, "cdc_verify_last_success_timestamp_seconds{table=\"public.b\"}");
    TH_CHECK(b_success > 0);
    free(text);
    char bad_source[128];
    snprintf(bad_source, sizeof bad_source,
             "host=127.0.0.1 port=%d dbname=source connect_timeout=5", closed_port());
    rc = verify_with(bad_source, (const char *const[]){"--table", "public.b", NULL}, &out, &err);
    TH_CHECK_INT(rc, 2);
    r = record_for(out, "public.b", &nrec);
    TH_CHECK_INT(nrec, 1);
    TH_CHECK(r && strcmp(jstr(r, "status"), "error") == 0 && *jstr(r, "error"));
    json_decref(r);
    free(out);
    free(err);
    text = tv_slurp_path(textfile);
    TH_CHECK(series_value(text, "cdc_verify_consistency_score{table=\"public.b\"}") == 1);
    TH_CHECK(series_value(text, "cdc_verify_status{table=\"public.b\"}") == 2);
    TH_CHECK(series_value(text, "cdc_verify_last_success_timestamp_seconds{table=\"public.b\"}") ==
             b_success);
    TH_CHECK(series_value(text, "cdc_verify_consistency_score{table=\"public.a\"}") == 0.75);
    TH_CHECK(series_value(text, "cdc_verify_status{table=\"public.nosuch\"}") == 2);
    free(text);

    /* 4. The Pushgateway answers 500, or nobody listens: a WARN, exit
     * codes 1 (a: mismatch) and 0 (b) as without it. */
    http_srv_t srv;
    http_start(&srv, 500);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    rc = verify((const char *const[]){"--table", "public.a", "--pushgateway", url, NULL}, &out,
                &err);
    TH_CHECK_INT(rc, 1);
    TH_CHECK(strstr(err, "WARN") && strstr(err, "HTTP 500"));
    if (!strstr(err, "HTTP 500"))
        fprintf(stderr, "stderr: %s\n", err);
    free(out);
    free(err);
    rc = verify((const char *const[]){"--table", "public.b", "--pushgateway", url, NULL}, &out,
                &err);
    TH_CHECK_INT(rc, 0);
    TH_CHECK(strstr(err, "WARN") && strstr(err, "HTTP 500"));
    free(out);
    free(err);
    pthread_mutex_lock(&srv.mu);
    TH_CHECK_INT(srv.requests, 2);
    pthread_mutex_unlock(&srv.mu);
    http_stop(&srv);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
    rc = verify((const char *const[]){"--table", "public.a", "--pushgateway", url, NULL}, &out,
                &err);
    TH_CHECK_INT(rc, 1);
    TH_CHECK(strstr(err, "WARN") && strstr(err, "Pushgateway"));
    free(out);
    free(err);
    /* A Pushgateway that works: a completed run PUTs the table's group, a
     * failed one POSTs (replaces run time and status, keeps the score). */
    http_start(&srv, 202);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    TH_CHECK_INT(verify((const char *const[]){"--table", "public.b", "--pushgateway", url, NULL},
                        &out, &err),
                 0);
    free(out);
    free(err);
    TH_CHECK_INT(verify((const char *const[]){"--table", "public.b", "--where", "nope(",
                                              "--pushgateway", url, NULL},
                        &out, &err),
                 2);
    free(out);
    free(err);
    pthread_mutex_lock(&srv.mu);
    TH_CHECK_STR(srv.methods, "PUT,POST,");
    pthread_mutex_unlock(&srv.mu);
    http_stop(&srv);

    /* 5. */
    concurrent_writers();

    free(after_ok);
    free(after_err);
    th_pg_stop(&pg);
    TH_DONE();
}
