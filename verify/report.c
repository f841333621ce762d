/*
 * Results: human/JSON output, the run stored in the target's state schema,
 * and step 5 (the mismatches reported). The gauges (node_exporter
 * textfile, Pushgateway) are report_gauges.c.
 */
#include "verify_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/pg.h"
#include "cdc/state.h"
#include "cdc/util.h"

static json_t *json_or_null(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
    return j ? j : json_string(s);
}

void cdc_verify_report_print_table(const char *table, const char *status, const char *what,
                                   bool json, FILE *out)
{
    if (!json) {
        char up[16];
        size_t i = 0;
        for (; status[i] && i + 1 < sizeof up; i++)
            up[i] = (char)(status[i] >= 'a' && status[i] <= 'z' ? status[i] - 32 : status[i]);
        up[i] = '\0';
        fprintf(out, "%s: %s %s\n", table, up, what);
        return;
    }
    json_t *o = json_pack("{s:s, s:s, s:s}", "table", table, "status", status, "error", what);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s)
        fprintf(out, "%s\n", s);
    free(s);
    json_decref(o);
}

void cdc_verify_report_print(const cdc_verify_result_t *res, bool json, double threshold, FILE *out)
{
    int64_t mism = res->missing + res->extra + res->different;
    bool ok = cdc_verify_result_ok(res, threshold);
    if (json) {
        json_t *o =
            json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f}", "table",
                      res->table, "status", ok ? "ok" : "mismatch", "source_rows",
                      (json_int_t)res->source_rows, "target_rows", (json_int_t)res->target_rows,
                      "mismatched_rows", (json_int_t)mism, "missing", (json_int_t)res->missing,
                      "extra", (json_int_t)res->extra, "different", (json_int_t)res->different,
                      "in_flight", (json_int_t)res->in_flight, "score", res->score, "threshold",
                      threshold, "duration_seconds", res->finished_at - res->started_at);
        char dig[40];
        snprintf(dig, sizeof dig, "%016llx", (unsigned long long)res->source_digest);
        json_object_set_new(o, "source_digest", json_string(dig));
        snprintf(dig, sizeof dig, "%016llx", (unsigned long long)res->target_digest);
        json_object_set_new(o, "target_digest", json_string(dig));
        json_t *arr = json_array();
        for (size_t i = 0; i < res->nmismatches; i++) {
            const cdc_verify_mismatch_t *m = &res->mismatches[i];
            json_array_append_new(arr, json_pack("{s:s, s:o, s:o, s:o}", "kind",
                                                 cdc_verify_kind_name(m->kind), "key",
                                                 json_or_null(m->key_json), "source",
                                                 json_or_null(m->source_row_json), "target",
                                                 json_or_null(m->target_row_json)));
        }
        json_object_set_new(o, "mismatches", arr);
        json_t *tcols = json_array();
        for (size_t i = 0; i < res->ntarget_only_columns; i++)
            json_array_append_new(tcols, json_string(res->target_only_columns[i]));
        json_object_set_new(o, "target_only_columns", tcols);
        json_object_set_new(o, "target_absent", json_boolean(res->target_absent));
        json_object_set_new(o, "scope", res->scope ? json_string(res->scope) : json_null());
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fprintf(out, "%s\n", s);
        free(s);
        json_decref(o);
        return;
    }
    fprintf(out,
            "%s: %s score=%.6f source_rows=%lld target_rows=%lld missing=%lld extra=%lld "
            "different=%lld in_flight=%lld (%.2fs)\n",
            res->table, ok ? "OK" : "MISMATCH", res->score, (long long)res->source_rows,
            (long long)res->target_rows, (long long)res->missing, (long long)res->extra,
            (long long)res->different, (long long)res->in_flight,
            res->finished_at - res->started_at);
    if (res->target_absent)
        fprintf(out, "  table     %s does not exist in the target: every source row is missing\n",
                res->table);
    for (size_t i = 0; i < res->ntarget_only_columns; i++)
        fprintf(out,
                "  column    \"%s\" exists only in the target: not compared (add it to the source, "
                "or pass --exclude-column %s)\n",
                res->target_only_columns[i], res->target_only_columns[i]);
    for (size_t i = 0; i < res->nmismatches; i++) {
        const cdc_verify_mismatch_t *m = &res->mismatches[i];
        fprintf(out, "  %-9s %s\n", cdc_verify_kind_name(m->kind), m->key_json);
        /* Both sides, so a human can diff them (redis DEBUG DIGEST style). */
        if (m->source_row_json)
            fprintf(out, "    source: %s\n", m->source_row_json);
        if (m->target_row_json)
            fprintf(out, "    target: %s\n", m->target_row_json);
    }
    if ((int64_t)res->nmismatches < mism)
        fprintf(out, "  ... %lld more (raise --max-report)\n",
                (long long)(mism - (int64_t)res->nmismatches));
}

/* ---- state schema ------------------------------------------------------ */

/* pg.h's cdc_pg_exec_params(), the result kept in *out when wanted. */
static int exec_params(PGconn *conn, const char *sql, int n, const char *const *vals,
                       PGresult **out, char *errstr, size_t errstr_size)
{
    cdc_err_class_t cls;
    PGresult *res =
        cdc_pg_exec_params(conn, sql, n, vals, NULL, NULL, out ? PGRES_TUPLES_OK : PGRES_COMMAND_OK,
                           &cls, errstr, errstr_size);
    if (!res)
        return -1;
    if (out)
        *out = res;
    else
        PQclear(res);
    return 0;
}

/* One element of a text[] literal, NULL as an unquoted NULL. */
static void array_elem(cdc_buf_t *arr, const char *v)
{
    if (v)
        cdc_pg_append_array_elem(arr, v);
    else
        cdc_buf_puts(arr, arr->len ? ",NULL" : "{NULL");
}

/* The reported mismatches, MISMATCH_BATCH rows per statement (as arrays):
 * one round trip per row made a --max-report 10000 run wait on 10,000. */
#define MISMATCH_BATCH 1000

static int store_mismatches(PGconn *conn, const char *qschema, const char *run_id,
                            const char *table, const cdc_verify_result_t *res, char *errstr,
                            size_t errstr_size)
{
    cdc_buf_t sql = CDC_BUF_INIT, arr[4] = {CDC_BUF_INIT, CDC_BUF_INIT, CDC_BUF_INIT, CDC_BUF_INIT};
    int rc = 0;
    cdc_buf_printf(&sql,
                   "INSERT INTO %s.verify_mismatches (run_id, table_name, key, kind, source_row, "
                   "target_row) SELECT $1, $2, k::jsonb, kind, s::jsonb, t::jsonb FROM "
                   "unnest($3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY "
                   "AS m(k, kind, s, t, o) ORDER BY o",
                   qschema);
    for (size_t i = 0; i < res->nmismatches && !rc; i += MISMATCH_BATCH) {
        for (int a = 0; a < 4; a++)
            cdc_buf_reset(&arr[a]);
        for (size_t j = i; j < res->nmismatches && j < i + MISMATCH_BATCH; j++) {
            const cdc_verify_mismatch_t *m = &res->mismatches[j];
            array_elem(&arr[0], m->key_json);
            array_elem(&arr[1], cdc_verify_kind_name(m->kind));
            array_elem(&arr[2], m->source_row_json);
            array_elem(&arr[3], m->target_row_json);
        }
        for (int a = 0; a < 4; a++)
            cdc_buf_putc(&arr[a], '}');
        const char *mp[6] = {run_id, table, arr[0].data, arr[1].data, arr[2].data, arr[3].data};
        rc = exec_params(conn, sql.data, 6, mp, NULL, errstr, errstr_size);
    }
    cdc_buf_free(&sql);
    for (int a = 0; a < 4; a++)
        cdc_buf_free(&arr[a]);
    return rc;
}

int cdc_verify_report_store(const char *target_conninfo, const char *schema, const char *table,
                            const cdc_verify_result_t *res, double threshold, const char *status,
                            const char *error, double *last_success, char *errstr,
                            size_t errstr_size)
{
    PGconn *conn = NULL;
    PGresult *r = NULL;
    cdc_buf_t sql = CDC_BUF_INIT, q = CDC_BUF_INIT;
    int rc = -1;
    char e[600];
    *last_success = 0;
    conn = cdc_pg_connect(target_conninfo, "cdc-verify", e, sizeof e);
    if (!conn) {
        snprintf(errstr, errstr_size, "storing the run: %s", e);
        goto out;
    }
    if (cdc_state_ensure(conn, schema, errstr, errstr_size))
        goto out;
    cdc_pg_append_ident(&q, schema);
    if (cdc_pg_exec(conn, "BEGIN", NULL, e, sizeof e))
        goto fail;
    char v[15][64];
    const char *p[15];
    int64_t mism = res ? res->missing + res->extra + res->different : 0;
    snprintf(v[0], sizeof v[0], "%.6f", res ? res->started_at : 0);
    snprintf(v[1], sizeof v[1], "%.6f", res ? res->finished_at : 0);
    snprintf(v[2], sizeof v[2], "%lld", (long long)(res ? res->source_rows : 0));
    snprintf(v[3], sizeof v[3], "%lld", (long long)(res ? res->target_rows : 0));
    snprintf(v[4], sizeof v[4], "%lld", (long long)mism);
    snprintf(v[5], sizeof v[5], "%lld", (long long)(res ? res->missing : 0));
    snprintf(v[6], sizeof v[6], "%lld", (long long)(res ? res->extra : 0));
    snprintf(v[7], sizeof v[7], "%lld", (long long)(res ? res->different : 0));
    snprintf(v[8], sizeof v[8], "%lld", (long long)(res ? res->in_flight : 0));
    snprintf(v[9], sizeof v[9], "%.17g", res ? res->score : 0.0);
    snprintf(v[10], sizeof v[10], "%.17g", threshold);
    for (int i = 0; i < 11; i++)
        p[i] = v[i];
    if (!res) { /* an error run: no counts */
        for (int i = 0; i < 10; i++)
            p[i] = NULL;
    }
    p[11] = status;
    p[12] = error;
    p[13] = table;
    p[14] = res ? res->scope : NULL;
    cdc_buf_printf(&sql,
                   "INSERT INTO %s.verify_runs (started_at, finished_at, source_rows, target_rows, "
                   "mismatched_rows, missing_rows, extra_rows, different_rows, in_flight_rows, "
                   "score, threshold, status, error, table_name, scope) VALUES "
                   "(coalesce(to_timestamp($1::float8), now()), coalesce(to_timestamp($2::float8), "
                   "now()), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
                   "RETURNING run_id",
                   q.data);
    if (exec_params(conn, sql.data, 15, p, &r, e, sizeof e))
        goto fail;
    char run_id[32];
    snprintf(run_id, sizeof run_id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    if (res && store_mismatches(conn, q.data, run_id, table, res, e, sizeof e))
        goto fail;
    if (res && !res->scope) { /* a slice's digest is not the table's */
        char sd[20], td[20];
        snprintf(sd, sizeof sd, "%016llx", (unsigned long long)res->source_digest);
        snprintf(td, sizeof td, "%016llx", (unsigned long long)res->target_digest);
        const char *dp[5] = {table, sd, td, v[2], v[3]};
        cdc_buf_reset(&sql);
        /* as_of_offsets: where cdc-apply stood when this digest was taken. */
        cdc_buf_printf(&sql,
                       "INSERT INTO %s.table_digests AS d (table_name, source_digest, "
                       "target_digest, source_rows, target_rows, as_of, as_of_offsets) VALUES "
                       "($1, $2, $3, $4, $5, now(), (SELECT jsonb_object_agg(o.group_id || '/' || "
                       "o.topic || '/' || o.partition, o.next_offset) FROM %s.offsets o)) "
                       "ON CONFLICT (table_name) DO UPDATE SET source_digest = "
                       "excluded.source_digest, target_digest = excluded.target_digest, "
                       "source_rows = excluded.source_rows, target_rows = excluded.target_rows, "
                       "as_of = excluded.as_of, as_of_offsets = excluded.as_of_offsets",
                       q.data, q.data);
        if (exec_params(conn, sql.data, 5, dp, NULL, e, sizeof e))
            goto fail;
    }
    cdc_buf_reset(&sql);
    cdc_buf_printf(&sql,
                   "SELECT extract(epoch FROM max(finished_at))::float8 FROM %s.verify_runs "
                   "WHERE table_name = $1 AND status = 'ok'",
                   q.data);
    const char *tp[1] = {table};
    if (exec_params(conn, sql.data, 1, tp, &r, e, sizeof e))
        goto fail;
    if (!PQgetisnull(r, 0, 0))
        *last_success = atof(PQgetvalue(r, 0, 0));
    if (cdc_pg_exec(conn, "COMMIT", NULL, e, sizeof e))
        goto fail;
    rc = 0;
    goto out;
fail:
    snprintf(errstr, errstr_size, "storing the run in %s: %s", schema, e);
out:
    PQclear(r);
    if (conn)
        PQfinish(conn);
    cdc_buf_free(&sql);
    cdc_buf_free(&q);
    return rc;
}

/* ---- step 5: the mismatches reported, repair statements ------------- */

/* Report entries of one kept key, as many of each kind as counted, each
 * with the images that belong to it: a missing row shows only its source
 * image, an extra one only its target image. */
static void report_key(cdc_verify_result_t *res, size_t want, const vplan_t *plan, const vmis_t *m,
                       vfetch_t *fs, vfetch_t *ft)
{
    uint64_t *ds = vdigests(fs), *dt = vdigests(ft);
    bool *us = calloc(fs->n + 1, sizeof *us), *ut = calloc(ft->n + 1, sizeof *ut);
    int64_t now[3];
    vmatch(ds, fs->n, dt, ft->n, now, us, ut);
    size_t is = 0, it = 0;
    static const cdc_verify_kind_t order[3] = {CDC_VERIFY_DIFFERENT, CDC_VERIFY_MISSING,
                                               CDC_VERIFY_EXTRA};
    for (int o = 0; o < 3; o++) {
        cdc_verify_kind_t kind = order[o];
        for (int64_t j = 0; j < m->n[kind] && res->nmismatches < want; j++) {
            cdc_verify_mismatch_t *r = &res->mismatches[res->nmismatches++];
            r->kind = kind;
            r->key_json = vkey_json(plan, m->keyvals);
            if (kind != CDC_VERIFY_EXTRA) {
                while (is < fs->n && !us[is])
                    is++;
                /* Unmatched now (else converged since the scan: any row). */
                vrow_t *row = is < fs->n ? &fs->rows[is++] : fs->n ? &fs->rows[0] : NULL;
                r->source_row_json = row && row->json ? strdup(row->json) : NULL;
            }
            if (kind != CDC_VERIFY_MISSING) {
                while (it < ft->n && !ut[it])
                    it++;
                vrow_t *row = it < ft->n ? &ft->rows[it++] : ft->n ? &ft->rows[0] : NULL;
                r->target_row_json = row && row->json ? strdup(row->json) : NULL;
            }
        }
    }
    free(ds);
    free(dt);
    free(us);
    free(ut);
}

/* Step 5: the score, row JSON for the reported rows, repair statements
 * for every mismatched key (scanning again past --max-retained). */
int vrun_report(vrun_t *run, char *errstr, size_t errstr_size)
{
    const cdc_verify_opts_t *opts = run->opts;
    cdc_verify_result_t *res = run->res;
    cdc_buf_t after = CDC_BUF_INIT;
    int rc = -1;
    char e[600];
    /* Row JSON for the reported rows; repair statements for all kept. */
    int64_t mismatched = res->missing + res->extra + res->different;
    int64_t denom = res->source_rows > res->target_rows ? res->source_rows : res->target_rows;
    res->score = denom ? 1.0 - (double)mismatched / (double)denom : 1.0;
    if (res->score < 0)
        res->score = 0;
    size_t want = (size_t)(opts->max_report > 0 ? opts->max_report : 0);
    res->mismatches = calloc(want ? want : 1, sizeof *res->mismatches);
    if (opts->repair_sql) {
        fprintf(opts->repair_sql, "-- cdc-verify repair for %s\n", run->plan.display);
        if (run->absent)
            fprintf(opts->repair_sql,
                    "-- %s does not exist in the target: create it as in the source first\n",
                    run->plan.display);
        fputs("BEGIN;\n", opts->repair_sql);
        /* Without the table in the target, its columns are the source's. */
        if (run->mv.n && vrepair_prepare(&run->rep, run->cs, run->absent ? run->cs : run->ct,
                                         &run->plan, e, sizeof e)) {
            snprintf(errstr, errstr_size, "preparing the repair fetch: %s", e);
            goto out;
        }
    }
    int pass = 1;
    for (;;) {
        for (size_t i = 0; i < run->mv.n;) {
            size_t nb = 0;
            for (; i < run->mv.n && nb < VFETCH_BATCH; i++) {
                if (run->mv.v[i].converged)
                    continue;
                /* Past the reported rows, only a repair needs the rest. */
                if (!opts->repair_sql && !(pass == 1 && res->nmismatches + nb < want))
                    break;
                run->bidx[nb] = i;
                run->bkeys[nb++] = run->mv.v[i].keyvals;
            }
            if (!nb)
                break;
            if (vfetch_keys(&run->fsrc, &run->ftgt, &run->plan, run->bkeys, nb, run->bfs, run->bft,
                            e, sizeof e) ||
                (opts->repair_sql &&
                 vrepair_keys(opts->repair_sql, &run->rep, run->absent ? run->cs : run->ct,
                              &run->plan, run->bkeys, nb, run->bfs, run->bft, e, sizeof e))) {
                for (size_t j = 0; j < nb; j++) {
                    vfetch_clear(&run->bfs[j], run->plan.ncols);
                    vfetch_clear(&run->bft[j], run->plan.ncols);
                }
                snprintf(errstr, errstr_size, "fetching mismatched rows: %s", e);
                goto out;
            }
            for (size_t j = 0; j < nb; j++) {
                if (pass == 1 && res->nmismatches < want)
                    report_key(res, want, &run->plan, &run->mv.v[run->bidx[j]], &run->bfs[j],
                               &run->bft[j]);
                vfetch_clear(&run->bfs[j], run->plan.ncols);
                vfetch_clear(&run->bft[j], run->plan.ncols);
            }
        }
        /* More mismatched keys than --max-retained: the repair must still
         * be complete, so scan again for the keys after the last one kept
         * (memory stays bounded; each pass costs a scan). */
        if (!opts->repair_sql || run->ngroups <= (int64_t)run->mv.n || !run->mv.n)
            break;
        cdc_buf_reset(&after);
        cdc_buf_append(&after, run->last.data, run->last.len);
        vmisvec_clear(&run->mv, run->plan.nkeys);
        pass++;
        if (vmerge_pass(run, &after, &run->mv, &run->last, &run->ngroups, NULL, errstr,
                        errstr_size))
            goto out;
    }
    if (opts->repair_sql) {
        if (vrepair_flush(opts->repair_sql, &run->rep, e, sizeof e)) {
            snprintf(errstr, errstr_size, "--repair-sql: %s", e);
            goto out;
        }
        fprintf(opts->repair_sql, "COMMIT;\n");
    }
    rc = 0;
out:
    cdc_buf_free(&after);
    return rc;
}
