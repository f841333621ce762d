/**
 * @file th_registry.h
 * @brief A schema registry mock per test (devstack/cdc-registry-mock as a
 *        child process) and a tiny HTTP client for assertions.
 *
 * The registry dies with the test: th_registry_stop, exit, stdin EOF
 * (--exit-on-eof) or PR_SET_PDEATHSIG.
 */
#ifndef TH_REGISTRY_H
#define TH_REGISTRY_H

#include <sys/types.h>

/** @brief One registry. Fields are read-only for tests. */
typedef struct th_registry {
    pid_t pid;
    int in_fd;
    int out_fd;
    int port;
    char url[128]; /**< "http://127.0.0.1:PORT", no trailing slash */
} th_registry_t;

/**
 * @brief Start a registry on a free port.
 * @param fail_first  answer 503 to this many GETs first (0: never).
 * @returns 0, or -1 (reason on stderr).
 */
int th_registry_start(th_registry_t *r, int fail_first);

/** @brief Stop it (all schemas are lost). Safe to call twice. */
void th_registry_stop(th_registry_t *r);

/**
 * @brief Register @p schema (the schema text, e.g. an Avro record as JSON;
 *        borrowed) as AVRO under @p subject (borrowed).
 * @returns the schema id (> 0), or -1.
 */
int th_registry_register(th_registry_t *r, const char *subject, const char *schema);

/**
 * @brief HTTP GET (or POST when @p post_body is not NULL) of @p url.
 * @param status        out: the HTTP status.
 * @param body          out: response body (new, caller frees); may be NULL.
 * @param content_type  out: Content-Type (new, caller frees; NULL when the
 *                      response has none); may be NULL.
 * @returns 0 when a response came (any status), -1 on transport errors.
 */
int th_http_request(const char *url, const char *post_body, long *status, char **body,
                    char **content_type);

#endif
