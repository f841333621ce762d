#include "th_registry.h"
#include "th.h"
#include "th_proc.h"

#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

static void cleanup_cb(void *arg)
{
    th_registry_stop(arg);
}

int th_registry_start(th_registry_t *r, int fail_first)
{
    char path[512], fail[16], line[256];

    memset(r, 0, sizeof(*r));
    r->pid = -1;
    r->in_fd = r->out_fd = -1;
    snprintf(path, sizeof(path), "%s/devstack/cdc-registry-mock", th_build_root());
    if (access(path, X_OK) != 0) {
        fprintf(stderr, "th_registry: %s is missing: build devstack/ first\n", path);
        return -1;
    }
    snprintf(fail, sizeof(fail), "%d", fail_first);
    const char *argv[] = {path, "--port", "0", "--fail-first", fail, "--exit-on-eof", NULL};
    r->pid = th_proc_spawn(argv, &r->in_fd, &r->out_fd);
    if (r->pid < 0)
        return -1;
    th_cleanup_push(cleanup_cb, r);
    if (th_proc_read_line(r->out_fd, line, sizeof(line), 10000) < 0 ||
        sscanf(line, "LISTEN http://127.0.0.1:%d", &r->port) != 1) {
        fprintf(stderr, "th_registry: no LISTEN line from %s within 10 s\n", path);
        th_registry_stop(r);
        return -1;
    }
    snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d", r->port);
    return 0;
}

void th_registry_stop(th_registry_t *r)
{
    if (r->pid <= 0)
        return;
    if (r->in_fd >= 0)
        close(r->in_fd);
    th_proc_stop(r->pid, 10000);
    if (r->out_fd >= 0)
        close(r->out_fd);
    r->in_fd = r->out_fd = -1;
    r->pid = -1;
    th_cleanup_pop(cleanup_cb, r);
}

typedef struct {
    char *data;
    size_t len;
} sink_t;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    sink_t *s = userdata;
    size_t n = size * nmemb;
    char *d = realloc(s->data, s->len + n + 1);
    if (!d)
        return 0;
    memcpy(d + s->len, ptr, n);
    s->data = d;
    s->len += n;
    d[s->len] = '\0';
    return n;
}

int th_http_request(const char *url, const char *post_body, long *status, char **body,
                    char **content_type)
{
    CURL *curl = NULL;
    struct curl_slist *headers = NULL;
    sink_t sink = {0};
    int rc = -1;
    char *ct = NULL;

    curl = curl_easy_init();
    if (!curl)
        goto out;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    if (post_body) {
        headers =
            curl_slist_append(headers, "Content-Type: application/vnd.schemaregistry.v1+json");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post_body);
    }
    CURLcode err = curl_easy_perform(curl);
    if (err) {
        fprintf(stderr, "th_http: %s: %s\n", url, curl_easy_strerror(err));
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
    if (content_type)
        *content_type = ct ? strdup(ct) : NULL;
    if (body) {
        *body = sink.data ? sink.data : strdup("");
        sink.data = NULL;
    }
    rc = 0;
out:
    free(sink.data);
    curl_slist_free_all(headers);
    if (curl)
        curl_easy_cleanup(curl);
    return rc;
}

int th_registry_register(th_registry_t *r, const char *subject, const char *schema)
{
    char url[512];
    char *req = NULL, *resp = NULL;
    long status = 0;
    json_t *js = NULL;
    json_int_t id = -1;

    json_t *body = json_pack("{s:s,s:s}", "schema", schema, "schemaType", "AVRO");
    req = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);

    snprintf(url, sizeof(url), "%s/subjects/%s/versions", r->url, subject);
    if (!req || th_http_request(url, req, &status, &resp, NULL) != 0)
        goto out;
    js = json_loads(resp, 0, NULL);
    if (status != 200 || json_unpack(js, "{s:I}", "id", &id) != 0) {
        fprintf(stderr, "th_registry: register %s -> HTTP %ld %s\n", subject, status, resp);
        id = -1;
    }
out:
    json_decref(js);
    free(req);
    free(resp);
    return (int)id;
}
