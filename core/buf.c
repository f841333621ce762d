#include "cdc/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cdc_buf_reserve(cdc_buf_t *buf, size_t extra)
{
    size_t need = buf->len + extra + 1;
    if (need <= buf->cap)
        return;
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(buf->data, cap);
    if (!p) {
        /* Out of memory in a buffer append has no sensible recovery in
         * this program; failing loudly beats corrupting a batch. */
        fputs("cdc: out of memory\n", stderr);
        abort();
    }
    buf->data = p;
    buf->cap = cap;
}

void cdc_buf_append(cdc_buf_t *buf, const void *data, size_t len)
{
    cdc_buf_reserve(buf, len);
    if (len)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}

void cdc_buf_puts(cdc_buf_t *buf, const char *s)
{
    cdc_buf_append(buf, s, strlen(s));
}

void cdc_buf_putc(cdc_buf_t *buf, char c)
{
    cdc_buf_reserve(buf, 1);
    buf->data[buf->len++] = c;
    buf->data[buf->len] = '\0';
}

void cdc_buf_vprintf(cdc_buf_t *buf, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof(small)) {
        cdc_buf_append(buf, small, (size_t)n);
    } else {
        cdc_buf_reserve(buf, (size_t)n);
        vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap2);
        buf->len += (size_t)n;
    }
    va_end(ap2);
}

void cdc_buf_printf(cdc_buf_t *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cdc_buf_vprintf(buf, fmt, ap);
    va_end(ap);
}

void cdc_buf_reset(cdc_buf_t *buf)
{
    buf->len = 0;
    if (buf->data)
        buf->data[0] = '\0';
}

void cdc_buf_free(cdc_buf_t *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

char *cdc_buf_steal(cdc_buf_t *buf)
{
    char *p = buf->data;
    if (!p) {
        p = malloc(1);
        if (!p)
            abort();
        p[0] = '\0';
    }
    buf->data = NULL;
    buf->len = buf->cap = 0;
    return p;
}
