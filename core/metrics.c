/*
 * Metrics registry: values and the registry (metrics_int.h lists the
 * other metrics files: exposition, process metrics).
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
#include "metrics_int.h"

#include "cdc/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- values */

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

void *cdc_metrics_table_series(cdc_metrics_t *reg, const cdc_metric_desc_t *table, size_t n,
                               size_t id, cdc_metric_type_t type, const char *const *labelvalues)
{
    if (id >= n || !table[id].name)
        return NULL;
    return lookup(reg, table[id].name, type, labelvalues, true);
}

int cdc_metrics_declare_table(cdc_metrics_t *reg, size_t n,
                              const cdc_metric_desc_t *(*get)(size_t i), char *errstr,
                              size_t errstr_size)
{
    for (size_t i = 0; i < n; i++) {
        const cdc_metric_desc_t *d = get(i);
        if (!d->name) { /* an id without its entry in the catalog's table */
            snprintf(errstr, errstr_size, "metric catalog: entry %zu has no description", i);
            return -1;
        }
        if (cdc_metrics_declare(reg, d, errstr, errstr_size) != 0)
            return -1;
    }
    return 0;
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
