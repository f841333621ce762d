/* Dead letters: a record that cannot be applied (--errors-tolerance all)
 * goes to <state>.dead_letter with its key, value and headers exactly as
 * read and the one-line reason, in the transaction that moves its offset
 * past it (invariant 3: nothing is lost, nothing applied twice). */
#include "writer_int.h"
#include "cdc/util.h"
#include "trace_ctx.h"

#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at @p p (at most @p n bytes; RFC
 * 3629: no overlongs, surrogates or code points above U+10FFFF), 0 when
 * invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return n >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return n >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

static bool utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len((const unsigned char *)s + i, n - i);
        if (!l || !s[i])
            return false; /* jsonb refuses \u0000 too */
        i += l;
    }
    return true;
}

static void put_hex(cdc_buf_t *out, const void *p, size_t n)
{
    for (size_t j = 0; j < n; j++)
        cdc_buf_printf(out, "%02x", ((const unsigned char *)p)[j]);
}

/* Headers as a JSON array, lossless whatever their bytes: per header
 * {"name": text, "hex": value bytes in hex or null}, where a name that is
 * not valid UTF-8 is given as "name_hex" instead (a raw copy of such a
 * name made the whole dead letter invalid JSON, so the record could not
 * be dead-lettered at all). */
static void headers_json(const cdc_record_t *rec, cdc_buf_t *out)
{
    cdc_buf_reset(out);
    cdc_buf_putc(out, '[');
    for (size_t i = 0; i < rec->nheaders; i++) {
        const cdc_header_t *h = &rec->headers[i];
        const char *name = h->name ? h->name : "";
        size_t nlen = strlen(name);
        cdc_buf_puts(out, i ? ",{" : "{");
        if (utf8_valid(name, nlen)) {
            cdc_buf_puts(out, "\"name\":\"");
            for (const char *p = name; *p; p++) {
                unsigned char ch = (unsigned char)*p;
                if (ch == '"' || ch == '\\')
                    cdc_buf_printf(out, "\\%c", ch);
                else if (ch < 0x20)
                    cdc_buf_printf(out, "\\u%04x", ch);
                else
                    cdc_buf_putc(out, (char)ch);
            }
        } else {
            cdc_buf_puts(out, "\"name_hex\":\"");
            put_hex(out, name, nlen);
        }
        cdc_buf_puts(out, "\",\"hex\":");
        if (!h->value) {
            cdc_buf_puts(out, "null}");
            continue;
        }
        cdc_buf_putc(out, '"');
        put_hex(out, h->value, h->len);
        cdc_buf_puts(out, "\"}");
    }
    cdc_buf_putc(out, ']');
}

/* @p s as valid UTF-8 (the error column is text): invalid bytes become
 * \xNN, so an error quoting record bytes never blocks its dead letter. */
static void utf8_text(const char *s, cdc_buf_t *out)
{
    cdc_buf_reset(out);
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len((const unsigned char *)s + i, n - i);
        if (l) {
            cdc_buf_append(out, s + i, l);
            i += l;
        } else {
            cdc_buf_printf(out, "\\x%02x", (unsigned char)s[i]);
            i++;
        }
    }
    cdc_buf_reserve(out, 0); /* data non-NULL even for "" */
}

int cdc_dead_letter_save(PGconn *conn, const char *qschema, const char *group, const cdc_batch_t *b,
                         cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    if (!b->ndead)
        return 0;
    cdc_buf_t q = CDC_BUF_INIT, hdr = CDC_BUF_INIT, etext = CDC_BUF_INIT;
    cdc_buf_printf(&q,
                   "INSERT INTO %s.dead_letter (group_id, topic, partition, kafka_offset, key, "
                   "value, headers, error, trace_id, span_id, trace_flags, tracestate) VALUES "
                   "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULLIF($12, ''))",
                   qschema);
    int rc = 0;
    for (size_t i = 0; i < b->nitems && rc == 0; i++) {
        const cdc_item_t *it = &b->items[i];
        if (!it->error)
            continue;
        char part[16], off[32];
        snprintf(part, sizeof(part), "%d", it->rec.partition);
        snprintf(off, sizeof(off), "%lld", (long long)it->rec.offset);
        headers_json(&it->rec, &hdr);
        utf8_text(it->error, &etext);
        /* The trace context, when the record carries a valid one. */
        cdc_trace_ctx_t tc;
        bool traced = it->rec.nheaders && cdc_trace_ctx_parse(&it->rec, &tc, NULL);
        char flags[8];
        snprintf(flags, sizeof(flags), "%d", traced ? tc.flags : 0);
        /* Key and value go as binary parameters: the raw bytes, exactly. */
        const char *params[12] = {group,
                                  it->rec.topic,
                                  part,
                                  off,
                                  it->rec.key,
                                  it->rec.value,
                                  hdr.data,
                                  etext.data,
                                  traced ? tc.trace_id : NULL,
                                  traced ? tc.span_id : NULL,
                                  traced ? flags : NULL,
                                  traced ? tc.tracestate : NULL};
        int lens[12] = {0, 0, 0, 0, (int)it->rec.key_len, (int)it->rec.value_len, 0, 0, 0, 0, 0, 0};
        int fmts[12] = {0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0};
        char err[CDC_ERRSTR_SIZE];
        PGresult *res = cdc_pg_exec_params(conn, q.data, 12, params, lens, fmts, PGRES_COMMAND_OK,
                                           cls, err, sizeof(err));
        rc = res ? 0 : -1;
        if (!res)
            snprintf(errstr, errstr_size, "%s[%d]@%lld: writing its dead letter: %s", it->rec.topic,
                     it->rec.partition, (long long)it->rec.offset, err);
        PQclear(res);
    }
    cdc_buf_free(&q);
    cdc_buf_free(&hdr);
    cdc_buf_free(&etext);
    return rc;
}
