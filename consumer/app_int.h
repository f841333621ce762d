/* cdc-apply's loop, private to consumer/: the loop's state and what its
 * files share. The loop is split by job:
 *   app.c          setup, the poll loop, gaps, idle probes, teardown
 *   app_options.c  the option table (cdc_apply_options)
 *   app_record.c   one record's way into the batch: decode (with retries),
 *                  route, compact, stop at a bad record
 *   app_commit.c   a batch's way to a commit: hand-off to the writer thread,
 *                  retries, isolation, the fence's conflict, rebalances
 *   target_wait.c  the signal handlers and the cut of a hung target wait
 *                  (--target-timeout, the stop grace)
 */
#ifndef CDC_APP_INT_H
#define CDC_APP_INT_H

#include "app.h"

#include "apply_metrics.h"
#include "apply_metrics_catalog.h"
#include "batch.h"
#include "catalog.h"
#include "cdc/decode.h"
#include "dead_letter_topic.h"
#include "sink_opts.h"
#include "cdc/http.h"
#include "cdc/metrics.h"
#include "pipeline_int.h"
#include "source.h"
#include "trace_ctx.h"
#include "trace_export.h"
#include "txn_asm.h"
#include "writer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The waits on the target a handler may cut: the loop's thread's
 * (WAIT_LOOP) and the writer thread's applying a handed-off batch
 * (WAIT_WRITER). */
enum { WAIT_LOOP = 0, WAIT_WRITER = 1, NWAITS = 2 };

typedef struct app {
    const cdc_config_t *cfg;
    cdc_writer_t *w;  /* the loop's connection: catalog, types, positions */
    cdc_writer_t *wq; /* the writer thread's: batches */
    cdc_pipeline_t *pl;
    cdc_batch_t inflight;     /* handed off (or being finished); else empty */
    int64_t inflight_started; /* when it was handed off */
    int wait_dup[NWAITS];     /* the sockets the handlers may cut (owned) */
    cdc_catalog_t *cat;
    cdc_sinkopts_t *so; /* --delete-enabled, --columns-include, ... */
    cdc_dlq_t *dlq;     /* --dead-letter-topic, NULL without */
    cdc_decoder_t *dec;
    cdc_source_t *src;
    cdc_metrics_t *reg;
    cdc_http_t *http;
    cdc_apply_metrics_t *am;
    cdc_batch_t batch;
    size_t batch_rows, batch_bytes;
    int64_t batch_ms, idle_ms, backoff_ms, max_retries;
    int target_timeout_s;
    int64_t startup_timeout_ms, started_ms;
    int64_t last_probe_ms; /* last idle check of the target connection */
    bool probe_warned;     /* its failure is logged, once per outage */
    bool have_registry;    /* --schema-registry given: only then a registry gauge */
    bool tolerance_all;
    int exit_code; /* set when the loop must stop */
    bool stopping; /* a stop request ended a retry: leave without an error */
    int64_t last_msg_ms;
    int64_t last_tick_ms;
    /* --transactions (app_txn.c); txa NULL without it. */
    cdc_txn_asm_t *txa;
    PGconn *txn_lock;           /* holds the group's active-member lock */
    uint64_t txn_in_batch;      /* whole transactions in the open batch */
    uint64_t txn_in_flight;     /* ... in the batch handed off */
    uint64_t txn_given_up_seen; /* the assembler's count already in the metric */
    uint64_t txn_partial_seen;  /* the same for cdc_transactions_partial_total */
    int txn_regex_ticks;        /* ticks with partitions but no transaction topic (-1: done) */
    cdc_otlp_t *otlp;           /* --otlp-endpoint: the span exporter, else NULL */
    char *trace_db;             /* the target database, for the spans (owned) */
} app_t;

/* app.c */

/** Log @p msg and stop the loop with exit code @p code (the first wins). */
void cdc_app_fail(app_t *a, int code, const char *msg);
/** cdc_app_fail() with extra log fields @p kv (cdc_log_kv(); may be NULL). */
void cdc_app_fail_kv(app_t *a, int code, const char *const *kv, const char *msg);
/** A retry loop ends: as cdc_app_fail(), but a clean exit on a stop request. */
void cdc_app_give_up(app_t *a, int code, const char *msg);

/* target_wait.c */

/** Bracket a wait on the target by @p slot's thread on @p w's connection:
 *  arms --target-timeout and lets the signal handlers cut the socket. */
void cdc_app_wait_begin(app_t *a, int slot, cdc_writer_t *w);
/** End of the wait; true when a handler cut it (then @p err says why). */
bool cdc_app_wait_end(app_t *a, int slot, char *err, size_t errsz);
/** The writer thread's apply got its answer (cdc_pipeline_done_cb). */
void cdc_app_writer_done(void);

/* app_commit.c */

/** Wait before retry number @p attempt; false when we should give up. */
bool cdc_app_backoff(app_t *a, int attempt, const char *component, const char *reason);
/** Connect @p w, retrying with backoff; 0, or -1 with a->exit_code set. */
int cdc_app_connect_target(app_t *a, cdc_writer_t *w, int *attempt);
/** Drop @p w's connection (the writer keeps its session state itself). */
void cdc_app_reconnect_reset(app_t *a, cdc_writer_t *w);
/** Finish the batch handed off to the writer thread, if any: 0, or -1
 *  when the loop must stop. */
int cdc_app_drain(app_t *a);
/** Apply everything read: the batch in flight, then the open batch. */
int cdc_app_flush(app_t *a);
/** Hand the open batch to the writer thread (after the one in flight). */
int cdc_app_hand_off(app_t *a);
/** The source's revoke callback: flush, or give the batches back. */
void cdc_app_on_revoke(void *opaque, bool lost);

/* app_record.c */

/** Decode, route and add one polled record (owned) to the open batch. */
void cdc_app_handle(app_t *a, rd_kafka_message_t *m);
/** Add a decoded record to the open batch (takes @p m, @p rec's owned
 *  headers, @p ev, @p dead): route and compact it, or a dead letter with
 *  reason @p dead, or a skipped record (@p skip, or not a change). */
void cdc_app_add_decoded(app_t *a, rd_kafka_message_t *m, const cdc_record_t *rec, cdc_event_t *ev,
                         char *dead, bool skip);

/* app_txn.c: --transactions */

/** With --transactions: check the topics, take the group's active-member
 *  lock (standing by while another member holds it), make the assembler.
 *  0, or -1 with a->exit_code set (or a->stopping). */
int cdc_app_txn_setup(app_t *a);
/** Hold a decoded record (as cdc_app_add_decoded() takes it) and move
 *  what is complete into the open batch. */
void cdc_app_txn_add(app_t *a, rd_kafka_message_t *m, const cdc_record_t *rec, cdc_event_t *ev,
                     char *dead);
/** Once a second: metrics, stalled transactions, the lock's connection. */
void cdc_app_txn_tick(app_t *a, int64_t now);
/** The partitions the assembler holds records of, as ranges for a
 *  rewind (appended to @p m->parts, which has room for them). */
size_t cdc_app_txn_held_count(const app_t *a);
/* --exit-on-idle with source transactions still open: fail (exit 1) with
 * a line naming them; false when none is open. */
bool cdc_app_txn_idle_open(app_t *a, int64_t now);
void cdc_app_txn_held_parts(const app_t *a, cdc_batch_t *m);
/** Drop what the assembler holds (after a rewind to the stored positions). */
void cdc_app_txn_reset(app_t *a);
/** A batch was committed / handed off / given back: the applied counter. */
void cdc_app_txn_committed(app_t *a, const cdc_batch_t *b);
/* --transactions: after isolation dead-lettered records the target refused
 * (items whose error is set now but not in @p had_error), each of their
 * transactions was applied without them: WARN, cdc_transactions_partial_total. */
void cdc_app_txn_isolated(app_t *a, const cdc_batch_t *b, const bool *had_error);
void cdc_app_txn_handed_off(app_t *a);
/** Free the assembler and release the lock. */
void cdc_app_txn_teardown(app_t *a);

/* app_trace.c */

/** Start the span exporter when --otlp-endpoint is set: 0, or -1 with
 *  a->exit_code set. */
int cdc_app_trace_setup(app_t *a);
/** Flush (bounded by --otlp-timeout-ms) and stop the exporter. */
void cdc_app_trace_teardown(app_t *a);
/** The trace context of a polled record into @p c: true when it has a
 *  valid one; invalid trace headers are counted. */
bool cdc_app_trace_record(app_t *a, const cdc_record_t *rec, cdc_trace_ctx_t *c);
/** Log fields trace_id/span_id of @p c into @p kv (5 slots), or NULL when
 *  @p valid is false: the @p kv of cdc_log_kv(). */
const char *const *cdc_app_trace_kv(const cdc_trace_ctx_t *c, bool valid, const char *kv[5]);
/** A batch's outcome: items [0, @p upto) of @p b committed (@p error_type
 *  NULL; fewer than all: stopped at the next) or an attempt that failed
 *  (@p error_type, @p error). Logs its dead letters once committed and
 *  queues its span (with --otlp-endpoint). @p started_ms: monotonic. */
void cdc_app_trace_batch(app_t *a, const cdc_batch_t *b, size_t upto, int64_t started_ms,
                         const char *error_type, const char *error);

#endif
