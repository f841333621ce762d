/* Schemaless JSON (schemas.enable=false): without a schema the target
 * column's type, from the call's lookup, says how to read a value (a
 * base64 string may be bytea or a precise decimal, an integer a timestamp
 * in the unit the connector's time.precision.mode implies). Used by the
 * jansson path (json.c). */
#include "json_scalar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a target column type makes of a schemaless value. */
typedef enum pgkind {
    PK_OTHER,
    PK_NUMERIC,
    PK_DATE,
    PK_TS,
    PK_TSTZ,
    PK_TIME,
    PK_TIMETZ,
    PK_INTERVAL,
    PK_BYTEA,
    PK_BITS,
} pgkind_t;

static bool base_is(const char *pg, const char *base)
{
    size_t n = strlen(base);
    return strncmp(pg, base, n) == 0 && (pg[n] == '\0' || pg[n] == '(' || pg[n] == ' ');
}

/* @p pg is format_type() text: "timestamp(3) with time zone" has its zone
 * after the precision, so "timestamp" alone does not say which it is. */
static pgkind_t pg_kind(const char *pg)
{
    bool tz = strstr(pg, " with time zone") != NULL;
    size_t n = strlen(pg);
    if (n > 2 && strcmp(pg + n - 2, "[]") == 0)
        return PK_OTHER; /* an array column given a non-array value */
    if (base_is(pg, "numeric") || base_is(pg, "decimal"))
        return PK_NUMERIC;
    if (base_is(pg, "timestamptz"))
        return PK_TSTZ;
    if (base_is(pg, "timestamp"))
        return tz ? PK_TSTZ : PK_TS;
    if (base_is(pg, "timetz"))
        return PK_TIMETZ;
    if (base_is(pg, "time"))
        return tz ? PK_TIMETZ : PK_TIME;
    if (base_is(pg, "date"))
        return PK_DATE;
    if (base_is(pg, "interval"))
        return PK_INTERVAL;
    if (base_is(pg, "bytea"))
        return PK_BYTEA;
    if (base_is(pg, "bit") || base_is(pg, "varbit"))
        return PK_BITS; /* "bit varying(n)" starts with "bit " */
    return PK_OTHER;
}

/* The value cut short for an error: row data may be sensitive. */
#define SHOWN(v) json_string_value(v), json_string_length(v) > 24 ? "..." : ""

/* Decimal text as decimal.handling.mode=string writes it (BigDecimal's
 * toPlainString, or "NAN"), which is also what PostgreSQL reads. */
static bool is_decimal_text(const char *s)
{
    if (!strcmp(s, "NaN") || !strcmp(s, "NAN") || !strcmp(s, "Infinity") || !strcmp(s, "-Infinity"))
        return true;
    if (*s == '-' || *s == '+')
        s++;
    size_t digits = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        digits++;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++)
            digits++;
    if (!digits)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* A schemaless NUMERIC/DECIMAL value. Its form is not in the record: a
 * JSON number is a number, a {scale, value} object a VariableScaleDecimal,
 * and a string is whatever --decimal-handling says the connector sends
 * (base64 of the unscaled value and "1234.00" cannot be told apart: "1234"
 * is both). */
static int fmt_hint_numeric(dctx_t *c, const char *pg, json_t *v, cdc_buf_t *out)
{
    if (json_is_real(v)) {
        size_t len = 0;
        const char *t = dj_num_text(c, v, &len);
        return djs_num_text(c, t, len, dpg_typmod(pg, 1), pg, out, false);
    }
    if (json_is_number(v))
        return dj_fmt_generic(c, v, out);
    if (json_is_object(v))
        return dj_fmt_vsdecimal(c, v, out);
    if (!json_is_string(v))
        return dj_mismatch(c, "a decimal (string, number or {scale, value})", v);
    const char *s = json_string_value(v);
    switch (c->opts->dec_mode) {
    case CDC_DECIMAL_STRING:
        if (!is_decimal_text(s))
            return derr(c, CDC_ERR_POISON,
                        "\"%.24s%s\" is not decimal text (--decimal-handling string, the "
                        "connector's decimal.handling.mode); if the connector runs in precise "
                        "mode (base64), set --decimal-handling precise",
                        SHOWN(v));
        cdc_buf_append(out, s, json_string_length(v));
        return 0;
    case CDC_DECIMAL_DOUBLE:
        /* Jackson's spellings of the non-finite doubles. */
        if (!strcmp(s, "NaN") || !strcmp(s, "Infinity") || !strcmp(s, "-Infinity")) {
            cdc_buf_puts(out, s);
            return 0;
        }
        return derr(c, CDC_ERR_POISON,
                    "expected a JSON number (--decimal-handling double, the connector's "
                    "decimal.handling.mode), found a string \"%.24s%s\"; set --decimal-handling "
                    "to the connector's mode (precise: base64, string: decimal text)",
                    SHOWN(v));
    case CDC_DECIMAL_PRECISE: break;
    }
    int scale = dpg_typmod(pg, 1);
    if (scale < 0)
        return derr(c, CDC_ERR_POISON,
                    "a base64 Decimal (--decimal-handling precise) carries no scale and the "
                    "column's type %s has none; give the column a scale (numeric(p,s)) or set "
                    "--decimal-handling to the connector's decimal.handling.mode",
                    pg);
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = 0;
    if (dfmt_b64_decode(s, json_string_length(v), &tmp) != 0 || tmp.len == 0)
        rc = derr(c, CDC_ERR_POISON,
                  "\"%.24s%s\" is not base64 of a Decimal (--decimal-handling precise, the "
                  "connector's default decimal.handling.mode); if the connector sends decimal "
                  "text, set --decimal-handling string",
                  SHOWN(v));
    else if (dfmt_decimal(out, (const uint8_t *)tmp.data, tmp.len, scale) != 0)
        rc = derr(c, CDC_ERR_POISON,
                  "expected a decimal PostgreSQL can hold, found %zu bytes with scale %d", tmp.len,
                  scale);
    cdc_buf_free(&tmp);
    return rc;
}

/* A schemaless BYTEA value: a string in the form --binary-handling names
 * (base64 and hex overlap: "00ff" is both). */
static int fmt_hint_bytea(dctx_t *c, json_t *v, cdc_buf_t *out)
{
    if (!json_is_string(v))
        return dj_mismatch(c, "a string of bytes", v);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = 0;
    if (c->opts->bin_mode == CDC_BINARY_HEX) {
        cdc_buf_reserve(&tmp, n / 2 + 1);
        for (size_t i = 0; rc == 0 && i + 1 < n; i += 2) {
            int hi = dfmt_hexval((unsigned char)s[i]), lo = dfmt_hexval((unsigned char)s[i + 1]);
            if (hi < 0 || lo < 0)
                rc = -1;
            else
                tmp.data[tmp.len++] = (char)(hi << 4 | lo);
        }
        if (rc != 0 || n % 2)
            rc = derr(c, CDC_ERR_POISON,
                      "\"%.24s%s\" is not hex bytes (--binary-handling hex, the connector's "
                      "binary.handling.mode); set --binary-handling to the connector's mode",
                      SHOWN(v));
    } else if (dfmt_b64_decode(s, n, &tmp) != 0) {
        rc = derr(c, CDC_ERR_POISON,
                  "\"%.24s%s\" is not base64 bytes (--binary-handling %s, the connector's "
                  "binary.handling.mode); set --binary-handling to the connector's mode",
                  SHOWN(v),
                  c->opts->bin_mode == CDC_BINARY_BASE64_URL_SAFE ? "base64-url-safe"
                  : c->opts->bin_mode == CDC_BINARY_BASE64        ? "base64"
                                                                  : "bytes");
    }
    if (rc == 0)
        dfmt_bytea(out, (const uint8_t *)tmp.data, tmp.len);
    cdc_buf_free(&tmp);
    return rc;
}

/* Digits of a bare io.debezium.time integer for a TIME or TIMESTAMP column
 * of precision @p tm (-1: none, PostgreSQL's 6): 3 is milliseconds
 * (Time/Timestamp, and every Connect type), 6 microseconds (Micro*). */
static int time_digits(dctx_t *c, bool is_time, int tm)
{
    switch (c->opts->time_mode) {
    case CDC_TIME_CONNECT: return 3;
    case CDC_TIME_ADAPTIVE_TIME_MICROSECONDS:
        if (is_time)
            return 6;
        break;
    case CDC_TIME_ADAPTIVE: break;
    }
    return tm >= 0 && tm <= 3 ? 3 : 6;
}

int dj_fmt_hint(dctx_t *c, const char *pg, json_t *v, cdc_buf_t *out, bool *isnull)
{
    *isnull = json_is_null(v);
    if (*isnull)
        return 0;
    if (!pg)
        return dj_fmt_generic(c, v, out);
    size_t pl = strlen(pg);
    if (pl > 2 && strcmp(pg + pl - 2, "[]") == 0 && json_is_array(v)) {
        char elem[128];
        snprintf(elem, sizeof(elem), "%.*s", (int)(pl - 2), pg);
        return dj_fmt_array(c, NULL, elem, v, out);
    }
    /* The text placeholder is kept as it came, whatever the type would
     * make of it, so that it is recognised (and never stored). */
    if (json_is_string(v) &&
        dph_match(&c->opts->ph, NULL, json_string_value(v), json_string_length(v)))
        return dj_fmt_generic(c, v, out);
    int tm = dpg_typmod(pg, 0);
    pgkind_t kind = pg_kind(pg);
    switch (kind) {
    case PK_NUMERIC: return fmt_hint_numeric(c, pg, v, out);
    case PK_BYTEA: return fmt_hint_bytea(c, v, out);
    case PK_BITS:
        /* io.debezium.data.Bits: base64, whatever binary.handling.mode
         * says (that is for BYTEA); BIT(1) is a BOOLEAN. */
        if (json_is_boolean(v)) {
            cdc_buf_putc(out, json_is_true(v) ? '1' : '0');
            return 0;
        }
        {
            cdc_buf_t tmp = CDC_BUF_INIT;
            int rc = dj_b64_bytes(c, v, &tmp, "base64 bits (io.debezium.data.Bits)");
            if (rc == 0)
                dfmt_bits(out, (const uint8_t *)tmp.data, tmp.len, tm);
            cdc_buf_free(&tmp);
            return rc;
        }
    case PK_TSTZ:
    case PK_TIMETZ:
        /* ZonedTimestamp / ZonedTime are strings in every mode. */
        if (!json_is_string(v))
            return dj_mismatch(c, "an ISO-8601 string with offset (io.debezium.time.Zoned*)", v);
        dfmt_str_sem(out, SEM_ZONEDTS, json_string_value(v), json_string_length(v));
        return 0;
    case PK_TS:
    case PK_TIME:
    case PK_DATE:
    case PK_INTERVAL:
        if (json_is_integer(v)) {
            int64_t x = json_integer_value(v);
            if (kind == PK_TS)
                dfmt_timestamp(out, x, time_digits(c, false, tm));
            else if (kind == PK_TIME)
                dfmt_time(out, x, time_digits(c, true, tm));
            else if (kind == PK_DATE)
                dfmt_date(out, x);
            else
                dfmt_duration_us(out, x);
            return 0;
        }
        /* isostring / interval.handling.mode=string: the text itself. */
        if (!json_is_string(v))
            return dj_mismatch(c, "an integer or an ISO-8601 string (io.debezium.time)", v);
        return dj_fmt_generic(c, v, out);
    case PK_OTHER: break;
    }
    if (json_is_object(v)) {
        if (base_is(pg, "point"))
            return dj_fmt_point(c, v, out);
        if (base_is(pg, "geometry") || base_is(pg, "geography"))
            return dj_fmt_geometry(c, v, out);
        if (base_is(pg, "hstore"))
            return dj_fmt_map(c, NULL, v, out);
    }
    return dj_fmt_generic(c, v, out);
}
