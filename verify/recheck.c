/*
 * Step 4, the recheck: the kept mismatched keys are fetched again (fetch.c)
 * after the replication lag (--recheck-delay, or auto: the lag the state
 * schema shows), so that rows replication changed while we scanned
 * converge.
 */
#include "verify_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc/pg.h"

/* Lag from the state schema: cdc-apply's own lag figure when it keeps an
 * apply_status table with lag_seconds, else the age of the newest offset
 * row (an upper bound while changes flow; clamped because an idle source
 * would make it arbitrarily large), else 5 s. */
double vrecheck_auto_delay(PGconn *conn_t, const char *schema)
{
    const char *params[1] = {schema ? schema : "cdc"};
    double lag = -1;
    cdc_err_class_t cls;
    char e[256];
    PGresult *res = cdc_pg_exec_params(
        conn_t,
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = $1 "
        "AND table_name = 'apply_status' AND column_name = 'lag_seconds'), "
        "to_regclass(quote_ident($1) || '.offsets') IS NOT NULL",
        1, params, NULL, NULL, PGRES_TUPLES_OK, &cls, e, sizeof e);
    if (res && PQntuples(res) == 1) {
        bool has_status = PQgetvalue(res, 0, 0)[0] == 't';
        bool has_offsets = PQgetvalue(res, 0, 1)[0] == 't';
        cdc_buf_t sql = CDC_BUF_INIT;
        if (has_status) {
            cdc_buf_puts(&sql, "SELECT max(lag_seconds)::float8 FROM ");
            cdc_pg_append_qualified(&sql, schema, "apply_status");
        } else if (has_offsets) {
            cdc_buf_puts(&sql, "SELECT extract(epoch FROM now() - max(updated_at))::float8 FROM ");
            cdc_pg_append_qualified(&sql, schema, "offsets");
        }
        if (sql.len) {
            PGresult *r2 = PQexec(conn_t, sql.data);
            if (PQresultStatus(r2) == PGRES_TUPLES_OK && PQntuples(r2) == 1 &&
                !PQgetisnull(r2, 0, 0))
                lag = atof(PQgetvalue(r2, 0, 0));
            PQclear(r2);
        }
        cdc_buf_free(&sql);
    }
    PQclear(res);
    if (lag < 0)
        return 5.0;
    lag += 1.0; /* margin: the lag figure itself is a little old */
    return lag > 60 ? 60 : lag;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Step 4: rows changed by replication while we scanned converge. The
 * counts stay exact as kinds move. Also prepares the by-key fetchers
 * step 5 uses. */
int vrun_recheck(vrun_t *run, char *errstr, size_t errstr_size)
{
    const cdc_verify_opts_t *opts = run->opts;
    cdc_verify_result_t *res = run->res;
    char e[600];
    /* Recheck: rows changed by replication while we scanned converge.
     * Keys go VFETCH_BATCH at a time, one statement a side per batch. */
    if (run->mv.n && (vfetcher_init(&run->fsrc, run->cs, &run->plan, false, e, sizeof e) ||
                      vfetcher_init(&run->ftgt, run->ctf, &run->plan, true, e, sizeof e))) {
        snprintf(errstr, errstr_size, "preparing the row fetch: %s", e);
        return -1;
    }
    run->bidx = calloc(VFETCH_BATCH, sizeof *run->bidx);
    run->bkeys = calloc(VFETCH_BATCH, sizeof *run->bkeys);
    run->bfs = calloc(VFETCH_BATCH, sizeof *run->bfs);
    run->bft = calloc(VFETCH_BATCH, sizeof *run->bft);
    if (opts->recheck > 0 && run->mv.n) {
        res->recheck_delay_used = opts->recheck_delay >= 0
                                      ? opts->recheck_delay
                                      : vrecheck_auto_delay(run->ct, opts->state_schema);
        size_t pending = run->mv.n;
        for (int round = 0; round < opts->recheck && pending; round++) {
            sleep_s(res->recheck_delay_used);
            for (size_t i = 0; i < run->mv.n;) {
                size_t nb = 0;
                for (; i < run->mv.n && nb < VFETCH_BATCH; i++)
                    if (!run->mv.v[i].converged) {
                        run->bidx[nb] = i;
                        run->bkeys[nb++] = run->mv.v[i].keyvals;
                    }
                if (vfetch_keys(&run->fsrc, &run->ftgt, &run->plan, run->bkeys, nb, run->bfs,
                                run->bft, e, sizeof e)) {
                    snprintf(errstr, errstr_size, "recheck: %s", e);
                    return -1;
                }
                for (size_t j = 0; j < nb; j++) {
                    vmis_t *m = &run->mv.v[run->bidx[j]];
                    vfetch_t *fs = &run->bfs[j], *ft = &run->bft[j];
                    uint64_t *ds = vdigests(fs), *dt = vdigests(ft);
                    int64_t now[3];
                    vmatch(ds, fs->n, dt, ft->n, now, NULL, NULL);
                    free(ds);
                    free(dt);
                    /* Keep the counters exact as kinds move. */
                    int64_t *cnt[3] = {&res->missing, &res->extra, &res->different};
                    int64_t before = 0, after_n = 0;
                    for (int k = 0; k < 3; k++) {
                        *cnt[k] += now[k] - m->n[k];
                        before += m->n[k];
                        after_n += now[k];
                        m->n[k] = now[k];
                    }
                    if (after_n < before)
                        res->in_flight += before - after_n;
                    if (!after_n) {
                        m->converged = true;
                        pending--;
                    }
                    vfetch_clear(fs, run->plan.ncols);
                    vfetch_clear(ft, run->plan.ncols);
                }
            }
        }
    }

    return 0;
}
