/* The process-wide logger. One of the two globals the style allows: every
 * module may log through it without a handle, and main sets it up once. */
#include "cdc/log.h"

#include "cdc/buf.h"
#include "cdc/redact.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static struct {
    const char *prog;
    cdc_log_level_t level;
    cdc_log_format_t format;
    FILE *out;
    pthread_mutex_t lock;
} g_log = {"cdc", CDC_LOG_INFO, CDC_LOG_TEXT, NULL, PTHREAD_MUTEX_INITIALIZER};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void cdc_log_init(const char *prog, cdc_log_level_t level, cdc_log_format_t format, FILE *out)
{
    g_log.prog = prog;
    g_log.level = level;
    g_log.format = format;
    g_log.out = out;
}

int cdc_log_level_parse(const char *s)
{
    for (int i = 0; i <= CDC_LOG_DEBUG; i++)
        if (s && !strcmp(s, level_names[i]))
            return i;
    return -1;
}

int cdc_log_format_parse(const char *s)
{
    if (s && !strcmp(s, "text"))
        return CDC_LOG_TEXT;
    if (s && !strcmp(s, "json"))
        return CDC_LOG_JSON;
    return -1;
}

int cdc_log_enabled(cdc_log_level_t level)
{
    return level <= g_log.level;
}

/* JSON string escaping; also used for text mode so that a message can
 * never span lines (a newline inside a value would break log shippers). */
static void put_escaped(cdc_buf_t *b, const char *s, bool json)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '\n': cdc_buf_puts(b, "\\n"); break;
        case '\r': cdc_buf_puts(b, "\\r"); break;
        case '\t': cdc_buf_puts(b, "\\t"); break;
        case '"': cdc_buf_puts(b, json ? "\\\"" : "\""); break;
        case '\\': cdc_buf_puts(b, json ? "\\\\" : "\\"); break;
        default:
            if (*p < 0x20)
                cdc_buf_printf(b, "\\u%04x", *p);
            else
                cdc_buf_putc(b, (char)*p);
        }
    }
}

static void vlog(cdc_log_level_t level, const char *const *kv, const char *fmt, va_list ap)
{
    if (!cdc_log_enabled(level))
        return;
    cdc_buf_t raw = CDC_BUF_INIT, msg = CDC_BUF_INIT, line = CDC_BUF_INIT, val = CDC_BUF_INIT;
    cdc_buf_vprintf(&raw, fmt, ap);
    /* The last line of defence: whatever a caller formatted (a libpq or
     * curl message, a URL, a librdkafka log), no secret leaves here. */
    cdc_redact_text(raw.data ? raw.data : "", &msg);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[64];
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));

    if (g_log.format == CDC_LOG_JSON) {
        cdc_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"prog\":\"", ts,
                       level_names[level]);
        put_escaped(&line, g_log.prog, true);
        cdc_buf_puts(&line, "\",\"msg\":\"");
        put_escaped(&line, msg.data ? msg.data : "", true);
        cdc_buf_putc(&line, '"');
        for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
            cdc_buf_puts(&line, ",\"");
            put_escaped(&line, kv[i], true);
            cdc_buf_puts(&line, "\":\"");
            cdc_buf_reset(&val);
            cdc_redact_text(kv[i + 1], &val);
            put_escaped(&line, val.data, true);
            cdc_buf_putc(&line, '"');
        }
        cdc_buf_puts(&line, "}\n");
    } else {
        char lv[8];
        size_t i = 0;
        for (; level_names[level][i] && i < sizeof(lv) - 1; i++)
            lv[i] = (char)(level_names[level][i] - 32);
        lv[i] = '\0';
        cdc_buf_printf(&line, "%s %-5s %s: ", ts, lv, g_log.prog);
        put_escaped(&line, msg.data ? msg.data : "", false);
        for (size_t j = 0; kv && kv[j] && kv[j + 1]; j += 2) {
            cdc_buf_printf(&line, " %s=", kv[j]);
            cdc_buf_reset(&val);
            cdc_redact_text(kv[j + 1], &val);
            put_escaped(&line, val.data, false);
        }
        cdc_buf_putc(&line, '\n');
    }
    FILE *out = g_log.out ? g_log.out : stderr;
    pthread_mutex_lock(&g_log.lock);
    fwrite(line.data, 1, line.len, out);
    fflush(out);
    pthread_mutex_unlock(&g_log.lock);
    cdc_buf_free(&raw);
    cdc_buf_free(&msg);
    cdc_buf_free(&val);
    cdc_buf_free(&line);
}

void cdc_log(cdc_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, NULL, fmt, ap);
    va_end(ap);
}

void cdc_log_kv(cdc_log_level_t level, const char *const *kv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, kv, fmt, ap);
    va_end(ap);
}

void cdc_log_rdkafka_cb(const struct rd_kafka_s *rk, int level, const char *fac, const char *buf)
{
    /* syslog levels: 0-3 error, 4 warning, 5-6 notice/info, 7 debug */
    cdc_log_level_t l = level <= 3   ? CDC_LOG_ERROR
                        : level == 4 ? CDC_LOG_WARN
                        : level <= 6 ? CDC_LOG_INFO
                                     : CDC_LOG_DEBUG;
    (void)rk;
    if (cdc_log_enabled(l))
        cdc_log(l, "rdkafka %s: %s", fac, buf);
}
