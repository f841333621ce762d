/* Wire framing, read by the decoder before a front end sees the bytes:
 * the Schema Registry header of Avro values (Confluent's 0x00 + 4-byte id,
 * Apicurio 2.x's 8-byte globalId) and the JsonConverter wrapper
 * {"schema": S, "payload": P}, whose spans are found without a full parse.
 *
 * The schema is 2-5 KB of every message and identical for every message of
 * a table version, so it is never parsed on the hot path: a message whose
 * schema bytes equal a recently used schema's is matched with one memcmp
 * (dframe_json_prefix); otherwise the small scanner below finds the byte
 * span of the top-level "schema" value, whose hash selects the compiled
 * schema in the cache. */
#include "decode_int.h"

#include <string.h>

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

bool dframe_json_split(const char *p, size_t n, dspan_t *schema, dspan_t *payload)
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

/* Whether @p p (before @p e) starts with the key @p lit (quoted) and a
 * colon, whitespace allowed around it; returns what follows, or NULL. */
static const char *json_key(const char *p, const char *e, const char *lit, size_t n)
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
 * one message to the next, so they are the cached ones). Those bytes are a
 * complete JSON value, so the span the scanner would find is the same; the
 * payload is taken as everything up to the document's last '}', which the
 * single-pass scanner then checks is exactly one value (or
 * dframe_json_one_value()). *stop when the bytes matched but the rest does
 * not look wrapped, or the frame does not start like one (no other
 * recently used schema can match either). */
bool dframe_json_prefix(const char *p, size_t n, const char *bytes, size_t len, dspan_t *payload,
                        bool *stop)
{
    const char *e = p + n, *s = sk_ws(p, e);
    *stop = true;
    if (s >= e || *s != '{')
        return false;
    s = json_key(sk_ws(s + 1, e), e, "\"schema\"", 8);
    if (!s)
        return false;
    *stop = false;
    if ((size_t)(e - s) < len || memcmp(s, bytes, len) != 0)
        return false;
    *stop = true;
    const char *q = sk_ws(s + len, e);
    if (q >= e || *q != ',')
        return false;
    q = json_key(sk_ws(q + 1, e), e, "\"payload\"", 9);
    if (!q)
        return false;
    while (e > q && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t'))
        e--;
    if (e <= q || e[-1] != '}')
        return false;
    e--;
    while (e > q && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t'))
        e--;
    payload->p = q;
    payload->n = (size_t)(e - q);
    return true;
}

bool dframe_json_one_value(dspan_t s)
{
    const char *e = s.p + s.n, *q = sk_val(s.p, e);
    return q && q != s.p && sk_ws(q, e) == e;
}

size_t dframe_avro(const uint8_t *p, size_t n, bool eight, int64_t *id)
{
    size_t hdr = eight ? 9 : 5;
    if (n < hdr || p[0] != 0)
        return 0;
    uint64_t v = 0;
    for (size_t i = 1; i < hdr; i++)
        v = v << 8 | p[i];
    *id = (int64_t)v;
    return hdr;
}
