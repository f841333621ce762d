/* W3C trace context from a record's headers (see trace_ctx.h). */
#include "trace_ctx.h"

#include <string.h>
#include <strings.h>

static const char *const invalid_names[CDC_TRACE_INVALID_COUNT_] = {
    [CDC_TRACE_OK] = "ok",
    [CDC_TRACE_MALFORMED] = "malformed",
    [CDC_TRACE_BAD_VERSION] = "bad_version",
    [CDC_TRACE_ZERO_TRACE] = "zero_trace_id",
    [CDC_TRACE_ZERO_SPAN] = "zero_parent_id",
    [CDC_TRACE_BAD_STATE] = "bad_tracestate",
    [CDC_TRACE_NO_PARENT] = "tracestate_without_traceparent",
};

const char *cdc_trace_invalid_name(cdc_trace_invalid_t why)
{
    return (unsigned)why < CDC_TRACE_INVALID_COUNT_ ? invalid_names[why] : "malformed";
}

static bool lchex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* @p n lowercase hex digits at @p p into @p out (NUL-terminated); false
 * when one is not. *zero tells whether all were '0'. */
static bool hex_field(const char *p, size_t n, char *out, bool *zero)
{
    *zero = true;
    for (size_t i = 0; i < n; i++) {
        if (!lchex(p[i]))
            return false;
        if (p[i] != '0')
            *zero = false;
        out[i] = p[i];
    }
    out[n] = '\0';
    return true;
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

cdc_trace_invalid_t cdc_trace_parse_traceparent(const char *v, size_t len, cdc_trace_ctx_t *out)
{
    /* 00-<32 hex>-<16 hex>-<2 hex>: 2+1+32+1+16+1+2 = 55 */
    if (!v || len < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
        return CDC_TRACE_MALFORMED;
    if (!lchex(v[0]) || !lchex(v[1]) || !lchex(v[53]) || !lchex(v[54]))
        return CDC_TRACE_MALFORMED;
    if (v[0] == 'f' && v[1] == 'f')
        return CDC_TRACE_BAD_VERSION;
    bool v00 = v[0] == '0' && v[1] == '0';
    /* Version 00 is exactly this long; a later version may append fields
     * after a '-', which a 00 parser ignores. */
    if ((v00 && len != 55) || (!v00 && len > 55 && v[55] != '-'))
        return CDC_TRACE_MALFORMED;
    cdc_trace_ctx_t c;
    bool zt, zs;
    if (!hex_field(v + 3, 32, c.trace_id, &zt) || !hex_field(v + 36, 16, c.span_id, &zs))
        return CDC_TRACE_MALFORMED;
    if (zt)
        return CDC_TRACE_ZERO_TRACE;
    if (zs)
        return CDC_TRACE_ZERO_SPAN;
    memcpy(out->trace_id, c.trace_id, sizeof(c.trace_id));
    memcpy(out->span_id, c.span_id, sizeof(c.span_id));
    out->flags = (uint8_t)(hexval(v[53]) * 16 + hexval(v[54]));
    return CDC_TRACE_OK;
}

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
           c == '/';
}

/* simple-key = lcalpha 0*255(keychar); multi-tenant-key = (lcalpha /
 * DIGIT) 0*240(keychar) "@" lcalpha 0*13(keychar). */
static bool valid_key(const char *k, size_t n)
{
    const char *at = memchr(k, '@', n);
    if (!n)
        return false;
    if (!at) {
        if (n > 256 || !(k[0] >= 'a' && k[0] <= 'z'))
            return false;
        for (size_t i = 1; i < n; i++)
            if (!key_char(k[i]))
                return false;
        return true;
    }
    size_t tn = (size_t)(at - k), sn = n - tn - 1;
    if (!tn || tn > 241 || !sn || sn > 14 || !(at[1] >= 'a' && at[1] <= 'z'))
        return false;
    if (!((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= '0' && k[0] <= '9')))
        return false;
    for (size_t i = 1; i < tn; i++)
        if (!key_char(k[i]))
            return false;
    for (size_t i = 2; i < sn + 1; i++)
        if (!key_char(at[i]))
            return false;
    return true;
}

/* value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr; nblk-chr = printable
 * ASCII except ',' and '='. */
static bool valid_value(const char *v, size_t n)
{
    if (!n || n > 256 || v[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++)
        if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
            return false;
    return true;
}

typedef struct member {
    const char *p;
    size_t n, keylen;
} member_t;

bool cdc_trace_parse_tracestate(const char *v, size_t len, char *out)
{
    member_t m[32];
    size_t nm = 0;
    out[0] = '\0';
    for (size_t i = 0; i <= len;) {
        size_t j = i;
        while (j < len && v[j] != ',')
            j++;
        size_t a = i, b = j; /* trim OWS */
        while (a < b && (v[a] == ' ' || v[a] == '\t'))
            a++;
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
            b--;
        if (b > a) {
            const char *eq = memchr(v + a, '=', b - a);
            if (!eq || nm == 32)
                return false;
            size_t kl = (size_t)(eq - (v + a));
            if (!valid_key(v + a, kl) || !valid_value(eq + 1, b - a - kl - 1))
                return false;
            for (size_t k = 0; k < nm; k++) /* keys are unique */
                if (m[k].keylen == kl && !memcmp(m[k].p, v + a, kl))
                    return false;
            m[nm++] = (member_t){v + a, b - a, kl};
        }
        i = j + 1;
    }
    /* Over the limit: drop members over 128 characters, then from the end. */
    size_t total = 0;
    for (size_t k = 0; k < nm; k++)
        total += m[k].n + (k ? 1 : 0);
    for (size_t k = 0; k < nm && total > CDC_TRACESTATE_MAX;) {
        if (m[k].n > 128) {
            total -= m[k].n + (nm > 1 ? 1 : 0);
            memmove(&m[k], &m[k + 1], (nm - k - 1) * sizeof(*m));
            nm--;
        } else {
            k++;
        }
    }
    while (nm && total > CDC_TRACESTATE_MAX) {
        nm--;
        total -= m[nm].n + (nm ? 1 : 0);
    }
    size_t o = 0;
    for (size_t k = 0; k < nm; k++) {
        if (k)
            out[o++] = ',';
        memcpy(out + o, m[k].p, m[k].n);
        o += m[k].n;
    }
    out[o] = '\0';
    return true;
}

bool cdc_trace_ctx_parse(const cdc_record_t *rec, cdc_trace_ctx_t *out, cdc_trace_invalid_t *why)
{
    const cdc_header_t *tp = NULL, *ts = NULL;
    cdc_trace_invalid_t w = CDC_TRACE_OK;
    for (size_t i = 0; i < rec->nheaders; i++) {
        const char *name = rec->headers[i].name;
        if (name && !strcasecmp(name, "traceparent"))
            tp = &rec->headers[i];
        else if (name && !strcasecmp(name, "tracestate"))
            ts = &rec->headers[i];
    }
    bool ok = false;
    if (tp) {
        w = cdc_trace_parse_traceparent(tp->value, tp->value ? tp->len : 0, out);
        ok = w == CDC_TRACE_OK;
    } else if (ts) {
        w = CDC_TRACE_NO_PARENT;
    }
    if (ok) {
        out->tracestate[0] = '\0';
        if (ts && ts->value && !cdc_trace_parse_tracestate(ts->value, ts->len, out->tracestate))
            w = CDC_TRACE_BAD_STATE;
    }
    if (why)
        *why = w;
    return ok;
}
