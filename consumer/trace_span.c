/* The span of one batch as OTLP JSON (see trace_span.h). OTLP's JSON
 * encoding: ids as lowercase hex strings, 64-bit integers (times, intValue)
 * as decimal strings, enums (kind, status code) as numbers. */
#include "trace_span.h"

#include "trace_ctx.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* OTLP's Span.SpanKind and Status.StatusCode. */
#define SPAN_KIND_CONSUMER 5
#define STATUS_CODE_ERROR  2
/* Link.flags: the W3C flags, and "the context is remote" (bits 8 and 9). */
#define LINK_FLAGS_REMOTE 0x300

/* @p s as a JSON string; bytes that are not UTF-8 (a record's bytes quoted
 * in an error) become '?', which a status message can afford. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (j)
        return j;
    char *c = strdup(s);
    if (!c)
        return NULL;
    for (char *p = c; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(c);
    free(c);
    return j;
}

static void attr(json_t *list, const char *key, json_t *value_obj)
{
    json_array_append_new(list, json_pack("{s:s,s:o}", "key", key, "value", value_obj));
}

static void attr_str(json_t *list, const char *key, const char *v)
{
    attr(list, key, json_pack("{s:o}", "stringValue", jstr(v)));
}

static void attr_int(json_t *list, const char *key, long long v)
{
    char s[32];
    snprintf(s, sizeof(s), "%lld", v);
    attr(list, key, json_pack("{s:s}", "intValue", s));
}

static void random_hex(char *out, size_t nbytes)
{
    unsigned char r[16];
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(r + got, nbytes - got, 0);
        if (n > 0)
            got += (size_t)n;
    }
    /* All zero is invalid: never in practice, but cheap to rule out. */
    bool zero = true;
    for (size_t i = 0; i < nbytes; i++)
        zero = zero && !r[i];
    if (zero)
        r[0] = 1;
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static json_t *link_of(const cdc_trace_ctx_t *c, const cdc_record_t *rec)
{
    json_t *la = json_array();
    attr_str(la, "messaging.destination.name", rec->topic);
    char p[16];
    snprintf(p, sizeof(p), "%d", rec->partition);
    attr_str(la, "messaging.destination.partition.id", p);
    attr_int(la, "messaging.kafka.offset", (long long)rec->offset);
    json_t *l = json_pack("{s:s,s:s,s:i,s:o}", "traceId", c->trace_id, "spanId", c->span_id,
                          "flags", (int)(c->flags | LINK_FLAGS_REMOTE), "attributes", la);
    if (c->tracestate[0])
        json_object_set_new(l, "traceState", json_string(c->tracestate));
    return l;
}

/* The batch's topics, distinct, joined by ','. */
static char *topics_of(const cdc_batch_t *b)
{
    size_t len = 1;
    for (size_t i = 0; i < b->nparts; i++)
        len += strlen(b->parts[i].topic) + 1;
    char *s = calloc(1, len);
    if (!s)
        return NULL;
    for (size_t i = 0; i < b->nparts; i++) {
        const char *t = b->parts[i].topic;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(b->parts[j].topic, t);
        if (seen)
            continue;
        if (*s)
            strcat(s, ",");
        strcat(s, t);
    }
    return s;
}

char *cdc_trace_span_json(const cdc_trace_span_in_t *in)
{
    const cdc_batch_t *b = in->b;
    char trace_id[33], span_id[17], t0[32], t1[32];
    random_hex(trace_id, 16);
    random_hex(span_id, 8);
    snprintf(t0, sizeof(t0), "%lld", (long long)in->start_ns);
    snprintf(t1, sizeof(t1), "%lld", (long long)in->end_ns);
    char *topics = topics_of(b);
    if (!topics)
        return NULL;
    bool one_topic = !strchr(topics, ',');
    char name[300];
    snprintf(name, sizeof(name), one_topic && *topics ? "process %.280s" : "process", topics);

    json_t *at = json_array();
    attr_str(at, "messaging.system", "kafka");
    attr_str(at, "messaging.operation.name", "process");
    attr_str(at, "messaging.operation.type", "process");
    attr_str(at, "messaging.destination.name", topics);
    if (b->nparts == 1) {
        char p[16];
        snprintf(p, sizeof(p), "%d", b->parts[0].partition);
        attr_str(at, "messaging.destination.partition.id", p);
    }
    attr_str(at, "messaging.consumer.group.name", in->group);
    attr_int(at, "messaging.batch.message_count", (long long)in->upto);
    attr_str(at, "db.system", "postgresql");
    attr_str(at, "db.system.name", "postgresql");
    if (in->db)
        attr_str(at, "db.namespace", in->db);

    /* Offsets of the processed records, per partition, and their links. */
    json_t *links = json_array(), *offs = json_array();
    size_t dropped = 0, dead = 0;
    for (size_t p = 0; p < b->nparts; p++) {
        const cdc_part_range_t *r = &b->parts[p];
        int64_t lo = -1, hi = -1;
        for (size_t i = 0; i < in->upto && i < b->nitems; i++) {
            const cdc_record_t *rec = &b->items[i].rec;
            if (rec->partition != r->partition || strcmp(rec->topic, r->topic))
                continue;
            if (lo < 0)
                lo = rec->offset;
            hi = rec->offset;
        }
        if (lo < 0)
            continue;
        char s[300];
        snprintf(s, sizeof(s), "%.250s[%d]@%lld-%lld", r->topic, r->partition, (long long)lo,
                 (long long)hi);
        json_array_append_new(offs, json_pack("{s:s}", "stringValue", s));
    }
    for (size_t i = 0; i < in->upto && i < b->nitems; i++) {
        const cdc_item_t *it = &b->items[i];
        if (it->error)
            dead++;
        cdc_trace_ctx_t c;
        if (!it->rec.nheaders || !cdc_trace_ctx_parse(&it->rec, &c, NULL))
            continue;
        if (json_array_size(links) >= CDC_TRACE_MAX_LINKS)
            dropped++;
        else
            json_array_append_new(links, link_of(&c, &it->rec));
    }
    attr(at, "cdc.kafka.offsets", json_pack("{s:{s:o}}", "arrayValue", "values", offs));
    attr_int(at, "cdc.dead_letters", (long long)dead);
    attr_int(at, "cdc.links_dropped", (long long)dropped);
    if (in->error_type)
        attr_str(at, "error.type", in->error_type);

    json_t *span = json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:o,s:o,s:i}", "traceId", trace_id, "spanId",
                             span_id, "name", name, "kind", SPAN_KIND_CONSUMER, "startTimeUnixNano",
                             t0, "endTimeUnixNano", t1, "attributes", at, "links", links,
                             "droppedLinksCount", (int)dropped);
    if (span && in->error_type)
        json_object_set_new(span, "status",
                            json_pack("{s:i,s:o}", "code", STATUS_CODE_ERROR, "message",
                                      jstr(in->error ? in->error : in->error_type)));
    char *out = span ? json_dumps(span, JSON_COMPACT) : NULL;
    json_decref(span);
    free(topics);
    return out;
}
