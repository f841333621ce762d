/**
 * @file cdc-registry-mock.c
 * @brief A Confluent Schema Registry stand-in for tests and local development.
 *
 * Implements the subset a Debezium Avro pipeline touches:
 *   POST /subjects/{subject}/versions   {"schema":"...","schemaType":"AVRO"} -> {"id":N}
 *   GET  /schemas/ids/{id}              {"schema":"..."}  (404 / 40403 when unknown)
 *   GET  /schemas/ids/{id}/schema       the raw schema text
 *   GET  /subjects                      ["subject", ...]
 *   GET  /subjects/{subject}/versions   [1, 2, ...]
 * and the same under /apis/ccompat/v7 (Apicurio's Confluent-compatible API).
 *
 * Ids are global and start at 1; the same schema text registered under any
 * subject gets the same id, as in the real registry. Schemas are compared as
 * text, not canonicalised: tests register what they later expect back.
 * --fail-first N answers 503 to the first N GETs, to test client retries.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#define CT_REGISTRY    "application/vnd.schemaregistry.v1+json"
#define CCOMPAT_PREFIX "/apis/ccompat/v7"
#define MAX_BODY       (4 * 1024 * 1024)

static volatile sig_atomic_t run = 1;

static void on_signal(int sig)
{
    (void)sig;
    run = 0;
}

typedef struct {
    char *subject;
    int *ids; /* version v is ids[v - 1] */
    size_t n;
} subject_t;

/* All registry state; MHD's thread and main() share it under the lock. */
typedef struct {
    pthread_mutex_t lock;
    char **schemas; /* id N is schemas[N - 1] */
    char **types;
    size_t n_schemas;
    subject_t *subjects;
    size_t n_subjects;
    long fail_left;
} registry_t;

/* A request body being received (MHD hands it over in pieces). */
typedef struct {
    char *data;
    size_t len;
    int too_big;
} body_t;

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *ctype,
                               const char *text)
{
    /* MHD 0.9.75 takes a non-const pointer even when it copies; a union
     * drops the qualifier without a cast warning. */
    union {
        const char *c;
        void *v;
    } buf = {.c = text};
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), buf.v, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", ctype);
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Answers a JSON value; steals @p js. */
static enum MHD_Result respond_json(struct MHD_Connection *conn, unsigned status, json_t *js)
{
    char *text = js ? json_dumps(js, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(js);
    if (!text)
        return respond(conn, 500, CT_REGISTRY, "{\"error_code\":50001,\"message\":\"oom\"}");
    enum MHD_Result ret = respond(conn, status, CT_REGISTRY, text);
    free(text);
    return ret;
}

static enum MHD_Result respond_error(struct MHD_Connection *conn, unsigned status, int code,
                                     const char *msg)
{
    return respond_json(conn, status, json_pack("{s:i,s:s}", "error_code", code, "message", msg));
}

/* Finds or adds the schema; returns its id or -1 (out of memory). Lock held. */
static int registry_put(registry_t *reg, const char *subject, const char *schema, const char *type)
{
    int id = 0;
    for (size_t i = 0; i < reg->n_schemas && !id; i++)
        if (!strcmp(reg->schemas[i], schema) && !strcmp(reg->types[i], type))
            id = (int)i + 1;
    if (!id) {
        char **s = realloc(reg->schemas, (reg->n_schemas + 1) * sizeof(*s));
        if (!s)
            return -1;
        reg->schemas = s;
        char **t = realloc(reg->types, (reg->n_schemas + 1) * sizeof(*t));
        if (!t)
            return -1;
        reg->types = t;
        reg->schemas[reg->n_schemas] = strdup(schema);
        reg->types[reg->n_schemas] = strdup(type);
        id = (int)++reg->n_schemas;
    }

    subject_t *sub = NULL;
    for (size_t i = 0; i < reg->n_subjects && !sub; i++)
        if (!strcmp(reg->subjects[i].subject, subject))
            sub = &reg->subjects[i];
    if (!sub) {
        subject_t *ns = realloc(reg->subjects, (reg->n_subjects + 1) * sizeof(*ns));
        if (!ns)
            return -1;
        reg->subjects = ns;
        sub = &reg->subjects[reg->n_subjects++];
        *sub = (subject_t){.subject = strdup(subject)};
    }
    /* Re-registering a schema a subject already has adds no version. */
    for (size_t i = 0; i < sub->n; i++)
        if (sub->ids[i] == id)
            return id;
    int *ids = realloc(sub->ids, (sub->n + 1) * sizeof(*ids));
    if (!ids)
        return -1;
    sub->ids = ids;
    sub->ids[sub->n++] = id;
    return id;
}

static enum MHD_Result handle_post(registry_t *reg, struct MHD_Connection *conn, const char *path,
                                   body_t *body)
{
    char subject[512];
    const char *schema = NULL, *type = "AVRO";
    json_error_t jerr;
    int id;

    /* /subjects/{subject}/versions */
    if (sscanf(path, "/subjects/%511[^/]/versions", subject) != 1 ||
        strcmp(path + strlen("/subjects/") + strlen(subject), "/versions") != 0)
        return respond_error(conn, 404, 404, "HTTP 404 Not Found");
    if (body->too_big)
        return respond_error(conn, 413, 413, "request body too large");

    json_t *js = json_loadb(body->data ? body->data : "", body->len, 0, &jerr);
    if (!js || json_unpack(js, "{s:s,s?s}", "schema", &schema, "schemaType", &type) != 0) {
        json_decref(js);
        return respond_error(conn, 422, 42201,
                             "Invalid schema: body must be "
                             "{\"schema\": \"...\", \"schemaType\": ...}");
    }
    pthread_mutex_lock(&reg->lock);
    id = registry_put(reg, subject, schema, type);
    pthread_mutex_unlock(&reg->lock);
    json_decref(js);
    if (id < 0)
        return respond_error(conn, 500, 50001, "out of memory");
    return respond_json(conn, 200, json_pack("{s:i}", "id", id));
}

static enum MHD_Result handle_get(registry_t *reg, struct MHD_Connection *conn, const char *path)
{
    unsigned long id = 0;
    int pos = 0;
    char subject[512];
    enum MHD_Result ret;

    pthread_mutex_lock(&reg->lock);
    if (reg->fail_left > 0) {
        reg->fail_left--;
        pthread_mutex_unlock(&reg->lock);
        return respond_error(conn, 503, 50301, "Service Unavailable (--fail-first)");
    }

    if (sscanf(path, "/schemas/ids/%lu%n", &id, &pos) == 1 &&
        (!strcmp(path + pos, "") || !strcmp(path + pos, "/schema"))) {
        if (id == 0 || id > reg->n_schemas) {
            ret = respond_error(conn, 404, 40403, "Schema not found");
        } else if (path[pos]) {
            /* The raw form: the schema text itself, not wrapped in JSON. */
            ret = respond(conn, 200, CT_REGISTRY, reg->schemas[id - 1]);
        } else {
            json_t *js = json_pack("{s:s}", "schema", reg->schemas[id - 1]);
            /* Confluent omits schemaType for Avro, the default. */
            if (js && strcmp(reg->types[id - 1], "AVRO") != 0)
                json_object_set_new(js, "schemaType", json_string(reg->types[id - 1]));
            ret = respond_json(conn, 200, js);
        }
    } else if (!strcmp(path, "/subjects")) {
        json_t *arr = json_array();
        for (size_t i = 0; i < reg->n_subjects; i++)
            json_array_append_new(arr, json_string(reg->subjects[i].subject));
        ret = respond_json(conn, 200, arr);
    } else if ((pos = 0, sscanf(path, "/subjects/%511[^/]/versions%n", subject, &pos)) == 1 &&
               pos > 0 && path[pos] == '\0') {
        json_t *arr = NULL;
        for (size_t i = 0; i < reg->n_subjects && !arr; i++) {
            if (strcmp(reg->subjects[i].subject, subject) != 0)
                continue;
            arr = json_array();
            for (size_t v = 1; v <= reg->subjects[i].n; v++)
                json_array_append_new(arr, json_integer((json_int_t)v));
        }
        ret = arr ? respond_json(conn, 200, arr)
                  : respond_error(conn, 404, 40401, "Subject not found");
    } else {
        ret = respond_error(conn, 404, 404, "HTTP 404 Not Found");
    }
    pthread_mutex_unlock(&reg->lock);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    registry_t *reg = cls;
    body_t *body = *con_cls;

    /* First call per request: only headers are in; set up the body. */
    if (!body) {
        body = calloc(1, sizeof(*body));
        if (!body)
            return MHD_NO;
        *con_cls = body;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (body->len + *upload_data_size > MAX_BODY) {
            body->too_big = 1;
        } else {
            char *d = realloc(body->data, body->len + *upload_data_size + 1);
            if (!d)
                return MHD_NO;
            memcpy(d + body->len, upload_data, *upload_data_size);
            body->data = d;
            body->len += *upload_data_size;
            d[body->len] = '\0';
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    const char *path = url;
    if (!strncmp(path, CCOMPAT_PREFIX, strlen(CCOMPAT_PREFIX)) &&
        (path[strlen(CCOMPAT_PREFIX)] == '/' || path[strlen(CCOMPAT_PREFIX)] == '\0'))
        path += strlen(CCOMPAT_PREFIX);

    if (!strcmp(method, "GET"))
        return handle_get(reg, conn, path);
    if (!strcmp(method, "POST"))
        return handle_post(reg, conn, path, body);
    return respond_error(conn, 405, 405, "HTTP 405 Method Not Allowed");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    body_t *body = *con_cls;
    if (body) {
        free(body->data);
        free(body);
        *con_cls = NULL;
    }
}

static void registry_clear(registry_t *reg)
{
    for (size_t i = 0; i < reg->n_schemas; i++) {
        free(reg->schemas[i]);
        free(reg->types[i]);
    }
    free(reg->schemas);
    free(reg->types);
    for (size_t i = 0; i < reg->n_subjects; i++) {
        free(reg->subjects[i].subject);
        free(reg->subjects[i].ids);
    }
    free(reg->subjects);
    pthread_mutex_destroy(&reg->lock);
}

static long parse_long(const char *s, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return (errno || end == s || *end || v < 0 || v > max) ? -1 : v;
}

int main(int argc, char **argv)
{
    registry_t reg = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct MHD_Daemon *d = NULL;
    long port = 0;
    int exit_on_eof = 0;
    int rc = 2;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            port = parse_long(argv[++i], 65535);
        } else if (!strcmp(argv[i], "--fail-first") && i + 1 < argc) {
            reg.fail_left = parse_long(argv[++i], 1000000);
            if (reg.fail_left < 0)
                port = -1;
        } else if (!strcmp(argv[i], "--exit-on-eof")) {
            exit_on_eof = 1;
        } else {
            port = -1;
        }
        if (port < 0) {
            fprintf(stderr, "usage: cdc-registry-mock [--port N] [--fail-first N] "
                            "[--exit-on-eof]\n");
            return argc > 1 && !strcmp(argv[1], "--help") ? 0 : 2;
        }
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Loopback only: this is a test double with no authentication. */
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL,
                         NULL, on_request, &reg, MHD_OPTION_SOCK_ADDR, &addr,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cdc-registry-mock: cannot listen on 127.0.0.1:%ld (port in use?)\n", port);
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("LISTEN http://127.0.0.1:%u\n", info ? (unsigned)info->port : (unsigned)port);
    fflush(stdout);

    while (run) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        /* Without --exit-on-eof stdin may be /dev/null (always readable). */
        if (poll(&pfd, exit_on_eof ? 1 : 0, 200) > 0) {
            char buf[256];
            ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
                break;
        }
    }
    rc = 0;

out:
    if (d)
        MHD_stop_daemon(d);
    registry_clear(&reg);
    return rc;
}
