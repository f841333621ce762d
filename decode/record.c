/* Building the normalized event from what a front end walked: the text
 * blob every string of the event lives in, the path and the one-line
 * error of a failed record, columns (with the placeholder check), the
 * source / transaction blocks and flattened metadata, and the final event
 * (one allocation: struct, column arrays and text blob together). Shared
 * by every front end; calls nothing above it. */
#include "decode_int.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dintern_reset(dintern_t *in)
{
    if (++in->gen == 0) {
        /* wrapped: stale entries of generation 0 must not match */
        memset(in->slot, 0, sizeof(in->slot));
        in->gen = 1;
    }
}

/* ---- text blob, path and errors ---- */

size_t dtb_str(dctx_t *c, const char *s, size_t n)
{
    size_t off = c->tb->len;
    char *w = dbuf_room(c->tb, n + 1);
    if (n)
        memcpy(w, s, n);
    w[n] = '\0';
    dbuf_commit(c->tb, n + 1);
    return off;
}

/* The intern slot of schema-owned pointer @p s; true when it already holds
 * this record's copy. */
static inline bool intern_slot(dctx_t *c, const char *s, size_t **off)
{
    dintern_t *in = c->intern;
    uintptr_t h = (uintptr_t)s;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15u;
    size_t slot = (h >> 24) & (DINTERN_SLOTS - 1);
    *off = &in->slot[slot].off;
    if (in->slot[slot].gen == in->gen && in->slot[slot].s == s)
        return true;
    in->slot[slot].s = s;
    in->slot[slot].gen = in->gen;
    return false;
}

/* dtb_cstr() for strings owned by a cached schema: copied once per record. */
static size_t dtb_intern(dctx_t *c, const char *s)
{
    if (!s)
        return DOFF_NONE;
    size_t *off;
    if (!intern_slot(c, s, &off))
        *off = dtb_cstr(c, s);
    return *off;
}

size_t dtb_intern_blob(dctx_t *c, const char *s, size_t n)
{
    size_t *off;
    if (!intern_slot(c, s, &off)) {
        *off = c->tb->len;
        dbuf_append(c->tb, s, n);
    }
    return *off;
}

size_t dtb_cstr(dctx_t *c, const char *s)
{
    return s ? dtb_str(c, s, strlen(s)) : DOFF_NONE;
}

const char *dtb_get(const dctx_t *c, size_t off)
{
    return off == DOFF_NONE ? NULL : c->tb->data + off;
}

/* The path only matters when a record fails but is kept on every field:
 * pushing is two stores (snprintf here was a fifth of the Avro decode
 * time); the text is built by derr(). */
size_t dpath_push(dctx_t *c, const char *seg)
{
    size_t old = c->pathlen;
    if (!seg[0])
        return old;
    if (old < DPATH_MAX) {
        c->path[old].name = seg;
        c->path[old].idx = 0;
    }
    c->pathlen = old + 1;
    return old;
}

size_t dpath_push_idx(dctx_t *c, size_t i)
{
    size_t old = c->pathlen;
    if (old < DPATH_MAX) {
        c->path[old].name = NULL;
        c->path[old].idx = i;
    }
    c->pathlen = old + 1;
    return old;
}

void dpath_pop(dctx_t *c, size_t old)
{
    c->pathlen = old;
}

/* "value.after.tags[2]", cut at 255 characters as the old fixed buffer did. */
static void path_text(const dctx_t *c, char *out, size_t size)
{
    size_t len = 0, n = c->pathlen < DPATH_MAX ? c->pathlen : DPATH_MAX;
    out[0] = '\0';
    for (size_t i = 0; i < n && len + 1 < size; i++) {
        int m;
        if (c->path[i].name)
            m = snprintf(out + len, size - len, "%s%s", i ? "." : "", c->path[i].name);
        else
            m = snprintf(out + len, size - len, "[%zu]", c->path[i].idx);
        if (m < 0)
            break;
        len = len + (size_t)m < size ? len + (size_t)m : size - 1;
    }
}

int derr(dctx_t *c, cdc_err_class_t cls, const char *fmt, ...)
{
    if (c->cls != CDC_ERR_NONE)
        return -1; /* keep the first (innermost) error */
    c->cls = cls;
    if (!c->errstr || !c->errstr_size)
        return -1;
    const cdc_record_t *rec = c->rec;
    int n = snprintf(c->errstr, c->errstr_size, "%s[%d]@%lld: ", rec->topic ? rec->topic : "",
                     (int)rec->partition, (long long)rec->offset);
    if (n < 0 || (size_t)n >= c->errstr_size)
        return -1;
    if (c->pathlen) {
        char path[256];
        path_text(c, path, sizeof(path));
        int m = snprintf(c->errstr + n, c->errstr_size - (size_t)n, "%s: ", path);
        if (m < 0 || (size_t)(n + m) >= c->errstr_size)
            return -1;
        n += m;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errstr + n, c->errstr_size - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

scol_t *drow_push(srow_t *row)
{
    if (row->n == row->cap) {
        size_t ncap = row->cap ? row->cap * 2 : 32;
        scol_t *v = realloc(row->v, ncap * sizeof(scol_t));
        if (!v)
            abort();
        row->v = v;
        row->cap = ncap;
    }
    scol_t *col = &row->v[row->n++];
    memset(col, 0, sizeof(*col));
    col->name = col->text = col->sem = col->pg = DOFF_NONE;
    return col;
}

/* The state and text of a column whose value c->tb holds from @p start
 * (cut back for NULL and the placeholder). */
static scol_t *col_value(dctx_t *c, srow_t *row, const dsch_t *s, bool isnull, size_t start)
{
    scol_t *col = drow_push(row);
    dcol_state(c, col, isnull,
               !isnull && dph_match(&c->opts->ph, s, c->tb->data + start, c->tb->len - start),
               start);
    return col;
}

void dcol_add(dctx_t *c, srow_t *row, const char *name, const dsch_t *s, const char *hint_pg,
              bool isnull, size_t start)
{
    scol_t *col = col_value(c, row, s, isnull, start);
    const dsch_t *u = dsch_unwrap(s);
    if (u) {
        /* With a schema, @p name is the schema's field name. */
        col->name = dtb_intern(c, name);
        col->sem = dtb_intern(c, u->semantic);
        col->pg = dtb_intern(c, u->pg_type);
        col->optional = s->optional || u != s;
    } else {
        /* Schemaless: the name is the JSON key and the type the lookup's
         * answer, neither of which outlives the call: copy. */
        col->name = dtb_cstr(c, name);
        col->pg = dtb_cstr(c, hint_pg);
        col->optional = true;
    }
}

size_t dtb_names(dctx_t *c, const dsch_t *st)
{
    /* Keyed by the block's pointer like dtb_intern()'s strings. */
    return st->names ? dtb_intern_blob(c, st->names, st->names_len) : DOFF_NONE;
}

static size_t names_off(size_t names, uint32_t at)
{
    return at == UINT32_MAX ? DOFF_NONE : names + at;
}

void dcol_add_field(dctx_t *c, srow_t *row, const dsch_t *st, size_t fi, size_t names, bool isnull,
                    size_t start)
{
    const dsch_t *s = st->fields[fi].sch;
    scol_t *col = col_value(c, row, s, isnull, start);
    const uint32_t *at = &st->names_at[3 * fi];
    col->name = names_off(names, at[0]);
    col->sem = names_off(names, at[1]);
    col->pg = names_off(names, at[2]);
    col->optional = s->optional || dsch_unwrap(s) != s;
}

int dlookup(dctx_t *c, const char *column, const char **type)
{
    *type = NULL;
    if (!c->lookup || !c->lookup->fn)
        return 0;
    cdc_type_query_t q = {dtb_get(c, c->topic), dtb_get(c, c->db), dtb_get(c, c->schema),
                          dtb_get(c, c->table), column};
    char msg[512] = "";
    cdc_err_class_t cls = CDC_ERR_NONE;
    if (c->lookup->fn(c->lookup->opaque, &q, type, &cls, msg, sizeof(msg)) == 0)
        return 0;
    *type = NULL;
    return derr(c, cls == CDC_ERR_NONE ? CDC_ERR_FATAL : cls, "%s",
                *msg ? msg : "the target type lookup failed");
}

/* ---- source / transaction / flattened metadata ---- */

const char *dkv_get(const dctx_t *c, const dkvs_t *kv, const char *name)
{
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->v[i].name, name) == 0)
            return dtb_get(c, kv->v[i].text);
    return NULL;
}

bool dkv_has(const dkvs_t *kv, const char *name)
{
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->v[i].name, name) == 0)
            return true;
    return false;
}

static size_t dkv_off(const dkvs_t *kv, const char *name)
{
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->v[i].name, name) == 0)
            return kv->v[i].text;
    return DOFF_NONE;
}

/* The integer text at @p off (an offset from dkv_off()), or -1. */
static int64_t dkv_int_at(const dctx_t *c, size_t off)
{
    const char *s = dtb_get(c, off);
    if (!s || !*s)
        return -1;
    char *end;
    long long v = strtoll(s, &end, 10);
    return *end ? -1 : (int64_t)v;
}

static int64_t dkv_int(const dctx_t *c, const dkvs_t *kv, const char *name)
{
    return dkv_int_at(c, dkv_off(kv, name));
}

/* The source block's members denv_source() reads, in one pass over the
 * block (it runs for every record): the first member of each name counts,
 * as with dkv_off(). */
enum {
    SRC_CONNECTOR,
    SRC_DB,
    SRC_SCHEMA,
    SRC_TABLE,
    SRC_SNAPSHOT,
    SRC_TS_MS,
    SRC_TS_US,
    SRC_LSN,
    SRC_TXID,
    SRC_N
};

static int src_member(const char *n)
{
    switch (n[0]) {
    case 'c': return strcmp(n, "connector") == 0 ? SRC_CONNECTOR : -1;
    case 'd': return strcmp(n, "db") == 0 ? SRC_DB : -1;
    case 'l': return strcmp(n, "lsn") == 0 ? SRC_LSN : -1;
    case 's':
        return strcmp(n, "schema") == 0     ? SRC_SCHEMA
               : strcmp(n, "snapshot") == 0 ? SRC_SNAPSHOT
                                            : -1;
    case 't':
        return strcmp(n, "table") == 0   ? SRC_TABLE
               : strcmp(n, "ts_ms") == 0 ? SRC_TS_MS
               : strcmp(n, "ts_us") == 0 ? SRC_TS_US
               : strcmp(n, "txId") == 0  ? SRC_TXID
                                         : -1;
    default: return -1;
    }
}

void denv_source(dctx_t *c, const dkvs_t *kv)
{
    size_t off[SRC_N];
    unsigned seen = 0;
    for (int k = 0; k < SRC_N; k++)
        off[k] = DOFF_NONE;
    for (size_t i = 0; i < kv->n && seen != (1u << SRC_N) - 1; i++) {
        int k = src_member(kv->v[i].name);
        if (k >= 0 && !(seen & 1u << k)) {
            seen |= 1u << k;
            off[k] = kv->v[i].text;
        }
    }
    c->connector = off[SRC_CONNECTOR];
    c->db = off[SRC_DB];
    c->schema = off[SRC_SCHEMA];
    c->table = off[SRC_TABLE];
    c->snapshot = off[SRC_SNAPSHOT];
    c->source_ts_ms = dkv_int_at(c, off[SRC_TS_MS]);
    c->source_ts_us = dkv_int_at(c, off[SRC_TS_US]);
    c->lsn = dkv_int_at(c, off[SRC_LSN]);
    c->txid = dkv_int_at(c, off[SRC_TXID]);
    /* op=m messages and some MySQL events carry "" for schema/table. */
    if (c->schema != DOFF_NONE && !*dtb_get(c, c->schema))
        c->schema = DOFF_NONE;
    if (c->table != DOFF_NONE && !*dtb_get(c, c->table))
        c->table = DOFF_NONE;
}

void denv_transaction(dctx_t *c, const dkvs_t *kv)
{
    c->txn_id = dkv_off(kv, "id");
    c->txn_order = dkv_int(c, kv, "total_order");
}

void drec_schema_change(dctx_t *c, const dkvs_t *top, const dkvs_t *src)
{
    c->kind = CDC_KIND_SCHEMA_CHANGE;
    denv_source(c, src);
    /* databaseName names the database the DDL ran in (MySQL: also when the
     * source block's db is another one). */
    size_t db = dkv_off(top, "databaseName");
    if (db != DOFF_NONE)
        c->db = db;
}

bool dflat_is_meta(const char *name)
{
    static const char *const known[] = {"op",   "deleted",      "table",   "db",       "schema",
                                        "lsn",  "ts_ms",        "ts_us",   "ts_ns",    "txId",
                                        "name", "connector",    "version", "snapshot", "sequence",
                                        "xmin", "source_ts_ms", NULL};
    if (name[0] != '_' || name[1] != '_')
        return false;
    const char *rest = name + 2;
    if (strncmp(rest, "source_", 7) == 0 || strncmp(rest, "transaction_", 12) == 0)
        return true;
    for (int i = 0; known[i]; i++)
        if (strcmp(known[i], rest) == 0)
            return true;
    return false;
}

void dtopic_names(dctx_t *c)
{
    if (c->table != DOFF_NONE)
        return;
    /* <topic.prefix>.<schema>.<table> for PostgreSQL, <prefix>.<db>.<table>
     * for MySQL; without the source block this is the best there is. */
    const char *t = c->rec->topic;
    if (!t)
        return;
    const char *last = strrchr(t, '.');
    if (!last || !last[1])
        return;
    size_t tl = strlen(last + 1);
    const char *prev = last;
    while (prev > t && prev[-1] != '.')
        prev--;
    size_t sl = (size_t)(last - prev);
    char tmp[512];
    if (sl && prev > t && sl < sizeof(tmp) && c->schema == DOFF_NONE && c->db == DOFF_NONE) {
        memcpy(tmp, prev, sl);
        tmp[sl] = '\0';
        c->schema = dtb_cstr(c, tmp);
    }
    c->table = dtb_str(c, last + 1, tl);
}

int dflat_finish(dctx_t *c, const dkvs_t *meta)
{
    c->kind = CDC_KIND_CHANGE;
    c->op = 'u'; /* no __op: an upsert is all that can be said */
    const char *op = dkv_get(c, meta, "__op");
    if (op && op[0] && !op[1])
        c->op = op[0];
    const char *del = dkv_get(c, meta, "__deleted");
    if (del && strcmp(del, "true") == 0)
        c->op = 'd';
    if (c->op == 'd' && c->has_after) {
        /* rewrite mode: the image of a delete is the old row. */
        srow_t *tmp = c->before;
        c->before = c->after;
        c->after = tmp;
        c->has_before = true;
        c->has_after = false;
    }
    size_t off;
    if ((off = dkv_off(meta, "__table")) != DOFF_NONE)
        c->table = off;
    if ((off = dkv_off(meta, "__db")) != DOFF_NONE)
        c->db = off;
    if ((off = dkv_off(meta, "__schema")) != DOFF_NONE)
        c->schema = off;
    if ((off = dkv_off(meta, "__source_connector")) != DOFF_NONE)
        c->connector = off;
    int64_t v;
    if ((v = dkv_int(c, meta, "__source_ts_ms")) >= 0)
        c->source_ts_ms = v;
    if ((v = dkv_int(c, meta, "__ts_ms")) >= 0)
        c->ts_ms = v;
    if ((v = dkv_int(c, meta, "__lsn")) >= 0 || (v = dkv_int(c, meta, "__source_lsn")) >= 0)
        c->lsn = v;
    if ((v = dkv_int(c, meta, "__txId")) >= 0 || (v = dkv_int(c, meta, "__source_txId")) >= 0)
        c->txid = v;
    dtopic_names(c);
    return 0;
}

static const char *str_or_null(const char *base, size_t off)
{
    return off == DOFF_NONE ? NULL : base + off;
}

static void fill_row(cdc_row_t *out, cdc_col_t *cols, const srow_t *row, const char *base)
{
    out->cols = row->n ? cols : NULL;
    out->ncols = row->n;
    for (size_t i = 0; i < row->n; i++) {
        const scol_t *s = &row->v[i];
        cols[i].name = base + s->name;
        cols[i].state = s->state;
        cols[i].text = str_or_null(base, s->text);
        cols[i].len = s->text == DOFF_NONE ? 0 : s->len;
        cols[i].semantic = str_or_null(base, s->sem);
        cols[i].pg_type = str_or_null(base, s->pg);
        cols[i].optional = s->optional;
    }
}

void dtxn_coll_add(dctx_t *c, size_t name, int64_t count)
{
    dtxncoll_t e = {name, count};
    cdc_buf_append(&c->scratch[DSCRATCH_TXNC], &e, sizeof(e));
}

/* An END's data_collections (c->txn_has_coll) into @p out, names into @p base. */
static void fill_colls(cdc_event_t *ev, cdc_txn_collection_t *out, const dctx_t *c,
                       const char *base)
{
    const cdc_buf_t *b = &c->scratch[DSCRATCH_TXNC];
    size_t n = b->len / sizeof(dtxncoll_t);
    for (size_t i = 0; i < n; i++) {
        dtxncoll_t e;
        memcpy(&e, b->data + i * sizeof(e), sizeof(e));
        out[i] = (cdc_txn_collection_t){base + e.name, e.count};
    }
    ev->txn_collections = out;
    ev->txn_ncollections = n;
}

cdc_event_t *drec_event(const dctx_t *c)
{
    size_t ncols = c->key->n + c->before->n + c->after->n;
    size_t colsz = ncols * sizeof(cdc_col_t);
    /* Transaction ENDs only: data events add nothing here. */
    if (c->txn_has_coll)
        colsz += c->scratch[DSCRATCH_TXNC].len / sizeof(dtxncoll_t) * sizeof(cdc_txn_collection_t);
    size_t total = sizeof(cdc_event_t) + colsz + c->tb->len + 1;
    cdc_event_t *ev = malloc(total);
    if (!ev)
        abort();
    memset(ev, 0, sizeof(*ev));
    cdc_col_t *cols = (cdc_col_t *)(ev + 1);
    char *base = (char *)cols + colsz;
    memcpy(base, c->tb->data, c->tb->len);
    base[c->tb->len] = '\0';
    ev->kind = c->kind;
    ev->op = c->kind == CDC_KIND_CHANGE ? c->op : 0;
    ev->topic = str_or_null(base, c->topic);
    ev->partition = c->rec->partition;
    ev->offset = c->rec->offset;
    ev->kafka_ts_ms = c->rec->timestamp_ms;
    ev->connector = str_or_null(base, c->connector);
    ev->db = str_or_null(base, c->db);
    ev->schema = str_or_null(base, c->schema);
    ev->table = str_or_null(base, c->table);
    ev->has_key = c->has_key;
    ev->has_before = c->has_before;
    ev->has_after = c->has_after;
    fill_row(&ev->key, cols, c->key, base);
    fill_row(&ev->before, cols + c->key->n, c->before, base);
    fill_row(&ev->after, cols + c->key->n + c->before->n, c->after, base);
    ev->source_ts_ms = c->source_ts_ms;
    ev->source_ts_us = c->source_ts_us;
    ev->ts_ms = c->ts_ms;
    ev->lsn = c->lsn;
    ev->txid = c->txid;
    ev->snapshot = str_or_null(base, c->snapshot);
    ev->txn_id = str_or_null(base, c->txn_id);
    ev->txn_status = str_or_null(base, c->txn_status);
    ev->txn_event_count = c->txn_event_count;
    ev->txn_order = c->txn_order;
    if (c->txn_has_coll)
        fill_colls(ev, (cdc_txn_collection_t *)(cols + ncols), c, base);
    ev->priv_ = NULL;
    return ev;
}
