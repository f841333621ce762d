/*
 * Canonical value encoding. Every parser here is written against
 * PostgreSQL's own text output (with the fixed session settings) first and
 * the decoder's literal forms second; anything else is rejected rather than
 * guessed, because a guess that differs between the two sides would show up
 * as a false mismatch that nobody can explain.
 */
#include "cdc/canon.h"

#include <stdio.h>

#include "canon_int.h"

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

/* Drops what a failed payload writer appended after @p start. */
static void unwind(cdc_buf_t *out, size_t start)
{
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
}

static int encode_scalar(cdc_canon_kind_t kind, span_t s, cdc_buf_t *out)
{
    /* Fast paths for the kinds whose payload is the input itself: no copy
     * through a temporary. */
    if (kind == CDC_CANON_TEXT || kind == CDC_CANON_OTHER) {
        put_frame(out, canon_kind_tag(kind), s.p, s.n);
        return 0;
    }
    if (kind == CDC_CANON_BPCHAR) {
        while (s.n && s.p[s.n - 1] == ' ')
            s.n--;
        put_frame(out, canon_kind_tag(kind), s.p, s.n);
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
        unwind(out, start);
        return -1;
    }
    canon_frame_from(out, start, canon_kind_tag(kind));
    return 0;
}

int canon_encode_value(const cdc_canon_type_t *t, span_t s, cdc_buf_t *out, int nest)
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
        tag = CANON_TAG_ARRAY;
    } else if (t->kind == CDC_CANON_COMPOSITE) {
        rc = canon_record(t, s, out, nest);
        tag = canon_kind_tag(t->kind);
    } else {
        rc = canon_range(t, s, out, nest);
        tag = canon_kind_tag(t->kind);
    }
    if (rc) {
        unwind(out, start);
        return -1;
    }
    canon_frame_from(out, start, tag);
    return 0;
}

int cdc_canon_encode(cdc_canon_type_t type, const char *text, size_t len, cdc_buf_t *out,
                     char *errstr, size_t errstr_size)
{
    if (!text) {
        cdc_buf_putc(out, CANON_TAG_NULL);
        return 0;
    }
    if (canon_encode_value(&type, (span_t){text, len}, out, 0)) {
        seterr(errstr, errstr_size, type.kind, text, len,
               type.is_array ? "not a valid array literal of this element type"
                             : "not a valid literal of this type");
        return -1;
    }
    return 0;
}
