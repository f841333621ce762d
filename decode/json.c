/* JSON front end, jansson path: JsonConverter output with schemas.enable
 * true (the decoder split off the schema and found it in the cache: this
 * gets the payload bytes and the compiled schema) or false (bare payload).
 *
 * The decoder first offers a wrapped payload to the single-pass scanner
 * (jscan.c); what that scanner does not take (errors, rare types,
 * non-envelope records, schemaless JSON) is parsed by jansson and walked
 * here, which is also the reference the scanner is tested against. Scalar
 * values go through the same formatter as the scanner's (json_scalar.c);
 * schemaless values through json_hint.c. */
#include "json_scalar.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

/* ---- values ---- */

/* jansson reads every real number as a double and refuses an integer beyond
 * int64, but a Decimal written as a JSON number (decimal.format=NUMERIC)
 * must keep its exact digits. Before parsing, each such number is replaced
 * by the real "<k>.0", k its index in this table of the original texts;
 * after parsing, each real (all are placeholders) gets the double jansson
 * would have read and is mapped to its text. */
typedef struct dnum {
    json_t *v;
    size_t off, len;
    double d;
} dnum_t;

typedef struct dnums {
    const char *src;
    dnum_t *v;
    size_t n, cap;
} dnums_t;

/* The number token at @p s (up to @p e): its length; *keep when jansson
 * reads it exactly (an int64) or fails on it (then its error stays). */
static size_t num_token(const char *s, const char *e, bool *keep, double *d)
{
    const char *q = s;
    bool real = false;
    while (q < e && (strchr("0123456789+-", *q) || *q == '.' || *q == 'e' || *q == 'E')) {
        if (*q == '.' || *q == 'e' || *q == 'E')
            real = true;
        q++;
    }
    size_t len = (size_t)(q - s);
    *keep = true;
    if ((!real && len < 19) || len > 4096)
        return len; /* an int64 (or a token jansson refuses) */
    cdc_buf_t probe = CDC_BUF_INIT;
    bool ok = dfmt_num_text(&probe, s, len, -1) != -1; /* JSON's grammar */
    cdc_buf_free(&probe);
    if (!ok)
        return len;
    char tmp[4097];
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    errno = 0;
    if (!real) {
        (void)strtoll(tmp, NULL, 10);
        if (errno != ERANGE)
            return len;
        errno = 0;
    }
    *d = strtod(tmp, NULL);
    if (errno == ERANGE && (*d == HUGE_VAL || *d == -HUGE_VAL))
        return len; /* jansson: "real number overflow" */
    *keep = false;
    return len;
}

static void dnums_map(dnums_t *t, json_t *v)
{
    if (json_is_real(v)) {
        size_t k = (size_t)json_real_value(v);
        if (k < t->n) {
            t->v[k].v = v;
            json_real_set(v, t->v[k].d);
        }
    } else if (json_is_object(v)) {
        const char *key;
        json_t *m;
        json_object_foreach(v, key, m) dnums_map(t, m);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) dnums_map(t, m);
    }
}

static void dnums_free(dctx_t *c, dnums_t *t)
{
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
    if (c->nums == t)
        c->nums = NULL;
}

/* The exact source text of number @p v (a real in the DOM), or NULL. */
const char *dj_num_text(dctx_t *c, json_t *v, size_t *len)
{
    if (!c->nums || !json_is_real(v))
        return NULL;
    for (size_t i = 0; i < c->nums->n; i++)
        if (c->nums->v[i].v == v) {
            *len = c->nums->v[i].len;
            return c->nums->src + c->nums->v[i].off;
        }
    return NULL;
}

bool dj_scalar_of(dctx_t *c, json_t *v, djv_t *out)
{
    memset(out, 0, sizeof(*out));
    switch (json_typeof(v)) {
    case JSON_STRING:
        out->t = DJT_STR;
        out->s = json_string_value(v);
        out->n = json_string_length(v);
        return true;
    case JSON_INTEGER:
        out->t = DJT_INT;
        out->i = json_integer_value(v);
        out->d = (double)out->i;
        return true;
    case JSON_REAL:
        out->t = DJT_REAL;
        out->d = json_real_value(v);
        out->s = dj_num_text(c, v, &out->n);
        return true;
    case JSON_TRUE: out->t = DJT_TRUE; return true;
    case JSON_FALSE: out->t = DJT_FALSE; return true;
    case JSON_NULL: out->t = DJT_NULL; return true;
    case JSON_OBJECT:
    case JSON_ARRAY: break;
    }
    return false;
}

/* "found a string "abc"" with the value cut short: row data may be
 * sensitive, so errors show at most a few bytes of it. */
int dj_mismatch(dctx_t *c, const char *expected, json_t *v)
{
    djv_t sv;
    if (dj_scalar_of(c, v, &sv))
        return djs_mismatch(c, expected, &sv);
    return derr(c, CDC_ERR_POISON, "expected %s, found %s", expected,
                json_is_object(v) ? "an object" : "an array");
}

static void put_json_text(cdc_buf_t *out, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s) {
        cdc_buf_puts(out, s);
        free(s);
    }
}

int dj_b64_bytes(dctx_t *c, json_t *v, cdc_buf_t *tmp, const char *what)
{
    if (!json_is_string(v))
        return dj_mismatch(c, what, v);
    if (dfmt_b64_decode(json_string_value(v), json_string_length(v), tmp) != 0)
        return dj_mismatch(c, what, v);
    return 0;
}

/* The base64 bytes of member @p key of object @p v into @p tmp; a mismatch
 * with @p shape when there is no such member. */
static int dj_b64_member(dctx_t *c, json_t *v, const char *key, const char *shape, const char *what,
                         cdc_buf_t *tmp)
{
    json_t *m = json_object_get(v, key);
    if (!m)
        return dj_mismatch(c, shape, v);
    return dj_b64_bytes(c, m, tmp, what);
}

int dj_fmt_vsdecimal(dctx_t *c, json_t *v, cdc_buf_t *out)
{
    const char *shape = "a VariableScaleDecimal {scale, value}";
    json_t *sc = json_object_get(v, "scale");
    if (!json_is_integer(sc))
        return dj_mismatch(c, shape, v);
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = dj_b64_member(c, v, "value", shape, "base64 decimal bytes", &tmp);
    if (rc == 0 &&
        dfmt_decimal(out, (const uint8_t *)tmp.data, tmp.len, (int)json_integer_value(sc)) != 0)
        rc = derr(c, CDC_ERR_POISON,
                  "expected a decimal PostgreSQL can hold, found %zu bytes or a scale beyond 16383",
                  tmp.len);
    cdc_buf_free(&tmp);
    return rc;
}

int dj_fmt_geometry(dctx_t *c, json_t *v, cdc_buf_t *out)
{
    /* json_object_get() of a non-object is NULL: a mismatch. */
    json_t *srid = json_object_get(v, "srid");
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = dj_b64_member(c, v, "wkb", "a geometry {wkb, srid}", "base64 WKB", &tmp);
    if (rc == 0)
        dfmt_geometry(out, (const uint8_t *)tmp.data, tmp.len, json_is_integer(srid),
                      json_is_integer(srid) ? json_integer_value(srid) : 0);
    cdc_buf_free(&tmp);
    return rc;
}

static int num_of(json_t *v, double *d)
{
    if (json_is_number(v)) {
        *d = json_number_value(v);
        return 0;
    }
    return -1;
}

int dj_fmt_point(dctx_t *c, json_t *v, cdc_buf_t *out)
{
    double x, y;
    if (!json_is_object(v) || num_of(json_object_get(v, "x"), &x) ||
        num_of(json_object_get(v, "y"), &y))
        return dj_mismatch(c, "a point {x, y}", v);
    dfmt_point(out, x, y);
    return 0;
}

static int fmt_value(dctx_t *c, const dsch_t *s, json_t *v, cdc_buf_t *out, bool *isnull);

int dj_fmt_array(dctx_t *c, const dsch_t *items, const char *elem_pg, json_t *v, cdc_buf_t *out)
{
    if (!json_is_array(v))
        return dj_mismatch(c, "an array", v);
    if (++c->depth > MAX_DEPTH) {
        c->depth--;
        return derr(c, CDC_ERR_POISON, "value nested deeper than %d levels", MAX_DEPTH);
    }
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = 0;
    cdc_buf_putc(out, '{');
    for (size_t i = 0; i < json_array_size(v) && rc == 0; i++) {
        json_t *el = json_array_get(v, i);
        size_t old = dpath_push_idx(c, i);
        bool isnull = false;
        cdc_buf_reset(&tmp);
        if (items)
            rc = fmt_value(c, items, el, &tmp, &isnull);
        else
            rc = dj_fmt_hint(c, elem_pg, el, &tmp, &isnull);
        dpath_pop(c, old);
        if (i)
            cdc_buf_putc(out, ',');
        if (isnull)
            cdc_buf_puts(out, "NULL");
        else
            dfmt_array_elem(out, tmp.data ? tmp.data : "", tmp.len, json_is_array(el));
    }
    cdc_buf_putc(out, '}');
    cdc_buf_free(&tmp);
    c->depth--;
    return rc;
}

/* hstore text: "k"=>"v", ... ; a map with non-string keys arrives from the
 * JsonConverter as an array of [k, v] pairs. */
int dj_fmt_map(dctx_t *c, const dsch_t *values, json_t *v, cdc_buf_t *out)
{
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = 0;
    bool first = true;
    if (json_is_object(v)) {
        const char *k;
        json_t *val;
        json_object_foreach(v, k, val)
        {
            bool isnull = false;
            cdc_buf_reset(&tmp);
            rc = values ? fmt_value(c, values, val, &tmp, &isnull) : dj_fmt_generic(c, val, &tmp);
            if (!values && json_is_null(val))
                isnull = true;
            if (rc)
                break;
            if (!first)
                cdc_buf_puts(out, ", ");
            first = false;
            dfmt_hstore_str(out, k, strlen(k));
            cdc_buf_puts(out, "=>");
            if (isnull)
                cdc_buf_puts(out, "NULL");
            else
                dfmt_hstore_str(out, tmp.data ? tmp.data : "", tmp.len);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && rc == 0; i++) {
            json_t *pair = json_array_get(v, i);
            if (!json_is_array(pair) || json_array_size(pair) != 2) {
                rc = dj_mismatch(c, "a [key, value] pair", pair);
                break;
            }
            cdc_buf_t kb = CDC_BUF_INIT;
            dj_fmt_generic(c, json_array_get(pair, 0), &kb);
            bool isnull = json_is_null(json_array_get(pair, 1));
            cdc_buf_reset(&tmp);
            if (!isnull)
                rc = values ? fmt_value(c, values, json_array_get(pair, 1), &tmp, &isnull)
                            : dj_fmt_generic(c, json_array_get(pair, 1), &tmp);
            if (!first)
                cdc_buf_puts(out, ", ");
            first = false;
            dfmt_hstore_str(out, kb.data ? kb.data : "", kb.len);
            cdc_buf_free(&kb);
            cdc_buf_puts(out, "=>");
            if (isnull)
                cdc_buf_puts(out, "NULL");
            else
                dfmt_hstore_str(out, tmp.data ? tmp.data : "", tmp.len);
        }
    } else {
        rc = dj_mismatch(c, "a map (object)", v);
    }
    cdc_buf_free(&tmp);
    return rc;
}

static int fmt_value(dctx_t *c, const dsch_t *s, json_t *v, cdc_buf_t *out, bool *isnull)
{
    *isnull = false;
    if (json_is_null(v)) {
        /* An explicit null stays NULL even where the schema has a default
         * (the JsonConverter/DBZ-7191 default-substitution problem). */
        *isnull = true;
        return 0;
    }
    s = dsch_unwrap(s);
    djv_t sv;
    if (dj_scalar_of(c, v, &sv)) {
        int rc = djs_value(c, s, &sv, out, false);
        if (rc != 1)
            return rc;
    } else if (djs_expected(s)) {
        return dj_mismatch(c, djs_expected(s), v);
    }
    switch (s->type) {
    case DT_ARRAY: return dj_fmt_array(c, s->items, NULL, v, out);
    case DT_MAP: return dj_fmt_map(c, s->values, v, out);
    case DT_STRUCT:
        switch (s->sem) {
        case SEM_VSDECIMAL: return dj_fmt_vsdecimal(c, v, out);
        case SEM_GEOMETRY:
        case SEM_GEOGRAPHY: return dj_fmt_geometry(c, v, out);
        case SEM_POINT: return dj_fmt_point(c, v, out);
        default:
            if (!json_is_object(v))
                return dj_mismatch(c, "a struct (object)", v);
            put_json_text(out, v);
            return 0;
        }
    default: return dj_mismatch(c, "a value of a known schema type", v);
    }
}

/* Generic text of a schemaless value: scalars as djs_generic(), arrays as
 * PostgreSQL arrays, {scale, value} as a decimal, other objects as JSON. */
int dj_fmt_generic(dctx_t *c, json_t *v, cdc_buf_t *out)
{
    djv_t sv;
    if (dj_scalar_of(c, v, &sv)) {
        djs_generic(out, &sv);
        return 0;
    }
    if (json_is_array(v))
        return dj_fmt_array(c, NULL, NULL, v, out);
    if (json_object_size(v) == 2 && json_is_integer(json_object_get(v, "scale")) &&
        json_is_string(json_object_get(v, "value")))
        return dj_fmt_vsdecimal(c, v, out);
    put_json_text(out, v);
    return 0;
}

/* ---- rows ---- */

static int decode_row(dctx_t *c, srow_t *row, const dsch_t *s, json_t *obj, const char *label,
                      dkvs_t *meta)
{
    size_t old = dpath_push(c, label);
    int rc = 0;
    if (!json_is_object(obj)) {
        rc = dj_mismatch(c, "an object (row image)", obj);
        dpath_pop(c, old);
        return rc;
    }
    s = dsch_unwrap(s);
    if (s && s->type == DT_STRUCT) {
        for (size_t i = 0; i < s->nfields && rc == 0; i++) {
            const dfield_t *f = &s->fields[i];
            json_t *v = json_object_get(obj, f->name);
            if (!v)
                continue; /* absent is not NULL: leave the column alone */
            size_t o2 = dpath_push(c, f->name);
            if (meta && dflat_is_meta(f->name)) {
                if (meta->n < DKV_MAX) {
                    size_t start = c->tb->len;
                    bool isnull = false;
                    rc = fmt_value(c, f->sch, v, c->tb, &isnull);
                    cdc_buf_putc(c->tb, '\0');
                    meta->v[meta->n].name = f->name;
                    meta->v[meta->n++].text = isnull ? DOFF_NONE : start;
                }
            } else {
                size_t start = c->tb->len;
                bool isnull = false;
                rc = fmt_value(c, f->sch, v, c->tb, &isnull);
                if (rc == 0)
                    dcol_add(c, row, f->name, f->sch, NULL, isnull, start);
            }
            dpath_pop(c, o2);
        }
    } else {
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v)
        {
            if (rc)
                break;
            size_t o2 = dpath_push(c, k);
            size_t start = c->tb->len;
            bool isnull = false;
            if (meta && dflat_is_meta(k)) {
                rc = dj_fmt_generic(c, v, c->tb);
                cdc_buf_putc(c->tb, '\0');
                if (meta->n < DKV_MAX) {
                    meta->v[meta->n].name = k;
                    meta->v[meta->n++].text = json_is_null(v) ? DOFF_NONE : start;
                }
            } else {
                const char *pg = NULL;
                rc = dlookup(c, k, &pg);
                if (rc == 0)
                    rc = dj_fmt_hint(c, pg, v, c->tb, &isnull);
                if (rc == 0)
                    dcol_add(c, row, k, NULL, pg, isnull, start);
            }
            dpath_pop(c, o2);
        }
    }
    dpath_pop(c, old);
    return rc;
}

/* Scalars of a block (source, transaction, metadata records) as text. */
static int collect_kv(dctx_t *c, json_t *obj, dkvs_t *kv)
{
    kv->n = 0;
    if (!json_is_object(obj))
        return 0;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (kv->n >= DKV_MAX)
            break;
        if (json_is_object(v) || json_is_array(v))
            continue;
        size_t start = c->tb->len;
        dj_fmt_generic(c, v, c->tb);
        cdc_buf_putc(c->tb, '\0');
        kv->v[kv->n].name = k;
        kv->v[kv->n++].text = json_is_null(v) ? DOFF_NONE : start;
    }
    return 0;
}

static int decode_envelope(dctx_t *c, const dsch_t *root, json_t *pl)
{
    json_t *op = json_object_get(pl, "op");
    size_t old = dpath_push(c, "op");
    if (!json_is_string(op) || json_string_length(op) != 1 ||
        !strchr("cudrtm", json_string_value(op)[0])) {
        int rc = op ? dj_mismatch(c, "an op of c, u, d, r, t or m", op)
                    : derr(c, CDC_ERR_POISON,
                           "missing op: a Debezium change event needs op (c, u, d, r, t or m) "
                           "next to before, after and source");
        dpath_pop(c, old);
        return rc;
    }
    dpath_pop(c, old);
    c->op = json_string_value(op)[0];
    c->kind = c->op == 'm' ? CDC_KIND_MESSAGE : CDC_KIND_CHANGE;
    dkvs_t kv;
    collect_kv(c, json_object_get(pl, "source"), &kv);
    denv_source(c, &kv);
    if (dj_check_txn_block(c, json_object_get(pl, "transaction")) != 0)
        return -1;
    collect_kv(c, json_object_get(pl, "transaction"), &kv);
    denv_transaction(c, &kv);
    json_t *ts = json_object_get(pl, "ts_ms");
    if (json_is_integer(ts))
        c->ts_ms = json_integer_value(ts);
    if (c->kind == CDC_KIND_MESSAGE)
        return 0;
    if (c->table == DOFF_NONE)
        dtopic_names(c);
    const char *labels[2] = {"before", "after"};
    srow_t *rows[2] = {c->before, c->after};
    bool *has[2] = {&c->has_before, &c->has_after};
    for (int i = 0; i < 2; i++) {
        json_t *img = json_object_get(pl, labels[i]);
        if (!img || json_is_null(img))
            continue;
        const dfield_t *f = dsch_field(root, labels[i]);
        if (decode_row(c, rows[i], f ? f->sch : NULL, img, labels[i], NULL) != 0)
            return -1;
        *has[i] = true;
    }
    return 0;
}

static int decode_doc(dctx_t *c, const dsch_t *root, json_t *pl)
{
    const char *name = root ? root->name : NULL;
    if (json_is_null(pl)) {
        c->kind = CDC_KIND_TOMBSTONE;
        return 0;
    }
    if (!json_is_object(pl))
        return dj_mismatch(c, "an object (Debezium envelope or row)", pl);
    dkvs_t kv, src;
    /* What the classifier asks: the payload's top-level fields. */
    dshape_t sh = {name, false, 0, 0, json_object_size(pl)};
    const char *k;
    json_t *v;
    json_object_foreach(pl, k, v) sh.fields |= dclass_field(k, strlen(k));
    if (json_is_string(json_object_get(pl, "op")))
        sh.typed |= DF_OP;
    if (json_is_integer(json_object_get(pl, "ts_ms")))
        sh.typed |= DF_TS_MS;
    if (json_is_string(json_object_get(pl, "status")))
        sh.typed |= DF_STATUS;
    /* A source block with a row image is an envelope even without an op (a
     * flattened row has neither): its missing op is the error to report. */
    json_t *img =
        json_object_get(pl, "after") ? json_object_get(pl, "after") : json_object_get(pl, "before");
    if (json_is_object(json_object_get(pl, "source")) && (json_is_object(img) || json_is_null(img)))
        sh.typed |= DF_ENV_SHAPE;
    switch (dclassify(&sh, c->rec->topic)) {
    case DC_ENVELOPE: return decode_envelope(c, root, pl);
    case DC_HEARTBEAT: {
        c->kind = CDC_KIND_HEARTBEAT;
        json_t *ts = json_object_get(pl, "ts_ms");
        if (json_is_integer(ts))
            c->source_ts_ms = json_integer_value(ts);
        return 0;
    }
    case DC_TXN: {
        c->kind = CDC_KIND_TXN;
        if (dj_check_txn_record(c, pl) != 0)
            return -1;
        collect_kv(c, pl, &kv);
        for (size_t i = 0; i < kv.n; i++) {
            if (strcmp(kv.v[i].name, "status") == 0)
                c->txn_status = kv.v[i].text;
            else if (strcmp(kv.v[i].name, "id") == 0)
                c->txn_id = kv.v[i].text;
        }
        json_t *n = json_object_get(pl, "event_count");
        if (json_is_integer(n))
            c->txn_event_count = json_integer_value(n);
        /* Checked by dj_check_txn_record(): an array of {string, integer}. */
        json_t *dc = json_object_get(pl, "data_collections");
        if (json_is_array(dc)) {
            c->txn_has_coll = true;
            cdc_buf_reset(&c->scratch[DSCRATCH_TXNC]);
            for (size_t i = 0; i < json_array_size(dc); i++) {
                json_t *e = json_array_get(dc, i), *dcn = json_object_get(e, "data_collection");
                dtxn_coll_add(c, dtb_str(c, json_string_value(dcn), json_string_length(dcn)),
                              json_integer_value(json_object_get(e, "event_count")));
            }
        }
        json_t *ts = json_object_get(pl, "ts_ms");
        if (json_is_integer(ts))
            c->source_ts_ms = json_integer_value(ts);
        return 0;
    }
    case DC_SCHEMA_CHANGE:
        collect_kv(c, json_object_get(pl, "source"), &src);
        collect_kv(c, pl, &kv);
        drec_schema_change(c, &kv, &src);
        return 0;
    case DC_FLAT: break;
    }
    /* Anything else is a flattened row (ExtractNewRecordState). Its
     * metadata fields come first so the type lookup knows the table. */
    dkvs_t meta;
    meta.n = 0;
    json_object_foreach(pl, k, v)
    {
        if (dflat_is_meta(k) && !json_is_object(v) && !json_is_array(v) && meta.n < DKV_MAX) {
            size_t start = c->tb->len;
            dj_fmt_generic(c, v, c->tb);
            cdc_buf_putc(c->tb, '\0');
            meta.v[meta.n].name = k;
            meta.v[meta.n++].text = json_is_null(v) ? DOFF_NONE : start;
        }
    }
    size_t off;
    for (size_t i = 0; i < meta.n; i++) {
        off = meta.v[i].text;
        if (strcmp(meta.v[i].name, "__table") == 0)
            c->table = off;
        else if (strcmp(meta.v[i].name, "__schema") == 0)
            c->schema = off;
        else if (strcmp(meta.v[i].name, "__db") == 0)
            c->db = off;
    }
    dtopic_names(c);
    dkvs_t ignored;
    ignored.n = 0;
    if (decode_row(c, c->after, root, pl, "", &ignored) != 0)
        return -1;
    c->has_after = true;
    return dflat_finish(c, &meta);
}

/* @p t: the number table, to dnums_free() after the DOM. */
static json_t *parse(dctx_t *c, const char *p, size_t n, const char *what, dnums_t *t)
{
    json_error_t jerr;
    memset(t, 0, sizeof(*t));
    t->src = p;
    cdc_buf_t re = CDC_BUF_INIT;
    bool instr = false;
    size_t copied = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (instr) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                instr = false;
            continue;
        }
        if (ch == '"') {
            instr = true;
            continue;
        }
        if (ch != '-' && (ch < '0' || ch > '9'))
            continue;
        bool keep;
        double d = 0;
        size_t len = num_token(p + i, p + n, &keep, &d);
        if (!keep) {
            if (t->n == t->cap) {
                size_t cap = t->cap ? 2 * t->cap : 16;
                dnum_t *nv = realloc(t->v, cap * sizeof(*nv));
                if (!nv) {
                    cdc_buf_free(&re);
                    dnums_free(c, t);
                    derr(c, CDC_ERR_FATAL, "out of memory");
                    return NULL;
                }
                t->v = nv;
                t->cap = cap;
            }
            t->v[t->n] = (dnum_t){NULL, i, len, d};
            cdc_buf_append(&re, p + copied, i - copied);
            char idx[32];
            snprintf(idx, sizeof(idx), "%zu.0", t->n++);
            cdc_buf_puts(&re, idx);
            copied = i + len;
        }
        i += len - 1;
    }
    json_t *js = NULL;
    if (t->n) {
        cdc_buf_append(&re, p + copied, n - copied);
        js = json_loadb(re.data, re.len, JSON_DECODE_ANY, &jerr);
        if (js) {
            dnums_map(t, js);
            c->nums = t;
        }
    }
    cdc_buf_free(&re);
    if (!js)
        js = json_loadb(p, n, JSON_DECODE_ANY, &jerr); /* the error at its place */
    if (!js) {
        dnums_free(c, t);
        if (n && (unsigned char)p[0] == 0)
            derr(c, CDC_ERR_POISON,
                 "expected JSON, found byte 0x00: this looks like Avro with Schema Registry "
                 "framing; use --format avro or auto");
        else if (strstr(jerr.text, "\\u0000"))
            derr(c, CDC_ERR_POISON,
                 "expected %s, found a string with \\u0000 (a NUL character) at line %d column "
                 "%d: PostgreSQL text cannot hold NUL; strip it at the producer (the source "
                 "application, or an SMT) or let --errors-tolerance all dead-letter the record",
                 what, jerr.line, jerr.column);
        else
            derr(c, CDC_ERR_POISON, "expected %s, found invalid JSON (%s at line %d column %d)",
                 what, jerr.text, jerr.line, jerr.column);
    }
    return js;
}

int dj_decode_value(dctx_t *c, const dsch_t *root, const char *p, size_t n, bool wrapped)
{
    size_t old = wrapped ? dpath_push(c, "payload") : c->pathlen;
    dnums_t nums;
    json_t *js = parse(c, p, n, wrapped ? "a JSON payload" : "a JSON Debezium value", &nums);
    int rc = -1;
    if (js) {
        rc = decode_doc(c, root, js);
        json_decref(js);
        dnums_free(c, &nums);
    }
    dpath_pop(c, old);
    return rc;
}

int dj_decode_key(dctx_t *c, const dsch_t *root, const char *p, size_t n, bool wrapped)
{
    size_t old = wrapped ? dpath_push(c, "payload") : c->pathlen;
    dnums_t nums;
    json_t *js = parse(c, p, n, "a JSON key", &nums);
    int rc = -1;
    if (js) {
        rc = 0;
        /* A primitive key (StringConverter, a bare number) names no
         * columns; only a struct key gives the row's identity. */
        if (json_is_object(js)) {
            rc = decode_row(c, c->key, root, js, "", NULL);
            c->has_key = rc == 0;
        }
        json_decref(js);
        dnums_free(c, &nums);
    }
    dpath_pop(c, old);
    return rc;
}
