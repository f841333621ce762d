/* Kafka consumer-group member with positions kept in the target database
 * (see source.h). */
#include "source_int.h"

#include "cdc/log.h"
#include "cdc/state.h"
#include "cdc/util.h"

#include <jansson.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most this many records per batch call, and about this many bytes
 * (fetch()). */
#define FETCH_MAX   256
#define FETCH_BYTES ((size_t)4 << 20)

static size_t part_index(const cdc_source_t *src, const char *topic, int32_t partition)
{
    if (src->last_hit < src->nparts) {
        const part_t *p = &src->parts[src->last_hit];
        if (p->partition == partition && !strcmp(p->topic, topic))
            return src->last_hit;
    }
    for (size_t i = 0; i < src->nparts; i++) {
        const part_t *p = &src->parts[i];
        if (p->partition == partition && !strcmp(p->topic, topic))
            return i;
    }
    return SIZE_MAX;
}

part_t *cdc_source_find_part(cdc_source_t *src, const char *topic, int32_t partition)
{
    size_t i = part_index(src, topic, partition);
    if (i == SIZE_MAX)
        return NULL;
    src->last_hit = i;
    return &src->parts[i];
}

static void drop_part(cdc_source_t *src, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < src->nparts; i++) {
        part_t *p = &src->parts[i];
        if (p->partition == partition && !strcmp(p->topic, topic)) {
            if (p->gap)
                src->ngaps--; /* its next owner checks it */
            free(p->topic);
            src->parts[i] = src->parts[--src->nparts];
            return;
        }
    }
}

void cdc_source_drop_buffered(cdc_source_t *src, const char *topic, int32_t partition)
{
    size_t j = src->bnext;
    for (size_t i = src->bnext; i < src->bn; i++) {
        rd_kafka_message_t *m = src->buf[i];
        if (m->rkt && m->partition == partition && !strcmp(rd_kafka_topic_name(m->rkt), topic))
            rd_kafka_message_destroy(m);
        else
            src->buf[j++] = m;
    }
    src->bn = j;
}

/* A rebalance, on the polling thread outside librdkafka's batch call: an
 * assignment starts at the stored positions, a revoke flushes (or drops)
 * first. Records fetched before it of the partitions it moves are dropped. */
static void rebalance_handle(cdc_source_t *src, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *list)
{
    rd_kafka_t *rk = src->rk;
    bool cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    src->rebalances++;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        /* The coordinator answered, and the assignor has its state. */
        src->ever_assigned = true;
        src->kafka_up = src->kafka_seen = true;
        for (int i = 0; i < list->cnt; i++)
            cdc_source_drop_buffered(src, list->elems[i].topic, list->elems[i].partition);
        if (cdc_source_load_positions(src, list) != 0) {
            /* Stopping (outage, or a gap): take nothing, but answer the
             * rebalance with an empty assignment, so that closing leaves
             * the group at once; a member stuck before its assign call
             * holds the group's next join until the rebalance timeout. */
            rd_kafka_topic_partition_list_t *none = rd_kafka_topic_partition_list_new(0);
            if (cooperative)
                rd_kafka_incremental_assign(rk, none);
            else
                rd_kafka_assign(rk, none);
            rd_kafka_topic_partition_list_destroy(none);
            return;
        }
        if (cooperative)
            rd_kafka_incremental_assign(rk, list);
        else
            rd_kafka_assign(rk, list);
        return;
    }
    /* Revoke: commit what we hold for these partitions before another
     * member starts from the stored positions; when they were lost, the
     * fence would reject our commit anyway, so drop instead. */
    bool lost = rd_kafka_assignment_lost(rk);
    if (src->revoke)
        src->revoke(src->opaque, lost);
    for (int i = 0; i < list->cnt; i++) {
        cdc_log_info("revoked %s[%d]%s", list->elems[i].topic, list->elems[i].partition,
                     lost ? " (lost)" : "");
        drop_part(src, list->elems[i].topic, list->elems[i].partition);
        cdc_source_drop_buffered(src, list->elems[i].topic, list->elems[i].partition);
        if (src->commit_next)
            rd_kafka_topic_partition_list_del(src->commit_next, list->elems[i].topic,
                                              list->elems[i].partition);
    }
    if (cooperative)
        rd_kafka_incremental_unassign(rk, list);
    else
        rd_kafka_assign(rk, NULL);
}

/* Served inside rd_kafka_consume_batch_queue(), which goes on taking records
 * into its array after a callback (librdkafka 2.0.2: a rebalance does not end
 * the call): a record taken before a revoke and handed out after it, or one
 * fetched before a revoke and a new assignment of the same partition in the
 * same call, could not be told from a fresh one. So inside the call the
 * rebalance is only noted, and handled as soon as the call returned, before
 * any record is handed out (fetch()); the group waits for our (un)assign
 * meanwhile, so nothing else of the group happens before it. Outside the
 * call (rd_kafka_consumer_close()) it is handled at once. */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
    cdc_source_t *src = opaque;
    (void)rk;
    if (!src->in_fetch) {
        rebalance_handle(src, err, list);
        return;
    }
    if (src->npend == src->pendcap) {
        src->pendcap = src->pendcap ? src->pendcap * 2 : 4;
        src->pend = realloc(src->pend, src->pendcap * sizeof(*src->pend));
        if (!src->pend)
            abort();
    }
    src->pend[src->npend++] = (pending_rebalance_t){err, rd_kafka_topic_partition_list_copy(list)};
    rd_kafka_queue_yield(src->q); /* end a wait for the first record */
}

/* Send the coalesced advisory commit unless one is still in flight. */
static void commit_kick(cdc_source_t *src)
{
    if (src->commit_inflight || src->closing || !src->commit_next)
        return;
    if (!src->commit_next->cnt || rd_kafka_assignment_lost(src->rk)) {
        /* Nothing to send, or the positions belong to a lost assignment
         * (the commit would be refused, and would only hold up the rejoin). */
        rd_kafka_topic_partition_list_destroy(src->commit_next);
        src->commit_next = NULL;
        return;
    }
    if (rd_kafka_commit(src->rk, src->commit_next, 1) == RD_KAFKA_RESP_ERR_NO_ERROR)
        src->commit_inflight = true;
    rd_kafka_topic_partition_list_destroy(src->commit_next);
    src->commit_next = NULL;
}

/* Served from rd_kafka_consumer_poll() on this thread, like the rebalance
 * callback. Failures cost nothing: the state table is the truth. */
static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    cdc_source_t *src = opaque;
    (void)rk;
    (void)offsets;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        cdc_log_debug("advisory offset commit: %s", rd_kafka_err2str(err));
    src->commit_inflight = false;
    commit_kick(src);
}

static void set_kafka_up(cdc_source_t *src, bool up, int nup)
{
    if (up && !src->kafka_up && src->kafka_seen)
        cdc_log_info("Kafka: %d broker(s) of %s answer again", nup, src->brokers);
    src->kafka_up = up;
    if (up)
        src->kafka_seen = true;
}

/* librdkafka's statistics (JSON, statistics.interval.ms): a broker whose
 * state is "UP" has a working connection. Bootstrap ("configured") and
 * cluster ("learned") brokers count; the internal and logical ones (e.g.
 * the group coordinator's alias) do not connect by themselves. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    cdc_source_t *src = opaque;
    (void)rk;
    json_t *root = json_loadb(json, json_len, 0, NULL);
    json_t *brokers = root ? json_object_get(root, "brokers") : NULL;
    if (json_is_object(brokers)) {
        int nup = 0;
        const char *name;
        json_t *b;
        json_object_foreach(brokers, name, b)
        {
            const char *source = json_string_value(json_object_get(b, "source"));
            const char *state = json_string_value(json_object_get(b, "state"));
            if (source && state && (!strcmp(source, "configured") || !strcmp(source, "learned")) &&
                !strcmp(state, "UP"))
                nup++;
        }
        if (nup > 0)
            set_kafka_up(src, true, nup);
        else if (src->kafka_up) {
            cdc_log_warn("Kafka: no broker of %s is connected (retrying)", src->brokers);
            src->kafka_up = false;
        }
    }
    json_decref(root);
    return 0; /* librdkafka frees json */
}

/* Errors librdkafka cannot tie to a request (served from the poll, like the
 * statistics). Without this callback they were only logged. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    cdc_source_t *src = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        src->down_events++;
        if (src->kafka_up || !(src->kafka_seen || src->down_warned))
            cdc_log_warn("Kafka: all brokers of %s are down (%s; retrying)", src->brokers, reason);
        src->kafka_up = false;
        src->down_warned = true;
        return;
    }
    cdc_log_warn("Kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static int set_prop(rd_kafka_conf_t *c, const char *k, const char *v, char *errstr,
                    size_t errstr_size)
{
    char err[CDC_ERRSTR_SIZE];
    if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "-X %s: %s", k, err);
        return -1;
    }
    return 0;
}

cdc_source_t *cdc_source_new(const cdc_source_conf_t *conf, const cdc_source_positions_t *pos,
                             cdc_source_revoke_cb *revoke, void *opaque, char *errstr,
                             size_t errstr_size)
{
    cdc_source_t *src = calloc(1, sizeof(*src));
    rd_kafka_topic_partition_list_t *subs = NULL;
    char *list = NULL;
    if (!src)
        abort();
    src->pos = *pos;
    src->revoke = revoke;
    src->opaque = opaque;
    src->stop = conf->stop;
    src->skip_gaps = conf->skip_gaps;
    src->gap_cb = conf->gap;
    src->group = strdup(conf->group);
    src->schema = strdup(conf->state_schema ? conf->state_schema : "cdc");
    src->brokers = strdup(conf->brokers);
    if (!src->group || !src->schema || !src->brokers)
        abort();
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char qk[32];
    snprintf(qk, sizeof(qk), "%d", conf->queue_kbytes > 0 ? conf->queue_kbytes : 32768);
    /* Positions live in the target: Kafka must never move them by itself.
     * The fetch queue is bounded so memory does not grow with backlog. */
    if (set_prop(c, "bootstrap.servers", conf->brokers, errstr, errstr_size) ||
        set_prop(c, "group.id", conf->group, errstr, errstr_size) ||
        set_prop(c, "enable.auto.commit", "false", errstr, errstr_size) ||
        set_prop(c, "enable.auto.offset.store", "false", errstr, errstr_size) ||
        /* Never jump over records Kafka no longer has (invariant 8): a
         * fetch outside the log is an error event, handled as a gap. */
        set_prop(c, "auto.offset.reset", "error", errstr, errstr_size) ||
        set_prop(c, "partition.assignment.strategy", "cooperative-sticky", errstr, errstr_size) ||
        set_prop(c, "queued.max.messages.kbytes", qk, errstr, errstr_size) ||
        set_prop(c, "client.id", "cdc-apply", errstr, errstr_size) ||
        /* Broker states for cdc_source_kafka_up (a -X may change it). */
        set_prop(c, "statistics.interval.ms", "1000", errstr, errstr_size))
        goto fail;
    for (size_t i = 0; i < conf->nrk; i++) {
        if (!strcmp(conf->rk_keys[i], "auto.offset.reset")) {
            snprintf(errstr, errstr_size,
                     "-X auto.offset.reset: cdc-apply does not let Kafka move a position (a "
                     "gap would pass silently); use --on-gap skip to read on after a gap");
            goto fail;
        }
        if (set_prop(c, conf->rk_keys[i], conf->rk_vals[i], errstr, errstr_size))
            goto fail;
    }
    rd_kafka_conf_set_log_cb(c, cdc_log_rdkafka_cb);
    rd_kafka_conf_set_rebalance_cb(c, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(c, commit_cb);
    rd_kafka_conf_set_stats_cb(c, stats_cb);
    rd_kafka_conf_set_error_cb(c, error_cb);
    rd_kafka_conf_set_opaque(c, src);
    char err[CDC_ERRSTR_SIZE];
    src->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    if (!src->rk) {
        snprintf(errstr, errstr_size, "cannot create the Kafka consumer: %s", err);
        goto fail;
    }
    c = NULL;
    rd_kafka_poll_set_consumer(src->rk);
    src->q = rd_kafka_queue_get_consumer(src->rk);
    src->bmax = FETCH_MAX;
    src->buf = malloc(FETCH_MAX * sizeof(*src->buf));
    if (!src->q || !src->buf)
        abort();

    subs = rd_kafka_topic_partition_list_new(4);
    list = strdup(conf->topics);
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (*t)
            rd_kafka_topic_partition_list_add(subs, t, RD_KAFKA_PARTITION_UA);
    }
    if (!subs->cnt) {
        snprintf(errstr, errstr_size, "--topics '%s' names no topic", conf->topics);
        goto fail;
    }
    rd_kafka_resp_err_t e = rd_kafka_subscribe(src->rk, subs);
    if (e) {
        snprintf(errstr, errstr_size, "cannot subscribe to '%s': %s", conf->topics,
                 rd_kafka_err2str(e));
        goto fail;
    }
    rd_kafka_topic_partition_list_destroy(subs);
    free(list);
    return src;
fail:
    if (c)
        rd_kafka_conf_destroy(c);
    if (subs)
        rd_kafka_topic_partition_list_destroy(subs);
    free(list);
    cdc_source_destroy(src);
    return NULL;
}

void cdc_source_destroy(cdc_source_t *src)
{
    if (!src)
        return;
    /* Fetched, never handed out: the next owner reads them from the stored
     * positions. */
    for (size_t i = src->bnext; i < src->bn; i++)
        rd_kafka_message_destroy(src->buf[i]);
    src->bn = src->bnext = 0;
    if (src->rk) {
        /* Leave the group cleanly: the revoke callback flushes or drops
         * (its flush still commits to Kafka, once: see commit_kick). */
        rd_kafka_consumer_close(src->rk);
        src->closing = true;
        if (src->q)
            rd_kafka_queue_destroy(src->q);
        /* librdkafka before 2.3.0 (Debian's 2.0.2; issue #4312, fixed by
         * PR #4381) aborts in rd_kafka_destroy with cooperative-sticky when
         * the member had joined (a JoinGroup answer chose the assignor) but
         * no SyncGroup answer had given it an assignment yet: the assignor
         * state it frees is still NULL ("rd_kafka_sticky_assignor_state_
         * destroy: Assertion 'assignor_state' failed"), e.g. on SIGTERM
         * during the first rebalance. Such a member holds no partition and
         * owes no commit, and rd_kafka_consumer_close above has left the
         * group, so nothing is lost by not destroying it: the handle is left
         * to the process exit (this is only called on the way out). The
         * assign callback runs only after the assignor state is set, so
         * after one, destroying is safe. */
        if (src->ever_assigned)
            rd_kafka_destroy(src->rk);
        else
            cdc_log_debug("Kafka: no assignment was received: the consumer handle is left to "
                          "the process exit (librdkafka issue #4312)");
    }
    for (size_t i = 0; i < src->nparts; i++)
        free(src->parts[i].topic);
    free(src->parts);
    for (size_t i = 0; i < src->npend; i++)
        rd_kafka_topic_partition_list_destroy(src->pend[i].list);
    free(src->pend);
    free(src->buf);
    free(src->group);
    free(src->schema);
    free(src->brokers);
    if (src->commit_next)
        rd_kafka_topic_partition_list_destroy(src->commit_next);
    free(src);
}

/* Take what the consumer queue holds, up to src->bmax records, without
 * waiting; when it holds none, wait up to @p timeout_ms for the first one.
 * One call per batch instead of one rd_kafka_consumer_poll() per record:
 * the queue's lock, wake-ups and the poll bookkeeping once per batch. The
 * rebalances the call served are handled after it (see rebalance_cb). */
static void fetch(cdc_source_t *src, int timeout_ms)
{
    uint64_t down = src->down_events;
    src->in_fetch = true;
    ssize_t n = rd_kafka_consume_batch_queue(src->q, 0, src->buf, src->bmax);
    if (n <= 0 && timeout_ms > 0 && !src->npend)
        n = rd_kafka_consume_batch_queue(src->q, timeout_ms, src->buf, 1);
    src->in_fetch = false;
    src->bnext = 0;
    src->bn = n > 0 ? (size_t)n : 0;
    size_t bytes = 0, nrec = 0;
    for (size_t i = 0; i < src->bn; i++)
        if (!src->buf[i]->err) {
            bytes += src->buf[i]->len + src->buf[i]->key_len;
            nrec++;
        }
    if (nrec) {
        /* Records came from a broker, unless it went down after them. */
        if (down == src->down_events)
            set_kafka_up(src, true, 1);
        /* The buffered records are outside queued.max.messages.kbytes:
         * bound them by bytes as well. */
        size_t most = FETCH_BYTES / (bytes / nrec + 1);
        src->bmax = most < 1 ? 1 : most > FETCH_MAX ? FETCH_MAX : most;
    }
    for (size_t i = 0; i < src->npend; i++) {
        rebalance_handle(src, src->pend[i].err, src->pend[i].list);
        rd_kafka_topic_partition_list_destroy(src->pend[i].list);
    }
    src->npend = 0;
}

/* One fetched record or event: the record to apply, or NULL (an event, or
 * a record that is not ours); *event when it was an event. */
static rd_kafka_message_t *take(cdc_source_t *src, rd_kafka_message_t *m, bool *fatal, bool *event)
{
    if (m->err) {
        *event = true;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            return NULL;
        }
        if ((m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
             m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) &&
            m->rkt) {
            /* The position is gone from the log (retention ran while we
             * were behind, or the topic was recreated): never jump. The
             * loop commits the batch, then cdc_source_resolve_gap decides. */
            const char *t = rd_kafka_topic_name(m->rkt);
            part_t *p = cdc_source_find_part(src, t, m->partition);
            if (p && !p->gap) {
                p->gap = true;
                src->ngaps++;
                cdc_log_debug("%s[%d]: %s", t, m->partition, rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            return NULL;
        }
        char fstr[256];
        rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(src->rk, fstr, sizeof(fstr));
        if (ferr) {
            cdc_log_error("fatal Kafka error: %s", fstr);
            *fatal = true;
        } else {
            cdc_log_warn("Kafka: %s%s%s", rd_kafka_message_errstr(m), m->rkt ? " on " : "",
                         m->rkt ? rd_kafka_topic_name(m->rkt) : "");
        }
        /* Topic authorization or unknown-topic errors are not recoverable
         * by waiting, but a missing topic may yet be created: keep going. */
        rd_kafka_message_destroy(m);
        return NULL;
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    part_t *p = cdc_source_find_part(src, topic, m->partition);
    if (!p || m->offset < p->accept_from) {
        /* Fetched before a seek or after a revoke: not ours to apply. */
        rd_kafka_message_destroy(m);
        return NULL;
    }
    p->accept_from = m->offset + 1;
    return m;
}

rd_kafka_message_t *cdc_source_poll(cdc_source_t *src, int timeout_ms, bool *fatal)
{
    if (src->bnext == src->bn)
        fetch(src, timeout_ms);
    while (src->bnext < src->bn) {
        bool event = false;
        rd_kafka_message_t *m = take(src, src->buf[src->bnext++], fatal, &event);
        /* An event returns to the loop before the next record, as when
         * records were polled one by one (a gap is resolved first). */
        if (m || event)
            return m;
    }
    return NULL;
}

void cdc_source_each_partition(cdc_source_t *src,
                               void (*fn)(void *opaque, const char *topic, int32_t partition),
                               void *opaque)
{
    for (size_t i = 0; i < src->nparts; i++)
        fn(opaque, src->parts[i].topic, src->parts[i].partition);
}

int64_t cdc_source_expected(const cdc_source_t *src, const char *topic, int32_t partition)
{
    size_t i = part_index(src, topic, partition);
    return i == SIZE_MAX ? -1 : src->parts[i].stored;
}

void cdc_source_committed(cdc_source_t *src, const cdc_batch_t *b, size_t upto)
{
    if (!src->commit_next)
        src->commit_next = rd_kafka_topic_partition_list_new((int)b->nparts);
    for (size_t i = 0; i < b->nparts; i++) {
        const cdc_part_range_t *r = &b->parts[i];
        int64_t last = -1;
        if (upto >= b->nitems)
            last = r->last_offset;
        else
            for (size_t j = 0; j < upto; j++)
                if (b->items[j].rec.partition == r->partition &&
                    !strcmp(b->items[j].rec.topic, r->topic))
                    last = b->items[j].rec.offset;
        if (last < 0)
            continue;
        part_t *p = cdc_source_find_part(src, r->topic, r->partition);
        if (p)
            p->stored = last + 1;
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(src->commit_next, r->topic, r->partition);
        if (!tp)
            tp = rd_kafka_topic_partition_list_add(src->commit_next, r->topic, r->partition);
        tp->offset = last + 1;
    }
    /* Advisory only (lag tools read it); the state table is the truth, so a
     * failed, skipped or lost commit here costs nothing.
     *
     * One commit in flight at most, later positions coalesced: librdkafka
     * (2.0.2, and the same logic in later versions: rd_kafka_assignment_serve)
     * neither completes an (incremental) unassign nor starts the fetchers of
     * a new assignment while any offset commit is outstanding. One async
     * commit per batch piled up by the hundred while the coordinator was
     * unreachable (seen: "125 offset commits in progress" after a session
     * loss), holding the group in wait-incr-unassign-to-complete and the
     * reassigned partitions unfetched until every one of them had failed. */
    commit_kick(src);
}

static const cdc_part_range_t *batch_range(const cdc_batch_t *b, const part_t *p)
{
    for (size_t i = 0; i < b->nparts; i++)
        if (b->parts[i].partition == p->partition && !strcmp(b->parts[i].topic, p->topic))
            return &b->parts[i];
    return NULL;
}

/* Every assigned partition is checked, not only the batch's: a target that
 * lost acknowledged commits (a crash with synchronous_commit=off) holds
 * older positions than we remember for partitions that may never see
 * another record. Nothing is changed unless the seek succeeded. */
int cdc_source_rewind(cdc_source_t *src, const cdc_batch_t *b, char *errstr, size_t errstr_size)
{
    cdc_err_class_t cls;
    if (src->pos.connect(src->pos.opaque, &cls, errstr, errstr_size) != 0)
        return -1;
    size_t n = src->nparts;
    int64_t *next = calloc(n ? n : 1, sizeof(*next)), *from = calloc(n ? n : 1, sizeof(*from));
    bool *seek = calloc(n ? n : 1, sizeof(*seek));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n + 1);
    int rc = 0;
    if (!next || !from || !seek)
        abort();
    for (size_t i = 0; i < n && rc == 0; i++) {
        part_t *p = &src->parts[i];
        if (src->pos.load(src->pos.opaque, p->topic, p->partition, &next[i], &cls, errstr,
                          errstr_size) != 0) {
            rc = -1;
            break;
        }
        const cdc_part_range_t *r = batch_range(b, p);
        /* Without a stored row, restart where this batch started. */
        from[i] = next[i] >= 0 ? next[i] : (r ? r->first_offset : p->accept_from);
        seek[i] = r || next[i] != p->stored;
        if (seek[i])
            rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = from[i];
    }
    if (rc == 0 && l->cnt) {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(src->rk, l, 10000);
        if (e) {
            snprintf(errstr, errstr_size, "seek failed: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            rc = -1;
        }
        for (int i = 0; rc == 0 && i < l->cnt; i++)
            if (l->elems[i].err) {
                snprintf(errstr, errstr_size, "seek %s[%d] failed: %s", l->elems[i].topic,
                         l->elems[i].partition, rd_kafka_err2str(l->elems[i].err));
                rc = -1;
            }
    }
    /* Whatever the seek did: records fetched before it are not handed out
     * (they would pass the accepted position set below, skipping the ones
     * before them). */
    for (int i = 0; i < l->cnt; i++)
        cdc_source_drop_buffered(src, l->elems[i].topic, l->elems[i].partition);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (seek[i]) {
            src->parts[i].stored = next[i];
            src->parts[i].accept_from = from[i];
            if (!batch_range(b, &src->parts[i]))
                cdc_log_warn("%s[%d]: the target holds position %lld: re-reading from there",
                             src->parts[i].topic, src->parts[i].partition, (long long)from[i]);
        }
    rd_kafka_topic_partition_list_destroy(l);
    free(next);
    free(from);
    free(seek);
    return rc;
}

rd_kafka_t *cdc_source_rk(cdc_source_t *src)
{
    return src->rk;
}

size_t cdc_source_assigned(const cdc_source_t *src)
{
    return src->nparts;
}

bool cdc_source_kafka_up(const cdc_source_t *src)
{
    return src->kafka_up;
}

bool cdc_source_kafka_seen(const cdc_source_t *src)
{
    return src->kafka_seen;
}

const char *cdc_source_brokers(const cdc_source_t *src)
{
    return src->brokers;
}

uint64_t cdc_source_rebalances(const cdc_source_t *src)
{
    return src->rebalances;
}

void cdc_source_each_lag(cdc_source_t *src,
                         void (*fn)(void *opaque, const char *topic, int32_t partition,
                                    int64_t lag),
                         void *opaque)
{
    for (size_t i = 0; i < src->nparts; i++) {
        part_t *p = &src->parts[i];
        int64_t lo = 0, hi = 0;
        if (rd_kafka_get_watermark_offsets(src->rk, p->topic, p->partition, &lo, &hi))
            continue;
        int64_t pos = p->stored >= 0 ? p->stored : lo;
        fn(opaque, p->topic, p->partition, hi > pos ? hi - pos : 0);
    }
}
