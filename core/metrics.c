/*
 * Metrics registry and Prometheus text exposition (format 0.0.4).
 *
 * Layout: the registry owns a vector of families; each family owns a hash
 * table of series keyed by label values. Series are allocated one by one and
 * never moved or freed before the registry, which is what lets the apply
 * loop keep raw handles and update them without any lock.
 *
 * Values are doubles stored as their bit pattern in an _Atomic uint64_t:
 * C11 has no atomic floating-point add, and a compare-exchange loop on the
 * bits is one uncontended locked instruction on x86-64 and arm64 alike.
 */
#include "cdc/metrics.h"
#include "cdc/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct family family_t;

/* One series. The public cdc_counter_t / cdc_gauge_t / cdc_histogram_t
 * pointers are this struct under another name: the type only stops a
 * caller from observing into a counter. */
typedef struct series {
    family_t *fam;
    char **values; /* fam->n_labels copies */
    uint64_t hash;
    struct series *hnext;     /* hash chain */
    atomic_bool exported;     /* false after cdc_metrics_remove() */
    _Atomic uint64_t value;   /* double bits; the sum for histograms */
    _Atomic uint64_t *counts; /* histograms: n_buckets + 1, NOT cumulative */
} series_t;

struct family {
    char *name;
    char *help;
    cdc_metric_type_t type;
    char **labelnames;
    size_t n_labels;
    double *buckets;
    size_t n_buckets;
    series_t **table; /* hash buckets, table_size is a power of two */
    size_t table_size;
    series_t **all; /* every series in creation order, for rendering */
    size_t n_series;
    size_t cap_series;
};

typedef struct collector {
    cdc_metrics_collect_cb *fn;
    void *opaque;
} collector_t;

struct cdc_metrics {
    pthread_mutex_t mu;
    family_t **fams;
    size_t n_fams;
    size_t cap_fams;
    collector_t *collectors;
    size_t n_collectors;
    /* process_* handles, resolved once by cdc_metrics_register_process() */
    bool proc_registered;
    cdc_counter_t *proc_cpu;
    cdc_gauge_t *proc_rss, *proc_vsize, *proc_fds, *proc_max_fds, *proc_threads;
};

/* ---------------------------------------------------------------- values */

static inline double bits_to_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static inline uint64_t double_to_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static inline void atomic_add_double(_Atomic uint64_t *p, double v)
{
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
    /* On failure compare_exchange reloads old, so the loop retries with the
     * value another thread just wrote; no update is ever lost. */
    while (!atomic_compare_exchange_weak_explicit(p, &old, double_to_bits(bits_to_double(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void cdc_counter_add(cdc_counter_t *c, double n)
{
    /* A counter that goes down breaks rate(); drop the bad call instead. */
    if (!c || !(n >= 0))
        return;
    atomic_add_double(&((series_t *)c)->value, n);
}

void cdc_counter_inc(cdc_counter_t *c)
{
    cdc_counter_add(c, 1.0);
}

void cdc_counter_set(cdc_counter_t *c, double v)
{
    if (!c)
        return;
    atomic_store_explicit(&((series_t *)c)->value, double_to_bits(v), memory_order_relaxed);
}

double cdc_counter_get(const cdc_counter_t *c)
{
    if (!c)
        return 0;
    return bits_to_double(
        atomic_load_explicit(&((series_t *)(uintptr_t)c)->value, memory_order_relaxed));
}

void cdc_gauge_set(cdc_gauge_t *g, double v)
{
    if (!g)
        return;
    atomic_store_explicit(&((series_t *)g)->value, double_to_bits(v), memory_order_relaxed);
}

void cdc_gauge_add(cdc_gauge_t *g, double v)
{
    if (!g)
        return;
    atomic_add_double(&((series_t *)g)->value, v);
}

void cdc_gauge_set_to_current_time(cdc_gauge_t *g)
{
    cdc_gauge_set(g, cdc_now_wall_s());
}

double cdc_gauge_get(const cdc_gauge_t *g)
{
    return cdc_counter_get((const cdc_counter_t *)(const void *)g);
}

void cdc_histogram_observe(cdc_histogram_t *h, double v)
{
    if (!h || isnan(v))
        return;
    series_t *s = (series_t *)h;
    const family_t *fam = s->fam;
    /* Bucket lists are short (about 15 bounds), so a linear scan beats a
     * binary search on branch prediction. */
    size_t i = 0;
    while (i < fam->n_buckets && v > fam->buckets[i])
        i++;
    atomic_fetch_add_explicit(&s->counts[i], 1, memory_order_relaxed);
    atomic_add_double(&s->value, v);
}

uint64_t cdc_histogram_count(const cdc_histogram_t *h)
{
    if (!h)
        return 0;
    const series_t *s = (const series_t *)(const void *)h;
    uint64_t n = 0;
    for (size_t i = 0; i <= s->fam->n_buckets; i++)
        n += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
    return n;
}

/* -------------------------------------------------------------- registry */

static void family_free(family_t *fam)
{
    if (!fam)
        return;
    for (size_t i = 0; i < fam->n_series; i++) {
        series_t *s = fam->all[i];
        for (size_t j = 0; j < fam->n_labels; j++)
            free(s->values[j]);
        free(s->values);
        free(s->counts);
        free(s);
    }
    for (size_t j = 0; j < fam->n_labels; j++)
        free(fam->labelnames[j]);
    free(fam->labelnames);
    free(fam->buckets);
    free(fam->table);
    free(fam->all);
    free(fam->name);
    free(fam->help);
    free(fam);
}

cdc_metrics_t *cdc_metrics_new(void)
{
    cdc_metrics_t *reg = calloc(1, sizeof(*reg));
    if (!reg)
        return NULL;
    pthread_mutex_init(&reg->mu, NULL);
    return reg;
}

void cdc_metrics_destroy(cdc_metrics_t *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n_fams; i++)
        family_free(reg->fams[i]);
    free(reg->fams);
    free(reg->collectors);
    pthread_mutex_destroy(&reg->mu);
    free(reg);
}

static bool valid_metric_name(const char *s)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == ':'))
            return false;
    }
    return true;
}

static bool valid_label_name(const char *s)
{
    /* Same as a metric name without ':'; names starting with "__" are
     * reserved for Prometheus itself. */
    return valid_metric_name(s) && !strchr(s, ':') && strncmp(s, "__", 2) != 0;
}

static size_t count_list(const char *const *list)
{
    size_t n = 0;
    while (list && list[n])
        n++;
    return n;
}

static family_t *find_family(cdc_metrics_t *reg, const char *name)
{
    for (size_t i = 0; i < reg->n_fams; i++)
        if (strcmp(reg->fams[i]->name, name) == 0)
            return reg->fams[i];
    return NULL;
}

/* An identical redeclaration is fine (apply and verify catalogs share
 * families); anything else means two call sites disagree on the meaning. */
static bool same_desc(const family_t *fam, const cdc_metric_desc_t *desc)
{
    if (fam->type != desc->type || strcmp(fam->help, desc->help) != 0 ||
        fam->n_labels != count_list(desc->labelnames))
        return false;
    for (size_t i = 0; i < fam->n_labels; i++)
        if (strcmp(fam->labelnames[i], desc->labelnames[i]) != 0)
            return false;
    if (desc->type == CDC_METRIC_HISTOGRAM) {
        if (fam->n_buckets != desc->n_buckets)
            return false;
        for (size_t i = 0; i < fam->n_buckets; i++)
            if (fam->buckets[i] != desc->buckets[i])
                return false;
    }
    return true;
}

static int check_desc(const cdc_metric_desc_t *desc, char *errstr, size_t errstr_size)
{
    const char *name = desc->name;
    if (!valid_metric_name(name)) {
        snprintf(errstr, errstr_size, "metric name \"%s\" is invalid: use [a-zA-Z_:][a-zA-Z0-9_:]*",
                 name ? name : "(null)");
        return -1;
    }
    if (!desc->help || !*desc->help) {
        snprintf(errstr, errstr_size, "metric %s has no help text (promtool requires HELP)", name);
        return -1;
    }
    /* The promtool lint rules, enforced at declaration so a bad name fails
     * a unit test instead of a CI lint run later. */
    bool total = cdc_ends_with(name, "_total");
    if (desc->type == CDC_METRIC_COUNTER && !total) {
        snprintf(errstr, errstr_size, "counter %s must end in _total", name);
        return -1;
    }
    if (desc->type != CDC_METRIC_COUNTER && total) {
        snprintf(errstr, errstr_size, "%s is not a counter and must not end in _total", name);
        return -1;
    }
    if (desc->type != CDC_METRIC_COUNTER && desc->type != CDC_METRIC_GAUGE &&
        desc->type != CDC_METRIC_HISTOGRAM) {
        snprintf(errstr, errstr_size, "metric %s has an unknown type %d", name, (int)desc->type);
        return -1;
    }
    size_t n = count_list(desc->labelnames);
    for (size_t i = 0; i < n; i++) {
        const char *l = desc->labelnames[i];
        if (!valid_label_name(l) || (desc->type == CDC_METRIC_HISTOGRAM && strcmp(l, "le") == 0)) {
            snprintf(errstr, errstr_size, "metric %s: label name \"%s\" is invalid or reserved",
                     name, l);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(desc->labelnames[j], l) == 0) {
                snprintf(errstr, errstr_size, "metric %s: label \"%s\" appears twice", name, l);
                return -1;
            }
    }
    if (desc->type == CDC_METRIC_HISTOGRAM) {
        if (desc->n_buckets == 0 || !desc->buckets) {
            snprintf(errstr, errstr_size, "histogram %s needs at least one bucket", name);
            return -1;
        }
        for (size_t i = 0; i < desc->n_buckets; i++)
            if (!isfinite(desc->buckets[i]) ||
                (i > 0 && desc->buckets[i] <= desc->buckets[i - 1])) {
                snprintf(errstr, errstr_size,
                         "histogram %s: buckets must be finite and strictly increasing "
                         "(+Inf is added automatically)",
                         name);
                return -1;
            }
    }
    return 0;
}

/* Unlike cdc_xstrdup(), fallible: the registry reports OOM to its caller. */
static char *xstrdup(const char *s)
{
    return strdup(s ? s : "");
}

/* Room for one more pointer in an array of @p n used of *@p cap (doubling,
 * from @p first); -1 on OOM, the array unchanged. Fallible like the rest of
 * the registry's allocations. */
static int grow_ptrs(void ***arr, size_t n, size_t *cap, size_t first)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : first;
    void **p = realloc(*arr, ncap * sizeof(*p));
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

static series_t *series_new(family_t *fam, const char *const *values, uint64_t hash);
static uint64_t hash_values(const char *const *values, size_t n);

int cdc_metrics_declare(cdc_metrics_t *reg, const cdc_metric_desc_t *desc, char *errstr,
                        size_t errstr_size)
{
    family_t *fam = NULL;
    int rc = -1;

    if (check_desc(desc, errstr, errstr_size) != 0)
        return -1;

    pthread_mutex_lock(&reg->mu);
    family_t *old = find_family(reg, desc->name);
    if (old) {
        if (same_desc(old, desc)) {
            rc = 0;
        } else {
            snprintf(errstr, errstr_size,
                     "metric %s is already declared with a different type, help, labels or "
                     "buckets",
                     desc->name);
        }
        goto out;
    }

    fam = calloc(1, sizeof(*fam));
    if (!fam)
        goto oom;
    fam->name = xstrdup(desc->name);
    fam->help = xstrdup(desc->help);
    fam->type = desc->type;
    fam->n_labels = count_list(desc->labelnames);
    fam->labelnames = calloc(fam->n_labels + 1, sizeof(char *));
    fam->table_size = 16;
    fam->table = calloc(fam->table_size, sizeof(series_t *));
    if (!fam->name || !fam->help || !fam->labelnames || !fam->table)
        goto oom;
    for (size_t i = 0; i < fam->n_labels; i++)
        if (!(fam->labelnames[i] = xstrdup(desc->labelnames[i])))
            goto oom;
    if (desc->type == CDC_METRIC_HISTOGRAM) {
        fam->n_buckets = desc->n_buckets;
        fam->buckets = malloc(desc->n_buckets * sizeof(double));
        if (!fam->buckets)
            goto oom;
        memcpy(fam->buckets, desc->buckets, desc->n_buckets * sizeof(double));
    }
    if (grow_ptrs((void ***)&reg->fams, reg->n_fams, &reg->cap_fams, 32) != 0)
        goto oom;
    /* A family without labels has exactly one series: create it now so it
     * is exported (as 0) from the first scrape, before anything happened. */
    if (fam->n_labels == 0 && !series_new(fam, NULL, hash_values(NULL, 0)))
        goto oom;
    reg->fams[reg->n_fams++] = fam;
    fam = NULL;
    rc = 0;
    goto out;

oom:
    snprintf(errstr, errstr_size, "out of memory declaring metric %s", desc->name);
out:
    pthread_mutex_unlock(&reg->mu);
    family_free(fam);
    return rc;
}

/* FNV-1a over the values with a separator byte that cannot occur inside a
 * C string, so ("a","bc") and ("ab","c") hash apart. */
static uint64_t hash_values(const char *const *values, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0) * 1099511628211ULL;
    }
    return h;
}

static bool values_equal(const series_t *s, const char *const *values)
{
    for (size_t i = 0; i < s->fam->n_labels; i++)
        if (strcmp(s->values[i], values[i]) != 0)
            return false;
    return true;
}

static void table_insert(family_t *fam, series_t *s)
{
    size_t slot = (size_t)(s->hash & (fam->table_size - 1));
    s->hnext = fam->table[slot];
    fam->table[slot] = s;
}

/* Called with the registry lock held (or on a family not yet published). */
static series_t *series_new(family_t *fam, const char *const *values, uint64_t hash)
{
    series_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->fam = fam;
    s->hash = hash;
    s->values = calloc(fam->n_labels + 1, sizeof(char *));
    if (!s->values)
        goto fail;
    for (size_t i = 0; i < fam->n_labels; i++)
        if (!(s->values[i] = xstrdup(values[i])))
            goto fail;
    if (fam->type == CDC_METRIC_HISTOGRAM) {
        s->counts = calloc(fam->n_buckets + 1, sizeof(*s->counts));
        if (!s->counts)
            goto fail;
    }
    atomic_init(&s->value, double_to_bits(0.0));
    atomic_init(&s->exported, true);

    if (grow_ptrs((void ***)&fam->all, fam->n_series, &fam->cap_series, 8) != 0)
        goto fail;
    /* Keep chains short: double the table at load factor 1. Only the
     * table is rebuilt; the series themselves never move. */
    if (fam->n_series + 1 > fam->table_size) {
        series_t **t = calloc(fam->table_size * 2, sizeof(*t));
        if (t) {
            free(fam->table);
            fam->table = t;
            fam->table_size *= 2;
            for (size_t i = 0; i < fam->n_series; i++)
                table_insert(fam, fam->all[i]);
        }
    }
    fam->all[fam->n_series++] = s;
    table_insert(fam, s);
    return s;

fail:
    if (s->values)
        for (size_t i = 0; i < fam->n_labels; i++)
            free(s->values[i]);
    free(s->values);
    free(s->counts);
    free(s);
    return NULL;
}

static series_t *lookup(cdc_metrics_t *reg, const char *name, cdc_metric_type_t type,
                        const char *const *values, bool create)
{
    series_t *s = NULL;
    if (!reg || !name)
        return NULL;
    pthread_mutex_lock(&reg->mu);
    family_t *fam = find_family(reg, name);
    if (!fam || fam->type != type || count_list(values) != fam->n_labels)
        goto out;
    uint64_t h = hash_values(values, fam->n_labels);
    for (s = fam->table[h & (fam->table_size - 1)]; s; s = s->hnext)
        if (s->hash == h && values_equal(s, values))
            break;
    if (!s && create)
        s = series_new(fam, values, h);
    /* A lookup is the program saying "this series matters again". */
    if (s && create)
        atomic_store(&s->exported, true);
out:
    pthread_mutex_unlock(&reg->mu);
    return s;
}

cdc_counter_t *cdc_metrics_counter(cdc_metrics_t *reg, const char *name,
                                   const char *const *labelvalues)
{
    return (cdc_counter_t *)lookup(reg, name, CDC_METRIC_COUNTER, labelvalues, true);
}

cdc_gauge_t *cdc_metrics_gauge(cdc_metrics_t *reg, const char *name, const char *const *labelvalues)
{
    return (cdc_gauge_t *)lookup(reg, name, CDC_METRIC_GAUGE, labelvalues, true);
}

cdc_histogram_t *cdc_metrics_histogram(cdc_metrics_t *reg, const char *name,
                                       const char *const *labelvalues)
{
    return (cdc_histogram_t *)lookup(reg, name, CDC_METRIC_HISTOGRAM, labelvalues, true);
}

int cdc_metrics_remove(cdc_metrics_t *reg, const char *name, const char *const *labelvalues)
{
    series_t *s = NULL;
    pthread_mutex_lock(&reg->mu);
    family_t *fam = find_family(reg, name);
    pthread_mutex_unlock(&reg->mu);
    if (fam)
        s = lookup(reg, name, fam->type, labelvalues, false);
    if (!s)
        return -1;
    atomic_store(&s->exported, false);
    atomic_store(&s->value, double_to_bits(0.0));
    if (s->counts)
        for (size_t i = 0; i <= fam->n_buckets; i++)
            atomic_store(&s->counts[i], 0);
    return 0;
}

int cdc_metrics_on_collect(cdc_metrics_t *reg, cdc_metrics_collect_cb *fn, void *opaque)
{
    int rc = -1;
    pthread_mutex_lock(&reg->mu);
    collector_t *p = realloc(reg->collectors, (reg->n_collectors + 1) * sizeof(*p));
    if (p) {
        reg->collectors = p;
        p[reg->n_collectors].fn = fn;
        p[reg->n_collectors].opaque = opaque;
        reg->n_collectors++;
        rc = 0;
    }
    pthread_mutex_unlock(&reg->mu);
    return rc;
}

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
    cdc_buf_t tmp = CDC_BUF_INIT;
    int fd = -1;
    int rc = -1;

    cdc_metrics_render(reg, &text);
    /* Same directory, so rename() is atomic; the suffix does not end in
     * .prom, so node_exporter never reads the half-written file. */
    cdc_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(errstr, errstr_size,
                 "cannot create %s: %s (does the directory exist and is it "
                 "writable?)",
                 tmp.data, strerror(errno));
        goto out;
    }
    for (size_t off = 0; off < text.len;) {
        ssize_t n = write(fd, text.data + off, text.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(errstr, errstr_size, "cannot write %s: %s", tmp.data, strerror(errno));
            goto out;
        }
        off += (size_t)n;
    }
    /* fsync before rename: after a crash the file is either the old or the
     * new content, never an empty file under the final name. */
    if (fsync(fd) != 0) {
        snprintf(errstr, errstr_size, "cannot fsync %s: %s", tmp.data, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(errstr, errstr_size, "cannot close %s: %s", tmp.data, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp.data, path) != 0) {
        snprintf(errstr, errstr_size, "cannot rename %s to %s: %s", tmp.data, path,
                 strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && tmp.data)
        unlink(tmp.data);
    cdc_buf_free(&tmp);
    cdc_buf_free(&text);
    return rc;
}

/* ------------------------------------------------------ process metrics */

/* Read a small /proc file whole; returns bytes read or -1. */
static ssize_t read_proc(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

static double boot_time_seconds(void)
{
    char buf[8192];
    if (read_proc("/proc/stat", buf, sizeof(buf)) < 0)
        return 0;
    const char *p = strstr(buf, "\nbtime ");
    return p ? strtod(p + 7, NULL) : 0;
}

static void process_collect(cdc_metrics_t *reg, void *opaque)
{
    char buf[1024];
    (void)opaque;
    /* /proc/self/stat: fields after the parenthesised command name (which
     * may itself hold spaces or ')') start at field 3, the state. */
    if (read_proc("/proc/self/stat", buf, sizeof(buf)) > 0) {
        const char *p = strrchr(buf, ')');
        double f[24] = {0};
        int n = 0;
        if (p) {
            p += 2; /* skip ") " */
            while (n < 24 && *p) {
                char *end;
                f[n++] = strtod(p, &end);
                if (end == p) /* the state letter */
                    end = (char *)(uintptr_t)p + 1;
                p = end;
                while (*p == ' ')
                    p++;
            }
        }
        if (n >= 22) {
            double tck = (double)sysconf(_SC_CLK_TCK);
            double page = (double)sysconf(_SC_PAGESIZE);
            /* index = field number - 3: utime 14, stime 15, threads 20,
             * vsize 23, rss 24 (pages) */
            cdc_counter_set(reg->proc_cpu, (f[11] + f[12]) / tck);
            cdc_gauge_set(reg->proc_threads, f[17]);
            cdc_gauge_set(reg->proc_vsize, f[20]);
            cdc_gauge_set(reg->proc_rss, f[21] * page);
        }
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        double fds = 0;
        struct dirent *de;
        while ((de = readdir(d)))
            if (de->d_name[0] != '.')
                fds++;
        closedir(d);
        cdc_gauge_set(reg->proc_fds, fds - 1); /* not counting our own DIR */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        cdc_gauge_set(reg->proc_max_fds,
                      rl.rlim_cur == RLIM_INFINITY ? HUGE_VAL : (double)rl.rlim_cur);
}

static double process_start_time(void)
{
    char buf[1024];
    if (read_proc("/proc/self/stat", buf, sizeof(buf)) <= 0)
        return 0;
    const char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    /* starttime is field 22: skip the 19 fields from 3 (state) to 21. */
    p += 2;
    for (int i = 0; i < 19 && p; i++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    if (!p)
        return 0;
    return boot_time_seconds() + strtod(p, NULL) / (double)sysconf(_SC_CLK_TCK);
}

static const cdc_metric_desc_t process_descs[] = {
    {"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
     CDC_METRIC_COUNTER, NULL, NULL, 0},
    {"process_resident_memory_bytes", "Resident memory size in bytes.", CDC_METRIC_GAUGE, NULL,
     NULL, 0},
    {"process_virtual_memory_bytes", "Virtual memory size in bytes.", CDC_METRIC_GAUGE, NULL, NULL,
     0},
    {"process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
     CDC_METRIC_GAUGE, NULL, NULL, 0},
    {"process_open_fds", "Number of open file descriptors.", CDC_METRIC_GAUGE, NULL, NULL, 0},
    {"process_max_fds", "Maximum number of open file descriptors.", CDC_METRIC_GAUGE, NULL, NULL,
     0},
    {"process_threads", "Number of OS threads in the process.", CDC_METRIC_GAUGE, NULL, NULL, 0},
};

int cdc_metrics_register_process(cdc_metrics_t *reg, char *errstr, size_t errstr_size)
{
    bool first;
    for (size_t i = 0; i < sizeof(process_descs) / sizeof(process_descs[0]); i++)
        if (cdc_metrics_declare(reg, &process_descs[i], errstr, errstr_size) != 0)
            return -1;
    pthread_mutex_lock(&reg->mu);
    first = !reg->proc_registered;
    reg->proc_registered = true;
    pthread_mutex_unlock(&reg->mu);
    if (!first) /* registering twice (apply + verify catalogs) is harmless */
        return 0;
    reg->proc_cpu = cdc_metrics_counter(reg, "process_cpu_seconds_total", NULL);
    reg->proc_rss = cdc_metrics_gauge(reg, "process_resident_memory_bytes", NULL);
    reg->proc_vsize = cdc_metrics_gauge(reg, "process_virtual_memory_bytes", NULL);
    reg->proc_fds = cdc_metrics_gauge(reg, "process_open_fds", NULL);
    reg->proc_max_fds = cdc_metrics_gauge(reg, "process_max_fds", NULL);
    reg->proc_threads = cdc_metrics_gauge(reg, "process_threads", NULL);
    /* The start time never changes; compute it once. */
    cdc_gauge_set(cdc_metrics_gauge(reg, "process_start_time_seconds", NULL), process_start_time());
    if (cdc_metrics_on_collect(reg, process_collect, NULL) != 0) {
        snprintf(errstr, errstr_size, "out of memory registering the process collector");
        return -1;
    }
    return 0;
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

static void md_row(FILE *out, const cdc_metric_desc_t *d)
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
            md_row(out, d);
    }
}

void cdc_metrics_markdown_process(FILE *out)
{
    for (size_t i = 0; i < sizeof(process_descs) / sizeof(process_descs[0]); i++)
        md_row(out, &process_descs[i]);
}
