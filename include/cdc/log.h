/**
 * @file log.h
 * @brief Process-wide logger (one of the two allowed globals): levels, text
 *        or JSON lines on stderr, librdkafka's logs routed in.
 *
 * The level is checked before anything is formatted. Messages about a
 * record carry topic[partition]@offset; row data never goes to the log.
 */
#ifndef CDC_LOG_H
#define CDC_LOG_H

#include <stdarg.h>
#include <stdio.h>

typedef enum cdc_log_level {
    CDC_LOG_ERROR = 0,
    CDC_LOG_WARN,
    CDC_LOG_INFO,
    CDC_LOG_DEBUG,
} cdc_log_level_t;

typedef enum cdc_log_format {
    CDC_LOG_TEXT = 0, /**< "2026-11-21T22:28:21.123Z INFO cdc-apply: msg" */
    CDC_LOG_JSON,     /**< {"ts":"...","level":"info","prog":"...","msg":"..."} */
} cdc_log_format_t;

/** @brief Set program name, level, format and stream (NULL = stderr). */
void cdc_log_init(const char *prog, cdc_log_level_t level, cdc_log_format_t format, FILE *out);
/** @brief Parse "error|warn|info|debug"; -1 if unknown. */
int cdc_log_level_parse(const char *s);
/** @brief Parse "text|json"; -1 if unknown. */
int cdc_log_format_parse(const char *s);
/** @brief True when @p level would be written (check before costly work). */
int cdc_log_enabled(cdc_log_level_t level);

/** @brief Log one line. Newlines in the message are escaped so that one
 *  call is always one line. */
void cdc_log(cdc_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** @brief Log one line with extra JSON fields (@p kv: "key","value" pairs,
 *  NULL-terminated) shown as key=value in text mode. */
void cdc_log_kv(cdc_log_level_t level, const char *const *kv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define cdc_log_error(...) cdc_log(CDC_LOG_ERROR, __VA_ARGS__)
#define cdc_log_warn(...)  cdc_log(CDC_LOG_WARN, __VA_ARGS__)
#define cdc_log_info(...)  cdc_log(CDC_LOG_INFO, __VA_ARGS__)
#define cdc_log_debug(...)                                                                         \
    do {                                                                                           \
        if (cdc_log_enabled(CDC_LOG_DEBUG))                                                        \
            cdc_log(CDC_LOG_DEBUG, __VA_ARGS__);                                                   \
    } while (0)

/** @brief librdkafka log_cb: set with rd_kafka_conf_set_log_cb(). Maps
 *  syslog levels to ours and prefixes "rdkafka <fac>:". */
struct rd_kafka_s;
void cdc_log_rdkafka_cb(const struct rd_kafka_s *rk, int level, const char *fac, const char *buf);

#endif
