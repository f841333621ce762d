/*
 * Payloads of the scalar kinds parsed from their text: exact decimals
 * (integers, numeric; also json numbers), floats as their double's
 * shortest round-trip, bool, uuid and bytea.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "canon_int.h"

/* ---- numbers ---------------------------------------------------------- */

/* Exact decimal normalisation, no floating point: value = 0.D x 10^P. */
int canon_decimal(span_t s, cdc_buf_t *out)
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
void canon_put_double(cdc_buf_t *out, double v)
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

int canon_float(span_t s, bool is_float4, cdc_buf_t *out)
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
    canon_put_double(out, v);
    return 0;
}
/* ---- small kinds ------------------------------------------------------ */

int canon_bool(span_t s, cdc_buf_t *out)
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

int canon_uuid(span_t s, cdc_buf_t *out)
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
int canon_bytea(span_t s, cdc_buf_t *out)
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
