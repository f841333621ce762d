#include "th.h"

#include "cdc/buf.h"
#include "cdc/util.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int th_failures;

int64_t th_now_ms(void)
{
    return cdc_now_mono_ms();
}

const char *th_unique(const char *prefix)
{
    static char slots[8][128];
    static unsigned n;
    char *s = slots[n % 8];
    snprintf(s, sizeof(slots[0]), "%s_%ld_%u", prefix, (long)getpid(), n);
    n++;
    return s;
}

bool th_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
    int64_t deadline = th_now_ms() + timeout_ms;
    for (;;) {
        if (cond(arg))
            return true;
        if (th_now_ms() >= deadline)
            return false;
        poll(NULL, 0, 20);
    }
}

const char *th_build_root(void)
{
    const char *p = getenv("CDC_BUILD_ROOT");
    return p ? p : ".";
}

const char *th_source_root(void)
{
    const char *p = getenv("CDC_SOURCE_ROOT");
    return p ? p : "..";
}

char *th_slurp(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *s = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    if (!s)
        abort();
    if (n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n)
        s[0] = '\0';
    return s;
}

char *th_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    cdc_buf_t b = CDC_BUF_INIT;
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        cdc_buf_append(&b, tmp, n);
    fclose(f);
    if (len)
        *len = b.len;
    return cdc_buf_steal(&b);
}

int th_count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

char *th_read_text(const char *path)
{
    char *s = th_read_file(path, NULL);
    return s ? s : strdup("");
}
