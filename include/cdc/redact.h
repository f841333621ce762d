/**
 * @file redact.h
 * @brief Keeping secrets out of every channel the programs write to: logs,
 *        error strings (which reach logs, state tables and /readyz),
 *        --dump-config.
 *
 * Two defences that complement each other:
 *  - structural: passwords in libpq conninfo strings (every keyword libpq
 *    marks as a password, PQconndefaults() dispchar "*": password,
 *    sslpassword, ...), in URIs (user:password@host, ?sslpassword=) and in
 *    free text (any "<secret key>=value", any scheme://user:password@);
 *  - by value: every secret the configuration holds is registered once
 *    (cdc_redact_add_secret(), done by the config module for sensitive and
 *    conninfo options and secret -X properties) and any occurrence of it in
 *    a log line or error string is replaced, whatever wrote it.
 *
 * The registry of secret values is process-wide, like the logger it
 * protects: every error path would otherwise need a handle it does not
 * have. It only grows, and is thread-safe.
 */
#ifndef CDC_REDACT_H
#define CDC_REDACT_H

#include "cdc/buf.h"

#include <stdbool.h>
#include <stddef.h>

/** What every secret is replaced with. */
#define CDC_REDACTED "*****"

/**
 * @brief Copy @p conninfo to @p out (truncating to @p out_size) with every
 *        password replaced by "*****". Handles libpq "key=value" strings
 *        (quoted values too) and URIs (postgresql://u:pw@h/db?sslpassword=x,
 *        http://user:pw@host).
 */
void cdc_redact_conninfo(const char *conninfo, char *out, size_t out_size);

/**
 * @brief Append @p text (any message) to @p out with secrets hidden: URL
 *        userinfo passwords, "<secret key>=value" pairs and every registered
 *        secret value.
 */
void cdc_redact_text(const char *text, cdc_buf_t *out);

/** @brief cdc_redact_text() in place on an errstr buffer (truncates to
 *  @p errstr_size). */
void cdc_redact_errstr(char *errstr, size_t errstr_size);

/** @brief cdc_redact_text() of @p text as a new string (caller frees);
 *  aborts on out of memory, like the buffers. */
char *cdc_redact_strdup(const char *text);

/**
 * @brief True when a conninfo keyword, URI query parameter or librdkafka
 *        property named @p key (@p len bytes, case-insensitive) holds a
 *        secret: the keywords libpq marks as passwords, and any name
 *        containing "password" or "secret".
 */
bool cdc_redact_is_secret_key(const char *key, size_t len);

/** @brief Remember @p value (copied) as a secret: it is hidden wherever it
 *  appears in a log line or an error string. Values shorter than 4 bytes
 *  are ignored (they would blank out ordinary words). */
void cdc_redact_add_secret(const char *value);

/** @brief Register the secrets inside a conninfo string or URI (the
 *  password values, also percent-decoded). */
void cdc_redact_add_conninfo_secrets(const char *conninfo);

#endif
