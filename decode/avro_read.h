/**
 * @file avro_read.h
 * @brief The Avro binary encoding's primitives for avro.c: zig-zag varints,
 *        length-prefixed bytes, fixed-size data and little-endian floats,
 *        each bounded by the datum's end and failing the record with a
 *        one-line error (derr()). Private to avro.c, its only includer
 *        (plain static functions, as they were there).
 */
#ifndef CDC_DECODE_AVRO_READ_H
#define CDC_DECODE_AVRO_READ_H

#include <stdint.h>
#include <string.h>

#include "decode_int.h"

/* ---- binary decoding ---- */

typedef struct ard {
    const uint8_t *p, *b, *e;
} ard_t;

static int short_read(dctx_t *c, ard_t *r, const char *what)
{
    return derr(c, CDC_ERR_POISON, "expected %s, found the end of the data at byte %zu", what,
                (size_t)(r->p - r->b));
}

/* Near the end of the data: every byte checked against the end. */
static int rd_long_tail(dctx_t *c, ard_t *r, int64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->e)
            return short_read(c, r, "a varint");
        uint8_t byte = *r->p++;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return 0;
        }
    }
    return derr(c, CDC_ERR_POISON, "expected a varint, found more than 10 bytes");
}

/* A zig-zag varint. With 10 bytes left (the longest varint) the loop needs
 * no end check; the same result and errors as rd_long_tail(). */
static inline int rd_long(dctx_t *c, ard_t *r, int64_t *out)
{
    const uint8_t *p = r->p;
    if (r->e - p < 10)
        return rd_long_tail(c, r, out);
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        uint8_t byte = p[i];
        v |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            r->p = p + i + 1;
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return 0;
        }
    }
    r->p = p + 10;
    return derr(c, CDC_ERR_POISON, "expected a varint, found more than 10 bytes");
}

/* An Avro int: a varint whose value fits 32 bits (a wider value is corrupt
 * data or another schema, and no int column could hold it). */
static int rd_int(dctx_t *c, ard_t *r, int64_t *out)
{
    if (rd_long(c, r, out) != 0)
        return -1;
    if (*out < INT32_MIN || *out > INT32_MAX)
        return derr(c, CDC_ERR_POISON,
                    "expected an Avro int (32 bits), found %lld (corrupt data or wrong schema id)",
                    (long long)*out);
    return 0;
}

static int rd_bytes(dctx_t *c, ard_t *r, const uint8_t **p, size_t *n)
{
    int64_t len;
    if (rd_long(c, r, &len) != 0)
        return -1;
    if (len < 0 || len > r->e - r->p)
        return derr(c, CDC_ERR_POISON,
                    "expected %lld bytes, found %zu left (corrupt length or wrong schema id)",
                    (long long)len, (size_t)(r->e - r->p));
    *p = r->p;
    *n = (size_t)len;
    r->p += len;
    return 0;
}

static int rd_fixed(dctx_t *c, ard_t *r, size_t n, const uint8_t **p)
{
    if ((size_t)(r->e - r->p) < n)
        return short_read(c, r, "fixed-size data");
    *p = r->p;
    r->p += n;
    return 0;
}

/* Initial value for read pointers (keeps -Wnull-dereference quiet). */
static const uint8_t zero8[8];

static double rd_le_double(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = u << 8 | p[i];
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static float rd_le_float(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

#endif
