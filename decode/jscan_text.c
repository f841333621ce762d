/* The single-pass scanner's (jscan.c) cold helpers: strict UTF-8, \u
 * escapes, and the shape of a transaction block it may take. Kept out of
 * jscan.c's hot walk. */
#include "json_scalar.h"

#include <string.h>

/* Length of one strictly valid UTF-8 sequence at @p p (jansson's rules:
 * no overlongs, no surrogates, nothing above U+10FFFF), 0 if invalid. */
size_t dj_utf8_seq(const uint8_t *p, const uint8_t *e)
{
    uint8_t c0 = p[0];
    size_t k;
    uint32_t cp;
    if (c0 >= 0xC2 && c0 <= 0xDF) {
        k = 2;
        cp = c0 & 0x1F;
    } else if (c0 >= 0xE0 && c0 <= 0xEF) {
        k = 3;
        cp = c0 & 0x0F;
    } else if (c0 >= 0xF0 && c0 <= 0xF4) {
        k = 4;
        cp = c0 & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(e - p) < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (k == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
        return 0;
    if (k == 4 && (cp < 0x10000 || cp > 0x10FFFF))
        return 0;
    return k;
}

int dj_hex4(const char *p, const char *e)
{
    if (e - p < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

void dj_put_utf8(cdc_buf_t *b, uint32_t cp)
{
    char *w = dbuf_room(b, 4);
    size_t k;
    if (cp < 0x80) {
        w[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        w[0] = (char)(0xC0 | cp >> 6);
        w[1] = (char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        w[0] = (char)(0xE0 | cp >> 12);
        w[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        w[2] = (char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        w[0] = (char)(0xF0 | cp >> 18);
        w[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        w[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        w[3] = (char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    dbuf_commit(b, k);
}

/* A transaction block of the shape Debezium writes: a non-empty string id,
 * an integer total_order (and data_collection_order, if any) of 1 or more.
 * Anything else goes to the jansson path, which reports it. */
bool dj_fast_txn_block_ok(const dkvs_t *kv, const djv_t *vals)
{
    bool id = false, order = false;
    for (size_t i = 0; i < kv->n; i++) {
        const djv_t *v = &vals[i];
        if (!strcmp(kv->v[i].name, "id")) {
            if (v->t != DJT_STR || !v->n)
                return false;
            id = true;
        } else if (!strcmp(kv->v[i].name, "total_order")) {
            if (v->t != DJT_INT || v->i < 1)
                return false;
            order = true;
        } else if (!strcmp(kv->v[i].name, "data_collection_order")) {
            if (v->t != DJT_NULL && (v->t != DJT_INT || v->i < 1))
                return false;
        }
    }
    return id && order;
}
