/* Value formatters: Debezium/Connect semantic values -> PostgreSQL text
 * literals. Every function appends to a cdc_buf_t and never allocates
 * anything else, so they serve the JSON and the Avro front ends alike. */
#include "decode_int.h"

#include "cdc/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- base64 (standard and URL-safe alphabets, padding optional:
 * binary.handling.mode=base64-url-safe writes the latter) ---- */

static int b64val(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

int dfmt_b64_decode(const char *s, size_t n, cdc_buf_t *out)
{
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    cdc_buf_reserve(out, n / 4 * 3 + 3);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (char)((acc >> bits) & 0xff);
        }
    }
    out->data[out->len] = '\0';
    return 0;
}

void dfmt_b64_encode(const uint8_t *p, size_t n, cdc_buf_t *out)
{
    cdc_base64_append(out, p, n);
}

/* ---- Decimal: a JSON number's exact text ---- */

/* PostgreSQL numeric's limits: digits before and after the point. */
#define NUM_MAX_INT  131072
#define NUM_MAX_FRAC 16383

int dfmt_num_text(cdc_buf_t *out, const char *p, size_t n, int scale)
{
    const char *e = p + n, *q = p;
    bool neg = q < e && *q == '-';
    if (neg)
        q++;
    /* Mantissa digits (the point dropped) without leading zeros. */
    const char *ip = q;
    while (q < e && *q >= '0' && *q <= '9')
        q++;
    const char *ie = q, *fp = q, *fe = q;
    if (ie == ip || (*ip == '0' && ie - ip > 1))
        return -1;
    if (q < e && *q == '.') {
        fp = ++q;
        while (q < e && *q >= '0' && *q <= '9')
            q++;
        fe = q;
        if (fe == fp)
            return -1;
    }
    long exp = 0;
    if (q < e && (*q == 'e' || *q == 'E')) {
        q++;
        bool eneg = q < e && *q == '-';
        if (q < e && (*q == '-' || *q == '+'))
            q++;
        if (q == e || *q < '0' || *q > '9')
            return -1;
        for (; q < e && *q >= '0' && *q <= '9'; q++)
            if (exp < 10L * NUM_MAX_INT)
                exp = exp * 10 + (*q - '0');
        if (eneg)
            exp = -exp;
    }
    if (q != e)
        return -1;
    size_t nd = (size_t)(ie - ip) + (size_t)(fe - fp);
    char small[128];
    char *d = nd <= sizeof(small) ? small : malloc(nd);
    if (!d)
        return -1;
    memcpy(d, ip, (size_t)(ie - ip));
    memcpy(d + (ie - ip), fp, (size_t)(fe - fp));
    /* value = d * 10^pw */
    long pw = exp - (long)(fe - fp);
    size_t lead = 0;
    while (lead + 1 < nd && d[lead] == '0')
        lead++;
    const char *dig = d + lead;
    size_t len = nd - lead;
    long frac = scale >= 0 ? scale : (pw < 0 ? -pw : 0);
    int rc = 0;
    if (scale >= 0 && pw < -(long)scale) {
        /* Digits beyond the scale must all be zero: dropped exactly. */
        long drop = -(long)scale - pw;
        for (long i = 0; i < drop && (size_t)i < len; i++)
            if (dig[len - 1 - (size_t)i] != '0')
                rc = -2;
        len = (size_t)drop >= len ? 0 : len - (size_t)drop;
        pw = -(long)scale;
    }
    /* unscaled = dig * 10^(pw + frac), then frac digits after the point */
    long zeros = pw + frac;
    bool zero = true;
    for (size_t i = 0; i < len; i++)
        if (dig[i] != '0')
            zero = false;
    if (rc == 0 && (frac > NUM_MAX_FRAC || (!zero && (long)len + zeros - frac > NUM_MAX_INT)))
        rc = -1;
    if (rc == 0) {
        if (zero) {
            len = 0;
            zeros = 0;
        }
        long total = (long)len + zeros;
        if (neg && !zero)
            dbuf_putc(out, '-');
        if (total <= frac) {
            dbuf_putc(out, '0');
            if (frac)
                dbuf_putc(out, '.');
            for (long i = total; i < frac; i++)
                dbuf_putc(out, '0');
        }
        for (long i = 0; i < total; i++) {
            if (i == total - frac && total > frac)
                dbuf_putc(out, '.');
            dbuf_putc(out, (size_t)i < len ? dig[i] : '0');
        }
    }
    if (d != small)
        free(d);
    return rc;
}

/* ---- Decimal: big-endian two's complement unscaled value + scale ---- */

/* PostgreSQL numeric holds at most 131072 digits before the point and 16383
 * after; 64 KiB of magnitude is beyond that, so larger input is malformed
 * (and would make the quadratic conversion below a denial of service). */
#define DEC_MAX_BYTES 65536

int dfmt_decimal(cdc_buf_t *out, const uint8_t *b, size_t n, int scale)
{
    /* PostgreSQL numeric scales lie within +-16383; a larger one (a
     * VariableScaleDecimal carries it in the data) would only make us write
     * megabytes of zeros. */
    if (n > DEC_MAX_BYTES || scale > 16383 || scale < -16383)
        return -1;
    bool neg = n > 0 && (b[0] & 0x80);
    /* Magnitude as little-endian 32-bit limbs. */
    size_t nl = (n + 3) / 4;
    uint32_t small[16];
    uint32_t *limb = nl <= 16 ? small : malloc(nl * sizeof(uint32_t));
    if (!limb)
        return -1;
    for (size_t i = 0; i < nl; i++)
        limb[i] = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t byte = b[n - 1 - i];
        limb[i / 4] |= (uint32_t)byte << (8 * (i % 4));
    }
    if (neg) {
        /* Sign-extend the top limb, then negate (invert and add one). */
        if (n % 4)
            limb[nl - 1] |= 0xffffffffu << (8 * (n % 4));
        uint64_t carry = 1;
        for (size_t i = 0; i < nl; i++) {
            uint64_t v = (uint64_t)(uint32_t)~limb[i] + carry;
            limb[i] = (uint32_t)v;
            carry = v >> 32;
        }
    }
    /* Repeated division by 10^9 yields 9-digit groups, least significant
     * first. */
    cdc_buf_t dig = CDC_BUF_INIT;
    char dig_small[256];
    if (nl <= 16) {
        /* <= 64 bytes: at most 18 groups of 9 digits, well inside the stack
         * buffer, so cdc_buf never reallocates it */
        dig.data = dig_small;
        dig.cap = sizeof(dig_small);
    }
    size_t top = nl;
    while (top > 0 && limb[top - 1] == 0)
        top--;
    while (top > 0) {
        uint64_t rem = 0;
        for (size_t i = top; i-- > 0;) {
            uint64_t cur = (rem << 32) | limb[i];
            limb[i] = (uint32_t)(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        while (top > 0 && limb[top - 1] == 0)
            top--;
        char grp[10];
        for (int k = 0; k < 9; k++) {
            grp[k] = (char)('0' + rem % 10);
            rem /= 10;
        }
        /* Digits are appended reversed; the final string is flipped. */
        dbuf_append(&dig, grp, 9);
    }
    if (limb != small)
        free(limb);
    /* dig holds reversed digits with leading zeros at the end. */
    size_t nd = dig.len;
    while (nd > 0 && dig.data[nd - 1] == '0')
        nd--;
    if (nd == 0) {
        neg = false;
        cdc_buf_reset(&dig);
        dbuf_putc(&dig, '0');
        nd = 1;
    }
    if (neg)
        dbuf_putc(out, '-');
    if (scale <= 0) {
        for (size_t i = nd; i-- > 0;)
            dbuf_putc(out, dig.data[i]);
        if (!(nd == 1 && dig.data[0] == '0'))
            for (int k = 0; k < -scale; k++)
                dbuf_putc(out, '0');
    } else {
        size_t sc = (size_t)scale;
        if (nd <= sc) {
            dbuf_append(out, "0.", 2);
            for (size_t k = nd; k < sc; k++)
                dbuf_putc(out, '0');
            for (size_t i = nd; i-- > 0;)
                dbuf_putc(out, dig.data[i]);
        } else {
            for (size_t i = nd; i-- > 0;) {
                dbuf_putc(out, dig.data[i]);
                if (i == sc)
                    dbuf_putc(out, '.');
            }
        }
    }
    if (dig.data != dig_small)
        cdc_buf_free(&dig);
    return 0;
}

/* ---- digits without printf (this is the per-column hot path) ---- */

static void put_u(cdc_buf_t *out, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width)
        tmp[n++] = '0';
    char *w = dbuf_room(out, (size_t)n);
    for (int i = 0; i < n; i++)
        w[i] = tmp[n - 1 - i];
    dbuf_commit(out, (size_t)n);
}

static void put_2(cdc_buf_t *out, char sep, int64_t v)
{
    char *w = dbuf_room(out, 3);
    w[0] = sep;
    w[1] = (char)('0' + v / 10 % 10);
    w[2] = (char)('0' + v % 10);
    dbuf_commit(out, 3);
}

/* ---- dates and times ---- */

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* Proleptic Gregorian civil date from days since 1970-01-01 (both Java's
 * LocalDate and PostgreSQL use the proleptic calendar, so no Julian switch
 * in 1582). */
static void civil(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = floordiv(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* PostgreSQL has no year 0: astronomical year 0 is 1 BC, -1 is 2 BC. */
static bool put_ymd(cdc_buf_t *out, int64_t days)
{
    int64_t y;
    int m, d;
    civil(days, &y, &m, &d);
    bool bc = y <= 0;
    put_u(out, (uint64_t)(bc ? 1 - y : y), 4);
    put_2(out, '-', m);
    put_2(out, '-', d);
    return bc;
}

static void put_frac(cdc_buf_t *out, int64_t frac, int digits)
{
    if (frac == 0 || digits == 0)
        return;
    char tmp[16];
    tmp[0] = '.';
    for (int i = digits; i >= 1; i--) {
        tmp[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    size_t n = (size_t)digits + 1;
    while (n > 1 && tmp[n - 1] == '0')
        n--;
    dbuf_append(out, tmp, n);
}

/* Split v into floor(v / unit) and a non-negative remainder without the
 * overflow of v - q * unit at the ends of the int64 range. */
static void split_unit(int64_t v, int64_t unit, int64_t *q, int64_t *r)
{
    *q = v / unit;
    *r = v % unit;
    if (*r < 0) {
        *q -= 1;
        *r += unit;
    }
}

static int64_t unit_of(int digits)
{
    return digits == 3 ? 1000 : digits == 6 ? 1000000 : digits == 9 ? 1000000000 : 1;
}

void dfmt_date(cdc_buf_t *out, int64_t days)
{
    if (put_ymd(out, days))
        dbuf_append(out, " BC", 3);
}

void dfmt_time(cdc_buf_t *out, int64_t v, int digits)
{
    /* MySQL's TIME is a signed duration (-838:59:59 .. 838:59:59) that
     * Debezium sends as a negative MicroTime: "-HH:MM:SS.f" of the
     * magnitude, as PostgreSQL's interval reads and prints it. */
    uint64_t unit = (uint64_t)unit_of(digits),
             mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t secs = mag / unit;
    int64_t frac = (int64_t)(mag % unit);
    if (v < 0)
        dbuf_putc(out, '-');
    /* 24:00:00 is a valid PostgreSQL time and Debezium sends it as
     * 86400 s, so hours are not wrapped. */
    if (secs >= 100 * 3600) {
        cdc_buf_printf(out, "%02llu:%02llu:%02llu", (unsigned long long)(secs / 3600),
                       (unsigned long long)(secs / 60 % 60), (unsigned long long)(secs % 60));
    } else {
        put_u(out, secs / 3600, 2);
        put_2(out, ':', (int64_t)(secs / 60 % 60));
        put_2(out, ':', (int64_t)(secs % 60));
    }
    put_frac(out, frac, digits);
}

void dfmt_timestamp(cdc_buf_t *out, int64_t v, int digits)
{
    int64_t secs, frac, days, sod;
    split_unit(v, unit_of(digits), &secs, &frac);
    split_unit(secs, 86400, &days, &sod);
    bool bc = put_ymd(out, days);
    put_2(out, ' ', sod / 3600);
    put_2(out, ':', sod / 60 % 60);
    put_2(out, ':', sod % 60);
    put_frac(out, frac, digits);
    if (bc)
        dbuf_append(out, " BC", 3);
}

/* MicroDuration is an approximate microsecond count (months were turned
 * into 30.4375 days by Debezium), so the months cannot be recovered; an
 * "H:MM:SS.ffffff" interval is exact for the count itself and, unlike
 * 'N microseconds', does not overflow older PostgreSQL's int32 field
 * parsing. */
void dfmt_duration_us(cdc_buf_t *out, int64_t us)
{
    uint64_t a = us < 0 ? (uint64_t)0 - (uint64_t)us : (uint64_t)us;
    uint64_t secs = a / 1000000, frac = a % 1000000;
    cdc_buf_printf(out, "%s%llu:%02llu:%02llu", us < 0 ? "-" : "",
                   (unsigned long long)(secs / 3600), (unsigned long long)(secs / 60 % 60),
                   (unsigned long long)(secs % 60));
    put_frac(out, (int64_t)frac, 6);
}

/* ZonedTimestamp / ZonedTime: ISO-8601 normalized to UTC ("...T13:37:03Z",
 * 0-9 fraction digits). PostgreSQL reads "YYYY-MM-DD HH:MM:SS.f+00"
 * exactly; 'T' and 'Z' are replaced so the literal is also what psql shows.
 * Java writes years beyond 9999 as "+10000-..." and years before 1 as
 * "-0001-..." (astronomical), which PostgreSQL spells "0002-... BC". */
int dfmt_zoned(cdc_buf_t *out, const char *s, size_t n)
{
    if ((n == 8 && memcmp(s, "infinity", 8) == 0) || (n == 9 && memcmp(s, "-infinity", 9) == 0)) {
        dbuf_append(out, s, n);
        return 0;
    }
    bool bc = false;
    size_t i = 0;
    if (n > 0 && (s[0] == '+' || s[0] == '-') && n > 5 && memchr(s, 'T', n)) {
        if (s[0] == '-') {
            char *end;
            long long y = strtoll(s + 1, &end, 10);
            if (end == s + 1 || *end != '-')
                return -1;
            cdc_buf_printf(out, "%04lld", y + 1);
            i = (size_t)(end - s);
            bc = true;
        } else {
            i = 1;
        }
    }
    /* One reservation for the whole literal ('Z' becomes "+00"). */
    char *w = dbuf_room(out, n - i + 2);
    size_t k = 0;
    for (; i < n; i++) {
        char ch = s[i];
        if (ch == 'T') {
            w[k++] = ' ';
        } else if (ch == 'Z' && i == n - 1) {
            w[k++] = '+';
            w[k++] = '0';
            w[k++] = '0';
        } else {
            w[k++] = ch;
        }
    }
    dbuf_commit(out, k);
    if (bc)
        dbuf_append(out, " BC", 3);
    return 0;
}

/* ---- numbers ---- */

void dfmt_int(cdc_buf_t *out, int64_t v)
{
    if (v < 0) {
        dbuf_putc(out, '-');
        put_u(out, (uint64_t)0 - (uint64_t)v, 1);
    } else {
        put_u(out, (uint64_t)v, 1);
    }
}

/* Shortest text that reads back to the same double: what float8out prints
 * with extra_float_digits=1 and what the digests compare. */
void dfmt_double(cdc_buf_t *out, double d)
{
    if (isnan(d)) {
        dbuf_append(out, "NaN", 3);
        return;
    }
    if (isinf(d)) {
        cdc_buf_puts(out, d < 0 ? "-Infinity" : "Infinity");
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    cdc_buf_puts(out, tmp);
}

void dfmt_float(cdc_buf_t *out, float f)
{
    if (isnan(f) || isinf(f)) {
        dfmt_double(out, (double)f);
        return;
    }
    char tmp[40];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, (double)f);
        if (strtof(tmp, NULL) == f)
            break;
    }
    cdc_buf_puts(out, tmp);
}

/* ---- binary ---- */

void dfmt_bytea(cdc_buf_t *out, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    cdc_buf_reserve(out, 2 + 2 * n);
    char *w = out->data + out->len;
    *w++ = '\\';
    *w++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *w++ = hex[p[i] >> 4];
        *w++ = hex[p[i] & 15];
    }
    out->len += 2 + 2 * n;
    out->data[out->len] = '\0';
}

/* io.debezium.data.Bits comes from java.util.BitSet.toByteArray(): bit i of
 * the value is bit (i % 8) of byte (i / 8). PostgreSQL writes the bit with
 * the highest index first ('100' is bit 2 set), so we walk downwards. */
void dfmt_bits(cdc_buf_t *out, const uint8_t *p, size_t n, int64_t length)
{
    int64_t nbits = length >= 0 ? length : (int64_t)n * 8;
    if (length < 0) {
        /* No declared length: drop leading zero bits but keep one digit. */
        while (nbits > 1) {
            int64_t i = nbits - 1;
            if ((size_t)(i / 8) < n && (p[i / 8] >> (i % 8)) & 1)
                break;
            nbits--;
        }
    }
    for (int64_t i = nbits - 1; i >= 0; i--) {
        int bit = (size_t)(i / 8) < n ? (p[i / 8] >> (i % 8)) & 1 : 0;
        dbuf_putc(out, bit ? '1' : '0');
    }
}

/* PostGIS reads hex (E)WKB. The SRID travels separately in the Debezium
 * struct, so it is folded back into an EWKB header (flag 0x20000000 and the
 * 4-byte SRID after the type, in the WKB's own byte order). */
void dfmt_geometry(cdc_buf_t *out, const uint8_t *wkb, size_t n, bool has_srid, int64_t srid)
{
    static const char hex[] = "0123456789ABCDEF";
    uint8_t hdr[9];
    size_t skip = 0;
    if (has_srid && n >= 5 && (wkb[0] == 0 || wkb[0] == 1)) {
        bool le = wkb[0] == 1;
        uint32_t type = le ? (uint32_t)wkb[1] | (uint32_t)wkb[2] << 8 | (uint32_t)wkb[3] << 16 |
                                 (uint32_t)wkb[4] << 24
                           : (uint32_t)wkb[4] | (uint32_t)wkb[3] << 8 | (uint32_t)wkb[2] << 16 |
                                 (uint32_t)wkb[1] << 24;
        if (!(type & 0x20000000u)) {
            type |= 0x20000000u;
            uint32_t sr = (uint32_t)srid;
            hdr[0] = wkb[0];
            for (int k = 0; k < 4; k++) {
                hdr[1 + k] = (uint8_t)(le ? type >> (8 * k) : type >> (8 * (3 - k)));
                hdr[5 + k] = (uint8_t)(le ? sr >> (8 * k) : sr >> (8 * (3 - k)));
            }
            for (int k = 0; k < 9; k++) {
                dbuf_putc(out, hex[hdr[k] >> 4]);
                dbuf_putc(out, hex[hdr[k] & 15]);
            }
            skip = 5;
        }
    }
    for (size_t i = skip; i < n; i++) {
        dbuf_putc(out, hex[wkb[i] >> 4]);
        dbuf_putc(out, hex[wkb[i] & 15]);
    }
}

void dfmt_point(cdc_buf_t *out, double x, double y)
{
    dbuf_putc(out, '(');
    dfmt_double(out, x);
    dbuf_putc(out, ',');
    dfmt_double(out, y);
    dbuf_putc(out, ')');
}

/* ---- composite literals ---- */

void dfmt_array_elem(cdc_buf_t *out, const char *s, size_t n, bool raw)
{
    if (raw) {
        dbuf_append(out, s, n);
        return;
    }
    bool quote = n == 0 || (n == 4 && strncasecmp(s, "NULL", 4) == 0);
    for (size_t i = 0; i < n && !quote; i++) {
        char ch = s[i];
        if (ch == '"' || ch == '\\' || ch == '{' || ch == '}' || ch == ',' || ch == ' ' ||
            ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f')
            quote = true;
    }
    if (!quote) {
        dbuf_append(out, s, n);
        return;
    }
    dfmt_hstore_str(out, s, n); /* the same quoting: "..." with \" and \\ */
}

void dfmt_hstore_str(cdc_buf_t *out, const char *s, size_t n)
{
    dbuf_putc(out, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            dbuf_putc(out, '\\');
        dbuf_putc(out, s[i]);
    }
    dbuf_putc(out, '"');
}

void dfmt_json_str(cdc_buf_t *out, const char *s, size_t n)
{
    dbuf_putc(out, '"');
    size_t run = 0; /* bytes that go as they are, appended in one piece */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch != '"' && ch != '\\' && ch >= 0x20)
            continue;
        dbuf_append(out, s + run, i - run);
        if (ch < 0x20)
            cdc_buf_printf(out, "\\u%04x", ch);
        else {
            dbuf_putc(out, '\\');
            dbuf_putc(out, (char)ch);
        }
        run = i + 1;
    }
    dbuf_append(out, s + run, n - run);
    dbuf_putc(out, '"');
}

void dfmt_struct_field(cdc_buf_t *out, size_t i, const char *name, const cdc_buf_t *val,
                       bool isnull)
{
    cdc_buf_printf(out, "%s\"%s\":", i ? "," : "", name);
    if (isnull)
        cdc_buf_puts(out, "null");
    else
        dfmt_json_str(out, val->data ? val->data : "", val->len);
}

void dfmt_block_elem(cdc_buf_t *out, size_t idx, bool is_map, bool raw, const char *key, size_t kn,
                     const cdc_buf_t *val, bool isnull)
{
    if (idx)
        cdc_buf_puts(out, is_map ? ", " : ",");
    if (is_map) {
        dfmt_hstore_str(out, key ? key : "", key ? kn : 0);
        cdc_buf_puts(out, "=>");
        if (isnull)
            cdc_buf_puts(out, "NULL");
        else
            dfmt_hstore_str(out, val->data ? val->data : "", val->len);
    } else if (isnull) {
        cdc_buf_puts(out, "NULL");
    } else {
        dfmt_array_elem(out, val->data ? val->data : "", val->len, raw);
    }
}

/* ---- semantic dispatch ---- */

int dsem_field(const char *name)
{
    static const char *const names[DSF_N] = {"scale", "value", "wkb", "srid", "x", "y"};
    for (int i = 0; i < DSF_N; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return DSF_N;
}

int dfmt_sem_struct(cdc_buf_t *out, const dsch_t *s, dsem_member_cb *member, void *arg,
                    size_t *value_n)
{
    dsem_scal_t v[DSF_N + 1]; /* the last: a field that is no member */
    for (int k = 0; k <= DSF_N; k++)
        v[k] = (dsem_scal_t){.isnull = true};
    for (size_t i = 0; i < s->nfields; i++)
        if (member(arg, i, &v[dsem_field(s->fields[i].name)]) != 0)
            return -1;
    const dsem_scal_t *scale = &v[DSF_SCALE], *value = &v[DSF_VALUE], *wkb = &v[DSF_WKB],
                      *srid = &v[DSF_SRID];
    *value_n = value->n;
    switch (s->sem) {
    case SEM_VSDECIMAL:
        if (scale->isnull || value->isnull)
            return DSEM_NULLS;
        if (dfmt_decimal(out, value->b, value->n, (int)scale->i) != 0)
            return DSEM_RANGE;
        return 0;
    case SEM_POINT: dfmt_point(out, v[DSF_X].d, v[DSF_Y].d); return 0;
    default: dfmt_geometry(out, wkb->b, wkb->n, !srid->isnull, srid->i); return 0;
    }
}

int dfmt_struct_json(cdc_buf_t *out, const dsch_t *s, dfmt_field_cb *field, void *arg)
{
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = 0;
    cdc_buf_putc(out, '{');
    for (size_t i = 0; i < s->nfields && rc == 0; i++) {
        bool isnull = false;
        cdc_buf_reset(&tmp);
        rc = field(arg, i, &tmp, &isnull);
        if (rc == 0)
            dfmt_struct_field(out, i, s->fields[i].name, &tmp, isnull);
    }
    cdc_buf_putc(out, '}');
    cdc_buf_free(&tmp);
    return rc;
}

void dfmt_int_sem(cdc_buf_t *out, dsem_t sem, int64_t v)
{
    switch (sem) {
    case SEM_DATE:
    case SEM_CDATE: dfmt_date(out, v); break;
    case SEM_TIME:
    case SEM_CTIME: dfmt_time(out, v, 3); break;
    case SEM_MICROTIME: dfmt_time(out, v, 6); break;
    case SEM_NANOTIME: dfmt_time(out, v, 9); break;
    case SEM_TIMESTAMP:
    case SEM_CTS: dfmt_timestamp(out, v, 3); break;
    case SEM_MICROTS: dfmt_timestamp(out, v, 6); break;
    case SEM_NANOTS: dfmt_timestamp(out, v, 9); break;
    case SEM_MICRODURATION: dfmt_duration_us(out, v); break;
    default: dfmt_int(out, v); break;
    }
}

void dfmt_str_sem(cdc_buf_t *out, dsem_t sem, const char *s, size_t n)
{
    if ((sem == SEM_ZONEDTS || sem == SEM_ZONEDTIME) && dfmt_zoned(out, s, n) == 0)
        return;
    dbuf_append(out, s, n);
}

int dfmt_bytes_sem(cdc_buf_t *out, const dsch_t *s, const uint8_t *p, size_t n)
{
    if (s && s->sem == SEM_DECIMAL)
        return dfmt_decimal(out, p, n, s->has_scale ? s->scale : 0);
    if (s && s->sem == SEM_BITS) {
        dfmt_bits(out, p, n, s->bits_len);
        return 0;
    }
    dfmt_bytea(out, p, n);
    return 0;
}

/* which: 0 = first typmod number (precision), 1 = second (scale). */
int dpg_typmod(const char *pg, int which)
{
    if (!pg)
        return -1;
    const char *lp = strchr(pg, '(');
    if (!lp)
        return -1;
    char *end;
    long a = strtol(lp + 1, &end, 10);
    if (end == lp + 1)
        return -1;
    if (which == 0)
        return (int)a;
    if (*end != ',')
        return -1;
    const char *q = end + 1;
    while (*q == ' ')
        q++;
    long b = strtol(q, &end, 10);
    if (end == q)
        return -1;
    return (int)b;
}
