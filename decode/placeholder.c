/* Debezium's unchanged-TOAST placeholder in its per-type forms
 * (UnchangedToastedPlaceholder.java). Rather than matching each wire form
 * in each front end, every form is pre-rendered once as the PostgreSQL text
 * the value would otherwise decode to; a decoded column whose text equals
 * the form for its type is the placeholder. JSON and Avro then share one
 * check, and a configured placeholder needs no extra code. */
#include "decode_int.h"

#include <stdlib.h>
#include <string.h>

enum {
    PH_TEXT = 0, /* text, json, xml ... */
    PH_BYTEA,    /* bytea: the placeholder's bytes */
    PH_TEXT_ARR, /* text[]: [placeholder] */
    PH_INT_ARR,  /* int[] / bigint[]: the byte values */
    PH_BYTEA_ARR,
    PH_UUID_ARR, /* uuid[]: [UUID.nameUUIDFromBytes(placeholder)] */
    PH_HSTORE,   /* hstore map: {placeholder: placeholder} */
    PH_NFORMS_TYPED,
    /* Schemaless JSON only, where bytes and maps arrive undecoded: */
    PH_B64 = PH_NFORMS_TYPED, /* base64 of the bytes */
    PH_JSON_MAP,              /* {"placeholder":"placeholder"} */
    PH_NFORMS,
};

/* ---- MD5 (RFC 1321), only for the type-3 UUID of the placeholder ---- */

static uint32_t rol(uint32_t x, int c)
{
    return (x << c) | (x >> (32 - c));
}

static void md5(const uint8_t *msg, size_t len, uint8_t out[16])
{
    static const uint32_t K[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391};
    static const int R[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                              5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                              4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                              6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
    uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    size_t total = ((len + 8) / 64 + 1) * 64;
    cdc_buf_t m = CDC_BUF_INIT;
    cdc_buf_reserve(&m, total);
    memset(m.data, 0, total);
    memcpy(m.data, msg, len);
    m.data[len] = (char)0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        m.data[total - 8 + i] = (char)(bits >> (8 * i));
    const uint8_t *u = (const uint8_t *)m.data;
    for (size_t off = 0; off < total; off += 64) {
        uint32_t w[16];
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)u[off + 4 * i] | (uint32_t)u[off + 4 * i + 1] << 8 |
                   (uint32_t)u[off + 4 * i + 2] << 16 | (uint32_t)u[off + 4 * i + 3] << 24;
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
        for (int i = 0; i < 64; i++) {
            uint32_t f;
            int g;
            if (i < 16) {
                f = (b & c) | (~b & d);
                g = i;
            } else if (i < 32) {
                f = (d & b) | (~d & c);
                g = (5 * i + 1) % 16;
            } else if (i < 48) {
                f = b ^ c ^ d;
                g = (3 * i + 5) % 16;
            } else {
                f = c ^ (b | ~d);
                g = (7 * i) % 16;
            }
            uint32_t tmp = d;
            d = c;
            c = b;
            b = b + rol(a + f + K[i] + w[g], R[i]);
            a = tmp;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
    }
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++)
            out[4 * i + k] = (uint8_t)(h[i] >> (8 * k));
    cdc_buf_free(&m);
}

void dph_init(dph_t *ph, const char *placeholder)
{
    memset(ph, 0, sizeof(*ph));
    const char *p = placeholder ? placeholder : "__debezium_unavailable_value";
    /* Debezium accepts "hex:<bytes>" for a placeholder that is not text. */
    if (strncmp(p, "hex:", 4) == 0) {
        const char *h = p + 4;
        size_t n = strlen(h);
        for (size_t i = 0; i + 1 < n; i += 2) {
            int hi = dfmt_hexval((unsigned char)h[i]), lo = dfmt_hexval((unsigned char)h[i + 1]);
            if (hi < 0 || lo < 0)
                break;
            cdc_buf_putc(&ph->raw, (char)(hi << 4 | lo));
        }
    } else {
        cdc_buf_puts(&ph->raw, p);
    }
    cdc_buf_reserve(&ph->raw, 0);
    const uint8_t *raw = (const uint8_t *)ph->raw.data;
    size_t n = ph->raw.len;
    cdc_buf_t bytea = CDC_BUF_INIT;
    dfmt_bytea(&bytea, raw, n);

    cdc_buf_append(&ph->forms[PH_TEXT], raw, n);
    cdc_buf_append(&ph->forms[PH_BYTEA], bytea.data, bytea.len);

    cdc_buf_putc(&ph->forms[PH_TEXT_ARR], '{');
    dfmt_array_elem(&ph->forms[PH_TEXT_ARR], ph->raw.data, n, false);
    cdc_buf_putc(&ph->forms[PH_TEXT_ARR], '}');

    /* Java bytes are signed, so non-ASCII placeholder bytes are negative. */
    cdc_buf_putc(&ph->forms[PH_INT_ARR], '{');
    for (size_t i = 0; i < n; i++)
        cdc_buf_printf(&ph->forms[PH_INT_ARR], "%s%d", i ? "," : "", (int)(int8_t)raw[i]);
    cdc_buf_putc(&ph->forms[PH_INT_ARR], '}');

    cdc_buf_putc(&ph->forms[PH_BYTEA_ARR], '{');
    dfmt_array_elem(&ph->forms[PH_BYTEA_ARR], bytea.data, bytea.len, false);
    cdc_buf_putc(&ph->forms[PH_BYTEA_ARR], '}');

    uint8_t d[16];
    md5(raw, n, d);
    d[6] = (uint8_t)((d[6] & 0x0f) | 0x30); /* version 3 (name-based, MD5) */
    d[8] = (uint8_t)((d[8] & 0x3f) | 0x80); /* IETF variant */
    cdc_buf_putc(&ph->forms[PH_UUID_ARR], '{');
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            cdc_buf_putc(&ph->forms[PH_UUID_ARR], '-');
        cdc_buf_printf(&ph->forms[PH_UUID_ARR], "%02x", d[i]);
    }
    cdc_buf_putc(&ph->forms[PH_UUID_ARR], '}');

    dfmt_hstore_str(&ph->forms[PH_HSTORE], ph->raw.data, n);
    cdc_buf_puts(&ph->forms[PH_HSTORE], "=>");
    dfmt_hstore_str(&ph->forms[PH_HSTORE], ph->raw.data, n);
    dfmt_b64_encode(raw, n, &ph->forms[PH_B64]);
    json_t *m = json_object();
    json_t *str = json_stringn(ph->raw.data, n);
    if (m && str && json_object_setn_new(m, ph->raw.data, n, str) == 0) {
        char *t = json_dumps(m, JSON_COMPACT);
        if (t)
            cdc_buf_puts(&ph->forms[PH_JSON_MAP], t);
        free(t);
    }
    json_decref(m);
    cdc_buf_free(&bytea);
    for (int i = 0; i < PH_NFORMS; i++)
        cdc_buf_reserve(&ph->forms[i], 0);
}

void dph_free(dph_t *ph)
{
    cdc_buf_free(&ph->raw);
    for (int i = 0; i < PH_NFORMS; i++)
        cdc_buf_free(&ph->forms[i]);
}

static bool eq(const cdc_buf_t *f, const char *text, size_t len)
{
    return f->len == len && memcmp(f->data, text, len) == 0;
}

bool dph_match(const dph_t *ph, const dsch_t *s, const char *text, size_t len)
{
    s = dsch_unwrap(s);
    if (!s) {
        for (int i = 0; i < PH_NFORMS; i++)
            if (eq(&ph->forms[i], text, len))
                return true;
        return false;
    }
    switch (s->type) {
    case DT_STRING:
    case DT_ENUM: return eq(&ph->forms[PH_TEXT], text, len);
    case DT_BYTES:
    case DT_FIXED:
        /* A Decimal or Bits column formats to digits, never to "\x...";
         * only real bytea can carry the bytes form. */
        return s->sem != SEM_DECIMAL && s->sem != SEM_BITS && eq(&ph->forms[PH_BYTEA], text, len);
    case DT_MAP: return eq(&ph->forms[PH_HSTORE], text, len);
    case DT_ARRAY: {
        const dsch_t *it = dsch_unwrap(s->items);
        if (!it)
            return false;
        switch (it->type) {
        case DT_STRING:
            return eq(&ph->forms[PH_TEXT_ARR], text, len) || eq(&ph->forms[PH_UUID_ARR], text, len);
        case DT_INT8:
        case DT_INT16:
        case DT_INT32:
        case DT_INT64: return eq(&ph->forms[PH_INT_ARR], text, len);
        case DT_BYTES: return eq(&ph->forms[PH_BYTEA_ARR], text, len);
        default: return false;
        }
    }
    default: return false;
    }
}
