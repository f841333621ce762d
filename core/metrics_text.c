/*
 * The metrics' text forms: the Prometheus text exposition (format 0.0.4)
 * of a registry, written to a string or atomically to a textfile, and the
 * Markdown table of metric families the docs are generated from.
 */
#include "metrics_int.h"

#include "cdc/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ exposition */

/* Shortest decimal that reads back as the same double: 0.1 prints as 0.1,
 * not 0.10000000000000001, and integers print without an exponent up to
 * 1e15. */
static void put_double(cdc_buf_t *out, double v)
{
    if (isnan(v)) {
        cdc_buf_puts(out, "NaN");
        return;
    }
    if (isinf(v)) {
        cdc_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == 0) { /* also turns -0 into 0 */
        cdc_buf_putc(out, '0');
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    cdc_buf_puts(out, tmp);
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 when it is invalid. */
static size_t utf8_seq_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return (p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return (p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80) ? 4 : 0;
    }
    return 0;
}

/* Escape for HELP text (backslash, newline) or, with quote set, for a label
 * value (also the double quote). Invalid UTF-8 becomes U+FFFD because one
 * bad byte makes Prometheus reject the entire scrape, and a table name
 * from a Kafka topic is outside our control. */
static void put_escaped(cdc_buf_t *out, const char *s, bool quote)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p == '\\') {
            cdc_buf_puts(out, "\\\\");
            p++;
        } else if (*p == '\n') {
            cdc_buf_puts(out, "\\n");
            p++;
        } else if (*p == '"' && quote) {
            cdc_buf_puts(out, "\\\"");
            p++;
        } else {
            size_t n = utf8_seq_len(p);
            if (n == 0) {
                cdc_buf_puts(out, "\xEF\xBF\xBD");
                p++;
            } else {
                cdc_buf_append(out, p, n);
                p += n;
            }
        }
    }
}

/* name{a="x",b="y"[,le="0.5"]}; nothing at all when there are no labels. */
static void put_labels(cdc_buf_t *out, const series_t *s, const char *le)
{
    const family_t *fam = s->fam;
    if (fam->n_labels == 0 && !le)
        return;
    cdc_buf_putc(out, '{');
    for (size_t i = 0; i < fam->n_labels; i++) {
        if (i)
            cdc_buf_putc(out, ',');
        cdc_buf_puts(out, fam->labelnames[i]);
        cdc_buf_puts(out, "=\"");
        put_escaped(out, s->values[i], true);
        cdc_buf_putc(out, '"');
    }
    if (le) {
        if (fam->n_labels)
            cdc_buf_putc(out, ',');
        cdc_buf_puts(out, "le=\"");
        cdc_buf_puts(out, le);
        cdc_buf_putc(out, '"');
    }
    cdc_buf_putc(out, '}');
}

static void put_series(cdc_buf_t *out, const series_t *s)
{
    const family_t *fam = s->fam;
    double sum = bits_to_double(atomic_load_explicit(&s->value, memory_order_relaxed));

    if (fam->type != CDC_METRIC_HISTOGRAM) {
        cdc_buf_puts(out, fam->name);
        put_labels(out, s, NULL);
        cdc_buf_putc(out, ' ');
        put_double(out, sum);
        cdc_buf_putc(out, '\n');
        return;
    }

    /* Buckets are stored per interval and summed here. _count is that
     * same sum, so +Inf == _count holds even while other threads observe
     * during the scrape (the _sum may then be one observation ahead). */
    uint64_t cum = 0;
    cdc_buf_t le = CDC_BUF_INIT;
    for (size_t i = 0; i <= fam->n_buckets; i++) {
        cum += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
        cdc_buf_reset(&le);
        put_double(&le, i < fam->n_buckets ? fam->buckets[i] : HUGE_VAL);
        cdc_buf_printf(out, "%s_bucket", fam->name);
        put_labels(out, s, le.data);
        cdc_buf_printf(out, " %llu\n", (unsigned long long)cum);
    }
    cdc_buf_free(&le);
    cdc_buf_printf(out, "%s_sum", fam->name);
    put_labels(out, s, NULL);
    cdc_buf_putc(out, ' ');
    put_double(out, sum);
    cdc_buf_putc(out, '\n');
    cdc_buf_printf(out, "%s_count", fam->name);
    put_labels(out, s, NULL);
    cdc_buf_printf(out, " %llu\n", (unsigned long long)cum);
}

static int cmp_family(const void *a, const void *b)
{
    return strcmp((*(family_t *const *)a)->name, (*(family_t *const *)b)->name);
}

static int cmp_series(const void *a, const void *b)
{
    const series_t *x = *(series_t *const *)a, *y = *(series_t *const *)b;
    for (size_t i = 0; i < x->fam->n_labels; i++) {
        int c = strcmp(x->values[i], y->values[i]);
        if (c)
            return c;
    }
    return 0;
}

static const char *type_name(cdc_metric_type_t type)
{
    switch (type) {
    case CDC_METRIC_COUNTER: return "counter";
    case CDC_METRIC_GAUGE: return "gauge";
    case CDC_METRIC_HISTOGRAM: return "histogram";
    }
    return "untyped";
}

int cdc_metrics_render(cdc_metrics_t *reg, cdc_buf_t *out)
{
    collector_t *cbs = NULL;
    size_t n_cbs = 0;
    family_t **fams = NULL;
    series_t **list = NULL;
    size_t list_cap = 0;

    /* Callbacks run outside the lock because they look up and set series
     * themselves; copy the list so one added meanwhile cannot move it. */
    pthread_mutex_lock(&reg->mu);
    if (reg->n_collectors) {
        cbs = malloc(reg->n_collectors * sizeof(*cbs));
        if (cbs) {
            memcpy(cbs, reg->collectors, reg->n_collectors * sizeof(*cbs));
            n_cbs = reg->n_collectors;
        }
    }
    pthread_mutex_unlock(&reg->mu);
    for (size_t i = 0; i < n_cbs; i++)
        cbs[i].fn(reg, cbs[i].opaque);

    /* The lock is held for the walk so no series is added under our feet;
     * values are read atomically and updates never wait for us. Sorting
     * copies keeps the output stable whatever order things were created
     * in, which makes scrapes diffable and golden tests possible. */
    pthread_mutex_lock(&reg->mu);
    fams = malloc((reg->n_fams + 1) * sizeof(*fams));
    if (!fams)
        goto out;
    memcpy(fams, reg->fams, reg->n_fams * sizeof(*fams));
    qsort(fams, reg->n_fams, sizeof(*fams), cmp_family);
    for (size_t f = 0; f < reg->n_fams; f++) {
        const family_t *fam = fams[f];
        if (fam->n_series > list_cap) {
            series_t **p = realloc(list, fam->n_series * sizeof(*p));
            if (!p)
                goto out;
            list = p;
            list_cap = fam->n_series;
        }
        size_t n = 0;
        for (size_t i = 0; i < fam->n_series; i++)
            if (atomic_load(&fam->all[i]->exported))
                list[n++] = fam->all[i];
        if (n == 0)
            continue;
        qsort(list, n, sizeof(*list), cmp_series);
        cdc_buf_printf(out, "# HELP %s ", fam->name);
        put_escaped(out, fam->help, false);
        cdc_buf_printf(out, "\n# TYPE %s %s\n", fam->name, type_name(fam->type));
        for (size_t i = 0; i < n; i++)
            put_series(out, list[i]);
    }
out:
    pthread_mutex_unlock(&reg->mu);
    free(list);
    free(fams);
    free(cbs);
    return 0;
}

int cdc_metrics_write_textfile(cdc_metrics_t *reg, const char *path, char *errstr,
                               size_t errstr_size)
{
    cdc_buf_t text = CDC_BUF_INIT;
    cdc_metrics_render(reg, &text);
    int rc = cdc_write_file_atomic(path, text.data ? text.data : "", text.len, errstr, errstr_size);
    cdc_buf_free(&text);
    return rc;
}

/* @p s into a Markdown table cell: '|' escaped. */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s, out);
    }
}

void cdc_metrics_md_row(FILE *out, const cdc_metric_desc_t *d)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    fprintf(out, "| `%s` | %s |", d->name, types[d->type]);
    for (size_t i = 0; d->labelnames && d->labelnames[i]; i++)
        fprintf(out, "%s%s", i ? ", " : " ", d->labelnames[i]);
    fputs(" | ", out);
    md_cell(out, d->help);
    fputs(" |\n", out);
}

void cdc_metrics_markdown(FILE *out, size_t n, const cdc_metric_desc_t *(*get)(size_t i))
{
    for (size_t i = 0; i < n; i++) {
        const cdc_metric_desc_t *d = get(i);
        if (d && d->name)
            cdc_metrics_md_row(out, d);
    }
}
