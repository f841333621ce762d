/* --transactions: the assembler's state (txn_asm.h), shared by its files:
 * txn_asm.c (holding and releasing), txn_coll.c (an END's data_collections
 * against the events), txn_asm_report.c (figures and WARNs). */
#ifndef CDC_TXN_ASM_INT_H
#define CDC_TXN_ASM_INT_H

#include "txn_asm.h"

/* One data collection of an open transaction: before its END, what its
 * events named; after an END that lists data_collections, the END's. */
typedef struct tcoll {
    char *name;   /* "schema.table" (MySQL "db.table"), or the END's name */
    char *db;     /* the events' database (a 3-part END name), or NULL */
    int64_t want; /* the END's count, -1 before the END */
    int64_t seen; /* distinct events of it held or released */
} tcoll_t;

typedef struct txn {
    struct txn *next; /* hash chain */
    char *id;
    int64_t count;     /* END's event_count, -1 before the END */
    int64_t max_order; /* highest total_order held or released */
    size_t nseen;      /* distinct events held or released */
    uint8_t *seen;     /* bitmap by total_order */
    size_t seen_bytes;
    size_t bytes;
    size_t held; /* held records that point here */
    int64_t first_ms;
    bool has_end, given_up, warned;
    bool orphan;   /* its missing events lie before the stored positions */
    bool has_coll; /* its END listed data_collections: coll holds them */
    bool end_gone; /* its END was refused: removed once nothing of it is held */
    tcoll_t *coll;
    size_t ncoll;
} txn_t;

typedef struct pq {
    char *topic;
    int32_t partition;
    cdc_txn_rec_t **q; /* ring */
    size_t head, n, cap;
    size_t bytes;
} pq_t;

/* A transaction released (given_up false) or given up: its stragglers are
 * duplicates, or pass one by one. */
typedef struct done {
    char *id;
    int64_t count; /* its END's event_count */
    bool given_up;
} done_t;

#define NDONE 512

struct cdc_txn_asm {
    pq_t *parts;
    size_t nparts, parts_cap, last_part;
    txn_t **buckets;
    size_t nbuckets, ntxn;
    done_t done[NDONE];
    size_t done_pos;
    size_t max_bytes, held_bytes, held_records;
    size_t assigned; /* partitions assigned (SIZE_MAX: not known) */
    uint64_t applied, given_up, partial;
    void (*free_msg)(void *msg);
};

static inline cdc_txn_rec_t *pq_at(const pq_t *p, size_t i)
{
    return p->q[(p->head + i) % p->cap];
}

/* txn_coll.c. Count event @p ev (new to @p t) in its collection; -1 with
 * @p why when its END's data_collections refuse it (uncounted then). */
int txn_coll_event(txn_t *t, const cdc_event_t *ev, char *why, size_t n);
/* -1 with @p why when END @p end (with data_collections) contradicts
 * itself or what arrived of @p t (NULL: nothing yet). */
int txn_coll_end_check(const txn_t *t, const cdc_event_t *end, char *why, size_t n);
/* Take END @p end's data_collections (if any) as @p t's collections. */
void txn_coll_end_set(txn_t *t, const cdc_event_t *end);
/* Whether every collection of @p t's END has its counted events. */
bool txn_coll_complete(const txn_t *t);
/* Whether @p t's END lists data_collections and every collection it
 * still misses events of is one @p known says is read. */
bool txn_coll_missing_known(const txn_t *t, bool (*known)(void *opaque, const char *collection),
                            void *opaque);
void txn_coll_free(txn_t *t);

#endif
