/* apply-health: cdc-apply's health follows reality (issue 9, item 1).
 *
 * A real cdc-apply against the mock broker (3 brokers) and a test
 * PostgreSQL, its /metrics and /readyz scraped:
 *   - brokers up, partitions assigned: cdc_connection_up{component="kafka"}
 *     1, /readyz 200;
 *   - every broker down ("down N" for each): the kafka gauge 0 within 30 s,
 *     /readyz 503; /healthz stays 200 (the process is alive);
 *   - brokers back: the gauge 1 and /readyz 200 again;
 *   - target stopped (while idle): cdc_connection_up{component="postgres"}
 *     0 within 30 s, /readyz 503; started again: 1 and 200;
 *   - SIGTERM: exit 0.
 * Brokers unreachable at start: exit 2 within --startup-timeout (plus the
 * slack of the shutdown), one error line that names the bootstrap list. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"
#include "th_registry.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct probe {
    char metrics[128], readyz[128], healthz[128];
    const char *label; /* component="..." */
    double want;       /* gauge value waited for */
    long want_ready;   /* /readyz status waited for, 0: any */
} probe_t;

static long get(const char *url, char **body)
{
    long code = 0;
    if (th_http_request(url, NULL, &code, body, NULL) != 0)
        return -1;
    return code;
}

static double gauge(const probe_t *p, const char *label)
{
    char *body = NULL;
    double v = -1;
    if (get(p->metrics, &body) == 200 && body)
        v = ta_metric_sum(body, "cdc_connection_up", label);
    free(body);
    return v;
}

static bool reached(void *arg)
{
    probe_t *p = arg;
    if (gauge(p, p->label) != p->want)
        return false;
    if (!p->want_ready)
        return true;
    char *body = NULL;
    long code = get(p->readyz, &body);
    free(body);
    return code == p->want_ready;
}

/* Wait up to @p ms for the gauge of @p label to be @p want and /readyz to
 * answer @p ready; report what was seen otherwise. */
static void expect(probe_t *p, const char *what, const char *label, double want, long ready, int ms)
{
    p->label = label;
    p->want = want;
    p->want_ready = ready;
    int64_t t0 = th_now_ms();
    bool ok = th_wait_for(reached, p, ms);
    char *body = NULL;
    long code = get(p->readyz, &body);
    fprintf(stderr, "%s: %s gauge %g, /readyz %ld (%s) after %.1f s\n", what, label,
            gauge(p, label), code, body ? body : "", (th_now_ms() - t0) / 1000.0);
    free(body);
    TH_CHECK(ok);
}

static void running(th_pg_t *pg, th_broker_t *b)
{
    char topic[64], group[64], log[128], addr[64];
    snprintf(topic, sizeof(topic), "%s", th_unique("health"));
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    snprintf(log, sizeof(log), "/tmp/%s.log", topic);
    int port = ta_free_port();
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    probe_t p;
    memset(&p, 0, sizeof(p));
    snprintf(p.metrics, sizeof(p.metrics), "http://%s/metrics", addr);
    snprintf(p.readyz, sizeof(p.readyz), "http://%s/readyz", addr);
    snprintf(p.healthz, sizeof(p.healthz), "http://%s/healthz", addr);
    TH_ASSERT(th_broker_cmd(b, "create %s 3", topic) == 0);
    const char *const *args =
        TA_APPLY_ARGS(b->bootstrap, group, topic, pg->target_conninfo, "--metrics-addr",
                      addr, /* reconnect quickly once the brokers are back */
                      "-X", "reconnect.backoff.max.ms=1000");
    pid_t pid = ta_apply_spawn(args, log);
    const char *kafka = "component=\"kafka\"", *postgres = "component=\"postgres\"";

    expect(&p, "brokers up", kafka, 1, 200, 30000);
    for (int i = 1; i <= b->brokers; i++)
        TH_ASSERT(th_broker_cmd(b, "down %d", i) == 0);
    expect(&p, "all brokers down", kafka, 0, 503, 30000);
    char *body = NULL;
    TH_CHECK_INT(get(p.healthz, &body), 200);
    free(body);
    body = NULL;
    get(p.readyz, &body);
    TH_CHECK(body && strstr(body, "Kafka"));
    free(body);
    for (int i = 1; i <= b->brokers; i++)
        TH_ASSERT(th_broker_cmd(b, "up %d", i) == 0);
    expect(&p, "brokers back", kafka, 1, 200, 30000);

    TH_ASSERT(th_pg_down(pg, false) == 0);
    expect(&p, "target down", postgres, 0, 503, 30000);
    body = NULL;
    get(p.readyz, &body);
    TH_CHECK(body && strstr(body, "target"));
    free(body);
    TH_ASSERT(th_pg_up(pg) == 0);
    expect(&p, "target back", postgres, 1, 200, 30000);
    TH_CHECK_INT(gauge(&p, kafka), 1);

    /* Target down with a record pending: the loop sits in its retry
     * backoff, where no tick runs; /readyz must still say 503 (it stayed
     * 200 there), and the record lands once the target is back. */
    char table[80], sql[256], val[512];
    snprintf(table, sizeof(table), "%s", th_unique("health_t"));
    /* Durable before the immediate shutdown below (the test cluster runs
     * with synchronous_commit off). */
    snprintf(sql, sizeof(sql),
             "SET synchronous_commit = on; CREATE TABLE public.%s (id int PRIMARY KEY, v text)",
             table);
    TH_ASSERT(th_pg_exec(pg->target_conninfo, sql) == 0);
    rd_kafka_t *rk = th_kafka_producer_new(b->bootstrap, NULL);
    TH_ASSERT(rk != NULL);
    /* The record arrives right after the target went away, before an idle
     * probe could notice: the failure is met by the batch itself. */
    TH_ASSERT(th_pg_down(pg, true) == 0);
    snprintf(
        val, sizeof(val),
        "{\"before\":null,\"after\":{\"id\":1,\"v\":\"x\"},\"source\":{\"version\":\"2.4.2.Final\","
        "\"connector\":\"postgresql\",\"name\":\"dbserver1\",\"ts_ms\":1700000000000,"
        "\"db\":\"shop\",\"schema\":\"public\",\"table\":\"%s\"},\"op\":\"c\","
        "\"ts_ms\":1700000000001}",
        table);
    TH_ASSERT(th_kafka_produce_sync(rk, topic, 0, "{\"id\":1}", val, 10000) == 0);
    rd_kafka_destroy(rk);
    /* Long enough for the record to be consumed and its lookup or batch
     * to enter the retry backoff (several ticks' worth). */
    usleep(4000 * 1000);
    expect(&p, "target down, record pending", postgres, 0, 503, 1000);
    TH_ASSERT(th_pg_up(pg) == 0);
    expect(&p, "target back, record applied", postgres, 1, 200, 60000);
    snprintf(sql, sizeof(sql), "SELECT v FROM public.%s WHERE id = 1", table);
    char *v = NULL;
    for (int i = 0; i < 100 && !v; i++) {
        v = th_pg_query_value(pg->target_conninfo, sql);
        if (!v)
            usleep(100 * 1000);
    }
    TH_CHECK(v && !strcmp(v, "x"));
    free(v);

    kill(pid, SIGTERM);
    TH_CHECK_INT(ta_wait(pid, 30000), 0);
    char *out = ta_slurp(log);
    if (th_failures)
        fprintf(stderr, "cdc-apply log:\n%s\n", out);
    else
        unlink(log);
    free(out);
}

static void unreachable_at_start(th_pg_t *pg)
{
    char brokers[64], log[128], topic[64];
    snprintf(topic, sizeof(topic), "%s", th_unique("nobroker"));
    snprintf(log, sizeof(log), "/tmp/%s.log", topic);
    snprintf(brokers, sizeof(brokers), "127.0.0.1:%d,127.0.0.1:%d", ta_free_port(), ta_free_port());
    const char *const *args =
        TH_ARGS("--brokers", brokers, "--topics", topic, "--target", pg->target_conninfo,
                "--metrics-addr", "", "--startup-timeout", "5");
    int64_t t0 = th_now_ms();
    int rc = ta_apply_run(args, log, 60000);
    double secs = (th_now_ms() - t0) / 1000.0;
    fprintf(stderr, "unreachable at start: exit %d after %.1f s\n", rc, secs);
    TH_CHECK_INT(rc, 2);
    TH_CHECK(secs >= 5 && secs < 20);
    char *out = ta_slurp(log);
    int lines = 0;
    for (char *l = out; l && *l;) {
        char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        char line[2048];
        snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), l);
        if (strstr(line, "--startup-timeout")) {
            lines++;
            TH_CHECK(strstr(line, brokers) != NULL);
        }
        l = nl ? nl + 1 : NULL;
    }
    TH_CHECK_INT(lines, 1);
    if (th_failures)
        fprintf(stderr, "cdc-apply log:\n%s\n", out);
    else
        unlink(log);
    free(out);
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 3);
    running(&pg, &b);
    unreachable_at_start(&pg);
    ta_stop(&pg, &b);
    TH_DONE();
}
