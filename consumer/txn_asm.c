/* --transactions: the assembler (txn_asm.h). Per partition a queue of
 * held records in offset order; per open transaction what arrived of it
 * (distinct total_order values), its END and its bytes; a ring of the
 * last transactions released or given up, to recognise re-deliveries. */
#include "txn_asm_int.h"

#include "cdc/log.h"
#include "cdc/util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why a transaction is given up: its own bytes, all open ones' bytes, or
 * its END refused (it will never be whole). */
enum { GU_OWN, GU_ALL, GU_REFUSED };
static void give_up(cdc_txn_asm_t *a, txn_t *t, int why);

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

cdc_txn_asm_t *cdc_txn_asm_new(size_t max_bytes, void (*free_msg)(void *msg))
{
    cdc_txn_asm_t *a = calloc(1, sizeof(*a));
    if (!a)
        abort();
    a->max_bytes = max_bytes;
    a->free_msg = free_msg;
    a->assigned = SIZE_MAX;
    a->nbuckets = 256;
    a->buckets = calloc(a->nbuckets, sizeof(*a->buckets));
    if (!a->buckets)
        abort();
    return a;
}

static void rec_free(cdc_txn_asm_t *a, cdc_txn_rec_t *r)
{
    if (r->msg && a->free_msg)
        a->free_msg(r->msg);
    free((void *)(uintptr_t)r->rec.headers);
    cdc_event_destroy(r->ev);
    free(r->error);
    free(r);
}

static void txn_free(txn_t *t)
{
    txn_coll_free(t);
    free(t->id);
    free(t->seen);
    free(t);
}

static txn_t *txn_find(const cdc_txn_asm_t *a, const char *id)
{
    for (txn_t *t = a->buckets[hash_str(id) % a->nbuckets]; t; t = t->next)
        if (!strcmp(t->id, id))
            return t;
    return NULL;
}

static void txn_grow(cdc_txn_asm_t *a)
{
    size_t nb = a->nbuckets * 2;
    txn_t **b = calloc(nb, sizeof(*b));
    if (!b)
        abort();
    for (size_t i = 0; i < a->nbuckets; i++)
        for (txn_t *t = a->buckets[i], *nx; t; t = nx) {
            nx = t->next;
            size_t h = hash_str(t->id) % nb;
            t->next = b[h];
            b[h] = t;
        }
    free(a->buckets);
    a->buckets = b;
    a->nbuckets = nb;
}

static txn_t *txn_get(cdc_txn_asm_t *a, const char *id, int64_t now_ms)
{
    txn_t *t = txn_find(a, id);
    if (t)
        return t;
    if (a->ntxn >= a->nbuckets)
        txn_grow(a);
    t = calloc(1, sizeof(*t));
    if (!t)
        abort();
    t->id = cdc_xstrdup(id);
    t->count = -1;
    t->first_ms = now_ms;
    size_t h = hash_str(id) % a->nbuckets;
    t->next = a->buckets[h];
    a->buckets[h] = t;
    a->ntxn++;
    return t;
}

static void txn_remove(cdc_txn_asm_t *a, txn_t *t)
{
    for (txn_t **pp = &a->buckets[hash_str(t->id) % a->nbuckets]; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            a->ntxn--;
            txn_free(t);
            return;
        }
}

static const done_t *done_find(const cdc_txn_asm_t *a, const char *id)
{
    for (size_t i = 0; i < NDONE; i++)
        if (a->done[i].id && !strcmp(a->done[i].id, id))
            return &a->done[i];
    return NULL;
}

static void done_add(cdc_txn_asm_t *a, const char *id, int64_t count, bool given_up)
{
    done_t *d = &a->done[a->done_pos];
    free(d->id);
    d->id = cdc_xstrdup(id);
    d->count = count;
    d->given_up = given_up;
    a->done_pos = (a->done_pos + 1) % NDONE;
}

static pq_t *part_get(cdc_txn_asm_t *a, const char *topic, int32_t partition)
{
    if (a->last_part < a->nparts && a->parts[a->last_part].partition == partition &&
        !strcmp(a->parts[a->last_part].topic, topic))
        return &a->parts[a->last_part];
    for (size_t i = 0; i < a->nparts; i++)
        if (a->parts[i].partition == partition && !strcmp(a->parts[i].topic, topic)) {
            a->last_part = i;
            return &a->parts[i];
        }
    if (a->nparts == a->parts_cap) {
        a->parts_cap = a->parts_cap ? a->parts_cap * 2 : 8;
        a->parts = cdc_xrealloc(a->parts, a->parts_cap * sizeof(*a->parts));
    }
    pq_t *p = &a->parts[a->nparts];
    memset(p, 0, sizeof(*p));
    p->topic = cdc_xstrdup(topic);
    p->partition = partition;
    a->last_part = a->nparts++;
    return p;
}

static void pq_push(pq_t *p, cdc_txn_rec_t *r)
{
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 64;
        cdc_txn_rec_t **q = malloc(nc * sizeof(*q));
        if (!q)
            abort();
        for (size_t i = 0; i < p->n; i++)
            q[i] = pq_at(p, i);
        free(p->q);
        p->q = q;
        p->head = 0;
        p->cap = nc;
    }
    p->q[(p->head + p->n) % p->cap] = r;
    p->n++;
    p->bytes += r->bytes;
}

static cdc_txn_rec_t *pq_pop(cdc_txn_asm_t *a, pq_t *p)
{
    cdc_txn_rec_t *r = p->q[p->head];
    p->head = (p->head + 1) % p->cap;
    p->n--;
    p->bytes -= r->bytes;
    if (r->txn_)
        ((txn_t *)r->txn_)->held--;
    a->held_bytes -= r->bytes;
    a->held_records--;
    return r;
}

/* Mark total_order @p order seen; false when it was seen before. */
static bool mark_seen(txn_t *t, int64_t order)
{
    if (order <= 0) {
        t->nseen++; /* no total_order: cannot tell duplicates apart */
        return true;
    }
    size_t byte = (size_t)(order / 8);
    if (byte >= t->seen_bytes) {
        size_t nb = t->seen_bytes ? t->seen_bytes : 16;
        while (nb <= byte)
            nb *= 2;
        t->seen = cdc_xrealloc(t->seen, nb);
        memset(t->seen + t->seen_bytes, 0, nb - t->seen_bytes);
        t->seen_bytes = nb;
    }
    uint8_t bit = (uint8_t)(1u << (order % 8));
    if (t->seen[byte] & bit)
        return false;
    t->seen[byte] |= bit;
    t->nseen++;
    return true;
}

/* Undo mark_seen() of @p order (the event was refused after all). */
static void unmark_seen(txn_t *t, int64_t order)
{
    t->nseen--;
    if (order > 0)
        t->seen[order / 8] &= (uint8_t) ~(1u << (order % 8));
}

/* Refuse @p r: it passes at its place, bad, with @p fmt as its error. */
static void refuse(cdc_txn_rec_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse(cdc_txn_rec_t *r, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    char msg[1400];
    /* A dead-lettered record (undecodable) keeps its own error too. */
    snprintf(msg, sizeof(msg), "%s[%d] offset %lld: transaction %s: %s%s%.600s", r->rec.topic,
             (int)r->rec.partition, (long long)r->rec.offset, r->ev->txn_id, why,
             r->error ? "; and: " : "", r->error ? r->error : "");
    free(r->error);
    r->error = cdc_xstrdup(msg);
    r->bad = true;
    r->txn_ = NULL;
    r->dup_ = false;
}

/* Whether @p r contradicts what is known of its transaction (refused). */
static bool contradicts(cdc_txn_asm_t *a, cdc_txn_rec_t *r, const done_t *d, txn_t *t, bool end)
{
    const cdc_event_t *ev = r->ev;
    int64_t count = d && !d->given_up ? d->count : t && t->has_end ? t->count : -1;
    char why[400];
    if (end) {
        if (ev->txn_event_count < 0)
            refuse(r, "its END has no event_count; fix the producer (Debezium "
                      "provide.transaction.metadata)");
        else if (t && !t->has_end && t->max_order > ev->txn_event_count)
            refuse(r,
                   "its END counts %lld events but one with total_order %lld arrived: the "
                   "END contradicts its events; fix the producer",
                   (long long)ev->txn_event_count, (long long)t->max_order);
        else if (ev->txn_collections && (!t || !t->has_end) &&
                 txn_coll_end_check(t, ev, why, sizeof(why)) != 0)
            refuse(r, "%s", why);
        else
            return false;
        if (t && !t->given_up)
            give_up(a, t, GU_REFUSED); /* it will never be whole */
        if (t && !t->has_end) {
            /* Its END went (refused): nothing more to wait for. */
            t->end_gone = true;
            if (!t->held)
                txn_remove(a, t);
        } else if (!t && !d) {
            /* Its events, still to come, pass one by one. */
            a->given_up++;
            done_add(a, ev->txn_id, ev->txn_event_count, true);
            cdc_log_warn("transaction %s: its END was refused: its events are applied in pieces "
                         "as they come, its atomicity is given up "
                         "(cdc_transactions_given_up_total)",
                         ev->txn_id);
        }
        return true;
    }
    if (ev->txn_order <= 0)
        refuse(r,
               "total_order %lld is not a position in the transaction (1..event_count); fix "
               "the producer",
               (long long)ev->txn_order);
    else if (count >= 0 && ev->txn_order > count)
        refuse(r, "total_order %lld is outside 1..%lld (its END's event_count)%s; fix the producer",
               (long long)ev->txn_order, (long long)count,
               d && !d->given_up ? ": the transaction was applied without it" : "");
    else
        return false;
    return true;
}

void cdc_txn_asm_add(cdc_txn_asm_t *a, const cdc_txn_rec_t *in, int64_t now_ms)
{
    cdc_txn_rec_t *r = malloc(sizeof(*r));
    if (!r)
        abort();
    *r = *in;
    r->txn_ = NULL;
    r->end_ = r->dup_ = r->bad = false;
    const cdc_event_t *ev = r->ev;
    char why[400];
    /* A transactional op=m message is one of its transaction's events
     * (Debezium counts it, as LOGICAL_DECODING_MESSAGE). */
    bool data = ev && (ev->kind == CDC_KIND_CHANGE || ev->kind == CDC_KIND_MESSAGE) && ev->txn_id;
    bool end = ev && ev->kind == CDC_KIND_TXN && ev->txn_id && ev->txn_status &&
               !strcmp(ev->txn_status, "END");
    if (data || end) {
        const done_t *d = done_find(a, ev->txn_id);
        txn_t *t = txn_find(a, ev->txn_id);
        if (contradicts(a, r, d, t, end)) {
            /* refused: passes at its place */
        } else if (d && !d->given_up) {
            r->dup_ = true; /* released whole before: a re-delivery */
        } else if (!d || t) {
            /* A given-up transaction is followed until its END went. */
            if (!t)
                t = txn_get(a, ev->txn_id, now_ms);
            r->txn_ = t;
            if (end) {
                r->end_ = true;
                if (t->has_end) {
                    r->dup_ = true;
                    r->txn_ = NULL;
                } else {
                    t->has_end = true;
                    t->count = ev->txn_event_count;
                    txn_coll_end_set(t, ev);
                }
            } else if (!mark_seen(t, ev->txn_order)) {
                r->dup_ = true;
                r->txn_ = NULL;
            } else if (txn_coll_event(t, ev, why, sizeof(why)) != 0) {
                unmark_seen(t, ev->txn_order);
                refuse(r, "%s", why);
            } else if (ev->txn_order > t->max_order) {
                t->max_order = ev->txn_order;
            }
            if (r->txn_) {
                t->bytes += r->bytes;
                t->held++;
                if (!t->given_up && t->bytes > a->max_bytes)
                    give_up(a, t, GU_OWN);
            }
        }
        /* Past a given-up transaction's END: its stragglers pass. */
    }
    pq_t *p = part_get(a, r->rec.topic, r->rec.partition);
    pq_push(p, r);
    a->held_bytes += r->bytes;
    a->held_records++;
}

/* A record of a run with its place in the release order: the
 * transaction's events by total_order; a record of no transaction (or a
 * re-delivery) right after the event before it in its partition, so that
 * each partition's records still go in offset order. */
typedef struct keyed {
    cdc_txn_rec_t *r;
    int64_t order;
    int after; /* 0: the event itself; 1: a record behind it */
    size_t seq;
} keyed_t;

static int cmp_keyed(const void *x, const void *y)
{
    const keyed_t *a = x, *b = y;
    if (a->order != b->order)
        return a->order < b->order ? -1 : 1;
    if (a->after != b->after)
        return a->after - b->after;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Records of @p t at the head of partition @p p: its run, up to its last
 * record before one of another transaction. Re-deliveries and records of
 * no transaction in between (the tombstone after a delete) belong to it. */
static size_t head_run(const pq_t *p, const txn_t *t)
{
    size_t k = 0, last = 0;
    for (; k < p->n; k++) {
        const cdc_txn_rec_t *r = pq_at(p, k);
        if (r->txn_ == t)
            last = k + 1;
        else if (r->txn_)
            break;
    }
    return last;
}

/* A whole transaction some of whose events were dead-lettered under
 * --errors-tolerance all (they could not be decoded or applied, their
 * transaction block could): it goes without them, the dead letter rows
 * are their durable record. Say so, and count it. */
static void warn_dead(cdc_txn_asm_t *a, const txn_t *t, const keyed_t *v, size_t m)
{
    char pos[600];
    size_t n = 0, len = 0;
    pos[0] = '\0';
    for (size_t i = 0; i < m; i++) {
        const cdc_txn_rec_t *r = v[i].r;
        if (r->txn_ != t || !r->error || r->dup_)
            continue;
        if (n++ < 5 && len < sizeof(pos))
            len +=
                (size_t)snprintf(pos + len, sizeof(pos) - len, "%s%s[%d]@%lld", n > 1 ? ", " : "",
                                 r->rec.topic, (int)r->rec.partition, (long long)r->rec.offset);
    }
    if (!n)
        return;
    a->partial++;
    cdc_log_warn(
        "transaction %s: applied without %zu of its events, dead-lettered (--errors-tolerance "
        "all): %s%s; their rows in the dead letters hold them "
        "(cdc_transactions_partial_total)",
        t->id, n, pos, n > 5 ? ", ..." : "");
}

/* Release the head runs of @p t in total_order, its END last; with
 * @p whole, only when they hold every event of it. Returns the number
 * released (0: not now). */
static size_t release_txn(cdc_txn_asm_t *a, txn_t *t, bool whole, cdc_txn_emit_fn emit,
                          void *opaque)
{
    size_t n = 0, nend = 0;
    for (size_t i = 0; i < a->nparts; i++) {
        size_t k = head_run(&a->parts[i], t);
        for (size_t j = 0; j < k; j++) {
            const cdc_txn_rec_t *r = pq_at(&a->parts[i], j);
            if (r->txn_ != t)
                continue; /* a re-delivery, or of no transaction */
            if (r->end_)
                nend++;
            else
                n++;
        }
    }
    if (whole && (n != t->nseen || nend != 1))
        return 0;
    /* Given up: its END (a position on the transaction topic) goes only
     * after every event it counts, never past one not released yet. */
    bool end_go =
        whole || t->orphan ||
        (t->has_end && t->count >= 0 && (int64_t)t->nseen >= t->count && n + nend == t->held);
    size_t total = 0;
    for (size_t i = 0; i < a->nparts; i++)
        total += head_run(&a->parts[i], t);
    keyed_t *v = malloc((total + 1) * sizeof(*v));
    cdc_txn_rec_t *endrec = NULL;
    if (!v)
        abort();
    size_t m = 0;
    for (size_t i = 0; i < a->nparts; i++) {
        pq_t *p = &a->parts[i];
        size_t k = head_run(p, t);
        if (k && !end_go && pq_at(p, k - 1)->end_ && pq_at(p, k - 1)->txn_ == t)
            k--; /* the END is the last of its run */
        int64_t prev = INT64_MIN;
        for (size_t j = 0; j < k; j++) {
            cdc_txn_rec_t *r = pq_pop(a, p);
            if (r->end_ && r->txn_ == t) {
                endrec = r; /* last of its run: emitted after everything */
                continue;
            }
            bool mine = r->txn_ == t;
            if (mine)
                prev = r->ev && r->ev->txn_order > 0 ? r->ev->txn_order : prev;
            v[m] = (keyed_t){r, prev, mine ? 0 : 1, m};
            m++;
        }
    }
    qsort(v, m, sizeof(*v), cmp_keyed);
    if (whole)
        warn_dead(a, t, v, m);
    for (size_t i = 0; i < m; i++) {
        cdc_txn_rec_t *r = v[i].r;
        emit(opaque, r,
             r->dup_                 ? CDC_TXN_DUPLICATE
             : whole && r->txn_ == t ? CDC_TXN_MEMBER
                                     : CDC_TXN_PASS);
        free(r);
    }
    if (endrec) {
        /* A transaction marker (skipped); MEMBER: the END of a whole one. */
        emit(opaque, endrec, whole ? CDC_TXN_MEMBER : CDC_TXN_PASS);
        free(endrec);
    }
    free(v);
    if (whole) {
        a->applied++;
        done_add(a, t->id, t->count, false);
        txn_remove(a, t);
    } else if (endrec || (t->end_gone && !t->held)) {
        txn_remove(a, t); /* given up: its stragglers pass (the done ring says so) */
    }
    return m + (endrec ? 1 : 0);
}

/* Give @p t up: released in pieces from now on (@p reason: GU_*). */
static void give_up(cdc_txn_asm_t *a, txn_t *t, int reason)
{
    t->given_up = true;
    a->given_up++;
    done_add(a, t->id, t->count, true);
    char why[160];
    if (reason == GU_REFUSED) {
        cdc_log_warn("transaction %s: its END was refused: applying its %zu events so far and "
                     "those to come in pieces, its atomicity is given up "
                     "(cdc_transactions_given_up_total)",
                     t->id, t->nseen);
        return;
    }
    if (reason == GU_ALL)
        snprintf(why, sizeof(why), "the open transactions hold %zu bytes (> 4 x", a->held_bytes);
    else
        snprintf(why, sizeof(why), "it holds %zu bytes (>", t->bytes);
    if (t->has_end && t->count >= 0 && (int64_t)t->nseen < t->count)
        cdc_log_warn("transaction %s: its END counts %lld events, %zu arrived; %s "
                     "--max-transaction-bytes %zu): applying it in pieces, its atomicity is given "
                     "up (cdc_transactions_given_up_total)",
                     t->id, (long long)t->count, t->nseen, why, a->max_bytes);
    else
        cdc_log_warn("transaction %s: %zu events so far%s; %s --max-transaction-bytes %zu): "
                     "applying it in pieces, its atomicity is given up "
                     "(cdc_transactions_given_up_total)",
                     t->id, t->nseen, t->has_end ? "" : ", no END yet", why, a->max_bytes);
}

/* One pass over the heads; returns the number released. */
static size_t release_pass(cdc_txn_asm_t *a, cdc_txn_emit_fn emit, void *opaque)
{
    size_t n = 0;
    for (size_t i = 0; i < a->nparts; i++) {
        pq_t *p = &a->parts[i];
        while (p->n) {
            cdc_txn_rec_t *r = pq_at(p, 0);
            txn_t *t = r->txn_;
            if (!t || r->dup_) {
                r = pq_pop(a, p);
                emit(opaque, r, r->dup_ && !r->end_ ? CDC_TXN_DUPLICATE : CDC_TXN_PASS);
                free(r);
                n++;
                continue;
            }
            size_t k = 0;
            if (t->given_up)
                k = release_txn(a, t, false, emit, opaque);
            else if (r->end_ && t->count >= 0 && (int64_t)t->nseen >= t->count &&
                     txn_coll_complete(t))
                k = release_txn(a, t, true, emit, opaque);
            if (!k)
                break;
            n += k;
        }
    }
    return n;
}

void cdc_txn_asm_set_assigned(cdc_txn_asm_t *a, size_t n)
{
    a->assigned = n;
}

/* Whether partition @p p shows, after @p t's records, one of another
 * transaction: then (events are in commit order) no more of t follow. */
static bool past(const pq_t *p, const txn_t *t)
{
    for (size_t k = 0; k < p->n; k++) {
        const cdc_txn_rec_t *r = pq_at(p, k);
        if (r->txn_ && r->txn_ != t)
            return true;
    }
    return false;
}

/* The transaction whose END heads its queue while events it counts are
 * missing and every assigned partition is past it: they were applied
 * before a restart (it was given up then, its pieces committed), so they
 * will not come again. NULL if none. */
static txn_t *orphaned(const cdc_txn_asm_t *a)
{
    if (a->assigned == SIZE_MAX || a->nparts < a->assigned)
        return NULL;
    txn_t *t = NULL;
    size_t tx = 0;
    for (size_t i = 0; i < a->nparts && !t; i++) {
        const pq_t *p = &a->parts[i];
        if (p->n && pq_at(p, 0)->end_ && pq_at(p, 0)->txn_) {
            t = pq_at(p, 0)->txn_;
            tx = i;
        }
    }
    if (!t || t->orphan || t->count < 0 || (int64_t)t->nseen >= t->count)
        return NULL;
    for (size_t i = 0; i < a->nparts; i++)
        if (i != tx && !past(&a->parts[i], t))
            return NULL;
    return t;
}

/* @p o's missing events will not come (@p where): release what arrived. */
static void orphan(cdc_txn_asm_t *a, txn_t *o, const char *where)
{
    cdc_log_warn("transaction %s: its END counts %lld events, %zu arrived, and %s: the others "
                 "were applied in pieces before a restart (it was given up then) or went to the "
                 "dead letters unreadable; applying what arrived",
                 o->id, (long long)o->count, o->nseen, where);
    o->orphan = true;
    if (!o->given_up) {
        o->given_up = true;
        a->given_up++;
        done_add(a, o->id, o->count, true);
    }
}

size_t cdc_txn_asm_release_idle(cdc_txn_asm_t *a,
                                bool (*known)(void *opaque, const char *collection), void *kopaque,
                                cdc_txn_emit_fn emit, void *opaque)
{
    txn_t *t = NULL;
    for (size_t i = 0; i < a->nparts && !t; i++) {
        const pq_t *p = &a->parts[i];
        if (p->n && pq_at(p, 0)->end_ && pq_at(p, 0)->txn_)
            t = pq_at(p, 0)->txn_;
    }
    if (!t || t->orphan || t->count < 0 ||
        ((int64_t)t->nseen >= t->count && txn_coll_complete(t)) ||
        !txn_coll_missing_known(t, known, kopaque))
        return 0;
    orphan(a, t, "every partition was read to its end");
    return cdc_txn_asm_release(a, emit, opaque);
}

size_t cdc_txn_asm_release(cdc_txn_asm_t *a, cdc_txn_emit_fn emit, void *opaque)
{
    size_t total = 0, n;
    for (;;) {
        while ((n = release_pass(a, emit, opaque)) > 0)
            total += n;
        txn_t *o = orphaned(a);
        if (o) {
            orphan(a, o, "every partition is past it");
            continue;
        }
        /* Transactions that are each within the bound but wait behind an
         * incomplete one (or read ahead of a slower partition) are
         * bounded all together at 4 x max_bytes. */
        if (a->held_bytes / 4 <= a->max_bytes)
            break;
        /* Over the bound: give up the first transaction in commit order
         * that blocks, the one whose END heads its queue; before its END
         * was read, the one at the head of the fullest partition (every
         * head is blocked now). */
        txn_t *t = NULL;
        pq_t *worst = NULL;
        for (size_t i = 0; i < a->nparts && !t; i++) {
            const pq_t *p = &a->parts[i];
            if (p->n && pq_at(p, 0)->end_)
                t = pq_at(p, 0)->txn_;
        }
        for (size_t i = 0; i < a->nparts && !t; i++)
            if (a->parts[i].n && (!worst || a->parts[i].bytes > worst->bytes))
                worst = &a->parts[i];
        if (!t && worst)
            t = pq_at(worst, 0)->txn_;
        if (!t || t->given_up)
            break; /* cannot happen: such a head would have been released */
        give_up(a, t, GU_ALL);
    }
    return total;
}

void cdc_txn_asm_reset(cdc_txn_asm_t *a)
{
    for (size_t i = 0; i < a->nparts; i++) {
        pq_t *p = &a->parts[i];
        while (p->n)
            rec_free(a, pq_pop(a, p));
        free(p->q);
        free(p->topic);
    }
    a->nparts = 0;
    a->last_part = 0;
    for (size_t i = 0; i < a->nbuckets; i++) {
        for (txn_t *t = a->buckets[i], *nx; t; t = nx) {
            nx = t->next;
            txn_free(t);
        }
        a->buckets[i] = NULL;
    }
    a->ntxn = 0;
    a->held_bytes = a->held_records = 0;
    /* What was released is not known to be in the target (a batch given
     * back, or a commit the server forgot in a crash): read again from the
     * stored positions, it must be assembled and applied again, never
     * skipped as a re-delivery. */
    for (size_t i = 0; i < NDONE; i++) {
        free(a->done[i].id);
        a->done[i].id = NULL;
    }
    a->done_pos = 0;
}

void cdc_txn_asm_destroy(cdc_txn_asm_t *a)
{
    if (!a)
        return;
    cdc_txn_asm_reset(a);
    for (size_t i = 0; i < NDONE; i++)
        free(a->done[i].id);
    free(a->parts);
    free(a->buckets);
    free(a);
}
