/*
 * cdc-verify's gauges: the registry of a run's results, its Prometheus
 * text, the node_exporter textfile (merged with the other tables' series
 * already in it) and the Pushgateway.
 */
#include "verify_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cdc/metrics.h"
#include "cdc/redact.h"
#include "cdc/util.h"
#include "verify_metrics_catalog.h"

/* cdc_verify_status: 0 ok, 1 mismatch, 2 error. */
static double status_value(const char *status)
{
    return strcmp(status, "ok") == 0 ? 0 : strcmp(status, "mismatch") == 0 ? 1 : 2;
}

char *cdc_verify_table_name(const char *arg)
{
    char *schema = NULL, *table = NULL, e[256];
    if (vtable_split(arg, &schema, &table, e, sizeof e) != 0)
        return strdup(arg);
    size_t n = strlen(schema) + strlen(table) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s.%s", schema, table);
    free(schema);
    free(table);
    return s;
}

/* The gauges go through a metrics registry declared from the program's
 * catalog (verify/verify_metrics_catalog.c): one list of names, help texts and
 * labels for cdc-verify, the dashboard test and the docs. */
static cdc_metrics_t *gauges_registry(const cdc_verify_gauges_t *g, size_t n)
{
    char err[CDC_ERRSTR_SIZE];
    cdc_metrics_t *reg = cdc_metrics_new();
    if (!reg || cdc_verify_catalog_declare(reg, err, sizeof(err)) != 0) {
        cdc_metrics_destroy(reg);
        return NULL;
    }
    static const char *const kinds[] = {"missing", "extra", "different"};
    for (size_t i = 0; i < n; i++) {
        const cdc_verify_result_t *r = g[i].res;
        const char *t = g[i].table;
        cdc_gauge_set(cdc_verify_gauge(reg, CDC_MV_LAST_RUN_TS, CDC_LABELS(t, g[i].status)),
                      g[i].last_run);
        cdc_gauge_set(cdc_verify_gauge(reg, CDC_MV_STATUS, CDC_LABELS(t)),
                      status_value(g[i].status));
        if (g[i].last_success > 0)
            cdc_gauge_set(cdc_verify_gauge(reg, CDC_MV_LAST_SUCCESS_TS, CDC_LABELS(t)),
                          g[i].last_success);
        if (!r)
            continue;
        cdc_gauge_set(cdc_verify_gauge(reg, CDC_MV_CONSISTENCY_SCORE, CDC_LABELS(t)), r->score);
        uint64_t per_kind[3] = {r->missing, r->extra, r->different};
        for (int k = 0; k < 3; k++)
            cdc_gauge_set(cdc_verify_gauge(reg, CDC_MV_MISMATCHED_ROWS, CDC_LABELS(t, kinds[k])),
                          (double)per_kind[k]);
        cdc_gauge_set(cdc_verify_gauge(reg, CDC_MV_IN_FLIGHT_ROWS, CDC_LABELS(t)),
                      (double)r->in_flight);
        cdc_gauge_set(cdc_verify_gauge(reg, CDC_MV_ROWS, CDC_LABELS(t, "source")),
                      (double)r->source_rows);
        cdc_gauge_set(cdc_verify_gauge(reg, CDC_MV_ROWS, CDC_LABELS(t, "target")),
                      (double)r->target_rows);
        cdc_gauge_set(cdc_verify_gauge(reg, CDC_MV_DURATION, CDC_LABELS(t)),
                      r->finished_at - r->started_at);
    }
    return reg;
}

void cdc_verify_metrics_format(const cdc_verify_gauges_t *g, size_t n, cdc_buf_t *out)
{
    cdc_metrics_t *reg = gauges_registry(g, n);
    if (reg)
        cdc_metrics_render(reg, out);
    cdc_metrics_destroy(reg);
}

/* Families a run writes from its result; an error run has none and keeps
 * the table's previous values of these. */
static const cdc_verify_gauge_id_t result_families[] = {
    CDC_MV_CONSISTENCY_SCORE, CDC_MV_MISMATCHED_ROWS, CDC_MV_IN_FLIGHT_ROWS, CDC_MV_ROWS,
    CDC_MV_DURATION};

static bool is_result_family(const char *name)
{
    for (size_t i = 0; i < sizeof result_families / sizeof result_families[0]; i++)
        if (strcmp(name, cdc_verify_catalog_get(result_families[i])->name) == 0)
            return true;
    return false;
}

#define MAX_SAMPLE_LABELS 8

/* One sample line of a textfile: name{l="v",...} value. Label values are
 * unescaped into their own strings (owned by the caller, free_sample()).
 * Returns 0, or -1 for a line that is not a sample this parser reads. */
typedef struct old_sample {
    char *name;
    char *lname[MAX_SAMPLE_LABELS];
    char *lval[MAX_SAMPLE_LABELS];
    size_t nl;
    double value;
} old_sample_t;

static void free_sample(old_sample_t *s)
{
    free(s->name);
    for (size_t i = 0; i < MAX_SAMPLE_LABELS; i++) {
        free(s->lname[i]);
        free(s->lval[i]);
    }
    memset(s, 0, sizeof *s);
}

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

static int parse_sample(const char *p, old_sample_t *s)
{
    memset(s, 0, sizeof *s);
    const char *b = p;
    while (name_char(*p, p == b))
        p++;
    if (p == b)
        return -1;
    s->name = strndup(b, (size_t)(p - b));
    if (*p == '{') {
        p++;
        while (*p != '}') {
            if (s->nl == MAX_SAMPLE_LABELS)
                goto bad;
            b = p;
            while (name_char(*p, p == b))
                p++;
            if (p == b || p[0] != '=' || p[1] != '"')
                goto bad;
            s->lname[s->nl] = strndup(b, (size_t)(p - b));
            p += 2;
            cdc_buf_t v = CDC_BUF_INIT;
            for (; *p && *p != '"'; p++) {
                if (*p == '\\') {
                    p++;
                    if (*p == 'n')
                        cdc_buf_putc(&v, '\n');
                    else if (*p == '\\' || *p == '"')
                        cdc_buf_putc(&v, *p);
                    else {
                        cdc_buf_free(&v);
                        goto bad;
                    }
                } else {
                    cdc_buf_putc(&v, *p);
                }
            }
            s->lval[s->nl++] = cdc_buf_steal(&v);
            if (*p != '"')
                goto bad;
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                goto bad;
        }
        p++;
    }
    if (*p != ' ')
        goto bad;
    char *end = NULL;
    s->value = strtod(p + 1, &end);
    if (end == p + 1)
        goto bad;
    return 0;
bad:
    free_sample(s);
    return -1;
}

/* The catalog's description of a cdc-verify family, or NULL. */
static const cdc_metric_desc_t *verify_desc(const char *name)
{
    if (strncmp(name, "cdc_verify_", 11) != 0)
        return NULL;
    const cdc_metric_desc_t *d = cdc_verify_catalog_find(name);
    return d && d->type == CDC_METRIC_GAUGE ? d : NULL;
}

/* Carry one series of the existing textfile into @p reg unless this run
 * replaces it: a table this run did not verify keeps all its series; a
 * table it verified keeps only what the run could not say (an error run:
 * its last score and row counts; a run that knows no success time: the
 * one in the file). Its run timestamp and status are always this run's. */
static void merge_old_sample(cdc_metrics_t *reg, const cdc_verify_gauges_t *g, size_t n,
                             const old_sample_t *s)
{
    const cdc_metric_desc_t *d = verify_desc(s->name);
    if (!d)
        return; /* not a family this version writes */
    const char *vals[MAX_SAMPLE_LABELS + 1];
    size_t nd = 0;
    for (; d->labelnames && d->labelnames[nd]; nd++) {
        if (nd == MAX_SAMPLE_LABELS)
            return;
        vals[nd] = NULL;
        for (size_t k = 0; k < s->nl; k++)
            if (strcmp(s->lname[k], d->labelnames[nd]) == 0)
                vals[nd] = s->lval[k];
        if (!vals[nd])
            return;
    }
    vals[nd] = NULL;
    if (nd != s->nl)
        return;
    const char *table = NULL;
    for (size_t k = 0; k < s->nl; k++)
        if (strcmp(s->lname[k], "table") == 0)
            table = s->lval[k];
    if (!table)
        return;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(g[i].table, table) != 0)
            continue;
        bool keep = (!g[i].res && strcmp(g[i].status, "error") == 0 && is_result_family(s->name)) ||
                    (g[i].last_success <= 0 &&
                     strcmp(s->name, "cdc_verify_last_success_timestamp_seconds") == 0);
        if (!keep)
            return;
    }
    cdc_gauge_set(cdc_metrics_gauge(reg, s->name, vals), s->value);
}

/* Read @p path (absent: nothing to merge) and merge its series into @p reg. */
static int merge_textfile(cdc_metrics_t *reg, const char *path, const cdc_verify_gauges_t *g,
                          size_t n, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(errstr, errstr_size,
                 "cannot read %s to keep the other tables' gauges: %s (make it readable by "
                 "cdc-verify)",
                 path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        old_sample_t s;
        if (line[0] == '#' || parse_sample(line, &s) != 0)
            continue;
        merge_old_sample(reg, g, n, &s);
        free_sample(&s);
    }
    int rc = ferror(f) ? -1 : 0;
    if (rc)
        snprintf(errstr, errstr_size, "cannot read %s: %s", path, strerror(errno));
    free(line);
    fclose(f);
    return rc;
}

int cdc_verify_metrics_write_textfile(const char *path, const cdc_verify_gauges_t *g, size_t n,
                                      char *errstr, size_t errstr_size)
{
    cdc_metrics_t *reg = NULL;
    cdc_buf_t lock = CDC_BUF_INIT, text = CDC_BUF_INIT;
    int lfd = -1, rc = -1;

    /* Read, merge and rename under an exclusive lock on PATH.lock, so two
     * runs for different tables cannot both start from the same old file
     * and lose one table. The lock file stays (removing it would let a
     * third run lock a new inode); node_exporter reads only *.prom. */
    cdc_buf_printf(&lock, "%s.lock", path);
    lfd = open(lock.data, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0) {
        snprintf(errstr, errstr_size,
                 "cannot create the lock file %s: %s (does the directory exist and is it "
                 "writable?)",
                 lock.data, strerror(errno));
        goto out;
    }
    while (flock(lfd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            snprintf(errstr, errstr_size, "cannot lock %s: %s", lock.data, strerror(errno));
            goto out;
        }
    }
    reg = gauges_registry(g, n);
    if (!reg) {
        snprintf(errstr, errstr_size, "cannot build the verify gauges (out of memory?)");
        goto out;
    }
    if (merge_textfile(reg, path, g, n, errstr, errstr_size))
        goto out;
    cdc_metrics_render(reg, &text);
    if (cdc_write_file_atomic(path, text.data ? text.data : "", text.len, errstr, errstr_size))
        goto out;
    rc = 0;
out:
    if (lfd >= 0)
        close(lfd); /* releases the lock */
    cdc_metrics_destroy(reg);
    cdc_buf_free(&lock);
    cdc_buf_free(&text);
    return rc;
}

int cdc_verify_metrics_push(const char *url, const cdc_verify_gauges_t *g, size_t n, char *errstr,
                            size_t errstr_size)
{
    int rc = 0;
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(errstr, errstr_size, "cannot initialise libcurl");
        return -1;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        cdc_buf_t body = CDC_BUF_INIT, u = CDC_BUF_INIT;
        cdc_verify_metrics_format(&g[i], 1, &body);
        char *esc = curl_easy_escape(curl, g[i].table, 0);
        size_t ul = strlen(url);
        cdc_buf_printf(&u, "%.*s/metrics/job/cdc-verify/table/%s",
                       (int)(ul && url[ul - 1] == '/' ? ul - 1 : ul), url, esc ? esc : "");
        curl_free(esc);
        struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: text/plain; version=0.0.4");
        curl_easy_reset(curl);
        curl_easy_setopt(curl, CURLOPT_URL, u.data);
        /* PUT replaces the table's group; an error run POSTs, which replaces
         * only the families it sends (run time, status) and keeps the last
         * score and row counts, as the textfile does. */
        bool keep = !g[i].res && strcmp(g[i].status, "error") == 0;
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, keep ? "POST" : "PUT");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data ? body.data : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body.len);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
        CURLcode cc = curl_easy_perform(curl);
        long code = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        if (cc != CURLE_OK) {
            snprintf(errstr, errstr_size, "pushing to %s: %s (is the Pushgateway up?)", u.data,
                     curl_easy_strerror(cc));
            rc = -1;
        } else if (code / 100 != 2) {
            snprintf(errstr, errstr_size, "Pushgateway %s answered HTTP %ld", u.data, code);
            rc = -1;
        }
        curl_slist_free_all(hdr);
        cdc_buf_free(&body);
        cdc_buf_free(&u);
    }
    curl_easy_cleanup(curl);
    if (rc)
        cdc_redact_errstr(errstr, errstr_size); /* u.data may hold http://user:pw@ */
    return rc;
}
