/**
 * @file ta_otlp.h
 * @brief A small OTLP/HTTP receiver for the tracing tests: a
 *        libmicrohttpd server on 127.0.0.1 that answers every request 200
 *        and keeps what was POSTed; and a port that accepts connections
 *        but never answers (a hung collector).
 */
#ifndef TA_OTLP_H
#define TA_OTLP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct ta_otlp ta_otlp_t;

/** @brief Start a receiver on a free port (asserts). @returns new. */
ta_otlp_t *ta_otlp_start(void);

/** @brief Its port. */
int ta_otlp_port(const ta_otlp_t *o);

/** @brief Requests received so far. */
size_t ta_otlp_requests(ta_otlp_t *o);

/**
 * @brief Every span received so far (new array of copies, json_decref).
 *        Each request is checked on the way (TH_CHECK): POST to
 *        /v1/traces, Content-Type application/json, one resourceSpans
 *        entry with service.name = cdc-apply and one scopeSpans entry.
 */
json_t *ta_otlp_spans(ta_otlp_t *o);

/** @brief Stop and free. Accepts NULL. */
void ta_otlp_stop(ta_otlp_t *o);

/** @brief A listening socket on a free port that is never accepted from:
 *  connections complete (the kernel's backlog) and then hang. @returns
 *  the socket (close it); its port in *port. */
int ta_otlp_hang(int *port);

/** @brief The attribute @p key of an OTLP attribute list @p attrs
 *  (borrowed): its stringValue or intValue as text, NULL when absent. */
const char *ta_otlp_attr(const json_t *attrs, const char *key);

#endif
