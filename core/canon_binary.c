/*
 * PostgreSQL's binary send format (binary COPY) straight to the frames
 * cdc_canon_encode() makes of the same values' text.
 */
#include <stdio.h>
#include <stdlib.h>

#include "canon_int.h"

/* PostgreSQL's epoch for dates and timestamps is 2000-01-01. */
#define PG_EPOCH_DAYS INT64_C(10957)
#define PG_EPOCH_USEC (PG_EPOCH_DAYS * USEC_PER_DAY)

static uint64_t be_u(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

bool cdc_canon_binary_capable(cdc_canon_type_t type)
{
    if (type.is_array)
        return false;
    switch (type.kind) {
    case CDC_CANON_INT:
    case CDC_CANON_NUMERIC:
    case CDC_CANON_FLOAT4:
    case CDC_CANON_FLOAT8:
    case CDC_CANON_DATE:
    case CDC_CANON_TIMESTAMP:
    case CDC_CANON_TIMESTAMPTZ:
    case CDC_CANON_TEXT:
    case CDC_CANON_BPCHAR:
    case CDC_CANON_BYTEA:
    case CDC_CANON_BOOL:
    case CDC_CANON_UUID: return true;
    default: return false;
    }
}

/* numeric_send: ndigits, weight, sign, dscale (int16 each), then ndigits
 * base-10000 digits; value = sum digit[i] * 10000^(weight - i).
 *
 * Written straight as the framed canonical decimal, the same bytes
 * canon_decimal() makes of the value's text (tests/verify/test_canon.c
 * checks the two against each other on many values): the significant
 * digits D (no leading or trailing zeros) of the digit string, and P, the
 * decimal exponent such that value = 0.D x 10^P, which is 4 * (weight + 1)
 * less the leading zeros. */
static int numeric_binary(const unsigned char *p, size_t len, cdc_buf_t *out)
{
    const char tag = canon_kind_tag(CDC_CANON_NUMERIC);
    if (len < 8)
        return -1;
    int ndig = (int16_t)be_u(p, 2), weight = (int16_t)be_u(p + 2, 2);
    unsigned sign = (unsigned)be_u(p + 4, 2);
    if (ndig < 0 || len < 8 + 2 * (size_t)ndig)
        return -1;
    if (sign == 0xC000) {
        put_frame(out, tag, "NaN", 3);
        return 0;
    }
    if (sign == 0xD000) {
        put_frame(out, tag, "Infinity", 8);
        return 0;
    }
    if (sign == 0xF000) {
        put_frame(out, tag, "-Infinity", 9);
        return 0;
    }
    char stackbuf[256];
    size_t nd = 4 * (size_t)ndig;
    char *t = nd <= sizeof stackbuf ? stackbuf : malloc(nd ? nd : 1);
    if (!t)
        return -1;
    for (int i = 0; i < ndig; i++) {
        unsigned d = (unsigned)be_u(p + 8 + 2 * i, 2);
        if (d > 9999) {
            if (t != stackbuf)
                free(t);
            return -1;
        }
        t[4 * i] = (char)('0' + d / 1000);
        t[4 * i + 1] = (char)('0' + d / 100 % 10);
        t[4 * i + 2] = (char)('0' + d / 10 % 10);
        t[4 * i + 3] = (char)('0' + d % 10);
    }
    size_t first = 0, last = nd;
    while (first < nd && t[first] == '0')
        first++;
    while (last > first && t[last - 1] == '0')
        last--;
    if (first == last) {
        put_frame(out, tag, "0", 1); /* zero, negative zero included */
    } else {
        const char *D = t + first;
        long L = (long)(last - first), P = 4L * (weight + 1) - (long)first;
        bool neg = sign == 0x4000;
        size_t plen = (size_t)neg + (size_t)(P <= 0 ? 2 - P + L : P >= L ? P : L + 1);
        /* Header, then the payload in place: the same layout as
         * canon_decimal() + canon_frame_from(). */
        cdc_buf_reserve(out, CANON_HDR_MAX + plen);
        char *w = out->data + out->len;
        w += canon_frame_header((unsigned char *)w, tag, plen);
        if (neg)
            *w++ = '-';
        if (P <= 0) {
            *w++ = '0';
            *w++ = '.';
            memset(w, '0', (size_t)-P);
            w += -P;
            memcpy(w, D, (size_t)L);
            w += L;
        } else if (P >= L) {
            memcpy(w, D, (size_t)L);
            w += L;
            memset(w, '0', (size_t)(P - L));
            w += P - L;
        } else {
            memcpy(w, D, (size_t)P);
            w += P;
            *w++ = '.';
            memcpy(w, D + P, (size_t)(L - P));
            w += L - P;
        }
        *w = '\0';
        out->len = (size_t)(w - out->data);
    }
    if (t != stackbuf)
        free(t);
    return 0;
}

static void put_double_frame(cdc_buf_t *out, char tag, double v)
{
    size_t start = out->len;
    canon_put_double(out, v);
    canon_frame_from(out, start, tag);
}

/* A date (days) or timestamp (µs) from PostgreSQL's 2000-01-01 epoch: its
 * type's largest and smallest values are +-infinity, the others shifted by
 * @p epoch to the Unix epoch. */
static void put_epoch_frame(cdc_buf_t *out, char tag, int64_t v, int64_t inf, int64_t ninf,
                            int64_t epoch)
{
    if (v == inf)
        put_frame(out, tag, "infinity", 8);
    else if (v == ninf)
        put_frame(out, tag, "-infinity", 9);
    else
        canon_put_i64_frame(out, tag, v + epoch);
}

static const char hexdig[] = "0123456789abcdef";

/* Every case writes its whole frame (put_frame / canon_put_i64_frame): no payload
 * first and memmove after, the binary path is the scan's hot loop. */
int cdc_canon_encode_binary(cdc_canon_type_t type, const void *data, size_t len, cdc_buf_t *out,
                            char *errstr, size_t errstr_size)
{
    if (!data) {
        cdc_buf_putc(out, CANON_TAG_NULL);
        return 0;
    }
    const unsigned char *p = data;
    const char tag = canon_kind_tag(type.kind);
    int rc = 0;
    if (type.is_array) {
        rc = -1;
        goto out;
    }
    switch (type.kind) {
    case CDC_CANON_TEXT: put_frame(out, tag, data, len); return 0;
    case CDC_CANON_BPCHAR:
        while (len && p[len - 1] == ' ')
            len--;
        put_frame(out, tag, data, len);
        return 0;
    case CDC_CANON_BYTEA: put_frame(out, tag, data, len); return 0;
    case CDC_CANON_INT:
        if (len == 2)
            canon_put_i64_frame(out, tag, (int16_t)be_u(p, 2));
        else if (len == 4)
            canon_put_i64_frame(out, tag, (int32_t)be_u(p, 4));
        else if (len == 8)
            canon_put_i64_frame(out, tag, (int64_t)be_u(p, 8));
        else
            rc = -1;
        break;
    case CDC_CANON_NUMERIC: rc = numeric_binary(p, len, out); break;
    case CDC_CANON_FLOAT4: {
        if (len != 4) {
            rc = -1;
            break;
        }
        uint32_t u = (uint32_t)be_u(p, 4);
        float f;
        memcpy(&f, &u, 4);
        put_double_frame(out, tag, (double)f);
        break;
    }
    case CDC_CANON_FLOAT8: {
        if (len != 8) {
            rc = -1;
            break;
        }
        uint64_t u = be_u(p, 8);
        double d;
        memcpy(&d, &u, 8);
        put_double_frame(out, tag, d);
        break;
    }
    case CDC_CANON_DATE:
        if (len != 4)
            rc = -1;
        else
            put_epoch_frame(out, tag, (int32_t)be_u(p, 4), INT32_MAX, INT32_MIN, PG_EPOCH_DAYS);
        break;
    case CDC_CANON_TIMESTAMP:
    case CDC_CANON_TIMESTAMPTZ:
        if (len != 8)
            rc = -1;
        else
            put_epoch_frame(out, tag, (int64_t)be_u(p, 8), INT64_MAX, INT64_MIN, PG_EPOCH_USEC);
        break;
    case CDC_CANON_BOOL:
        if (len != 1)
            rc = -1;
        else
            put_frame(out, tag, p[0] ? "t" : "f", 1);
        break;
    case CDC_CANON_UUID: {
        if (len != 16) {
            rc = -1;
            break;
        }
        char u[36];
        int k = 0;
        for (int i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10)
                u[k++] = '-';
            u[k++] = hexdig[p[i] >> 4];
            u[k++] = hexdig[p[i] & 15];
        }
        put_frame(out, tag, u, sizeof u);
        break;
    }
    default: rc = -1; break;
    }
out:
    if (rc) {
        snprintf(errstr, errstr_size, "invalid binary %s value (%zu bytes)",
                 cdc_canon_kind_name(type.kind), len);
        return -1;
    }
    return 0;
}
