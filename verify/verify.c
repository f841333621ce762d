/*
 * cdc_verify_table(): one table through the steps, each in the file named
 * by it (see verify_int.h): plan.c -> scan.c / compare.c -> recheck.c ->
 * report.c.
 */
#include "verify_int.h"

#include "cdc/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

void cdc_verify_result_destroy(cdc_verify_result_t *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->nmismatches; i++) {
        free(res->mismatches[i].key_json);
        free(res->mismatches[i].source_row_json);
        free(res->mismatches[i].target_row_json);
    }
    free(res->mismatches);
    for (size_t i = 0; i < res->ntarget_only_columns; i++)
        free(res->target_only_columns[i]);
    free(res->target_only_columns);
    free(res->scope);
    free(res->table);
    free(res);
}

bool cdc_verify_result_ok(const cdc_verify_result_t *res, double threshold)
{
    return res && res->score >= threshold && res->ntarget_only_columns == 0 && !res->target_absent;
}
int cdc_verify_table(const cdc_verify_opts_t *opts, cdc_verify_result_t **result, char *errstr,
                     size_t errstr_size)
{
    vrun_t run;
    int rc = -1;
    memset(&run, 0, sizeof run);
    run.opts = opts;
    run.res = calloc(1, sizeof *run.res);
    if (!run.res) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    run.res->started_at = cdc_now_wall_s();
    if (vrun_plan(&run, errstr, errstr_size) || vrun_compare(&run, errstr, errstr_size) ||
        vrun_recheck(&run, errstr, errstr_size) || vrun_report(&run, errstr, errstr_size))
        goto out;
    run.res->finished_at = cdc_now_wall_s();
    *result = run.res;
    run.res = NULL;
    rc = 0;
out:
    vmisvec_free(&run.mv, run.plan.nkeys);
    cdc_buf_free(&run.last);
    vrepair_free(&run.rep);
    vfetcher_free(&run.fsrc);
    vfetcher_free(&run.ftgt);
    free(run.bidx);
    free(run.bkeys);
    free(run.bfs);
    free(run.bft);
    vplan_free(&run.plan);
    if (run.cs)
        PQfinish(run.cs);
    if (run.ct)
        PQfinish(run.ct);
    cdc_verify_result_destroy(run.res);
    return rc;
}
