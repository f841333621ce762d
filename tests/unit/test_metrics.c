/* Metrics registry: golden exposition, escaping, histograms, concurrency,
 * declaration rules, the catalog under `promtool check metrics`, textfile
 * output and process metrics. */
#include "apply_metrics_catalog.h"
#include "cdc/metrics.h"
#include "cdc/util.h"
#include "verify_metrics_catalog.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "th.h"

static char errstr[CDC_ERRSTR_SIZE];

static char *render(cdc_metrics_t *reg)
{
    cdc_buf_t out = CDC_BUF_INIT;
    TH_CHECK_INT(cdc_metrics_render(reg, &out), 0);
    return cdc_buf_steal(&out);
}

static void declare(cdc_metrics_t *reg, const char *name, const char *help, cdc_metric_type_t type,
                    const char *const *labels, const double *buckets, size_t n_buckets)
{
    cdc_metric_desc_t d = {name, help, type, labels, buckets, n_buckets};
    if (cdc_metrics_declare(reg, &d, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "declare %s: %s\n", name, errstr);
        exit(1);
    }
}

static const double small_buckets[] = {0.125, 0.5, 1};

/* The exact text for a small registry: ordering by family name and label
 * values (not creation order), HELP escaping, a label-less family showing
 * 0, a labelled family without series left out, histogram layout. */
static void test_golden(void)
{
    cdc_metrics_t *reg = cdc_metrics_new();
    declare(reg, "test_requests_total", "Requests handled.", CDC_METRIC_COUNTER,
            CDC_LABELS("code", "method"), NULL, 0);
    declare(reg, "test_temperature_celsius", "Temp\\erature\nnow.", CDC_METRIC_GAUGE, NULL, NULL,
            0);
    declare(reg, "test_latency_seconds", "Latency.", CDC_METRIC_HISTOGRAM, CDC_LABELS("path"),
            small_buckets, 3);
    declare(reg, "test_empty", "Never used.", CDC_METRIC_GAUGE, CDC_LABELS("x"), NULL, 0);
    declare(reg, "a_first_total", "First by name.", CDC_METRIC_COUNTER, NULL, NULL, 0);

    cdc_counter_inc(cdc_metrics_counter(reg, "test_requests_total", CDC_LABELS("500", "post")));
    cdc_counter_t *c = cdc_metrics_counter(reg, "test_requests_total", CDC_LABELS("200", "get"));
    cdc_counter_add(c, 2);
    cdc_counter_inc(c);
    cdc_gauge_set(cdc_metrics_gauge(reg, "test_temperature_celsius", NULL), 21.5);
    cdc_histogram_t *h = cdc_metrics_histogram(reg, "test_latency_seconds", CDC_LABELS("/a"));
    /* Binary-exact values so the _sum is exact too; 0.125 sits on a bound
     * and must count in that bucket (le is "less or equal"). */
    cdc_histogram_observe(h, 0.0625);
    cdc_histogram_observe(h, 0.125);
    cdc_histogram_observe(h, 0.25);
    cdc_histogram_observe(h, 2);

    char *got = render(reg);
    TH_CHECK_STR(got, "# HELP a_first_total First by name.\n"
                      "# TYPE a_first_total counter\n"
                      "a_first_total 0\n"
                      "# HELP test_latency_seconds Latency.\n"
                      "# TYPE test_latency_seconds histogram\n"
                      "test_latency_seconds_bucket{path=\"/a\",le=\"0.125\"} 2\n"
                      "test_latency_seconds_bucket{path=\"/a\",le=\"0.5\"} 3\n"
                      "test_latency_seconds_bucket{path=\"/a\",le=\"1\"} 3\n"
                      "test_latency_seconds_bucket{path=\"/a\",le=\"+Inf\"} 4\n"
                      "test_latency_seconds_sum{path=\"/a\"} 2.4375\n"
                      "test_latency_seconds_count{path=\"/a\"} 4\n"
                      "# HELP test_requests_total Requests handled.\n"
                      "# TYPE test_requests_total counter\n"
                      "test_requests_total{code=\"200\",method=\"get\"} 3\n"
                      "test_requests_total{code=\"500\",method=\"post\"} 1\n"
                      "# HELP test_temperature_celsius Temp\\\\erature\\nnow.\n"
                      "# TYPE test_temperature_celsius gauge\n"
                      "test_temperature_celsius 21.5\n");
    free(got);
    TH_CHECK_INT(cdc_histogram_count(h), 4);
    TH_CHECK(cdc_counter_get(c) == 3);
    cdc_metrics_destroy(reg);
}

/* Label values: backslash, quote and newline escaped; valid UTF-8 kept;
 * invalid bytes replaced so Prometheus does not drop the whole scrape. */
static void test_escaping(void)
{
    static const struct {
        const char *value, *want;
    } cases[] = {
        {"plain", "v{l=\"plain\"} 1\n"},
        {"a\\b", "v{l=\"a\\\\b\"} 1\n"},
        {"say \"hi\"", "v{l=\"say \\\"hi\\\"\"} 1\n"},
        {"two\nlines", "v{l=\"two\\nlines\"} 1\n"},
        {"caf\xc3\xa9", "v{l=\"caf\xc3\xa9\"} 1\n"},
        {"bad\xff", "v{l=\"bad\xef\xbf\xbd\"} 1\n"},
        {"over\xc0\xaflong", "v{l=\"over\xef\xbf\xbd\xef\xbf\xbdlong\"} 1\n"},
        {"", "v{l=\"\"} 1\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cdc_metrics_t *reg = cdc_metrics_new();
        declare(reg, "v", "h", CDC_METRIC_GAUGE, CDC_LABELS("l"), NULL, 0);
        cdc_gauge_set(cdc_metrics_gauge(reg, "v", CDC_LABELS(cases[i].value)), 1);
        char *got = render(reg);
        const char *line = strstr(got, "\nv{");
        TH_CHECK_STR(line ? line + 1 : got, cases[i].want);
        free(got);
        cdc_metrics_destroy(reg);
    }
}

/* Value formatting: shortest round-trip, specials spelled the Prometheus way. */
static void test_values(void)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0, "0"},
        {-0.0, "0"},
        {1, "1"},
        {-3, "-3"},
        {0.1, "0.1"},
        {1e-3, "0.001"},
        {2.5, "2.5"},
        {1e20, "1e+20"},
        {123456789012, "123456789012"},
        {1.0 / 3, "0.3333333333333333"},
        {HUGE_VAL, "+Inf"},
        {-HUGE_VAL, "-Inf"},
        {(double)NAN, "NaN"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cdc_metrics_t *reg = cdc_metrics_new();
        declare(reg, "v", "h", CDC_METRIC_GAUGE, NULL, NULL, 0);
        cdc_gauge_set(cdc_metrics_gauge(reg, "v", NULL), cases[i].v);
        char *got = render(reg);
        char want[128];
        snprintf(want, sizeof(want), "# HELP v h\n# TYPE v gauge\nv %s\n", cases[i].want);
        TH_CHECK_STR(got, want);
        free(got);
        cdc_metrics_destroy(reg);
    }
}

/* Buckets are cumulative, +Inf equals _count, and several series of one
 * histogram keep their own counts. */
static void test_histogram(void)
{
    static const double b[] = {1, 2, 4, 8};
    cdc_metrics_t *reg = cdc_metrics_new();
    declare(reg, "h_seconds", "h", CDC_METRIC_HISTOGRAM, CDC_LABELS("t"), b, 4);
    cdc_histogram_t *x = cdc_metrics_histogram(reg, "h_seconds", CDC_LABELS("x"));
    cdc_histogram_t *y = cdc_metrics_histogram(reg, "h_seconds", CDC_LABELS("y"));
    for (int v = 0; v <= 9; v++)
        cdc_histogram_observe(x, v); /* 0..9 */
    cdc_histogram_observe(x, NAN);   /* ignored */
    cdc_histogram_observe(y, 100);
    char *got = render(reg);
    TH_CHECK(strstr(got, "h_seconds_bucket{t=\"x\",le=\"1\"} 2\n"));
    TH_CHECK(strstr(got, "h_seconds_bucket{t=\"x\",le=\"2\"} 3\n"));
    TH_CHECK(strstr(got, "h_seconds_bucket{t=\"x\",le=\"4\"} 5\n"));
    TH_CHECK(strstr(got, "h_seconds_bucket{t=\"x\",le=\"8\"} 9\n"));
    TH_CHECK(strstr(got, "h_seconds_bucket{t=\"x\",le=\"+Inf\"} 10\n"));
    TH_CHECK(strstr(got, "h_seconds_sum{t=\"x\"} 45\n"));
    TH_CHECK(strstr(got, "h_seconds_count{t=\"x\"} 10\n"));
    TH_CHECK(strstr(got, "h_seconds_bucket{t=\"y\",le=\"8\"} 0\n"));
    TH_CHECK(strstr(got, "h_seconds_bucket{t=\"y\",le=\"+Inf\"} 1\n"));
    TH_CHECK(strstr(got, "h_seconds_count{t=\"y\"} 1\n"));
    free(got);
    cdc_metrics_destroy(reg);
}

/* Declaration rules mirror promtool's lint, and misuse of lookups yields
 * NULL handles that are safe to update. */
static void test_declare_rules(void)
{
    static const double bad_b[] = {1, 1};
    const struct {
        cdc_metric_desc_t d;
        const char *err_part;
    } bad[] = {
        {{"x_count", "h", CDC_METRIC_COUNTER, NULL, NULL, 0}, "_total"},
        {{"x_total", "h", CDC_METRIC_GAUGE, NULL, NULL, 0}, "_total"},
        {{"9x", "h", CDC_METRIC_GAUGE, NULL, NULL, 0}, "invalid"},
        {{"x-y", "h", CDC_METRIC_GAUGE, NULL, NULL, 0}, "invalid"},
        {{"x", "", CDC_METRIC_GAUGE, NULL, NULL, 0}, "help"},
        {{"x", "h", CDC_METRIC_GAUGE, CDC_LABELS("__name"), NULL, 0}, "reserved"},
        {{"x", "h", CDC_METRIC_GAUGE, CDC_LABELS("a", "a"), NULL, 0}, "twice"},
        {{"x", "h", CDC_METRIC_HISTOGRAM, CDC_LABELS("le"), small_buckets, 3}, "reserved"},
        {{"x", "h", CDC_METRIC_HISTOGRAM, NULL, NULL, 0}, "bucket"},
        {{"x", "h", CDC_METRIC_HISTOGRAM, NULL, bad_b, 2}, "increasing"},
    };
    cdc_metrics_t *reg = cdc_metrics_new();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errstr[0] = '\0';
        TH_CHECK_INT(cdc_metrics_declare(reg, &bad[i].d, errstr, sizeof(errstr)), -1);
        if (!strstr(errstr, bad[i].err_part))
            fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, errstr, bad[i].err_part),
                th_failures++;
    }

    cdc_metric_desc_t d = {"ok_total", "h", CDC_METRIC_COUNTER, CDC_LABELS("a"), NULL, 0};
    TH_CHECK_INT(cdc_metrics_declare(reg, &d, errstr, sizeof(errstr)), 0);
    TH_CHECK_INT(cdc_metrics_declare(reg, &d, errstr, sizeof(errstr)), 0); /* identical: fine */
    d.help = "other";
    TH_CHECK_INT(cdc_metrics_declare(reg, &d, errstr, sizeof(errstr)), -1);
    TH_CHECK(strstr(errstr, "already declared") != NULL);

    /* wrong type, wrong label count, unknown family */
    TH_CHECK(cdc_metrics_gauge(reg, "ok_total", CDC_LABELS("v")) == NULL);
    TH_CHECK(cdc_metrics_counter(reg, "ok_total", NULL) == NULL);
    TH_CHECK(cdc_metrics_counter(reg, "ok_total", CDC_LABELS("v", "w")) == NULL);
    TH_CHECK(cdc_metrics_counter(reg, "nope_total", CDC_LABELS("v")) == NULL);
    cdc_counter_inc(NULL);
    cdc_gauge_set(NULL, 1);
    cdc_histogram_observe(NULL, 1);

    /* same values, same handle; counters refuse to go down */
    cdc_counter_t *c = cdc_metrics_counter(reg, "ok_total", CDC_LABELS("v"));
    TH_CHECK(c != NULL && c == cdc_metrics_counter(reg, "ok_total", CDC_LABELS("v")));
    cdc_counter_add(c, 5);
    cdc_counter_add(c, -1);
    TH_CHECK(cdc_counter_get(c) == 5);
    cdc_metrics_destroy(reg);
    cdc_metrics_destroy(NULL);
}

/* remove: the series disappears and resets; the old handle stays usable;
 * a new lookup brings it back. */
static void test_remove(void)
{
    cdc_metrics_t *reg = cdc_metrics_new();
    declare(reg, "lag_messages", "h", CDC_METRIC_GAUGE, CDC_LABELS("partition"), NULL, 0);
    cdc_gauge_t *g0 = cdc_metrics_gauge(reg, "lag_messages", CDC_LABELS("0"));
    cdc_gauge_set(g0, 7);
    cdc_gauge_set(cdc_metrics_gauge(reg, "lag_messages", CDC_LABELS("1")), 3);
    TH_CHECK_INT(cdc_metrics_remove(reg, "lag_messages", CDC_LABELS("0")), 0);
    TH_CHECK_INT(cdc_metrics_remove(reg, "lag_messages", CDC_LABELS("9")), -1);
    cdc_gauge_add(g0, 1); /* stale handle: harmless, not exported */
    char *got = render(reg);
    TH_CHECK_STR(got, "# HELP lag_messages h\n# TYPE lag_messages gauge\n"
                      "lag_messages{partition=\"1\"} 3\n");
    free(got);
    TH_CHECK(cdc_metrics_gauge(reg, "lag_messages", CDC_LABELS("0")) == g0);
    got = render(reg);
    TH_CHECK(strstr(got, "lag_messages{partition=\"0\"} 1\n") != NULL);
    free(got);
    cdc_metrics_destroy(reg);
}

typedef struct lag_state {
    int calls;
    double source_ts;
} lag_state_t;

static void refresh_lag(cdc_metrics_t *reg, void *opaque)
{
    lag_state_t *st = opaque;
    st->calls++;
    cdc_gauge_set(cdc_metrics_gauge(reg, "lag_seconds", NULL), 100.0 - st->source_ts);
}

/* Collect callbacks run before each exposition and may set series. */
static void test_on_collect(void)
{
    cdc_metrics_t *reg = cdc_metrics_new();
    lag_state_t st = {0, 90};
    declare(reg, "lag_seconds", "h", CDC_METRIC_GAUGE, NULL, NULL, 0);
    TH_CHECK_INT(cdc_metrics_on_collect(reg, refresh_lag, &st), 0);
    char *got = render(reg);
    TH_CHECK(strstr(got, "lag_seconds 10\n") != NULL);
    free(got);
    st.source_ts = 99.5;
    got = render(reg);
    TH_CHECK(strstr(got, "lag_seconds 0.5\n") != NULL);
    free(got);
    TH_CHECK_INT(st.calls, 2);
    cdc_metrics_destroy(reg);
}

#define N_THREADS 4
#define N_ITER    200000

typedef struct worker {
    cdc_metrics_t *reg;
    cdc_counter_t *seen;
    int id;
} worker_t;

static void *work(void *arg)
{
    worker_t *w = arg;
    /* Every thread resolves the same series concurrently (one must create
     * it, the others must find it) plus one of its own. */
    w->seen = cdc_metrics_counter(w->reg, "hits_total", CDC_LABELS("shared"));
    char own[16];
    snprintf(own, sizeof(own), "t%d", w->id);
    cdc_counter_t *mine = cdc_metrics_counter(w->reg, "hits_total", CDC_LABELS(own));
    cdc_gauge_t *g = cdc_metrics_gauge(w->reg, "inflight", NULL);
    cdc_histogram_t *h = cdc_metrics_histogram(w->reg, "size_bytes", NULL);
    for (int i = 0; i < N_ITER; i++) {
        cdc_counter_inc(w->seen);
        cdc_counter_add(mine, 0.5);
        cdc_gauge_add(g, 1);
        cdc_histogram_observe(h, (double)(i % 4));
    }
    return NULL;
}

/* Lock-free updates from 4 threads lose nothing. */
static void test_concurrency(void)
{
    static const double b[] = {0, 1, 2};
    cdc_metrics_t *reg = cdc_metrics_new();
    declare(reg, "hits_total", "h", CDC_METRIC_COUNTER, CDC_LABELS("who"), NULL, 0);
    declare(reg, "inflight", "h", CDC_METRIC_GAUGE, NULL, NULL, 0);
    declare(reg, "size_bytes", "h", CDC_METRIC_HISTOGRAM, NULL, b, 3);
    pthread_t th[N_THREADS];
    worker_t w[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker_t){reg, NULL, i};
        TH_ASSERT(pthread_create(&th[i], NULL, work, &w[i]) == 0);
    }
    /* Render while they run: must not crash or block them. */
    for (int i = 0; i < 20; i++)
        free(render(reg));
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 1; i < N_THREADS; i++)
        TH_CHECK(w[i].seen == w[0].seen);
    TH_CHECK(cdc_counter_get(w[0].seen) == (double)N_THREADS * N_ITER);
    TH_CHECK(cdc_gauge_get(cdc_metrics_gauge(reg, "inflight", NULL)) == (double)N_THREADS * N_ITER);
    TH_CHECK_INT(cdc_histogram_count(cdc_metrics_histogram(reg, "size_bytes", NULL)),
                 N_THREADS * N_ITER);
    char *got = render(reg);
    TH_CHECK(strstr(got, "hits_total{who=\"shared\"} 800000\n") != NULL);
    TH_CHECK(strstr(got, "hits_total{who=\"t3\"} 100000\n") != NULL);
    TH_CHECK(strstr(got, "size_bytes_bucket{le=\"0\"} 200000\n") != NULL);
    TH_CHECK(strstr(got, "size_bytes_bucket{le=\"1\"} 400000\n") != NULL);
    TH_CHECK(strstr(got, "size_bytes_bucket{le=\"+Inf\"} 800000\n") != NULL);
    TH_CHECK(strstr(got, "size_bytes_sum 1200000\n") != NULL);
    free(got);
    cdc_metrics_destroy(reg);
}

/* Both programs' catalogs, cdc-apply's then cdc-verify's. */
static size_t catalog_size(void)
{
    return cdc_apply_catalog_size() + cdc_verify_catalog_size();
}

static const cdc_metric_desc_t *catalog_get(size_t i)
{
    size_t na = cdc_apply_catalog_size();
    return i < na ? cdc_apply_catalog_get(i) : cdc_verify_catalog_get(i - na);
}

/* A registry with every catalog family (each labelled one given a series),
 * process metrics and build info. */
static cdc_metrics_t *full_registry(void)
{
    cdc_metrics_t *reg = cdc_metrics_new();
    TH_ASSERT(cdc_apply_catalog_register(reg, errstr, sizeof(errstr)) == 0);
    TH_ASSERT(cdc_verify_catalog_declare(reg, errstr, sizeof(errstr)) == 0);
    for (size_t i = 0; i < catalog_size(); i++) {
        const cdc_metric_desc_t *d = catalog_get(i);
        const char *vals[4] = {"public.orders", "c", "x", NULL};
        if (!d->labelnames || !d->labelnames[0] || strcmp(d->name, "cdc_build_info") == 0)
            continue;
        size_t n = 0;
        while (d->labelnames[n])
            n++;
        TH_ASSERT(n <= 3);
        vals[n] = NULL;
        if (d->type == CDC_METRIC_COUNTER)
            cdc_counter_inc(cdc_metrics_counter(reg, d->name, vals));
        else if (d->type == CDC_METRIC_GAUGE)
            cdc_gauge_set(cdc_metrics_gauge(reg, d->name, vals), 0.5);
        else
            cdc_histogram_observe(cdc_metrics_histogram(reg, d->name, vals), 0.5);
    }
    cdc_histogram_observe(cdc_metrics_histogram(reg, "cdc_apply_batch_duration_seconds", NULL),
                          0.02);
    return reg;
}

static bool have_promtool(void)
{
    return system("command -v promtool >/dev/null 2>&1") == 0;
}

/* Every family of design.md, rendered, passes `promtool check metrics`
 * with no lint output at all. */
static bool test_catalog_promtool(void)
{
    cdc_metrics_t *reg = full_registry();
    char *got = render(reg);
    for (size_t i = 0; i < catalog_size(); i++) {
        char head[200];
        snprintf(head, sizeof(head), "# TYPE %s ", catalog_get(i)->name);
        if (!strstr(got, head))
            fprintf(stderr, "missing family %s\n", catalog_get(i)->name), th_failures++;
    }
    static const char *const process_names[] = {"process_cpu_seconds_total",
                                                "process_resident_memory_bytes",
                                                "process_virtual_memory_bytes",
                                                "process_start_time_seconds",
                                                "process_open_fds",
                                                "process_max_fds",
                                                "process_threads"};
    for (size_t i = 0; i < sizeof(process_names) / sizeof(process_names[0]); i++)
        TH_CHECK(strstr(got, process_names[i]) != NULL);
    TH_CHECK(strstr(got, "cdc_build_info{version=\"") != NULL);

    if (!have_promtool()) {
        free(got);
        cdc_metrics_destroy(reg);
        return false;
    }
    char path[] = "/tmp/cdc-metrics-XXXXXX";
    int fd = mkstemp(path);
    TH_ASSERT(fd >= 0);
    TH_ASSERT(write(fd, got, strlen(got)) == (ssize_t)strlen(got));
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    TH_ASSERT(p != NULL);
    char out[4096];
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    TH_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    TH_CHECK_STR(out, "");
    if (th_failures)
        fprintf(stderr, "--- exposition ---\n%s", got);
    unlink(path);
    free(got);
    cdc_metrics_destroy(reg);
    return true;
}

/* node_exporter textfile: same text as a render, no temporary left. */
static void test_textfile(void)
{
    char dir[] = "/tmp/cdc-textfile-XXXXXX";
    TH_ASSERT(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof(path), "%s/cdc.prom", dir);
    cdc_metrics_t *reg = cdc_metrics_new();
    declare(reg, "v", "h", CDC_METRIC_GAUGE, NULL, NULL, 0);
    cdc_gauge_set(cdc_metrics_gauge(reg, "v", NULL), 42);
    TH_CHECK_INT(cdc_metrics_write_textfile(reg, path, errstr, sizeof(errstr)), 0);
    cdc_gauge_set(cdc_metrics_gauge(reg, "v", NULL), 43); /* overwrite in place */
    TH_CHECK_INT(cdc_metrics_write_textfile(reg, path, errstr, sizeof(errstr)), 0);
    FILE *f = fopen(path, "r");
    TH_ASSERT(f != NULL);
    char text[256] = {0};
    TH_CHECK(fread(text, 1, sizeof(text) - 1, f) > 0);
    fclose(f);
    TH_CHECK_STR(text, "# HELP v h\n# TYPE v gauge\nv 43\n");
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "test \"$(ls %s)\" = cdc.prom", dir);
    TH_CHECK(system(cmd) == 0);

    char bad[300];
    snprintf(bad, sizeof(bad), "%s/missing/dir/cdc.prom", dir);
    TH_CHECK_INT(cdc_metrics_write_textfile(reg, bad, errstr, sizeof(errstr)), -1);
    TH_CHECK(strstr(errstr, "missing/dir") != NULL && strchr(errstr, '\n') == NULL);
    unlink(path);
    rmdir(dir);
    cdc_metrics_destroy(reg);
}

/* Process metrics look like this process. */
static void test_process(void)
{
    cdc_metrics_t *reg = cdc_metrics_new();
    TH_ASSERT(cdc_metrics_register_process(reg, errstr, sizeof(errstr)) == 0);
    TH_ASSERT(cdc_metrics_register_process(reg, errstr, sizeof(errstr)) == 0);
    int extra = dup(0); /* one more fd must show up */
    char *got = render(reg);
    double start = 0, fds = -1, rss = 0, threads = 0, max_fds = 0;
    const char *p;
    if ((p = strstr(got, "\nprocess_start_time_seconds ")))
        start = strtod(p + 28, NULL);
    if ((p = strstr(got, "\nprocess_open_fds ")))
        fds = strtod(p + 18, NULL);
    if ((p = strstr(got, "\nprocess_resident_memory_bytes ")))
        rss = strtod(p + 31, NULL);
    if ((p = strstr(got, "\nprocess_threads ")))
        threads = strtod(p + 17, NULL);
    if ((p = strstr(got, "\nprocess_max_fds ")))
        max_fds = strtod(p + 17, NULL);
    double now = (double)time(NULL);
    TH_CHECK(start > now - 3600 && start <= now + 1);
    TH_CHECK(fds >= 4); /* stdin, stdout, stderr, the dup */
    TH_CHECK(rss > 1e5);
    TH_CHECK(threads >= 1);
    TH_CHECK(max_fds >= fds);
    if (th_failures)
        fprintf(stderr, "%s", got);
    close(extra);
    free(got);
    cdc_metrics_destroy(reg);
}

int main(void)
{
    test_golden();
    test_escaping();
    test_values();
    test_histogram();
    test_declare_rules();
    test_remove();
    test_on_collect();
    test_concurrency();
    test_textfile();
    test_process();
    bool linted = test_catalog_promtool();
    /* Skip only when everything else passed, so a skip never hides a failure. */
    if (!linted && !th_failures)
        TH_SKIP("promtool not found in PATH (apt-get install prometheus); lint not checked");
    TH_DONE();
}
