/*
 * Rows: the canonical column order, the row digest (XXH3 over the framed
 * values), and the comparison of framed values in PostgreSQL's ORDER BY
 * order (the verify merge-join's key order).
 */
#include <stdio.h>
#include <stdlib.h>

#include <xxhash.h>

#include "canon_int.h"

typedef struct order_ctx {
    const cdc_canon_col_t *cols;
    size_t idx;
} order_ent_t;

static int cmp_order(const void *a, const void *b)
{
    const order_ent_t *x = a, *y = b;
    const cdc_canon_col_t *cx = &x->cols[x->idx], *cy = &y->cols[y->idx];
    bool kx = cx->key_pos >= 0, ky = cy->key_pos >= 0;
    if (kx != ky)
        return kx ? -1 : 1;
    if (kx)
        return cx->key_pos < cy->key_pos ? -1 : cx->key_pos > cy->key_pos;
    return strcmp(cx->name, cy->name);
}

void cdc_canon_row_order(const cdc_canon_col_t *cols, size_t ncols, size_t *order)
{
    order_ent_t stackents[64];
    order_ent_t *ents = ncols <= 64 ? stackents : malloc(ncols * sizeof *ents);
    if (!ents) {
        for (size_t k = 0; k < ncols; k++)
            order[k] = k;
        return;
    }
    for (size_t k = 0; k < ncols; k++)
        ents[k] = (order_ent_t){cols, k};
    qsort(ents, ncols, sizeof *ents, cmp_order);
    for (size_t k = 0; k < ncols; k++)
        order[k] = ents[k].idx;
    if (ents != stackents)
        free(ents);
}

uint64_t cdc_canon_hash(const void *bytes, size_t len)
{
    return (uint64_t)XXH3_64bits(bytes, len);
}

int cdc_canon_row_digest(const cdc_canon_col_t *cols, size_t ncols, cdc_buf_t *scratch,
                         uint64_t *digest, char *errstr, size_t errstr_size)
{
    cdc_buf_t local = CDC_BUF_INIT;
    cdc_buf_t *b = scratch ? scratch : &local;
    size_t stackorder[64];
    size_t *order = ncols <= 64 ? stackorder : malloc(ncols * sizeof *order);
    int rc = -1;
    if (!order) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    cdc_canon_row_order(cols, ncols, order);
    cdc_buf_reset(b);
    for (size_t k = 0; k < ncols; k++) {
        const cdc_canon_col_t *c = &cols[order[k]];
        char e[200];
        if (cdc_canon_encode(c->type, c->value, c->len, b, e, sizeof e)) {
            snprintf(errstr, errstr_size, "column \"%s\": %s", c->name, e);
            goto out;
        }
    }
    *digest = cdc_canon_hash(b->data ? b->data : "", b->len);
    rc = 0;
out:
    if (order && order != stackorder)
        free(order);
    cdc_buf_free(&local);
    return rc;
}

static int bytes_cmp(const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

/* Rank of the spelled-out specials among decimals: -inf < finite < inf < NaN
 * (PostgreSQL's numeric and timestamp order). */
static int special_rank(const unsigned char *p, size_t n)
{
    if ((n == 9 && memcmp(p, "-Infinity", 9) == 0) || (n == 9 && memcmp(p, "-infinity", 9) == 0))
        return -1;
    if ((n == 8 && memcmp(p, "Infinity", 8) == 0) || (n == 8 && memcmp(p, "infinity", 8) == 0))
        return 1;
    if (n == 3 && memcmp(p, "NaN", 3) == 0)
        return 2;
    return 0;
}

static size_t int_part(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] != '.')
        i++;
    return i;
}

/* Compare two canonical decimals ("-12.5", "0.001", "300"). */
static int decimal_cmp(const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
{
    /* The merge's common case, integer keys >= 0: canonical integers have
     * no leading zeros, so the longer is larger, else bytewise. (Specials
     * start with a letter, negatives with '-'.) */
    if (an && bn && a[0] >= '0' && a[0] <= '9' && b[0] >= '0' && b[0] <= '9' &&
        int_part(a, an) == an && int_part(b, bn) == bn) {
        if (an != bn)
            return an < bn ? -1 : 1;
        int c = memcmp(a, b, an);
        return (c > 0) - (c < 0);
    }
    int ra = special_rank(a, an), rb = special_rank(b, bn);
    if (ra || rb)
        return ra < rb ? -1 : ra > rb;
    bool na = an && a[0] == '-', nb = bn && b[0] == '-';
    if (na != nb)
        return na ? -1 : 1;
    if (na) {
        a++, an--, b++, bn--;
    }
    const unsigned char *da = memchr(a, '.', an), *db = memchr(b, '.', bn);
    size_t ia = da ? (size_t)(da - a) : an, ib = db ? (size_t)(db - b) : bn;
    int c;
    /* Canonical form has no leading zeros except a lone "0" integer part. */
    bool za = ia == 1 && a[0] == '0', zb = ib == 1 && b[0] == '0';
    if (za)
        ia = 0;
    if (zb)
        ib = 0;
    if (ia != ib)
        c = ia < ib ? -1 : 1;
    else {
        c = memcmp(a + (za ? 1 : 0), b + (zb ? 1 : 0), ia);
        if (!c) {
            const unsigned char *fa = da ? da + 1 : a + an, *fb = db ? db + 1 : b + bn;
            c = bytes_cmp(fa, (size_t)(a + an - fa), fb, (size_t)(b + bn - fb));
        }
    }
    c = c < 0 ? -1 : c > 0;
    return na ? -c : c;
}

int cdc_canon_compare(const unsigned char *a, size_t *alen, const unsigned char *b, size_t *blen)
{
    unsigned char ta, tb;
    const unsigned char *pa, *pb;
    size_t la, lb;
    *alen = cdc_canon_frame(a, *alen, &ta, &pa, &la);
    *blen = cdc_canon_frame(b, *blen, &tb, &pb, &lb);
    /* NULLS LAST, PostgreSQL's default for ascending order. */
    if (ta == CANON_TAG_NULL || tb == CANON_TAG_NULL)
        return (ta == CANON_TAG_NULL) - (tb == CANON_TAG_NULL);
    if (ta != tb)
        return ta < tb ? -1 : 1;
    switch (ta) {
    case CANON_TAG_NUMBER:
    case CANON_TAG_DATE:
    case CANON_TAG_TIME:
    case CANON_TAG_TIMESTAMP:
    case CANON_TAG_INTERVAL: return decimal_cmp(pa, la, pb, lb);
    case CANON_TAG_FLOAT: {
        /* Payloads are not NUL-terminated: copy before strtod. */
        char xa[40], xb[40];
        int rx = special_rank(pa, la), ry = special_rank(pb, lb);
        if (rx || ry || la >= sizeof xa || lb >= sizeof xb)
            return rx < ry ? -1 : rx > ry;
        memcpy(xa, pa, la);
        xa[la] = '\0';
        memcpy(xb, pb, lb);
        xb[lb] = '\0';
        double x = strtod(xa, NULL), y = strtod(xb, NULL);
        return x < y ? -1 : x > y;
    }
    default: return bytes_cmp(pa, la, pb, lb);
    }
}
