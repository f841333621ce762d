/* One target transaction per batch (see writer.h for the contract).
 *
 * Order inside the transaction:
 *   1. lock and check the batch's offset rows (the fence),
 *   2. the steps in order: per table, deletes then upserts (a key has one
 *      final state per step, so the two sets never touch the same key),
 *      truncates where they fell in the stream,
 *   3. dead letters,
 *   4. the new offsets,
 * then COMMIT. Nothing reaches Kafka before the commit returns.
 *
 * This file is the transaction and the writer's connection; the pieces
 * it orchestrates live in offsets.c (1, 4), apply_merge.c and
 * apply_stage.c (2) and dead_letter.c (3). */
#include "writer_int.h"

#include "cdc/log.h"
#include "cdc/state.h"
#include "cdc/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cdc_writer_t *cdc_writer_new(const char *conninfo, const char *state_schema, const char *group)
{
    cdc_writer_t *w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    w->conninfo = strdup(conninfo);
    w->schema = strdup(state_schema);
    w->group = strdup(group);
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_pg_append_ident(&b, state_schema);
    w->qschema = cdc_buf_steal(&b);
    if (!w->conninfo || !w->schema || !w->group)
        abort();
    return w;
}

void cdc_writer_disconnect(cdc_writer_t *w)
{
    if (w->conn)
        PQfinish(w->conn);
    w->conn = NULL;
    /* Temp tables died with the session; only that is forgotten. The
     * catalog's descriptions stay: the open batch (retried after the
     * reconnect) holds per-column value arrays indexed by them, and
     * clearing them made the retry write "COPY pg_temp.cdc_stg_N () FROM
     * STDIN", a syntax error taken for a poison record (found by
     * apply-pg-restart). A target that changed while we were away is
     * noticed as before: an event column the cached description lacks
     * triggers a refresh, and a failing statement is retried or isolated. */
    cdc_stage_session_lost(&w->stage);
}

void cdc_writer_destroy(cdc_writer_t *w)
{
    if (!w)
        return;
    cdc_writer_disconnect(w);
    cdc_buf_free(&w->copy);
    cdc_buf_free(&w->sql);
    free(w->live);
    free(w->direct);
    cdc_stage_set_free(&w->stage);
    free(w->conninfo);
    free(w->schema);
    free(w->qschema);
    free(w->group);
    free(w);
}

PGconn *cdc_writer_conn(cdc_writer_t *w)
{
    return w->conn;
}

bool cdc_writer_connected(const cdc_writer_t *w)
{
    return w->conn && PQstatus(w->conn) == CONNECTION_OK;
}

/* Server notices (e.g. "does not exist, skipping") are not errors: keep
 * them out of the log unless debugging. */
static void notice(void *arg, const char *msg)
{
    (void)arg;
    cdc_log_debug("postgres: %.*s", (int)strcspn(msg, "\n"), msg);
}

int cdc_writer_connect(cdc_writer_t *w, cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    if (cdc_writer_connected(w))
        return 0;
    cdc_writer_disconnect(w);
    w->conn = cdc_pg_connect(w->conninfo, "cdc-apply", errstr, errstr_size);
    if (!w->conn) {
        *cls = CDC_ERR_RETRIABLE;
        return -1;
    }
    PQsetNoticeProcessor(w->conn, notice, NULL);
    if (cdc_state_ensure(w->conn, w->schema, errstr, errstr_size) != 0) {
        *cls = cdc_writer_connected(w) ? CDC_ERR_FATAL : CDC_ERR_RETRIABLE;
        cdc_writer_disconnect(w);
        return -1;
    }
    return 0;
}

static void rollback(cdc_writer_t *w)
{
    /* Staging tables created in the transaction are gone with it. */
    cdc_stage_forget(&w->stage, w->stage.txn_mark);
    if (cdc_writer_connected(w)) {
        PGresult *r = PQexec(w->conn, "ROLLBACK");
        PQclear(r);
    }
}

/* BEGIN and the fence, shared by both ways of applying a batch. */
static cdc_write_status_t begin_fenced(cdc_writer_t *w, const cdc_batch_t *b, cdc_err_class_t *cls,
                                       char *errstr, size_t errstr_size)
{
    if (!cdc_writer_connected(w)) {
        snprintf(errstr, errstr_size, "not connected to the target");
        *cls = CDC_ERR_RETRIABLE;
        return CDC_WRITE_ERROR;
    }
    w->nlive = 0; /* results count only once their transaction commits */
    if (cdc_writer_run(w, "BEGIN", cls, errstr, errstr_size) != 0)
        return CDC_WRITE_ERROR;
    cdc_stage_txn_mark(&w->stage);
    int f = cdc_offsets_fence(w->conn, w->qschema, w->group, b, cls, errstr, errstr_size);
    if (f != 0) {
        rollback(w);
        return f == -2 ? CDC_WRITE_CONFLICT : CDC_WRITE_ERROR;
    }
    return CDC_WRITE_OK;
}

/* --transactions: inside the batch's transaction, after the fence locked
 * its positions, check that the member lock's session still holds the
 * group's lock. A standby that takes the lock later waits at the fence
 * for this transaction and then finds the positions moved. */
static int member_lock_held(cdc_writer_t *w, cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    if (!w->lock_pid)
        return 0;
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", w->lock_pid);
    const char *params[2] = {w->group, pid};
    PGresult *res = cdc_pg_exec_params(
        w->conn,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid "
        "FROM pg_database WHERE datname = current_database()) AND classid = 1667523700 AND "
        "objid = hashtext($1)::oid AND objsubid = 2 AND pid = $2::int AND granted",
        2, params, NULL, NULL, PGRES_TUPLES_OK, cls, errstr, errstr_size);
    if (!res)
        return -1;
    bool held = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
    PQclear(res);
    if (held)
        return 0;
    snprintf(errstr, errstr_size,
             "--transactions: this member no longer holds group %s's member lock (its session, "
             "backend pid %d, ended, e.g. the target restarted): nothing of the batch was "
             "committed; exiting 3 so that only one member applies (a restart, as the systemd "
             "unit's Restart=on-failure does, stands by or takes over)",
             w->group, w->lock_pid);
    w->lock_lost = true;
    *cls = CDC_ERR_FATAL;
    return -1;
}

void cdc_writer_set_member_lock(cdc_writer_t *w, int pid)
{
    w->lock_pid = pid;
}

bool cdc_writer_lock_lost(const cdc_writer_t *w)
{
    return w->lock_lost;
}

/* The SQLSTATE cdc_pg_error() put at the end of @p err into @p st, or
 * false when the failure had none (no server answer). */
static bool err_sqlstate(const char *err, char st[6])
{
    const char *p = strstr(err, "(SQLSTATE ");
    if (!p || strlen(p) < 16 || p[15] != ')')
        return false;
    memcpy(st, p + 10, 5);
    st[5] = '\0';
    return true;
}

/* Failures that come and go with other sessions or the server's state:
 * always retried, however often they repeat. */
static bool sqlstate_transient(const char *st)
{
    return !strncmp(st, "08", 2) ||  /* connection exception */
           !strncmp(st, "40", 2) ||  /* serialization failure, deadlock */
           !strncmp(st, "57P", 3) || /* shutdown, cannot connect now */
           !strncmp(st, "53", 2) ||  /* out of disk, memory, connections */
           !strcmp(st, "55P03");     /* lock held by another session */
}

/* Identical retriable failures of the same batch after this many tries
 * are the data's doing (a statement that always exceeds statement_timeout
 * for one record): isolate the record instead of retrying forever. */
#define REPEAT_MAX 5

/* After a failed cdc_writer_apply() of @p b: count identical retriable
 * failures that the server answered (the session is still up) and turn the
 * REPEAT_MAX-th into a poison error, so the batch is isolated. */
static void repeat_check(cdc_writer_t *w, const cdc_batch_t *b, cdc_err_class_t *cls,
                         const char *errstr)
{
    char st[6];
    const cdc_record_t *first = b->nitems ? &b->items[0].rec : NULL;
    if (*cls != CDC_ERR_RETRIABLE || !first || !cdc_writer_connected(w) ||
        !err_sqlstate(errstr, st) || sqlstate_transient(st)) {
        w->rep.count = 0;
        return;
    }
    if (w->rep.count && !strcmp(w->rep.sqlstate, st) && !strcmp(w->rep.topic, first->topic) &&
        w->rep.partition == first->partition && w->rep.offset == first->offset) {
        w->rep.count++;
    } else {
        snprintf(w->rep.topic, sizeof(w->rep.topic), "%s", first->topic);
        w->rep.partition = first->partition;
        w->rep.offset = first->offset;
        memcpy(w->rep.sqlstate, st, sizeof(st));
        w->rep.count = 1;
    }
    if (w->rep.count < REPEAT_MAX)
        return;
    cdc_log_warn("the batch from %s[%d]@%lld failed %d times in a row with SQLSTATE %s (%s): "
                 "treating it as bad data, isolating the record",
                 first->topic, first->partition, (long long)first->offset, w->rep.count, st,
                 errstr);
    w->rep.count = 0;
    w->rep.isolate = true;
    *cls = CDC_ERR_POISON;
}

cdc_write_status_t cdc_writer_apply(cdc_writer_t *w, cdc_batch_t *b, cdc_err_class_t *cls,
                                    char *errstr, size_t errstr_size)
{
    cdc_write_status_t st = begin_fenced(w, b, cls, errstr, errstr_size);
    if (st != CDC_WRITE_OK)
        return st;
    if (cdc_merge_steps(w, b, cls, errstr, errstr_size) != 0 ||
        cdc_dead_letter_save(w->conn, w->qschema, w->group, b, cls, errstr, errstr_size) != 0 ||
        cdc_offsets_save(w->conn, w->qschema, w->group, b, b->nitems, cls, errstr, errstr_size) !=
            0 ||
        member_lock_held(w, cls, errstr, errstr_size) != 0 ||
        cdc_writer_run(w, "COMMIT", cls, errstr, errstr_size) != 0) {
        rollback(w);
        repeat_check(w, b, cls, errstr);
        return CDC_WRITE_ERROR;
    }
    cdc_stage_txn_mark(&w->stage); /* committed: they stay for the session */
    w->rep.count = 0;
    return CDC_WRITE_OK;
}

cdc_write_status_t cdc_writer_apply_isolated(cdc_writer_t *w, cdc_batch_t *b, bool dead_letter,
                                             size_t *bad, cdc_err_class_t *cls, char *errstr,
                                             size_t errstr_size)
{
    *bad = SIZE_MAX;
    cdc_write_status_t st = begin_fenced(w, b, cls, errstr, errstr_size);
    if (st != CDC_WRITE_OK)
        return st;
    /* Savepoints roll records back, their live-check counts would not be:
     * skip the check on this (rare) path. */
    size_t live_max = w->live_max;
    w->live_max = 0;
    w->isolating = true;
    char rep_state[6] = "";
    if (w->rep.isolate)
        memcpy(rep_state, w->rep.sqlstate, sizeof(rep_state));
    w->rep.isolate = false;
    /* A scratch batch borrows the items and holds one record's step at a
     * time; record order is kept, so per-key order still holds. */
    cdc_batch_t one;
    cdc_batch_init(&one, NULL);
    one.items = b->items;
    one.nitems = b->nitems;
    size_t upto = b->nitems;
    char err[CDC_ERRSTR_SIZE];
    cdc_err_class_t c2_last = CDC_ERR_NONE;
    for (size_t i = 0; i < b->nitems; i++) {
        cdc_item_t *it = &b->items[i];
        if (!it->ev || !it->table || it->error || it->skipped)
            continue;
        cdc_err_class_t c2 = CDC_ERR_NONE;
        err[0] = '\0';
        one.nsteps = 0;
        one.barrier = 0;
        size_t mark = cdc_stage_mark(&w->stage);
        int rc = cdc_writer_run(w, "SAVEPOINT cdc_one", &c2, err, sizeof(err));
        if (rc == 0)
            rc = cdc_batch_rebuild(&one, 0, &c2, err, sizeof(err));
        if (rc == 0)
            rc = cdc_batch_add_change(&one, i, it->table, &c2, err, sizeof(err));
        if (rc == 0)
            rc = cdc_merge_steps(w, &one, &c2, err, sizeof(err));
        cdc_err_class_t unused;
        cdc_batch_rebuild(&one, 0, &unused, NULL, 0); /* frees this record's step */
        if (rc == 0) {
            rc = cdc_writer_run(w, "RELEASE SAVEPOINT cdc_one", &c2, err, sizeof(err));
            c2_last = c2;
            if (rc != 0)
                goto fail;
            continue;
        }
        c2_last = c2;
        /* The failure that repeated on the whole batch is this record's. */
        char sqlst[6];
        if (c2 == CDC_ERR_RETRIABLE && rep_state[0] && cdc_writer_connected(w) &&
            err_sqlstate(err, sqlst) && !strcmp(sqlst, rep_state))
            c2 = CDC_ERR_POISON;
        if (c2 != CDC_ERR_POISON || !cdc_writer_connected(w))
            goto fail;
        if (cdc_writer_run(w, "ROLLBACK TO SAVEPOINT cdc_one", &c2, err, sizeof(err)) != 0)
            goto fail;
        cdc_stage_forget(&w->stage, mark); /* staging created under the savepoint is gone */
        /* Staging tables may have been left half-filled by the failed
         * statement; the savepoint rolled that back too. */
        char full[1400], pos[300];
        snprintf(pos, sizeof(pos), "%s[%d]@%lld: ", it->rec.topic, it->rec.partition,
                 (long long)it->rec.offset);
        /* Errors of our own already name the record. */
        snprintf(full, sizeof(full), "%s%s", strncmp(err, pos, strlen(pos)) ? pos : "", err);
        if (dead_letter) {
            cdc_batch_set_dead(b, i, full);
            continue;
        }
        *bad = i;
        upto = i;
        snprintf(errstr, errstr_size, "%s", full);
        *cls = CDC_ERR_POISON;
        break;
    }
    one.items = NULL;
    one.nitems = 0;
    cdc_batch_free(&one);
    w->live_max = live_max;
    w->isolating = false;
    if (cdc_dead_letter_save(w->conn, w->qschema, w->group, b, cls, errstr, errstr_size) != 0 ||
        cdc_offsets_save(w->conn, w->qschema, w->group, b, upto, cls, errstr, errstr_size) != 0 ||
        member_lock_held(w, cls, errstr, errstr_size) != 0 ||
        cdc_writer_run(w, "COMMIT", cls, errstr, errstr_size) != 0) {
        rollback(w);
        return CDC_WRITE_ERROR;
    }
    cdc_stage_txn_mark(&w->stage);
    return *bad == SIZE_MAX ? CDC_WRITE_OK : CDC_WRITE_ERROR;
fail:
    one.items = NULL;
    one.nitems = 0;
    cdc_batch_free(&one);
    w->live_max = live_max;
    w->isolating = false;
    snprintf(errstr, errstr_size, "%s", err);
    *cls = cdc_writer_connected(w) && c2_last != CDC_ERR_NONE ? c2_last : CDC_ERR_RETRIABLE;
    rollback(w);
    return CDC_WRITE_ERROR;
}

void cdc_writer_set_live_check(cdc_writer_t *w, size_t max_rows)
{
    w->live_max = max_rows;
}

size_t cdc_writer_live_results(const cdc_writer_t *w, const cdc_writer_live_t **res)
{
    *res = w->live;
    return w->nlive;
}

uint64_t cdc_writer_placeholder_rows(const cdc_writer_t *w)
{
    return w->placeholder_rows;
}
