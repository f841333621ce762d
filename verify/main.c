/*
 * cdc-verify: thin main over verify.h. Decides exit codes and logging; the
 * library never prints.
 *
 * Exit codes: 0 every table at or above --threshold, 1 some table below it,
 * 2 usage, configuration, connection or catalog errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cdc/buf.h"
#include "cdc/config.h"
#include "cdc/log.h"
#include "cdc/util.h"
#include "verify.h"
#include "verify_metrics_catalog.h"

static const cdc_opt_def_t verify_opts[] = {
    {"source", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_REQUIRED | CDC_OPT_CONNINFO,
     "CONNINFO", "source database (libpq conninfo or URI)"},
    {"target", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_REQUIRED | CDC_OPT_CONNINFO,
     "CONNINFO", "target database; also holds the state schema"},
    {"table", 't', CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_MULTI, "[SCHEMA.]TABLE",
     "table to verify (repeatable)"},
    {"all-tables", 0, CDC_OPT_BOOL, "false", 0, -1, NULL, 0, NULL,
     "verify every source table (one without a primary key is an error: verify it with --table "
     "and --key) and name the tables only the target has"},
    {"key", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, 0, "COL[,COL...]",
     "columns identifying a row (default: the primary key; needed without one)"},
    {"column", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_MULTI, "COL",
     "compare only this column (repeatable; key columns are always compared)"},
    {"exclude-column", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_MULTI, "COL",
     "do not compare this column, of either side (repeatable; not a key column)"},
    {"where", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, 0, "SQL",
     "compare only rows matching this predicate on both sides (your own SQL, pasted as is; the "
     "table is aliased _cdc_t)"},
    {"threshold", 0, CDC_OPT_DOUBLE, "1.0", 0, 1, NULL, 0, "SCORE",
     "exit 1 when a table's consistency score is below this"},
    {"max-report", 0, CDC_OPT_INT, "100", 0, 1000000, NULL, 0, "N",
     "mismatched rows listed and stored per table (counts stay exact)"},
    {"max-retained", 0, CDC_OPT_INT, "100000", 1, 100000000, NULL, 0, "N",
     "mismatched keys kept in memory for recheck and repair (--repair-sql past it scans again "
     "for the rest)"},
    {"recheck", 0, CDC_OPT_INT, "0", 0, 100, NULL, 0, "N",
     "recheck mismatched rows up to N times after the replication lag"},
    {"recheck-delay", 0, CDC_OPT_STRING, "auto", 0, -1, NULL, 0, "auto|SECONDS",
     "wait before each recheck; auto: the lag known from the state schema, else 5 s"},
    {"state-schema", 0, CDC_OPT_STRING, "cdc", 0, -1, NULL, 0, "SCHEMA",
     "state schema in the target database"},
    {"store", 0, CDC_OPT_BOOL, "true", 0, -1, NULL, 0, NULL,
     "store runs in the state schema (--store=false for a read-only target)"},
    {"output", 'o', CDC_OPT_ENUM, "text", 0, -1, "text|json", 0, "FORMAT", "result format"},
    {"textfile", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, 0, "PATH",
     "merge this run's gauges into this node_exporter textfile (other tables kept; atomically)"},
    {"pushgateway", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_CONNINFO, "URL",
     "push gauges to this Prometheus Pushgateway"},
    {"repair-sql", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, 0, "FILE",
     "write statements that make the target equal the source for every mismatched row (whole "
     "source rows for inserts)"},
    {"jobs", 'j', CDC_OPT_INT, "1", 1, 64, NULL, 0, "N",
     "verify up to N tables at once, and split a table into N / (tables at once) key ranges "
     "scanned at once (each with its own connections; same results as --jobs 1)"},
    {"progress", 0, CDC_OPT_ENUM, "auto", 0, -1, "auto|always|never", 0, "WHEN",
     "progress on stderr (auto: when stderr is a terminal)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL, NULL},
};

typedef struct table_ctx {
    char **tables;
    cdc_verify_result_t **results;
    char **names;
    cdc_verify_gauges_t *gauges;
    const char *target, *schema;
    double threshold;
    bool json, store;
    bool any_error, any_below;
} table_ctx_t;

/* One table's outcome: printed, logged, stored, its gauges set. */
static void table_done(void *arg, size_t i, int rc, cdc_verify_result_t *result, const char *why)
{
    table_ctx_t *c = arg;
    char **tables = c->tables, **names = c->names;
    cdc_verify_result_t **results = c->results;
    cdc_verify_gauges_t *gauges = c->gauges;
    const char *target = c->target, *schema = c->schema;
    double threshold = c->threshold;
    bool json = c->json, store = c->store;
    char err[CDC_ERRSTR_SIZE];
    snprintf(err, sizeof err, "%s", why ? why : "");
    results[i] = result;
    const char *status;
    if (rc) {
        cdc_redact_errstr(err, sizeof err); /* logged and stored in verify_runs.error */
        cdc_log_error("%s: %s", tables[i], err);
        status = "error";
        c->any_error = true;
        names[i] = cdc_verify_table_name(tables[i]);
        /* -o json: one record per requested table, a failed one too. */
        if (json) {
            cdc_verify_report_print_table(names[i] ? names[i] : tables[i], status, err, true,
                                          stdout);
            fflush(stdout);
        }
    } else {
        bool ok = cdc_verify_result_ok(results[i], threshold);
        status = ok ? "ok" : "mismatch";
        c->any_below |= !ok;
        cdc_verify_report_print(results[i], json, threshold, stdout);
        fflush(stdout);
    }
    gauges[i].table = results[i] ? results[i]->table : names[i] ? names[i] : tables[i];
    gauges[i].status = status;
    gauges[i].res = results[i];
    gauges[i].last_run = cdc_now_wall_s();
    if (store) {
        char serr[1024];
        double last_ok = 0;
        if (cdc_verify_report_store(target, schema, gauges[i].table, results[i], threshold, status,
                                    rc ? err : NULL, &last_ok, serr, sizeof serr)) {
            cdc_log_error("%s", serr);
            c->any_error = true;
        }
        gauges[i].last_success = last_ok;
    } else if (!rc && cdc_verify_result_ok(results[i], threshold)) {
        gauges[i].last_success = results[i]->finished_at;
    }
}

int main(int argc, char **argv)
{
    char err[CDC_ERRSTR_SIZE];
    int exit_code = 2;
    cdc_config_t *cfg = cdc_config_new(
        "cdc-verify",
        "--source CONNINFO --target CONNINFO --table [SCHEMA.]TABLE ... | --all-tables\n"
        "Prove that target tables equal their source tables.",
        verify_opts);
    cdc_config_on_help_markdown(cfg, cdc_verify_catalog_markdown);
    char **tables = NULL, **target_only = NULL;
    size_t ntables = 0, ntarget_only = 0;
    cdc_verify_gauges_t *gauges = NULL;
    cdc_verify_result_t **results = NULL;
    char **names = NULL; /* a failed table's schema.table */
    FILE *repair = NULL;

    cdc_config_status_t st = cdc_config_parse(cfg, argc, argv, stdout, err, sizeof err);
    if (st == CDC_CONFIG_EXIT) {
        exit_code = 0;
        goto out;
    }
    if (st == CDC_CONFIG_ERROR) {
        fprintf(stderr, "cdc-verify: %s\n", err);
        goto out;
    }
    int lvl = cdc_log_level_parse(cdc_config_get(cfg, "log-level"));
    int fmt = cdc_log_format_parse(cdc_config_get(cfg, "log-format"));
    cdc_log_init("cdc-verify", lvl < 0 ? CDC_LOG_INFO : (cdc_log_level_t)lvl,
                 fmt < 0 ? CDC_LOG_TEXT : (cdc_log_format_t)fmt, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    const char *source = cdc_config_get(cfg, "source");
    const char *target = cdc_config_get(cfg, "target");
    const char *schema = cdc_config_get(cfg, "state-schema");
    double threshold = cdc_config_get_double(cfg, "threshold");
    const char *const *tl = NULL;
    size_t ntl = cdc_config_get_list(cfg, "table", &tl);
    if (cdc_config_get_bool(cfg, "all-tables")) {
        if (ntl) {
            cdc_log_error("--table and --all-tables exclude each other: give one");
            goto out;
        }
        int n = cdc_verify_list_tables(source, target, schema, &tables, &target_only, &ntarget_only,
                                       err, sizeof err);
        if (n < 0) {
            cdc_log_error("%s", err);
            goto out;
        }
        ntables = (size_t)n;
    } else {
        if (!ntl) {
            cdc_log_error("nothing to verify: give --table [SCHEMA.]TABLE (repeatable) or "
                          "--all-tables");
            goto out;
        }
        tables = calloc(ntl + 1, sizeof *tables);
        for (size_t i = 0; i < ntl; i++)
            tables[i] = strdup(tl[i]);
        ntables = ntl;
    }
    const char *delay = cdc_config_get(cfg, "recheck-delay");
    double recheck_delay = -1;
    if (strcmp(delay, "auto") != 0) {
        char *end = NULL;
        recheck_delay = strtod(delay, &end);
        if (*end || recheck_delay < 0 || recheck_delay > 3600) {
            cdc_log_error("--recheck-delay must be auto or seconds in [0, 3600], not '%s'", delay);
            goto out;
        }
    }
    const char *repair_path = cdc_config_get(cfg, "repair-sql");
    if (repair_path && !(repair = fopen(repair_path, "w"))) {
        cdc_log_error("cannot write --repair-sql %s: %m", repair_path);
        goto out;
    }
    const char *prog = cdc_config_get(cfg, "progress");
    bool progress = strcmp(prog, "always") == 0 || (strcmp(prog, "auto") == 0 && isatty(2));
    bool json = strcmp(cdc_config_get(cfg, "output"), "json") == 0;
    bool store = cdc_config_get_bool(cfg, "store");

    cdc_verify_opts_t o = {0};
    o.source_conninfo = source;
    o.target_conninfo = target;
    o.key = cdc_config_get(cfg, "key");
    o.ncolumns = cdc_config_get_list(cfg, "column", &o.columns);
    o.nexclude = cdc_config_get_list(cfg, "exclude-column", &o.exclude);
    o.where = cdc_config_get(cfg, "where");
    o.max_report = cdc_config_get_int(cfg, "max-report");
    o.max_retained = (size_t)cdc_config_get_int(cfg, "max-retained");
    o.recheck = (int)cdc_config_get_int(cfg, "recheck");
    o.recheck_delay = recheck_delay;
    o.state_schema = schema;
    o.repair_sql = repair;
    o.progress = progress;

    gauges = calloc(ntables + ntarget_only + 1, sizeof *gauges);
    results = calloc(ntables ? ntables : 1, sizeof *results);
    names = calloc(ntables ? ntables : 1, sizeof *names);
    table_ctx_t ctx = {tables,    results, names, gauges, target, schema,
                       threshold, json,    store, false,  false};
    /* Outcomes come back in table order whatever --jobs, and are printed
     * and stored here, on this thread, as a serial run does. */
    if (cdc_verify_tables(&o, (const char *const *)tables, ntables,
                          (int)cdc_config_get_int(cfg, "jobs"), table_done, &ctx)) {
        cdc_log_error("out of memory");
        goto out;
    }
    bool any_error = ctx.any_error, any_below = ctx.any_below;
    /* --all-tables: a table only the target has is a difference too. */
    for (size_t i = 0; i < ntarget_only; i++) {
        static const char what[] = "exists only in the target, not in the source: not compared "
                                   "(create it in the source, or drop it from the target)";
        any_below = true;
        cdc_verify_report_print_table(target_only[i], "mismatch", what, json, stdout);
        fflush(stdout);
        cdc_verify_gauges_t *g = &gauges[ntables + i];
        g->table = target_only[i];
        g->status = "mismatch";
        g->last_run = cdc_now_wall_s();
        if (store) {
            char serr[1024];
            if (cdc_verify_report_store(target, schema, target_only[i], NULL, threshold, "mismatch",
                                        what, &g->last_success, serr, sizeof serr)) {
                cdc_log_error("%s", serr);
                any_error = true;
            }
        }
    }
    const char *textfile = cdc_config_get(cfg, "textfile");
    if (textfile && cdc_verify_metrics_write_textfile(textfile, gauges, ntables + ntarget_only, err,
                                                      sizeof err)) {
        cdc_log_error("%s", err);
        any_error = true;
    }
    /* The Pushgateway is a second copy of the gauges: failing to reach it
     * is worth a warning, not an exit code that hides the run's verdict. */
    const char *pgw = cdc_config_get(cfg, "pushgateway");
    if (pgw && cdc_verify_metrics_push(pgw, gauges, ntables + ntarget_only, err, sizeof err))
        cdc_log_warn("%s (gauges not pushed from this table on; the run's result stands)", err);
    exit_code = any_error ? 2 : any_below ? 1 : 0;
out:
    if (repair && fclose(repair)) {
        cdc_log_error("writing --repair-sql: %m");
        exit_code = 2;
    }
    for (size_t i = 0; i < ntables; i++) {
        free(tables[i]);
        if (results)
            cdc_verify_result_destroy(results[i]);
        if (names)
            free(names[i]);
    }
    free(names);
    free(tables);
    for (size_t i = 0; i < ntarget_only; i++)
        free(target_only[i]);
    free(target_only);
    free(results);
    free(gauges);
    cdc_config_destroy(cfg);
    return exit_code;
}
