/**
 * @file http.h
 * @brief The metrics and health HTTP endpoint (libmicrohttpd, own thread).
 *
 * Routes (GET and HEAD; any other method gets 405 with an Allow header):
 *  - /metrics : the registry in text format 0.0.4, with
 *               "Content-Type: text/plain; version=0.0.4; charset=utf-8"
 *               (Prometheus 3 fails a scrape that has no Content-Type).
 *  - /healthz : liveness. 200 "ok" while the program's loop calls
 *               cdc_http_tick(); 503 with the reason once it has not ticked
 *               for the liveness timeout (a wedged loop gets restarted).
 *  - /readyz  : readiness. 200 "ok" once the program calls
 *               cdc_http_set_ready(http, true, NULL); else 503 with the
 *               one-line reason the program gave ("starting" at first).
 *  - anything else: 404.
 *
 * Thread safety: every function may be called from any thread while the
 * server runs. Requests are served one at a time on the server's thread,
 * which is also where the registry's collect callbacks run.
 */
#ifndef CDC_HTTP_H
#define CDC_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "cdc/metrics.h"

/** Opaque server handle. */
typedef struct cdc_http cdc_http_t;

/** Default liveness timeout in seconds (see cdc_http_set_liveness_timeout()). */
#define CDC_HTTP_LIVENESS_TIMEOUT_DEFAULT 60.0

/**
 * @brief Bind, listen and start serving.
 *
 * @param addr "host:port", "[v6addr]:port" or ":port" (all interfaces);
 *        host may be a name ("localhost"). Port 0 picks a free port; read it
 *        with cdc_http_port(). Borrowed.
 * @param reg  borrowed; must outlive the server. NULL serves no /metrics
 *        (404), for a program that only wants health endpoints.
 * @returns a new server (free with cdc_http_destroy()), or NULL with a
 *          one-line errstr naming the address and the likely cause, e.g.
 *          "cannot listen on 127.0.0.1:9400: address already in use: is
 *          another cdc-apply running? use --metrics-addr".
 *
 * The liveness clock starts at creation, so a loop that never starts turns
 * /healthz red after the timeout too. Readiness starts false ("starting").
 */
cdc_http_t *cdc_http_new(const char *addr, cdc_metrics_t *reg, char *errstr, size_t errstr_size);

/** @brief Stop serving (waits for the request in progress) and free.
 *  NULL is a no-op. */
void cdc_http_destroy(cdc_http_t *http);

/** @brief The TCP port actually bound (the free one chosen for port 0). */
int cdc_http_port(const cdc_http_t *http);

/** @brief Liveness tick: call once per iteration of the program's loop. */
void cdc_http_tick(cdc_http_t *http);

/** @brief Seconds without a tick before /healthz answers 503.
 *  0 or less disables the check (always 200). */
void cdc_http_set_liveness_timeout(cdc_http_t *http, double seconds);

/**
 * @brief Set readiness.
 * @param reason borrowed, copied (truncated to one line of 255 bytes);
 *        shown in the 503 body when @p ready is false, e.g.
 *        "waiting for partition assignment". NULL means "not ready".
 */
void cdc_http_set_ready(cdc_http_t *http, bool ready, const char *reason);

#endif
