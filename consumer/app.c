/* cdc-apply's loop.
 *
 * One thread does everything: poll a record, decode it, route it, add it to
 * the batch; when the batch is full (rows, bytes) or old (ms), apply it in
 * one target transaction and only then tell Kafka. Errors are switched on
 * their class: retriable ones are retried with backoff without losing the
 * batch, poison ones stop the consumer (tolerance none) or become dead
 * letters in the same transaction (tolerance all), fatal ones stop. */
#include "app.h"

#include "apply_catalog.h"
#include "apply_metrics.h"
#include "batch.h"
#include "catalog.h"
#include "cdc/decode.h"
#include "cdc/http.h"
#include "cdc/log.h"
#include "cdc/metrics.h"
#include "source.h"
#include "cdc/state.h"
#include "cdc/util.h"
#include "writer.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t cdc_app_stop;

/* Seconds a stop request leaves a target wait to finish before the
 * connection is cut. */
#define STOP_GRACE_S 3

/* For the signal handlers only (besides the run flag, the one other piece
 * of state they may touch): a dup of the target connection's socket while a
 * wait on the target is under way, else -1. shutdown() on it wakes libpq's
 * blocking wait (PQexec has no timeout of its own) with "server closed the
 * connection", a retriable error; nothing is committed that the server did
 * not commit, and the fence makes a retry of a batch the server did commit
 * harmless. A dup, so that its number cannot be reused by another socket
 * (librdkafka's threads open them) while a handler may still use it. */
static volatile sig_atomic_t target_sock = -1;
static volatile sig_atomic_t target_cut; /* a handler cut the wait */

static void cut_target(void)
{
    int fd = target_sock;
    if (fd >= 0) {
        target_cut = 1;
        shutdown(fd, SHUT_RDWR); /* async-signal-safe */
    }
}

void cdc_app_on_signal(int sig)
{
    if (sig == SIGALRM) {
        /* --target-timeout or the stop grace ran out. */
        cut_target();
        return;
    }
    if (cdc_app_stop) {
        cut_target(); /* a second request: do not wait for the grace */
        return;
    }
    cdc_app_stop = 1;
    unsigned left = alarm(STOP_GRACE_S);
    if (left && left < STOP_GRACE_S)
        alarm(left);
}

const cdc_opt_def_t cdc_apply_options[] = {
    {"brokers", 'b', CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_REQUIRED, "LIST",
     "Kafka bootstrap servers (host:port,...)"},
    {"group", 'g', CDC_OPT_STRING, "cdc-apply", 0, -1, NULL, 0, "ID",
     "consumer group id; also the key of the stored offsets"},
    {"topics", 't', CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_REQUIRED, "LIST|^REGEX",
     "topics to apply: a comma list, or a regex starting with ^"},
    {"target", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_REQUIRED | CDC_OPT_CONNINFO,
     "CONNINFO", "target PostgreSQL: libpq conninfo or URI (PGPASSWORD, service files work)"},
    {"format", 'f', CDC_OPT_ENUM, "auto", 0, -1, "auto|json|avro", 0, NULL,
     "record format; auto: a 0x00 first byte means Confluent-framed Avro"},
    {"schema-registry", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_CONNINFO, "URL",
     "Schema Registry URL for Avro (Confluent, or Apicurio's /apis/ccompat/v7)"},
    {"apicurio-8byte-id", 0, CDC_OPT_BOOL, "false", 0, -1, NULL, 0, NULL,
     "Avro framing uses Apicurio 2.x 8-byte global ids"},
    {"unavailable-placeholder", 0, CDC_OPT_STRING, "__debezium_unavailable_value", 0, -1, NULL, 0,
     "TEXT", "the connector's unavailable.value.placeholder"},
    {"decimal-handling", 0, CDC_OPT_ENUM, "precise", 0, -1, "precise|string|double", 0, NULL,
     "the connector's decimal.handling.mode, for JSON without schema: precise reads a string "
     "as base64 of the unscaled value (scale from the column), string as decimal text"},
    {"binary-handling", 0, CDC_OPT_ENUM, "bytes", 0, -1, "bytes|base64|base64-url-safe|hex", 0,
     NULL, "the connector's binary.handling.mode, for bytea in JSON without schema"},
    {"time-precision", 0, CDC_OPT_ENUM, "adaptive", 0, -1,
     "adaptive|adaptive_time_microseconds|connect", 0, NULL,
     "the connector's time.precision.mode, for integer times in JSON without schema"},
    {"table-format", 0, CDC_OPT_STRING, "${source.schema}.${source.table}", 0, -1, NULL, 0,
     "FORMAT",
     "target table from ${source.schema}, ${source.table}, ${source.db}, ${topic} (dots become "
     "_). The format's one unquoted . separates schema and table (none: schema public); a "
     "placeholder's value is never split (schema Sch.ema stays one name); quote literal dots: "
     "\"my.arch\".${source.table}"},
    {"key-columns", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_MULTI, "TABLE:COLS",
     "key of a target table without a primary key (e.g. public.log:id,ts); TABLE splits like "
     "--table-format: \"Sch.ema\".\"t.1\":id"},
    {"create-tables", 0, CDC_OPT_BOOL, "false", 0, -1, NULL, 0, NULL,
     "create a missing target table from the event schema (PK from the record key)"},
    {"evolve", 0, CDC_OPT_BOOL, "false", 0, -1, NULL, 0, NULL,
     "add missing columns; widen int2 to int4 to int8 when the event schema does, varchar(n) only "
     "for a value that does not fit (to the propagated source length, else text)"},
    {"state-schema", 0, CDC_OPT_STRING, "cdc", 0, -1, NULL, 0, "NAME",
     "schema of the state tables (offsets, dead_letter, ...) in the target"},
    {"batch-rows", 0, CDC_OPT_INT, "5000", 1, 1000000, NULL, 0, "N",
     "apply a batch after N records (or --batch-bytes, --batch-ms: the first limit reached)"},
    {"batch-bytes", 0, CDC_OPT_INT, "16777216", 1024, 1073741824, NULL, 0, "BYTES",
     "apply a batch after this many record bytes"},
    {"batch-ms", 0, CDC_OPT_INT, "200", 1, 600000, NULL, 0, "MS",
     "apply a batch at most this long after its first record"},
    {"errors-tolerance", 0, CDC_OPT_ENUM, "none", 0, -1, "none|all", 0, NULL,
     "none: stop at a record that cannot be applied; all: dead-letter it and go on"},
    {"max-retries", 0, CDC_OPT_INT, "0", 0, 1000000, NULL, 0, "N",
     "retries of a retriable failure (connection lost, deadlock, registry down) before giving up "
     "(0: retry forever); a batch that fails 5 times in a row with the same other SQLSTATE "
     "(e.g. 57014, a statement that always exceeds statement_timeout) is isolated as bad data "
     "instead"},
    {"retry-backoff-ms", 0, CDC_OPT_INT, "500", 1, 60000, NULL, 0, "MS",
     "first retry delay; doubles up to 30 s"},
    {"exit-on-idle", 0, CDC_OPT_INT, "0", 0, 86400, NULL, 0, "SECONDS",
     "exit 0 after this long without records (batch runs, tests; 0: run until stopped)"},
    {"metrics-addr", 0, CDC_OPT_STRING, "127.0.0.1:9187", 0, -1, NULL, 0, "HOST:PORT",
     "serve /metrics, /healthz and /readyz here; port 0 picks one (logged); empty: off"},
    {"queue-kbytes", 0, CDC_OPT_INT, "32768", 1024, 2097151, NULL, 0, "KB",
     "librdkafka fetch queue bound (queued.max.messages.kbytes)"},
    {"on-gap", 0, CDC_OPT_ENUM, "fail", 0, -1, "fail|skip", 0, NULL,
     "a stored position Kafka no longer holds (retention ran, topic recreated): fail stops "
     "(exit 1); skip reads on from the log start, logged, counted (cdc_gaps_total) and recorded "
     "in the state schema's gaps table"},
    {"target-timeout", 0, CDC_OPT_INT, "300", 0, 86400, NULL, 0, "SECONDS",
     "longest wait for the target to apply one batch before the connection is dropped and the "
     "batch retried (hung server, network partition); 0: no limit"},
    {"startup-timeout", 0, CDC_OPT_INT, "60", 0, 86400, NULL, 0, "SECONDS",
     "exit 2 when no Kafka broker of --brokers has answered this long after the start (wrong "
     "list, brokers down); 0: wait forever"},
    {"live-check-rows", 0, CDC_OPT_INT, "32", 0, 1000000, NULL, 0, "N",
     "after each batch, read back up to N upserted rows per table and compare them with "
     "their events (cdc_table_consistency_score); 0: off"},
    {NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL, NULL},
};

typedef struct app {
    const cdc_config_t *cfg;
    cdc_writer_t *w;
    cdc_catalog_t *cat;
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
} app_t;

static void free_msg(void *m)
{
    rd_kafka_message_destroy(m);
}

static void fail(app_t *a, int code, const char *msg)
{
    cdc_log_error("%s", msg);
    if (!a->exit_code)
        a->exit_code = code;
}

/* A retry loop ends: on a stop request that is a clean exit (0), whatever
 * the target does; the uncommitted batch is only re-read by the next run. */
static void give_up(app_t *a, int code, const char *msg)
{
    if (cdc_app_stop || a->stopping) {
        if (!a->stopping)
            cdc_log_info("stopping on request while retrying (%s): the uncommitted records are "
                         "read again on the next start",
                         msg);
        a->stopping = true;
        return;
    }
    fail(a, code, msg);
}

/* Bracket a wait on the target (libpq blocks in it): arm --target-timeout
 * and let the handlers reach the socket. After a stop request the alarm
 * runs the grace: left alone while pending, armed again for a wait that
 * starts after it fired (the final flush). */
static void target_wait_begin(app_t *a)
{
    PGconn *conn = cdc_writer_connected(a->w) ? cdc_writer_conn(a->w) : NULL;
    int fd = conn ? PQsocket(conn) : -1;
    target_cut = 0;
    target_sock = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (a->target_timeout_s && !cdc_app_stop)
        alarm((unsigned)a->target_timeout_s);
    if (cdc_app_stop) { /* also when the request came in just now */
        unsigned left = alarm(0);
        alarm(left && left <= STOP_GRACE_S ? left : STOP_GRACE_S);
    }
}

/* End of the wait; true when a handler cut it (then @p err says why). */
static bool target_wait_end(app_t *a, char *err, size_t errsz)
{
    if (!cdc_app_stop)
        alarm(0);
    int fd = target_sock;
    target_sock = -1;
    if (fd >= 0)
        close(fd);
    if (!target_cut)
        return false;
    target_cut = 0;
    if (err) {
        if (cdc_app_stop)
            snprintf(err, errsz,
                     "the target did not answer within %d s of the stop request: connection cut",
                     STOP_GRACE_S);
        else
            snprintf(err, errsz,
                     "the target did not answer within --target-timeout %d s (hung server or "
                     "network partition): connection cut",
                     a->target_timeout_s);
    }
    return true;
}

/* Wait before retry number @p attempt; false when we should give up. */
static bool backoff(app_t *a, int attempt, const char *component, const char *reason)
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

static int connect_target(app_t *a, int *attempt)
{
    char err[CDC_ERRSTR_SIZE];
    cdc_err_class_t cls = CDC_ERR_NONE;
    while (cdc_writer_connect(a->w, &cls, err, sizeof(err)) != 0) {
        cdc_apply_metrics_conn(a->am, "postgres", false);
        if (cls != CDC_ERR_RETRIABLE) {
            fail(a, 2, err);
            return -1;
        }
        if (*attempt % 5 == 0)
            cdc_log_warn("%s (retrying)", err);
        if (!backoff(a, ++*attempt, "postgres", "connect")) {
            give_up(a, 2, err);
            return -1;
        }
    }
    cdc_apply_metrics_conn(a->am, "postgres", true);
    return 0;
}

static void after_commit(app_t *a, size_t upto, int64_t started_ms)
{
    cdc_apply_metrics_batch(a->am, &a->batch, upto,
                            (double)(cdc_now_mono_ms() - started_ms) / 1000.0);
    cdc_source_committed(a->src, &a->batch, upto);
}

static void reconnect_reset(app_t *a)
{
    cdc_writer_disconnect(a->w);
    cdc_apply_metrics_conn(a->am, "postgres", false);
}

/* Apply the open batch. Returns 0 when it was committed or given back to
 * Kafka (conflict), -1 when the loop must stop (a->exit_code set). */
static int flush(app_t *a)
{
    cdc_batch_t *b = &a->batch;
    if (!b->nitems)
        return 0;
    char err[CDC_ERRSTR_WRAP_SIZE];
    int attempt = 0;
    int64_t started = cdc_now_mono_ms();
    for (;;) {
        if (connect_target(a, &attempt) != 0)
            return -1;
        cdc_err_class_t cls = CDC_ERR_NONE;
        /* A wait cut by a handler (--target-timeout, stop grace) failed
         * on the broken connection: retriable whatever libpq said. */
        target_wait_begin(a);
        cdc_write_status_t st = cdc_writer_apply(a->w, b, &cls, err, sizeof(err));
        if (target_wait_end(a, err, sizeof(err)) && st == CDC_WRITE_ERROR)
            cls = CDC_ERR_RETRIABLE;
        size_t bad = SIZE_MAX;
        if (st == CDC_WRITE_ERROR && cls == CDC_ERR_POISON) {
            /* Find the record(s) at fault one by one under savepoints. */
            cdc_log_warn("batch failed (%s): isolating the bad record", err);
            target_wait_begin(a);
            st = cdc_writer_apply_isolated(a->w, b, a->tolerance_all, &bad, &cls, err, sizeof(err));
            if (target_wait_end(a, err, sizeof(err)) && st == CDC_WRITE_ERROR) {
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
                after_commit(a, bad, started);
                cdc_apply_metrics_error(a->am, "apply", "poison");
                char msg[1600];
                snprintf(msg, sizeof(msg),
                         "%s: stopping (--errors-tolerance none); fix the target or use "
                         "--errors-tolerance all to dead-letter it",
                         err);
                fail(a, 1, msg);
                cdc_batch_reset(b);
                return -1;
            }
        }
        if (st == CDC_WRITE_OK) {
            const cdc_writer_live_t *live;
            size_t nlive = cdc_writer_live_results(a->w, &live);
            cdc_apply_metrics_live(a->am, live, nlive);
            after_commit(a, b->nitems, started);
            cdc_batch_reset(b);
            return 0;
        }
        if (st == CDC_WRITE_CONFLICT) {
            cdc_log_warn("%s: giving the batch back and re-reading positions", err);
            cdc_apply_metrics_error(a->am, "apply", "offset_conflict");
            /* The batch may only be dropped once the consumer is back at
             * the stored positions; otherwise its records would be skipped. */
            char e2[512];
            int tries = 0;
            for (;;) {
                target_wait_begin(a);
                int rrc = cdc_source_rewind(a->src, b, e2, sizeof(e2));
                target_wait_end(a, NULL, 0);
                if (rrc == 0)
                    break;
                cdc_log_warn("re-reading positions: %s (retrying)", e2);
                reconnect_reset(a);
                if (!backoff(a, ++tries, "postgres", "rewind") ||
                    connect_target(a, &attempt) != 0) {
                    char msg[700];
                    snprintf(msg, sizeof(msg),
                             "cannot re-read the stored positions (%s): stopping; nothing past "
                             "them was committed, a restart resumes there",
                             e2);
                    give_up(a, 2, msg);
                    cdc_batch_reset(b);
                    return -1;
                }
            }
            cdc_batch_reset(b);
            /* The records given back are still to be applied: not idle
             * (after a long outage --exit-on-idle fired right here and the
             * rewound records were never re-read; found by apply-pg-restart). */
            a->last_msg_ms = cdc_now_mono_ms();
            return 0;
        }
        cdc_apply_metrics_batch_failed(a->am);
        if (cls == CDC_ERR_RETRIABLE || !cdc_writer_connected(a->w)) {
            cdc_apply_metrics_error(a->am, "apply", "retriable");
            cdc_log_warn("applying the batch: %s (retrying)", err);
            reconnect_reset(a);
            if (!backoff(a, ++attempt, "postgres", "apply")) {
                give_up(a, 2, err);
                return -1;
            }
            a->last_msg_ms = cdc_now_mono_ms(); /* time spent retrying is not idle time */
            continue;
        }
        cdc_apply_metrics_error(a->am, "apply", "fatal");
        fail(a, 2, err);
        return -1;
    }
}

static void on_revoke(void *opaque, bool lost)
{
    app_t *a = opaque;
    if (a->exit_code || a->stopping) {
        /* Stopping on an error: whatever the batch holds must not be
         * committed now (it may lie past the record we stopped at). */
        cdc_batch_reset(&a->batch);
        return;
    }
    if (lost) {
        /* Another member owns them now; the fence would refuse us anyway. */
        cdc_batch_reset(&a->batch);
        return;
    }
    if (flush(a) != 0) {
        /* Never drop records without seeking back to the stored positions:
         * the fence checks that nobody else moved a partition, not that a
         * batch starts where the last one ended (offsets may have gaps), so
         * dropped records would otherwise be skipped by the next batch. */
        char err[CDC_ERRSTR_SIZE];
        if (cdc_source_rewind(a->src, &a->batch, err, sizeof(err)) != 0)
            cdc_log_warn("rewind after a failed flush: %s", err);
        cdc_batch_reset(&a->batch);
    }
}

/* Route and compact one decoded change. Returns 0, or -1 with err/cls. */
static int add_change(app_t *a, size_t idx, cdc_err_class_t *cls, char *err, size_t errsz)
{
    int attempt = 0;
    for (;;) {
        if (connect_target(a, &attempt) != 0) {
            *cls = CDC_ERR_FATAL;
            snprintf(err, errsz, "no target connection");
            return -1;
        }
        cdc_table_t *t = NULL;
        target_wait_begin(a);
        int rc = cdc_catalog_resolve(a->cat, cdc_writer_conn(a->w), a->batch.items[idx].ev, &t, cls,
                                     err, errsz);
        if (target_wait_end(a, err, errsz) && rc != 0)
            *cls = CDC_ERR_RETRIABLE;
        if (rc == 0)
            return cdc_batch_add_change(&a->batch, idx, t, cls, err, errsz);
        if (*cls != CDC_ERR_RETRIABLE)
            return -1;
        cdc_log_warn("%s (retrying)", err);
        reconnect_reset(a);
        if (!backoff(a, ++attempt, "postgres", "catalog"))
            return -1;
    }
}

/* What the decoder's type lookup needs for one decode call: the catalog
 * and the connection of this moment (nothing keeps it past the call). */
typedef struct lookup_ctx {
    cdc_catalog_t *cat;
    PGconn *conn; /* NULL when not connected */
    bool failed;  /* the lookup failed retriably: reconnect, then decode again */
} lookup_ctx_t;

static int target_type(void *opaque, const cdc_type_query_t *q, const char **type,
                       cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    lookup_ctx_t *lc = opaque;
    int rc = cdc_catalog_type_lookup(lc->cat, lc->conn, q, type, cls, errstr, errstr_size);
    if (rc != 0 && *cls == CDC_ERR_RETRIABLE)
        lc->failed = true;
    return rc;
}

/* Decode with retries while the registry or, for schemaless JSON, the
 * target's catalog is unreachable. */
static int decode(app_t *a, const cdc_record_t *rec, cdc_event_t **ev, cdc_err_class_t *cls,
                  char *err, size_t errsz)
{
    int attempt = 0, target_attempt = 0;
    for (;;) {
        lookup_ctx_t lc = {a->cat, cdc_writer_connected(a->w) ? cdc_writer_conn(a->w) : NULL,
                           false};
        cdc_type_lookup_t lk = {target_type, &lc};
        if (cdc_decoder_decode_with(a->dec, rec, &lk, ev, cls, err, errsz) == 0) {
            if (a->have_registry)
                cdc_apply_metrics_conn(a->am, "registry", true);
            return 0;
        }
        if (*cls != CDC_ERR_RETRIABLE)
            return -1;
        if (lc.failed) {
            /* Never "decode without types": that stores the JSON form
             * (base64 for bytea). Reconnect and decode again. */
            cdc_log_warn("%s (retrying)", err);
            reconnect_reset(a);
            if (!backoff(a, ++target_attempt, "postgres", "catalog"))
                return -1;
            if (connect_target(a, &target_attempt) != 0) {
                *cls = CDC_ERR_FATAL;
                snprintf(err, errsz, "no target connection");
                return -1;
            }
            continue;
        }
        cdc_apply_metrics_conn(a->am, "registry", false);
        cdc_apply_metrics_error(a->am, "registry", "unreachable");
        if (attempt % 5 == 0)
            cdc_log_warn("%s (retrying)", err);
        if (!backoff(a, ++attempt, "registry", "fetch"))
            return -1;
    }
}

static void to_record(const rd_kafka_message_t *m, cdc_record_t *rec, cdc_header_t *hdrs,
                      size_t maxh)
{
    memset(rec, 0, sizeof(*rec));
    rec->topic = rd_kafka_topic_name(m->rkt);
    rec->partition = m->partition;
    rec->offset = m->offset;
    rd_kafka_timestamp_type_t tst;
    rec->timestamp_ms = rd_kafka_message_timestamp(m, &tst);
    rec->key = m->key;
    rec->key_len = m->key_len;
    rec->value = m->payload;
    rec->value_len = m->len;
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR && h) {
        const char *name;
        const void *val;
        size_t len;
        for (size_t i = 0; i < maxh && !rd_kafka_header_get_all(h, i, &name, &val, &len); i++) {
            hdrs[i] = (cdc_header_t){name, val, len};
            rec->nheaders = i + 1;
        }
        rec->headers = hdrs;
    }
}

/* Bad record under tolerance none: apply what came before it, then stop
 * without moving past it. */
static void stop_at(app_t *a, const char *err, const char *stage)
{
    cdc_apply_metrics_error(a->am, stage, "poison");
    if (flush(a) != 0)
        return;
    char msg[1600];
    snprintf(msg, sizeof(msg),
             "%s: stopping (--errors-tolerance none); fix the record's producer or the target, "
             "or use --errors-tolerance all to dead-letter it",
             err);
    fail(a, 1, msg);
}

/* The record's headers in their own allocation (the batch frees it with
 * the item), or NULL when there are none, which is the common case. */
static const cdc_header_t *own_headers(const cdc_record_t *rec)
{
    if (!rec->nheaders)
        return NULL;
    cdc_header_t *h = malloc(rec->nheaders * sizeof(*h));
    if (!h)
        abort();
    memcpy(h, rec->headers, rec->nheaders * sizeof(*h));
    return h;
}

static void handle(app_t *a, rd_kafka_message_t *m)
{
    /* Header views into the message; 64 is far beyond what Debezium and
     * tracing add. */
    cdc_header_t hdrs[64];
    cdc_record_t rec;
    to_record(m, &rec, hdrs, 64);
    char err[CDC_ERRSTR_WRAP_SIZE];
    cdc_err_class_t cls = CDC_ERR_NONE;
    cdc_event_t *ev = NULL;
    int64_t expected = cdc_source_expected(a->src, rec.topic, rec.partition);
    if (decode(a, &rec, &ev, &cls, err, sizeof(err)) != 0) {
        if (cls == CDC_ERR_POISON && a->tolerance_all) {
            size_t idx = cdc_batch_add_item(&a->batch, m, &rec, NULL, expected);
            a->batch.items[idx].rec.headers = own_headers(&rec);
            cdc_batch_set_dead(&a->batch, idx, err);
            return;
        }
        rd_kafka_message_destroy(m);
        if (cls == CDC_ERR_POISON)
            stop_at(a, err, "decode");
        else if (cls == CDC_ERR_RETRIABLE)
            give_up(a, 2, err);
        else
            fail(a, 2, err);
        return;
    }
    size_t idx = cdc_batch_add_item(&a->batch, m, &rec, ev, expected);
    cdc_item_t *it = &a->batch.items[idx];
    /* Headers are needed later only for dead letters. */
    it->rec.headers = own_headers(&rec);
    if (ev->kind != CDC_KIND_CHANGE) {
        it->skipped = true;
        cdc_apply_metrics_skipped(a->am, ev);
        return;
    }
    if (add_change(a, idx, &cls, err, sizeof(err)) != 0) {
        if (cls == CDC_ERR_POISON && a->tolerance_all) {
            cdc_batch_set_dead(&a->batch, idx, err);
            return;
        }
        /* Take the record out of the batch: it must not be committed. */
        cdc_batch_pop(&a->batch);
        if (cls == CDC_ERR_POISON)
            stop_at(a, err, "apply");
        else if (a->stopping || cls == CDC_ERR_RETRIABLE)
            give_up(a, 2, err);
        else
            fail(a, 2, err);
    }
}

static void gap_series(void *opaque, const char *topic, int32_t partition)
{
    app_t *a = opaque;
    char p[16];
    snprintf(p, sizeof(p), "%d", partition);
    /* Found or created at 0: the series exists before its first gap. */
    cdc_apply_counter(a->reg, CDC_MC_GAPS, CDC_LABELS(topic, p));
}

static void on_gap(void *opaque, const char *topic, int32_t partition, int64_t from, int64_t to)
{
    app_t *a = opaque;
    char p[16];
    (void)from;
    (void)to;
    snprintf(p, sizeof(p), "%d", partition);
    cdc_counter_inc(cdc_apply_counter(a->reg, CDC_MC_GAPS, CDC_LABELS(topic, p)));
}

/* The source's stored positions (source.h), over the writer's connection:
 * the source itself knows nothing of the writer. */
static int pos_connect(void *opaque, cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    app_t *a = opaque;
    return cdc_writer_connect(a->w, cls, errstr, errstr_size);
}

static int pos_load(void *opaque, const char *topic, int32_t partition, int64_t *next,
                    cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    app_t *a = opaque;
    return cdc_writer_load_offsets(a->w, topic, &partition, 1, next, cls, errstr, errstr_size);
}

static int pos_record_gap(void *opaque, const cdc_state_gap_t *gap, cdc_err_class_t *cls,
                          char *errstr, size_t errstr_size)
{
    app_t *a = opaque;
    int rc = cdc_state_record_gap(cdc_writer_conn(a->w), cdc_config_get(a->cfg, "state-schema"),
                                  gap, cls, errstr, errstr_size);
    if (rc < 0 && !cdc_writer_connected(a->w))
        *cls = CDC_ERR_RETRIABLE; /* the connection went: reconnect and try again */
    return rc;
}

static void pos_reset(void *opaque)
{
    app_t *a = opaque;
    cdc_writer_disconnect(a->w);
}

/* A fetch found its position gone from the log: commit what came before
 * it, then let the source check the position and stop, or skip. */
static int resolve_gap(app_t *a)
{
    if (flush(a) != 0)
        return -1;
    char err[CDC_ERRSTR_WRAP_SIZE];
    int attempt = 0;
    for (;;) {
        bool retriable = false;
        target_wait_begin(a);
        int rc = cdc_source_resolve_gap(a->src, &retriable, err, sizeof(err));
        if (target_wait_end(a, err, sizeof(err)) && rc != 0)
            retriable = true;
        if (rc == 0 && !cdc_source_gap_pending(a->src))
            return 0;
        if (rc == 0)
            continue; /* another partition's */
        if (!retriable) {
            cdc_apply_metrics_error(a->am, "kafka", "gap");
            fail(a, 1, err);
            return -1;
        }
        cdc_log_warn("%s (retrying)", err);
        reconnect_reset(a);
        if (!backoff(a, ++attempt, "kafka", "gap_check")) {
            give_up(a, 2, err);
            return -1;
        }
        if (connect_target(a, &attempt) != 0)
            return -1;
    }
}

static bool batch_due(const app_t *a, int64_t now)
{
    const cdc_batch_t *b = &a->batch;
    return b->nitems && (b->nitems >= a->batch_rows || b->bytes >= a->batch_bytes ||
                         now - b->first_ms >= a->batch_ms);
}

/* Between batches nothing talks to the target, so a server that went away
 * would go unnoticed until the next batch: read what the idle connection
 * has (a server that shut down sent its goodbye and closed it), and while
 * there is none try to connect every few seconds, so that the postgres
 * gauge and /readyz follow the target. Never inside a transaction: only
 * called from tick(), between batches. */
static void probe_target(app_t *a, int64_t now)
{
    if (cdc_writer_connected(a->w)) {
        PGconn *c = cdc_writer_conn(a->w);
        struct pollfd pfd = {PQsocket(c), POLLIN, 0};
        if (pfd.fd >= 0 && poll(&pfd, 1, 0) > 0)
            PQconsumeInput(c); /* on EOF the status becomes CONNECTION_BAD */
        if (!cdc_writer_connected(a->w)) {
            cdc_log_warn("the target closed the connection: %.*s (reconnecting)",
                         (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
            reconnect_reset(a);
        }
        return;
    }
    if (now - a->last_probe_ms < 5000)
        return;
    a->last_probe_ms = now;
    char err[CDC_ERRSTR_SIZE];
    cdc_err_class_t cls = CDC_ERR_NONE;
    bool up = cdc_writer_connect(a->w, &cls, err, sizeof(err)) == 0;
    cdc_apply_metrics_conn(a->am, "postgres", up);
    if (up)
        cdc_log_info("connected to the target again");
    else if (!a->probe_warned)
        cdc_log_warn("%s (retrying every 5 s)", err);
    a->probe_warned = !up;
}

static void tick(app_t *a, int64_t now)
{
    if (now - a->last_tick_ms < 1000)
        return;
    a->last_tick_ms = now;
    probe_target(a, now);
    bool kafka = cdc_source_kafka_up(a->src);
    cdc_apply_metrics_conn(a->am, "kafka", kafka);
    if (a->http) {
        cdc_http_tick(a->http);
        bool conn = cdc_writer_connected(a->w);
        size_t n = cdc_source_assigned(a->src);
        cdc_http_set_ready(a->http, conn && kafka && n > 0,
                           !conn    ? "not connected to the target"
                           : !kafka ? "no Kafka broker answers"
                           : n == 0 ? "no partitions assigned"
                                    : "ok");
    }
    cdc_apply_metrics_tick(a->am, a->src, &a->batch, a->batch_rows);
    cdc_source_each_partition(a->src, gap_series, a);
    cdc_apply_metrics_placeholder_rows(a->am, cdc_writer_placeholder_rows(a->w));
}

static int setup(app_t *a, const cdc_config_t *cfg)
{
    char err[CDC_ERRSTR_SIZE];
    a->cfg = cfg;
    a->batch_rows = (size_t)cdc_config_get_int(cfg, "batch-rows");
    a->batch_bytes = (size_t)cdc_config_get_int(cfg, "batch-bytes");
    a->batch_ms = cdc_config_get_int(cfg, "batch-ms");
    a->idle_ms = cdc_config_get_int(cfg, "exit-on-idle") * 1000;
    a->backoff_ms = cdc_config_get_int(cfg, "retry-backoff-ms");
    a->max_retries = cdc_config_get_int(cfg, "max-retries");
    a->tolerance_all = !strcmp(cdc_config_get(cfg, "errors-tolerance"), "all");
    a->target_timeout_s = (int)cdc_config_get_int(cfg, "target-timeout");
    a->startup_timeout_ms = cdc_config_get_int(cfg, "startup-timeout") * 1000;
    cdc_batch_init(&a->batch, free_msg);

    a->reg = cdc_metrics_new();
    if (cdc_apply_catalog_register(a->reg, err, sizeof(err)) != 0) {
        fail(a, 2, err);
        return -1;
    }
    a->am = cdc_apply_metrics_new(a->reg);
    const char *const *kc;
    size_t nkc = cdc_config_get_list(cfg, "key-columns", &kc);
    cdc_catalog_conf_t cc = {cdc_config_get(cfg, "table-format"), kc, nkc,
                             cdc_config_get_bool(cfg, "create-tables"),
                             cdc_config_get_bool(cfg, "evolve")};
    a->cat = cdc_catalog_new(&cc, err, sizeof(err));
    if (!a->cat) {
        fail(a, 2, err);
        return -1;
    }
    /* Check what can be checked before connecting anywhere. */
    cdc_event_t probe;
    memset(&probe, 0, sizeof(probe));
    probe.topic = probe.db = probe.schema = probe.table = "x";
    char ps[256], pt[256];
    if (cdc_catalog_route(a->cat, &probe, ps, sizeof(ps), pt, sizeof(pt)) != 0) {
        snprintf(err, sizeof(err),
                 "--table-format '%s': unknown placeholder; use ${source.schema}, "
                 "${source.table}, ${source.db} or ${topic}",
                 cdc_config_get(cfg, "table-format"));
        fail(a, 2, err);
        return -1;
    }
    const char *fmt = cdc_config_get(cfg, "format");
    if (!strcmp(fmt, "avro") && !cdc_config_get(cfg, "schema-registry")) {
        fail(a, 2, "--format avro needs --schema-registry URL (where the Avro schemas are)");
        return -1;
    }
    cdc_decoder_conf_t dc;
    memset(&dc, 0, sizeof(dc));
    dc.format = !strcmp(fmt, "json")   ? CDC_FORMAT_JSON
                : !strcmp(fmt, "avro") ? CDC_FORMAT_AVRO
                                       : CDC_FORMAT_AUTO;
    dc.registry_url = cdc_config_get(cfg, "schema-registry");
    a->have_registry = dc.registry_url != NULL;
    dc.apicurio_8byte_id = cdc_config_get_bool(cfg, "apicurio-8byte-id");
    dc.placeholder = cdc_config_get(cfg, "unavailable-placeholder");
    const char *dh = cdc_config_get(cfg, "decimal-handling");
    dc.decimal_handling = !strcmp(dh, "string")   ? CDC_DECIMAL_STRING
                          : !strcmp(dh, "double") ? CDC_DECIMAL_DOUBLE
                                                  : CDC_DECIMAL_PRECISE;
    const char *bh = cdc_config_get(cfg, "binary-handling");
    dc.binary_handling = !strcmp(bh, "hex")               ? CDC_BINARY_HEX
                         : !strcmp(bh, "base64-url-safe") ? CDC_BINARY_BASE64_URL_SAFE
                         : !strcmp(bh, "base64")          ? CDC_BINARY_BASE64
                                                          : CDC_BINARY_BYTES;
    const char *tp = cdc_config_get(cfg, "time-precision");
    dc.time_precision = !strcmp(tp, "connect") ? CDC_TIME_CONNECT
                        : !strcmp(tp, "adaptive_time_microseconds")
                            ? CDC_TIME_ADAPTIVE_TIME_MICROSECONDS
                            : CDC_TIME_ADAPTIVE;
    a->dec = cdc_decoder_new(&dc, err, sizeof(err));
    if (!a->dec) {
        fail(a, 2, err);
        return -1;
    }

    const char *addr = cdc_config_get(cfg, "metrics-addr");
    if (addr && *addr) {
        a->http = cdc_http_new(addr, a->reg, err, sizeof(err));
        if (!a->http) {
            fail(a, 2, err);
            return -1;
        }
        /* Port 0 picks a free one: say which, for scripts and humans. */
        char host[256];
        const char *colon = strrchr(addr, ':');
        snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - addr) : 0, addr);
        cdc_log_info("serving metrics on http://%s:%d/metrics", *host ? host : "127.0.0.1",
                     cdc_http_port(a->http));
    }

    a->w = cdc_writer_new(cdc_config_get(cfg, "target"), cdc_config_get(cfg, "state-schema"),
                          cdc_config_get(cfg, "group"));
    cdc_writer_set_live_check(a->w, (size_t)cdc_config_get_int(cfg, "live-check-rows"));
    /* A target that is down at start is a configuration problem more often
     * than not (wrong host, password, database): give it a few seconds,
     * then exit 2 with the reason. Once running, outages are retried. */
    int64_t saved = a->max_retries;
    a->max_retries = saved && saved < 3 ? saved : 3;
    int attempt = 0;
    int rc = connect_target(a, &attempt);
    a->max_retries = saved;
    if (rc != 0)
        return -1;

    const char *const *xk, *const *xv;
    size_t nx = cdc_config_rdkafka(cfg, &xk, &xv);
    cdc_source_conf_t sc = {cdc_config_get(cfg, "brokers"),
                            cdc_config_get(cfg, "group"),
                            cdc_config_get(cfg, "topics"),
                            xk,
                            xv,
                            nx,
                            (int)cdc_config_get_int(cfg, "queue-kbytes"),
                            &cdc_app_stop,
                            !strcmp(cdc_config_get(cfg, "on-gap"), "skip"),
                            cdc_config_get(cfg, "state-schema"),
                            on_gap};
    cdc_source_positions_t pos = {pos_connect, pos_load, pos_record_gap, pos_reset, a};
    a->src = cdc_source_new(&sc, &pos, on_revoke, a, err, sizeof(err));
    if (!a->src) {
        fail(a, 2, err);
        return -1;
    }
    /* Up once a broker answers (tick follows cdc_source_kafka_up). */
    cdc_apply_metrics_conn(a->am, "kafka", false);
    return 0;
}

static void teardown(app_t *a)
{
    /* Order: finish the batch, leave the group, stop serving, free. */
    if (!a->exit_code && !a->stopping)
        flush(a);
    cdc_source_destroy(a->src);
    cdc_batch_free(&a->batch);
    cdc_http_destroy(a->http);
    cdc_decoder_destroy(a->dec);
    /* The writer remembers which tables it staged: free it first. */
    cdc_writer_destroy(a->w);
    cdc_catalog_destroy(a->cat);
    cdc_apply_metrics_destroy(a->am);
    cdc_metrics_destroy(a->reg);
}

static void add_lag(void *opaque, const char *topic, int32_t partition, int64_t lag)
{
    (void)topic;
    (void)partition;
    *(int64_t *)opaque += lag;
}

/* Records known to be waiting in assigned partitions (from the watermarks
 * the fetcher saw): idle only means caught up when this is 0. */
static int64_t known_lag(app_t *a)
{
    int64_t lag = 0;
    cdc_source_each_lag(a->src, add_lag, &lag);
    return lag;
}

int cdc_app_run(const cdc_config_t *cfg)
{
    app_t a;
    memset(&a, 0, sizeof(a));
    if (setup(&a, cfg) != 0) {
        teardown(&a);
        return a.exit_code ? a.exit_code : a.stopping ? 0 : 2;
    }
    cdc_log_info("started: group %s, topics %s", cdc_config_get(cfg, "group"),
                 cdc_config_get(cfg, "topics"));
    a.last_msg_ms = a.started_ms = cdc_now_mono_ms();
    while (!cdc_app_stop && !a.exit_code) {
        bool fatal = false;
        rd_kafka_message_t *m = cdc_source_poll(a.src, a.batch.nitems ? 10 : 100, &fatal);
        int64_t now = cdc_now_mono_ms();
        if (fatal) {
            fail(&a, 2, "fatal Kafka consumer error (see above)");
            break;
        }
        /* Idle time counts only while we own partitions: joining the group
         * is not idleness. */
        if (m || cdc_source_assigned(a.src) == 0) {
            a.last_msg_ms = now;
        }
        if (!a.exit_code && cdc_source_error(a.src)) {
            /* A gap at assignment (--on-gap fail): the partition was not
             * assigned; leave without committing anything more. */
            cdc_apply_metrics_error(a.am, "kafka", "gap");
            fail(&a, 1, cdc_source_error(a.src));
        }
        if (!a.exit_code && a.startup_timeout_ms && !cdc_source_kafka_seen(a.src) &&
            now - a.started_ms >= a.startup_timeout_ms) {
            char msg[1200];
            snprintf(msg, sizeof(msg),
                     "no Kafka broker of --brokers %s answered within --startup-timeout %lld s: "
                     "check the list and that the brokers are up and reachable",
                     cdc_source_brokers(a.src), (long long)(a.startup_timeout_ms / 1000));
            fail(&a, 2, msg);
        }
        if (m && (a.exit_code || a.stopping)) {
            /* A callback inside this poll stopped us: apply nothing more. */
            rd_kafka_message_destroy(m);
            break;
        }
        if (a.exit_code || a.stopping)
            break;
        if (m)
            handle(&a, m);
        if (a.exit_code || a.stopping)
            break;
        if (cdc_source_gap_pending(a.src) && resolve_gap(&a) != 0)
            break;
        if (batch_due(&a, now) && flush(&a) != 0)
            break;
        tick(&a, now);
        if (a.idle_ms && !a.batch.nitems && now - a.last_msg_ms >= a.idle_ms &&
            known_lag(&a) == 0) {
            cdc_log_info("no records for %lld s: exiting (--exit-on-idle)",
                         (long long)(a.idle_ms / 1000));
            break;
        }
    }
    int code = a.exit_code;
    teardown(&a);
    if (!code)
        cdc_log_info("stopped");
    return code;
}
