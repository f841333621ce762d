/* Batch accumulation with per-key compaction (see batch.h for the rules). */
#include "batch.h"

#include "cdc/buf.h"
#include "cdc/canon.h"
#include "cdc/redact.h"
#include "cdc/util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

void cdc_batch_init(cdc_batch_t *b, void (*free_msg)(void *msg))
{
    memset(b, 0, sizeof(*b));
    b->free_msg = free_msg;
}

/* Slab size: a batch of 5000 13-column inserts takes ~10 of them. */
#define SLAB_SIZE (64 * 1024)

static void *slab_alloc(cdc_batch_t *b, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    cdc_slab_t *s = b->slabs;
    if (!s || s->cap - s->used < n) {
        size_t cap = n > SLAB_SIZE ? n : SLAB_SIZE;
        s = malloc(sizeof(*s) + cap);
        if (!s)
            abort();
        s->next = b->slabs;
        s->used = 0;
        s->cap = cap;
        b->slabs = s;
    }
    void *p = s->data + s->used;
    s->used += n;
    return p;
}

/* Free every slab but the newest, which the next batch starts in. */
static void slabs_clear(cdc_batch_t *b, bool all)
{
    cdc_slab_t *s = b->slabs;
    if (!s)
        return;
    cdc_slab_t *rest = all ? s : s->next;
    while (rest) {
        cdc_slab_t *next = rest->next;
        free(rest);
        rest = next;
    }
    if (all) {
        b->slabs = NULL;
    } else {
        s->next = NULL;
        s->used = 0;
    }
}

static void steps_clear(cdc_batch_t *b)
{
    /* Entries' vals and keys live in the slabs. */
    for (size_t i = 0; i < b->nsteps; i++) {
        cdc_step_t *s = &b->steps[i];
        free(s->entries);
        free(s->slots);
    }
    slabs_clear(b, false);
    b->nsteps = 0;
    b->barrier = 0;
}

void cdc_batch_reset(cdc_batch_t *b)
{
    steps_clear(b);
    for (size_t i = 0; i < b->nitems; i++) {
        cdc_item_t *it = &b->items[i];
        cdc_event_destroy(it->ev);
        free(it->error);
        free((void *)(uintptr_t)it->rec.headers);
        if (it->msg && b->free_msg)
            b->free_msg(it->msg);
    }
    b->nitems = 0;
    for (size_t i = 0; i < b->nparts; i++)
        free(b->parts[i].topic);
    b->nparts = 0;
    b->bytes = 0;
    b->nchanges = 0;
    b->ndead = 0;
    b->first_ms = 0;
}

void cdc_batch_free(cdc_batch_t *b)
{
    cdc_batch_reset(b);
    slabs_clear(b, true);
    cdc_buf_free(&b->keybuf);
    cdc_buf_free(&b->keybuf2);
    free(b->scratch);
    free(b->items);
    free(b->steps);
    free(b->parts);
    memset(b, 0, sizeof(*b));
}

static void account_part(cdc_batch_t *b, const cdc_record_t *rec, int64_t expected_next)
{
    /* Records come in runs per partition: try the last one's first. */
    size_t h = b->last_part;
    if (h < b->nparts && b->parts[h].partition == rec->partition &&
        !strcmp(b->parts[h].topic, rec->topic)) {
        b->parts[h].last_offset = rec->offset;
        return;
    }
    for (size_t i = 0; i < b->nparts; i++) {
        cdc_part_range_t *p = &b->parts[i];
        if (p->partition == rec->partition && !strcmp(p->topic, rec->topic)) {
            p->last_offset = rec->offset;
            b->last_part = i;
            return;
        }
    }
    b->last_part = b->nparts;
    if (b->nparts == b->parts_cap) {
        b->parts_cap = b->parts_cap ? b->parts_cap * 2 : 16;
        b->parts = cdc_xrealloc(b->parts, b->parts_cap * sizeof(*b->parts));
    }
    cdc_part_range_t *p = &b->parts[b->nparts++];
    p->topic = strdup(rec->topic);
    if (!p->topic)
        abort();
    p->partition = rec->partition;
    p->first_offset = p->last_offset = rec->offset;
    p->expected_next = expected_next;
}

size_t cdc_batch_add_item(cdc_batch_t *b, void *msg, const cdc_record_t *rec, cdc_event_t *ev,
                          int64_t expected_next)
{
    if (b->nitems == b->items_cap) {
        b->items_cap = b->items_cap ? b->items_cap * 2 : 1024;
        b->items = cdc_xrealloc(b->items, b->items_cap * sizeof(*b->items));
    }
    if (!b->nitems)
        b->first_ms = cdc_now_mono_ms();
    cdc_item_t *it = &b->items[b->nitems];
    memset(it, 0, sizeof(*it));
    it->msg = msg;
    it->rec = *rec;
    it->ev = ev;
    b->bytes += rec->key_len + rec->value_len;
    account_part(b, rec, expected_next);
    return b->nitems++;
}

void cdc_batch_set_dead(cdc_batch_t *b, size_t idx, const char *error)
{
    cdc_item_t *it = &b->items[idx];
    if (!it->error)
        b->ndead++;
    free(it->error);
    it->error = cdc_redact_strdup(error); /* stored in dead_letter.error */
    if (!it->error)
        abort();
}

/* Column of @p row (mapped by @p m) holding key column @p k, or NULL. */
static const cdc_col_t *key_col(const cdc_row_t *row, const cdc_colmap_t *m, size_t k)
{
    return m && m->keypos[k] >= 0 ? &row->cols[m->keypos[k]] : NULL;
}

/* cdc_batch_key() with @p row already mapped (@p m NULL when row is). */
static int key_bytes(const cdc_table_t *t, const cdc_row_t *row, const cdc_colmap_t *m,
                     cdc_buf_t *out, const char **missing)
{
    cdc_buf_reset(out);
    for (size_t k = 0; k < t->nkey; k++) {
        const char *name = t->cols[t->key[k]].name;
        const cdc_col_t *c = key_col(row, m, k);
        if (!c || c->state == CDC_VAL_UNAVAILABLE) {
            *missing = name;
            return -1;
        }
        /* The key's identity is its canonical form by the target column's
         * type (framed, so ("ab","c") and ("a","bc") differ; NULL has its own
         * marker): the Kafka key and the after image may spell one value
         * differently (12.30 / 12.3, a timestamp offset), and a delete and
         * an upsert of one row must still meet. Text the encoder cannot
         * read keeps its bytes, under a tag no canonical value uses. */
        const char *text = c->state == CDC_VAL_PRESENT ? c->text : NULL;
        char err[CDC_ERRSTR_SIZE];
        if (cdc_canon_encode(t->cols[t->key[k]].canon, text, c->len, out, err, sizeof(err)) != 0) {
            uint32_t len = (uint32_t)c->len;
            cdc_buf_putc(out, (char)0xff);
            cdc_buf_append(out, &len, sizeof(len));
            cdc_buf_append(out, c->text, c->len);
        }
    }
    return 0;
}

int cdc_batch_key(const cdc_table_t *t, const cdc_row_t *row, cdc_buf_t *out, const char **missing)
{
    cdc_colmap_t tmp = {0};
    const cdc_colmap_t *m = row ? cdc_table_colmap(t, row, &tmp) : NULL;
    int rc = key_bytes(t, row, m, out, missing);
    cdc_colmap_release(&tmp);
    return rc;
}

/* True when @p row (mapped by @p m) has a usable value for every key
 * column of @p t. */
static bool has_key_cols(const cdc_table_t *t, const cdc_row_t *row, const cdc_colmap_t *m)
{
    for (size_t k = 0; k < t->nkey; k++) {
        const cdc_col_t *c = key_col(row, m, k);
        if (!c || c->state == CDC_VAL_UNAVAILABLE)
            return false;
    }
    return true;
}

static cdc_step_t *push_step(cdc_batch_t *b, cdc_step_kind_t kind, cdc_table_t *t)
{
    if (b->nsteps == b->steps_cap) {
        b->steps_cap = b->steps_cap ? b->steps_cap * 2 : 8;
        b->steps = cdc_xrealloc(b->steps, b->steps_cap * sizeof(*b->steps));
    }
    cdc_step_t *s = &b->steps[b->nsteps++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->table = t;
    return s;
}

static cdc_step_t *rows_step(cdc_batch_t *b, cdc_table_t *t)
{
    if (b->runs && t->fk_immediate) {
        /* Compacted only with the changes right before it, of its table. */
        if (b->nsteps > b->barrier && b->steps[b->nsteps - 1].kind == CDC_STEP_ROWS &&
            b->steps[b->nsteps - 1].table == t)
            return &b->steps[b->nsteps - 1];
        b->barrier = b->nsteps;
        return push_step(b, CDC_STEP_ROWS, t);
    }
    for (size_t i = b->barrier; i < b->nsteps; i++)
        if (b->steps[i].kind == CDC_STEP_ROWS && b->steps[i].table == t)
            return &b->steps[i];
    return push_step(b, CDC_STEP_ROWS, t);
}

static void rehash(cdc_step_t *s)
{
    size_t n = s->nslots ? s->nslots * 2 : 64;
    free(s->slots);
    s->slots = calloc(n, sizeof(uint32_t));
    if (!s->slots)
        abort();
    s->nslots = n;
    for (size_t i = 0; i < s->nentries; i++) {
        size_t h = (size_t)XXH3_64bits(s->entries[i].key, s->entries[i].key_len) & (n - 1);
        while (s->slots[h])
            h = (h + 1) & (n - 1);
        s->slots[h] = (uint32_t)i + 1;
    }
}

/* Slot of key in s (0-based entry index via slots[h]-1, or 0 when free). */
static size_t find_slot(const cdc_step_t *s, const char *key, size_t len)
{
    size_t mask = s->nslots - 1;
    size_t h = (size_t)XXH3_64bits(key, len) & mask;
    for (;;) {
        uint32_t e = s->slots[h];
        if (!e)
            return h;
        const cdc_entry_t *en = &s->entries[e - 1];
        if (en->key_len == len && !memcmp(en->key, key, len))
            return h;
        h = (h + 1) & mask;
    }
}

static cdc_entry_t *new_entry(cdc_step_t *s)
{
    if (s->nentries == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->entries = cdc_xrealloc(s->entries, s->cap * sizeof(*s->entries));
    }
    cdc_entry_t *e = &s->entries[s->nentries++];
    memset(e, 0, sizeof(*e));
    return e;
}

/* Values of @p row (mapped by @p m) by target column into @p vals
 * (t->ncols); with @p key_only, just the key. */
static void row_vals(const cdc_table_t *t, const cdc_row_t *row, const cdc_colmap_t *m,
                     bool key_only, const cdc_col_t **vals)
{
    memset(vals, 0, t->ncols * sizeof(*vals));
    for (size_t i = 0; i < row->ncols; i++) {
        const cdc_col_t *c = &row->cols[i];
        if (c->state == CDC_VAL_UNAVAILABLE)
            continue; /* keep whatever is stored: never write a placeholder */
        int idx = m->idx[i];
        if (idx >= 0 && !t->cols[idx].generated && (!key_only || t->cols[idx].key))
            vals[idx] = c;
    }
}

static const cdc_col_t **new_vals(cdc_batch_t *b, const cdc_table_t *t)
{
    return slab_alloc(b, (t->ncols ? t->ncols : 1) * sizeof(const cdc_col_t *));
}

__attribute__((format(printf, 5, 6))) static int poison(cdc_err_class_t *cls, char *errstr,
                                                        size_t errstr_size, const cdc_event_t *ev,
                                                        const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(errstr, errstr_size, "%s[%d]@%lld: %s", ev->topic, ev->partition,
             (long long)ev->offset, msg);
    *cls = CDC_ERR_POISON;
    return -1;
}

/* Compact a change of key @p key (values from @p src, mapped by @p m; a
 * delete when @p del) into step @p s. Returns its entry. */
static cdc_entry_t *put_entry(cdc_batch_t *b, cdc_step_t *s, const cdc_table_t *t,
                              const cdc_buf_t *key, const cdc_row_t *src, const cdc_colmap_t *m,
                              bool del, size_t idx)
{
    if (!s->nslots || (s->nentries + 1) * 2 > s->nslots)
        rehash(s);
    size_t h = find_slot(s, key->data, key->len);
    cdc_entry_t *e;
    if (s->slots[h]) {
        /* A later change of a key already in the step: its values replace
         * the entry's in place (the array has the table's width). */
        e = &s->entries[s->slots[h] - 1];
        char prev = e->kind;
        if (b->scratch_cap < t->ncols) {
            b->scratch_cap = t->ncols;
            b->scratch = cdc_xrealloc(b->scratch, b->scratch_cap * sizeof(*b->scratch));
        }
        row_vals(t, src, m, del, b->scratch);
        /* Columns this change does not write keep the value an earlier
         * change of the same key in this batch gave them (never across a
         * delete: the old row is gone). */
        bool keep = !del && (prev == 'u' || prev == 'r');
        for (size_t i = 0; i < t->ncols; i++)
            if (b->scratch[i] || !keep)
                e->vals[i] = b->scratch[i];
        /* After a delete in this batch the row is re-created: 'r' applies
         * as delete + insert, so columns the new image does not carry do
         * not keep their pre-delete values. */
        e->kind = del ? 'd' : (prev == 'd' || prev == 'r' ? 'r' : 'u');
    } else {
        e = new_entry(s);
        s->slots[h] = (uint32_t)s->nentries;
        e->key_len = key->len;
        e->key = slab_alloc(b, key->len);
        memcpy(e->key, key->data, key->len);
        e->vals = new_vals(b, t);
        row_vals(t, src, m, del, e->vals);
        e->kind = del ? 'd' : 'u';
    }
    e->partial = false;
    e->item = idx;
    return e;
}

int cdc_batch_add_change(cdc_batch_t *b, size_t idx, cdc_table_t *t, cdc_err_class_t *cls,
                         char *errstr, size_t errstr_size)
{
    cdc_item_t *it = &b->items[idx];
    const cdc_event_t *ev = it->ev;
    it->table = t;
    b->nchanges++;

    if (ev->op == 't') {
        /* What the batch holds of the table before its truncate is wiped by
         * it: never written (nor its rows' trigger events, which TRUNCATE
         * refuses while a deferred foreign key check is pending: SQLSTATE
         * 55006). Those steps are behind the barrier, never looked up. */
        for (size_t i = 0; i < b->nsteps; i++)
            if (b->steps[i].kind == CDC_STEP_ROWS && b->steps[i].table == t) {
                b->steps[i].nentries = 0;
                free(b->steps[i].slots);
                b->steps[i].slots = NULL;
                b->steps[i].nslots = 0;
            }
        /* Everything else before the truncate is applied before it;
         * everything after goes into new steps. */
        b->barrier = b->nsteps;
        cdc_step_t *s = push_step(b, CDC_STEP_TRUNCATE, t);
        s->item = idx;
        b->barrier = b->nsteps;
        return 0;
    }
    bool del = ev->op == 'd';
    if (!del && !ev->has_after)
        return poison(cls, errstr, errstr_size, ev, "op '%s' event has no after image%s",
                      ev->op == 'u' ? "u" : (ev->op == 'c' ? "c" : "r"), "");
    cdc_step_t *s = rows_step(b, t);

    if (t->nkey == 0) {
        /* No key: rows can only be appended. */
        if (ev->op == 'u' || del)
            return poison(cls, errstr, errstr_size, ev,
                          "table %s has no primary key, so updates and deletes cannot find "
                          "their row: add a primary key or use --key-columns %s:COLS",
                          t->label, t->label);
        cdc_colmap_t tmp = {0};
        cdc_entry_t *e = new_entry(s);
        e->kind = 'i';
        e->vals = new_vals(b, t);
        row_vals(t, &ev->after, cdc_table_colmap(t, &ev->after, &tmp), false, e->vals);
        e->item = idx;
        cdc_colmap_release(&tmp);
        return 0;
    }

    cdc_buf_t *key = &b->keybuf;
    const char *missing = NULL;
    /* Maps of the event's rows to t's columns, from t's cache: each
     * cdc_table_colmap() call may replace the map the previous one gave,
     * so m always belongs to the row in hand (src once chosen). */
    cdc_colmap_t tmp = {0};
    const cdc_colmap_t *m = NULL;
    /* A delete's key comes from 'before' when it has the whole key: it went
     * through the same converter as the after images it must match; else
     * from the record key. */
    const cdc_row_t *src = NULL;
    if (!del) {
        src = &ev->after;
        m = cdc_table_colmap(t, src, &tmp);
    } else {
        if (ev->has_before) {
            m = cdc_table_colmap(t, &ev->before, &tmp);
            if (has_key_cols(t, &ev->before, m))
                src = &ev->before;
        }
        if (!src && ev->has_key) {
            src = &ev->key;
            m = cdc_table_colmap(t, src, &tmp);
        }
        if (!src)
            m = NULL;
    }
    if (key_bytes(t, src, m, key, &missing) != 0) {
        cdc_colmap_release(&tmp);
        return poison(cls, errstr, errstr_size, ev,
                      "the event has no value for key column \"%s\" of %s: is the source "
                      "table's REPLICA IDENTITY NOTHING, or does --key-columns name the wrong "
                      "columns?",
                      missing, t->label);
    }
    /* A 'u' whose before image holds another key moved its row (a key
     * change the source could not send as delete + create: --key-columns
     * on a keyless table, REPLICA IDENTITY FULL): the old key's row is
     * deleted first, in its own place in the old key's order. */
    if (ev->op == 'u' && ev->has_before) {
        cdc_colmap_t btmp = {0};
        const cdc_colmap_t *bm = cdc_table_colmap(t, &ev->before, &btmp);
        cdc_buf_t *old = &b->keybuf2;
        const char *bmissing = NULL;
        if (has_key_cols(t, &ev->before, bm) &&
            key_bytes(t, &ev->before, bm, old, &bmissing) == 0 &&
            (old->len != key->len || memcmp(old->data, key->data, key->len)))
            put_entry(b, s, t, old, &ev->before, bm, true, idx);
        cdc_colmap_release(&btmp);
        /* The colmap cache may have replaced the after image's map. */
        cdc_colmap_release(&tmp);
        m = cdc_table_colmap(t, src, &tmp);
    }
    cdc_entry_t *e = put_entry(b, s, t, key, src, m, del, idx);
    /* An unavailable column no earlier change of the key filled: the
     * stored value must be kept, which only works if the row exists (the
     * writer updates it, and names the record when it does not). */
    if (!del)
        for (size_t i = 0; i < ev->after.ncols; i++)
            if (ev->after.cols[i].state == CDC_VAL_UNAVAILABLE) {
                int c = m->idx[i]; /* src is the after image */
                if (c >= 0 && !e->vals[c])
                    e->partial = true;
            }
    cdc_colmap_release(&tmp);
    return 0;
}

int cdc_batch_rebuild(cdc_batch_t *b, size_t n, cdc_err_class_t *cls, char *errstr,
                      size_t errstr_size)
{
    steps_clear(b);
    b->nchanges = 0;
    for (size_t i = 0; i < n && i < b->nitems; i++) {
        cdc_item_t *it = &b->items[i];
        if (!it->ev || !it->table || it->error || it->skipped)
            continue;
        if (cdc_batch_add_change(b, i, it->table, cls, errstr, errstr_size) != 0)
            return -1;
    }
    return 0;
}

void cdc_batch_pop(cdc_batch_t *b)
{
    if (!b->nitems)
        return;
    cdc_item_t *it = &b->items[--b->nitems];
    b->bytes -= it->rec.key_len + it->rec.value_len;
    /* The partition's range must not cover the popped record. */
    for (size_t i = 0; i < b->nparts; i++) {
        cdc_part_range_t *p = &b->parts[i];
        if (p->partition != it->rec.partition || strcmp(p->topic, it->rec.topic))
            continue;
        if (p->first_offset == it->rec.offset) {
            free(p->topic);
            b->parts[i] = b->parts[--b->nparts];
        } else {
            for (size_t j = b->nitems; j-- > 0;)
                if (b->items[j].rec.partition == p->partition &&
                    !strcmp(b->items[j].rec.topic, p->topic)) {
                    p->last_offset = b->items[j].rec.offset;
                    break;
                }
        }
        break;
    }
    if (it->error)
        b->ndead--;
    cdc_event_destroy(it->ev);
    free(it->error);
    free((void *)(uintptr_t)it->rec.headers);
    if (it->msg && b->free_msg)
        b->free_msg(it->msg);
    if (!b->nitems)
        b->first_ms = 0;
}
