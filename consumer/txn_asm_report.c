/* --transactions: the assembler's figures and its WARNs about
 * transactions that wait (txn_asm.h). */
#include "txn_asm_int.h"

#include "cdc/log.h"

#include <stdio.h>
#include <string.h>

void cdc_txn_asm_each_held(const cdc_txn_asm_t *a,
                           void (*fn)(void *opaque, const char *topic, int32_t partition,
                                      int64_t first_offset),
                           void *opaque)
{
    for (size_t i = 0; i < a->nparts; i++)
        if (a->parts[i].n)
            fn(opaque, a->parts[i].topic, a->parts[i].partition,
               pq_at(&a->parts[i], 0)->rec.offset);
}

void cdc_txn_asm_stats(const cdc_txn_asm_t *a, int64_t now_ms, cdc_txn_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    st->open = a->ntxn;
    st->held_bytes = a->held_bytes;
    st->held_records = a->held_records;
    st->applied = a->applied;
    st->given_up = a->given_up;
    st->partial = a->partial;
    for (size_t i = 0; i < a->nbuckets; i++)
        for (const txn_t *t = a->buckets[i]; t; t = t->next)
            if (now_ms - t->first_ms > st->oldest_age_ms)
                st->oldest_age_ms = now_ms - t->first_ms;
}

/* The transaction @p t waits behind: the first of another one before a
 * record of @p t in a partition; NULL when t's records head their queues. */
static const txn_t *ahead_of(const cdc_txn_asm_t *a, const txn_t *t)
{
    for (size_t i = 0; i < a->nparts; i++) {
        const pq_t *p = &a->parts[i];
        const txn_t *u = NULL;
        for (size_t k = 0; k < p->n && pq_at(p, k)->txn_ != t; k++)
            if (!u && pq_at(p, k)->txn_)
                u = pq_at(p, k)->txn_;
        for (size_t k = 0; u && k < p->n; k++)
            if (pq_at(p, k)->txn_ == t)
                return u;
    }
    return NULL;
}

void cdc_txn_asm_describe_oldest(const cdc_txn_asm_t *a, int64_t now_ms, char *buf, size_t n)
{
    const txn_t *old = NULL;
    for (size_t i = 0; i < a->nbuckets; i++)
        for (const txn_t *t = a->buckets[i]; t; t = t->next)
            if (!old || t->first_ms < old->first_ms)
                old = t;
    /* The one the others wait behind: from the END that heads its queue
     * (the first in commit order), or the oldest, to what blocks it. */
    for (size_t i = 0; i < a->nparts; i++)
        if (a->parts[i].n && pq_at(&a->parts[i], 0)->end_ && pq_at(&a->parts[i], 0)->txn_) {
            old = pq_at(&a->parts[i], 0)->txn_;
            break;
        }
    for (size_t hop = 0; old && hop < a->ntxn; hop++) {
        const txn_t *u = ahead_of(a, old);
        if (!u)
            break;
        old = u;
    }
    if (!old) {
        snprintf(buf, n, "%s", "");
        return;
    }
    if (!old->has_end)
        snprintf(buf, n, "%s (open %lld s, %zu events, waiting for its END)", old->id,
                 (long long)((now_ms - old->first_ms) / 1000), old->nseen);
    else
        snprintf(buf, n, "%s (open %lld s, its END counts %lld events, %zu arrived)", old->id,
                 (long long)((now_ms - old->first_ms) / 1000), (long long)old->count, old->nseen);
}

void cdc_txn_asm_warn_stalled(cdc_txn_asm_t *a, int64_t now_ms, int64_t after_ms)
{
    bool any = false;
    for (size_t i = 0; i < a->nbuckets; i++)
        for (txn_t *t = a->buckets[i]; t; t = t->next) {
            if (t->warned || t->given_up || now_ms - t->first_ms < after_ms)
                continue;
            t->warned = true;
            any = true;
            if (!t->has_end)
                cdc_log_warn("transaction %s: open for %lld s with %zu events and no END: the "
                             "records behind it wait; subscribe the transaction topic "
                             "(<prefix>.transaction) with --topics and check that it is retained",
                             t->id, (long long)((now_ms - t->first_ms) / 1000), t->nseen);
            else
                cdc_log_warn("transaction %s: open for %lld s: its END counts %lld events, %zu "
                             "arrived; the records behind it wait (subscribe every table of the "
                             "transaction; it is given up past --max-transaction-bytes)",
                             t->id, (long long)((now_ms - t->first_ms) / 1000), (long long)t->count,
                             t->nseen);
        }
    /* What each partition waits at: the records behind it wait with it. */
    for (size_t j = 0; any && j < a->nparts; j++)
        if (a->parts[j].n) {
            const cdc_txn_rec_t *h = pq_at(&a->parts[j], 0);
            cdc_log_info("--transactions: %s[%d] waits at offset %lld (%zu records held): %s %s",
                         a->parts[j].topic, a->parts[j].partition, (long long)h->rec.offset,
                         a->parts[j].n,
                         h->end_ ? "the END of transaction" : "an event of transaction",
                         h->txn_ ? ((const txn_t *)h->txn_)->id : "-");
        }
}
