/**
 * @file verify.h
 * @brief cdc-verify: prove that a target table equals its source table.
 *
 * Plan: both sides run `COPY (SELECT key cols, other cols ORDER BY key
 * [COLLATE "C"]) TO STDOUT` concurrently (one thread and one connection per
 * side), each row goes through the canonical row encoding (canon.h) and
 * xxh3, and a streaming merge-join on the canonical key bytes finds rows
 * missing in the target, extra in the target and different. Memory is
 * bounded by a few in-flight batches plus the retained mismatches (at most
 * max_retained). Mismatches can then be rechecked after the replication lag
 * (rows that converge are "in flight", not mismatches).
 *
 * With opts->jobs N > 1 the table is cut into N key ranges (split points
 * sampled from the source's key), each scanned and merged by its own pair
 * of threads and connections, in one snapshot per side exported for them;
 * the ranges' outcomes are joined in key order, so the result is the one
 * of a single scan.
 */
#ifndef CDC_VERIFY_H
#define CDC_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** Mismatch kinds, as stored in verify_mismatches.kind. */
typedef enum cdc_verify_kind {
    CDC_VERIFY_MISSING = 0, /**< in the source, not in the target */
    CDC_VERIFY_EXTRA,       /**< in the target, not in the source */
    CDC_VERIFY_DIFFERENT,   /**< in both, with different values */
} cdc_verify_kind_t;

/** @brief "missing", "extra" or "different" (static). */
const char *cdc_verify_kind_name(cdc_verify_kind_t kind);

/** What to verify and how. Every pointer is borrowed for the duration of
 *  cdc_verify_table(). */
typedef struct cdc_verify_opts {
    const char *source_conninfo;
    const char *target_conninfo;
    const char *table;          /**< "[schema.]table" (no quoting; default schema public) */
    const char *key;            /**< comma-separated key columns, or NULL for the PK */
    const char *const *columns; /**< only these columns (plus the key), or NULL */
    size_t ncolumns;
    const char *const *exclude; /**< never these columns */
    size_t nexclude;
    const char *where;        /**< SQL predicate applied on both sides, or NULL. It is the
                                   operator's own SQL, pasted as is: never build it from data */
    int64_t max_report;       /**< mismatch rows kept with their row JSON */
    size_t max_retained;      /**< mismatched keys kept for recheck/repair (counts stay exact) */
    int recheck;              /**< recheck rounds for mismatched rows (0: none) */
    double recheck_delay;     /**< seconds before each round; < 0: auto from the state schema */
    const char *state_schema; /**< where the lag is looked up ("cdc") */
    FILE *repair_sql;         /**< if not NULL, statements that repair the target go here */
    bool progress;            /**< progress lines on stderr */
    int jobs; /**< key ranges of the table scanned at once (<= 1: one scan per side; with
                   more, every range of a side shares one exported snapshot) */
} cdc_verify_opts_t;

/** One reported mismatch. */
typedef struct cdc_verify_mismatch {
    cdc_verify_kind_t kind;
    char *key_json;        /**< owned; {"col": value, ...} */
    char *source_row_json; /**< owned; NULL when absent in the source */
    char *target_row_json; /**< owned; NULL when absent in the target */
} cdc_verify_mismatch_t;

/** Outcome of one table. */
typedef struct cdc_verify_result {
    char *table;       /**< owned; "schema.table" */
    double started_at; /**< Unix seconds */
    double finished_at;
    int64_t source_rows, target_rows;
    int64_t missing, extra, different; /**< after recheck */
    int64_t in_flight;                 /**< mismatches that converged on recheck */
    double score; /**< 1 - mismatched / max(source, target); 1.0 if both empty */
    uint64_t source_digest, target_digest; /**< sum of row digests mod 2^64 */
    double recheck_delay_used;             /**< seconds */
    cdc_verify_mismatch_t *mismatches;     /**< owned; nmismatches <= max_report */
    size_t nmismatches;
    char **target_only_columns; /**< owned; columns only the target has (never compared): a
                                     finding unless excluded with --exclude-column */
    size_t ntarget_only_columns;
    bool target_absent; /**< the target has no such table: every source row is missing (a
                             finding, whatever the score of an empty source) */
    char *scope;        /**< owned; NULL when every row and column was compared, else what was
                             ("where ...; columns ...; excluded ...") */
} cdc_verify_result_t;

/** @brief True when @p res passes: score at or above @p threshold and
 *  nothing left uncompared (no target-only column, the table in the target). */
bool cdc_verify_result_ok(const cdc_verify_result_t *res, double threshold);

/**
 * @brief Verify one table.
 * @param result set to a new result (free with cdc_verify_result_destroy())
 *               on success.
 * @returns 0, or -1 with errstr (connection, catalog, or a value that does
 *          not parse) — the caller exits 2.
 */
int cdc_verify_table(const cdc_verify_opts_t *opts, cdc_verify_result_t **result, char *errstr,
                     size_t errstr_size);

/** @brief Free. Accepts NULL. */
void cdc_verify_result_destroy(cdc_verify_result_t *res);

/** Outcome of table @p i for cdc_verify_tables(): @p result (new, now the
 *  callee's; NULL on error) or, for @p rc -1, @p err. */
typedef void (*cdc_verify_done_fn)(void *arg, size_t i, int rc, cdc_verify_result_t *result,
                                   const char *err);

/**
 * @brief Verify @p tables (opts->table and opts->jobs are set per table)
 *        with @p jobs at once: up to @p jobs tables concurrently, each on
 *        its own connections and split into jobs / (tables at once) key
 *        ranges. @p done gets every table's outcome in the order of
 *        @p tables, on the calling thread, and opts->repair_sql gets the
 *        tables' statements in that order: the same as a serial run.
 * @returns 0, or -1 when out of memory (before any table ran).
 */
int cdc_verify_tables(const cdc_verify_opts_t *opts, const char *const *tables, size_t n, int jobs,
                      cdc_verify_done_fn done, void *arg);

/**
 * @brief Every table of the source (with or without a primary key), as new
 *        "schema.table" strings whose parts are quoted when needed (as
 *        --table takes them; caller frees each and the array), excluding
 *        system schemas and @p skip_schema; and in @p target_only (same
 *        form) the tables only the target has.
 * @returns count of @p tables, or -1 with errstr.
 */
int cdc_verify_list_tables(const char *source_conninfo, const char *target_conninfo,
                           const char *skip_schema, char ***tables, char ***target_only,
                           size_t *ntarget_only, char *errstr, size_t errstr_size);

/* ---- report.c ---- */

/** @brief Print one result as text (human) or one JSON object per line. */
void cdc_verify_report_print(const cdc_verify_result_t *res, bool json, double threshold,
                             FILE *out);

/** @brief Print a table that has no result (e.g. one only the target has)
 *  with its status and why, in the format of cdc_verify_report_print(). */
void cdc_verify_report_print_table(const char *table, const char *status, const char *what,
                                   bool json, FILE *out);

/**
 * @brief Store a run in the target's state schema (creating it if needed):
 *        verify_runs (with its scope), verify_mismatches, and table_digests
 *        (only for a run over the whole table: a slice's digest is not the
 *        table's).
 * @param status "ok", "mismatch" or "error".
 * @param error  message for status "error", else NULL.
 * @param res    may be NULL for status "error" (then @p table names it).
 * @param last_success set to the Unix time of the table's last "ok" run
 *        (this one included), or 0 when there is none.
 * @returns 0, or -1 with errstr.
 */
int cdc_verify_report_store(const char *target_conninfo, const char *schema, const char *table,
                            const cdc_verify_result_t *res, double threshold, const char *status,
                            const char *error, double *last_success, char *errstr,
                            size_t errstr_size);

/** @brief "schema.table" as results and gauges name @p arg (a --table
 *  value; "public." when it has no schema); @p arg itself when it does
 *  not parse. @returns a new string (free()), NULL when out of memory. */
char *cdc_verify_table_name(const char *arg);

/** Gauges of one table for the textfile / Pushgateway. */
typedef struct cdc_verify_gauges {
    const char *table;
    const char *status;             /**< ok, mismatch, error */
    const cdc_verify_result_t *res; /**< NULL for status error */
    double last_run;                /**< Unix seconds */
    double last_success;            /**< 0: unknown */
} cdc_verify_gauges_t;

/** @brief Append the Prometheus text exposition (HELP/TYPE once per
 *  family) of @p n tables to @p out (a cdc_buf_t *). */
struct cdc_buf;
void cdc_verify_metrics_format(const cdc_verify_gauges_t *g, size_t n, struct cdc_buf *out);

/** @brief Merge @p n tables' gauges into the textfile @p path and replace
 *  it atomically (tmp + rename, as node_exporter's textfile collector
 *  expects), under an flock on @p path.lock.
 *
 *  Tables this call does not name keep their series from the existing
 *  file; a table with status "error" and no result keeps its last score
 *  and row gauges; one whose last_success is 0 keeps the file's success
 *  time. Run time and cdc_verify_status are always this call's.
 *  @returns 0, or -1 with errstr (the file is then unchanged). */
int cdc_verify_metrics_write_textfile(const char *path, const cdc_verify_gauges_t *g, size_t n,
                                      char *errstr, size_t errstr_size);

/** @brief PUT each table's gauges to
 *  @p url/metrics/job/cdc-verify/table/<table> (libcurl); an error run
 *  POSTs, so the group keeps the table's last score and row gauges. */
int cdc_verify_metrics_push(const char *url, const cdc_verify_gauges_t *g, size_t n, char *errstr,
                            size_t errstr_size);

#endif
