/* Single-pass scanner for JsonConverter payloads (the JSON hot path).
 *
 * jansson builds a DOM of the ~0.7 KB payload (a malloc per value) only for
 * json.c to walk it once; that parse was 4/5 of the decode time. Here the
 * payload is walked once, driven by the cached compiled schema, and every
 * value is formatted straight into the event's text blob by the scalar
 * formatter the DOM path uses (json_scalar.c).
 *
 * Exactness by construction: the scanner accepts only what it handles
 * exactly like the jansson path (Debezium envelopes with scalar columns,
 * fields in schema order, no duplicate keys or schema field names, numbers within int64/double,
 * strict UTF-8, no \u0000). Anything else, including every malformed
 * input, makes it answer "not mine" and the caller restores the context and
 * decodes the record with the jansson path, which produces the errors and
 * the rare types. tests/decode/test_golden.c runs every case both ways and
 * fuzz_decode_json compares the two paths on every input. */
#include "json_scalar.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define JF_MAX_DEPTH 64

typedef struct jf {
    const char *p, *e;
    dctx_t *c;
    int depth;
} jf_t;

/* Scalars are djv_t (decode_int.h); strings point into the input or
 * DSCRATCH_STR. */

/* Bytes a string can hold without escaping, validation or a quote. */
static const uint8_t plain[256] = {
    ['\x20'] = 1,
    1,
    0 /* " */,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1, /* 0x20 */
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1, /* 0x30 */
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1, /* 0x40 */
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    0 /* \ */,
    1,
    1,
    1, /* 0x50 */
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1, /* 0x60 */
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1, /* 0x70 */
};

static inline void jf_ws(jf_t *j)
{
    while (j->p < j->e && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

/* Step into an object: -1 it is not one (nothing consumed), 0 it is empty
 * (consumed whole), 1 its first member follows. */
static int jf_obj_open(jf_t *j)
{
    if (j->p >= j->e || *j->p != '{')
        return -1;
    j->p++;
    jf_ws(j);
    if (j->p < j->e && *j->p == '}') {
        j->p++;
        return 0;
    }
    return 1;
}

static inline bool jf_isdigit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* A string at j->p (on its quote). Plain strings are returned in place;
 * escapes and non-ASCII go through DSCRATCH_STR (valid until the next
 * string). */
static bool jf_str(jf_t *j, const char **out, size_t *n)
{
    const char *p = j->p + 1, *e = j->e, *start = p;
    while (p < e && plain[(uint8_t)*p])
        p++;
    if (p < e && *p == '"') {
        *out = start;
        *n = (size_t)(p - start);
        j->p = p + 1;
        return true;
    }
    cdc_buf_t *sb = &j->c->scratch[DSCRATCH_STR];
    cdc_buf_reset(sb);
    dbuf_append(sb, start, (size_t)(p - start));
    while (p < e) {
        uint8_t ch = (uint8_t)*p;
        if (ch == '"') {
            *out = sb->data ? sb->data : "";
            *n = sb->len;
            j->p = p + 1;
            return true;
        }
        if (ch < 0x20)
            return false;
        if (ch >= 0x80) {
            size_t k = dj_utf8_seq((const uint8_t *)p, (const uint8_t *)e);
            if (!k)
                return false;
            dbuf_append(sb, p, k);
            p += k;
            continue;
        }
        if (ch != '\\') {
            dbuf_putc(sb, (char)ch);
            p++;
            continue;
        }
        if (++p >= e)
            return false;
        switch (*p) {
        case '"': dbuf_putc(sb, '"'); break;
        case '\\': dbuf_putc(sb, '\\'); break;
        case '/': dbuf_putc(sb, '/'); break;
        case 'b': dbuf_putc(sb, '\b'); break;
        case 'f': dbuf_putc(sb, '\f'); break;
        case 'n': dbuf_putc(sb, '\n'); break;
        case 'r': dbuf_putc(sb, '\r'); break;
        case 't': dbuf_putc(sb, '\t'); break;
        case 'u': {
            int v = dj_hex4(p + 1, e);
            if (v < 0)
                return false;
            p += 4;
            uint32_t cp = (uint32_t)v;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (e - p < 3 || p[1] != '\\' || p[2] != 'u')
                    return false;
                int lo = dj_hex4(p + 3, e);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return false;
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
                p += 6;
            } else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0) {
                /* lone low surrogate; NUL is refused by jansson too */
                return false;
            }
            dj_put_utf8(sb, cp);
            break;
        }
        default: return false;
        }
        p++;
    }
    return false;
}

/* A member's key: a string must come next. */
static bool jf_key(jf_t *j, const char **k, size_t *kl)
{
    return j->p < j->e && *j->p == '"' && jf_str(j, k, kl);
}

/* A number with jansson's grammar and ranges: integers must fit int64,
 * reals must not overflow (anything else is left to jansson's error). */
static bool jf_num(jf_t *j, djv_t *v)
{
    const char *p = j->p, *e = j->e, *s = p;
    bool neg = false;
    if (p < e && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= e)
        return false;
    const char *digits = p;
    if (*p == '0') {
        p++;
        if (p < e && jf_isdigit(*p))
            return false;
    } else if (*p >= '1' && *p <= '9') {
        while (p < e && jf_isdigit(*p))
            p++;
    } else {
        return false;
    }
    const char *int_end = p;
    bool real = false;
    if (p < e && *p == '.') {
        real = true;
        p++;
        if (p >= e || !jf_isdigit(*p))
            return false;
        while (p < e && jf_isdigit(*p))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || !jf_isdigit(*p))
            return false;
        while (p < e && jf_isdigit(*p))
            p++;
    }
    if (!real) {
        if (int_end - digits > 19)
            return false;
        uint64_t u = 0;
        for (const char *q = digits; q < int_end; q++)
            u = u * 10 + (uint64_t)(*q - '0');
        if (neg) {
            if (u > (uint64_t)INT64_MAX + 1)
                return false;
            v->i = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
        } else {
            if (u > (uint64_t)INT64_MAX)
                return false;
            v->i = (int64_t)u;
        }
        v->t = DJT_INT;
        v->d = (double)v->i;
    } else {
        char tmp[64];
        size_t len = (size_t)(p - s);
        if (len >= sizeof(tmp))
            return false;
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        char *end;
        errno = 0;
        double d = strtod(tmp, &end);
        /* ERANGE: overflow is a jansson error; underflow is not, but is
         * rare enough to leave to the jansson path as well. */
        if (end != tmp + len || errno == ERANGE)
            return false;
        v->t = DJT_REAL;
        v->d = d;
    }
    v->s = s; /* the exact text, for decimals */
    v->n = (size_t)(p - s);
    j->p = p;
    return true;
}

static bool jf_lit(jf_t *j, const char *lit, size_t n)
{
    if ((size_t)(j->e - j->p) < n || memcmp(j->p, lit, n) != 0)
        return false;
    j->p += n;
    return true;
}

/* A scalar at j->p; false for objects, arrays and anything malformed. */
static bool jf_scalar(jf_t *j, djv_t *v)
{
    if (j->p >= j->e)
        return false;
    switch (*j->p) {
    case '"': v->t = DJT_STR; return jf_str(j, &v->s, &v->n);
    case 't': v->t = DJT_TRUE; return jf_lit(j, "true", 4);
    case 'f': v->t = DJT_FALSE; return jf_lit(j, "false", 5);
    case 'n': v->t = DJT_NULL; return jf_lit(j, "null", 4);
    default: return jf_num(j, v);
    }
}

/* After a member or element: ',' (true, *more) or the closing bracket. */
static bool jf_next(jf_t *j, char close, bool *more)
{
    jf_ws(j);
    if (j->p < j->e && *j->p == ',') {
        j->p++;
        jf_ws(j);
        *more = true;
        return true;
    }
    if (j->p < j->e && *j->p == close) {
        j->p++;
        *more = false;
        return true;
    }
    return false;
}

/* The ':' after a key, and the white space around it. */
static inline bool jf_colon(jf_t *j)
{
    jf_ws(j);
    if (j->p >= j->e || *j->p != ':')
        return false;
    j->p++;
    jf_ws(j);
    return true;
}

/* The members of an object, one a call, *st starting as jf_obj_open()'s
 * result: true with the next key in *k, *kl (its ':' consumed, the value
 * next); false at the end, *st then 0 past the closing '}' and -1 on bad
 * syntax or no object. */
static inline bool jf_member(jf_t *j, int *st, const char **k, size_t *kl)
{
    bool more = true;
    if (*st == 2 && !jf_next(j, '}', &more))
        *st = -1;
    else if (!more)
        *st = 0;
    if (*st <= 0)
        return false;
    if (!jf_key(j, k, kl) || !jf_colon(j)) {
        *st = -1;
        return false;
    }
    *st = 2;
    return true;
}

/* Validate and drop one value (fields the schema does not name, nested
 * blocks of the source): the jansson path would have rejected a malformed
 * one anywhere in the payload. */
static bool jf_skip(jf_t *j)
{
    if (j->p >= j->e)
        return false;
    char open = *j->p;
    if (open != '{' && open != '[') {
        djv_t v;
        return jf_scalar(j, &v);
    }
    if (++j->depth > JF_MAX_DEPTH)
        return false;
    char close = open == '{' ? '}' : ']';
    j->p++;
    jf_ws(j);
    bool more = true;
    if (j->p < j->e && *j->p == close) {
        j->p++;
        more = false;
    }
    while (more) {
        if (open == '{') {
            const char *k;
            size_t kl;
            if (!jf_key(j, &k, &kl) || !jf_colon(j))
                return false;
        }
        if (!jf_skip(j) || !jf_next(j, close, &more))
            return false;
    }
    j->depth--;
    return true;
}

/* An array of scalars (text[], int[], numeric[] ...; j->p on its '[') of
 * array schema @p s into the text blob as a PostgreSQL array, the way
 * dj_fmt_array() writes it: each element through the scalar formatter,
 * then dfmt_array_elem()'s quoting. Nested arrays, other item types and
 * elements that do not fit are the jansson path's (its errors). */
static bool jf_array(jf_t *j, const dsch_t *s)
{
    dctx_t *c = j->c;
    const dsch_t *it = s->items ? dsch_unwrap(s->items) : NULL;
    if (!it || !djs_expected(it) || c->depth + 1 > JF_MAX_DEPTH)
        return false;
    cdc_buf_t *eb = &c->scratch[DSCRATCH_ELEM];
    j->p++;
    jf_ws(j);
    dbuf_putc(c->tb, '{');
    bool more = true;
    if (j->p < j->e && *j->p == ']') {
        j->p++;
        more = false;
    }
    for (bool first = true; more; first = false) {
        djv_t v;
        if (j->p >= j->e || *j->p == '{' || *j->p == '[' || !jf_scalar(j, &v))
            return false;
        if (!first)
            dbuf_putc(c->tb, ',');
        if (v.t == DJT_NULL) {
            dbuf_append(c->tb, "NULL", 4);
        } else {
            cdc_buf_reset(eb);
            if (djs_value(c, it, &v, eb, true) != 0)
                return false;
            dfmt_array_elem(c->tb, eb->data ? eb->data : "", eb->len, false);
        }
        if (!jf_next(j, ']', &more))
            return false;
    }
    dbuf_putc(c->tb, '}');
    return true;
}

/* One column value of schema @p s into the text blob: the scalar types and
 * arrays of them, through the formatter the jansson path uses
 * (json_scalar.c), quietly. */
static bool jf_value(jf_t *j, const dsch_t *s, bool *isnull)
{
    djv_t v;
    *isnull = false;
    if (j->p < j->e && *j->p == '[') {
        s = dsch_unwrap(s);
        return s->type == DT_ARRAY && jf_array(j, s);
    }
    if (j->p >= j->e || *j->p == '{' || !jf_scalar(j, &v))
        return false;
    if (v.t == DJT_NULL) {
        /* explicit null stays NULL even where the schema has a default */
        *isnull = true;
        return true;
    }
    /* 1 (arrays, maps, structs: geometry, VariableScaleDecimal ...) and
     * -1 (does not fit) are the jansson path's */
    return djs_value(j->c, dsch_unwrap(s), &v, j->c->tb, true) == 0;
}

/* A row image {col: value, ...} of struct schema @p s into @p row. Keys
 * must follow the schema's field order (JsonConverter writes them so):
 * columns then come out in schema order, as the DOM path emits them, and a
 * repeated key (last one wins in jansson) cannot slip through. */
static bool jf_row(jf_t *j, srow_t *row, const dsch_t *s)
{
    dctx_t *c = j->c;
    if (s->dup_fields)
        return false;
    size_t names = dtb_names(c, s);
    int st = jf_obj_open(j);
    size_t next = 0;
    const char *k;
    size_t kl;
    while (jf_member(j, &st, &k, &kl)) {
        size_t fi = s->nfields;
        for (size_t i = next; i < s->nfields; i++) {
            const char *fn = s->fields[i].name;
            if (fn[0] == (kl ? k[0] : '\0') && strncmp(fn, k, kl) == 0 && fn[kl] == '\0') {
                fi = i;
                break;
            }
        }
        if (fi == s->nfields) {
            for (size_t i = 0; i < next; i++) {
                const char *fn = s->fields[i].name;
                if (strncmp(fn, k, kl) == 0 && fn[kl] == '\0')
                    return false; /* out of order or repeated */
            }
        }
        if (fi == s->nfields) {
            if (!jf_skip(j)) /* not in the schema: ignored, as before */
                return false;
        } else {
            const dfield_t *f = &s->fields[fi];
            size_t start = c->tb->len;
            bool isnull;
            if (!jf_value(j, f->sch, &isnull))
                return false;
            if (names != DOFF_NONE)
                dcol_add_field(c, row, s, fi, names, isnull, start);
            else
                dcol_add(c, row, f->name, f->sch, NULL, isnull, start);
            next = fi + 1;
        }
    }
    return st == 0;
}

/* collect_kv() of json.c: the scalars of a block (source, transaction) as
 * name -> text, names copied NUL-terminated into DSCRATCH_NAMES (reserved
 * for the whole payload by the caller, so it never moves). */
static bool jf_kv(jf_t *j, dkvs_t *kv, djv_t *vals)
{
    dctx_t *c = j->c;
    cdc_buf_t *nb = &c->scratch[DSCRATCH_NAMES];
    const char *seen[64];
    size_t nseen = 0;
    uint64_t bloom = 0;
    kv->n = 0;
    int st = jf_obj_open(j);
    const char *k;
    size_t kl;
    while (jf_member(j, &st, &k, &kl)) {
        if (nb->len + kl + 2 > nb->cap || nseen == 64)
            return false;
        char *name = nb->data + nb->len;
        memcpy(name, k, kl);
        name[kl] = '\0';
        dbuf_commit(nb, kl + 1);
        /* A repeated key keeps its first position but its last value in
         * jansson: rare, so it is left to that path. */
        uint64_t bit = 1ull << ((kl * 7 + (kl ? (uint8_t)k[0] * 3 + (uint8_t)k[kl - 1] : 0)) & 63);
        if (bloom & bit) {
            for (size_t i = 0; i < nseen; i++)
                if (strcmp(seen[i], name) == 0)
                    return false;
        }
        bloom |= bit;
        seen[nseen++] = name;
        if (j->p < j->e && (*j->p == '{' || *j->p == '[')) {
            if (!jf_skip(j))
                return false;
        } else {
            djv_t v;
            if (!jf_scalar(j, &v))
                return false;
            if (kv->n < DKV_MAX) {
                size_t start = c->tb->len;
                djs_generic(c->tb, &v);
                dbuf_putc(c->tb, '\0');
                kv->v[kv->n].name = name;
                if (vals)
                    vals[kv->n] = v;
                kv->v[kv->n++].text = v.t == DJT_NULL ? DOFF_NONE : start;
            }
        }
    }
    return st == 0;
}

static bool key_is(const char *k, size_t kl, const char *lit)
{
    size_t n = strlen(lit);
    return kl == n && memcmp(k, lit, n) == 0;
}

enum { K_BEFORE = 1, K_AFTER = 2, K_SOURCE = 4, K_TXN = 8, K_OP = 16, K_TS = 32 };

int dj_fast_value(dctx_t *c, const dsch_t *root, const char *p, size_t n)
{
    /* Only what the schema's name alone makes an envelope (the field rules
     * need the payload's fields, which the jansson path has). */
    dshape_t sh = {root ? root->name : NULL, false, 0, 0, 0};
    if (!root || root->type != DT_STRUCT || dclassify(&sh, c->rec->topic) != DC_ENVELOPE)
        return 0;
    const dfield_t *fb = dsch_field(root, "before"), *fa = dsch_field(root, "after");
    const dsch_t *sb = fb ? dsch_unwrap(fb->sch) : NULL, *sa = fa ? dsch_unwrap(fa->sch) : NULL;
    cdc_buf_t *nb = &c->scratch[DSCRATCH_NAMES];
    cdc_buf_reset(nb);
    cdc_buf_reserve(nb, n + 2);
    jf_t j = {p, p + n, c, 0};
    dkvs_t src, txn;
    djv_t txn_vals[DKV_MAX];
    src.n = txn.n = 0;
    unsigned seen = 0;
    char op = 0;
    int64_t ts = -1;
    bool has_ts = false;
    jf_ws(&j);
    if (j.p >= j.e || *j.p != '{')
        return 0;
    j.p++;
    jf_ws(&j);
    bool more = j.p < j.e && *j.p != '}';
    if (!more)
        return 0; /* {} has no op: the DOM path says so */
    while (more) {
        const char *k;
        size_t kl;
        if (j.p >= j.e || *j.p != '"' || !jf_str(&j, &k, &kl))
            return 0;
        unsigned key = key_is(k, kl, "before")        ? K_BEFORE
                       : key_is(k, kl, "after")       ? K_AFTER
                       : key_is(k, kl, "source")      ? K_SOURCE
                       : key_is(k, kl, "transaction") ? K_TXN
                       : key_is(k, kl, "op")          ? K_OP
                       : key_is(k, kl, "ts_ms")       ? K_TS
                                                      : 0;
        if (seen & key)
            return 0; /* repeated: jansson keeps the last one */
        seen |= key;
        if (!jf_colon(&j))
            return 0;
        bool isnull = j.e - j.p >= 4 && memcmp(j.p, "null", 4) == 0;
        djv_t v;
        switch (key) {
        case K_BEFORE:
        case K_AFTER: {
            const dsch_t *s = key == K_BEFORE ? sb : sa;
            if (isnull) {
                j.p += 4;
                break;
            }
            if (!s || s->type != DT_STRUCT ||
                !jf_row(&j, key == K_BEFORE ? c->before : c->after, s))
                return 0;
            if (key == K_BEFORE)
                c->has_before = true;
            else
                c->has_after = true;
            break;
        }
        case K_SOURCE:
            if (!jf_kv(&j, &src, NULL))
                return 0;
            break;
        case K_TXN:
            if (isnull)
                j.p += 4;
            else if (j.p >= j.e || *j.p != '{' || !jf_kv(&j, &txn, txn_vals) ||
                     !dj_fast_txn_block_ok(&txn, txn_vals))
                return 0;
            break;
        case K_OP:
            /* op=m (logical decoding message) has its own rules: DOM path */
            if (!jf_scalar(&j, &v) || v.t != DJT_STR || v.n != 1 || !strchr("cudrt", v.s[0]))
                return 0;
            op = v.s[0];
            break;
        case K_TS:
            if (j.p < j.e && (*j.p == '{' || *j.p == '[')) {
                if (!jf_skip(&j))
                    return 0;
            } else {
                if (!jf_scalar(&j, &v))
                    return 0;
                if (v.t == DJT_INT) {
                    ts = v.i;
                    has_ts = true;
                }
            }
            break;
        default:
            if (!jf_skip(&j))
                return 0;
        }
        if (!jf_next(&j, '}', &more))
            return 0;
    }
    jf_ws(&j);
    if (j.p != j.e || !op)
        return 0;
    /* What decode_envelope() does after reading the blocks. */
    c->op = op;
    c->kind = CDC_KIND_CHANGE;
    denv_source(c, &src);
    denv_transaction(c, &txn);
    if (has_ts)
        c->ts_ms = ts;
    if (c->table == DOFF_NONE)
        dtopic_names(c);
    return 1;
}

int dj_fast_key(dctx_t *c, const dsch_t *root, const char *p, size_t n)
{
    const dsch_t *s = dsch_unwrap(root);
    if (!s || s->type != DT_STRUCT)
        return 0;
    jf_t j = {p, p + n, c, 0};
    jf_ws(&j);
    if (!jf_row(&j, c->key, s))
        return 0;
    jf_ws(&j);
    if (j.p != j.e)
        return 0;
    c->has_key = true;
    return 1;
}
