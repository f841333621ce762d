/* cdc-apply --transactions: the loop's side of source-transaction-atomic
 * apply. Every decoded record goes to the assembler (txn_asm.h), which
 * hands whole source transactions to the open batch in commit order; the
 * batch is cut between records only after a record was handled, so a
 * batch (one target transaction) holds whole source transactions, with
 * the positions of every partition they touched.
 *
 * One member applies per group: a transaction's events may sit in
 * partitions another member would own. The member that holds the target's
 * advisory lock (keyed by the group) subscribes, so the group has one
 * member and it owns every partition; the others wait for the lock before
 * they join ("standing by"). A member killed -9 loses its session and the
 * lock with it; a standby takes over from the stored positions. */
#include "app_int.h"

#include "cdc/log.h"
#include "cdc/pg.h"
#include "cdc/util.h"

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void free_msg(void *m)
{
    rd_kafka_message_destroy(m);
}

/* A named list must include a transaction topic; a regex is checked once
 * its subscription resolved (regex_check()). */
static int check_topics(app_t *a)
{
    const char *topics = cdc_config_get(a->cfg, "topics");
    if (topics[0] == '^') {
        cdc_log_info("--transactions with a regex --topics (%s): once partitions are assigned, "
                     "one of them must be a <topic.prefix>.transaction topic",
                     topics);
        return 0;
    }
    a->txn_regex_ticks = -1;
    const char *s = topics;
    while (*s) {
        size_t n = strcspn(s, ",");
        const char *suf = ".transaction";
        size_t sl = strlen(suf);
        if ((n >= sl && !strncmp(s + n - sl, suf, sl)) ||
            (n == 11 && !strncmp(s, "transaction", n)))
            return 0;
        s += n;
        if (*s)
            s++;
    }
    char msg[1200];
    snprintf(msg, sizeof(msg),
             "--transactions needs the connector's transaction topic in --topics (%s): add "
             "<topic.prefix>.transaction (Debezium provide.transaction.metadata=true)",
             topics);
    cdc_app_fail(a, 2, msg);
    return -1;
}

static bool coll_read(void *opaque, const char *collection);

/* One try at the lock: 1 held, 0 held by another member, -1 error. */
static int try_lock(app_t *a, char *err, size_t errsz)
{
    if (!a->txn_lock) {
        a->txn_lock =
            cdc_pg_connect(cdc_config_get(a->cfg, "target"), "cdc-apply (member lock)", err, errsz);
        if (!a->txn_lock)
            return -1;
    }
    const char *params[1] = {cdc_config_get(a->cfg, "group")};
    cdc_err_class_t cls;
    PGresult *res =
        cdc_pg_exec_params(a->txn_lock, "SELECT pg_try_advisory_lock(1667523700, hashtext($1))", 1,
                           params, NULL, NULL, PGRES_TUPLES_OK, &cls, err, errsz);
    if (!res) {
        PQfinish(a->txn_lock);
        a->txn_lock = NULL;
        return -1;
    }
    int got = !strcmp(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    return got;
}

int cdc_app_txn_setup(app_t *a)
{
    if (!cdc_config_get_bool(a->cfg, "transactions"))
        return 0;
    if (check_topics(a) != 0)
        return -1;
    char err[CDC_ERRSTR_SIZE];
    bool said = false;
    int attempt = 0;
    for (;;) {
        int rc = try_lock(a, err, sizeof(err));
        if (rc == 1)
            break;
        if (rc < 0) {
            cdc_log_warn("--transactions: taking the member lock: %s (retrying)", err);
            if (!cdc_app_backoff(a, ++attempt, "postgres", "member_lock")) {
                cdc_app_give_up(a, 2, err);
                return -1;
            }
            continue;
        }
        if (!said)
            cdc_log_info("--transactions: another member of group %s is active (it holds the "
                         "group's lock on the target): standing by to take over",
                         cdc_config_get(a->cfg, "group"));
        said = true;
        if (a->http)
            cdc_http_set_ready(a->http, false, "standing by (--transactions)");
        for (int i = 0; i < 10 && !cdc_app_stop; i++) {
            if (a->http)
                cdc_http_tick(a->http);
            poll(NULL, 0, 50);
        }
        if (cdc_app_stop) {
            a->stopping = true;
            return -1;
        }
    }
    cdc_log_info("--transactions: active member of group %s: applying source transactions "
                 "whole (--max-transaction-bytes %lld)",
                 cdc_config_get(a->cfg, "group"),
                 (long long)cdc_config_get_int(a->cfg, "max-transaction-bytes"));
    a->batch.runs = a->inflight.runs = true;
    /* Every batch checks, before its COMMIT, that this session still holds
     * the lock (a lost session must not let two members commit). */
    cdc_writer_set_member_lock(a->wq, PQbackendPID(a->txn_lock));
    cdc_writer_set_member_lock(a->w, PQbackendPID(a->txn_lock));
    a->txa = cdc_txn_asm_new((size_t)cdc_config_get_int(a->cfg, "max-transaction-bytes"), free_msg);
    cdc_txn_asm_set_known(a->txa, coll_read, a);
    return 0;
}

static void emit(void *opaque, cdc_txn_rec_t *r, cdc_txn_release_t how)
{
    app_t *a = opaque;
    if (a->exit_code || a->stopping) {
        /* Stopping: nothing more goes into a batch (never committed). */
        rd_kafka_message_destroy(r->msg);
        free((void *)(uintptr_t)r->rec.headers);
        cdc_event_destroy(r->ev);
        free(r->error);
        return;
    }
    if (r->bad) {
        /* Refused by the assembler: a bad record like any other. */
        cdc_apply_metrics_error(a->am, "decode", "poison");
        if (!a->tolerance_all) {
            char msg[1000];
            snprintf(msg, sizeof(msg),
                     "%s: stopping (--errors-tolerance none); fix the record's producer, or use "
                     "--errors-tolerance all to dead-letter it",
                     r->error);
            rd_kafka_message_destroy(r->msg);
            free((void *)(uintptr_t)r->rec.headers);
            cdc_event_destroy(r->ev);
            free(r->error);
            cdc_app_fail(a, 1, msg);
            return;
        }
        cdc_log_warn("%s: dead-lettered (--errors-tolerance all)", r->error);
        cdc_event_destroy(r->ev);
        cdc_app_add_decoded(a, r->msg, &r->rec, NULL, r->error, false);
        return;
    }
    if (how == CDC_TXN_MEMBER && r->ev && r->ev->kind == CDC_KIND_TXN)
        a->txn_in_batch++; /* the END of a whole transaction */
    cdc_app_add_decoded(a, r->msg, &r->rec, r->ev, r->error, how == CDC_TXN_DUPLICATE);
}

void cdc_app_txn_add(app_t *a, rd_kafka_message_t *m, const cdc_record_t *rec, cdc_event_t *ev,
                     char *dead)
{
    cdc_txn_rec_t r;
    memset(&r, 0, sizeof(r));
    r.msg = m;
    r.rec = *rec;
    r.ev = ev;
    r.error = dead;
    r.bytes = m->len + m->key_len + 128; /* plus the decoded event, roughly */
    cdc_txn_asm_add(a->txa, &r, cdc_now_mono_ms());
    cdc_txn_asm_set_assigned(a->txa, cdc_source_assigned(a->src));
    cdc_txn_asm_release(a->txa, emit, a);
}

typedef struct topics_seen {
    size_t parts, txn;
} topics_seen_t;

static void see_topic(void *opaque, const char *topic, int32_t partition, int64_t lag)
{
    topics_seen_t *s = opaque;
    (void)partition;
    (void)lag;
    s->parts++;
    s->txn += cdc_ends_with(topic, ".transaction") || !strcmp(topic, "transaction");
}

/* A regex --topics that resolved to partitions, none of a transaction
 * topic, for 3 ticks in a row (a partition's watermarks may come late):
 * no source transaction could ever complete. */
static void regex_check(app_t *a)
{
    if (a->txn_regex_ticks < 0)
        return;
    topics_seen_t s = {0, 0};
    cdc_source_each_lag(a->src, see_topic, &s);
    if (s.txn) {
        a->txn_regex_ticks = -1;
        return;
    }
    a->txn_regex_ticks = s.parts ? a->txn_regex_ticks + 1 : 0;
    if (a->txn_regex_ticks < 3)
        return;
    char msg[1200];
    snprintf(msg, sizeof(msg),
             "--transactions: the regex --topics %s matched %zu partitions but no "
             "<topic.prefix>.transaction topic: make it match the connector's transaction topic "
             "(Debezium provide.transaction.metadata=true)",
             cdc_config_get(a->cfg, "topics"), s.parts);
    cdc_app_fail(a, 2, msg);
}

typedef struct coll_read {
    const char *collection;
    bool found;
} coll_read_t;

static void see_coll(void *opaque, const char *topic, int32_t partition, int64_t lag)
{
    coll_read_t *c = opaque;
    (void)partition;
    (void)lag;
    /* Debezium's default topic of a collection: <prefix>.<collection>. */
    size_t tl = strlen(topic), cl = strlen(c->collection);
    if (tl > cl && topic[tl - cl - 1] == '.' && !strcmp(topic + tl - cl, c->collection))
        c->found = true;
}

/* Whether an assigned topic carries @p collection (by Debezium's topic
 * naming; a routed topic is not recognised, and its transaction waits). */
static bool coll_read(void *opaque, const char *collection)
{
    app_t *a = opaque;
    coll_read_t c = {collection, false};
    cdc_source_each_lag(a->src, see_coll, &c);
    return c.found;
}

void cdc_app_txn_tick(app_t *a, int64_t now)
{
    if (!a->txa)
        return;
    regex_check(a);
    cdc_txn_stats_t st;
    cdc_txn_asm_stats(a->txa, now, &st);
    cdc_gauge_set(cdc_apply_gauge(a->reg, CDC_MG_TXN_OPEN, NULL), (double)st.open);
    cdc_gauge_set(cdc_apply_gauge(a->reg, CDC_MG_TXN_OPEN_BYTES, NULL), (double)st.held_bytes);
    cdc_gauge_set(cdc_apply_gauge(a->reg, CDC_MG_TXN_OLDEST_AGE, NULL),
                  (double)st.oldest_age_ms / 1000.0);
    cdc_counter_t *gu = cdc_apply_counter(a->reg, CDC_MC_TXN_GIVEN_UP, NULL);
    if (st.given_up > a->txn_given_up_seen)
        cdc_counter_add(gu, (double)(st.given_up - a->txn_given_up_seen));
    a->txn_given_up_seen = st.given_up;
    cdc_counter_t *pa = cdc_apply_counter(a->reg, CDC_MC_TXN_PARTIAL, NULL);
    if (st.partial > a->txn_partial_seen)
        cdc_counter_add(pa, (double)(st.partial - a->txn_partial_seen));
    a->txn_partial_seen = st.partial;
    cdc_apply_counter(a->reg, CDC_MC_TXN_APPLIED, NULL); /* present from the start */
    cdc_txn_asm_warn_stalled(a->txa, now, 30000);
    /* The lock lives with its session: without it another member may be
     * active now. Leave; a restart stands by or takes over. */
    if (a->txn_lock) {
        struct pollfd pfd = {PQsocket(a->txn_lock), POLLIN, 0};
        if (pfd.fd >= 0 && poll(&pfd, 1, 0) > 0)
            PQconsumeInput(a->txn_lock);
        if (PQstatus(a->txn_lock) != CONNECTION_OK)
            cdc_app_fail(a, 3,
                         "--transactions: the connection that holds the group's member lock "
                         "closed (e.g. the target restarted): exiting 3, so that only one member "
                         "applies (a restart, as the systemd unit's Restart=on-failure does, "
                         "stands by or takes over; nothing past the stored positions was "
                         "committed)");
    }
}

bool cdc_app_txn_idle_open(app_t *a, int64_t now)
{
    if (!a->txa)
        return false;
    cdc_txn_stats_t st;
    cdc_txn_asm_stats(a->txa, now, &st);
    if (!st.open)
        return false;
    char oldest[600], msg[900];
    cdc_txn_asm_describe_oldest(a->txa, now, oldest, sizeof(oldest));
    snprintf(msg, sizeof(msg),
             "--exit-on-idle: no records for %lld s but %zu source transaction(s) still open, "
             "the oldest %s: exiting without applying them (subscribe the transaction topic and "
             "every table they touch; a restart resumes at the stored positions)",
             (long long)(a->idle_ms / 1000), st.open, oldest);
    cdc_app_fail(a, 1, msg);
    return true;
}

static void count_held(void *opaque, const char *topic, int32_t partition, int64_t first)
{
    (void)topic;
    (void)partition;
    (void)first;
    (*(size_t *)opaque)++;
}

size_t cdc_app_txn_held_count(const app_t *a)
{
    size_t n = 0;
    if (a->txa)
        cdc_txn_asm_each_held(a->txa, count_held, &n);
    return n;
}

static void add_held(void *opaque, const char *topic, int32_t partition, int64_t first)
{
    cdc_batch_t *m = opaque;
    for (size_t i = 0; i < m->nparts; i++)
        if (m->parts[i].partition == partition && !strcmp(m->parts[i].topic, topic))
            return; /* a batch's range starts earlier */
    cdc_part_range_t *p = &m->parts[m->nparts++];
    memset(p, 0, sizeof(*p));
    p->topic = (char *)(uintptr_t)topic; /* borrowed: the caller never frees it */
    p->partition = partition;
    p->first_offset = p->last_offset = first;
    p->expected_next = -1;
}

void cdc_app_txn_held_parts(const app_t *a, cdc_batch_t *m)
{
    if (a->txa)
        cdc_txn_asm_each_held(a->txa, add_held, m);
}

void cdc_app_txn_reset(app_t *a)
{
    if (!a->txa)
        return;
    cdc_txn_asm_reset(a->txa);
    a->txn_in_batch = a->txn_in_flight = 0;
}

void cdc_app_txn_handed_off(app_t *a)
{
    a->txn_in_flight = a->txn_in_batch;
    a->txn_in_batch = 0;
}

void cdc_app_txn_committed(app_t *a, const cdc_batch_t *b)
{
    if (!a->txa)
        return;
    uint64_t *n = b == &a->inflight ? &a->txn_in_flight : &a->txn_in_batch;
    cdc_counter_add(cdc_apply_counter(a->reg, CDC_MC_TXN_APPLIED, NULL), (double)*n);
    *n = 0;
}

void cdc_app_txn_teardown(app_t *a)
{
    cdc_txn_asm_destroy(a->txa);
    a->txa = NULL;
    if (a->txn_lock)
        PQfinish(a->txn_lock);
    a->txn_lock = NULL;
}

void cdc_app_txn_isolated(app_t *a, const cdc_batch_t *b, const bool *had_error)
{
    if (!a->txa)
        return;
    for (size_t i = 0; i < b->nitems; i++) {
        const cdc_item_t *it = &b->items[i];
        if (had_error[i] || !it->error || !it->ev || !it->ev->txn_id)
            continue;
        bool seen = false; /* one count per transaction */
        for (size_t j = 0; j < i && !seen; j++) {
            const cdc_item_t *o = &b->items[j];
            seen = !had_error[j] && o->error && o->ev && o->ev->txn_id &&
                   !strcmp(o->ev->txn_id, it->ev->txn_id);
        }
        if (seen)
            continue;
        cdc_log_warn("transaction %s: applied without its event %s[%d]@%lld, which the target "
                     "refused (dead-lettered, --errors-tolerance all); its row in the dead "
                     "letters holds it (cdc_transactions_partial_total)",
                     it->ev->txn_id, it->rec.topic, (int)it->rec.partition,
                     (long long)it->rec.offset);
        cdc_counter_inc(cdc_apply_counter(a->reg, CDC_MC_TXN_PARTIAL, NULL));
    }
}
