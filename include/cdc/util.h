/**
 * @file util.h
 * @brief The few small helpers every module used to write for itself:
 *        clocks, allocation that aborts on OOM, suffix test, and the one
 *        size of an error buffer.
 *
 * Library modules report failures through errstr/errstr_size, but running
 * out of memory for a short string is not a failure any caller can act on:
 * the x* helpers abort, as cdc_buf_t does.
 */
#ifndef CDC_UTIL_H
#define CDC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/buf.h"

/** The size of every errstr buffer a caller hands to a fallible call.
 *  A buffer that wraps such a message in more text (a prefix, a hint) is
 *  CDC_ERRSTR_WRAP_SIZE, so that the callee's whole message fits. */
#define CDC_ERRSTR_SIZE 1024
/** The size of a buffer that holds a CDC_ERRSTR_SIZE message plus context. */
#define CDC_ERRSTR_WRAP_SIZE (CDC_ERRSTR_SIZE + 384)

/** @brief Milliseconds on CLOCK_MONOTONIC: for timeouts and intervals, which
 *         a wall-clock step (NTP) must not stretch or shrink. */
int64_t cdc_now_mono_ms(void);
/** @brief Microseconds on CLOCK_MONOTONIC. */
int64_t cdc_now_mono_us(void);
/** @brief Milliseconds since the Unix epoch (CLOCK_REALTIME): for timestamps
 *         that are compared with other hosts' (Kafka, Debezium ts_ms). */
int64_t cdc_now_wall_ms(void);
/** @brief Seconds since the Unix epoch (CLOCK_REALTIME), with a fraction. */
double cdc_now_wall_s(void);

/** @brief strdup() that aborts on OOM; NULL copies as "". @return new. */
char *cdc_xstrdup(const char *s);
/** @brief calloc() that aborts on OOM; never NULL, even for n == 0. @return new. */
void *cdc_xcalloc(size_t n, size_t size);
/** @brief realloc() that aborts on OOM; never NULL, even for size == 0.
 *  @p p is stolen. @return new (or @p p grown in place). */
void *cdc_xrealloc(void *p, size_t size);

/** @brief Whether @p s (borrowed, may be NULL: false) ends with @p suffix. */
bool cdc_ends_with(const char *s, const char *suffix);

/** @brief Append the standard base64 (RFC 4648 section 4, with padding)
 *  of @p n bytes at @p p (borrowed) to @p out. */
void cdc_base64_append(cdc_buf_t *out, const void *p, size_t n);

/** @brief Append @p v as Avro encodes a long (and an int): zig-zag, then
 *  a little-endian base-128 varint. */
void cdc_avro_long_append(cdc_buf_t *out, int64_t v);

/**
 * Replace @p path with @p len bytes of @p data atomically: written to a
 * temporary file in the same directory (its name does not end in .prom, so
 * node_exporter never reads it half-written), fsynced, then renamed over
 * @p path. After a crash the file holds the old or the new content, never
 * an empty one. Returns 0, or -1 with a one-line reason in @p errstr (the
 * temporary file removed).
 */
int cdc_write_file_atomic(const char *path, const char *data, size_t len, char *errstr,
                          size_t errstr_size);

#endif
