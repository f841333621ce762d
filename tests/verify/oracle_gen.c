/*
 * Value generators of the cdc-verify oracle test: see oracle_gen.h.
 */
#include "oracle_gen.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ofeat_names[FT_N] = {
    "ints",   "numeric",   "float",    "text",   "qchar",   "bytea",  "bool",
    "uuid",   "time",      "interval", "json",   "jsonb",   "jsonx",  "array",
    "domain", "composite", "range",    "enum",   "collide", "icu",    "citext",
    "widen",  "keyless",   "respell",  "repair", "where",   "keydup", "alltables",
};

const ocoltype_t ocoltypes[G_N] = {
    {G_INT2, FT_INTS, "integer", "int2", "int2"},
    {G_INT4, FT_INTS, "integer", "int4", "int4"},
    {G_INT8, FT_INTS, "integer", "int8", "int8"},
    {G_NUM, FT_NUMERIC, "numeric", "numeric", "numeric"},
    {G_NUM3, FT_NUMERIC, "numeric", "numeric(12,3)", "numeric(12,3)"},
    {G_FLOAT4, FT_FLOAT, "float", "float4", "float4"},
    {G_FLOAT8, FT_FLOAT, "float", "float8", "float8"},
    {G_TEXT, FT_TEXT, "text", "text", "text"},
    {G_VARCHAR, FT_TEXT, "text", "varchar(20)", "varchar(20)"},
    {G_CHARN, FT_TEXT, "char(n)", "char(6)", "char(6)"},
    {G_QCHAR, FT_QCHAR, "\"char\"", "\"char\"", "\"char\""},
    {G_BYTEA, FT_BYTEA, "bytea", "bytea", "bytea"},
    {G_BOOL, FT_BOOL, "bool", "bool", "bool"},
    {G_UUID, FT_UUID, "uuid", "uuid", "uuid"},
    {G_DATE, FT_TIME, "datetime", "date", "date"},
    {G_TIME, FT_TIME, "datetime", "time", "time"},
    {G_TIMETZ, FT_TIME, "timetz", "timetz", "timetz"},
    {G_TS, FT_TIME, "datetime", "timestamp", "timestamp"},
    {G_TSTZ, FT_TIME, "datetime", "timestamptz", "timestamptz"},
    {G_INTERVAL, FT_INTERVAL, "interval", "interval", "interval"},
    {G_JSON, FT_JSON, "json", "json", "json"},
    {G_JSONB, FT_JSONB, "jsonb", "jsonb", "jsonb"},
    {G_JSONX, FT_JSONX, "json", "json", "json"},
    {G_JSONBX, FT_JSONX, "jsonb", "jsonb", "jsonb"},
    {G_ARR_INT, FT_ARRAY, "array", "int4[]", "int4[]"},
    {G_ARR_TEXT, FT_ARRAY, "array", "text[]", "text[]"},
    {G_ARR_NUM, FT_ARRAY, "array", "numeric[]", "numeric[]"},
    {G_DOM, FT_DOMAIN, "domain", "ora_dom", "ora_dom"},
    {G_DOM2, FT_DOMAIN, "domain", "ora_dom2", "ora_dom2"},
    {G_COMP, FT_COMPOSITE, "composite", "ora_pair", "ora_pair"},
    {G_NUMRANGE, FT_RANGE, "range", "numrange", "numrange"},
    {G_TSTZRANGE, FT_RANGE, "range", "tstzrange", "tstzrange"},
    {G_ENUM, FT_ENUM, "enum", "ora_mood", "ora_mood"},
    {G_COLLIDE, FT_COLLIDE, "composite", "public.numeric", "public.numeric"},
    {G_ICU, FT_ICU, "icu", "text COLLATE ora_ci", "text COLLATE ora_ci"},
    {G_CITEXT, FT_CITEXT, "citext", "citext", "citext"},
    {G_W_INT, FT_WIDEN, "widen", "int4", "int8"},
    {G_W_FLOAT, FT_WIDEN, "widen-float", "float4", "float8"},
    {G_W_NUM, FT_WIDEN, "widen", "numeric(12,3)", "numeric"},
    {G_W_VARCHAR, FT_WIDEN, "widen", "varchar(20)", "text"},
};

/* A composite named like a built-in (public.numeric) and an enum whose
 * labels are not in byte order. */
const char *const ogen_types_sql =
    "CREATE DOMAIN public.ora_dom AS numeric CHECK (VALUE <> 13);"
    "CREATE DOMAIN public.ora_dom2 AS public.ora_dom CHECK (VALUE <> 14);"
    "CREATE TYPE public.ora_pair AS (n numeric, t text);"
    "CREATE TYPE public.ora_mood AS ENUM ('sad', 'ok', 'happy', 'Zed', 'élan');"
    "CREATE TYPE public.numeric AS (a int4, b text);";

uint64_t ogen_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct rng {
    uint64_t s;
} rng_t;

static uint64_t rnext(rng_t *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    return ogen_mix(r->s);
}

static int rn(rng_t *r, int n)
{
    return (int)(rnext(r) % (uint64_t)n);
}

void ogen_quote(cdc_buf_t *out, const char *s)
{
    cdc_buf_putc(out, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            cdc_buf_putc(out, '\'');
        cdc_buf_putc(out, *s);
    }
    cdc_buf_putc(out, '\'');
}

/* Pieces of text, each at most 2 characters: ASCII, escapes' favourites,
 * non-ASCII, astral, words that look like NULL. */
static const char *const pieces[] = {"a",  "Z",   "é",  "ß",  "日本", "\\", "'",  "\"", "\t",
                                     "\n", " ",   "{",  "}",  ",",    "NU", "LL", "😀",  "\r",
                                     "0",  "x y", "()", "[]", "\\N",  "ab", "Ω"};
#define NPIECES (sizeof pieces / sizeof pieces[0])

static void gen_text(cdc_buf_t *t, rng_t *r, int maxpieces)
{
    int n = rn(r, maxpieces + 1);
    for (int i = 0; i < n; i++) {
        const char *p = pieces[rn(r, (int)NPIECES)];
        /* "x y" is 3 characters: keep the 2-character promise */
        cdc_buf_puts(t, strcmp(p, "x y") == 0 ? "xy" : p);
    }
}

static void put_text_lit(cdc_buf_t *out, rng_t *r, int maxpieces)
{
    cdc_buf_t t = CDC_BUF_INIT;
    cdc_buf_puts(&t, "");
    gen_text(&t, r, maxpieces);
    ogen_quote(out, t.data ? t.data : "");
    cdc_buf_free(&t);
}

/* A decimal string: sign, up to @p ip integer digits, @p maxscale decimals. */
static void gen_decimal(cdc_buf_t *o, rng_t *r, int ip, int maxscale, int spelling)
{
    if (rn(r, 3) == 0)
        cdc_buf_putc(o, '-');
    int nd = 1 + rn(r, ip);
    for (int i = 0; i < nd; i++)
        cdc_buf_putc(o, (char)('0' + (i == 0 && nd > 1 ? 1 + rn(r, 9) : rn(r, 10))));
    int sc = rn(r, maxscale + 1);
    if (sc || spelling)
        cdc_buf_putc(o, '.');
    for (int i = 0; i < sc; i++)
        cdc_buf_putc(o, (char)('0' + rn(r, 10)));
    if (spelling) /* 1.5 and 1.500: equal numerics, different scales */
        cdc_buf_puts(o, "00");
}

static void gen_numeric(cdc_buf_t *o, rng_t *r, int spelling, bool specials)
{
    cdc_buf_t t = CDC_BUF_INIT;
    int k = rn(r, 12);
    if (specials && k == 0)
        cdc_buf_puts(&t, (const char *[]){"NaN", "Infinity", "-Infinity"}[rn(r, 3)]);
    else if (specials && k == 1)
        cdc_buf_printf(&t, "1%0100d", 0); /* 1e100 written out */
    else if (specials && k == 2)
        cdc_buf_puts(&t, spelling ? "0.00000000000000000000100" : "0.000000000000000000001");
    else if (k == 3)
        cdc_buf_puts(&t, spelling ? "-0.000" : "0");
    else
        gen_decimal(&t, r, specials ? 20 : 9, specials ? 6 : 3, spelling);
    ogen_quote(o, t.data);
    cdc_buf_free(&t);
}

static void gen_float(cdc_buf_t *o, rng_t *r, bool f4, int spelling)
{
    static const char *const f8[] = {"0",
                                     "-0",
                                     "NaN",
                                     "Infinity",
                                     "-Infinity",
                                     "1.5",
                                     "0.1",
                                     "5e-324",
                                     "1.7976931348623157e308",
                                     "2.2250738585072014e-308",
                                     "-123.456"};
    static const char *const f4s[] = {"0",       "-0",  "NaN",   "Infinity",     "-Infinity",
                                      "1.5",     "0.1", "1e-45", "3.4028235e38", "1.1754944e-38",
                                      "-123.456"};
    char b[64];
    int k = rn(r, 16);
    if (k < 11) {
        const char *v = f4 ? f4s[k] : f8[k];
        if (spelling && strcmp(v, "0") == 0)
            v = "-0"; /* PostgreSQL: -0 = 0 */
        else if (spelling && strcmp(v, "-0") == 0)
            v = "0";
        else if (spelling && strcmp(v, "1.5") == 0)
            v = "15e-1";
        snprintf(b, sizeof b, "%s", v);
    } else if (f4) {
        uint32_t bits = (uint32_t)rnext(r);
        float f;
        memcpy(&f, &bits, sizeof f);
        if (f != f || f - f != 0)
            f = 2.5f;
        snprintf(b, sizeof b, spelling ? "%.9e" : "%.9g", (double)f);
    } else {
        uint64_t bits = rnext(r);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (d != d || d - d != 0)
            d = -7.25;
        snprintf(b, sizeof b, spelling ? "%.17e" : "%.17g", d);
    }
    ogen_quote(o, b);
}

/* JSON: objects (duplicate keys sometimes), arrays, strings with escapes,
 * numbers. spelling 1: spaces, reversed key order, 1 -> 1.0. x: extremes. */
static void gen_json(cdc_buf_t *o, rng_t *r, int depth, int spelling, bool x, bool jsonb)
{
    static const char *const strs[] = {
        "\"\"",  "\"a\"", "\"\\\"q\\\"\"",      "\"\\\\\"", "\"\\n\\t\"", "\"\\u00e9\"",
        "\"é\"", "\"😀\"", "\"\\ud83d\\ude00\"", "\"NULL\"", "\"\\/\""};
    static const char *const xnums[] = {"9007199254740993",
                                        "9007199254740992",
                                        "1e-400",
                                        "2e-400",
                                        "1e309",
                                        "-1e309",
                                        "123456789012345678901234567890",
                                        "123456789012345678901234567891",
                                        "0.1",
                                        "0.10000000000000001",
                                        "1E2",
                                        "-0"};
    int k = rn(r, depth > 2 ? 6 : 9);
    if (x && rn(r, 12) == 0 && depth == 0) { /* deep nesting */
        int d = 200 + rn(r, 300);
        for (int i = 0; i < d; i++)
            cdc_buf_putc(o, '[');
        cdc_buf_putc(o, spelling && !jsonb ? ' ' : '1');
        if (spelling && !jsonb)
            cdc_buf_putc(o, '1');
        for (int i = 0; i < d; i++)
            cdc_buf_putc(o, ']');
        return;
    }
    switch (k) {
    case 0: cdc_buf_puts(o, "null"); break;
    case 1: cdc_buf_puts(o, rn(r, 2) ? "true" : "false"); break;
    case 2: {
        int v = rn(r, 2001) - 1000;
        cdc_buf_printf(o, spelling && v % 3 == 0 ? "%d.0" : "%d", v);
        break;
    }
    case 3:
        if (x) {
            const char *n = xnums[rn(r, (int)(sizeof xnums / sizeof xnums[0]))];
            if (spelling && strcmp(n, "1E2") == 0)
                n = "100";
            cdc_buf_puts(o, n);
        } else {
            cdc_buf_printf(o, "%d.%d", rn(r, 100), rn(r, 100));
        }
        break;
    case 4:
        if (x && !jsonb && rn(r, 3) == 0) /* only json keeps these */
            cdc_buf_puts(o, rn(r, 2) ? "\"a\\u0000b\"" : "\"\\ud800x\"");
        else
            cdc_buf_puts(o, strs[rn(r, (int)(sizeof strs / sizeof strs[0]))]);
        break;
    case 5: cdc_buf_printf(o, "\"s%d\"", rn(r, 50)); break;
    case 6:
    case 7: {
        int n = rn(r, 4);
        cdc_buf_putc(o, '[');
        for (int i = 0; i < n; i++) {
            if (i)
                cdc_buf_puts(o, spelling ? " , " : ",");
            gen_json(o, r, depth + 1, spelling, x, jsonb);
        }
        cdc_buf_putc(o, ']');
        break;
    }
    default: {
        int n = rn(r, 4);
        /* generate members first, render in order or reversed */
        cdc_buf_t m[4] = {CDC_BUF_INIT, CDC_BUF_INIT, CDC_BUF_INIT, CDC_BUF_INIT};
        for (int i = 0; i < n; i++) {
            /* duplicate keys only in json: jsonb keeps the last, which a
             * reordering would change */
            int key = jsonb || spelling ? i : rn(r, 4);
            cdc_buf_printf(&m[i], "\"k%d\"%s", key, spelling ? " : " : ":");
            gen_json(&m[i], r, depth + 1, spelling, x, jsonb);
        }
        cdc_buf_putc(o, '{');
        for (int j = 0; j < n; j++) {
            int i = spelling ? n - 1 - j : j;
            if (j)
                cdc_buf_puts(o, spelling ? ", " : ",");
            cdc_buf_append(o, m[i].data, m[i].len);
        }
        cdc_buf_putc(o, '}');
        for (int i = 0; i < 4; i++)
            cdc_buf_free(&m[i]);
        break;
    }
    }
}

/* An array element of text, quoted for an array literal. */
static void arr_text_elem(cdc_buf_t *o, rng_t *r)
{
    if (rn(r, 6) == 0) {
        cdc_buf_puts(o, "NULL");
        return;
    }
    if (rn(r, 8) == 0) {
        cdc_buf_puts(o, "\"NULL\"");
        return;
    }
    cdc_buf_t t = CDC_BUF_INIT;
    cdc_buf_puts(&t, "");
    gen_text(&t, r, 3);
    cdc_buf_putc(o, '"');
    for (size_t i = 0; i < t.len; i++) {
        if (t.data[i] == '"' || t.data[i] == '\\')
            cdc_buf_putc(o, '\\');
        cdc_buf_putc(o, t.data[i]);
    }
    cdc_buf_putc(o, '"');
    cdc_buf_free(&t);
}

static void arr_elem(cdc_buf_t *o, rng_t *r, ogen_t g, int spelling)
{
    if (g == G_ARR_TEXT) {
        arr_text_elem(o, r);
    } else if (rn(r, 6) == 0) {
        cdc_buf_puts(o, "NULL");
    } else if (g == G_ARR_INT) {
        cdc_buf_printf(o, spelling ? " %d " : "%d", rn(r, 2001) - 1000);
    } else {
        gen_decimal(o, r, 5, 3, spelling);
    }
}

static void gen_array(cdc_buf_t *o, rng_t *r, ogen_t g, int spelling)
{
    cdc_buf_t t = CDC_BUF_INIT;
    int shape = rn(r, 5);
    if (shape == 0) {
        cdc_buf_puts(&t, "{}");
    } else if (shape == 1) { /* 2 x n */
        int n = 1 + rn(r, 3);
        cdc_buf_putc(&t, '{');
        for (int a = 0; a < 2; a++) {
            cdc_buf_puts(&t, a ? ",{" : "{");
            for (int i = 0; i < n; i++) {
                if (i)
                    cdc_buf_putc(&t, ',');
                arr_elem(&t, r, g, spelling);
            }
            cdc_buf_putc(&t, '}');
        }
        cdc_buf_putc(&t, '}');
    } else {
        int n = 1 + rn(r, 4);
        if (shape == 2)
            cdc_buf_printf(&t, "[0:%d]=", n - 1);
        cdc_buf_putc(&t, '{');
        for (int i = 0; i < n; i++) {
            if (i)
                cdc_buf_putc(&t, ',');
            arr_elem(&t, r, g, spelling);
        }
        cdc_buf_putc(&t, '}');
    }
    ogen_quote(o, t.data);
    cdc_buf_free(&t);
}

static void gen_tstz_lit(cdc_buf_t *t, rng_t *r, int spelling)
{
    int mon = 1 + rn(r, 12), day = 1 + rn(r, 28), h = rn(r, 23), mi = rn(r, 60),
        us = rn(r, 1000000), y = 1950 + rn(r, 120);
    if (spelling) /* the same instant an hour east */
        cdc_buf_printf(t, "%04d-%02d-%02d %02d:%02d:07.%06d+01", y, mon, day, h + 1, mi, us);
    else
        cdc_buf_printf(t, "%04d-%02d-%02d %02d:%02d:07.%06d+00", y, mon, day, h, mi, us);
}

static void case_word(cdc_buf_t *o, rng_t *r, int spelling)
{
    static const char *const words[] = {"apple", "Berry", "straße", "ÉCOLE", "zeta", "Øre", "mix"};
    const char *w = words[rn(r, 7)];
    uint64_t mask = rnext(r);
    cdc_buf_t t = CDC_BUF_INIT;
    for (const char *p = w; *p; p++) {
        char c = *p;
        bool up = (mask >> (p - w)) & 1;
        if (spelling)
            up = !up;
        if (c >= 'a' && c <= 'z' && up)
            c = (char)(c - 32);
        else if (c >= 'A' && c <= 'Z' && !up)
            c = (char)(c + 32);
        cdc_buf_putc(&t, c);
    }
    cdc_buf_printf(&t, "%d", rn(r, 20));
    ogen_quote(o, t.data);
    cdc_buf_free(&t);
}

void ogen_value(cdc_buf_t *o, ogen_t g, uint64_t seed, int spelling)
{
    rng_t r = {seed};
    cdc_buf_t t = CDC_BUF_INIT;
    switch (g) {
    case G_INT2:
    case G_INT4:
    case G_INT8:
    case G_W_INT: {
        static const char *const ext[] = {"-32768",
                                          "32767",
                                          "-2147483648",
                                          "2147483647",
                                          "-9223372036854775808",
                                          "9223372036854775807"};
        int lim = g == G_INT2 ? 2 : g == G_INT8 ? 6 : 4;
        if (rn(&r, 5) == 0) {
            const char *e = ext[rn(&r, lim)];
            cdc_buf_printf(&t, spelling ? " %s " : "%s", e);
        } else {
            int v = rn(&r, 60001) - 30000;
            cdc_buf_printf(&t, spelling && v >= 0 ? "+%d" : "%d", v);
        }
        ogen_quote(o, t.data);
        break;
    }
    case G_NUM: gen_numeric(o, &r, spelling, true); break;
    case G_NUM3:
    case G_W_NUM: gen_numeric(o, &r, spelling, false); break;
    case G_DOM:
    case G_DOM2:
        gen_decimal(&t, &r, 6, 4, spelling);
        /* the domains' checks: never 13 or 14, however spelt ("13.0") */
        if (strtod(t.data, NULL) == 13 || strtod(t.data, NULL) == 14) {
            cdc_buf_reset(&t);
            cdc_buf_puts(&t, "13.5");
        }
        ogen_quote(o, t.data);
        break;
    case G_FLOAT4:
    case G_W_FLOAT: gen_float(o, &r, true, g == G_W_FLOAT ? 0 : spelling); break;
    case G_FLOAT8: gen_float(o, &r, false, spelling); break;
    case G_TEXT:
    case G_W_VARCHAR: put_text_lit(o, &r, 10); break;
    case G_VARCHAR: put_text_lit(o, &r, 10); break;
    case G_CHARN:
        gen_text(&t, &r, 3);
        cdc_buf_puts(&t, spelling ? "  " : ""); /* char(6) pads anyway */
        ogen_quote(o, t.data ? t.data : "");
        break;
    case G_QCHAR: {
        /* few values, so that a change often lands on ' ' vs '' (the
         * NUL "char"): different in PostgreSQL, both blank as char(n) */
        static const char *const qc[] = {"a", "\\351", "", " ", "é"};
        ogen_quote(o, qc[rn(&r, 5)]);
        break;
    }
    case G_BYTEA: {
        int n = rn(&r, 12);
        cdc_buf_puts(&t, spelling ? "" : "\\x");
        for (int i = 0; i < n; i++) {
            int b = rn(&r, 256);
            if (spelling)
                cdc_buf_printf(&t, "\\%03o", b);
            else
                cdc_buf_printf(&t, "%02x", b);
        }
        ogen_quote(o, t.data ? t.data : "");
        break;
    }
    case G_BOOL: {
        bool b = rn(&r, 2);
        cdc_buf_puts(o, spelling ? (b ? "'yes'" : "'no'") : (b ? "'t'" : "'f'"));
        break;
    }
    case G_UUID: {
        uint64_t a = rnext(&r), b = rnext(&r);
        cdc_buf_printf(
            &t,
            spelling ? "{%08" PRIX64 "-%04" PRIX64 "-%04" PRIX64 "-%04" PRIX64 "-%012" PRIX64 "}"
                     : "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
            a >> 32, (a >> 16) & 0xffff, a & 0xffff, b >> 48, b & (uint64_t)0xffffffffffff);
        ogen_quote(o, t.data);
        break;
    }
    case G_DATE: {
        int k = rn(&r, 10);
        if (k == 0)
            cdc_buf_puts(o, rn(&r, 2) ? "'infinity'" : "'-infinity'");
        else
            cdc_buf_printf(o, "(DATE '2000-01-01' + %d)", rn(&r, 1600001) - 800000);
        break;
    }
    case G_TIME:
        if (rn(&r, 12) == 0) {
            cdc_buf_puts(o, "'24:00:00'");
        } else {
            cdc_buf_printf(&t, "%02d:%02d:%02d.%06d", rn(&r, 24), rn(&r, 60), rn(&r, 60),
                           rn(&r, 1000000));
            ogen_quote(o, t.data);
        }
        break;
    case G_TIMETZ: {
        static const char *const off[] = {"+00:00", "+05:30", "-08:00", "+14:00", "-12:45"};
        cdc_buf_printf(&t, "%02d:%02d:%02d.%06d%s", rn(&r, 24), rn(&r, 60), rn(&r, 60),
                       rn(&r, 1000000), off[rn(&r, 5)]);
        ogen_quote(o, t.data);
        break;
    }
    case G_TS:
        if (rn(&r, 10) == 0) {
            cdc_buf_puts(o, (const char *[]){"'infinity'", "'-infinity'",
                                             "'0001-01-01 00:00 BC'"}[rn(&r, 3)]);
        } else {
            cdc_buf_printf(&t, "%04d-%02d-%02d%c%02d:%02d:%02d.%06d", 1900 + rn(&r, 200),
                           1 + rn(&r, 12), 1 + rn(&r, 28), spelling ? 'T' : ' ', rn(&r, 24),
                           rn(&r, 60), rn(&r, 60), rn(&r, 1000000));
            ogen_quote(o, t.data);
        }
        break;
    case G_TSTZ:
        if (rn(&r, 10) == 0) {
            cdc_buf_puts(o, rn(&r, 2) ? "'infinity'" : "'-infinity'");
        } else {
            gen_tstz_lit(&t, &r, spelling);
            ogen_quote(o, t.data);
        }
        break;
    case G_INTERVAL: {
        int mon = rn(&r, 61) - 30, day = rn(&r, 81) - 40;
        long long us = (long long)(rnext(&r) % 200000000000ull) - 100000000000ll;
        int how = rn(&r, 2);
        if (spelling && how == 0) /* '1 day' = '24 hours' */
            cdc_buf_printf(&t, "%d mons 0 days %d hours %lld microseconds", mon, day * 24, us);
        else if (spelling) /* '1 mon' = '30 days' */
            cdc_buf_printf(&t, "0 mons %d days %lld microseconds", mon * 30 + day, us);
        else
            cdc_buf_printf(&t, "%d mons %d days %lld microseconds", mon, day, us);
        ogen_quote(o, t.data);
        break;
    }
    case G_JSON:
    case G_JSONB:
    case G_JSONX:
    case G_JSONBX: {
        bool jsonb = g == G_JSONB || g == G_JSONBX;
        gen_json(&t, &r, 0, spelling, g == G_JSONX || g == G_JSONBX, jsonb);
        ogen_quote(o, t.data);
        break;
    }
    case G_ARR_INT:
    case G_ARR_TEXT:
    case G_ARR_NUM: gen_array(o, &r, g, spelling); break;
    case G_COMP:
        if (rn(&r, 8) == 0) {
            cdc_buf_puts(o, "ROW(NULL, NULL)::ora_pair");
        } else {
            cdc_buf_puts(o, "ROW(");
            gen_numeric(o, &r, spelling, false);
            cdc_buf_puts(o, "::numeric, ");
            put_text_lit(o, &r, 4);
            cdc_buf_puts(o, ")::ora_pair");
        }
        break;
    case G_COLLIDE:
        cdc_buf_printf(o, "ROW(%d, ", rn(&r, 2001) - 1000);
        put_text_lit(o, &r, 4);
        cdc_buf_puts(o, ")::public.numeric");
        break;
    case G_NUMRANGE: {
        int k = rn(&r, 6);
        if (k == 0) {
            cdc_buf_puts(o, "'empty'");
            break;
        }
        int a = rn(&r, 1000), b = a + 1 + rn(&r, 1000);
        const char *lb = rn(&r, 2) ? "[" : "(", *ub = rn(&r, 2) ? "]" : ")";
        const char *z = spelling ? "00" : "";
        if (k == 1)
            cdc_buf_printf(&t, "(,%d.%d%s%s", b, rn(&r, 10), z, ub);
        else if (k == 2)
            cdc_buf_printf(&t, "%s%d.5%s,)", lb, a, z);
        else
            cdc_buf_printf(&t, "%s%d.25%s,%d.5%s%s", lb, a, z, b, z, ub);
        ogen_quote(o, t.data);
        break;
    }
    case G_TSTZRANGE: {
        if (rn(&r, 6) == 0) {
            cdc_buf_puts(o, "'empty'");
            break;
        }
        /* bounds in order: the same year, lower in January */
        int h = rn(&r, 23), d = 1 + rn(&r, 28), y = 1990 + rn(&r, 50);
        cdc_buf_printf(&t, "%s\"%04d-01-%02d %02d:15:00%s\",\"%04d-06-%02d %02d:45:00%s\"%s",
                       rn(&r, 2) ? "[" : "(", y, d, spelling ? h + 1 : h, spelling ? "+01" : "+00",
                       y, d, spelling ? h + 1 : h, spelling ? "+01" : "+00", rn(&r, 2) ? "]" : ")");
        ogen_quote(o, t.data);
        break;
    }
    case G_ENUM:
        ogen_quote(o, (const char *[]){"sad", "ok", "happy", "Zed", "élan"}[rn(&r, 5)]);
        break;
    case G_ICU:
    case G_CITEXT: case_word(o, &r, spelling); break;
    case G_N: break;
    }
    cdc_buf_free(&t);
}
