/* Turning what cdc-apply does into the design's metrics.
 *
 * Lag is exported both ways (observability-anchors.md): the source
 * timestamp of the last applied change per table (a gauge that only moves
 * forward), and cdc_replication_lag_seconds = now - that timestamp while
 * records are waiting, 0 when the consumer is caught up, so an idle source
 * does not look like a stalled pipeline and a stalled one does not look
 * idle. */
#include "apply_metrics.h"

#include "apply_metrics_catalog.h"
#include "cdc/util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define MAX_TABLES 4096

enum { NOPS = 6 }; /* c u d r t other: op_index() */

typedef struct tstate {
    const cdc_table_t *t;
    double last_source_ts; /* seconds since the epoch, 0 if none yet */
    bool snapshot_running;
    /* The table's per-record series, looked up once (a registry lookup
     * takes its lock and compares names), NULL until first needed. */
    cdc_counter_t *events[NOPS], *snapshot_rows;
    cdc_gauge_t *last_ts;
    /* One batch's counts, added to the series once per batch. */
    uint64_t n_events[NOPS], n_snapshot;
    double batch_ts; /* the batch's newest source timestamp */
} tstate_t;

struct cdc_apply_metrics_s {
    cdc_metrics_t *reg;
    cdc_counter_t *batches_ok, *batches_failed, *rebalances;
    cdc_histogram_t *batch_seconds, *batch_rows, *event_lag;
    cdc_gauge_t *assigned, *heartbeat, *qdepth, *qcap;
    tstate_t *tables;
    size_t ntables;
    int64_t total_lag;
};

cdc_apply_metrics_t *cdc_apply_metrics_new(cdc_metrics_t *reg)
{
    cdc_apply_metrics_t *am = calloc(1, sizeof(*am));
    if (!am)
        abort();
    am->reg = reg;
    am->batches_ok = cdc_apply_counter(reg, CDC_MC_APPLY_BATCHES, CDC_LABELS("ok"));
    am->batches_failed = cdc_apply_counter(reg, CDC_MC_APPLY_BATCHES, CDC_LABELS("failed"));
    am->rebalances = cdc_apply_counter(reg, CDC_MC_REBALANCES, NULL);
    am->batch_seconds = cdc_apply_histogram(reg, CDC_MH_BATCH_DURATION, NULL);
    am->batch_rows = cdc_apply_histogram(reg, CDC_MH_BATCH_ROWS, NULL);
    am->event_lag = cdc_apply_histogram(reg, CDC_MH_EVENT_LAG, NULL);
    am->assigned = cdc_apply_gauge(reg, CDC_MG_ASSIGNED_PARTITIONS, NULL);
    am->heartbeat = cdc_apply_gauge(reg, CDC_MG_LAST_HEARTBEAT_SOURCE_TS, NULL);
    am->qdepth = cdc_apply_gauge(reg, CDC_MG_QUEUE_DEPTH, CDC_LABELS("batch"));
    am->qcap = cdc_apply_gauge(reg, CDC_MG_QUEUE_CAPACITY, CDC_LABELS("batch"));
    /* Every series an alert reads exists from the start at 0, so that
     * increase() sees the first incident (a series born at 1 looks like no
     * change to it). These are the label values the program emits. */
    static const char *const errors[][2] = {
        {"decode", "poison"},         {"apply", "poison"},
        {"apply", "retriable"},       {"apply", "fatal"},
        {"apply", "offset_conflict"}, {"apply", "placeholder_row_missing"},
        {"registry", "unreachable"},  {"kafka", "gap"},
    };
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
        cdc_apply_counter(reg, CDC_MC_ERRORS, CDC_LABELS(errors[i][0], errors[i][1]));
    static const char *const retries[][2] = {
        {"postgres", "connect"}, {"postgres", "apply"}, {"postgres", "rewind"},
        {"postgres", "catalog"}, {"registry", "fetch"},
    };
    for (size_t i = 0; i < sizeof(retries) / sizeof(retries[0]); i++)
        cdc_apply_counter(reg, CDC_MC_RETRIES, CDC_LABELS(retries[i][0], retries[i][1]));
    cdc_apply_counter(reg, CDC_MC_DEAD_LETTER, CDC_LABELS("unknown"));
    return am;
}

void cdc_apply_metrics_destroy(cdc_apply_metrics_t *am)
{
    if (!am)
        return;
    free(am->tables);
    free(am);
}

static tstate_t *tstate(cdc_apply_metrics_t *am, const cdc_table_t *t)
{
    for (size_t i = 0; i < am->ntables; i++)
        if (am->tables[i].t == t)
            return &am->tables[i];
    if (am->ntables >= MAX_TABLES)
        return NULL;
    am->tables = realloc(am->tables, (am->ntables + 1) * sizeof(*am->tables));
    if (!am->tables)
        abort();
    memset(&am->tables[am->ntables], 0, sizeof(*am->tables));
    am->tables[am->ntables].t = t;
    /* A table's alerting series exist from its first routed event on. */
    cdc_apply_counter(am->reg, CDC_MC_DEAD_LETTER, CDC_LABELS(t->label));
    cdc_apply_counter(am->reg, CDC_MC_LIVE_CHECK_ROWS, CDC_LABELS(t->label, "match"));
    cdc_apply_counter(am->reg, CDC_MC_LIVE_CHECK_ROWS, CDC_LABELS(t->label, "mismatch"));
    return &am->tables[am->ntables++];
}

static size_t op_index(char op)
{
    switch (op) {
    case 'c': return 0;
    case 'u': return 1;
    case 'd': return 2;
    case 'r': return 3;
    case 't': return 4;
    }
    return 5;
}

static const char *const op_names[NOPS] = {"c", "u", "d", "r", "t", "other"};

static const char *op_name(char op)
{
    switch (op) {
    case 'c': return "c";
    case 'u': return "u";
    case 'd': return "d";
    case 'r': return "r";
    case 't': return "t";
    }
    return "other";
}

static double source_ts(const cdc_event_t *ev)
{
    if (ev->source_ts_us > 0)
        return (double)ev->source_ts_us / 1e6;
    if (ev->source_ts_ms > 0)
        return (double)ev->source_ts_ms / 1e3;
    return 0;
}

/* A table is snapshotting while op=r records arrive, until Debezium marks
 * the last one (source.snapshot "last" or "last_in_data_collection") or
 * streamed changes (c/u/d) follow. */
static void snapshot_state(cdc_apply_metrics_t *am, tstate_t *st, const cdc_event_t *ev)
{
    bool running = ev->op == 'r';
    if (running && ev->snapshot &&
        (!strcmp(ev->snapshot, "last") || !strcmp(ev->snapshot, "last_in_data_collection")))
        running = false;
    if (ev->op == 't')
        return;
    if (st && st->snapshot_running != running) {
        st->snapshot_running = running;
        cdc_gauge_set(cdc_apply_gauge(am->reg, CDC_MG_SNAPSHOT_RUNNING, CDC_LABELS(st->t->label)),
                      running ? 1 : 0);
    }
}

/* One batch's counts of @p st into its series (looked up the first time). */
static void flush_table(cdc_apply_metrics_t *am, tstate_t *st)
{
    const char *label = st->t->label;
    for (size_t o = 0; o < NOPS; o++) {
        if (!st->n_events[o])
            continue;
        if (!st->events[o])
            st->events[o] =
                cdc_apply_counter(am->reg, CDC_MC_EVENTS, CDC_LABELS(label, op_names[o]));
        cdc_counter_add(st->events[o], (double)st->n_events[o]);
        st->n_events[o] = 0;
    }
    if (st->n_snapshot) {
        if (!st->snapshot_rows)
            st->snapshot_rows = cdc_apply_counter(am->reg, CDC_MC_SNAPSHOT_ROWS, CDC_LABELS(label));
        cdc_counter_add(st->snapshot_rows, (double)st->n_snapshot);
        st->n_snapshot = 0;
    }
    if (st->batch_ts > st->last_source_ts) {
        st->last_source_ts = st->batch_ts;
        if (!st->last_ts)
            st->last_ts =
                cdc_apply_gauge(am->reg, CDC_MG_LAST_APPLIED_SOURCE_TS, CDC_LABELS(label));
        cdc_gauge_set(st->last_ts, st->last_source_ts);
    }
    st->batch_ts = 0;
}

void cdc_apply_metrics_batch(cdc_apply_metrics_t *am, const cdc_batch_t *b, size_t upto,
                             double seconds)
{
    double now = cdc_now_wall_s();
    size_t applied = 0, last = SIZE_MAX;
    cdc_counter_inc(am->batches_ok);
    cdc_histogram_observe(am->batch_seconds, seconds);
    for (size_t i = 0; i < upto && i < b->nitems; i++) {
        const cdc_item_t *it = &b->items[i];
        if (it->error) {
            if (it->table)
                tstate(am, it->table);
            cdc_counter_inc(cdc_apply_counter(
                am->reg, CDC_MC_DEAD_LETTER, CDC_LABELS(it->table ? it->table->label : "unknown")));
            /* A dead letter is a bad record like the one that stops the
             * consumer under tolerance none: count it as that error too, in
             * the stage that refused it (no event: the decoder). */
            cdc_counter_inc(cdc_apply_counter(am->reg, CDC_MC_ERRORS,
                                              CDC_LABELS(it->ev ? "apply" : "decode", "poison")));
            continue;
        }
        if (!it->ev || !it->table || it->skipped)
            continue;
        applied++;
        /* The previous record's table, most of the time. */
        if (last >= am->ntables || am->tables[last].t != it->table) {
            tstate_t *st = tstate(am, it->table);
            last = st ? (size_t)(st - am->tables) : SIZE_MAX;
        }
        tstate_t *st = last < am->ntables ? &am->tables[last] : NULL;
        if (!st) { /* beyond MAX_TABLES: counted one by one */
            const char *label = it->table->label;
            cdc_counter_inc(
                cdc_apply_counter(am->reg, CDC_MC_EVENTS, CDC_LABELS(label, op_name(it->ev->op))));
            if (it->ev->op == 'r')
                cdc_counter_inc(
                    cdc_apply_counter(am->reg, CDC_MC_SNAPSHOT_ROWS, CDC_LABELS(label)));
        } else {
            st->n_events[op_index(it->ev->op)]++;
            st->n_snapshot += it->ev->op == 'r';
        }
        snapshot_state(am, st, it->ev);
        double ts = source_ts(it->ev);
        if (ts > 0) {
            cdc_histogram_observe(am->event_lag, now - ts > 0 ? now - ts : 0);
            if (st && ts > st->batch_ts)
                st->batch_ts = ts;
        }
    }
    for (size_t i = 0; i < am->ntables; i++)
        flush_table(am, &am->tables[i]);
    cdc_histogram_observe(am->batch_rows, (double)applied);
    /* Rows written after compaction, per table and kind of write. */
    if (upto < b->nitems)
        return; /* a partial commit: its steps were rebuilt per record */
    for (size_t s = 0; s < b->nsteps; s++) {
        const cdc_step_t *st = &b->steps[s];
        if (st->kind == CDC_STEP_TRUNCATE) {
            cdc_counter_inc(
                cdc_apply_counter(am->reg, CDC_MC_APPLY_ROWS, CDC_LABELS(st->table->label, "t")));
            continue;
        }
        size_t nu = 0, nd = 0;
        for (size_t e = 0; e < st->nentries; e++) {
            if (st->entries[e].kind == 'd')
                nd++;
            else
                nu++;
        }
        if (nu)
            cdc_counter_add(cdc_apply_counter(am->reg, CDC_MC_APPLY_ROWS,
                                              CDC_LABELS(st->table->label, "upsert")),
                            (double)nu);
        if (nd)
            cdc_counter_add(cdc_apply_counter(am->reg, CDC_MC_APPLY_ROWS,
                                              CDC_LABELS(st->table->label, "delete")),
                            (double)nd);
    }
}

void cdc_apply_metrics_batch_failed(cdc_apply_metrics_t *am)
{
    cdc_counter_inc(am->batches_failed);
}

void cdc_apply_metrics_skipped(cdc_apply_metrics_t *am, const cdc_event_t *ev)
{
    const char *reason = "filtered";
    switch (ev->kind) {
    case CDC_KIND_TOMBSTONE: reason = "tombstone"; break;
    case CDC_KIND_HEARTBEAT:
        reason = "heartbeat";
        if (ev->source_ts_ms > 0)
            cdc_gauge_set(am->heartbeat, (double)ev->source_ts_ms / 1e3);
        break;
    case CDC_KIND_TXN: reason = "transaction"; break;
    case CDC_KIND_SCHEMA_CHANGE: reason = "schema_change"; break;
    case CDC_KIND_MESSAGE: reason = "message"; break;
    case CDC_KIND_CHANGE: break;
    }
    cdc_counter_inc(cdc_apply_counter(am->reg, CDC_MC_EVENTS_SKIPPED, CDC_LABELS(reason)));
}

void cdc_apply_metrics_skipped_reason(cdc_apply_metrics_t *am, const char *reason)
{
    cdc_counter_inc(cdc_apply_counter(am->reg, CDC_MC_EVENTS_SKIPPED, CDC_LABELS(reason)));
}

void cdc_apply_metrics_dead_letter_topic(cdc_apply_metrics_t *am, bool ok)
{
    cdc_counter_inc(cdc_apply_counter(am->reg, CDC_MC_DEAD_LETTER_TOPIC,
                                      CDC_LABELS(ok ? "produced" : "failed")));
}

void cdc_apply_metrics_error(cdc_apply_metrics_t *am, const char *stage, const char *type)
{
    cdc_counter_inc(cdc_apply_counter(am->reg, CDC_MC_ERRORS, CDC_LABELS(stage, type)));
}

void cdc_apply_metrics_retry(cdc_apply_metrics_t *am, const char *component, const char *reason)
{
    cdc_counter_inc(cdc_apply_counter(am->reg, CDC_MC_RETRIES, CDC_LABELS(component, reason)));
}

void cdc_apply_metrics_conn(cdc_apply_metrics_t *am, const char *component, bool up)
{
    cdc_gauge_set(cdc_apply_gauge(am->reg, CDC_MG_CONNECTION_UP, CDC_LABELS(component)),
                  up ? 1 : 0);
}

static void lag_cb(void *opaque, const char *topic, int32_t partition, int64_t lag)
{
    cdc_apply_metrics_t *am = opaque;
    char p[16];
    snprintf(p, sizeof(p), "%d", partition);
    cdc_gauge_set(cdc_apply_gauge(am->reg, CDC_MG_CONSUMER_LAG, CDC_LABELS(topic, p)), (double)lag);
    am->total_lag += lag;
}

void cdc_apply_metrics_tick(cdc_apply_metrics_t *am, cdc_source_t *src, const cdc_batch_t *b,
                            size_t batch_capacity)
{
    cdc_gauge_set(am->assigned, (double)cdc_source_assigned(src));
    cdc_counter_set(am->rebalances, (double)cdc_source_rebalances(src));
    cdc_gauge_set(am->qdepth, (double)b->nitems);
    cdc_gauge_set(am->qcap, (double)batch_capacity);
    am->total_lag = 0;
    cdc_source_each_lag(src, lag_cb, am);
    bool caught_up = am->total_lag == 0 && b->nitems == 0;
    double now = cdc_now_wall_s();
    for (size_t i = 0; i < am->ntables; i++) {
        tstate_t *st = &am->tables[i];
        double lag = caught_up || st->last_source_ts <= 0 ? 0 : now - st->last_source_ts;
        cdc_gauge_set(cdc_apply_gauge(am->reg, CDC_MG_REPLICATION_LAG, CDC_LABELS(st->t->label)),
                      lag > 0 ? lag : 0);
    }
}

void cdc_apply_metrics_live(cdc_apply_metrics_t *am, const cdc_writer_live_t *res, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const cdc_table_t *t = res[i].table;
        tstate(am, t); /* the counters' series exist from here on */
        uint64_t ok = res[i].res.checked - res[i].res.mismatched;
        cdc_counter_t *match =
            cdc_apply_counter(am->reg, CDC_MC_LIVE_CHECK_ROWS, CDC_LABELS(t->label, "match"));
        cdc_counter_t *mism =
            cdc_apply_counter(am->reg, CDC_MC_LIVE_CHECK_ROWS, CDC_LABELS(t->label, "mismatch"));
        cdc_counter_add(match, (double)ok);
        cdc_counter_add(mism, (double)res[i].res.mismatched);
        /* The share since start is the counters' (kept by label: a
         * refreshed description of the table is a new cdc_table_t); no
         * series until a row was checked, rather than a 1 that nothing
         * backs. */
        double m = cdc_counter_get(match), x = cdc_counter_get(mism);
        if (m + x > 0)
            cdc_gauge_set(
                cdc_apply_gauge(am->reg, CDC_MG_TABLE_CONSISTENCY_SCORE, CDC_LABELS(t->label)),
                m / (m + x));
    }
}

void cdc_apply_metrics_placeholder_rows(cdc_apply_metrics_t *am, uint64_t rows)
{
    if (rows)
        cdc_counter_set(cdc_apply_counter(am->reg, CDC_MC_ERRORS,
                                          CDC_LABELS("apply", "placeholder_row_missing")),
                        (double)rows);
}
