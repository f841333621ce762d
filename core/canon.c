/*
 * Canonical value encoding. Every parser here is written against
 * PostgreSQL's own text output (with the fixed session settings) first and
 * the decoder's literal forms second; anything else is rejected rather than
 * guessed, because a guess that differs between the two sides would show up
 * as a false mismatch that nobody can explain.
 */
#include "cdc/canon.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <xxhash.h>

#define USEC_PER_SEC INT64_C(1000000)
#define USEC_PER_DAY (INT64_C(86400) * USEC_PER_SEC)

typedef struct span {
    const char *p;
    size_t n;
} span_t;

static void seterr(char *errstr, size_t errstr_size, cdc_canon_kind_t kind, const char *text,
                   size_t len, const char *why)
{
    if (!errstr || !errstr_size)
        return;
    /* Only a short prefix: a value may be large, and it is data. */
    int show = len > 40 ? 40 : (int)len;
    snprintf(errstr, errstr_size, "invalid %s value \"%.*s%s\": %s", cdc_canon_kind_name(kind),
             show, text ? text : "", len > 40 ? "..." : "", why);
}

static span_t trim(span_t s)
{
    while (s.n && isspace((unsigned char)s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && isspace((unsigned char)s.p[s.n - 1]))
        s.n--;
    return s;
}

static bool span_ieq(span_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

/* One reserve and direct stores: put_frame is on the scan's per-value path
 * (text columns, every binary value), where a putc per header byte showed
 * in the profile. Same bytes as tag, put_varint(len), payload. */
static void put_frame(cdc_buf_t *out, char tag, const void *payload, size_t len)
{
    cdc_buf_reserve(out, len + 12);
    unsigned char *w = (unsigned char *)out->data + out->len;
    *w++ = (unsigned char)tag;
    size_t v = len;
    do {
        unsigned char c = v & 0x7f;
        v >>= 7;
        if (v)
            c |= 0x80;
        *w++ = c;
    } while (v);
    if (len)
        memcpy(w, payload, len);
    w += len;
    *w = '\0';
    out->len = (size_t)((char *)w - out->data);
}

/* Replace the payload that was appended after @p start (tag at out[start])
 * with its framed form: used when a payload is produced incrementally. */
static void frame_from(cdc_buf_t *out, size_t start, char tag)
{
    size_t plen = out->len - start;
    unsigned char hdr[12];
    size_t hn = 0;
    size_t v = plen;
    hdr[hn++] = (unsigned char)tag;
    do {
        unsigned char c = v & 0x7f;
        v >>= 7;
        if (v)
            c |= 0x80;
        hdr[hn++] = c;
    } while (v);
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

static void put_i64(cdc_buf_t *out, int64_t v)
{
    char tmp[24];
    cdc_buf_append(out, tmp, fmt_i64(tmp, v));
}

/* A whole frame holding the decimal @p v (tag 'N', 'D' or 'P'). */
static void put_i64_frame(cdc_buf_t *out, char tag, int64_t v)
{
    char tmp[24];
    put_frame(out, tag, tmp, fmt_i64(tmp, v));
}

/* ---- numbers ---------------------------------------------------------- */

/* Exact decimal normalisation, no floating point: value = 0.D x 10^P. */
static int canon_decimal(span_t s, cdc_buf_t *out)
{
    s = trim(s);
    if (span_ieq(s, "nan")) {
        cdc_buf_puts(out, "NaN");
        return 0;
    }
    if (span_ieq(s, "infinity") || span_ieq(s, "+infinity") || span_ieq(s, "inf")) {
        cdc_buf_puts(out, "Infinity");
        return 0;
    }
    if (span_ieq(s, "-infinity") || span_ieq(s, "-inf")) {
        cdc_buf_puts(out, "-Infinity");
        return 0;
    }
    size_t i = 0;
    bool neg = false;
    if (i < s.n && (s.p[i] == '-' || s.p[i] == '+'))
        neg = s.p[i++] == '-';
    const char *digits = s.p + i;
    size_t first = 0, ndig = 0; /* significant digits live in digits[] minus '.' */
    long point = -1, nint = 0;
    bool any = false;
    /* First pass: validate and find the decimal point and exponent. */
    size_t j = i;
    for (; j < s.n; j++) {
        char c = s.p[j];
        if (c >= '0' && c <= '9') {
            any = true;
            if (point < 0)
                nint++;
        } else if (c == '.' && point < 0) {
            point = (long)(j - i);
        } else if (c == '_') {
            continue; /* PG 16 accepts 1_000; harmless to accept */
        } else {
            break;
        }
    }
    if (!any)
        return -1;
    long exp10 = 0;
    size_t end = j - i; /* mantissa bytes, before any exponent */
    if (j < s.n) {
        if (s.p[j] != 'e' && s.p[j] != 'E')
            return -1;
        j++;
        bool eneg = false;
        if (j < s.n && (s.p[j] == '-' || s.p[j] == '+'))
            eneg = s.p[j++] == '-';
        if (j >= s.n)
            return -1;
        for (; j < s.n; j++) {
            if (s.p[j] < '0' || s.p[j] > '9' || exp10 > 1000000)
                return -1;
            exp10 = exp10 * 10 + (s.p[j] - '0');
        }
        if (eneg)
            exp10 = -exp10;
    }
    /* Collect digits into a scratch string. */
    char stackbuf[128];
    char *d = end < sizeof stackbuf ? stackbuf : malloc(end + 1);
    if (!d)
        return -1;
    for (size_t k = 0; k < end; k++)
        if (digits[k] >= '0' && digits[k] <= '9')
            d[ndig++] = digits[k];
    long P = nint + exp10;
    while (first < ndig && d[first] == '0') {
        first++;
        P--;
    }
    while (ndig > first && d[ndig - 1] == '0')
        ndig--;
    if (first == ndig) {
        cdc_buf_putc(out, '0');
    } else {
        const char *D = d + first;
        long L = (long)(ndig - first);
        if (neg)
            cdc_buf_putc(out, '-');
        if (P <= 0) {
            cdc_buf_puts(out, "0.");
            for (long z = 0; z < -P; z++)
                cdc_buf_putc(out, '0');
            cdc_buf_append(out, D, (size_t)L);
        } else if (P >= L) {
            cdc_buf_append(out, D, (size_t)L);
            for (long z = 0; z < P - L; z++)
                cdc_buf_putc(out, '0');
        } else {
            cdc_buf_append(out, D, (size_t)P);
            cdc_buf_putc(out, '.');
            cdc_buf_append(out, D + P, (size_t)(L - P));
        }
    }
    if (d != stackbuf)
        free(d);
    return 0;
}

/* Shortest "%.Ng" that parses back to the same double. PostgreSQL 12+
 * prints shortest-exact digits already, but in its own layout; re-printing
 * from the binary value makes any spelling of the same double canonical.
 * A real is printed as the double it promotes to, because PostgreSQL
 * compares real = double precision that way (float48eq): real 0.1 equals
 * 0.1::real::float8 (0.10000000149011612) and not float8 0.1. */
static void put_double(cdc_buf_t *out, double v)
{
    if (isnan(v)) {
        cdc_buf_puts(out, "NaN");
        return;
    }
    if (isinf(v)) {
        cdc_buf_puts(out, v < 0 ? "-Infinity" : "Infinity");
        return;
    }
    if (v == 0) {
        cdc_buf_putc(out, '0'); /* -0 == 0, as PostgreSQL compares floats */
        return;
    }
    char tmp[40];
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    cdc_buf_append(out, tmp, (size_t)n);
}

static int canon_float(span_t s, bool is_float4, cdc_buf_t *out)
{
    s = trim(s);
    char stackbuf[64];
    if (s.n == 0 || s.n >= sizeof stackbuf)
        return -1;
    memcpy(stackbuf, s.p, s.n);
    stackbuf[s.n] = '\0';
    char *end = NULL;
    errno = 0;
    double v;
    if (is_float4) {
        float f = strtof(stackbuf, &end);
        v = (double)f;
    } else {
        v = strtod(stackbuf, &end);
    }
    /* ERANGE on underflow is fine (PostgreSQL accepts denormals); overflow
     * to infinity from a finite spelling is not a valid value. */
    if (end == stackbuf || *end != '\0')
        return -1;
    if (errno == ERANGE && isinf(v) && !span_ieq(s, "infinity") && !span_ieq(s, "-infinity") &&
        !span_ieq(s, "inf") && !span_ieq(s, "-inf"))
        return -1;
    put_double(out, v);
    return 0;
}

/* ---- dates and times -------------------------------------------------- */

/* Days from civil date (proleptic Gregorian), H. Hinnant's algorithm. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool read_uint(span_t s, size_t *i, int min_digits, int max_digits, int64_t *v)
{
    int n = 0;
    int64_t acc = 0;
    while (*i < s.n && n < max_digits && s.p[*i] >= '0' && s.p[*i] <= '9') {
        acc = acc * 10 + (s.p[*i] - '0');
        (*i)++;
        n++;
    }
    *v = acc;
    return n >= min_digits;
}

/* Trailing " BC" (PostgreSQL's era suffix); removed from @p s. */
static bool strip_bc(span_t *s)
{
    if (s->n >= 3 && strncasecmp(s->p + s->n - 3, " BC", 3) == 0) {
        s->n -= 3;
        return true;
    }
    return false;
}

static bool parse_date(span_t s, size_t *i, bool bc, int64_t *days)
{
    int64_t y, m, d;
    if (!read_uint(s, i, 1, 9, &y) || *i >= s.n || s.p[*i] != '-')
        return false;
    (*i)++;
    if (!read_uint(s, i, 1, 2, &m) || *i >= s.n || s.p[*i] != '-')
        return false;
    (*i)++;
    if (!read_uint(s, i, 1, 2, &d))
        return false;
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    if (bc)
        y = 1 - y; /* 1 BC is year 0 */
    *days = days_from_civil(y, (unsigned)m, (unsigned)d);
    return true;
}

/* HH:MM[:SS[.frac]] -> µs; fractions beyond µs round half up, as
 * PostgreSQL rounds on input. */
static bool parse_time(span_t s, size_t *i, int64_t *usec)
{
    int64_t h, mi, sec = 0, frac = 0;
    if (!read_uint(s, i, 1, 2, &h) || *i >= s.n || s.p[*i] != ':')
        return false;
    (*i)++;
    if (!read_uint(s, i, 2, 2, &mi))
        return false;
    if (*i < s.n && s.p[*i] == ':') {
        (*i)++;
        if (!read_uint(s, i, 2, 2, &sec))
            return false;
        if (*i < s.n && s.p[*i] == '.') {
            (*i)++;
            int nd = 0;
            bool round_up = false;
            while (*i < s.n && s.p[*i] >= '0' && s.p[*i] <= '9') {
                if (nd < 6)
                    frac = frac * 10 + (s.p[*i] - '0');
                else if (nd == 6)
                    round_up = s.p[*i] >= '5';
                nd++;
                (*i)++;
            }
            if (nd == 0)
                return false;
            for (int k = nd; k < 6; k++)
                frac *= 10;
            if (round_up)
                frac++;
        }
    }
    if (h > 24 || mi > 59 || sec > 60)
        return false;
    *usec = ((h * 60 + mi) * 60 + sec) * USEC_PER_SEC + frac;
    return true;
}

/* Z | +HH | +HH:MM | +HH:MM:SS | +HHMM -> seconds east of UTC. */
static bool parse_offset(span_t s, size_t *i, int64_t *east)
{
    if (*i < s.n && (s.p[*i] == 'Z' || s.p[*i] == 'z')) {
        (*i)++;
        *east = 0;
        return true;
    }
    if (*i >= s.n || (s.p[*i] != '+' && s.p[*i] != '-'))
        return false;
    int sign = s.p[*i] == '-' ? -1 : 1;
    (*i)++;
    int64_t h, m = 0, sec = 0;
    size_t start = *i;
    if (!read_uint(s, i, 1, 4, &h))
        return false;
    if (*i - start == 4) { /* +HHMM */
        m = h % 100;
        h /= 100;
    } else if (*i < s.n && s.p[*i] == ':') {
        (*i)++;
        if (!read_uint(s, i, 2, 2, &m))
            return false;
        if (*i < s.n && s.p[*i] == ':') {
            (*i)++;
            if (!read_uint(s, i, 2, 2, &sec))
                return false;
        }
    }
    if (h > 15 || m > 59 || sec > 59)
        return false;
    *east = sign * (h * 3600 + m * 60 + sec);
    return true;
}

static int canon_date(span_t s, cdc_buf_t *out)
{
    s = trim(s);
    if (span_ieq(s, "infinity") || span_ieq(s, "-infinity")) {
        cdc_buf_append(out, s.p[0] == '-' ? "-infinity" : "infinity", s.p[0] == '-' ? 9 : 8);
        return 0;
    }
    bool bc = strip_bc(&s);
    size_t i = 0;
    int64_t days;
    if (!parse_date(s, &i, bc, &days) || i != s.n)
        return -1;
    put_i64(out, days);
    return 0;
}

static int canon_time(span_t s, bool tz, cdc_buf_t *out)
{
    s = trim(s);
    size_t i = 0;
    int64_t usec, east = 0;
    if (!parse_time(s, &i, &usec))
        return -1;
    if (tz && !parse_offset(s, &i, &east))
        return -1;
    if (i != s.n)
        return -1;
    put_i64(out, usec);
    if (tz) {
        cdc_buf_putc(out, '@');
        put_i64(out, east);
    }
    return 0;
}

static int canon_timestamp(span_t s, bool tz, cdc_buf_t *out)
{
    s = trim(s);
    if (span_ieq(s, "infinity") || span_ieq(s, "-infinity")) {
        cdc_buf_append(out, s.p[0] == '-' ? "-infinity" : "infinity", s.p[0] == '-' ? 9 : 8);
        return 0;
    }
    bool bc = strip_bc(&s);
    size_t i = 0;
    int64_t days, usec = 0, east = 0;
    if (!parse_date(s, &i, bc, &days))
        return -1;
    if (i < s.n && (s.p[i] == ' ' || s.p[i] == 'T' || s.p[i] == 't')) {
        i++;
        if (!parse_time(s, &i, &usec))
            return -1;
        if (i < s.n && s.p[i] == ' ')
            i++;
        if (i < s.n && !parse_offset(s, &i, &east))
            return -1;
    }
    if (i != s.n)
        return -1;
    /* timestamp without time zone ignores a written offset, as PostgreSQL's
     * input function does; timestamptz is an instant. */
    int64_t v = days * USEC_PER_DAY + usec - (tz ? east * USEC_PER_SEC : 0);
    put_i64(out, v);
    return 0;
}

/* ---- interval --------------------------------------------------------- */

typedef __int128 i128;

static void put_i128(cdc_buf_t *out, i128 v)
{
    char tmp[48];
    size_t n = 0;
    bool neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (neg)
        cdc_buf_putc(out, '-');
    while (n)
        cdc_buf_putc(out, tmp[--n]);
}

/* A signed decimal with optional fraction, scaled by @p scale (µs per unit),
 * rounded to the microsecond. */
static bool read_scaled(span_t s, size_t *i, i128 scale, i128 *v)
{
    bool neg = false;
    if (*i < s.n && (s.p[*i] == '-' || s.p[*i] == '+'))
        neg = s.p[(*i)++] == '-';
    i128 ip = 0, fp = 0, fscale = 1;
    int nd = 0;
    while (*i < s.n && isdigit((unsigned char)s.p[*i])) {
        ip = ip * 10 + (s.p[(*i)++] - '0');
        nd++;
        if (nd > 30)
            return false;
    }
    if (*i < s.n && s.p[*i] == '.') {
        (*i)++;
        while (*i < s.n && isdigit((unsigned char)s.p[*i])) {
            if (fscale < (i128)1000000000000000000)
                fp = fp * 10 + (s.p[*i] - '0'), fscale *= 10;
            (*i)++;
            nd++;
        }
    }
    if (!nd)
        return false;
    i128 r = ip * scale + (fp * scale * 2 + fscale) / (fscale * 2);
    *v = neg ? -r : r;
    return true;
}

static const i128 US_DAY = (i128)86400 * 1000000;

static int canon_interval_iso(span_t s, i128 *total)
{
    size_t i = 1; /* after 'P' */
    bool in_time = false;
    while (i < s.n) {
        if (s.p[i] == 'T') {
            in_time = true;
            i++;
            continue;
        }
        i128 v;
        size_t save = i;
        /* Parse the number as µs-per-unit later: read with scale 1e6 and
         * divide by units below (keeps fractions for every designator). */
        if (!read_scaled(s, &i, 1000000, &v) || i >= s.n)
            return -1;
        (void)save;
        char u = s.p[i++];
        i128 mult; /* µs per unit */
        switch (u) {
        case 'Y': mult = in_time ? -1 : 12 * 30 * US_DAY; break;
        case 'M': mult = in_time ? (i128)60 * 1000000 : 30 * US_DAY; break;
        case 'W': mult = in_time ? -1 : 7 * US_DAY; break;
        case 'D': mult = in_time ? -1 : US_DAY; break;
        case 'H': mult = in_time ? (i128)3600 * 1000000 : -1; break;
        case 'S': mult = in_time ? 1000000 : -1; break;
        default: return -1;
        }
        if (mult < 0)
            return -1;
        *total += v * (mult / 1000000) + (v * (mult % 1000000)) / 1000000;
    }
    return 0;
}

/* PostgreSQL's "postgres" style: [@] N unit ... [+-]HH:MM:SS[.f] [ago]. */
static int canon_interval_pg(span_t s, i128 *total)
{
    size_t i = 0;
    bool ago = false;
    while (i < s.n) {
        while (i < s.n && isspace((unsigned char)s.p[i]))
            i++;
        if (i >= s.n)
            break;
        if (s.p[i] == '@') {
            i++;
            continue;
        }
        if (s.n - i >= 3 && strncasecmp(s.p + i, "ago", 3) == 0) {
            ago = true;
            i += 3;
            continue;
        }
        /* time part? look ahead for ':' before the next space */
        size_t k = i;
        while (k < s.n && !isspace((unsigned char)s.p[k]) && s.p[k] != ':')
            k++;
        if (k < s.n && s.p[k] == ':') {
            bool neg = false;
            if (s.p[i] == '-' || s.p[i] == '+')
                neg = s.p[i++] == '-';
            int64_t h, m, sec = 0;
            if (!read_uint(s, &i, 1, 9, &h) || i >= s.n || s.p[i] != ':')
                return -1;
            i++;
            if (!read_uint(s, &i, 1, 2, &m))
                return -1;
            i128 us = ((i128)h * 3600 + m * 60) * 1000000;
            if (i < s.n && s.p[i] == ':') {
                i++;
                i128 sv;
                if (!read_scaled(s, &i, 1000000, &sv))
                    return -1;
                us += sv;
                (void)sec;
            }
            *total += neg ? -us : us;
            continue;
        }
        i128 v;
        if (!read_scaled(s, &i, 1000000, &v))
            return -1;
        while (i < s.n && isspace((unsigned char)s.p[i]))
            i++;
        size_t w = i;
        while (i < s.n && isalpha((unsigned char)s.p[i]))
            i++;
        span_t unit = {s.p + w, i - w};
        i128 mult;
        if (unit.n >= 1 && (strncasecmp(unit.p, "year", 4) == 0 || span_ieq(unit, "y")))
            mult = 12 * 30 * US_DAY;
        else if (unit.n >= 3 && strncasecmp(unit.p, "mon", 3) == 0)
            mult = 30 * US_DAY;
        else if (unit.n >= 4 && strncasecmp(unit.p, "week", 4) == 0)
            mult = 7 * US_DAY;
        else if (unit.n >= 3 && strncasecmp(unit.p, "day", 3) == 0)
            mult = US_DAY;
        else if (unit.n >= 4 && strncasecmp(unit.p, "hour", 4) == 0)
            mult = (i128)3600 * 1000000;
        else if (unit.n >= 3 && strncasecmp(unit.p, "min", 3) == 0)
            mult = (i128)60 * 1000000;
        else if (unit.n >= 3 && strncasecmp(unit.p, "sec", 3) == 0)
            mult = 1000000;
        else if (unit.n == 0 && i == s.n && w == i)
            mult = 1; /* a bare number: microseconds (Debezium MicroDuration) */
        else
            return -1;
        if (mult == 1)
            *total += v / 1000000;
        else
            *total += v * (mult / 1000000) + (v * (mult % 1000000)) / 1000000;
    }
    if (ago)
        *total = -*total;
    return 0;
}

static int canon_interval(span_t s, cdc_buf_t *out)
{
    s = trim(s);
    if (!s.n)
        return -1;
    i128 total = 0;
    int rc = (s.p[0] == 'P' || s.p[0] == 'p') ? canon_interval_iso(s, &total)
                                              : canon_interval_pg(s, &total);
    if (rc)
        return -1;
    put_i128(out, total);
    return 0;
}

/* ---- small kinds ------------------------------------------------------ */

static int canon_bool(span_t s, cdc_buf_t *out)
{
    s = trim(s);
    if (span_ieq(s, "t") || span_ieq(s, "true") || span_ieq(s, "1") || span_ieq(s, "y") ||
        span_ieq(s, "yes") || span_ieq(s, "on"))
        cdc_buf_putc(out, 't');
    else if (span_ieq(s, "f") || span_ieq(s, "false") || span_ieq(s, "0") || span_ieq(s, "n") ||
             span_ieq(s, "no") || span_ieq(s, "off"))
        cdc_buf_putc(out, 'f');
    else
        return -1;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int canon_uuid(span_t s, cdc_buf_t *out)
{
    s = trim(s);
    char hex[32];
    int n = 0;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        if (c == '-' || c == '{' || c == '}')
            continue;
        if (hexval((unsigned char)c) < 0 || n >= 32)
            return -1;
        hex[n++] = (char)tolower((unsigned char)c);
    }
    if (n != 32)
        return -1;
    cdc_buf_append(out, hex, 8);
    cdc_buf_putc(out, '-');
    cdc_buf_append(out, hex + 8, 4);
    cdc_buf_putc(out, '-');
    cdc_buf_append(out, hex + 12, 4);
    cdc_buf_putc(out, '-');
    cdc_buf_append(out, hex + 16, 4);
    cdc_buf_putc(out, '-');
    cdc_buf_append(out, hex + 20, 12);
    return 0;
}

/* bytea: "\x0102" (hex output) or the escape format ("ab\000\\"). */
static int canon_bytea(span_t s, cdc_buf_t *out)
{
    if (s.n >= 2 && s.p[0] == '\\' && (s.p[1] == 'x' || s.p[1] == 'X')) {
        size_t i = 2;
        while (i < s.n) {
            if (isspace((unsigned char)s.p[i])) {
                i++;
                continue;
            }
            if (i + 1 >= s.n)
                return -1;
            int hi = hexval((unsigned char)s.p[i]), lo = hexval((unsigned char)s.p[i + 1]);
            if (hi < 0 || lo < 0)
                return -1;
            cdc_buf_putc(out, (char)(hi << 4 | lo));
            i += 2;
        }
        return 0;
    }
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] != '\\') {
            cdc_buf_putc(out, s.p[i]);
        } else if (i + 1 < s.n && s.p[i + 1] == '\\') {
            cdc_buf_putc(out, '\\');
            i++;
        } else if (i + 3 < s.n && s.p[i + 1] >= '0' && s.p[i + 1] <= '3' && s.p[i + 2] >= '0' &&
                   s.p[i + 2] <= '7' && s.p[i + 3] >= '0' && s.p[i + 3] <= '7') {
            cdc_buf_putc(out, (char)((s.p[i + 1] - '0') << 6 | (s.p[i + 2] - '0') << 3 |
                                     (s.p[i + 3] - '0')));
            i += 3;
        } else {
            return -1;
        }
    }
    return 0;
}

/* ---- json ------------------------------------------------------------- */

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
                size_t nc = cap ? 2 * cap : 32;
                pframe_t *ns = realloc(st, nc * sizeof *ns);
                if (!ns)
                    goto out;
                st = ns;
                cap = nc;
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
                size_t nc = cap ? 2 * cap : 32;
                eframe_t *ns = realloc(st, nc * sizeof *ns);
                if (!ns)
                    goto out;
                st = ns;
                cap = nc;
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
static int canon_json(span_t s, bool exact, cdc_buf_t *out)
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

/* ---- arrays, composites, ranges ------------------------------------- */

static int encode_value(const cdc_canon_type_t *t, span_t s, cdc_buf_t *out, int nest);

/* Parse one brace level starting at s.p[*i] == '{'. */
static int canon_array_level(const cdc_canon_type_t *elem, span_t s, size_t *i, cdc_buf_t *out,
                             cdc_buf_t *tmp, int depth, int nest)
{
    if (depth > 6 || *i >= s.n || s.p[*i] != '{')
        return -1;
    (*i)++;
    for (;;) {
        while (*i < s.n && isspace((unsigned char)s.p[*i]))
            (*i)++;
        if (*i >= s.n)
            return -1;
        if (s.p[*i] == '}') {
            (*i)++;
            return 0;
        }
        if (s.p[*i] == '{') {
            size_t start = out->len;
            if (canon_array_level(elem, s, i, out, tmp, depth + 1, nest))
                return -1;
            frame_from(out, start, 'A');
        } else if (s.p[*i] == '"') {
            (*i)++;
            cdc_buf_reset(tmp);
            while (*i < s.n && s.p[*i] != '"') {
                if (s.p[*i] == '\\' && *i + 1 < s.n)
                    (*i)++;
                cdc_buf_putc(tmp, s.p[(*i)++]);
            }
            if (*i >= s.n)
                return -1;
            (*i)++;
            span_t el = {tmp->data ? tmp->data : "", tmp->len};
            /* A copy: the element (a composite, say) is parsed while tmp
             * may be reused by a deeper level. */
            char *copy = malloc(el.n + 1);
            if (!copy)
                return -1;
            memcpy(copy, el.p, el.n);
            el.p = copy;
            int rc = encode_value(elem, el, out, nest + 1);
            free(copy);
            if (rc)
                return -1;
        } else {
            size_t st = *i;
            while (*i < s.n && s.p[*i] != ',' && s.p[*i] != '}')
                (*i)++;
            span_t el = trim((span_t){s.p + st, *i - st});
            if (span_ieq(el, "null"))
                cdc_buf_putc(out, CDC_CANON_NULL_TAG);
            else if (encode_value(elem, el, out, nest + 1))
                return -1;
        }
        while (*i < s.n && isspace((unsigned char)s.p[*i]))
            (*i)++;
        if (*i < s.n && s.p[*i] == ',')
            (*i)++;
    }
}

static int canon_array(const cdc_canon_type_t *elem, span_t s, cdc_buf_t *out, int nest)
{
    s = trim(s);
    size_t i = 0;
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = -1;
    if (s.n && s.p[0] == '[') {
        /* "[0:1]={...}": bounds other than 1 are part of the value. */
        const char *eq = memchr(s.p, '=', s.n);
        if (!eq)
            goto out;
        put_frame(out, 'L', s.p, (size_t)(eq - s.p));
        i = (size_t)(eq - s.p) + 1;
    }
    rc = canon_array_level(elem, s, &i, out, &tmp, 0, nest);
    if (!rc && i != s.n)
        rc = -1;
out:
    cdc_buf_free(&tmp);
    return rc;
}

/* One field of record_out's or one bound of range_out's text, up to an
 * unquoted character of @p stops: "..." quotes ("" inside is a quote), a
 * backslash escapes. *null: nothing at all was there (a NULL field, an
 * infinite bound), which "" (the empty string) is not. */
static int read_field(span_t s, size_t *i, const char *stops, cdc_buf_t *tmp, bool *null)
{
    cdc_buf_reset(tmp);
    bool inq = false, quoted = false;
    while (*i < s.n) {
        char c = s.p[*i];
        if (!inq && c && strchr(stops, c))
            break;
        if (c == '\\') {
            if (*i + 1 >= s.n)
                return -1;
            cdc_buf_putc(tmp, s.p[*i + 1]);
            *i += 2;
        } else if (c == '"' && inq && *i + 1 < s.n && s.p[*i + 1] == '"') {
            cdc_buf_putc(tmp, '"');
            *i += 2;
        } else if (c == '"') {
            inq = !inq;
            quoted = true;
            (*i)++;
        } else {
            cdc_buf_putc(tmp, c);
            (*i)++;
        }
    }
    *null = !quoted && tmp->len == 0;
    return inq ? -1 : 0;
}

/* (f1,f2,...): the framed fields, each by its own type. */
static int canon_record(const cdc_canon_type_t *t, span_t s, cdc_buf_t *out, int nest)
{
    s = trim(s);
    if (s.n < 2 || s.p[0] != '(' || s.p[s.n - 1] != ')')
        return -1;
    size_t i = 1;
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = -1;
    for (size_t f = 0; f < t->nsub; f++) {
        bool null;
        if ((f && (i >= s.n || s.p[i++] != ',')) || read_field(s, &i, ",)", &tmp, &null))
            goto out;
        if (null)
            cdc_buf_putc(out, CDC_CANON_NULL_TAG);
        else if (encode_value(&t->sub[f], (span_t){tmp.data ? tmp.data : "", tmp.len}, out,
                              nest + 1))
            goto out;
    }
    rc = i + 1 == s.n ? 0 : -1;
out:
    cdc_buf_free(&tmp);
    return rc;
}

/* "empty" is E; else the lower bracket, the bounds framed by the subtype
 * (a NULL marker for an infinite one), the upper bracket. */
static int canon_range(const cdc_canon_type_t *t, span_t s, cdc_buf_t *out, int nest)
{
    s = trim(s);
    if (span_ieq(s, "empty")) {
        cdc_buf_putc(out, 'E');
        return 0;
    }
    if (t->nsub != 1 || s.n < 3 || (s.p[0] != '[' && s.p[0] != '(') ||
        (s.p[s.n - 1] != ']' && s.p[s.n - 1] != ')'))
        return -1;
    cdc_buf_putc(out, s.p[0]);
    size_t i = 1;
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = -1;
    for (int b = 0; b < 2; b++) {
        bool null;
        if (read_field(s, &i, b ? "])" : ",", &tmp, &null))
            goto out;
        if (null)
            cdc_buf_putc(out, CDC_CANON_NULL_TAG);
        else if (encode_value(&t->sub[0], (span_t){tmp.data ? tmp.data : "", tmp.len}, out,
                              nest + 1))
            goto out;
        if (!b && (i >= s.n || s.p[i++] != ','))
            goto out;
    }
    if (i + 1 != s.n)
        goto out;
    cdc_buf_putc(out, s.p[i]);
    rc = 0;
out:
    cdc_buf_free(&tmp);
    return rc;
}

/* ---- dispatch --------------------------------------------------------- */

static char kind_tag(cdc_canon_kind_t kind)
{
    switch (kind) {
    case CDC_CANON_INT:
    case CDC_CANON_NUMERIC: return 'N';
    case CDC_CANON_FLOAT4:
    case CDC_CANON_FLOAT8: return 'F';
    case CDC_CANON_DATE: return 'D';
    case CDC_CANON_TIME: return 'T';
    case CDC_CANON_TIMETZ: return 'Z';
    case CDC_CANON_TIMESTAMP:
    case CDC_CANON_TIMESTAMPTZ: return 'P';
    case CDC_CANON_TEXT:
    case CDC_CANON_BPCHAR: return 'S';
    case CDC_CANON_BYTEA: return 'B';
    case CDC_CANON_BOOL: return 'b';
    case CDC_CANON_UUID: return 'U';
    case CDC_CANON_JSON:
    case CDC_CANON_JSONB: return 'J';
    case CDC_CANON_INTERVAL: return 'I';
    case CDC_CANON_COMPOSITE: return 'C';
    case CDC_CANON_RANGE: return 'R';
    case CDC_CANON_OTHER: break;
    }
    return 'O';
}

static int encode_scalar(cdc_canon_kind_t kind, span_t s, cdc_buf_t *out)
{
    /* Fast paths for the kinds whose payload is the input itself: no copy
     * through a temporary. */
    if (kind == CDC_CANON_TEXT || kind == CDC_CANON_OTHER) {
        put_frame(out, kind_tag(kind), s.p, s.n);
        return 0;
    }
    if (kind == CDC_CANON_BPCHAR) {
        while (s.n && s.p[s.n - 1] == ' ')
            s.n--;
        put_frame(out, 'S', s.p, s.n);
        return 0;
    }
    /* Payload first, then the frame header in front of it. */
    size_t start = out->len;
    int rc;
    switch (kind) {
    case CDC_CANON_INT:
    case CDC_CANON_NUMERIC: rc = canon_decimal(s, out); break;
    case CDC_CANON_FLOAT4: rc = canon_float(s, true, out); break;
    case CDC_CANON_FLOAT8: rc = canon_float(s, false, out); break;
    case CDC_CANON_DATE: rc = canon_date(s, out); break;
    case CDC_CANON_TIME: rc = canon_time(s, false, out); break;
    case CDC_CANON_TIMETZ: rc = canon_time(s, true, out); break;
    case CDC_CANON_TIMESTAMP: rc = canon_timestamp(s, false, out); break;
    case CDC_CANON_TIMESTAMPTZ: rc = canon_timestamp(s, true, out); break;
    case CDC_CANON_BYTEA: rc = canon_bytea(s, out); break;
    case CDC_CANON_BOOL: rc = canon_bool(s, out); break;
    case CDC_CANON_UUID: rc = canon_uuid(s, out); break;
    case CDC_CANON_JSON: rc = canon_json(s, true, out); break;
    case CDC_CANON_JSONB: rc = canon_json(s, false, out); break;
    case CDC_CANON_INTERVAL: rc = canon_interval(s, out); break;
    default: rc = -1; break;
    }
    if (rc) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return -1;
    }
    frame_from(out, start, kind_tag(kind));
    return 0;
}

/* A value of any type, framed: arrays, composites and ranges element by
 * element (@p nest bounds the recursion; a type's own nesting is finite). */
static int encode_value(const cdc_canon_type_t *t, span_t s, cdc_buf_t *out, int nest)
{
    if (nest > 64)
        return -1;
    if (!t->is_array && t->kind != CDC_CANON_COMPOSITE && t->kind != CDC_CANON_RANGE)
        return encode_scalar(t->kind, s, out);
    size_t start = out->len;
    int rc;
    char tag;
    if (t->is_array) {
        cdc_canon_type_t el = *t;
        el.is_array = false;
        rc = canon_array(&el, s, out, nest);
        tag = 'A';
    } else if (t->kind == CDC_CANON_COMPOSITE) {
        rc = canon_record(t, s, out, nest);
        tag = 'C';
    } else {
        rc = canon_range(t, s, out, nest);
        tag = 'R';
    }
    if (rc) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return -1;
    }
    frame_from(out, start, tag);
    return 0;
}

int cdc_canon_encode(cdc_canon_type_t type, const char *text, size_t len, cdc_buf_t *out,
                     char *errstr, size_t errstr_size)
{
    if (!text) {
        cdc_buf_putc(out, CDC_CANON_NULL_TAG);
        return 0;
    }
    if (encode_value(&type, (span_t){text, len}, out, 0)) {
        seterr(errstr, errstr_size, type.kind, text, len,
               type.is_array ? "not a valid array literal of this element type"
                             : "not a valid literal of this type");
        return -1;
    }
    return 0;
}

/* ---- types ------------------------------------------------------------ */

static const struct {
    const char *name;
    cdc_canon_kind_t kind;
} type_names[] = {
    {"int2", CDC_CANON_INT},
    {"int4", CDC_CANON_INT},
    {"int8", CDC_CANON_INT},
    {"smallint", CDC_CANON_INT},
    {"integer", CDC_CANON_INT},
    {"int", CDC_CANON_INT},
    {"bigint", CDC_CANON_INT},
    {"oid", CDC_CANON_INT},
    {"xid", CDC_CANON_INT},
    {"smallserial", CDC_CANON_INT},
    {"serial", CDC_CANON_INT},
    {"bigserial", CDC_CANON_INT},
    {"numeric", CDC_CANON_NUMERIC},
    {"decimal", CDC_CANON_NUMERIC},
    {"float4", CDC_CANON_FLOAT4},
    {"real", CDC_CANON_FLOAT4},
    {"float8", CDC_CANON_FLOAT8},
    {"double precision", CDC_CANON_FLOAT8},
    {"date", CDC_CANON_DATE},
    {"time", CDC_CANON_TIME},
    {"time without time zone", CDC_CANON_TIME},
    {"timetz", CDC_CANON_TIMETZ},
    {"time with time zone", CDC_CANON_TIMETZ},
    {"timestamp", CDC_CANON_TIMESTAMP},
    {"timestamp without time zone", CDC_CANON_TIMESTAMP},
    {"timestamptz", CDC_CANON_TIMESTAMPTZ},
    {"timestamp with time zone", CDC_CANON_TIMESTAMPTZ},
    {"text", CDC_CANON_TEXT},
    {"varchar", CDC_CANON_TEXT},
    {"character varying", CDC_CANON_TEXT},
    {"name", CDC_CANON_TEXT},
    {"citext", CDC_CANON_TEXT},
    {"bpchar", CDC_CANON_BPCHAR},
    {"char", CDC_CANON_BPCHAR},   /* SQL's char(n); the catalog's "char" needs its OID */
    {"\"char\"", CDC_CANON_TEXT}, /* format_type() of the 1-byte type: not padded */
    {"character", CDC_CANON_BPCHAR},
    {"bytea", CDC_CANON_BYTEA},
    {"bool", CDC_CANON_BOOL},
    {"boolean", CDC_CANON_BOOL},
    {"uuid", CDC_CANON_UUID},
    {"json", CDC_CANON_JSON},
    {"jsonb", CDC_CANON_JSONB},
    {"interval", CDC_CANON_INTERVAL},
};

cdc_canon_type_t cdc_canon_type_from_name(const char *typname)
{
    cdc_canon_type_t t = {CDC_CANON_OTHER, false};
    if (!typname)
        return t;
    char name[96];
    size_t n = strlen(typname);
    const char *p = typname;
    if (n && p[0] == '_') {
        t.is_array = true;
        p++;
        n--;
    }
    if (n >= sizeof name)
        return t;
    memcpy(name, p, n);
    name[n] = '\0';
    /* strip "[]" and a type modifier "(10)" / "(10,2)" */
    char *br = strstr(name, "[]");
    if (br) {
        t.is_array = true;
        *br = '\0';
    }
    char *par = strchr(name, '(');
    if (par) {
        char *close = strchr(par, ')');
        if (close)
            memmove(par, close + 1, strlen(close + 1) + 1);
    }
    /* "timestamp(3) with time zone" leaves a double space; collapse it and
     * trim the ends. */
    size_t w = 0;
    for (size_t r = 0; name[r]; r++) {
        if (name[r] == ' ' && (w == 0 || name[w - 1] == ' '))
            continue;
        name[w++] = (char)tolower((unsigned char)name[r]);
    }
    while (w && name[w - 1] == ' ')
        w--;
    name[w] = '\0';
    /* "character" with a quoted "char" catalog type would be the 1-byte
     * internal type; both compare as bytes, so BPCHAR is right for both. */
    for (size_t k = 0; k < sizeof type_names / sizeof type_names[0]; k++)
        if (strcmp(name, type_names[k].name) == 0) {
            t.kind = type_names[k].kind;
            return t;
        }
    return t;
}

cdc_canon_type_t cdc_canon_type_from_oid(unsigned int oid)
{
    static const struct {
        unsigned int oid;
        cdc_canon_kind_t kind;
        bool arr;
    } oids[] = {
        {16, CDC_CANON_BOOL, false},          {17, CDC_CANON_BYTEA, false},
        {18, CDC_CANON_TEXT, false},          {1002, CDC_CANON_TEXT, true},
        {19, CDC_CANON_TEXT, false},          {20, CDC_CANON_INT, false},
        {21, CDC_CANON_INT, false},           {23, CDC_CANON_INT, false},
        {25, CDC_CANON_TEXT, false},          {26, CDC_CANON_INT, false},
        {114, CDC_CANON_JSON, false},         {700, CDC_CANON_FLOAT4, false},
        {701, CDC_CANON_FLOAT8, false},       {1042, CDC_CANON_BPCHAR, false},
        {1043, CDC_CANON_TEXT, false},        {1082, CDC_CANON_DATE, false},
        {1083, CDC_CANON_TIME, false},        {1114, CDC_CANON_TIMESTAMP, false},
        {1184, CDC_CANON_TIMESTAMPTZ, false}, {1186, CDC_CANON_INTERVAL, false},
        {1266, CDC_CANON_TIMETZ, false},      {1700, CDC_CANON_NUMERIC, false},
        {2950, CDC_CANON_UUID, false},        {3802, CDC_CANON_JSONB, false},
        {199, CDC_CANON_JSON, true},          {1000, CDC_CANON_BOOL, true},
        {1001, CDC_CANON_BYTEA, true},        {1005, CDC_CANON_INT, true},
        {1007, CDC_CANON_INT, true},          {1009, CDC_CANON_TEXT, true},
        {1014, CDC_CANON_BPCHAR, true},       {1015, CDC_CANON_TEXT, true},
        {1016, CDC_CANON_INT, true},          {1021, CDC_CANON_FLOAT4, true},
        {1022, CDC_CANON_FLOAT8, true},       {1115, CDC_CANON_TIMESTAMP, true},
        {1182, CDC_CANON_DATE, true},         {1183, CDC_CANON_TIME, true},
        {1185, CDC_CANON_TIMESTAMPTZ, true},  {1187, CDC_CANON_INTERVAL, true},
        {1231, CDC_CANON_NUMERIC, true},      {1270, CDC_CANON_TIMETZ, true},
        {2951, CDC_CANON_UUID, true},         {3807, CDC_CANON_JSONB, true},
    };
    for (size_t k = 0; k < sizeof oids / sizeof oids[0]; k++)
        if (oids[k].oid == oid)
            return (cdc_canon_type_t){oids[k].kind, oids[k].arr, NULL, 0};
    return (cdc_canon_type_t){CDC_CANON_OTHER, false, NULL, 0};
}

const char *cdc_canon_kind_name(cdc_canon_kind_t kind)
{
    switch (kind) {
    case CDC_CANON_OTHER: return "other";
    case CDC_CANON_INT: return "integer";
    case CDC_CANON_NUMERIC: return "numeric";
    case CDC_CANON_FLOAT4: return "float4";
    case CDC_CANON_FLOAT8: return "float8";
    case CDC_CANON_DATE: return "date";
    case CDC_CANON_TIME: return "time";
    case CDC_CANON_TIMETZ: return "timetz";
    case CDC_CANON_TIMESTAMP: return "timestamp";
    case CDC_CANON_TIMESTAMPTZ: return "timestamptz";
    case CDC_CANON_TEXT: return "text";
    case CDC_CANON_BPCHAR: return "bpchar";
    case CDC_CANON_BYTEA: return "bytea";
    case CDC_CANON_BOOL: return "bool";
    case CDC_CANON_UUID: return "uuid";
    case CDC_CANON_JSON: return "json";
    case CDC_CANON_JSONB: return "jsonb";
    case CDC_CANON_INTERVAL: return "interval";
    case CDC_CANON_COMPOSITE: return "composite";
    case CDC_CANON_RANGE: return "range";
    }
    return "other";
}

/* ---- rows ------------------------------------------------------------- */

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

/* ---- ordering --------------------------------------------------------- */

size_t cdc_canon_frame(const unsigned char *p, size_t avail, unsigned char *tag,
                       const unsigned char **payload, size_t *plen)
{
    if (!avail)
        return 0;
    *tag = p[0];
    if (p[0] == CDC_CANON_NULL_TAG) {
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
    if (ta == CDC_CANON_NULL_TAG || tb == CDC_CANON_NULL_TAG)
        return (ta == CDC_CANON_NULL_TAG) - (tb == CDC_CANON_NULL_TAG);
    if (ta != tb)
        return ta < tb ? -1 : 1;
    switch (ta) {
    case 'N':
    case 'D':
    case 'T':
    case 'P':
    case 'I': return decimal_cmp(pa, la, pb, lb);
    case 'F': {
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

/* ---- binary send format ------------------------------------------------ */

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
    if (len < 8)
        return -1;
    int ndig = (int16_t)be_u(p, 2), weight = (int16_t)be_u(p + 2, 2);
    unsigned sign = (unsigned)be_u(p + 4, 2);
    if (ndig < 0 || len < 8 + 2 * (size_t)ndig)
        return -1;
    if (sign == 0xC000) {
        put_frame(out, 'N', "NaN", 3);
        return 0;
    }
    if (sign == 0xD000) {
        put_frame(out, 'N', "Infinity", 8);
        return 0;
    }
    if (sign == 0xF000) {
        put_frame(out, 'N', "-Infinity", 9);
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
        put_frame(out, 'N', "0", 1); /* zero, negative zero included */
    } else {
        const char *D = t + first;
        long L = (long)(last - first), P = 4L * (weight + 1) - (long)first;
        bool neg = sign == 0x4000;
        size_t plen = (size_t)neg + (size_t)(P <= 0 ? 2 - P + L : P >= L ? P : L + 1);
        /* Header, then the payload in place: the same layout as
         * canon_decimal() + frame_from(). */
        unsigned char hdr[12];
        size_t hn = 0, v = plen;
        hdr[hn++] = 'N';
        do {
            unsigned char c = v & 0x7f;
            v >>= 7;
            if (v)
                c |= 0x80;
            hdr[hn++] = c;
        } while (v);
        cdc_buf_reserve(out, hn + plen);
        char *w = out->data + out->len;
        memcpy(w, hdr, hn);
        w += hn;
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

static const char hexdig[] = "0123456789abcdef";

/* Every case writes its whole frame (put_frame / put_i64_frame): no payload
 * first and memmove after, the binary path is the scan's hot loop. */
int cdc_canon_encode_binary(cdc_canon_type_t type, const void *data, size_t len, cdc_buf_t *out,
                            char *errstr, size_t errstr_size)
{
    if (!data) {
        cdc_buf_putc(out, CDC_CANON_NULL_TAG);
        return 0;
    }
    const unsigned char *p = data;
    int rc = 0;
    if (type.is_array) {
        rc = -1;
        goto out;
    }
    switch (type.kind) {
    case CDC_CANON_TEXT: put_frame(out, 'S', data, len); return 0;
    case CDC_CANON_BPCHAR:
        while (len && p[len - 1] == ' ')
            len--;
        put_frame(out, 'S', data, len);
        return 0;
    case CDC_CANON_BYTEA: put_frame(out, 'B', data, len); return 0;
    case CDC_CANON_INT:
        if (len == 2)
            put_i64_frame(out, 'N', (int16_t)be_u(p, 2));
        else if (len == 4)
            put_i64_frame(out, 'N', (int32_t)be_u(p, 4));
        else if (len == 8)
            put_i64_frame(out, 'N', (int64_t)be_u(p, 8));
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
        size_t start = out->len;
        put_double(out, (double)f);
        frame_from(out, start, 'F');
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
        size_t start = out->len;
        put_double(out, d);
        frame_from(out, start, 'F');
        break;
    }
    case CDC_CANON_DATE: {
        if (len != 4) {
            rc = -1;
            break;
        }
        int32_t d = (int32_t)be_u(p, 4);
        if (d == INT32_MAX)
            put_frame(out, 'D', "infinity", 8);
        else if (d == INT32_MIN)
            put_frame(out, 'D', "-infinity", 9);
        else
            put_i64_frame(out, 'D', (int64_t)d + PG_EPOCH_DAYS);
        break;
    }
    case CDC_CANON_TIMESTAMP:
    case CDC_CANON_TIMESTAMPTZ: {
        if (len != 8) {
            rc = -1;
            break;
        }
        int64_t v = (int64_t)be_u(p, 8);
        if (v == INT64_MAX)
            put_frame(out, 'P', "infinity", 8);
        else if (v == INT64_MIN)
            put_frame(out, 'P', "-infinity", 9);
        else
            put_i64_frame(out, 'P', v + PG_EPOCH_USEC);
        break;
    }
    case CDC_CANON_BOOL:
        if (len != 1)
            rc = -1;
        else
            put_frame(out, 'b', p[0] ? "t" : "f", 1);
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
        put_frame(out, 'U', u, sizeof u);
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
