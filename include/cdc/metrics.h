/**
 * @file metrics.h
 * @brief Metrics registry and Prometheus text exposition (format 0.0.4).
 *
 * A registry holds metric families (name, help, type, label names, and for
 * histograms the bucket bounds), each declared once. A series of a family is
 * one set of label values; looking it up returns a handle that stays valid
 * until the registry is destroyed, so the hot path resolves its handles once
 * (per table, per op) and afterwards only does atomic updates:
 *
 * @code
 *   cdc_counter_t *c = cdc_metrics_counter(reg, "cdc_events_total",
 *                                          CDC_LABELS("public.orders", "c"));
 *   ...
 *   cdc_counter_add(c, n);   // lock-free, any thread
 * @endcode
 *
 * Thread safety: every function may be called from any thread. Declaring a
 * family and looking up a series take a registry mutex; updates through a
 * handle are lock-free atomics; rendering takes the mutex only to walk the
 * family list, never to update a value.
 *
 * Exposition: families sorted by name, series sorted by label values, HELP
 * and TYPE once per family, label values escaped (backslash, quote, newline)
 * and invalid UTF-8 replaced by U+FFFD (Prometheus rejects the whole scrape
 * on one bad byte). Families with label names but no series yet are left
 * out; families without labels always show their one series (0 at start),
 * so dashboards and absent() see them from the first scrape.
 */
#ifndef CDC_METRICS_H
#define CDC_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cdc/buf.h"

/** Opaque registry handle. */
typedef struct cdc_metrics cdc_metrics_t;
/** One series of a counter family (handle owned by the registry). */
typedef struct cdc_counter cdc_counter_t;
/** One series of a gauge family (handle owned by the registry). */
typedef struct cdc_gauge cdc_gauge_t;
/** One series of a histogram family (handle owned by the registry). */
typedef struct cdc_histogram cdc_histogram_t;

typedef enum cdc_metric_type {
    CDC_METRIC_COUNTER = 0,
    CDC_METRIC_GAUGE,
    CDC_METRIC_HISTOGRAM,
} cdc_metric_type_t;

/**
 * @brief Static description of one metric family.
 *
 * All pointers are borrowed only for the duration of cdc_metrics_declare(),
 * which copies them, so descriptions can live in a static table.
 */
typedef struct cdc_metric_desc {
    const char *name;              /**< [a-zA-Z_:][a-zA-Z0-9_:]*; counters end in _total */
    const char *help;              /**< one line; backslashes/newlines are escaped */
    cdc_metric_type_t type;        /**< counter, gauge or histogram */
    const char *const *labelnames; /**< NULL-terminated, or NULL for none */
    const double *buckets;         /**< histogram upper bounds, strictly increasing,
                                        finite; +Inf is implicit */
    size_t n_buckets;              /**< number of entries in buckets */
} cdc_metric_desc_t;

/** Build a NULL-terminated label list in place:
 *  CDC_LABELS("table", "op") for names, or values in a lookup. */
#define CDC_LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})

/** @brief New, empty registry (new; free with cdc_metrics_destroy()).
 *  Returns NULL only when out of memory. */
cdc_metrics_t *cdc_metrics_new(void);

/** @brief Free the registry and every handle it gave out. NULL is a no-op.
 *  No other thread may use the registry or its handles any more. */
void cdc_metrics_destroy(cdc_metrics_t *reg);

/**
 * @brief Declare a metric family.
 *
 * Declaring the same family again with an identical description is a no-op
 * (so two catalogs may share an entry);
 * a different description under the same name is an error.
 *
 * @param desc borrowed; copied.
 * @returns 0, or -1 with errstr set (invalid name, label name, buckets,
 *          counter without _total, conflicting redeclaration).
 */
int cdc_metrics_declare(cdc_metrics_t *reg, const cdc_metric_desc_t *desc, char *errstr,
                        size_t errstr_size);

/**
 * @brief Find or create the counter series with these label values.
 *
 * @param labelvalues borrowed; NULL-terminated, one value per label name of
 *        the family (NULL or CDC_LABELS() for a family without labels).
 *        Values are copied; any bytes are allowed.
 * @returns a handle (borrowed, valid until cdc_metrics_destroy()), or NULL
 *          when the family is not declared, is not a counter, or the number
 *          of values is wrong. Those are programming errors the unit tests
 *          catch; every update function accepts NULL and does nothing, so a
 *          mistake never crashes the apply loop.
 */
cdc_counter_t *cdc_metrics_counter(cdc_metrics_t *reg, const char *name,
                                   const char *const *labelvalues);
/** @brief Gauge form of cdc_metrics_counter(). */
cdc_gauge_t *cdc_metrics_gauge(cdc_metrics_t *reg, const char *name,
                               const char *const *labelvalues);
/** @brief Histogram form of cdc_metrics_counter(). */
cdc_histogram_t *cdc_metrics_histogram(cdc_metrics_t *reg, const char *name,
                                       const char *const *labelvalues);

/**
 * @brief The series of entry @p id of a program's catalog table (@p n
 *        descriptions indexed by id), looked up as cdc_metrics_counter()
 *        and its gauge and histogram forms do, as a @p type family.
 * @returns a cdc_counter_t, cdc_gauge_t or cdc_histogram_t handle as
 *          @p type says (borrowed), or NULL: @p id out of range, without
 *          its entry, or as cdc_metrics_counter().
 */
void *cdc_metrics_table_series(cdc_metrics_t *reg, const cdc_metric_desc_t *table, size_t n,
                               size_t id, cdc_metric_type_t type, const char *const *labelvalues);

/**
 * @brief Declare the @p n descriptions of a program's catalog, from @p get
 *        (an index function such as cdc_metrics_markdown() takes).
 * @returns 0, or -1 with errstr (an entry without its description, or
 *          cdc_metrics_declare()'s error).
 */
int cdc_metrics_declare_table(cdc_metrics_t *reg, size_t n,
                              const cdc_metric_desc_t *(*get)(size_t i), char *errstr,
                              size_t errstr_size);

/**
 * @brief Stop exporting one series (e.g. consumer lag of a partition that
 *        was revoked), and reset its value.
 *
 * The handle stays valid (handles are never freed before the registry);
 * updates through it still work but are not exported until the series is
 * looked up again. Returns 0, or -1 when no such series exists.
 */
int cdc_metrics_remove(cdc_metrics_t *reg, const char *name, const char *const *labelvalues);

/** @brief Add @p n to a counter (lock-free). */
void cdc_counter_add(cdc_counter_t *c, double n);
/** @brief Add 1 to a counter. */
void cdc_counter_inc(cdc_counter_t *c);
/**
 * @brief Overwrite a counter with a total kept elsewhere (the kernel's CPU
 *        time, librdkafka's rebalance count). The caller guarantees the
 *        value never goes down and does not mix this with cdc_counter_add().
 */
void cdc_counter_set(cdc_counter_t *c, double v);
/** @brief Current value (0 for NULL). */
double cdc_counter_get(const cdc_counter_t *c);

/** @brief Set a gauge. */
void cdc_gauge_set(cdc_gauge_t *g, double v);
/** @brief Add @p v (may be negative) to a gauge (lock-free). */
void cdc_gauge_add(cdc_gauge_t *g, double v);
/** @brief Set a gauge to the current Unix time in seconds (with fraction). */
void cdc_gauge_set_to_current_time(cdc_gauge_t *g);
/** @brief Current value (0 for NULL). */
double cdc_gauge_get(const cdc_gauge_t *g);

/** @brief Record one observation (lock-free; NaN is ignored). */
void cdc_histogram_observe(cdc_histogram_t *h, double v);
/** @brief Number of observations so far (0 for NULL). */
uint64_t cdc_histogram_count(const cdc_histogram_t *h);

/**
 * @brief Callback run before every exposition, to refresh gauges that are
 *        computed on demand (replication lag = now - last applied source
 *        time, consumer lag from librdkafka statistics).
 *
 * It runs on the thread that renders (the HTTP server's thread for a
 * scrape), outside the registry lock, so it may look up and update series;
 * it must be safe against the program's other threads.
 */
typedef void(cdc_metrics_collect_cb)(cdc_metrics_t *reg, void *opaque);

/** @brief Add a collect callback; callbacks run in the order added.
 *  @param opaque borrowed; must outlive the registry or the program's last
 *  render. Returns 0, or -1 when out of memory. */
int cdc_metrics_on_collect(cdc_metrics_t *reg, cdc_metrics_collect_cb *fn, void *opaque);

/**
 * @brief Declare the standard process_* families and refresh them from
 *        /proc at every exposition: process_cpu_seconds_total,
 *        process_resident_memory_bytes, process_virtual_memory_bytes,
 *        process_start_time_seconds, process_open_fds, process_max_fds,
 *        process_threads.
 * @returns 0, or -1 with errstr set.
 */
int cdc_metrics_register_process(cdc_metrics_t *reg, char *errstr, size_t errstr_size);

/**
 * @brief Run the collect callbacks, then append the exposition (text
 *        format 0.0.4) to @p out (borrowed).
 * @returns 0 (the int leaves room for a failing collector later).
 */
int cdc_metrics_render(cdc_metrics_t *reg, cdc_buf_t *out);

/**
 * @brief Write the exposition to @p path for node_exporter's textfile
 *        collector: written to a temporary file in the same directory,
 *        fsync'd and renamed over @p path, so the collector never reads a
 *        half-written file. The collector only reads names ending in .prom.
 * @returns 0, or -1 with errstr naming the file and the cause.
 */
int cdc_metrics_write_textfile(cdc_metrics_t *reg, const char *path, char *errstr,
                               size_t errstr_size);

/**
 * @brief Write one README table row (Markdown: metric, type, labels,
 *        meaning) per description: @p n descriptions from @p get (an index
 *        function such as a program catalog's), in order. The meaning is
 *        the HELP text, so README says what a scrape says.
 */
void cdc_metrics_markdown(FILE *out, size_t n, const cdc_metric_desc_t *(*get)(size_t i));

/** @brief The process_* rows of cdc_metrics_register_process(), the same way. */
void cdc_metrics_markdown_process(FILE *out);

/* Each program's families are declared from its own catalog table
 * (consumer/apply_metrics_catalog.c, verify/verify_metrics_catalog.c), which looks series up
 * by ids the compiler checks; this header is the registry they share. */

#endif
