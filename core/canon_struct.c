/*
 * The structured kinds from their text: array_out's braces, record_out's
 * parentheses and range_out's brackets, each part framed by its own type
 * through canon_encode_value().
 */
#include <stdlib.h>

#include "canon_int.h"

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
            canon_frame_from(out, start, CANON_TAG_ARRAY);
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
            int rc = canon_encode_value(elem, el, out, nest + 1);
            free(copy);
            if (rc)
                return -1;
        } else {
            size_t st = *i;
            while (*i < s.n && s.p[*i] != ',' && s.p[*i] != '}')
                (*i)++;
            span_t el = trim((span_t){s.p + st, *i - st});
            if (span_ieq(el, "null"))
                cdc_buf_putc(out, CANON_TAG_NULL);
            else if (canon_encode_value(elem, el, out, nest + 1))
                return -1;
        }
        while (*i < s.n && isspace((unsigned char)s.p[*i]))
            (*i)++;
        if (*i < s.n && s.p[*i] == ',')
            (*i)++;
    }
}

int canon_array(const cdc_canon_type_t *elem, span_t s, cdc_buf_t *out, int nest)
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
        put_frame(out, CANON_TAG_ARRAY_BOUNDS, s.p, (size_t)(eq - s.p));
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
int canon_record(const cdc_canon_type_t *t, span_t s, cdc_buf_t *out, int nest)
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
            cdc_buf_putc(out, CANON_TAG_NULL);
        else if (canon_encode_value(&t->sub[f], (span_t){tmp.data ? tmp.data : "", tmp.len}, out,
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
int canon_range(const cdc_canon_type_t *t, span_t s, cdc_buf_t *out, int nest)
{
    s = trim(s);
    if (span_ieq(s, "empty")) {
        cdc_buf_putc(out, CANON_RANGE_EMPTY);
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
            cdc_buf_putc(out, CANON_TAG_NULL);
        else if (canon_encode_value(&t->sub[0], (span_t){tmp.data ? tmp.data : "", tmp.len}, out,
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
