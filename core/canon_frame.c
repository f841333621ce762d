/*
 * Frames (tag | LEB128 length | payload): writing them around a payload
 * made in place, reading them back (cdc_canon_frame()), and the integer
 * payloads (decimal digits without a division per digit).
 */
#include "canon_int.h"

void canon_frame_from(cdc_buf_t *out, size_t start, char tag)
{
    size_t plen = out->len - start;
    unsigned char hdr[CANON_HDR_MAX];
    size_t hn = canon_frame_header(hdr, tag, plen);
    cdc_buf_reserve(out, hn);
    memmove(out->data + start + hn, out->data + start, plen);
    memcpy(out->data + start, hdr, hn);
    out->len += hn;
    out->data[out->len] = '\0';
}

/* The 8 ASCII digits of @p u < 10^8, leading zeros included, as one
 * little-endian word (first digit in the lowest byte): lanes of 10^4, then
 * 10^2, then 10, each split by a multiply-shift that is exact in its range
 * (x * 10486 >> 20 == x / 100 for x < 43699, y * 103 >> 10 == y / 10 for
 * y < 179). No division per digit: timestamps are 16 digits of µs and this
 * was the scan's largest cost after the canonical encoding went binary. */
static uint64_t digits8(uint32_t u)
{
    uint64_t v = (uint64_t)(u / 10000) | (uint64_t)(u % 10000) << 32;
    uint64_t t = ((v * 10486) >> 20) & UINT64_C(0x0000007F0000007F);
    v = t | (v - t * 100) << 16;
    t = ((v * 103) >> 10) & UINT64_C(0x000F000F000F000F);
    v = t | (v - t * 10) << 8;
    return v;
}

/* Decimal of @p v at @p dst (room for 20 bytes); returns its length. */
static size_t fmt_i64(char *dst, int64_t v)
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

void canon_put_i64(cdc_buf_t *out, int64_t v)
{
    char tmp[24];
    cdc_buf_append(out, tmp, fmt_i64(tmp, v));
}

void canon_put_i64_frame(cdc_buf_t *out, char tag, int64_t v)
{
    char tmp[24];
    put_frame(out, tag, tmp, fmt_i64(tmp, v));
}

/* ---- reading -------------------------------------------------------- */

size_t cdc_canon_frame(const unsigned char *p, size_t avail, unsigned char *tag,
                       const unsigned char **payload, size_t *plen)
{
    if (!avail)
        return 0;
    *tag = p[0];
    if (p[0] == CANON_TAG_NULL) {
        *payload = p + 1;
        *plen = 0;
        return 1;
    }
    size_t i = 1, v = 0;
    int shift = 0;
    for (;;) {
        if (i >= avail || shift > 56)
            return 0;
        unsigned char c = p[i++];
        v |= (size_t)(c & 0x7f) << shift;
        shift += 7;
        if (!(c & 0x80))
            break;
    }
    if (avail - i < v)
        return 0;
    *payload = p + i;
    *plen = v;
    return i + v;
}
