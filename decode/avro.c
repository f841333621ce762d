/* Avro front end: Confluent wire format (0x00, 4-byte big-endian schema id,
 * binary datum) or Apicurio's 8-byte globalId framing.
 *
 * The schema tree comes from avro-c's parsed schema (avro_schema.c). The
 * datum is decoded directly from the bytes, driven by that tree, straight
 * into PostgreSQL text: no generic Avro value is built. What does not
 * depend on the datum is worked out once per record schema when it is
 * compiled (da_plan_record() in avro_plan.c: field roles, the column strings as one pack
 * an event copies at once, which columns can carry the placeholder), not
 * once per datum. bench-decode
 * measures this against avro-c's generic reader (avro_value_read, then the
 * same text): the whole decode here costs about what avro-c's read alone
 * does, and half of avro-c's read plus the text. decode-avro-crosscheck and
 * fuzz_decode_avro hold the two to the same result. */
#include "decode_int.h"

#include "decode/avro_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

static int afmt(dctx_t *c, const dsch_t *s, ard_t *r, cdc_buf_t *out, bool *isnull);

/* Read the branch indexes of a union (and of unions directly under it):
 * *s becomes the schema of the value that follows. */
static inline int abranch(dctx_t *c, ard_t *r, const dsch_t **s)
{
    while ((*s)->type == DT_UNION) {
        int64_t idx;
        if (r->p < r->e && *r->p < 0x80) { /* a one-byte index: every real union */
            unsigned v = *r->p++;
            idx = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
        } else if (rd_long(c, r, &idx) != 0) {
            return -1;
        }
        if (idx < 0 || (size_t)idx >= (*s)->nbranches)
            return derr(c, CDC_ERR_POISON, "expected a union branch below %zu, found %lld",
                        (*s)->nbranches, (long long)idx);
        *s = (*s)->branches[idx];
    }
    return 0;
}

/* A struct being read, for the dfmt_* callbacks. */
typedef struct afield_arg {
    dctx_t *c;
    const dsch_t *s;
    ard_t *r;
} afield_arg_t;

/* A scalar field of a semantic struct (VariableScaleDecimal, Geometry,
 * Point). */
static int ascalar(dctx_t *c, const dsch_t *s, ard_t *r, dsem_scal_t *v)
{
    memset(v, 0, sizeof(*v));
    if (abranch(c, r, &s) != 0)
        return -1;
    const uint8_t *p = zero8;
    switch (s->type) {
    case DT_NULL: v->isnull = true; return 0;
    case DT_INT8:
    case DT_INT16:
    case DT_INT32: return rd_int(c, r, &v->i);
    case DT_INT64: return rd_long(c, r, &v->i);
    case DT_FLOAT32:
        if (rd_fixed(c, r, 4, &p) != 0)
            return -1;
        v->d = (double)rd_le_float(p);
        return 0;
    case DT_FLOAT64:
        if (rd_fixed(c, r, 8, &p) != 0)
            return -1;
        v->d = rd_le_double(p);
        return 0;
    case DT_BYTES:
    case DT_STRING: return rd_bytes(c, r, &v->b, &v->n);
    default: {
        /* Not needed by any semantic struct: decode and drop. */
        cdc_buf_t tmp = CDC_BUF_INIT;
        bool isnull;
        int rc = afmt(c, s, r, &tmp, &isnull);
        cdc_buf_free(&tmp);
        return rc;
    }
    }
}

static int afmt_member(void *arg, size_t i, dsem_scal_t *m)
{
    afield_arg_t *a = arg;
    return ascalar(a->c, a->s->fields[i].sch, a->r, m);
}

static int afmt_field(void *arg, size_t i, cdc_buf_t *val, bool *isnull)
{
    afield_arg_t *a = arg;
    return afmt(a->c, a->s->fields[i].sch, a->r, val, isnull);
}

static int afmt_struct_sem(dctx_t *c, const dsch_t *s, ard_t *r, cdc_buf_t *out)
{
    afield_arg_t a = {c, s, r};
    size_t n = 0;
    int rc = dfmt_sem_struct(out, s, afmt_member, &a, &n);
    if (rc == DSEM_NULLS)
        return derr(c, CDC_ERR_POISON,
                    "expected VariableScaleDecimal {scale, value}, found "
                    "nulls");
    if (rc == DSEM_RANGE)
        return derr(
            c, CDC_ERR_POISON,
            "expected a decimal PostgreSQL can hold, found %zu bytes or a scale beyond 16383", n);
    return rc;
}

static int afmt_blocks(dctx_t *c, const dsch_t *s, ard_t *r, cdc_buf_t *out)
{
    bool is_map = s->type == DT_MAP;
    const dsch_t *el = is_map ? s->values : s->items;
    const dsch_t *eu = dsch_unwrap(el);
    bool raw = eu->type == DT_ARRAY;
    /* A scalar element's text goes through the decoder's scratch buffer (no
     * allocation per array); one that can hold blocks itself, through its
     * own. */
    bool nests =
        eu->type == DT_ARRAY || eu->type == DT_MAP || eu->type == DT_STRUCT || eu->type == DT_UNION;
    cdc_buf_t own = CDC_BUF_INIT;
    cdc_buf_t *tmp = nests ? &own : &c->scratch[DSCRATCH_ELEM];
    int rc = 0;
    size_t idx = 0;
    if (++c->depth > MAX_DEPTH) {
        c->depth--;
        return derr(c, CDC_ERR_POISON, "value nested deeper than %d levels", MAX_DEPTH);
    }
    if (!is_map)
        cdc_buf_putc(out, '{');
    for (;;) {
        int64_t count;
        if ((rc = rd_long(c, r, &count)) != 0)
            break;
        if (count == 0)
            break;
        if (count < 0) {
            int64_t bytes;
            if ((rc = rd_long(c, r, &bytes)) != 0)
                break;
            count = count == INT64_MIN ? INT64_MAX : -count;
        }
        /* Every element takes at least one byte (maps: the key length),
         * except null/empty-record elements: cap the work by the input. */
        if (count > (int64_t)(r->e - r->p) && eu->type != DT_NULL) {
            rc = derr(c, CDC_ERR_POISON, "expected %lld elements, found %zu bytes left",
                      (long long)count, (size_t)(r->e - r->p));
            break;
        }
        for (int64_t i = 0; i < count && rc == 0; i++, idx++) {
            size_t old = dpath_push_idx(c, idx);
            const uint8_t *kp = NULL;
            size_t kn = 0;
            if (is_map)
                rc = rd_bytes(c, r, &kp, &kn);
            bool isnull = false;
            cdc_buf_reset(tmp);
            if (rc == 0)
                rc = afmt(c, el, r, tmp, &isnull);
            dpath_pop(c, old);
            if (rc)
                break;
            dfmt_block_elem(out, idx, is_map, raw, (const char *)kp, kn, tmp, isnull);
        }
        if (rc)
            break;
    }
    if (!is_map)
        cdc_buf_putc(out, '}');
    cdc_buf_free(&own);
    c->depth--;
    return rc;
}

static int afmt(dctx_t *c, const dsch_t *s, ard_t *r, cdc_buf_t *out, bool *isnull)
{
    *isnull = false;
    const uint8_t *p = zero8;
    size_t n;
    int64_t v;
    switch (s->type) {
    case DT_NULL: *isnull = true; return 0;
    case DT_UNION:
        if (abranch(c, r, &s) != 0)
            return -1;
        return afmt(c, s, r, out, isnull);
    case DT_BOOL:
        if (rd_fixed(c, r, 1, &p) != 0)
            return -1;
        if (*p > 1)
            return derr(c, CDC_ERR_POISON, "expected a boolean byte 0 or 1, found %u", *p);
        cdc_buf_putc(out, *p ? 't' : 'f');
        return 0;
    case DT_INT8:
    case DT_INT16:
    case DT_INT32:
    case DT_INT64:
        if ((s->type == DT_INT64 ? rd_long(c, r, &v) : rd_int(c, r, &v)) != 0)
            return -1;
        dfmt_int_sem(out, s->sem, v);
        return 0;
    case DT_FLOAT32:
        if (rd_fixed(c, r, 4, &p) != 0)
            return -1;
        dfmt_float(out, rd_le_float(p));
        return 0;
    case DT_FLOAT64:
        if (rd_fixed(c, r, 8, &p) != 0)
            return -1;
        dfmt_double(out, rd_le_double(p));
        return 0;
    case DT_STRING:
        if (rd_bytes(c, r, &p, &n) != 0)
            return -1;
        dfmt_str_sem(out, s->sem, (const char *)p, n);
        return 0;
    case DT_BYTES:
    case DT_FIXED:
        if (s->type == DT_BYTES ? rd_bytes(c, r, &p, &n) : rd_fixed(c, r, n = s->fixed_size, &p))
            return -1;
        if (dfmt_bytes_sem(out, s, p, n) != 0)
            return derr(
                c, CDC_ERR_POISON,
                "expected a decimal PostgreSQL can hold, found %zu bytes or a scale beyond 16383",
                n);
        return 0;
    case DT_ENUM:
        if (rd_long(c, r, &v) != 0)
            return -1;
        if (v < 0 || (size_t)v >= s->nsymbols)
            return derr(c, CDC_ERR_POISON, "expected an enum index below %zu, found %lld",
                        s->nsymbols, (long long)v);
        cdc_buf_puts(out, s->symbols[v]);
        return 0;
    case DT_ARRAY:
    case DT_MAP: return afmt_blocks(c, s, r, out);
    case DT_STRUCT:
        if (s->sem == SEM_VSDECIMAL || s->sem == SEM_GEOMETRY || s->sem == SEM_GEOGRAPHY ||
            s->sem == SEM_POINT)
            return afmt_struct_sem(c, s, r, out);
        if (++c->depth > MAX_DEPTH) {
            c->depth--;
            return derr(c, CDC_ERR_POISON, "value nested deeper than %d levels", MAX_DEPTH);
        }
        {
            /* A nested record that is no known semantic type: JSON text of
             * its fields, which is what a jsonb column can hold. */
            afield_arg_t a = {c, s, r};
            int rc = dfmt_struct_json(out, s, afmt_field, &a);
            c->depth--;
            return rc;
        }
    }
    return derr(c, CDC_ERR_POISON, "unsupported schema type");
}

/* ---- records ---- */

static inline size_t pack_off(size_t base, size_t off)
{
    return off == DOFF_NONE ? DOFF_NONE : base + off;
}

/* dph_match() of field @p f's text. A string's or an enum's placeholder
 * form is the placeholder's bytes (placeholder.c): most texts differ in
 * length. */
static inline bool aph_match(const dctx_t *c, const dafield_t *f, const dsch_t *fs,
                             const char *text, size_t len)
{
    if (!f->ph || (f->ph_text && len != c->opts->ph.raw.len))
        return false;
    return dph_match(&c->opts->ph, fs, text, len);
}

/* The column of field @p f (schema @p fs) whose text the caller formatted
 * at c->tb[start..]: dcol_add() with the schema strings from the record's
 * pack at @p base. */
static inline void acol(dctx_t *c, srow_t *row, const dafield_t *f, const dsch_t *fs, size_t base,
                        bool isnull, size_t start)
{
    scol_t *col = drow_push(row);
    dcol_state(c, col, isnull,
               !isnull && aph_match(c, f, fs, c->tb->data + start, c->tb->len - start), start);
    col->name = base + f->name;
    col->sem = pack_off(base, f->sem);
    col->pg = pack_off(base, f->pg);
    col->optional = f->optional;
}

/* Resolve an optional record image: *rs is the record, NULL for null. */
static int arecord(dctx_t *c, const dsch_t *s, ard_t *r, const dsch_t **rs)
{
    *rs = NULL;
    if (abranch(c, r, &s) != 0)
        return -1;
    if (s->type == DT_NULL)
        return 0;
    if (s->type != DT_STRUCT)
        return derr(c, CDC_ERR_POISON, "expected a record schema for a row image, found %s",
                    s->semantic ? s->semantic : "another type");
    *rs = s;
    return 0;
}

/* A record's fields share one path segment: pushed once (an Avro field
 * name is never empty), renamed per field. Returns the path to restore. */
static inline size_t apath_fields(dctx_t *c, const dsch_t *s)
{
    return dpath_push(c, s->nfields ? s->fields[0].name : "");
}

static inline void apath_field(dctx_t *c, size_t seg, const char *name)
{
    if (seg < DPATH_MAX)
        c->path[seg].name = name;
}

/* Field @p fd's value as text at the end of c->tb (afmt() with the union
 * branch resolved here: most fields are ["null", T]). */
static inline int afield(dctx_t *c, const dfield_t *fd, ard_t *r, bool *isnull)
{
    const dsch_t *fs = fd->sch;
    if (abranch(c, r, &fs) != 0)
        return -1;
    if (fs->type == DT_NULL) {
        *isnull = true;
        return 0;
    }
    return afmt(c, fs, r, c->tb, isnull);
}

/* Field @p i of record @p s as text at c->tb[*start..], its name the path
 * segment @p seg (restored on failure). */
static inline int afield_text(dctx_t *c, const dsch_t *s, size_t i, size_t seg, ard_t *r,
                              size_t *start, bool *isnull)
{
    apath_field(c, seg, s->fields[i].name);
    *start = c->tb->len;
    *isnull = false;
    if (afield(c, &s->fields[i], r, isnull) != 0) {
        dpath_pop(c, seg);
        return -1;
    }
    return 0;
}

/* Decode an optional record image into @p row; *present is false for null. */
static int arow(dctx_t *c, srow_t *row, const dsch_t *s, ard_t *r, bool *present, dkvs_t *meta)
{
    *present = false;
    if (arecord(c, s, r, &s) != 0)
        return -1;
    if (!s)
        return 0;
    const daplan_t *pl = s->aplan;
    /* The column strings: one copy per event, shared by the images. */
    size_t base = dtb_intern_blob(c, pl->pack, pl->pack_len);
    size_t old = apath_fields(c, s);
    for (size_t i = 0; i < s->nfields; i++) {
        const dfield_t *fd = &s->fields[i];
        const dafield_t *f = &pl->f[i];
        size_t start;
        bool isnull;
        if (afield_text(c, s, i, old, r, &start, &isnull) != 0)
            return -1;
        if (meta && f->meta) {
            cdc_buf_putc(c->tb, '\0');
            if (meta->n < DKV_MAX) {
                meta->v[meta->n].name = fd->name;
                meta->v[meta->n++].text = isnull ? DOFF_NONE : start;
            }
        } else {
            acol(c, row, f, fd->sch, base, isnull, start);
        }
    }
    dpath_pop(c, old);
    *present = true;
    return 0;
}

/* Top-level scalars of a record as text (source block, metadata records):
 * a null, or the placeholder, is DOFF_NONE, as for a column. */
static int akv(dctx_t *c, const dsch_t *s, ard_t *r, dkvs_t *kv)
{
    kv->n = 0;
    if (arecord(c, s, r, &s) != 0)
        return -1;
    if (!s)
        return 0;
    const daplan_t *pl = s->aplan;
    size_t old = apath_fields(c, s);
    for (size_t i = 0; i < s->nfields; i++) {
        const dfield_t *fd = &s->fields[i];
        size_t start;
        bool isnull;
        if (afield_text(c, s, i, old, r, &start, &isnull) != 0)
            return -1;
        size_t text = DOFF_NONE;
        if (isnull || aph_match(c, &pl->f[i], fd->sch, c->tb->data + start, c->tb->len - start)) {
            c->tb->len = start;
        } else {
            dbuf_putc(c->tb, '\0');
            text = start;
        }
        if (kv->n < DKV_MAX) {
            /* Names are borrowed from the schema: the text blob may move. */
            kv->v[kv->n].name = fd->name;
            kv->v[kv->n++].text = text;
        }
    }
    dpath_pop(c, old);
    return 0;
}

/* One {data_collection, event_count} of an END's data_collections. */
static int atxn_coll(dctx_t *c, const dsch_t *es, ard_t *r)
{
    if (abranch(c, r, &es) != 0)
        return -1;
    if (es->type != DT_STRUCT)
        return derr(c, CDC_ERR_POISON, "expected a record {data_collection, event_count}");
    size_t name = DOFF_NONE;
    int64_t count = -1;
    bool counted = false; /* a negative count is the assembler's to refuse */
    for (size_t i = 0; i < es->nfields; i++) {
        const dfield_t *f = &es->fields[i];
        size_t old = dpath_push(c, f->name), start = c->tb->len;
        bool isnull = false;
        int rc = afmt(c, f->sch, r, c->tb, &isnull);
        cdc_buf_putc(c->tb, '\0');
        dpath_pop(c, old);
        if (rc)
            return -1;
        if (!strcmp(f->name, "data_collection") && !isnull &&
            dsch_unwrap(f->sch)->type == DT_STRING) {
            name = start;
            continue;
        }
        if (!strcmp(f->name, "event_count") && !isnull) {
            count = strtoll(c->tb->data + start, NULL, 10);
            counted = true;
        }
        c->tb->len = start; /* only the name is kept */
    }
    if (name == DOFF_NONE || !counted)
        return derr(c, CDC_ERR_POISON,
                    "expected a string data_collection and an integer event_count (Debezium "
                    "transaction metadata)");
    dtxn_coll_add(c, name, count);
    return 0;
}

/* An END's data_collections: null, or an array of records read into the
 * record's entries (dtxn_coll_add()). */
static int atxn_colls(dctx_t *c, const dsch_t *s, ard_t *r)
{
    if (abranch(c, r, &s) != 0)
        return -1;
    if (s->type == DT_NULL)
        return 0;
    if (s->type != DT_ARRAY)
        return derr(c, CDC_ERR_POISON,
                    "expected null or an array of {data_collection, event_count}");
    c->txn_has_coll = true;
    cdc_buf_reset(&c->scratch[DSCRATCH_TXNC]);
    for (size_t idx = 0;;) {
        int64_t count, bytes;
        if (rd_long(c, r, &count) != 0)
            return -1;
        if (count == 0)
            return 0;
        if (count < 0 && rd_long(c, r, &bytes) != 0)
            return -1;
        count = count < 0 ? (count == INT64_MIN ? INT64_MAX : -count) : count;
        if (count > (int64_t)(r->e - r->p))
            return derr(c, CDC_ERR_POISON, "expected %lld elements, found %zu bytes left",
                        (long long)count, (size_t)(r->e - r->p));
        for (int64_t i = 0; i < count; i++, idx++) {
            size_t old = dpath_push_idx(c, idx);
            int rc = atxn_coll(c, s->items, r);
            dpath_pop(c, old);
            if (rc)
                return -1;
        }
    }
}

/* The top-level fields of a metadata record (schema change, or with
 * @p txn a transaction-topic record): scalars as text into @p top, the
 * source block into @p src, an END's data_collections into the record's
 * entries (atxn_colls()). */
static int ablocks(dctx_t *c, const dsch_t *rs, ard_t *r, dkvs_t *top, dkvs_t *src, bool txn)
{
    top->n = src->n = 0;
    const daplan_t *pl = rs->aplan;
    for (size_t i = 0; i < rs->nfields; i++) {
        const dfield_t *f = &rs->fields[i];
        int rc;
        size_t old = dpath_push(c, f->name);
        if (pl->f[i].role == DR_SOURCE && pl->f[i].u->type == DT_STRUCT) {
            rc = akv(c, f->sch, r, src);
        } else if (txn && !strcmp(f->name, "data_collections")) {
            rc = atxn_colls(c, f->sch, r);
        } else {
            size_t start = c->tb->len;
            bool isnull = false;
            rc = afmt(c, f->sch, r, c->tb, &isnull);
            cdc_buf_putc(c->tb, '\0');
            if (rc == 0 && top->n < DKV_MAX) {
                top->v[top->n].name = f->name;
                top->v[top->n++].text = isnull ? DOFF_NONE : start;
            }
        }
        dpath_pop(c, old);
        if (rc)
            return -1;
    }
    return 0;
}

static int trailing(dctx_t *c, ard_t *r)
{
    if (r->p != r->e)
        return derr(c, CDC_ERR_POISON,
                    "expected the end of the datum, found %zu more bytes (schema id of another "
                    "version?)",
                    (size_t)(r->e - r->p));
    return 0;
}

/* An integer type whose text is the plain number (dfmt_int_sem()'s
 * default). */
static bool plain_int(const dsch_t *s)
{
    if (s->type < DT_INT8 || s->type > DT_INT64)
        return false;
    switch (s->sem) {
    case SEM_DATE:
    case SEM_CDATE:
    case SEM_TIME:
    case SEM_CTIME:
    case SEM_MICROTIME:
    case SEM_NANOTIME:
    case SEM_TIMESTAMP:
    case SEM_CTS:
    case SEM_MICROTS:
    case SEM_NANOTS:
    case SEM_MICRODURATION: return false;
    default: return true;
    }
}

/* An envelope field besides the images and blocks: op and ts_ms are kept,
 * anything else is decoded and dropped. */
static int aenv_scalar(dctx_t *c, const dfield_t *f, darole_t role, ard_t *r, char *op)
{
    const dsch_t *s = f->sch;
    if (role == DR_TS_MS) {
        /* The number itself, not its text read back. */
        if (abranch(c, r, &s) != 0)
            return -1;
        if (plain_int(s)) {
            int64_t v;
            if ((s->type == DT_INT64 ? rd_long(c, r, &v) : rd_int(c, r, &v)) != 0)
                return -1;
            c->ts_ms = v;
            return 0;
        }
    }
    size_t start = c->tb->len;
    bool isnull = false;
    int rc = afmt(c, s, r, c->tb, &isnull);
    if (rc == 0 && role == DR_OP) {
        if (isnull || c->tb->len - start != 1 || !strchr("cudrtm", c->tb->data[start]))
            rc = derr(c, CDC_ERR_POISON, "expected an op of c, u, d, r, t or m, found \"%.8s\"",
                      isnull ? "null" : c->tb->data + start);
        else
            *op = c->tb->data[start];
    } else if (rc == 0 && role == DR_TS_MS && !isnull) {
        cdc_buf_putc(c->tb, '\0');
        c->ts_ms = strtoll(c->tb->data + start, NULL, 10);
    }
    c->tb->len = start;
    return rc;
}

/* A union root is ["null", record] at most: read its branch index. */
static int root_branch(dctx_t *c, const dsch_t *root, const dsch_t *rs, ard_t *r)
{
    if (root->type != DT_UNION)
        return 0;
    int64_t idx;
    if (rd_long(c, r, &idx) != 0)
        return -1;
    if (idx < 0 || (size_t)idx >= root->nbranches || root->branches[idx] != rs)
        return derr(c, CDC_ERR_POISON, "expected the record branch, found %lld", (long long)idx);
    return 0;
}

int da_decode_value(dctx_t *c, const dsch_t *root, int64_t id, const uint8_t *p, size_t hdr,
                    size_t n)
{
    ard_t r = {p + hdr, p, p + n};
    const dsch_t *rs = dsch_unwrap(root);
    if (rs->type != DT_STRUCT)
        return derr(c, CDC_ERR_POISON, "expected a record schema (id %lld), found %s",
                    (long long)id, rs->semantic ? rs->semantic : "another type");
    /* What the classifier asks: the record schema's name and fields. */
    const daplan_t *pl = rs->aplan;
    dshape_t sh = {rs->name, true, pl->shape, pl->shape, rs->nfields};
    dclass_t kind = dclassify(&sh, c->rec->topic);
    int rc = 0;
    dkvs_t kv;
    if (kind == DC_ENVELOPE) {
        bool present = false;
        char op = 0;
        if (root_branch(c, root, rs, &r) != 0)
            return -1;
        for (size_t i = 0; i < rs->nfields && rc == 0; i++) {
            const dfield_t *f = &rs->fields[i];
            size_t old = dpath_push(c, f->name);
            switch (pl->f[i].role) {
            case DR_BEFORE:
                rc = arow(c, c->before, f->sch, &r, &present, NULL);
                c->has_before = present;
                break;
            case DR_AFTER:
                rc = arow(c, c->after, f->sch, &r, &present, NULL);
                c->has_after = present;
                break;
            case DR_SOURCE:
                rc = akv(c, f->sch, &r, &kv);
                if (rc == 0)
                    denv_source(c, &kv);
                break;
            case DR_TRANSACTION:
                rc = akv(c, f->sch, &r, &kv);
                if (rc == 0)
                    denv_transaction(c, &kv);
                break;
            default: rc = aenv_scalar(c, f, pl->f[i].role, &r, &op); break;
            }
            dpath_pop(c, old);
        }
        if (rc == 0 && !op)
            rc = derr(c, CDC_ERR_POISON, "expected an op field, found none");
        if (rc)
            return -1;
        c->op = op;
        c->kind = op == 'm' ? CDC_KIND_MESSAGE : CDC_KIND_CHANGE;
        if (c->kind == CDC_KIND_MESSAGE) {
            c->has_before = c->has_after = false;
            c->before->n = c->after->n = 0;
        } else if (c->table == DOFF_NONE) {
            dtopic_names(c);
        }
        return trailing(c, &r);
    }
    if (kind == DC_SCHEMA_CHANGE) {
        dkvs_t src;
        if (root_branch(c, root, rs, &r) != 0 || ablocks(c, rs, &r, &kv, &src, false) != 0)
            return -1;
        drec_schema_change(c, &kv, &src);
        return trailing(c, &r);
    }
    bool hb = kind == DC_HEARTBEAT, txn = kind == DC_TXN;
    if (hb || txn) {
        c->kind = hb ? CDC_KIND_HEARTBEAT : CDC_KIND_TXN;
        dkvs_t src;
        if (txn ? root_branch(c, root, rs, &r) != 0 || ablocks(c, rs, &r, &kv, &src, true) != 0
                : akv(c, root, &r, &kv) != 0)
            return -1;
        const char *ts = dkv_get(c, &kv, "ts_ms");
        if (ts)
            c->source_ts_ms = strtoll(ts, NULL, 10);
        if (txn) {
            const char *st = dkv_get(c, &kv, "status"), *tid = dkv_get(c, &kv, "id"),
                       *cnt = dkv_get(c, &kv, "event_count");
            c->txn_status = st ? (size_t)(st - c->tb->data) : DOFF_NONE;
            c->txn_id = tid ? (size_t)(tid - c->tb->data) : DOFF_NONE;
            if (cnt)
                c->txn_event_count = strtoll(cnt, NULL, 10);
        }
        return trailing(c, &r);
    }
    /* Flattened (ExtractNewRecordState) row. */
    dkvs_t meta;
    meta.n = 0;
    bool present;
    if (arow(c, c->after, root, &r, &present, &meta) != 0)
        return -1;
    c->has_after = present;
    if (trailing(c, &r) != 0)
        return -1;
    return dflat_finish(c, &meta);
}

int da_decode_key(dctx_t *c, const dsch_t *root, const uint8_t *p, size_t hdr, size_t n)
{
    ard_t r = {p + hdr, p, p + n};
    if (dsch_unwrap(root)->type != DT_STRUCT) {
        /* A primitive key names no columns; decode it only to validate. */
        cdc_buf_t tmp = CDC_BUF_INIT;
        bool isnull;
        int rc = afmt(c, root, &r, &tmp, &isnull);
        cdc_buf_free(&tmp);
        return rc ? rc : trailing(c, &r);
    }
    bool present;
    if (arow(c, c->key, root, &r, &present, NULL) != 0)
        return -1;
    c->has_key = present;
    return trailing(c, &r);
}
