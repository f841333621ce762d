/* cdc-apply: a batch's way to a commit. The loop hands the full batch to
 * the writer thread (pipeline.c) and collects its result before the next
 * hand-off; every outcome but success is handled here, with the writer
 * thread idle: retriable errors are retried with backoff without losing
 * the batch, a poison batch is isolated record by record (dead letters
 * under --errors-tolerance all), the fence's conflict gives the batch back
 * to Kafka. Also the rebalance callback, which flushes before a revoke. */
#include "app_int.h"

#include "cdc/log.h"
#include "cdc/util.h"

#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Wait before retry number @p attempt; false when we should give up. */
bool cdc_app_backoff(app_t *a, int attempt, const char *component, const char *reason)
{
    cdc_apply_metrics_retry(a->am, component, reason);
    if (a->max_retries && attempt >= a->max_retries)
        return false;
    int64_t d = a->backoff_ms;
    for (int i = 1; i < attempt && d < 30000; i++)
        d *= 2;
    if (d > 30000)
        d = 30000;
    int64_t until = cdc_now_mono_ms() + d;
    /* Not ready while retrying: the loop (and tick()) does not run until
     * the retry succeeds, so say it here (found by an adversarial test:
     * /readyz stayed 200 through a target outage with records pending). */
    if (a->http) {
        char why[128];
        snprintf(why, sizeof(why), "retrying %s (%s)", component, reason);
        cdc_http_set_ready(a->http, false, why);
    }
    while (cdc_now_mono_ms() < until) {
        if (a->http)
            cdc_http_tick(a->http);
        /* On shutdown, stop retrying: an uncommitted batch is only
         * re-read by the next run, never lost. */
        if (cdc_app_stop)
            return false;
        poll(NULL, 0, 50);
    }
    return true;
}

int cdc_app_connect_target(app_t *a, cdc_writer_t *w, int *attempt)
{
    char err[CDC_ERRSTR_SIZE];
    cdc_err_class_t cls = CDC_ERR_NONE;
    while (cdc_writer_connect(w, &cls, err, sizeof(err)) != 0) {
        cdc_apply_metrics_conn(a->am, "postgres", false);
        if (cls != CDC_ERR_RETRIABLE) {
            cdc_app_fail(a, 2, err);
            return -1;
        }
        if (*attempt % 5 == 0)
            cdc_log_warn("%s (retrying)", err);
        if (!cdc_app_backoff(a, ++*attempt, "postgres", "connect")) {
            cdc_app_give_up(a, 2, err);
            return -1;
        }
    }
    cdc_apply_metrics_conn(a->am, "postgres", true);
    return 0;
}

/* Stop the loop over @p b with the message @p fmt makes (exit @p code;
 * @p give_up: after retries ran out), dropping the batch. Returns -1. */
__attribute__((format(printf, 5, 6))) static int stop_batch(app_t *a, cdc_batch_t *b, int code,
                                                            bool give_up, const char *fmt, ...)
{
    char msg[CDC_ERRSTR_WRAP_SIZE + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (give_up)
        cdc_app_give_up(a, code, msg);
    else
        cdc_app_fail(a, code, msg);
    cdc_batch_reset(b);
    return -1;
}
static void after_commit(app_t *a, cdc_batch_t *b, size_t upto, int64_t started_ms)
{
    cdc_apply_metrics_batch(a->am, b, upto, (double)(cdc_now_mono_ms() - started_ms) / 1000.0);
    cdc_app_trace_batch(a, b, upto, started_ms, NULL, NULL);
    cdc_source_committed(a->src, b, upto);
    cdc_app_txn_committed(a, b);
    /* The dead letters' rows are committed: now their topic copies. */
    cdc_dlq_produce(a->dlq, b, upto);
}

/* Drop @p w's connection (the writer keeps its session state itself). */
void cdc_app_reconnect_reset(app_t *a, cdc_writer_t *w)
{
    cdc_writer_disconnect(w);
    cdc_apply_metrics_conn(a->am, "postgres", false);
}

/* Seek back to the stored positions of every partition of the batch being
 * finished and of the open one (its records come after it and are read
 * again), or of any other partition the target moved. */
static int rewind_all(app_t *a, char *err, size_t errsz)
{
    cdc_batch_t m;
    memset(&m, 0, sizeof(m));
    m.parts = malloc((a->inflight.nparts + a->batch.nparts + cdc_app_txn_held_count(a) + 1) *
                     sizeof(*m.parts));
    if (!m.parts)
        abort();
    for (size_t i = 0; i < a->inflight.nparts; i++)
        m.parts[m.nparts++] = a->inflight.parts[i];
    for (size_t i = 0; i < a->batch.nparts; i++) {
        const cdc_part_range_t *r = &a->batch.parts[i];
        bool seen = false;
        for (size_t j = 0; j < a->inflight.nparts && !seen; j++)
            seen = a->inflight.parts[j].partition == r->partition &&
                   !strcmp(a->inflight.parts[j].topic, r->topic);
        if (!seen)
            m.parts[m.nparts++] = *r;
    }
    /* --transactions: records held for open transactions are read again. */
    cdc_app_txn_held_parts(a, &m);
    int rc = cdc_source_rewind(a->src, &m, err, errsz);
    free(m.parts); /* the topics are the batches' */
    return rc;
}

/* Apply @p b: the batch the writer thread applied once already (@p first:
 * its result) or, with @p first NULL, one applied here. Returns 0 when it
 * was committed or given back to Kafka (conflict: then the open batch is
 * given back too), -1 when the loop must stop (a->exit_code set). */
static int apply_batch(app_t *a, cdc_batch_t *b, int64_t started,
                       const cdc_pipeline_result_t *first)
{
    if (!b->nitems)
        return 0;
    char err[CDC_ERRSTR_WRAP_SIZE];
    int attempt = 0;
    for (;;) {
        cdc_err_class_t cls = CDC_ERR_NONE;
        cdc_write_status_t st;
        if (first) {
            st = first->st;
            cls = first->cls;
            snprintf(err, sizeof(err), "%s", first->err);
            first = NULL;
        } else {
            if (cdc_app_connect_target(a, a->wq, &attempt) != 0)
                return -1;
            /* A wait cut by a handler (--target-timeout, stop grace) failed
             * on the broken connection: retriable whatever libpq said. */
            cdc_app_wait_begin(a, WAIT_LOOP, a->wq);
            st = cdc_writer_apply(a->wq, b, &cls, err, sizeof(err));
            if (cdc_app_wait_end(a, WAIT_LOOP, err, sizeof(err)) && st == CDC_WRITE_ERROR)
                cls = CDC_ERR_RETRIABLE;
        }
        size_t bad = SIZE_MAX;
        if (st == CDC_WRITE_ERROR && cls == CDC_ERR_POISON && a->txa && !a->tolerance_all) {
            /* Isolating would commit the records before the bad one: part
             * of a source transaction. Commit nothing; a restart re-reads. */
            cdc_apply_metrics_error(a->am, "apply", "poison");
            return stop_batch(a, b, 1, false,
                              "%s: stopping (--errors-tolerance none, --transactions: nothing of "
                              "the batch is committed); fix the target or use --errors-tolerance "
                              "all to dead-letter it",
                              err);
        }
        if (st == CDC_WRITE_ERROR && cls == CDC_ERR_POISON) {
            /* Find the record(s) at fault one by one under savepoints. */
            cdc_log_warn("batch failed (%s): isolating the bad record", err);
            bool *had = cdc_xcalloc(b->nitems + 1, sizeof(*had));
            for (size_t i = 0; i < b->nitems; i++)
                had[i] = b->items[i].error != NULL;
            cdc_app_wait_begin(a, WAIT_LOOP, a->wq);
            st =
                cdc_writer_apply_isolated(a->wq, b, a->tolerance_all, &bad, &cls, err, sizeof(err));
            if (st == CDC_WRITE_OK)
                cdc_app_txn_isolated(a, b, had);
            free(had);
            if (cdc_app_wait_end(a, WAIT_LOOP, err, sizeof(err)) && st == CDC_WRITE_ERROR) {
                cls = CDC_ERR_RETRIABLE;
                bad = SIZE_MAX;
            }
            /* Dead letters must leave the compacted steps: if this commit
             * failed and is retried as a whole, they must not be applied. */
            char e3[256];
            cdc_err_class_t c3;
            cdc_batch_rebuild(b, b->nitems, &c3, e3, sizeof(e3));
            if (st == CDC_WRITE_ERROR && bad != SIZE_MAX) {
                /* The records before it are committed; stop at it. */
                after_commit(a, b, bad, started);
                cdc_apply_metrics_error(a->am, "apply", "poison");
                cdc_trace_ctx_t tc;
                const char *tkv[5];
                const cdc_record_t *r = &b->items[bad].rec;
                bool traced = r->nheaders && cdc_trace_ctx_parse(r, &tc, NULL);
                char msg[CDC_ERRSTR_WRAP_SIZE + 128];
                snprintf(msg, sizeof(msg),
                         "%s: stopping (--errors-tolerance none); fix the target or use "
                         "--errors-tolerance all to dead-letter it",
                         err);
                cdc_app_fail_kv(a, 1, cdc_app_trace_kv(&tc, traced, tkv), msg);
                cdc_batch_reset(b);
                return -1;
            }
        }
        if (st == CDC_WRITE_OK) {
            const cdc_writer_live_t *live;
            size_t nlive = cdc_writer_live_results(a->wq, &live);
            cdc_apply_metrics_live(a->am, live, nlive);
            after_commit(a, b, b->nitems, started);
            cdc_batch_reset(b);
            return 0;
        }
        if (st == CDC_WRITE_CONFLICT) {
            cdc_log_warn("%s: giving the batch back and re-reading positions", err);
            cdc_apply_metrics_error(a->am, "apply", "offset_conflict");
            cdc_app_trace_batch(a, b, b->nitems, started, "offset_conflict", err);
            /* The batch may only be dropped once the consumer is back at
             * the stored positions; otherwise its records would be skipped. */
            char e2[512];
            int tries = 0;
            for (;;) {
                cdc_app_wait_begin(a, WAIT_LOOP, a->w);
                int rrc = rewind_all(a, e2, sizeof(e2));
                cdc_app_wait_end(a, WAIT_LOOP, NULL, 0);
                if (rrc == 0)
                    break;
                cdc_log_warn("re-reading positions: %s (retrying)", e2);
                cdc_app_reconnect_reset(a, a->w);
                if (!cdc_app_backoff(a, ++tries, "postgres", "rewind") ||
                    cdc_app_connect_target(a, a->w, &attempt) != 0) {
                    return stop_batch(a, b, 2, true,
                                      "cannot re-read the stored positions (%s): stopping; "
                                      "nothing past them was committed, a restart resumes there",
                                      e2);
                }
            }
            cdc_batch_reset(b);
            cdc_batch_reset(&a->batch); /* read again after the seek */
            cdc_app_txn_reset(a);
            /* The records given back are still to be applied: not idle
             * (after a long outage --exit-on-idle fired right here and the
             * rewound records were never re-read; found by apply-pg-restart). */
            a->last_msg_ms = cdc_now_mono_ms();
            return 0;
        }
        cdc_apply_metrics_batch_failed(a->am);
        bool retriable = cls == CDC_ERR_RETRIABLE || !cdc_writer_connected(a->wq);
        cdc_app_trace_batch(a, b, b->nitems, started, retriable ? "retriable" : "fatal", err);
        if (retriable) {
            cdc_apply_metrics_error(a->am, "apply", "retriable");
            cdc_log_warn("applying the batch: %s (retrying)", err);
            cdc_app_reconnect_reset(a, a->wq);
            if (!cdc_app_backoff(a, ++attempt, "postgres", "apply")) {
                cdc_app_give_up(a, 2, err);
                return -1;
            }
            a->last_msg_ms = cdc_now_mono_ms(); /* time spent retrying is not idle time */
            continue;
        }
        cdc_apply_metrics_error(a->am, "apply", "fatal");
        cdc_app_fail(a, cdc_writer_lock_lost(a->wq) ? 3 : 2, err);
        return -1;
    }
}

/* Wait for the batch handed off to the writer thread, if any, and finish
 * it (retries, isolation, conflict) here. Returns 0 or -1 as
 * apply_batch(). */
int cdc_app_drain(app_t *a)
{
    if (!a->pl)
        return 0;
    cdc_pipeline_result_t r;
    cdc_batch_t *b = cdc_pipeline_collect(a->pl, &r);
    if (!b)
        return 0;
    if (cdc_app_wait_end(a, WAIT_WRITER, r.err, sizeof(r.err)) && r.st == CDC_WRITE_ERROR)
        r.cls = CDC_ERR_RETRIABLE;
    return apply_batch(a, b, a->inflight_started, &r);
}

/* The fence: the positions the target must hold for the open batch are
 * those the batch before it left, known only once that one is committed. */
static void expect_positions(app_t *a)
{
    for (size_t i = 0; i < a->batch.nparts; i++) {
        cdc_part_range_t *p = &a->batch.parts[i];
        p->expected_next = cdc_source_expected(a->src, p->topic, p->partition);
    }
}

/* Apply everything read: the batch in flight, then the open batch. */
int cdc_app_flush(app_t *a)
{
    if (cdc_app_drain(a) != 0)
        return -1;
    expect_positions(a);
    return apply_batch(a, &a->batch, cdc_now_mono_ms(), NULL);
}

/* Hand the open batch to the writer thread, after finishing the one in
 * flight (at most one: bounded memory). Returns 0 or -1 as apply_batch(). */
int cdc_app_hand_off(app_t *a)
{
    if (cdc_app_drain(a) != 0)
        return -1;
    if (!a->batch.nitems) /* given back by a conflict */
        return 0;
    int attempt = 0;
    if (cdc_app_connect_target(a, a->wq, &attempt) != 0)
        return -1;
    expect_positions(a);
    cdc_batch_t t = a->inflight; /* empty: reuse its allocations */
    a->inflight = a->batch;
    a->batch = t;
    cdc_app_txn_handed_off(a);
    a->inflight_started = cdc_now_mono_ms();
    cdc_app_wait_begin(a, WAIT_WRITER, a->wq);
    cdc_pipeline_submit(a->pl, &a->inflight);
    return 0;
}

void cdc_app_on_revoke(void *opaque, bool lost)
{
    app_t *a = opaque;
    /* The batch handed off was flushed before this rebalance: its outcome
     * (commit, or the fence's refusal) is awaited first, as its apply was
     * before there was a writer thread. */
    int rc = a->exit_code || a->stopping ? -1 : cdc_app_drain(a);
    if (a->exit_code || a->stopping) {
        /* Stopping on an error: whatever the batch holds must not be
         * committed now (it may lie past the record we stopped at). */
        if (a->pl && cdc_pipeline_busy(a->pl)) {
            cdc_pipeline_result_t r;
            cdc_pipeline_collect(a->pl, &r);
            cdc_app_wait_end(a, WAIT_WRITER, NULL, 0);
        }
        cdc_batch_reset(&a->inflight);
        cdc_batch_reset(&a->batch);
        cdc_app_txn_reset(a);
        return;
    }
    if (lost) {
        /* Another member owns them now; the fence would refuse us anyway. */
        cdc_batch_reset(&a->batch);
        cdc_app_txn_reset(a);
        return;
    }
    if (a->txa) {
        /* --transactions: what the assembler holds is read again from the
         * stored positions (a transaction may span kept and revoked
         * partitions: it is assembled anew). */
        int frc = rc == 0 ? cdc_app_flush(a) : -1;
        char err[CDC_ERRSTR_SIZE];
        if ((frc != 0 || cdc_app_txn_held_count(a)) && rewind_all(a, err, sizeof(err)) != 0)
            cdc_log_warn("rewind of the held transactions: %s", err);
        if (frc != 0) {
            cdc_batch_reset(&a->inflight);
            cdc_batch_reset(&a->batch);
        }
        cdc_app_txn_reset(a);
        return;
    }
    if (rc != 0 || cdc_app_flush(a) != 0) {
        /* Never drop records without seeking back to the stored positions:
         * the fence checks that nobody else moved a partition, not that a
         * batch starts where the last one ended (offsets may have gaps), so
         * dropped records would otherwise be skipped by the next batch. */
        char err[CDC_ERRSTR_SIZE];
        if (rewind_all(a, err, sizeof(err)) != 0)
            cdc_log_warn("rewind after a failed flush: %s", err);
        cdc_batch_reset(&a->inflight);
        cdc_batch_reset(&a->batch);
        cdc_app_txn_reset(a);
    }
}
