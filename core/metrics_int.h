/*
 * The metrics registry's insides, private to core/: shared by
 *   metrics.c          values and the registry (families, series, lookup)
 *   metrics_text.c     the Prometheus text exposition (0.0.4), the
 *                      textfile, the Markdown table of the docs
 *   metrics_process.c  the process_* metrics, from /proc
 */
#ifndef CDC_METRICS_INT_H
#define CDC_METRICS_INT_H

#include "cdc/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

static inline double bits_to_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

/** One Markdown table row (name, type, labels, help) for @p d. */
void cdc_metrics_md_row(FILE *out, const cdc_metric_desc_t *d);

#endif
