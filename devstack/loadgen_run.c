/* cdc-loadgen, the workload: changes in source transactions, COMMIT, and
 * only then the transaction's events, as Debezium sees only committed
 * transactions; the snapshot, TRUNCATE and heartbeats (see loadgen_int.h). */
#include "loadgen_int.h"

#include "cdc/buf.h"
#include "cdc/log.h"
#include "cdc/pg.h"
#include "cdc/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- emission ---------------------------------------------------------- */

static int emit(lg_t *lg, lg_table_t *t, char op, const cdc_loadgen_row_t *before,
                const cdc_loadgen_row_t *after, const cdc_loadgen_source_t *src, const char *hname,
                const char *hval, char *errstr, size_t errstr_size)
{
    cdc_loadgen_event_t ev = {op, before, after, *src, cdc_now_wall_ms()};
    const cdc_loadgen_row_t *k = after ? after : before;
    if (k)
        cdc_loadgen_enc_key(t->enc, k->v[0], &lg->kbuf);
    if (cdc_loadgen_enc_value(t->enc, &ev, &lg->vbuf, errstr, errstr_size) != 0)
        return -1;
    if (lg_produce(lg, &t->topic, k ? &lg->kbuf : NULL, &lg->vbuf, hname, hval, errstr,
                   errstr_size) != 0)
        return -1;
    lg->ops[op == 'c' ? OP_C : op == 'u' ? OP_U : op == 'd' ? OP_D : op == 'r' ? OP_R : OP_T]++;
    /* Tombstone: same key, null value, so compaction can drop the key. */
    if (op == 'd' && lg->tombstones) {
        if (lg_produce(lg, &t->topic, &lg->kbuf, NULL, NULL, NULL, errstr, errstr_size) != 0)
            return -1;
        lg->tombstones_n++;
    }
    return 0;
}

static int emit_pending(lg_t *lg, int64_t txid, int64_t ts_ms, char *errstr, size_t errstr_size)
{
    int rc = 0;
    char kbuf[64];
    for (size_t i = 0; i < lg->npend && rc == 0; i++) {
        lg_pend_t *p = &lg->pend[i];
        cdc_loadgen_source_t src = {lg->db, NULL, ts_ms, txid, p->lsn, lg->last_commit_lsn};
        if (p->op == 't') {
            rc = emit(lg, p->t, 't', NULL, NULL, &src, NULL, NULL, errstr, errstr_size);
        } else if (p->op == 'p') {
            /* Headers carry the other key as SimpleHeaderConverter prints a
             * struct: {"id":N}. */
            snprintf(kbuf, sizeof(kbuf), "{\"id\":%s}", p->after.v[0]);
            rc = emit(lg, p->t, 'd', &p->before, NULL, &src, "__debezium.newkey", kbuf, errstr,
                      errstr_size);
            snprintf(kbuf, sizeof(kbuf), "{\"id\":%s}", p->before.v[0]);
            if (rc == 0)
                rc = emit(lg, p->t, 'c', NULL, &p->after, &src, "__debezium.oldkey", kbuf, errstr,
                          errstr_size);
        } else {
            rc = emit(lg, p->t, p->op, p->has_before ? &p->before : NULL,
                      p->has_after ? &p->after : NULL, &src, NULL, NULL, errstr, errstr_size);
        }
    }
    for (size_t i = 0; i < lg->npend; i++) {
        cdc_loadgen_row_clear(&lg->pend[i].before);
        cdc_loadgen_row_clear(&lg->pend[i].after);
    }
    lg->npend = 0;
    return rc;
}

/* Read the transaction's id and a commit timestamp, COMMIT, then produce
 * its events: Debezium sees a transaction only once it committed. */
static int commit_and_emit(lg_t *lg, char *errstr, size_t errstr_size)
{
    PGresult *res =
        lg_pg_query(lg,
                    "SELECT txid_current(), floor(extract(epoch from clock_timestamp()) * 1000)"
                    "::bigint",
                    0, NULL, errstr, errstr_size);
    if (!res)
        return -1;
    int64_t txid = lg_res_i64(res, 0, 0), ts = lg_res_i64(res, 0, 1);
    PQclear(res);
    if (lg_pg_exec(lg, "COMMIT", errstr, errstr_size) != 0)
        return -1;
    if (emit_pending(lg, txid, ts, errstr, errstr_size) != 0)
        return -1;
    if (!(res = lg_pg_query(lg, "SELECT (pg_current_wal_lsn() - '0/0')::bigint", 0, NULL, errstr,
                            errstr_size)))
        return -1;
    lg->last_commit_lsn = lg_res_i64(res, 0, 0);
    PQclear(res);
    return 0;
}

static int do_truncate(lg_t *lg, char *errstr, size_t errstr_size)
{
    cdc_buf_t b = CDC_BUF_INIT;
    PGresult *res = NULL;
    int rc = -1;
    cdc_buf_puts(&b, "TRUNCATE ");
    for (size_t i = 0; i < lg->ntables; i++)
        cdc_buf_printf(&b, "%s%s", i ? ", " : "", lg->tables[i].qname);
    if (lg_pg_exec(lg, "BEGIN", errstr, errstr_size) != 0 ||
        lg_pg_exec(lg, b.data, errstr, errstr_size) != 0)
        goto out;
    if (!(res = lg_pg_query(lg, "SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint", 0, NULL,
                            errstr, errstr_size)))
        goto out;
    /* One TRUNCATE of several tables: one op=t event per table. */
    for (size_t i = 0; i < lg->ntables; i++) {
        lg_pend_add(lg, &lg->tables[i], 't')->lsn = lg_res_i64(res, 0, 0);
        lg->tables[i].nkeys = 0;
    }
    rc = commit_and_emit(lg, errstr, errstr_size);
out:
    PQclear(res);
    cdc_buf_free(&b);
    return rc;
}

int lg_do_snapshot(lg_t *lg, char *errstr, size_t errstr_size)
{
    int rc = -1;
    PGresult *res = NULL, *rows = NULL;
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_loadgen_row_t row;
    memset(&row, 0, sizeof(row));
    if (lg_pg_exec(lg, "BEGIN ISOLATION LEVEL REPEATABLE READ", errstr, errstr_size) != 0)
        goto out;
    if (!(res = lg_pg_query(lg,
                            "SELECT txid_current(), (pg_current_wal_lsn() - '0/0')::bigint,"
                            " floor(extract(epoch from clock_timestamp()) * 1000)::bigint",
                            0, NULL, errstr, errstr_size)))
        goto out;
    cdc_loadgen_source_t src = {
        lg->db, "true", lg_res_i64(res, 0, 2), lg_res_i64(res, 0, 0), lg_res_i64(res, 0, 1), -1};
    size_t last_table = lg->ntables;
    for (size_t i = 0; i < lg->ntables; i++)
        if (lg->tables[i].nkeys)
            last_table = i;
    for (size_t i = 0; i < lg->ntables; i++) {
        lg_table_t *t = &lg->tables[i];
        cdc_buf_reset(&b);
        cdc_buf_printf(&b, "SELECT %s FROM %s ORDER BY id", cdc_loadgen_select_list(), t->qname);
        if (!(rows = lg_pg_query(lg, b.data, 0, NULL, errstr, errstr_size)))
            goto out;
        int n = PQntuples(rows);
        for (int r = 0; r < n; r++) {
            lg_row_from_res(rows, r, &row);
            /* Debezium 2.4 marks the final record of the whole snapshot. */
            src.snapshot = (i == last_table && r == n - 1) ? "last" : "true";
            if (emit(lg, t, 'r', NULL, &row, &src, NULL, NULL, errstr, errstr_size) != 0)
                goto out;
            cdc_loadgen_row_clear(&row);
        }
        PQclear(rows);
        rows = NULL;
    }
    if (lg_pg_exec(lg, "COMMIT", errstr, errstr_size) != 0)
        goto out;
    rc = 0;
out:
    cdc_loadgen_row_clear(&row);
    PQclear(res);
    PQclear(rows);
    cdc_buf_free(&b);
    return rc;
}

int lg_heartbeat(lg_t *lg, char *errstr, size_t errstr_size)
{
    int64_t ts = cdc_now_wall_ms();
    cdc_loadgen_enc_key(lg->hb_enc, NULL, &lg->kbuf);
    cdc_loadgen_enc_heartbeat(lg->hb_enc, ts, &lg->vbuf);
    if (lg_produce(lg, &lg->hb, &lg->kbuf, &lg->vbuf, NULL, NULL, errstr, errstr_size) != 0)
        return -1;
    lg->heartbeats++;
    return 0;
}

int lg_run_workload(lg_t *lg, char *errstr, size_t errstr_size)
{
    cdc_buf_t pv[CDC_LOADGEN_NCOLS];
    const char *pp[CDC_LOADGEN_NCOLS];
    int rc = -1;
    int64_t done = 0, pk_done = 0, start = cdc_now_mono_us(), last_hb = 0;
    bool truncated = lg->truncate_at == 0, in_txn = false;
    for (int i = 0; i < CDC_LOADGEN_NCOLS; i++)
        pv[i] = (cdc_buf_t)CDC_BUF_INIT;

    while (done < lg->events && lg_run) {
        if (lg->hb_enc && cdc_now_wall_ms() - last_hb >= lg->heartbeat_ms) {
            if (lg_heartbeat(lg, errstr, errstr_size) != 0)
                goto out;
            last_hb = cdc_now_wall_ms();
        }
        if (lg_pg_exec(lg, "BEGIN", errstr, errstr_size) != 0)
            goto out;
        in_txn = true;
        for (int64_t j = 0; j < lg->txn_size && done < lg->events; j++) {
            if (!truncated && done == lg->truncate_at)
                break;
            /* Spread the PK changes evenly: change #k is due once
             * done >= (k + 1) * events / (pk_changes + 1). */
            bool pk = pk_done < lg->pk_changes &&
                      done >= (pk_done + 1) * lg->events / (lg->pk_changes + 1);
            lg_table_t *t = &lg->tables[lg_rndn(lg, (unsigned)lg->ntables)];
            if (lg_do_change(lg, t, pk, pv, pp, errstr, errstr_size) != 0)
                goto out;
            if (lg->pend[lg->npend - 1].op == 'p')
                pk_done++;
            done++;
            lg->changes++;
            if (lg->rate > 0) {
                int64_t due = start + (int64_t)((double)done * 1e6 / lg->rate);
                int64_t wait = due - cdc_now_mono_us();
                if (wait > 0)
                    usleep((useconds_t)wait);
            }
            if (lg->rk)
                rd_kafka_poll(lg->rk, 0);
        }
        in_txn = false;
        if (commit_and_emit(lg, errstr, errstr_size) != 0)
            goto out;
        if (!truncated && done == lg->truncate_at) {
            if (do_truncate(lg, errstr, errstr_size) != 0)
                goto out;
            truncated = true;
        }
    }
    if (pk_done < lg->pk_changes)
        cdc_log_warn("only %lld of %lld primary-key changes made (tables were empty)",
                     (long long)pk_done, (long long)lg->pk_changes);
    rc = 0;
out:
    if (in_txn && rc != 0) {
        char e2[256];
        lg_pg_exec(lg, "ROLLBACK", e2, sizeof(e2));
    }
    for (int i = 0; i < CDC_LOADGEN_NCOLS; i++)
        cdc_buf_free(&pv[i]);
    return rc;
}
