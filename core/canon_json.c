/*
 * json and jsonb: an exact, iterative parser into a node array and the
 * canonical emitter (sorted, deduplicated keys; numbers in N's form).
 */
#include <stdio.h>
#include <stdlib.h>

#include "canon_int.h"

/* json and jsonb both compare as jsonb's "=" does (PostgreSQL has no "="
 * for json; README, "cdc-verify equality rules"): object keys sorted
 * bytewise and deduplicated (the last wins), numbers as exact decimals
 * (1, 1.0, 1e0 and 10e-1 are one value, as jsonb's numeric equality says),
 * strings by their decoded characters. A json value jsonb rejects (\u0000,
 * a lone surrogate, a number beyond numeric's range) compares by its exact
 * text (canon_json()); a number too large to spell out (|exponent| >
 * 200000, beyond numeric) keeps its text. Parse and
 * emit are iterative, so any nesting PostgreSQL stores canonicalises. */

enum { JV_OBJ, JV_ARR, JV_STR, JV_NUM, JV_LIT };

typedef struct jnode {
    unsigned char type;
    const char *p, *kp; /* STR: between the quotes; NUM, LIT: the text; kp: member key */
    size_t n, kn;       /* bytes of p and kp */
    size_t first, next; /* first child, next sibling: index + 1, 0 for none */
} jnode_t;

typedef struct jdoc {
    jnode_t *v;
    size_t n, cap;
} jdoc_t;

static size_t jws(span_t s, size_t i)
{
    while (i < s.n && (s.p[i] == ' ' || s.p[i] == '\t' || s.p[i] == '\n' || s.p[i] == '\r'))
        i++;
    return i;
}

/* A string at s.p[*i] == '"': validates it and sets the span between the
 * quotes. */
static bool jstring(span_t s, size_t *i, const char **p, size_t *n)
{
    if (*i >= s.n || s.p[*i] != '"')
        return false;
    size_t k = *i + 1;
    while (k < s.n && s.p[k] != '"') {
        unsigned char c = (unsigned char)s.p[k];
        if (c < 0x20)
            return false;
        if (c != '\\') {
            k++;
            continue;
        }
        if (k + 1 >= s.n)
            return false;
        char e = s.p[k + 1];
        if (e == 'u') {
            if (k + 5 >= s.n)
                return false;
            for (int h = 2; h < 6; h++)
                if (hexval((unsigned char)s.p[k + h]) < 0)
                    return false;
            k += 6;
        } else if (e && strchr("\"\\/bfnrt", e)) {
            k += 2;
        } else {
            return false;
        }
    }
    if (k >= s.n)
        return false;
    *p = s.p + *i + 1;
    *n = k - *i - 1;
    *i = k + 1;
    return true;
}

static bool jdigits(span_t s, size_t *k)
{
    size_t st = *k;
    while (*k < s.n && s.p[*k] >= '0' && s.p[*k] <= '9')
        (*k)++;
    return *k > st;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool jnumber(span_t s, size_t *i)
{
    size_t k = *i;
    if (k < s.n && s.p[k] == '-')
        k++;
    if (k < s.n && s.p[k] == '0')
        k++;
    else if (!jdigits(s, &k))
        return false;
    if (k < s.n && s.p[k] == '.') {
        k++;
        if (!jdigits(s, &k))
            return false;
    }
    if (k < s.n && (s.p[k] == 'e' || s.p[k] == 'E')) {
        k++;
        if (k < s.n && (s.p[k] == '+' || s.p[k] == '-'))
            k++;
        if (!jdigits(s, &k))
            return false;
    }
    *i = k;
    return true;
}

/* Index + 1 of a new node, 0 when out of memory. */
static size_t jnew(jdoc_t *d, unsigned char type)
{
    if (d->n == d->cap) {
        size_t nc = d->cap ? 2 * d->cap : 64;
        jnode_t *nv = realloc(d->v, nc * sizeof *nv);
        if (!nv)
            return 0;
        d->v = nv;
        d->cap = nc;
    }
    d->v[d->n] = (jnode_t){.type = type};
    return ++d->n;
}

/* A parse or emit stack of *cap entries of @p size, doubled (32 at
 * first); NULL when out of memory, @p st then left as it was (the caller's
 * cleanup still walks it). */
static void *jgrow(void *st, size_t *cap, size_t size)
{
    size_t nc = *cap ? 2 * *cap : 32;
    void *ns = realloc(st, nc * size);
    if (ns)
        *cap = nc;
    return ns;
}

/* After '{' or ',' in an object: the key and its ':'. */
static bool jkey(span_t s, size_t *i, const char **kp, size_t *kn)
{
    *i = jws(s, *i);
    if (!jstring(s, i, kp, kn))
        return false;
    *i = jws(s, *i);
    if (*i >= s.n || s.p[*i] != ':')
        return false;
    (*i)++;
    return true;
}

/* The whole text as one value into @p d (node 0 is the root). */
static int json_parse(span_t s, jdoc_t *d)
{
    typedef struct {
        size_t node, last;
    } pframe_t;
    pframe_t *st = NULL;
    size_t depth = 0, cap = 0, i = 0, kn = 0;
    const char *kp = NULL;
    int rc = -1;
    for (;;) {
        i = jws(s, i);
        if (i >= s.n)
            goto out;
        char c = s.p[i];
        unsigned char type = c == '{'                               ? JV_OBJ
                             : c == '['                             ? JV_ARR
                             : c == '"'                             ? JV_STR
                             : (c == '-' || (c >= '0' && c <= '9')) ? JV_NUM
                                                                    : JV_LIT;
        size_t id = jnew(d, type);
        if (!id)
            goto out;
        d->v[id - 1].kp = kp;
        d->v[id - 1].kn = kn;
        if (depth) {
            pframe_t *f = &st[depth - 1];
            if (f->last)
                d->v[f->last - 1].next = id;
            else
                d->v[f->node - 1].first = id;
            f->last = id;
        }
        jnode_t *nd = &d->v[id - 1];
        if (type == JV_OBJ || type == JV_ARR) {
            if (depth == cap) {
                void *ns = jgrow(st, &cap, sizeof *st);
                if (!ns)
                    goto out;
                st = ns;
            }
            st[depth++] = (pframe_t){id, 0};
            i = jws(s, i + 1);
            kp = NULL, kn = 0;
            if (i < s.n && s.p[i] == (type == JV_OBJ ? '}' : ']')) {
                i++;
                depth--;
            } else {
                if (type == JV_OBJ && !jkey(s, &i, &kp, &kn))
                    goto out;
                continue;
            }
        } else if (type == JV_STR) {
            if (!jstring(s, &i, &nd->p, &nd->n))
                goto out;
        } else if (type == JV_NUM) {
            size_t st0 = i;
            if (!jnumber(s, &i))
                goto out;
            nd->p = s.p + st0;
            nd->n = i - st0;
        } else {
            static const char *const lits[] = {"true", "false", "null"};
            size_t k = 0;
            while (k < 3 &&
                   (s.n - i < strlen(lits[k]) || memcmp(s.p + i, lits[k], strlen(lits[k]))))
                k++;
            if (k == 3)
                goto out;
            nd->p = s.p + i;
            nd->n = strlen(lits[k]);
            i += nd->n;
        }
        /* After a value: a separator, or closers. */
        for (;;) {
            i = jws(s, i);
            if (!depth) {
                rc = i == s.n ? 0 : -1;
                goto out;
            }
            bool obj = d->v[st[depth - 1].node - 1].type == JV_OBJ;
            if (i >= s.n)
                goto out;
            if (s.p[i] == ',') {
                i++;
                kp = NULL, kn = 0;
                if (obj && !jkey(s, &i, &kp, &kn))
                    goto out;
                break;
            }
            if (s.p[i] != (obj ? '}' : ']'))
                goto out;
            i++;
            depth--;
        }
    }
out:
    free(st);
    return rc;
}

static void put_utf8(cdc_buf_t *out, unsigned cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | cp >> 12), b[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        b[0] = (char)(0xF0 | cp >> 18), b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        b[2] = (char)(0x80 | (cp >> 6 & 0x3F)), b[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    cdc_buf_append(out, b, n);
}

static unsigned hex4(const char *p)
{
    return (unsigned)(hexval((unsigned char)p[0]) << 12 | hexval((unsigned char)p[1]) << 8 |
                      hexval((unsigned char)p[2]) << 4 | hexval((unsigned char)p[3]));
}

/* A validated string body, escapes resolved: a surrogate pair becomes its
 * character, a lone surrogate its 3-byte form (which UTF-8 text never
 * holds, so put_jstring() can give it back as the escape). */
static void jdecode(const char *p, size_t n, cdc_buf_t *out)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\\') {
            cdc_buf_putc(out, p[i]);
            continue;
        }
        char e = p[++i];
        switch (e) {
        case 'b': cdc_buf_putc(out, '\b'); break;
        case 'f': cdc_buf_putc(out, '\f'); break;
        case 'n': cdc_buf_putc(out, '\n'); break;
        case 'r': cdc_buf_putc(out, '\r'); break;
        case 't': cdc_buf_putc(out, '\t'); break;
        case 'u': {
            unsigned cp = hex4(p + i + 1);
            i += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && i + 2 < n && p[i + 1] == '\\' && p[i + 2] == 'u') {
                unsigned lo = hex4(p + i + 3);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            put_utf8(out, cp);
            break;
        }
        default: cdc_buf_putc(out, e); break; /* " \ / */
        }
    }
}

/* Decoded bytes as a JSON string: '"', '\' and control characters escaped
 * (as jansson's dump did before, so plain keys keep their bytes), a lone
 * surrogate as its \u escape, everything else as is. */
static void put_jstring(cdc_buf_t *out, const unsigned char *p, size_t n)
{
    cdc_buf_putc(out, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            cdc_buf_putc(out, '\\');
            cdc_buf_putc(out, (char)c);
        } else if (c < 0x20) {
            const char *sh = c == '\b'   ? "\\b"
                             : c == '\f' ? "\\f"
                             : c == '\n' ? "\\n"
                             : c == '\r' ? "\\r"
                             : c == '\t' ? "\\t"
                                         : NULL;
            if (sh)
                cdc_buf_puts(out, sh);
            else {
                snprintf(esc, sizeof esc, "\\u%04X", c);
                cdc_buf_puts(out, esc);
            }
        } else if (c == 0xED && i + 2 < n && (p[i + 1] & 0xE0) == 0xA0) {
            unsigned cp = (c & 0x0Fu) << 12 | (p[i + 1] & 0x3Fu) << 6 | (p[i + 2] & 0x3Fu);
            snprintf(esc, sizeof esc, "\\u%04x", cp);
            cdc_buf_puts(out, esc);
            i += 2;
        } else {
            cdc_buf_putc(out, (char)c);
        }
    }
    cdc_buf_putc(out, '"');
}

static void put_jnumber(cdc_buf_t *out, const char *p, size_t n)
{
    const char *e = memchr(p, 'e', n);
    if (!e)
        e = memchr(p, 'E', n);
    long x = 0;
    for (const char *q = e ? e + 1 : p + n; q < p + n; q++)
        if (*q >= '0' && *q <= '9' && x <= 200000)
            x = x * 10 + (*q - '0');
    if (x > 200000 || canon_decimal((span_t){p, n}, out))
        cdc_buf_append(out, p, n); /* has an 'e': never a canonical decimal */
}

typedef struct jmember {
    size_t koff, kn, node, pos;
    const unsigned char *k;
} jmember_t;

static int cmp_member(const void *a, const void *b)
{
    const jmember_t *x = a, *y = b;
    int c = memcmp(x->k, y->k, x->kn < y->kn ? x->kn : y->kn);
    if (c)
        return c;
    if (x->kn != y->kn)
        return x->kn < y->kn ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

typedef struct eframe {
    size_t node, cur, pos, nm; /* cur: next array child (index + 1) */
    jmember_t *m;              /* object: members in key order, last duplicate kept */
    cdc_buf_t keys;
} eframe_t;

/* Open a container: '{' or '[' and its member list. */
static int jopen(const jdoc_t *d, eframe_t *f, size_t node, cdc_buf_t *out)
{
    const jnode_t *nd = &d->v[node - 1];
    *f = (eframe_t){.node = node, .cur = nd->first};
    if (nd->type == JV_ARR) {
        cdc_buf_putc(out, '[');
        return 0;
    }
    cdc_buf_putc(out, '{');
    size_t n = 0;
    for (size_t c = nd->first; c; c = d->v[c - 1].next)
        n++;
    f->m = n ? malloc(n * sizeof *f->m) : NULL;
    if (n && !f->m)
        return -1;
    size_t k = 0;
    for (size_t c = nd->first; c; c = d->v[c - 1].next, k++) {
        size_t off = f->keys.len;
        jdecode(d->v[c - 1].kp, d->v[c - 1].kn, &f->keys);
        f->m[k] = (jmember_t){off, f->keys.len - off, c, k, NULL};
    }
    for (k = 0; k < n; k++)
        f->m[k].k = (const unsigned char *)(f->keys.data ? f->keys.data : "") + f->m[k].koff;
    if (n)
        qsort(f->m, n, sizeof *f->m, cmp_member);
    size_t w = 0;
    for (k = 0; k < n; k++) {
        if (k + 1 < n && f->m[k].kn == f->m[k + 1].kn &&
            memcmp(f->m[k].k, f->m[k + 1].k, f->m[k].kn) == 0)
            continue; /* a later duplicate follows: jsonb keeps the last */
        f->m[w++] = f->m[k];
    }
    f->nm = w;
    return 0;
}

static int json_emit(const jdoc_t *d, cdc_buf_t *out)
{
    eframe_t *st = NULL;
    size_t depth = 0, cap = 0;
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = -1;
    size_t node = 1;
    for (;;) {
        const jnode_t *nd = &d->v[node - 1];
        if (nd->type == JV_OBJ || nd->type == JV_ARR) {
            if (depth == cap) {
                void *ns = jgrow(st, &cap, sizeof *st);
                if (!ns)
                    goto out;
                st = ns;
            }
            if (jopen(d, &st[depth++], node, out))
                goto out;
        } else if (nd->type == JV_STR) {
            cdc_buf_reset(&tmp);
            jdecode(nd->p, nd->n, &tmp);
            put_jstring(out, (const unsigned char *)(tmp.data ? tmp.data : ""), tmp.len);
        } else if (nd->type == JV_NUM) {
            put_jnumber(out, nd->p, nd->n);
        } else {
            cdc_buf_append(out, nd->p, nd->n);
        }
        /* The next value to emit, closing finished containers. */
        node = 0;
        while (depth && !node) {
            eframe_t *f = &st[depth - 1];
            bool obj = d->v[f->node - 1].type == JV_OBJ;
            if (obj ? f->pos < f->nm : f->cur != 0) {
                if (f->pos)
                    cdc_buf_putc(out, ',');
                if (obj) {
                    put_jstring(out, f->m[f->pos].k, f->m[f->pos].kn);
                    cdc_buf_putc(out, ':');
                    node = f->m[f->pos].node;
                } else {
                    node = f->cur;
                    f->cur = d->v[node - 1].next;
                }
                f->pos++;
            } else {
                cdc_buf_putc(out, obj ? '}' : ']');
                free(f->m);
                cdc_buf_free(&f->keys);
                depth--;
            }
        }
        if (!node)
            break;
    }
    rc = 0;
out:
    while (depth) {
        free(st[depth - 1].m);
        cdc_buf_free(&st[--depth].keys);
    }
    free(st);
    cdc_buf_free(&tmp);
    return rc;
}

/* A string body jsonb's input rejects: a \u0000 escape, or a surrogate
 * escape that is not a high one followed at once by a low one. */
static bool jstr_rejected(const char *p, size_t n)
{
    for (size_t i = 0; i + 5 < n + 1; i++) {
        if (p[i] != '\\')
            continue;
        if (p[i + 1] != 'u') {
            i++; /* the escaped character */
            continue;
        }
        unsigned cp = hex4(p + i + 2);
        if (cp == 0 || (cp >= 0xDC00 && cp < 0xE000))
            return true;
        if (cp >= 0xD800 && cp < 0xDC00) {
            if (i + 11 >= n + 1 || p[i + 6] != '\\' || p[i + 7] != 'u')
                return true;
            unsigned lo = hex4(p + i + 8);
            if (lo < 0xDC00 || lo >= 0xE000)
                return true;
            i += 6;
        }
        i += 5;
    }
    return false;
}

/* A (valid) JSON number numeric's input rejects, as jsonb reads numbers
 * (PostgreSQL 15's set_var_from_str / make_result): |exponent| of
 * INT_MAX / 2 or more, more than 16383 digits after the point (fraction
 * digits as written less the exponent, trailing zeros included), or more
 * than 131072 digits before it. Zero has no digits before the point. */
static bool jnum_rejected(const char *p, size_t n)
{
    size_t i = p[0] == '-' ? 1 : 0, nint = 0, nfrac = 0, lead0 = 0;
    bool nonzero = false;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++, nint++) {
        nonzero |= p[i] != '0';
        lead0 += !nonzero;
    }
    if (i < n && p[i] == '.')
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++, nfrac++) {
            nonzero |= p[i] != '0';
            lead0 += !nonzero;
        }
    long long e = 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        bool neg = p[++i] == '-';
        if (p[i] == '-' || p[i] == '+')
            i++;
        for (; i < n; i++)
            if (e < INT64_C(4000000000))
                e = e * 10 + (p[i] - '0');
        e = neg ? -e : e;
    }
    if (e >= 1073741823 || e <= -1073741823)
        return true;
    if ((long long)nfrac - e > 16383)
        return true;
    /* the leading digit's power of ten */
    return nonzero && (long long)nint - (long long)lead0 - 1 + e >= 131072;
}

/* True when jsonb's input would reject the document (a value json stores
 * as written): any string or key, any number. */
static bool json_jsonb_rejects(const jdoc_t *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const jnode_t *v = &d->v[i];
        if (v->kp && jstr_rejected(v->kp, v->kn))
            return true;
        if ((v->type == JV_STR && jstr_rejected(v->p, v->n)) ||
            (v->type == JV_NUM && jnum_rejected(v->p, v->n)))
            return true;
    }
    return false;
}

/* @p exact (json, not jsonb): a value jsonb rejects compares by its exact
 * text (README's rule for json: as its jsonb cast would compare, else as
 * written), behind a 0x01 byte no canonical document starts with. */
int canon_json(span_t s, bool exact, cdc_buf_t *out)
{
    jdoc_t d = {NULL, 0, 0};
    int rc = json_parse(s, &d);
    if (!rc && exact && json_jsonb_rejects(&d)) {
        cdc_buf_putc(out, '\x01');
        cdc_buf_append(out, s.p, s.n);
    } else if (!rc) {
        rc = json_emit(&d, out);
    }
    free(d.v);
    return rc;
}
