/* --transactions: an END's data_collections against its transaction's
 * events (txn_asm_int.h). Debezium's END counts the transaction's events
 * in event_count and per data collection in data_collections
 * ({data_collection, event_count}, the collection named as the connector's
 * TableId prints it: "schema.table" for PostgreSQL, "db.table" for MySQL,
 * "db.schema.table" where the id has all three; transactional logical
 * decoding messages count as "LOGICAL_DECODING_MESSAGE"). So an END whose
 * counts do not add up, an event of a collection its END does not list,
 * or one more event of a collection than its END counts contradicts its
 * transaction, and a transaction is complete only when every collection
 * has its counted events. Events are matched to a collection by name;
 * until the END arrives each name's events are counted on their own. */
#include "txn_asm_int.h"

#include "cdc/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What Debezium names @p ev's collection, into @p buf; false if it
 * names none (no source table). */
static bool ev_name(const cdc_event_t *ev, char *buf, size_t n)
{
    if (ev->kind == CDC_KIND_MESSAGE) {
        snprintf(buf, n, "LOGICAL_DECODING_MESSAGE");
        return true;
    }
    if (!ev->table || (!ev->schema && !ev->db))
        return false;
    snprintf(buf, n, "%s.%s", ev->schema ? ev->schema : ev->db, ev->table);
    return true;
}

/* Whether an END's @p name is the collection @p two ("schema.table" or
 * "db.table") of database @p db: equal, or "db." + two. */
static bool same(const char *name, const char *two, const char *db)
{
    if (!strcmp(name, two))
        return true;
    size_t dl = db ? strlen(db) : 0;
    return dl && !strncmp(name, db, dl) && name[dl] == '.' && !strcmp(name + dl + 1, two);
}

static tcoll_t *find(txn_t *t, const char *two, const char *db)
{
    for (size_t i = 0; i < t->ncoll; i++)
        if (t->has_coll ? same(t->coll[i].name, two, db) : !strcmp(t->coll[i].name, two))
            return &t->coll[i];
    return NULL;
}

static tcoll_t *push(txn_t *t, const char *name, const char *db, int64_t want)
{
    t->coll = cdc_xrealloc(t->coll, (t->ncoll + 1) * sizeof(*t->coll));
    tcoll_t *c = &t->coll[t->ncoll++];
    c->name = cdc_xstrdup(name);
    c->db = db ? cdc_xstrdup(db) : NULL;
    c->want = want;
    c->seen = 0;
    return c;
}

static void clear(txn_t *t)
{
    for (size_t i = 0; i < t->ncoll; i++) {
        free(t->coll[i].name);
        free(t->coll[i].db);
    }
    free(t->coll);
    t->coll = NULL;
    t->ncoll = 0;
}

void txn_coll_free(txn_t *t)
{
    clear(t);
}

int txn_coll_event(txn_t *t, const cdc_event_t *ev, char *why, size_t n)
{
    char two[300];
    bool named = ev_name(ev, two, sizeof(two));
    if (!named)
        snprintf(two, sizeof(two), "%s", "");
    const char *db = ev->schema ? ev->db : NULL;
    tcoll_t *c = find(t, two, db);
    if (t->has_coll) {
        if (!c) {
            snprintf(why, n,
                     "its collection %s is not in its END's data_collections: the END "
                     "contradicts its events; fix the producer",
                     named ? two : "(no source table)");
            return -1;
        }
        if (c->seen >= c->want) {
            snprintf(why, n,
                     "its END counts %lld events of %s and this is one more: the END "
                     "contradicts its events; fix the producer",
                     (long long)c->want, c->name);
            return -1;
        }
    } else if (!c) {
        c = push(t, two, db, -1);
    }
    c->seen++;
    return 0;
}

int txn_coll_end_check(const txn_t *t, const cdc_event_t *end, char *why, size_t n)
{
    int64_t sum = 0;
    for (size_t i = 0; i < end->txn_ncollections; i++)
        sum += end->txn_collections[i].event_count;
    if (sum != end->txn_event_count) {
        snprintf(why, n,
                 "its END's event_count %lld is not the sum of its data_collections counts "
                 "(%lld): the END contradicts itself; fix the producer",
                 (long long)end->txn_event_count, (long long)sum);
        return -1;
    }
    for (size_t i = 0; i < end->txn_ncollections; i++)
        if (end->txn_collections[i].event_count < 0) {
            snprintf(why, n, "its END counts %lld events of %s; fix the producer",
                     (long long)end->txn_collections[i].event_count, end->txn_collections[i].name);
            return -1;
        }
    for (size_t j = 0; t && j < t->ncoll; j++) {
        const tcoll_t *c = &t->coll[j];
        int64_t want = -1;
        for (size_t i = 0; i < end->txn_ncollections && want < 0; i++)
            if (same(end->txn_collections[i].name, c->name, c->db))
                want = end->txn_collections[i].event_count;
        if (want < 0 || c->seen > want) {
            snprintf(why, n,
                     "its END counts %lld events of %s but %lld arrived: the END contradicts "
                     "its events; fix the producer",
                     (long long)(want < 0 ? 0 : want), c->name[0] ? c->name : "(no source table)",
                     (long long)c->seen);
            return -1;
        }
    }
    return 0;
}

void txn_coll_end_set(txn_t *t, const cdc_event_t *end)
{
    if (!end->txn_collections)
        return;
    tcoll_t *old = t->coll;
    size_t nold = t->ncoll;
    t->coll = NULL;
    t->ncoll = 0;
    t->has_coll = true;
    for (size_t i = 0; i < end->txn_ncollections; i++) {
        const cdc_txn_collection_t *e = &end->txn_collections[i];
        tcoll_t *c = push(t, e->name, NULL, e->event_count);
        for (size_t j = 0; j < nold; j++)
            if (same(e->name, old[j].name, old[j].db))
                c->seen += old[j].seen;
    }
    for (size_t j = 0; j < nold; j++) {
        free(old[j].name);
        free(old[j].db);
    }
    free(old);
}

bool txn_coll_complete(const txn_t *t)
{
    for (size_t i = 0; t->has_coll && i < t->ncoll; i++)
        if (t->coll[i].seen < t->coll[i].want)
            return false;
    return true;
}

bool txn_coll_missing_known(const txn_t *t, bool (*known)(void *opaque, const char *collection),
                            void *opaque)
{
    if (!t->has_coll)
        return false; /* an END without data_collections: which is not known */
    for (size_t i = 0; i < t->ncoll; i++)
        if (t->coll[i].seen < t->coll[i].want && !known(opaque, t->coll[i].name))
            return false;
    return true;
}
