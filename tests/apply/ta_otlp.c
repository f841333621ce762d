/* A small OTLP/HTTP receiver for the tracing tests (see ta_otlp.h). */
#include "ta_otlp.h"

#include "th.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct req {
    char *url, *ctype, *body;
    size_t len;
} req_t;

struct ta_otlp {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    req_t *reqs;
    size_t nreqs;
};

typedef struct upload {
    char *data;
    size_t len;
} upload_t;

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    ta_otlp_t *o = cls;
    (void)version;
    upload_t *u = *con_cls;
    if (!u) {
        u = calloc(1, sizeof(*u));
        *con_cls = u;
        return MHD_YES;
    }
    if (*upload_data_size) {
        u->data = realloc(u->data, u->len + *upload_data_size + 1);
        memcpy(u->data + u->len, upload_data, *upload_data_size);
        u->len += *upload_data_size;
        u->data[u->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    pthread_mutex_lock(&o->mu);
    o->reqs = realloc(o->reqs, (o->nreqs + 1) * sizeof(*o->reqs));
    req_t *r = &o->reqs[o->nreqs++];
    char m[300];
    snprintf(m, sizeof(m), "%s %s", method, url);
    r->url = strdup(m);
    r->ctype = strdup(ct ? ct : "");
    r->body = u->data ? u->data : strdup("");
    r->len = u->len;
    u->data = NULL;
    pthread_mutex_unlock(&o->mu);
    static const char ok[] = "{}";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(2, (void *)(uintptr_t)ok, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    upload_t *u = *con_cls;
    if (u) {
        free(u->data);
        free(u);
    }
    *con_cls = NULL;
}

ta_otlp_t *ta_otlp_start(void)
{
    ta_otlp_t *o = calloc(1, sizeof(*o));
    TH_ASSERT(o);
    pthread_mutex_init(&o->mu, NULL);
    o->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, o,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    TH_ASSERT(o->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(o->d, MHD_DAEMON_INFO_BIND_PORT);
    TH_ASSERT(info && info->port);
    o->port = info->port;
    return o;
}

int ta_otlp_port(const ta_otlp_t *o)
{
    return o->port;
}

size_t ta_otlp_requests(ta_otlp_t *o)
{
    pthread_mutex_lock(&o->mu);
    size_t n = o->nreqs;
    pthread_mutex_unlock(&o->mu);
    return n;
}

const char *ta_otlp_attr(const json_t *attrs, const char *key)
{
    size_t i;
    json_t *a;
    json_array_foreach(attrs, i, a)
    {
        const char *k = json_string_value(json_object_get(a, "key"));
        if (!k || strcmp(k, key))
            continue;
        json_t *v = json_object_get(a, "value");
        json_t *s = json_object_get(v, "stringValue");
        if (!s)
            s = json_object_get(v, "intValue");
        return json_string_value(s);
    }
    return NULL;
}

json_t *ta_otlp_spans(ta_otlp_t *o)
{
    json_t *all = json_array();
    pthread_mutex_lock(&o->mu);
    for (size_t i = 0; i < o->nreqs; i++) {
        const req_t *r = &o->reqs[i];
        TH_CHECK_STR(r->url, "POST /v1/traces");
        TH_CHECK_STR(r->ctype, "application/json");
        json_error_t je;
        json_t *body = json_loadb(r->body, r->len, 0, &je);
        TH_CHECK(body != NULL);
        if (!body) {
            fprintf(stderr, "not JSON (%s): %s\n", je.text, r->body);
            continue;
        }
        json_t *rs = json_object_get(body, "resourceSpans");
        TH_CHECK_INT((int)json_array_size(rs), 1);
        json_t *res = json_array_get(rs, 0);
        const char *svc = ta_otlp_attr(
            json_object_get(json_object_get(res, "resource"), "attributes"), "service.name");
        TH_CHECK_STR(svc ? svc : "(none)", "cdc-apply");
        json_t *ss = json_object_get(res, "scopeSpans");
        TH_CHECK_INT((int)json_array_size(ss), 1);
        size_t j;
        json_t *s;
        json_array_foreach(json_object_get(json_array_get(ss, 0), "spans"), j, s)
            json_array_append(all, s);
        json_decref(body);
    }
    pthread_mutex_unlock(&o->mu);
    return all;
}

void ta_otlp_stop(ta_otlp_t *o)
{
    if (!o)
        return;
    MHD_stop_daemon(o->d);
    for (size_t i = 0; i < o->nreqs; i++) {
        free(o->reqs[i].url);
        free(o->reqs[i].ctype);
        free(o->reqs[i].body);
    }
    free(o->reqs);
    pthread_mutex_destroy(&o->mu);
    free(o);
}

int ta_otlp_hang(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    TH_ASSERT(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    TH_ASSERT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    TH_ASSERT(listen(fd, 128) == 0);
    socklen_t sl = sizeof(sa);
    TH_ASSERT(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    *port = ntohs(sa.sin_port);
    return fd;
}
