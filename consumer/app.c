/* cdc-apply's loop.
 *
 * The loop's thread polls a record, decodes it, routes it and adds it to
 * the batch; when the batch is full (rows, bytes) or old (ms), it hands it
 * to the writer thread (pipeline.c), which applies it in one target
 * transaction on its own connection while the loop reads the next batch;
 * only the loop tells Kafka, after the commit. The loop collects each
 * batch's result before it hands off the next, and handles every outcome
 * but success itself, with the writer thread idle. Errors are switched on
 * their class: retriable ones are retried with backoff without losing the
 * batch, poison ones stop the consumer (tolerance none) or become dead
 * letters in the same transaction (tolerance all), fatal ones stop. */
#include "app_int.h"

#include "cdc/log.h"
#include "cdc/state.h"
#include "cdc/util.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void free_msg(void *m)
{
    rd_kafka_message_destroy(m);
}

void cdc_app_fail_kv(app_t *a, int code, const char *const *kv, const char *msg)
{
    cdc_log_kv(CDC_LOG_ERROR, kv, "%s", msg);
    if (!a->exit_code)
        a->exit_code = code;
}

void cdc_app_fail(app_t *a, int code, const char *msg)
{
    cdc_app_fail_kv(a, code, NULL, msg);
}

/* A retry loop ends: on a stop request that is a clean exit (0), whatever
 * the target does; the uncommitted batch is only re-read by the next run. */
void cdc_app_give_up(app_t *a, int code, const char *msg)
{
    if (cdc_app_stop || a->stopping) {
        if (!a->stopping)
            cdc_log_info("stopping on request while retrying (%s): the uncommitted records are "
                         "read again on the next start",
                         msg);
        a->stopping = true;
        return;
    }
    cdc_app_fail(a, code, msg);
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
    if (cdc_app_flush(a) != 0)
        return -1;
    char err[CDC_ERRSTR_WRAP_SIZE];
    int attempt = 0;
    for (;;) {
        bool retriable = false;
        cdc_app_wait_begin(a, WAIT_LOOP, a->w);
        int rc = cdc_source_resolve_gap(a->src, &retriable, err, sizeof(err));
        if (cdc_app_wait_end(a, WAIT_LOOP, err, sizeof(err)) && rc != 0)
            retriable = true;
        if (rc == 0 && !cdc_source_gap_pending(a->src))
            return 0;
        if (rc == 0)
            continue; /* another partition's */
        if (!retriable) {
            cdc_apply_metrics_error(a->am, "kafka", "gap");
            cdc_app_fail(a, 1, err);
            return -1;
        }
        cdc_log_warn("%s (retrying)", err);
        cdc_app_reconnect_reset(a, a->w);
        if (!cdc_app_backoff(a, ++attempt, "kafka", "gap_check")) {
            cdc_app_give_up(a, 2, err);
            return -1;
        }
        if (cdc_app_connect_target(a, a->w, &attempt) != 0)
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
/* The same for the writer thread's connection while it is idle: a server
 * that went away is reconnected before the next batch, not found by it. */
static void probe_writer(app_t *a)
{
    if (cdc_pipeline_busy(a->pl) || !cdc_writer_connected(a->wq))
        return;
    PGconn *c = cdc_writer_conn(a->wq);
    struct pollfd pfd = {PQsocket(c), POLLIN, 0};
    if (pfd.fd >= 0 && poll(&pfd, 1, 0) > 0)
        PQconsumeInput(c);
    if (!cdc_writer_connected(a->wq))
        cdc_app_reconnect_reset(a, a->wq);
}

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
            cdc_app_reconnect_reset(a, a->w);
        }
        probe_writer(a);
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
    cdc_app_txn_tick(a, now);
    if (!cdc_pipeline_busy(a->pl)) /* the writer thread's counter */
        cdc_apply_metrics_placeholder_rows(a->am, cdc_writer_placeholder_rows(a->wq));
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
        cdc_app_fail(a, 2, err);
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
        cdc_app_fail(a, 2, err);
        return -1;
    }
    a->so = cdc_sinkopts_new(cfg, err, sizeof(err));
    if (!a->so) {
        cdc_app_fail(a, 2, err);
        return -1;
    }
    if (cdc_config_get(cfg, "dead-letter-topic") && !a->tolerance_all) {
        cdc_app_fail(a, 2,
                     "--dead-letter-topic needs --errors-tolerance all (under none a bad record "
                     "stops cdc-apply and is never dead-lettered)");
        return -1;
    }
    a->dlq = cdc_dlq_new(cfg, a->am, err, sizeof(err));
    if (!a->dlq && err[0]) {
        cdc_app_fail(a, 2, err);
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
        cdc_app_fail(a, 2, err);
        return -1;
    }
    const char *fmt = cdc_config_get(cfg, "format");
    if (!strcmp(fmt, "avro") && !cdc_config_get(cfg, "schema-registry")) {
        cdc_app_fail(a, 2,
                     "--format avro needs --schema-registry URL (where the Avro schemas are)");
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
    dc.null_value_is_delete = cdc_sinkopts_tombstone_is_delete(a->so);
    a->dec = cdc_decoder_new(&dc, err, sizeof(err));
    if (!a->dec) {
        cdc_app_fail(a, 2, err);
        return -1;
    }

    const char *addr = cdc_config_get(cfg, "metrics-addr");
    if (addr && *addr) {
        a->http = cdc_http_new(addr, a->reg, err, sizeof(err));
        if (!a->http) {
            cdc_app_fail(a, 2, err);
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
    a->wq = cdc_writer_new(cdc_config_get(cfg, "target"), cdc_config_get(cfg, "state-schema"),
                           cdc_config_get(cfg, "group"));
    cdc_writer_set_live_check(a->wq, (size_t)cdc_config_get_int(cfg, "live-check-rows"));
    /* A target that is down at start is a configuration problem more often
     * than not (wrong host, password, database): give it a few seconds,
     * then exit 2 with the reason. Once running, outages are retried. */
    int64_t saved = a->max_retries;
    a->max_retries = saved && saved < 3 ? saved : 3;
    int attempt = 0;
    int rc = cdc_app_connect_target(a, a->w, &attempt);
    if (rc == 0)
        rc = cdc_app_connect_target(a, a->wq, &attempt);
    a->max_retries = saved;
    if (rc != 0)
        return -1;
    a->pl = cdc_pipeline_new(a->wq, cdc_app_writer_done, err, sizeof(err));
    if (!a->pl) {
        cdc_app_fail(a, 2, err);
        return -1;
    }
    if (cdc_app_trace_setup(a) != 0)
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
    /* --transactions: one member applies; the others wait here, before
     * they join the group. */
    if (cdc_app_txn_setup(a) != 0)
        return -1;
    cdc_source_positions_t pos = {pos_connect, pos_load, pos_record_gap, pos_reset, a};
    a->src = cdc_source_new(&sc, &pos, cdc_app_on_revoke, a, err, sizeof(err));
    if (!a->src) {
        cdc_app_fail(a, 2, err);
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
        cdc_app_flush(a);
    if (a->pl && cdc_pipeline_busy(a->pl)) {
        /* Stopping: its outcome no longer matters (the state table says). */
        cdc_pipeline_result_t r;
        cdc_pipeline_collect(a->pl, &r);
        cdc_app_wait_end(a, WAIT_WRITER, NULL, 0);
    }
    cdc_source_destroy(a->src);
    cdc_app_txn_teardown(a); /* after the source: its revoke may use it */
    cdc_pipeline_destroy(a->pl);
    cdc_app_trace_teardown(a);
    cdc_batch_free(&a->batch);
    cdc_batch_free(&a->inflight);
    cdc_http_destroy(a->http);
    cdc_decoder_destroy(a->dec);
    /* The writer remembers which tables it staged: free it first. */
    cdc_writer_destroy(a->w);
    cdc_writer_destroy(a->wq);
    cdc_catalog_destroy(a->cat);
    cdc_sinkopts_destroy(a->so);
    cdc_dlq_destroy(a->dlq); /* its delivery reports count in a->am */
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
    for (int i = 0; i < NWAITS; i++)
        a.wait_dup[i] = -1;
    cdc_batch_init(&a.inflight, free_msg);
    if (setup(&a, cfg) != 0) {
        teardown(&a);
        return a.exit_code ? a.exit_code : a.stopping ? 0 : 2;
    }
    cdc_log_info("started: group %s, topics %s", cdc_config_get(cfg, "group"),
                 cdc_config_get(cfg, "topics"));
    a.last_msg_ms = a.started_ms = cdc_now_mono_ms();
    while (!cdc_app_stop && !a.exit_code) {
        bool fatal = false;
        bool busy = cdc_pipeline_busy(a.pl);
        rd_kafka_message_t *m =
            cdc_source_poll(a.src, a.batch.nitems || busy ? (busy ? 2 : 10) : 100, &fatal);
        int64_t now = cdc_now_mono_ms();
        if (fatal) {
            cdc_app_fail(&a, 2, "fatal Kafka consumer error (see above)");
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
            cdc_app_fail(&a, 1, cdc_source_error(a.src));
        }
        if (!a.exit_code && a.startup_timeout_ms && !cdc_source_kafka_seen(a.src) &&
            now - a.started_ms >= a.startup_timeout_ms) {
            char msg[1200];
            snprintf(msg, sizeof(msg),
                     "no Kafka broker of --brokers %s answered within --startup-timeout %lld s: "
                     "check the list and that the brokers are up and reachable",
                     cdc_source_brokers(a.src), (long long)(a.startup_timeout_ms / 1000));
            cdc_app_fail(&a, 2, msg);
        }
        if (m && (a.exit_code || a.stopping)) {
            /* A callback inside this poll stopped us: apply nothing more. */
            rd_kafka_message_destroy(m);
            break;
        }
        if (a.exit_code || a.stopping)
            break;
        if (m)
            cdc_app_handle(&a, m);
        if (a.exit_code || a.stopping)
            break;
        if (cdc_source_gap_pending(a.src) && resolve_gap(&a) != 0)
            break;
        /* A batch the writer thread finished is taken in at once: Kafka
         * hears of it, and the next one can go. */
        if (cdc_pipeline_busy(a.pl) && cdc_pipeline_ready(a.pl) && cdc_app_drain(&a) != 0)
            break;
        if (batch_due(&a, now) && cdc_app_hand_off(&a) != 0)
            break;
        tick(&a, now);
        /* Idle with transactions open: they would wait forever. */
        if (a.idle_ms && !a.batch.nitems && !cdc_pipeline_busy(a.pl) &&
            now - a.last_msg_ms >= a.idle_ms && cdc_app_txn_idle_open(&a, now))
            break;
        if (a.idle_ms && !a.batch.nitems && !cdc_pipeline_busy(a.pl) &&
            now - a.last_msg_ms >= a.idle_ms && known_lag(&a) == 0) {
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
