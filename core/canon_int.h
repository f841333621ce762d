/*
 * Internals shared by the canonical encoding's files (core/canon*.c); the
 * API is include/cdc/canon.h, which also documents every payload.
 *
 *   canon.c         text value -> frame: the dispatch by kind
 *   canon_types.c   type names and OIDs -> kinds; the kind table (tag, name)
 *   canon_frame.c   framing a payload made in place; reading frames
 *   canon_scalar.c  numbers, bool, uuid, bytea from their text
 *   canon_time.c    date, time, timetz, timestamp(tz), interval from text
 *   canon_json.c    json/jsonb: the exact parser and the canonical emitter
 *   canon_struct.c  arrays, composites, ranges (their parts by type)
 *   canon_binary.c  PostgreSQL's binary send format -> the same frames
 *   canon_row.c     row column order, digest, frame comparison
 *
 * The payload writers (canon_decimal() and the like) append the payload
 * only and return 0, or -1 on invalid text leaving partial bytes that the
 * caller (canon.c) removes; the framing is the caller's.
 */
#ifndef CDC_CANON_INT_H
#define CDC_CANON_INT_H

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "cdc/buf.h"
#include "cdc/canon.h"

#define USEC_PER_SEC INT64_C(1000000)
#define USEC_PER_DAY (INT64_C(86400) * USEC_PER_SEC)

/**
 * The frame tags, the one place they are spelled (canon.h says what each
 * payload holds; tests/verify/test_canon.c pins the bytes). The encoder,
 * the binary decoder, the comparison and the tests use these names.
 */
typedef enum canon_tag {
    CANON_TAG_NULL = CDC_CANON_NULL_TAG, /**< SQL NULL, no length, no payload */
    CANON_TAG_NUMBER = 'N',              /**< integers, numeric */
    CANON_TAG_FLOAT = 'F',               /**< float4, float8 */
    CANON_TAG_DATE = 'D',
    CANON_TAG_TIME = 'T',
    CANON_TAG_TIMETZ = 'Z',
    CANON_TAG_TIMESTAMP = 'P', /**< timestamp, timestamptz */
    CANON_TAG_TEXT = 'S',      /**< text kinds, bpchar */
    CANON_TAG_BYTEA = 'B',
    CANON_TAG_BOOL = 'b',
    CANON_TAG_UUID = 'U',
    CANON_TAG_JSON = 'J', /**< json, jsonb */
    CANON_TAG_INTERVAL = 'I',
    CANON_TAG_ARRAY = 'A',        /**< an array, and each sub-array */
    CANON_TAG_ARRAY_BOUNDS = 'L', /**< an array's "[a:b]" lower bounds */
    CANON_TAG_COMPOSITE = 'C',
    CANON_TAG_RANGE = 'R',
    CANON_TAG_OTHER = 'O', /**< any other type: its text */
} canon_tag_t;

/** The payload byte of an empty range (not a tag: inside an R frame). */
#define CANON_RANGE_EMPTY 'E'

/** Per kind: its frame tag and its name (cdc_canon_kind_name()). */
typedef struct canon_kind_info {
    char tag;
    const char *name;
} canon_kind_info_t;

#define CANON_NKINDS ((size_t)CDC_CANON_RANGE + 1)

/** Indexed by cdc_canon_kind_t (canon_types.c). */
extern const canon_kind_info_t canon_kinds[CANON_NKINDS];

/** The frame tag of a kind's values (OTHER's for an unknown kind). */
static inline char canon_kind_tag(cdc_canon_kind_t kind)
{
    return (size_t)kind < CANON_NKINDS ? canon_kinds[kind].tag : (char)CANON_TAG_OTHER;
}

/** Some bytes of a value's text, not NUL-terminated. */
typedef struct span {
    const char *p;
    size_t n;
} span_t;

static inline span_t trim(span_t s)
{
    while (s.n && isspace((unsigned char)s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && isspace((unsigned char)s.p[s.n - 1]))
        s.n--;
    return s;
}

static inline bool span_ieq(span_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

static inline int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ---- frames (canon_frame.c) ------------------------------------------- */

/** Room canon_frame_header() may write: a tag and a 64-bit LEB128. */
#define CANON_HDR_MAX 12

/** Writes the header of a frame (tag, LEB128 length) at @p w, which has
 *  CANON_HDR_MAX bytes; returns the bytes written. */
static inline size_t canon_frame_header(unsigned char *w, char tag, size_t len)
{
    size_t hn = 0;
    w[hn++] = (unsigned char)tag;
    do {
        unsigned char c = len & 0x7f;
        len >>= 7;
        if (len)
            c |= 0x80;
        w[hn++] = c;
    } while (len);
    return hn;
}

/* One reserve and direct stores: put_frame is on the scan's per-value path
 * (text columns, every binary value), where a putc per header byte showed
 * in the profile. Same bytes as tag, put_varint(len), payload. */
static inline void put_frame(cdc_buf_t *out, char tag, const void *payload, size_t len)
{
    cdc_buf_reserve(out, len + CANON_HDR_MAX);
    unsigned char *w = (unsigned char *)out->data + out->len;
    w += canon_frame_header(w, tag, len);
    if (len)
        memcpy(w, payload, len);
    w += len;
    *w = '\0';
    out->len = (size_t)((char *)w - out->data);
}

/** Replace the payload that was appended after @p start (tag at
 *  out[start]) with its framed form: for a payload produced
 *  incrementally. */
void canon_frame_from(cdc_buf_t *out, size_t start, char tag);

/* ---- integer payloads (inline: per value on the binary scan path) ---- */

/* The 8 ASCII digits of @p u < 10^8, leading zeros included, as one
 * little-endian word (first digit in the lowest byte): lanes of 10^4, then
 * 10^2, then 10, each split by a multiply-shift that is exact in its range
 * (x * 10486 >> 20 == x / 100 for x < 43699, y * 103 >> 10 == y / 10 for
 * y < 179). No division per digit: timestamps are 16 digits of µs and this
 * was the scan's largest cost after the canonical encoding went binary. */
static inline uint64_t digits8(uint32_t u)
{
    uint64_t v = (uint64_t)(u / 10000) | (uint64_t)(u % 10000) << 32;
    uint64_t t = ((v * 10486) >> 20) & UINT64_C(0x0000007F0000007F);
    v = t | (v - t * 100) << 16;
    t = ((v * 103) >> 10) & UINT64_C(0x000F000F000F000F);
    v = t | (v - t * 10) << 8;
    return v;
}

/* Decimal of @p v at @p dst (room for 20 bytes); returns its length. */
static inline size_t fmt_i64(char *dst, int64_t v)
{
    const uint64_t e8 = 100000000, ascii = UINT64_C(0x3030303030303030);
    char *p = dst;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0)
        *p++ = '-';
    uint32_t chunk[3];
    int nc = 0;
    while (u >= e8 && nc < 2) {
        chunk[nc++] = (uint32_t)(u % e8);
        u /= e8;
    }
    /* The leading chunk without its leading zeros (u < 10^8 here, as
     * 2^64 < 10^20 leaves at most 4 digits above two full chunks). */
    uint64_t d = digits8((uint32_t)u);
    int skip = d ? __builtin_ctzll(d) / 8 : 7;
    d += ascii;
    char tmp[8];
    memcpy(tmp, &d, 8);
    memcpy(p, tmp + skip, (size_t)(8 - skip));
    p += 8 - skip;
    while (nc) {
        d = digits8(chunk[--nc]) + ascii;
        memcpy(p, &d, 8);
        p += 8;
    }
    return (size_t)(p - dst);
}

/** Appends the decimal of @p v (a payload). */
static inline void canon_put_i64(cdc_buf_t *out, int64_t v)
{
    char tmp[24];
    cdc_buf_append(out, tmp, fmt_i64(tmp, v));
}

/** Appends a whole frame holding the decimal @p v (tag 'N', 'D' or 'P'). */
static inline void canon_put_i64_frame(cdc_buf_t *out, char tag, int64_t v)
{
    char tmp[24];
    put_frame(out, tag, tmp, fmt_i64(tmp, v));
}

/* ---- payloads from text ----------------------------------------------- */

/* canon_scalar.c */
int canon_decimal(span_t s, cdc_buf_t *out);
void canon_put_double(cdc_buf_t *out, double v);
int canon_float(span_t s, bool is_float4, cdc_buf_t *out);
int canon_bool(span_t s, cdc_buf_t *out);
int canon_uuid(span_t s, cdc_buf_t *out);
int canon_bytea(span_t s, cdc_buf_t *out);

/* canon_time.c */
int canon_date(span_t s, cdc_buf_t *out);
int canon_time(span_t s, bool tz, cdc_buf_t *out);
int canon_timestamp(span_t s, bool tz, cdc_buf_t *out);
int canon_interval(span_t s, cdc_buf_t *out);

/* canon_json.c: @p exact (json, not jsonb): a value jsonb's input rejects
 * compares by its exact text. */
int canon_json(span_t s, bool exact, cdc_buf_t *out);

/* canon_struct.c: @p nest is the recursion depth (canon_encode_value()). */
int canon_array(const cdc_canon_type_t *elem, span_t s, cdc_buf_t *out, int nest);
int canon_record(const cdc_canon_type_t *t, span_t s, cdc_buf_t *out, int nest);
int canon_range(const cdc_canon_type_t *t, span_t s, cdc_buf_t *out, int nest);

/* canon.c */

/** A value of any type, framed: arrays, composites and ranges element by
 *  element (@p nest bounds the recursion; a type's own nesting is finite).
 *  On -1 @p out is left as it was. */
int canon_encode_value(const cdc_canon_type_t *t, span_t s, cdc_buf_t *out, int nest);

#endif
