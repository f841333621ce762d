/* The one JSON scalar formatter: a column value of a scalar Connect type
 * (integers, floats, booleans, strings, bytes and decimals) as PostgreSQL
 * text. Both JSON paths read their scalars into a djv_t and call this, the
 * single-pass scanner (jscan.c) quietly, so that it declines what does not
 * fit and the jansson path (json.c) reports it; their results cannot drift
 * apart. The common types are formatted inline (djs_value() in
 * json_scalar.h); the rest is here. */
#include "json_scalar.h"

#include <string.h>

const char *djs_expected(const dsch_t *s)
{
    switch (s->type) {
    case DT_INT8: return "an int8 (-128..127)";
    case DT_INT16: return "an int16 (-32768..32767)";
    case DT_INT32: return "an int32 (-2147483648..2147483647)";
    case DT_INT64: return "an int64";
    case DT_FLOAT32:
    case DT_FLOAT64: return "a number";
    case DT_BOOL: return "a boolean";
    case DT_STRING:
    case DT_ENUM: return "a string";
    case DT_BYTES:
    case DT_FIXED: return s->sem == SEM_DECIMAL ? "base64 decimal bytes" : "base64 bytes";
    default: return NULL;
    }
}

int djs_mismatch(dctx_t *c, const char *expected, const djv_t *v)
{
    switch (v->t) {
    case DJT_STR:
        /* Row data may be sensitive: errors show at most a few bytes. */
        return derr(c, CDC_ERR_POISON, "expected %s, found a string \"%.*s%s\"", expected,
                    (int)(v->n > 24 ? 24 : v->n), v->s, v->n > 24 ? "..." : "");
    case DJT_INT:
        return derr(c, CDC_ERR_POISON, "expected %s, found the integer %lld", expected,
                    (long long)v->i);
    case DJT_REAL:
        if (v->s)
            return derr(c, CDC_ERR_POISON, "expected %s, found the number %.*s%s", expected,
                        (int)(v->n > 24 ? 24 : v->n), v->s, v->n > 24 ? "..." : "");
        return derr(c, CDC_ERR_POISON, "expected %s, found a real number", expected);
    case DJT_TRUE:
    case DJT_FALSE: return derr(c, CDC_ERR_POISON, "expected %s, found a boolean", expected);
    case DJT_NULL: break;
    }
    return derr(c, CDC_ERR_POISON, "expected %s, found null", expected);
}

int djs_num_text(dctx_t *c, const char *t, size_t len, int scale, const char *pg, cdc_buf_t *out,
                 bool quiet)
{
    if (!t)
        return quiet ? -1
                     : derr(c, CDC_ERR_POISON,
                            "expected a decimal PostgreSQL can hold, found a real number out of "
                            "numeric's range");
    int rc = dfmt_num_text(out, t, len, scale);
    if (rc == 0 || quiet)
        return rc == 0 ? 0 : -1;
    if (rc == -2)
        return derr(c, CDC_ERR_POISON,
                    "the decimal %.*s%s has more fraction digits than the scale %d of %s%s: "
                    "JsonConverter (decimal.format=NUMERIC) writes exactly the scale's digits, "
                    "so the schema does not match the data; it is not rounded",
                    (int)(len > 24 ? 24 : len), t, len > 24 ? "..." : "", scale,
                    pg ? "the column type " : "the schema", pg ? pg : "");
    return derr(c, CDC_ERR_POISON, "expected a decimal PostgreSQL can hold, found %.*s%s",
                (int)(len > 24 ? 24 : len), t, len > 24 ? "..." : "");
}

static bool is_special_float(const djv_t *v)
{
    /* Jackson writes non-finite doubles as the strings "NaN", "Infinity"
     * and "-Infinity", which are also PostgreSQL's spellings. */
    return (v->n == 3 && memcmp(v->s, "NaN", 3) == 0) ||
           (v->n == 8 && memcmp(v->s, "Infinity", 8) == 0) ||
           (v->n == 9 && memcmp(v->s, "-Infinity", 9) == 0);
}

int djs_value_slow(dctx_t *c, const dsch_t *s, const djv_t *v, cdc_buf_t *out, bool quiet)
{
    switch (s->type) {
    case DT_FLOAT32:
    case DT_FLOAT64:
        if (v->t == DJT_STR && is_special_float(v)) {
            dbuf_append(out, v->s, v->n);
            return 0;
        }
        break;
    case DT_BYTES:
    case DT_FIXED: {
        if (s->sem == SEM_DECIMAL && v->t == DJT_INT) {
            dfmt_int(out, v->i); /* decimal.format=NUMERIC */
            return 0;
        }
        if (s->sem == SEM_DECIMAL && v->t == DJT_REAL)
            return djs_num_text(c, v->s, v->n, s->has_scale ? s->scale : -1, NULL, out, quiet);
        if (v->t != DJT_STR)
            break;
        cdc_buf_t *bin = &c->scratch[DSCRATCH_BIN];
        cdc_buf_reset(bin);
        if (dfmt_b64_decode(v->s, v->n, bin) != 0)
            break;
        if (dfmt_bytes_sem(out, s, (const uint8_t *)(bin->data ? bin->data : ""), bin->len) == 0)
            return 0;
        return quiet ? -1
                     : derr(c, CDC_ERR_POISON,
                            "expected a decimal PostgreSQL can hold, found %zu bytes or a scale "
                            "beyond 16383",
                            bin->len);
    }
    default: break;
    }
    /* Every value that does not fit its scalar type. */
    return quiet ? -1 : djs_mismatch(c, djs_expected(s), v);
}
