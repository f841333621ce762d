/* The small helpers of include/cdc/util.h, written once. */
#include "cdc/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct timespec clock_now(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts;
}

int64_t cdc_now_mono_ms(void)
{
    struct timespec ts = clock_now(CLOCK_MONOTONIC);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cdc_now_mono_us(void)
{
    struct timespec ts = clock_now(CLOCK_MONOTONIC);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t cdc_now_wall_ms(void)
{
    struct timespec ts = clock_now(CLOCK_REALTIME);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double cdc_now_wall_s(void)
{
    struct timespec ts = clock_now(CLOCK_REALTIME);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *cdc_xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        abort();
    return p;
}

void *cdc_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        abort();
    return p;
}

void *cdc_xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        abort();
    return q;
}

bool cdc_ends_with(const char *s, const char *suffix)
{
    if (!s)
        return false;
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

void cdc_base64_append(cdc_buf_t *out, const void *data, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        cdc_buf_append(out, q, 4);
    }
}

void cdc_avro_long_append(cdc_buf_t *out, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z >= 0x80) {
        cdc_buf_putc(out, (char)(z | 0x80));
        z >>= 7;
    }
    cdc_buf_putc(out, (char)z);
}

int cdc_write_file_atomic(const char *path, const char *data, size_t len, char *errstr,
                          size_t errstr_size)
{
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = -1;
    cdc_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(errstr, errstr_size,
                 "cannot create %s: %s (does the directory exist and is it writable?)", tmp.data,
                 strerror(errno));
        goto out;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(errstr, errstr_size, "cannot write %s: %s", tmp.data, strerror(errno));
            goto out;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        snprintf(errstr, errstr_size, "cannot fsync %s: %s", tmp.data, strerror(errno));
        goto out;
    }
    int cr = close(fd);
    fd = -1;
    if (cr != 0) {
        snprintf(errstr, errstr_size, "cannot close %s: %s", tmp.data, strerror(errno));
        goto out;
    }
    if (rename(tmp.data, path) != 0) {
        snprintf(errstr, errstr_size, "cannot rename %s to %s: %s", tmp.data, path,
                 strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp.data);
    cdc_buf_free(&tmp);
    return rc;
}
