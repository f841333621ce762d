/* JSON front end: JsonConverter output with schemas.enable=true
 * ({"schema":...,"payload":...}) and false (bare payload).
 *
 * The schema is 2-5 KB of every message and identical for every message of
 * a table version, so it is never parsed on the hot path: a message whose
 * schema bytes equal a recently used schema's is matched with one memcmp;
 * otherwise a small scanner finds the byte span of the top-level "schema"
 * value and its xxh3 selects the compiled schema. The payload then goes to
 * the single-pass scanner (jscan.c); what that scanner does not take
 * (errors, rare types, non-envelope records, schemaless JSON) is parsed by
 * jansson and walked here, which is also the reference the scanner is
 * tested against. */
#include "decode_int.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

/* ---- raw scanner: spans without a full parse ---- */

static const char *sk_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static const char *sk_str(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

static const char *sk_val(const char *p, const char *e)
{
    if (p >= e)
        return NULL;
    if (*p == '"')
        return sk_str(p, e);
    if (*p == '{' || *p == '[') {
        /* Bracket kinds are not matched here: a malformed span fails later
         * in jansson, and a cached span is byte-identical to one that
         * parsed. */
        int depth = 0;
        while (p < e) {
            char ch = *p;
            if (ch == '"') {
                p = sk_str(p, e);
                if (!p)
                    return NULL;
                continue;
            }
            if (ch == '{' || ch == '[')
                depth++;
            else if (ch == '}' || ch == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return NULL;
    }
    while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\r' &&
           *p != '\t')
        p++;
    return p;
}

typedef struct span {
    const char *p;
    size_t n;
} span_t;

/* True when the document is exactly {"schema": X, "payload": Y}. */
static bool split_wrapped(const char *p, size_t n, span_t *schema, span_t *payload)
{
    const char *e = p + n;
    bool has_s = false, has_p = false;
    int nkeys = 0;
    p = sk_ws(p, e);
    if (p >= e || *p != '{')
        return false;
    p = sk_ws(p + 1, e);
    while (p < e && *p != '}') {
        if (*p != '"')
            return false;
        const char *k = p + 1;
        p = sk_str(p, e);
        if (!p)
            return false;
        size_t kl = (size_t)(p - 1 - k);
        p = sk_ws(p, e);
        if (p >= e || *p != ':')
            return false;
        p = sk_ws(p + 1, e);
        const char *v = p;
        p = sk_val(p, e);
        if (!p || p == v)
            return false;
        nkeys++;
        if (kl == 6 && memcmp(k, "schema", 6) == 0) {
            schema->p = v;
            schema->n = (size_t)(p - v);
            has_s = true;
        } else if (kl == 7 && memcmp(k, "payload", 7) == 0) {
            payload->p = v;
            payload->n = (size_t)(p - v);
            has_p = true;
        }
        p = sk_ws(p, e);
        if (p < e && *p == ',')
            p = sk_ws(p + 1, e);
    }
    if (p >= e)
        return false;
    p = sk_ws(p + 1, e);
    return p == e && nkeys == 2 && has_s && has_p;
}

/* ---- Connect schema -> schema tree ---- */

static const struct {
    const char *name;
    dtype_t type;
} conn_types[] = {
    {"int8", DT_INT8},       {"int16", DT_INT16},     {"int32", DT_INT32},  {"int64", DT_INT64},
    {"float", DT_FLOAT32},   {"double", DT_FLOAT64},  {"boolean", DT_BOOL}, {"string", DT_STRING},
    {"bytes", DT_BYTES},     {"array", DT_ARRAY},     {"map", DT_MAP},      {"struct", DT_STRUCT},
    {"float32", DT_FLOAT32}, {"float64", DT_FLOAT64},
};

static bool jbool(json_t *v)
{
    /* The Debezium docs show "optional":"false" as a string. */
    return json_is_true(v) || (json_is_string(v) && strcmp(json_string_value(v), "true") == 0);
}

static int jparam_int(json_t *params, const char *key, int *out)
{
    json_t *v = json_object_get(params, key);
    if (json_is_integer(v)) {
        *out = (int)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        char *end;
        long x = strtol(json_string_value(v), &end, 10);
        if (*end == '\0' && end != json_string_value(v)) {
            *out = (int)x;
            return 0;
        }
    }
    return -1;
}

static dsch_t *compile(darena_t *a, json_t *js, int depth, char *err, size_t errsz)
{
    if (depth > MAX_DEPTH) {
        snprintf(err, errsz, "schema nested deeper than %d levels", MAX_DEPTH);
        return NULL;
    }
    if (!json_is_object(js)) {
        snprintf(err, errsz, "expected a schema object, found %s",
                 json_is_null(js) ? "null" : "another JSON value");
        return NULL;
    }
    const char *tn = json_string_value(json_object_get(js, "type"));
    if (!tn) {
        snprintf(err, errsz, "schema without a \"type\" string");
        return NULL;
    }
    dsch_t *s = darena_alloc(a, sizeof(*s));
    s->type = DT_NULL;
    for (size_t i = 0; i < sizeof(conn_types) / sizeof(conn_types[0]); i++)
        if (strcmp(conn_types[i].name, tn) == 0)
            s->type = conn_types[i].type;
    if (s->type == DT_NULL) {
        snprintf(err, errsz, "unknown Connect schema type \"%.64s\"", tn);
        return NULL;
    }
    s->optional = jbool(json_object_get(js, "optional"));
    const char *name = json_string_value(json_object_get(js, "name"));
    if (name)
        s->name = darena_strdup(a, name);
    s->sem = dsch_sem_of(name);
    s->bits_len = -1;
    json_t *params = json_object_get(js, "parameters");
    int precision = -1;
    if (json_is_object(params)) {
        int x;
        if (jparam_int(params, "scale", &x) == 0) {
            s->scale = x;
            s->has_scale = true;
        }
        if (jparam_int(params, "length", &x) == 0)
            s->bits_len = x;
        if (jparam_int(params, "connect.decimal.precision", &x) == 0)
            precision = x;
        if (jparam_int(params, "__debezium.source.column.length", &x) == 0)
            dsch_source_type(
                s, json_string_value(json_object_get(params, "__debezium.source.column.type")), x);
    }
    if (s->type == DT_STRUCT) {
        json_t *fields = json_object_get(js, "fields");
        if (!json_is_array(fields)) {
            snprintf(err, errsz, "struct schema without a \"fields\" array");
            return NULL;
        }
        s->nfields = json_array_size(fields);
        s->fields = darena_alloc(a, (s->nfields ? s->nfields : 1) * sizeof(dfield_t));
        for (size_t i = 0; i < s->nfields; i++) {
            json_t *f = json_array_get(fields, i);
            const char *fname = json_string_value(json_object_get(f, "field"));
            if (!fname) {
                snprintf(err, errsz, "struct field %zu without a \"field\" name", i);
                return NULL;
            }
            s->fields[i].name = darena_strdup(a, fname);
            s->fields[i].sch = compile(a, f, depth + 1, err, errsz);
            if (!s->fields[i].sch)
                return NULL;
            /* A repeated field name makes the DOM path emit the value once
             * per field; the single-pass scanner must not take such rows. */
            for (size_t k = 0; k < i && !s->dup_fields; k++)
                s->dup_fields = strcmp(s->fields[k].name, fname) == 0;
        }
    } else if (s->type == DT_ARRAY) {
        s->items = compile(a, json_object_get(js, "items"), depth + 1, err, errsz);
        if (!s->items)
            return NULL;
    } else if (s->type == DT_MAP) {
        json_t *vals = json_object_get(js, "values");
        if (vals) {
            s->values = compile(a, vals, depth + 1, err, errsz);
            if (!s->values)
                return NULL;
        }
    }
    dsch_finish(a, s);
    if (s->sem == SEM_DECIMAL)
        dsch_set_numeric(a, s, precision);
    return s;
}

dsch_t *dj_compile_schema(darena_t *a, json_t *js, char *err, size_t errsz)
{
    return compile(a, js, 0, err, errsz);
}

/* ---- values ---- */

/* jansson reads every real number as a double and refuses an integer beyond
 * int64, but a Decimal written as a JSON number (decimal.format=NUMERIC)
 * must keep its exact digits. Before parsing, each such number is replaced
 * by the real "<k>.0", k its index in this table of the original texts;
 * after parsing, each real (all are placeholders) gets the double jansson
 * would have read and is mapped to its text. */
typedef struct dnum {
    json_t *v;
    size_t off, len;
    double d;
} dnum_t;

typedef struct dnums {
    const char *src;
    dnum_t *v;
    size_t n, cap;
} dnums_t;

/* The number token at @p s (up to @p e): its length; *keep when jansson
 * reads it exactly (an int64) or fails on it (then its error stays). */
static size_t num_token(const char *s, const char *e, bool *keep, double *d)
{
    const char *q = s;
    bool real = false;
    while (q < e && (strchr("0123456789+-", *q) || *q == '.' || *q == 'e' || *q == 'E')) {
        if (*q == '.' || *q == 'e' || *q == 'E')
            real = true;
        q++;
    }
    size_t len = (size_t)(q - s);
    *keep = true;
    if ((!real && len < 19) || len > 4096)
        return len; /* an int64 (or a token jansson refuses) */
    cdc_buf_t probe = CDC_BUF_INIT;
    bool ok = dfmt_num_text(&probe, s, len, -1) != -1; /* JSON's grammar */
    cdc_buf_free(&probe);
    if (!ok)
        return len;
    char tmp[4097];
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    errno = 0;
    if (!real) {
        (void)strtoll(tmp, NULL, 10);
        if (errno != ERANGE)
            return len;
        errno = 0;
    }
    *d = strtod(tmp, NULL);
    if (errno == ERANGE && (*d == HUGE_VAL || *d == -HUGE_VAL))
        return len; /* jansson: "real number overflow" */
    *keep = false;
    return len;
}

static void dnums_map(dnums_t *t, json_t *v)
{
    if (json_is_real(v)) {
        size_t k = (size_t)json_real_value(v);
        if (k < t->n) {
            t->v[k].v = v;
            json_real_set(v, t->v[k].d);
        }
    } else if (json_is_object(v)) {
        const char *key;
        json_t *m;
        json_object_foreach(v, key, m) dnums_map(t, m);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) dnums_map(t, m);
    }
}

static void dnums_free(dctx_t *c, dnums_t *t)
{
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
    if (c->nums == t)
        c->nums = NULL;
}

/* The exact source text of number @p v (a real in the DOM), or NULL. */
static const char *dnum_text(dctx_t *c, json_t *v, size_t *len)
{
    if (!c->nums || !json_is_real(v))
        return NULL;
    for (size_t i = 0; i < c->nums->n; i++)
        if (c->nums->v[i].v == v) {
            *len = c->nums->v[i].len;
            return c->nums->src + c->nums->v[i].off;
        }
    return NULL;
}

static const char *jkind(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* "found a string "abc"" with the value cut short: row data may be
 * sensitive, so errors show at most a few bytes of it. */
static int mismatch(dctx_t *c, const char *expected, json_t *v)
{
    if (json_is_string(v))
        return derr(c, CDC_ERR_POISON, "expected %s, found a string \"%.24s%s\"", expected,
                    json_string_value(v), json_string_length(v) > 24 ? "..." : "");
    if (json_is_integer(v))
        return derr(c, CDC_ERR_POISON, "expected %s, found the integer %lld", expected,
                    (long long)json_integer_value(v));
    size_t len = 0;
    const char *t = dnum_text(c, v, &len);
    if (t)
        return derr(c, CDC_ERR_POISON, "expected %s, found the number %.*s%s", expected,
                    (int)(len > 24 ? 24 : len), t, len > 24 ? "..." : "");
    return derr(c, CDC_ERR_POISON, "expected %s, found %s", expected, jkind(v));
}

static void put_json_text(cdc_buf_t *out, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s) {
        cdc_buf_puts(out, s);
        free(s);
    }
}

static int fmt_generic(dctx_t *c, json_t *v, cdc_buf_t *out);
static int fmt_hint(dctx_t *c, const char *pg, json_t *v, cdc_buf_t *out, bool *isnull);

static int b64_bytes(dctx_t *c, json_t *v, cdc_buf_t *tmp, const char *what)
{
    if (!json_is_string(v))
        return mismatch(c, what, v);
    if (dfmt_b64_decode(json_string_value(v), json_string_length(v), tmp) != 0)
        return mismatch(c, what, v);
    return 0;
}

static int fmt_vsdecimal(dctx_t *c, json_t *v, cdc_buf_t *out)
{
    json_t *sc = json_object_get(v, "scale"), *val = json_object_get(v, "value");
    if (!json_is_integer(sc) || !val)
        return mismatch(c, "a VariableScaleDecimal {scale, value}", v);
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = b64_bytes(c, val, &tmp, "base64 decimal bytes");
    if (rc == 0 &&
        dfmt_decimal(out, (const uint8_t *)tmp.data, tmp.len, (int)json_integer_value(sc)) != 0)
        rc = derr(c, CDC_ERR_POISON,
                  "expected a decimal PostgreSQL can hold, found %zu bytes or a scale beyond 16383",
                  tmp.len);
    cdc_buf_free(&tmp);
    return rc;
}

static int fmt_geometry(dctx_t *c, json_t *v, cdc_buf_t *out)
{
    json_t *wkb = json_object_get(v, "wkb"), *srid = json_object_get(v, "srid");
    if (!json_is_object(v) || !wkb)
        return mismatch(c, "a geometry {wkb, srid}", v);
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = b64_bytes(c, wkb, &tmp, "base64 WKB");
    if (rc == 0)
        dfmt_geometry(out, (const uint8_t *)tmp.data, tmp.len, json_is_integer(srid),
                      json_is_integer(srid) ? json_integer_value(srid) : 0);
    cdc_buf_free(&tmp);
    return rc;
}

static int num_of(json_t *v, double *d)
{
    if (json_is_number(v)) {
        *d = json_number_value(v);
        return 0;
    }
    return -1;
}

static int fmt_point(dctx_t *c, json_t *v, cdc_buf_t *out)
{
    double x, y;
    if (!json_is_object(v) || num_of(json_object_get(v, "x"), &x) ||
        num_of(json_object_get(v, "y"), &y))
        return mismatch(c, "a point {x, y}", v);
    dfmt_point(out, x, y);
    return 0;
}

/* Jackson writes non-finite doubles as the strings "NaN", "Infinity" and
 * "-Infinity", which are also PostgreSQL's spellings. */
static int fmt_special_float(dctx_t *c, json_t *v, cdc_buf_t *out)
{
    const char *s = json_string_value(v);
    if (s && (strcmp(s, "NaN") == 0 || strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0)) {
        cdc_buf_puts(out, s);
        return 0;
    }
    return mismatch(c, "a number", v);
}

static int fmt_value(dctx_t *c, const dsch_t *s, json_t *v, cdc_buf_t *out, bool *isnull);

static int fmt_array(dctx_t *c, const dsch_t *items, const char *elem_pg, json_t *v, cdc_buf_t *out)
{
    if (!json_is_array(v))
        return mismatch(c, "an array", v);
    if (++c->depth > MAX_DEPTH) {
        c->depth--;
        return derr(c, CDC_ERR_POISON, "value nested deeper than %d levels", MAX_DEPTH);
    }
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = 0;
    cdc_buf_putc(out, '{');
    for (size_t i = 0; i < json_array_size(v) && rc == 0; i++) {
        json_t *el = json_array_get(v, i);
        size_t old = dpath_push_idx(c, i);
        bool isnull = false;
        cdc_buf_reset(&tmp);
        if (items)
            rc = fmt_value(c, items, el, &tmp, &isnull);
        else
            rc = fmt_hint(c, elem_pg, el, &tmp, &isnull);
        dpath_pop(c, old);
        if (i)
            cdc_buf_putc(out, ',');
        if (isnull)
            cdc_buf_puts(out, "NULL");
        else
            dfmt_array_elem(out, tmp.data ? tmp.data : "", tmp.len, json_is_array(el));
    }
    cdc_buf_putc(out, '}');
    cdc_buf_free(&tmp);
    c->depth--;
    return rc;
}

/* hstore text: "k"=>"v", ... ; a map with non-string keys arrives from the
 * JsonConverter as an array of [k, v] pairs. */
static int fmt_map(dctx_t *c, const dsch_t *values, json_t *v, cdc_buf_t *out)
{
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = 0;
    bool first = true;
    if (json_is_object(v)) {
        const char *k;
        json_t *val;
        json_object_foreach(v, k, val)
        {
            bool isnull = false;
            cdc_buf_reset(&tmp);
            rc = values ? fmt_value(c, values, val, &tmp, &isnull) : fmt_generic(c, val, &tmp);
            if (!values && json_is_null(val))
                isnull = true;
            if (rc)
                break;
            if (!first)
                cdc_buf_puts(out, ", ");
            first = false;
            dfmt_hstore_str(out, k, strlen(k));
            cdc_buf_puts(out, "=>");
            if (isnull)
                cdc_buf_puts(out, "NULL");
            else
                dfmt_hstore_str(out, tmp.data ? tmp.data : "", tmp.len);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && rc == 0; i++) {
            json_t *pair = json_array_get(v, i);
            if (!json_is_array(pair) || json_array_size(pair) != 2) {
                rc = mismatch(c, "a [key, value] pair", pair);
                break;
            }
            cdc_buf_t kb = CDC_BUF_INIT;
            fmt_generic(c, json_array_get(pair, 0), &kb);
            bool isnull = json_is_null(json_array_get(pair, 1));
            cdc_buf_reset(&tmp);
            if (!isnull)
                rc = values ? fmt_value(c, values, json_array_get(pair, 1), &tmp, &isnull)
                            : fmt_generic(c, json_array_get(pair, 1), &tmp);
            if (!first)
                cdc_buf_puts(out, ", ");
            first = false;
            dfmt_hstore_str(out, kb.data ? kb.data : "", kb.len);
            cdc_buf_free(&kb);
            cdc_buf_puts(out, "=>");
            if (isnull)
                cdc_buf_puts(out, "NULL");
            else
                dfmt_hstore_str(out, tmp.data ? tmp.data : "", tmp.len);
        }
    } else {
        rc = mismatch(c, "a map (object)", v);
    }
    cdc_buf_free(&tmp);
    return rc;
}

/* A decimal written as a JSON number (decimal.format=NUMERIC, or a
 * schemaless numeric column @p pg) from its exact text at @p scale. */
static int fmt_num_text(dctx_t *c, json_t *v, int scale, const char *pg, cdc_buf_t *out)
{
    size_t len = 0;
    const char *t = dnum_text(c, v, &len);
    if (!t)
        return derr(c, CDC_ERR_POISON,
                    "expected a decimal PostgreSQL can hold, found %s out of numeric's range",
                    jkind(v));
    int rc = dfmt_num_text(out, t, len, scale);
    if (rc == -2)
        return derr(c, CDC_ERR_POISON,
                    "the decimal %.*s%s has more fraction digits than the scale %d of %s%s: "
                    "JsonConverter (decimal.format=NUMERIC) writes exactly the scale's digits, "
                    "so the schema does not match the data; it is not rounded",
                    (int)(len > 24 ? 24 : len), t, len > 24 ? "..." : "", scale,
                    pg ? "the column type " : "the schema", pg ? pg : "");
    if (rc != 0)
        return derr(c, CDC_ERR_POISON, "expected a decimal PostgreSQL can hold, found %.*s%s",
                    (int)(len > 24 ? 24 : len), t, len > 24 ? "..." : "");
    return 0;
}

static int fmt_value(dctx_t *c, const dsch_t *s, json_t *v, cdc_buf_t *out, bool *isnull)
{
    *isnull = false;
    if (json_is_null(v)) {
        /* An explicit null stays NULL even where the schema has a default
         * (the JsonConverter/DBZ-7191 default-substitution problem). */
        *isnull = true;
        return 0;
    }
    s = dsch_unwrap(s);
    switch (s->type) {
    case DT_INT8:
    case DT_INT16:
    case DT_INT32:
    case DT_INT64:
        if (!json_is_integer(v))
            return mismatch(c, s->type == DT_INT64 ? "an int64" : "an integer", v);
        dfmt_int_sem(out, s->sem, json_integer_value(v));
        return 0;
    case DT_FLOAT32:
    case DT_FLOAT64:
        if (json_is_string(v))
            return fmt_special_float(c, v, out);
        if (!json_is_number(v))
            return mismatch(c, "a number", v);
        if (s->type == DT_FLOAT32)
            dfmt_float(out, (float)json_number_value(v));
        else
            dfmt_double(out, json_number_value(v));
        return 0;
    case DT_BOOL:
        if (!json_is_boolean(v))
            return mismatch(c, "a boolean", v);
        cdc_buf_putc(out, json_is_true(v) ? 't' : 'f');
        return 0;
    case DT_STRING:
    case DT_ENUM:
        if (!json_is_string(v))
            return mismatch(c, "a string", v);
        dfmt_str_sem(out, s->sem, json_string_value(v), json_string_length(v));
        return 0;
    case DT_BYTES:
    case DT_FIXED: {
        if (s->sem == SEM_DECIMAL && json_is_integer(v)) {
            /* decimal.format=NUMERIC */
            dfmt_int(out, json_integer_value(v));
            return 0;
        }
        if (s->sem == SEM_DECIMAL && json_is_real(v))
            return fmt_num_text(c, v, s->has_scale ? s->scale : -1, NULL, out);
        cdc_buf_t tmp = CDC_BUF_INIT;
        int rc =
            b64_bytes(c, v, &tmp, s->sem == SEM_DECIMAL ? "base64 decimal bytes" : "base64 bytes");
        if (rc == 0 && dfmt_bytes_sem(out, s, (const uint8_t *)tmp.data, tmp.len) != 0)
            rc = derr(
                c, CDC_ERR_POISON,
                "expected a decimal PostgreSQL can hold, found %zu bytes or a scale beyond 16383",
                tmp.len);
        cdc_buf_free(&tmp);
        return rc;
    }
    case DT_ARRAY: return fmt_array(c, s->items, NULL, v, out);
    case DT_MAP: return fmt_map(c, s->values, v, out);
    case DT_STRUCT:
        switch (s->sem) {
        case SEM_VSDECIMAL: return fmt_vsdecimal(c, v, out);
        case SEM_GEOMETRY:
        case SEM_GEOGRAPHY: return fmt_geometry(c, v, out);
        case SEM_POINT: return fmt_point(c, v, out);
        default:
            if (!json_is_object(v))
                return mismatch(c, "a struct (object)", v);
            put_json_text(out, v);
            return 0;
        }
    default: return mismatch(c, "a value of a known schema type", v);
    }
}

/* ---- schemaless: the target column type tells how to read a value ---- */

static int fmt_generic(dctx_t *c, json_t *v, cdc_buf_t *out)
{
    switch (json_typeof(v)) {
    case JSON_STRING: cdc_buf_append(out, json_string_value(v), json_string_length(v)); return 0;
    case JSON_INTEGER: dfmt_int(out, json_integer_value(v)); return 0;
    case JSON_REAL: dfmt_double(out, json_real_value(v)); return 0;
    case JSON_TRUE: cdc_buf_putc(out, 't'); return 0;
    case JSON_FALSE: cdc_buf_putc(out, 'f'); return 0;
    case JSON_ARRAY: return fmt_array(c, NULL, NULL, v, out);
    case JSON_OBJECT:
        if (json_object_size(v) == 2 && json_is_integer(json_object_get(v, "scale")) &&
            json_is_string(json_object_get(v, "value")))
            return fmt_vsdecimal(c, v, out);
        put_json_text(out, v);
        return 0;
    case JSON_NULL: return 0;
    }
    return 0;
}

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
    if (json_is_real(v))
        return fmt_num_text(c, v, dpg_typmod(pg, 1), pg, out);
    if (json_is_number(v))
        return fmt_generic(c, v, out);
    if (json_is_object(v))
        return fmt_vsdecimal(c, v, out);
    if (!json_is_string(v))
        return mismatch(c, "a decimal (string, number or {scale, value})", v);
    const char *s = json_string_value(v);
    switch (ddec_decimal_mode(c->dec)) {
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

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* A schemaless BYTEA value: a string in the form --binary-handling names
 * (base64 and hex overlap: "00ff" is both). */
static int fmt_hint_bytea(dctx_t *c, json_t *v, cdc_buf_t *out)
{
    if (!json_is_string(v))
        return mismatch(c, "a string of bytes", v);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    cdc_buf_t tmp = CDC_BUF_INIT;
    int rc = 0;
    if (ddec_binary_mode(c->dec) == CDC_BINARY_HEX) {
        cdc_buf_reserve(&tmp, n / 2 + 1);
        for (size_t i = 0; rc == 0 && i + 1 < n; i += 2) {
            int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
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
                  ddec_binary_mode(c->dec) == CDC_BINARY_BASE64_URL_SAFE ? "base64-url-safe"
                  : ddec_binary_mode(c->dec) == CDC_BINARY_BASE64        ? "base64"
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
    switch (ddec_time_mode(c->dec)) {
    case CDC_TIME_CONNECT: return 3;
    case CDC_TIME_ADAPTIVE_TIME_MICROSECONDS:
        if (is_time)
            return 6;
        break;
    case CDC_TIME_ADAPTIVE: break;
    }
    return tm >= 0 && tm <= 3 ? 3 : 6;
}

static int fmt_hint(dctx_t *c, const char *pg, json_t *v, cdc_buf_t *out, bool *isnull)
{
    *isnull = json_is_null(v);
    if (*isnull)
        return 0;
    if (!pg)
        return fmt_generic(c, v, out);
    size_t pl = strlen(pg);
    if (pl > 2 && strcmp(pg + pl - 2, "[]") == 0 && json_is_array(v)) {
        char elem[128];
        snprintf(elem, sizeof(elem), "%.*s", (int)(pl - 2), pg);
        return fmt_array(c, NULL, elem, v, out);
    }
    /* The text placeholder is kept as it came, whatever the type would
     * make of it, so that it is recognised (and never stored). */
    if (json_is_string(v) &&
        ddec_is_placeholder(c->dec, NULL, json_string_value(v), json_string_length(v)))
        return fmt_generic(c, v, out);
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
            int rc = b64_bytes(c, v, &tmp, "base64 bits (io.debezium.data.Bits)");
            if (rc == 0)
                dfmt_bits(out, (const uint8_t *)tmp.data, tmp.len, tm);
            cdc_buf_free(&tmp);
            return rc;
        }
    case PK_TSTZ:
    case PK_TIMETZ:
        /* ZonedTimestamp / ZonedTime are strings in every mode. */
        if (!json_is_string(v))
            return mismatch(c, "an ISO-8601 string with offset (io.debezium.time.Zoned*)", v);
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
            return mismatch(c, "an integer or an ISO-8601 string (io.debezium.time)", v);
        return fmt_generic(c, v, out);
    case PK_OTHER: break;
    }
    if (json_is_object(v)) {
        if (base_is(pg, "point"))
            return fmt_point(c, v, out);
        if (base_is(pg, "geometry") || base_is(pg, "geography"))
            return fmt_geometry(c, v, out);
        if (base_is(pg, "hstore"))
            return fmt_map(c, NULL, v, out);
    }
    return fmt_generic(c, v, out);
}

/* ---- rows ---- */

static int decode_row(dctx_t *c, srow_t *row, const dsch_t *s, json_t *obj, const char *label,
                      dkvs_t *meta)
{
    size_t old = dpath_push(c, label);
    int rc = 0;
    if (!json_is_object(obj)) {
        rc = mismatch(c, "an object (row image)", obj);
        dpath_pop(c, old);
        return rc;
    }
    s = dsch_unwrap(s);
    if (s && s->type == DT_STRUCT) {
        for (size_t i = 0; i < s->nfields && rc == 0; i++) {
            const dfield_t *f = &s->fields[i];
            json_t *v = json_object_get(obj, f->name);
            if (!v)
                continue; /* absent is not NULL: leave the column alone */
            size_t o2 = dpath_push(c, f->name);
            if (meta && dflat_is_meta(f->name)) {
                if (meta->n < DKV_MAX) {
                    size_t start = c->tb->len;
                    bool isnull = false;
                    rc = fmt_value(c, f->sch, v, c->tb, &isnull);
                    cdc_buf_putc(c->tb, '\0');
                    meta->v[meta->n].name = f->name;
                    meta->v[meta->n++].text = isnull ? DOFF_NONE : start;
                }
            } else {
                size_t start = c->tb->len;
                bool isnull = false;
                rc = fmt_value(c, f->sch, v, c->tb, &isnull);
                if (rc == 0)
                    dcol_add(c, row, f->name, f->sch, NULL, isnull, start);
            }
            dpath_pop(c, o2);
        }
    } else {
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v)
        {
            if (rc)
                break;
            size_t o2 = dpath_push(c, k);
            size_t start = c->tb->len;
            bool isnull = false;
            if (meta && dflat_is_meta(k)) {
                rc = fmt_generic(c, v, c->tb);
                cdc_buf_putc(c->tb, '\0');
                if (meta->n < DKV_MAX) {
                    meta->v[meta->n].name = k;
                    meta->v[meta->n++].text = json_is_null(v) ? DOFF_NONE : start;
                }
            } else {
                const char *pg = NULL;
                rc = dlookup(c, k, &pg);
                if (rc == 0)
                    rc = fmt_hint(c, pg, v, c->tb, &isnull);
                if (rc == 0)
                    dcol_add(c, row, k, NULL, pg, isnull, start);
            }
            dpath_pop(c, o2);
        }
    }
    dpath_pop(c, old);
    return rc;
}

/* Scalars of a block (source, transaction, metadata records) as text. */
static int collect_kv(dctx_t *c, json_t *obj, dkvs_t *kv)
{
    kv->n = 0;
    if (!json_is_object(obj))
        return 0;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (kv->n >= DKV_MAX)
            break;
        if (json_is_object(v) || json_is_array(v))
            continue;
        size_t start = c->tb->len;
        fmt_generic(c, v, c->tb);
        cdc_buf_putc(c->tb, '\0');
        kv->v[kv->n].name = k;
        kv->v[kv->n++].text = json_is_null(v) ? DOFF_NONE : start;
    }
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    if (!s)
        return false;
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int decode_envelope(dctx_t *c, const dsch_t *root, json_t *pl)
{
    json_t *op = json_object_get(pl, "op");
    size_t old = dpath_push(c, "op");
    if (!json_is_string(op) || json_string_length(op) != 1 ||
        !strchr("cudrtm", json_string_value(op)[0])) {
        int rc = op ? mismatch(c, "an op of c, u, d, r, t or m", op)
                    : derr(c, CDC_ERR_POISON,
                           "missing op: a Debezium change event needs op (c, u, d, r, t or m) "
                           "next to before, after and source");
        dpath_pop(c, old);
        return rc;
    }
    dpath_pop(c, old);
    c->op = json_string_value(op)[0];
    c->kind = c->op == 'm' ? CDC_KIND_MESSAGE : CDC_KIND_CHANGE;
    dkvs_t kv;
    collect_kv(c, json_object_get(pl, "source"), &kv);
    denv_source(c, &kv);
    collect_kv(c, json_object_get(pl, "transaction"), &kv);
    denv_transaction(c, &kv);
    json_t *ts = json_object_get(pl, "ts_ms");
    if (json_is_integer(ts))
        c->ts_ms = json_integer_value(ts);
    if (c->kind == CDC_KIND_MESSAGE)
        return 0;
    if (c->table == DOFF_NONE)
        dtopic_names(c);
    const char *labels[2] = {"before", "after"};
    srow_t *rows[2] = {c->before, c->after};
    bool *has[2] = {&c->has_before, &c->has_after};
    for (int i = 0; i < 2; i++) {
        json_t *img = json_object_get(pl, labels[i]);
        if (!img || json_is_null(img))
            continue;
        const dfield_t *f = dsch_field(root, labels[i]);
        if (decode_row(c, rows[i], f ? f->sch : NULL, img, labels[i], NULL) != 0)
            return -1;
        *has[i] = true;
    }
    return 0;
}

static int decode_doc(dctx_t *c, const dsch_t *root, json_t *pl)
{
    const char *name = root ? root->name : NULL;
    const char *topic = c->rec->topic ? c->rec->topic : "";
    if (json_is_null(pl)) {
        c->kind = CDC_KIND_TOMBSTONE;
        return 0;
    }
    if (!json_is_object(pl))
        return mismatch(c, "an object (Debezium envelope or row)", pl);
    dkvs_t kv;
    bool has_op = json_is_string(json_object_get(pl, "op"));
    /* A source block with a row image is an envelope even without an op (a
     * flattened row has neither): its missing op is the error to report. */
    json_t *img =
        json_object_get(pl, "after") ? json_object_get(pl, "after") : json_object_get(pl, "before");
    bool env_shape =
        json_is_object(json_object_get(pl, "source")) && (json_is_object(img) || json_is_null(img));
    if (ends_with(name, ".Envelope") ||
        (!name && (has_op || env_shape) &&
         (json_object_get(pl, "source") || json_object_get(pl, "before") ||
          json_object_get(pl, "after"))))
        return decode_envelope(c, root, pl);
    if ((name && strcmp(name, "io.debezium.connector.common.Heartbeat") == 0) ||
        (!name && strncmp(topic, "__debezium-heartbeat", 20) == 0) ||
        (!name && json_object_size(pl) == 1 && json_is_integer(json_object_get(pl, "ts_ms")))) {
        c->kind = CDC_KIND_HEARTBEAT;
        json_t *ts = json_object_get(pl, "ts_ms");
        if (json_is_integer(ts))
            c->source_ts_ms = json_integer_value(ts);
        return 0;
    }
    if (ends_with(name, "TransactionMetadataValue") ||
        (!name && json_is_string(json_object_get(pl, "status")) && json_object_get(pl, "id") &&
         (json_object_get(pl, "event_count") || json_object_get(pl, "data_collections")))) {
        c->kind = CDC_KIND_TXN;
        collect_kv(c, pl, &kv);
        for (size_t i = 0; i < kv.n; i++) {
            if (strcmp(kv.v[i].name, "status") == 0)
                c->txn_status = kv.v[i].text;
            else if (strcmp(kv.v[i].name, "id") == 0)
                c->txn_id = kv.v[i].text;
        }
        json_t *n = json_object_get(pl, "event_count");
        if (json_is_integer(n))
            c->txn_event_count = json_integer_value(n);
        json_t *ts = json_object_get(pl, "ts_ms");
        if (json_is_integer(ts))
            c->source_ts_ms = json_integer_value(ts);
        return 0;
    }
    if (ends_with(name, "SchemaChangeValue") || json_object_get(pl, "ddl") ||
        json_object_get(pl, "tableChanges") || json_object_get(pl, "historyRecord")) {
        c->kind = CDC_KIND_SCHEMA_CHANGE;
        json_t *src = json_object_get(pl, "source");
        collect_kv(c, src, &kv);
        denv_source(c, &kv);
        json_t *db = json_object_get(pl, "databaseName");
        if (json_is_string(db))
            c->db = dtb_cstr(c, json_string_value(db));
        return 0;
    }
    /* Anything else is a flattened row (ExtractNewRecordState). Its
     * metadata fields come first so the type lookup knows the table. */
    dkvs_t meta;
    meta.n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(pl, k, v)
    {
        if (dflat_is_meta(k) && !json_is_object(v) && !json_is_array(v) && meta.n < DKV_MAX) {
            size_t start = c->tb->len;
            fmt_generic(c, v, c->tb);
            cdc_buf_putc(c->tb, '\0');
            meta.v[meta.n].name = k;
            meta.v[meta.n++].text = json_is_null(v) ? DOFF_NONE : start;
        }
    }
    size_t off;
    for (size_t i = 0; i < meta.n; i++) {
        off = meta.v[i].text;
        if (strcmp(meta.v[i].name, "__table") == 0)
            c->table = off;
        else if (strcmp(meta.v[i].name, "__schema") == 0)
            c->schema = off;
        else if (strcmp(meta.v[i].name, "__db") == 0)
            c->db = off;
    }
    dtopic_names(c);
    dkvs_t ignored;
    ignored.n = 0;
    if (decode_row(c, c->after, root, pl, "", &ignored) != 0)
        return -1;
    c->has_after = true;
    return dflat_finish(c, &meta);
}

/* @p t: the number table, to dnums_free() after the DOM. */
static json_t *parse(dctx_t *c, const char *p, size_t n, const char *what, dnums_t *t)
{
    json_error_t jerr;
    memset(t, 0, sizeof(*t));
    t->src = p;
    cdc_buf_t re = CDC_BUF_INIT;
    bool instr = false;
    size_t copied = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (instr) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                instr = false;
            continue;
        }
        if (ch == '"') {
            instr = true;
            continue;
        }
        if (ch != '-' && (ch < '0' || ch > '9'))
            continue;
        bool keep;
        double d = 0;
        size_t len = num_token(p + i, p + n, &keep, &d);
        if (!keep) {
            if (t->n == t->cap) {
                size_t cap = t->cap ? 2 * t->cap : 16;
                dnum_t *nv = realloc(t->v, cap * sizeof(*nv));
                if (!nv) {
                    cdc_buf_free(&re);
                    dnums_free(c, t);
                    derr(c, CDC_ERR_FATAL, "out of memory");
                    return NULL;
                }
                t->v = nv;
                t->cap = cap;
            }
            t->v[t->n] = (dnum_t){NULL, i, len, d};
            cdc_buf_append(&re, p + copied, i - copied);
            char idx[32];
            snprintf(idx, sizeof(idx), "%zu.0", t->n++);
            cdc_buf_puts(&re, idx);
            copied = i + len;
        }
        i += len - 1;
    }
    json_t *js = NULL;
    if (t->n) {
        cdc_buf_append(&re, p + copied, n - copied);
        js = json_loadb(re.data, re.len, JSON_DECODE_ANY, &jerr);
        if (js) {
            dnums_map(t, js);
            c->nums = t;
        }
    }
    cdc_buf_free(&re);
    if (!js)
        js = json_loadb(p, n, JSON_DECODE_ANY, &jerr); /* the error at its place */
    if (!js) {
        dnums_free(c, t);
        if (n && (unsigned char)p[0] == 0)
            derr(c, CDC_ERR_POISON,
                 "expected JSON, found byte 0x00: this looks like Avro with Schema Registry "
                 "framing; use --format avro or auto");
        else
            derr(c, CDC_ERR_POISON, "expected %s, found invalid JSON (%s at line %d column %d)",
                 what, jerr.text, jerr.line, jerr.column);
    }
    return js;
}

/* Resolve the wrapped form: compiled schema from the cache and the payload
 * text, or the whole document as a bare payload. */
static int split(dctx_t *c, const char *p, size_t n, const dsch_t **root, span_t *pl, bool *wrapped)
{
    span_t sch = {NULL, 0};
    *root = NULL;
    *wrapped = split_wrapped(p, n, &sch, pl);
    if (!*wrapped) {
        pl->p = p;
        pl->n = n;
        return 0;
    }
    if (sch.n == 4 && memcmp(sch.p, "null", 4) == 0)
        return 0;
    char err[256] = "";
    bool failed = false;
    *root = ddec_json_schema(c->dec, sch.p, sch.n, err, sizeof(err), &failed);
    if (failed) {
        size_t old = dpath_push(c, "schema");
        derr(c, CDC_ERR_POISON, "%s", err);
        dpath_pop(c, old);
        return -1;
    }
    return 0;
}

/* Whether @p p (before @p e) starts with the key @p lit (quoted) and a
 * colon, whitespace allowed around it; returns what follows, or NULL. */
static const char *mru_key(const char *p, const char *e, const char *lit, size_t n)
{
    if ((size_t)(e - p) < n || memcmp(p, lit, n) != 0)
        return NULL;
    p = sk_ws(p + n, e);
    return p < e && *p == ':' ? sk_ws(p + 1, e) : NULL;
}

/* The common case without scanning the schema: the message is
 * {"schema":<the exact bytes of a recently used schema>,"payload":...},
 * with any JSON whitespace between the tokens of that frame (a producer
 * other than Kafka Connect, or a re-serialised record, writes
 * {"schema": {...}, "payload": {...}}; its schema bytes are the same from
 * one message to the next, so they are the cached ones). Those bytes are
 * a complete JSON value, so the span the scanner would find is the same;
 * the payload is taken as everything up to the document's last '}', which
 * the single-pass scanner then checks is exactly one value. */
static bool split_mru(dctx_t *c, const char *p, size_t n, const dsch_t **root, span_t *pl)
{
    const char *e = p + n, *s = sk_ws(p, e);
    if (s >= e || *s != '{')
        return false;
    s = mru_key(sk_ws(s + 1, e), e, "\"schema\"", 8);
    if (!s)
        return false;
    const char *bytes;
    size_t len;
    const dsch_t *r;
    for (size_t i = 0; (r = ddec_json_mru(c->dec, i, &bytes, &len)) != NULL; i++) {
        if ((size_t)(e - s) < len || memcmp(s, bytes, len) != 0)
            continue;
        const char *q = sk_ws(s + len, e);
        if (q >= e || *q != ',')
            return false;
        q = mru_key(sk_ws(q + 1, e), e, "\"payload\"", 9);
        if (!q)
            return false;
        while (e > q && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t'))
            e--;
        if (e <= q || e[-1] != '}')
            return false;
        e--;
        while (e > q && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t'))
            e--;
        *root = r;
        pl->p = q;
        pl->n = (size_t)(e - q);
        return true;
    }
    return false;
}

/* Run the single-pass scanner; on "not mine" put everything it touched
 * back as it was, so the jansson path starts from the same state. */
static bool try_fast(dctx_t *c, const dsch_t *root, span_t pl, bool key)
{
    /* The scanner never touches the path: save everything before it. */
    dctx_t save;
    memcpy(&save, c, offsetof(dctx_t, path));
    size_t tbl = c->tb->len, kn = c->key->n, bn = c->before->n, an = c->after->n;
    if (key ? dj_fast_key(c, root, pl.p, pl.n) : dj_fast_value(c, root, pl.p, pl.n))
        return true;
    memcpy(c, &save, offsetof(dctx_t, path));
    c->tb->len = tbl;
    c->tb->data[tbl] = '\0';
    c->key->n = kn;
    c->before->n = bn;
    c->after->n = an;
    ddec_intern_reset(c->dec);
    return false;
}

/* split() with the fast path in front; *done when the record is decoded. */
static int split_try(dctx_t *c, const char *p, size_t n, const dsch_t **root, span_t *pl,
                     bool *wrapped, bool key, bool *done)
{
    *done = false;
    if (ddec_fastpath(c->dec)) {
        if (split_mru(c, p, n, root, pl)) {
            if (try_fast(c, *root, *pl, key)) {
                *done = true;
                return 0;
            }
            /* For the jansson path (a type the scanner leaves to it, e.g.
             * an array column): when the payload span is exactly one value,
             * split() would find the same spans and the same compiled
             * schema; skip its rescan and hash of the schema. */
            const char *e = pl->p + pl->n, *q = sk_val(pl->p, e);
            if (q && q != pl->p && sk_ws(q, e) == e) {
                *wrapped = true;
                return 0;
            }
        } else {
            if (split(c, p, n, root, pl, wrapped) != 0)
                return -1;
            if (*wrapped && *root && try_fast(c, *root, *pl, key))
                *done = true;
            return 0;
        }
    }
    return split(c, p, n, root, pl, wrapped);
}

int dj_decode_value(dctx_t *c, const char *p, size_t n)
{
    const dsch_t *root;
    span_t pl;
    bool wrapped, done;
    if (split_try(c, p, n, &root, &pl, &wrapped, false, &done) != 0)
        return -1;
    if (done)
        return 0;
    size_t old = wrapped ? dpath_push(c, "payload") : c->pathlen;
    dnums_t nums;
    json_t *js = parse(c, pl.p, pl.n, wrapped ? "a JSON payload" : "a JSON Debezium value", &nums);
    int rc = -1;
    if (js) {
        rc = decode_doc(c, root, js);
        json_decref(js);
        dnums_free(c, &nums);
    }
    dpath_pop(c, old);
    return rc;
}

int dj_decode_key(dctx_t *c, const char *p, size_t n)
{
    const dsch_t *root;
    span_t pl;
    bool wrapped, done;
    if (split_try(c, p, n, &root, &pl, &wrapped, true, &done) != 0)
        return -1;
    if (done)
        return 0;
    size_t old = wrapped ? dpath_push(c, "payload") : c->pathlen;
    dnums_t nums;
    json_t *js = parse(c, pl.p, pl.n, "a JSON key", &nums);
    int rc = -1;
    if (js) {
        rc = 0;
        /* A primitive key (StringConverter, a bare number) names no
         * columns; only a struct key gives the row's identity. */
        if (json_is_object(js)) {
            rc = decode_row(c, c->key, root, js, "", NULL);
            c->has_key = rc == 0;
        }
        json_decref(js);
        dnums_free(c, &nums);
    }
    dpath_pop(c, old);
    return rc;
}
