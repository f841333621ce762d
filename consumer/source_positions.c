/* Where an assigned partition starts reading: its stored position in the
 * target, which must still be in the log (invariant 8). A position gone
 * (retention ran, topic recreated) stops us (--on-gap fail) or is skipped
 * to the log start, logged and recorded (--on-gap skip); a fetch that
 * runs into one later is resolved here too. */
#include "source_int.h"

#include "cdc/log.h"
#include "cdc/state.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Log start and end of a partition, asking the leader (a cached value may
 * be stale after a recreation). Retries while the broker does not answer,
 * a few times only: the fetch (auto.offset.reset=error) still catches a
 * gap when this check could not be made. */
static rd_kafka_resp_err_t watermarks(cdc_source_t *src, const char *topic, int32_t partition,
                                      int64_t *lo, int64_t *hi)
{
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int attempt = 0; attempt < 3; attempt++) {
        e = rd_kafka_query_watermark_offsets(src->rk, topic, partition, lo, hi, 5000);
        if (!e || (src->stop && *src->stop))
            break;
    }
    return e;
}

typedef enum gap_result {
    GAP_NONE = 0,
    GAP_SKIPPED = 1,
    GAP_STOP = -1,
    GAP_RETRY = -2
} gap_result_t;

/* Is position @p pos (the stored next offset; -1 none) of a partition still
 * in its log? GAP_NONE: yes (or cannot tell now), read from pos.
 * GAP_SKIPPED: no, and --on-gap skip moved the stored position to the log
 * start (*to) and recorded the gap in the same statement. GAP_STOP: no,
 * src->error says what to do. GAP_RETRY: the target did not answer (errstr). */
static gap_result_t check_gap(cdc_source_t *src, const char *topic, int32_t partition, int64_t pos,
                              int64_t *to, char *errstr, size_t errstr_size)
{
    int64_t lo = 0, hi = 0;
    *to = pos;
    rd_kafka_resp_err_t e = watermarks(src, topic, partition, &lo, &hi);
    if (e) {
        cdc_log_warn("%s[%d]: cannot read the log start and end (%s): not checked for a gap "
                     "now; a fetch outside the log still stops",
                     topic, partition, rd_kafka_err2str(e));
        return GAP_NONE;
    }
    if (pos >= lo && pos <= hi)
        return GAP_NONE;
    char what[300];
    if (pos < lo)
        snprintf(what, sizeof what,
                 "stored position %lld is below the log start %lld (log end %lld): retention "
                 "removed offsets %lld..%lld before they reached the target",
                 (long long)pos, (long long)lo, (long long)hi, (long long)pos, (long long)lo - 1);
    else
        snprintf(what, sizeof what,
                 "stored position %lld is above the log end %lld (log start %lld): the topic was "
                 "deleted and recreated, or the state belongs to another cluster",
                 (long long)pos, (long long)hi, (long long)lo);
    if (!src->skip_gaps) {
        snprintf(src->error, sizeof src->error,
                 "%s[%d]: %s: stopping; re-snapshot the tables fed by this topic and delete the "
                 "group's rows of this topic from %s.offsets, or restart with --on-gap skip to "
                 "read on from the log start (the gap is logged and recorded in %s.gaps)",
                 topic, partition, what, src->schema, src->schema);
        return GAP_STOP;
    }
    cdc_state_gap_t g = {src->group, topic, partition, pos, lo, lo, hi};
    cdc_err_class_t cls = CDC_ERR_NONE;
    int rc = -1;
    if (src->pos.connect(src->pos.opaque, &cls, errstr, errstr_size) == 0)
        rc = src->pos.record_gap(src->pos.opaque, &g, &cls, errstr, errstr_size);
    else
        cls = CDC_ERR_RETRIABLE; /* no connection: try again */
    if (rc == 1)
        snprintf(errstr, errstr_size, "%s[%d]: the stored position moved while recording a gap",
                 topic, partition);
    if (rc != 0) {
        if (rc < 0 && cls != CDC_ERR_RETRIABLE) {
            snprintf(src->error, sizeof src->error, "%s[%d]: recording a gap in %s.gaps: %s", topic,
                     partition, src->schema, errstr);
            return GAP_STOP;
        }
        return GAP_RETRY;
    }
    cdc_log_warn("%s[%d]: %s: skipping to offset %lld (--on-gap skip; recorded in %s.gaps)", topic,
                 partition, what, (long long)lo, src->schema);
    if (src->gap_cb)
        src->gap_cb(src->opaque, topic, partition, pos, lo);
    *to = lo;
    return GAP_SKIPPED;
}

/* Read stored positions of the partitions in @p list and set them as the
 * list's offsets; retries until the database answers (the group waits for
 * us, and starting anywhere else could skip or repeat changes). */
int cdc_source_load_positions(cdc_source_t *src, rd_kafka_topic_partition_list_t *list)
{
    char err[CDC_ERRSTR_SIZE];
    for (int i = 0; i < list->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &list->elems[i];
        int64_t next = -1;
        int attempt = 0;
        for (;;) {
            cdc_err_class_t cls = CDC_ERR_NONE;
            if (src->pos.connect(src->pos.opaque, &cls, err, sizeof(err)) == 0 &&
                src->pos.load(src->pos.opaque, tp->topic, tp->partition, &next, &cls, err,
                              sizeof(err)) == 0)
                break;
            src->pos.reset(src->pos.opaque);
            if (src->stop && *src->stop)
                return -1; /* shutting down: take nothing */
            if (attempt++ % 10 == 0)
                cdc_log_warn("reading the stored position of %s[%d]: %s (retrying)", tp->topic,
                             tp->partition, err);
            poll(NULL, 0, attempt < 10 ? 100 * attempt : 1000);
        }
        /* A stored position must still be in the log (invariant 8). */
        while (next >= 0) {
            int64_t to = next;
            gap_result_t g = check_gap(src, tp->topic, tp->partition, next, &to, err, sizeof(err));
            if (g == GAP_NONE || g == GAP_SKIPPED) {
                next = to;
                break;
            }
            if (g == GAP_STOP)
                return -1;
            src->pos.reset(src->pos.opaque);
            if (src->stop && *src->stop)
                return -1;
            cdc_log_warn("%s (retrying)", err);
            poll(NULL, 0, 1000);
            /* Read the position again: it may have moved. */
            cdc_err_class_t cls = CDC_ERR_NONE;
            if (src->pos.connect(src->pos.opaque, &cls, err, sizeof(err)) != 0 ||
                src->pos.load(src->pos.opaque, tp->topic, tp->partition, &next, &cls, err,
                              sizeof(err)) != 0)
                src->pos.reset(src->pos.opaque);
        }
        /* No stored position: the earliest record still in the log. That is
         * the normal first start; BEGINNING is resolved by the broker, so
         * auto.offset.reset=error does not apply to it. */
        tp->offset = next >= 0 ? next : RD_KAFKA_OFFSET_BEGINNING;
        part_t *p = cdc_source_find_part(src, tp->topic, tp->partition);
        if (!p) {
            if (src->nparts == src->cap) {
                src->cap = src->cap ? src->cap * 2 : 16;
                src->parts = realloc(src->parts, src->cap * sizeof(*src->parts));
                if (!src->parts)
                    abort();
            }
            p = &src->parts[src->nparts++];
            p->topic = strdup(tp->topic);
            p->partition = tp->partition;
            p->gap = false;
        }
        p->stored = next;
        p->accept_from = next >= 0 ? next : 0;
        if (p->gap) /* checked above, at the new position */
            src->ngaps--;
        p->gap = false;
        cdc_log_info("assigned %s[%d] from %s %lld", tp->topic, tp->partition,
                     next >= 0 ? "stored offset" : "the beginning",
                     (long long)(next >= 0 ? next : 0));
    }
    return 0;
}

const char *cdc_source_error(const cdc_source_t *src)
{
    return src->error[0] ? src->error : NULL;
}

bool cdc_source_gap_pending(const cdc_source_t *src)
{
    return src->ngaps > 0;
}

int cdc_source_resolve_gap(cdc_source_t *src, bool *retriable, char *errstr, size_t errstr_size)
{
    *retriable = false;
    part_t *p = NULL;
    for (size_t i = 0; i < src->nparts && !p; i++)
        if (src->parts[i].gap)
            p = &src->parts[i];
    if (!p) {
        src->ngaps = 0;
        return 0;
    }
    /* The open batch is committed: the stored position is where reading
     * stopped (or, with nothing stored yet, where it started). */
    int64_t pos = p->stored >= 0 ? p->stored : p->accept_from, to = pos;
    gap_result_t g = check_gap(src, p->topic, p->partition, pos, &to, errstr, errstr_size);
    if (g == GAP_STOP) {
        snprintf(errstr, errstr_size, "%s", src->error);
        return -1;
    }
    if (g == GAP_RETRY) {
        *retriable = true;
        return -1;
    }
    if (g == GAP_SKIPPED)
        p->stored = to; /* the target holds it now, whatever the seek does */
    /* Fetching stopped at the error, and librdkafka refuses to seek a
     * partition in that state (Local: Erroneous state): take it out of the
     * assignment and put it back at the position, in the log after all
     * (e.g. a stale leader's answer) or after the gap. */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = to;
    rd_kafka_error_t *e = NULL;
    if (!strcmp(rd_kafka_rebalance_protocol(src->rk), "COOPERATIVE")) {
        e = rd_kafka_incremental_unassign(src->rk, l);
        if (!e)
            e = rd_kafka_incremental_assign(src->rk, l);
    } else {
        e = rd_kafka_seek_partitions(src->rk, l, 10000);
    }
    int rc = 0;
    cdc_source_drop_buffered(src, p->topic, p->partition); /* read before the restart */
    if (e || l->elems[0].err) {
        snprintf(errstr, errstr_size, "%s[%d]: restarting the fetch at %lld failed: %s", p->topic,
                 p->partition, (long long)to,
                 e ? rd_kafka_error_string(e) : rd_kafka_err2str(l->elems[0].err));
        *retriable = true;
        rc = -1;
    } else {
        p->accept_from = to;
        p->gap = false;
        src->ngaps--;
    }
    if (e)
        rd_kafka_error_destroy(e);
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}
