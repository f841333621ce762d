/*
 * Metrics and health endpoint on libmicrohttpd.
 *
 * We bind and listen on the socket ourselves and hand it to MHD
 * (MHD_OPTION_LISTEN_SOCKET): that way a bind failure gives us errno, so the
 * message can name the address and the likely cause, and getsockname()
 * reports the port the kernel chose for port 0.
 */
#include "cdc/http.h"
#include "cdc/util.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define TEXT_CONTENT_TYPE    "text/plain; charset=utf-8"

struct cdc_http {
    struct MHD_Daemon *daemon;
    cdc_metrics_t *reg; /* borrowed */
    int port;
    _Atomic int64_t last_tick_ms; /* CLOCK_MONOTONIC */
    _Atomic int64_t liveness_ms;  /* <= 0: check disabled */
    atomic_bool ready;
    pthread_mutex_t mu; /* guards reason */
    char reason[256];
};

/* Ticks are monotonic: a wall-clock step (NTP) must not make the loop look dead. */
void cdc_http_tick(cdc_http_t *http)
{
    if (http)
        atomic_store_explicit(&http->last_tick_ms, cdc_now_mono_ms(), memory_order_relaxed);
}

void cdc_http_set_liveness_timeout(cdc_http_t *http, double seconds)
{
    if (http)
        atomic_store(&http->liveness_ms, seconds > 0 ? (int64_t)(seconds * 1000.0) : 0);
}

void cdc_http_set_ready(cdc_http_t *http, bool ready, const char *reason)
{
    if (!http)
        return;
    pthread_mutex_lock(&http->mu);
    snprintf(http->reason, sizeof(http->reason), "%s",
             reason && *reason ? reason : (ready ? "ok" : "not ready"));
    /* The body is one line; a reason with a newline would let a caller's
     * error text break the format health checkers expect. */
    http->reason[strcspn(http->reason, "\r\n")] = '\0';
    pthread_mutex_unlock(&http->mu);
    atomic_store(&http->ready, ready);
}

int cdc_http_port(const cdc_http_t *http)
{
    return http ? http->port : 0;
}

/* --------------------------------------------------------------- serving */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, char *body,
                               enum MHD_ResponseMemoryMode mode, const char *content_type)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    /* Health and metrics are always "now"; no proxy may serve them stale. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return respond(conn, status, (char *)(uintptr_t)text, MHD_RESPMEM_MUST_COPY, TEXT_CONTENT_TYPE);
}

static enum MHD_Result serve_healthz(cdc_http_t *http, struct MHD_Connection *conn)
{
    int64_t limit = atomic_load(&http->liveness_ms);
    int64_t idle =
        cdc_now_mono_ms() - atomic_load_explicit(&http->last_tick_ms, memory_order_relaxed);
    if (limit <= 0 || idle <= limit)
        return respond_text(conn, MHD_HTTP_OK, "ok\n");
    char msg[160];
    snprintf(msg, sizeof(msg), "stalled: the main loop has not run for %.1f s (limit %.1f s)\n",
             (double)idle / 1000.0, (double)limit / 1000.0);
    return respond_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
}

static enum MHD_Result serve_readyz(cdc_http_t *http, struct MHD_Connection *conn)
{
    char msg[300];
    bool ready;
    pthread_mutex_lock(&http->mu);
    ready = atomic_load(&http->ready);
    snprintf(msg, sizeof(msg), "%s\n", ready ? "ok" : http->reason);
    pthread_mutex_unlock(&http->mu);
    return respond_text(conn, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, msg);
}

static enum MHD_Result serve_metrics(cdc_http_t *http, struct MHD_Connection *conn)
{
    cdc_buf_t text = CDC_BUF_INIT;
    cdc_metrics_render(http->reg, &text);
    /* MHD frees the body with free(), which is what cdc_buf_steal() gives. */
    return respond(conn, MHD_HTTP_OK, cdc_buf_steal(&text), MHD_RESPMEM_MUST_FREE,
                   METRICS_CONTENT_TYPE);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    cdc_http_t *http = cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;

    /* HEAD is answered like GET (MHD drops the body): HTTP requires a
     * server that supports GET to support HEAD. Everything else is refused
     * on the first call, before any request body is read. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (strcmp(url, "/metrics") == 0 && http->reg)
        return serve_metrics(http, conn);
    if (strcmp(url, "/healthz") == 0)
        return serve_healthz(http, conn);
    if (strcmp(url, "/readyz") == 0)
        return serve_readyz(http, conn);
    return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* Library code never prints: MHD's own messages go nowhere. Our caller gets
 * bind errors through errstr, and per-connection errors are the client's. */
static void quiet_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

/* ------------------------------------------------------------- listening */

/* Split "host:port", "[v6]:port" or ":port" into host (NULL for all
 * interfaces) and port, in place in @p copy. */
static int split_addr(char *copy, char **host, char **port)
{
    char *colon;
    if (copy[0] == '[') {
        char *close = strchr(copy, ']');
        if (!close || close[1] != ':')
            return -1;
        *close = '\0';
        *host = copy + 1;
        colon = close + 1;
    } else {
        colon = strrchr(copy, ':');
        if (!colon)
            return -1;
        *colon = '\0';
        *host = copy;
    }
    *port = colon + 1;
    if (**host == '\0')
        *host = NULL;
    if (**port == '\0' || strspn(*port, "0123456789") != strlen(*port) || atol(*port) > 65535)
        return -1;
    return 0;
}

static const char *bind_hint(int err)
{
    switch (err) {
    case EADDRINUSE:
        return "address already in use: is another cdc-apply running? use --metrics-addr";
    case EACCES:
        return "permission denied: ports below 1024 need privileges; use a higher port with "
               "--metrics-addr";
    case EADDRNOTAVAIL:
        return "address not available: is it an address of this host? use --metrics-addr";
    default: return strerror(err);
    }
}

static int listen_on(const char *addr, int *port_out, char *errstr, size_t errstr_size)
{
    struct addrinfo hints, *res = NULL;
    char *copy = strdup(addr ? addr : "");
    char *host = NULL, *port = NULL;
    int fd = -1, err = 0;

    if (!copy || split_addr(copy, &host, &port) != 0) {
        snprintf(errstr, errstr_size,
                 "invalid listen address \"%s\" (--metrics-addr): use HOST:PORT, "
                 "[IPV6]:PORT or :PORT with a port of 0 to 65535, or \"\" to turn it off",
                 addr ? addr : "");
        goto out;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        snprintf(errstr, errstr_size, "cannot resolve listen address %s: %s", addr,
                 gai_strerror(gai));
        goto out;
    }
    /* Take the first address that binds; for ":port" getaddrinfo lists the
     * IPv4 wildcard first on a default gai.conf, which is what people
     * expect from ":9400". */
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        /* SO_REUSEADDR lets a restarted exporter bind while old connections
         * sit in TIME_WAIT; on Linux it does not let two listeners share a
         * port, so "already in use" is still detected. */
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        snprintf(errstr, errstr_size, "cannot listen on %s: %s", addr, bind_hint(err));
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&ss)->sin_port);
out:
    if (res)
        freeaddrinfo(res);
    free(copy);
    return fd;
}

cdc_http_t *cdc_http_new(const char *addr, cdc_metrics_t *reg, char *errstr, size_t errstr_size)
{
    cdc_http_t *http = NULL;
    int fd = -1;

    http = calloc(1, sizeof(*http));
    if (!http) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    http->reg = reg;
    pthread_mutex_init(&http->mu, NULL);
    snprintf(http->reason, sizeof(http->reason), "starting");
    atomic_init(&http->ready, false);
    atomic_init(&http->last_tick_ms, cdc_now_mono_ms());
    atomic_init(&http->liveness_ms, (int64_t)(CDC_HTTP_LIVENESS_TIMEOUT_DEFAULT * 1000.0));

    fd = listen_on(addr, &http->port, errstr, errstr_size);
    if (fd < 0)
        goto fail;
    /* One internal thread serves requests one after another: scrapes are
     * rare and rendering is fast, and it keeps collect callbacks from
     * running concurrently with each other. The logger option comes first
     * so MHD prints nothing even while starting. */
    http->daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, handle, http, MHD_OPTION_EXTERNAL_LOGGER,
        quiet_log, NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)10, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64, MHD_OPTION_END);
    if (!http->daemon) {
        snprintf(errstr, errstr_size, "cannot start the HTTP server on %s (libmicrohttpd failed)",
                 addr);
        goto fail;
    }
    return http;

fail:
    if (fd >= 0)
        close(fd);
    if (http) {
        pthread_mutex_destroy(&http->mu);
        free(http);
    }
    return NULL;
}

void cdc_http_destroy(cdc_http_t *http)
{
    if (!http)
        return;
    /* MHD_stop_daemon joins the server thread and closes the listen
     * socket we gave it. */
    if (http->daemon)
        MHD_stop_daemon(http->daemon);
    pthread_mutex_destroy(&http->mu);
    free(http);
}
