/* HTTP endpoint: routes, exact Content-Type, health flips, bind errors.
 * With --prometheus: a real Prometheus scrapes the server (suite
 * integration; skipped when /usr/bin/prometheus is missing). */
#include "apply_metrics_catalog.h"
#include "cdc/http.h"
#include "cdc/util.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "th.h"

#define METRICS_CT "text/plain; version=0.0.4; charset=utf-8"

static char errstr[CDC_ERRSTR_SIZE];

typedef struct resp {
    long status;
    char content_type[128];
    char allow[64];
    cdc_buf_t body;
} resp_t;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    cdc_buf_append(&((resp_t *)arg)->body, p, size * n);
    return size * n;
}

/* Copy the value of header @p name out of one raw header line. */
static void grab_header(const char *line, size_t len, const char *name, char *dst, size_t dstsz)
{
    size_t nl = strlen(name);
    if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    while (*v == ' ')
        v++;
    size_t vlen = len - (size_t)(v - line);
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
        vlen--;
    snprintf(dst, dstsz, "%.*s", (int)vlen, v);
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    resp_t *r = arg;
    grab_header(p, size * n, "Content-Type", r->content_type, sizeof(r->content_type));
    grab_header(p, size * n, "Allow", r->allow, sizeof(r->allow));
    return size * n;
}

/* One request with bounded timeouts; returns the status (0 on transport
 * error). The body stays in r->body until resp_free(). */
static long request(const char *url, const char *method, resp_t *r)
{
    memset(r, 0, sizeof(*r));
    CURL *curl = curl_easy_init();
    TH_ASSERT(curl != NULL);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "a=1");
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(curl);
    if (!r->body.data)
        cdc_buf_puts(&r->body, "");
    return r->status;
}

static long req(int port, const char *method, const char *path, resp_t *r)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    return request(url, method, r);
}

static void resp_free(resp_t *r)
{
    cdc_buf_free(&r->body);
}

typedef struct probe {
    int port;
    const char *path;
    long want;
} probe_t;

static bool status_is(void *arg)
{
    probe_t *p = arg;
    resp_t r;
    long got = req(p->port, "GET", p->path, &r);
    resp_free(&r);
    return got == p->want;
}

/* GET @p path answers @p status with body @p body. */
static void check_get(int port, const char *path, int status, const char *body)
{
    resp_t r;
    TH_CHECK_INT(req(port, "GET", path, &r), status);
    TH_CHECK_STR(r.body.data, body);
    resp_free(&r);
}

static void test_routes(void)
{
    cdc_metrics_t *reg = cdc_metrics_new();
    cdc_metric_desc_t d = {"demo_total", "Demo.", CDC_METRIC_COUNTER, CDC_LABELS("k"), NULL, 0};
    TH_ASSERT(cdc_metrics_declare(reg, &d, errstr, sizeof(errstr)) == 0);
    cdc_counter_add(cdc_metrics_counter(reg, "demo_total", CDC_LABELS("a\"b")), 3);

    cdc_http_t *http = cdc_http_new("127.0.0.1:0", reg, errstr, sizeof(errstr));
    if (!http)
        fprintf(stderr, "cdc_http_new: %s\n", errstr);
    TH_ASSERT(http != NULL);
    int port = cdc_http_port(http);
    TH_CHECK(port > 0 && port < 65536);

    resp_t r;
    TH_CHECK_INT(req(port, "GET", "/metrics", &r), 200);
    TH_CHECK_STR(r.content_type, METRICS_CT);
    TH_CHECK_STR(r.body.data, "# HELP demo_total Demo.\n# TYPE demo_total counter\n"
                              "demo_total{k=\"a\\\"b\"} 3\n");
    resp_free(&r);

    /* a query string does not change the route */
    TH_CHECK_INT(req(port, "GET", "/metrics?x=1", &r), 200);
    resp_free(&r);
    TH_CHECK_INT(req(port, "HEAD", "/metrics", &r), 200);
    TH_CHECK_STR(r.content_type, METRICS_CT);
    resp_free(&r);

    /* Unknown paths and methods: {method, path, status, Allow or NULL}. */
    static const struct {
        const char *method, *path;
        int status;
        const char *allow;
    } refused[] = {{"GET", "/", 404, NULL},
                   {"GET", "/metricsx", 404, NULL},
                   {"POST", "/metrics", 405, "GET, HEAD"},
                   {"DELETE", "/healthz", 405, NULL},
                   {"PUT", "/nope", 405, NULL}};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        TH_CHECK_INT(req(port, refused[i].method, refused[i].path, &r), refused[i].status);
        if (refused[i].allow)
            TH_CHECK_STR(r.allow, refused[i].allow);
        resp_free(&r);
    }

    /* readiness: "starting" until the program says otherwise */
    check_get(port, "/readyz", 503, "starting\n");
    cdc_http_set_ready(http, false, "waiting for partition assignment\nsecond line dropped");
    check_get(port, "/readyz", 503, "waiting for partition assignment\n");
    cdc_http_set_ready(http, true, NULL);
    check_get(port, "/readyz", 200, "ok\n");
    cdc_http_set_ready(http, false, "postgres connection lost");
    check_get(port, "/readyz", 503, "postgres connection lost\n");

    /* liveness: fresh at start, 503 once the loop stops ticking, back
     * to 200 on the next tick, always 200 when disabled */
    TH_CHECK_INT(req(port, "GET", "/healthz", &r), 200);
    TH_CHECK_STR(r.body.data, "ok\n");
    resp_free(&r);
    cdc_http_set_liveness_timeout(http, 0.2);
    probe_t stalled = {port, "/healthz", 503};
    TH_CHECK(th_wait_for(status_is, &stalled, 5000));
    TH_CHECK_INT(req(port, "GET", "/healthz", &r), 503);
    TH_CHECK(strncmp(r.body.data, "stalled: ", 9) == 0);
    resp_free(&r);
    cdc_http_tick(http);
    TH_CHECK_INT(req(port, "GET", "/healthz", &r), 200);
    resp_free(&r);
    cdc_http_set_liveness_timeout(http, 0);
    usleep(300 * 1000);
    TH_CHECK_INT(req(port, "GET", "/healthz", &r), 200);
    resp_free(&r);

    cdc_http_destroy(http);
    cdc_http_destroy(NULL);
    cdc_metrics_destroy(reg);
}

/* The second server on a taken port fails with one line naming the
 * address and the likely cause. */
static void test_port_in_use(void)
{
    cdc_http_t *a = cdc_http_new("127.0.0.1:0", NULL, errstr, sizeof(errstr));
    TH_ASSERT(a != NULL);
    char addr[64], want[256];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", cdc_http_port(a));
    snprintf(want, sizeof(want),
             "cannot listen on %s: address already in use: is another cdc-apply running? "
             "use --metrics-addr",
             addr);
    errstr[0] = '\0';
    cdc_http_t *b = cdc_http_new(addr, NULL, errstr, sizeof(errstr));
    TH_CHECK(b == NULL);
    TH_CHECK_STR(errstr, want);
    cdc_http_destroy(b);

    /* without a registry, /metrics is simply not there */
    resp_t r;
    TH_CHECK_INT(req(cdc_http_port(a), "GET", "/metrics", &r), 404);
    resp_free(&r);
    cdc_http_destroy(a);

    /* the port is free again once the first server is gone */
    b = cdc_http_new(addr, NULL, errstr, sizeof(errstr));
    TH_CHECK(b != NULL);
    cdc_http_destroy(b);
}

static void test_addresses(void)
{
    static const char *const bad[] = {"nonsense",   "127.0.0.1:99999", "[::1",
                                      "127.0.0.1:", "127.0.0.1:80x",   ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errstr[0] = '\0';
        cdc_http_t *h = cdc_http_new(bad[i], NULL, errstr, sizeof(errstr));
        TH_CHECK(h == NULL);
        if (!strstr(errstr, "invalid listen address"))
            fprintf(stderr, "%s: %s\n", bad[i], errstr), th_failures++;
        cdc_http_destroy(h);
    }

    /* ":port" listens on every interface, so loopback answers */
    cdc_http_t *h = cdc_http_new(":0", NULL, errstr, sizeof(errstr));
    TH_CHECK(h != NULL);
    resp_t r;
    if (h) {
        TH_CHECK_INT(req(cdc_http_port(h), "GET", "/healthz", &r), 200);
        resp_free(&r);
    }
    cdc_http_destroy(h);

    h = cdc_http_new("localhost:0", NULL, errstr, sizeof(errstr));
    TH_CHECK(h != NULL);
    cdc_http_destroy(h);

    /* IPv6 loopback, when the machine has it */
    h = cdc_http_new("[::1]:0", NULL, errstr, sizeof(errstr));
    if (!h) {
        fprintf(stderr, "note: no IPv6 loopback (%s); IPv6 not tested\n", errstr);
        return;
    }
    char url[64];
    snprintf(url, sizeof(url), "http://[::1]:%d/healthz", cdc_http_port(h));
    TH_CHECK_INT(request(url, "GET", &r), 200);
    resp_free(&r);
    cdc_http_destroy(h);
}

/* ------------------------------------------------- a real Prometheus */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

typedef struct prom_query {
    int port;
    const char *query; /* already URL-encoded */
    const char *want;  /* substring of the JSON answer */
} prom_query_t;

static bool prom_has(void *arg)
{
    prom_query_t *q = arg;
    char url[512];
    resp_t r;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/query?query=%s", q->port, q->query);
    bool ok = request(url, "GET", &r) == 200 && strstr(r.body.data, q->want) != NULL;
    resp_free(&r);
    return ok;
}

static int test_prometheus(void)
{
    const char *bin = "/usr/bin/prometheus";
    if (access(bin, X_OK) != 0)
        TH_SKIP("%s not installed (apt-get install prometheus)", bin);

    cdc_metrics_t *reg = cdc_metrics_new();
    TH_ASSERT(cdc_apply_catalog_register(reg, errstr, sizeof(errstr)) == 0);
    cdc_http_t *http = cdc_http_new("127.0.0.1:0", reg, errstr, sizeof(errstr));
    TH_ASSERT(http != NULL);

    char dir[] = "/tmp/cdc-prom-XXXXXX";
    TH_ASSERT(mkdtemp(dir) != NULL);
    char cfg[256], data[256], logf[256], listen[64];
    snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", dir);
    snprintf(data, sizeof(data), "--storage.tsdb.path=%s/data", dir);
    snprintf(logf, sizeof(logf), "%s/prometheus.log", dir);
    int prom_port = free_port();
    TH_ASSERT(prom_port > 0);
    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", prom_port);
    FILE *f = fopen(cfg, "w");
    TH_ASSERT(f != NULL);
    fprintf(f,
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: cdc-apply\n    static_configs:\n"
            "      - targets: ['127.0.0.1:%d']\n",
            cdc_http_port(http));
    fclose(f);

    char cfgarg[300];
    snprintf(cfgarg, sizeof(cfgarg), "--config.file=%s", cfg);
    pid_t pid = fork();
    TH_ASSERT(pid >= 0);
    if (pid == 0) {
        FILE *lf = freopen(logf, "w", stdout);
        (void)lf;
        dup2(fileno(stdout), 2);
        execl(bin, "prometheus", cfgarg, data, listen, (char *)NULL);
        _exit(127);
    }

    /* up == 1 means Prometheus scraped us and accepted the content type
     * and the text; build_info proves our samples were ingested. */
    prom_query_t up = {prom_port, "up%7Bjob%3D%22cdc-apply%22%7D", "\"1\"]"};
    prom_query_t info = {prom_port, "cdc_build_info", "librdkafka_version"};
    bool got_up = th_wait_for(prom_has, &up, 30000);
    bool got_info = got_up && th_wait_for(prom_has, &info, 10000);
    TH_CHECK(got_up);
    TH_CHECK(got_info);

    kill(pid, SIGTERM);
    int st;
    int64_t deadline = th_now_ms() + 10000;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (th_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            break;
        }
        usleep(50 * 1000);
    }
    if (th_failures) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "tail -n 30 %s >&2", logf);
        TH_CHECK(system(cmd) == 0);
    }
    char rm[300];
    snprintf(rm, sizeof(rm), "rm -rf %s", dir);
    TH_CHECK(system(rm) == 0);
    cdc_http_destroy(http);
    cdc_metrics_destroy(reg);
    return 0;
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (argc > 1 && strcmp(argv[1], "--prometheus") == 0) {
        test_prometheus();
    } else {
        test_routes();
        test_port_in_use();
        test_addresses();
    }
    curl_global_cleanup();
    TH_DONE();
}
