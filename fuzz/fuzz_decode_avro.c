/* libFuzzer: a fixed Debezium-shaped Avro schema (id 1) and arbitrary
 * datum bytes after the 5-byte framing.
 *
 * Differential: the same bytes are also read by avro-c's generic reader
 * (decode/avro_generic.c). Both accept with equal values, or both refuse;
 * anything else aborts. Intended differences, where only the decoder
 * refuses: an op outside c/u/d/r/t/m and a decimal PostgreSQL cannot hold
 * (well-formed Avro the decoder refuses on purpose), a boolean byte other
 * than 0 or 1 (avro-c takes any non-zero byte as true), and an enum index
 * outside the symbols (avro-c 1.11 keeps its low 32 bits and checks no
 * range); where both accept, a map with a key twice (avro-c's generic map
 * keeps one entry per key, the decoder hands every pair to hstore, which
 * keeps one) or with a NUL byte in a key (avro-c cuts the key there). Run with -detect_leaks=0:
 * avro-c 1.11 leaks the buffer of a string it cannot finish reading. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#include "cdc/decode.h"
#include "cdc/util.h"
#include "decode/avro_generic.h"

/* avro-c allocates a string or array for the length the bytes claim before
 * it reads them: refuse what no fuzz input can hold, so that a huge claimed
 * length is a refusal (as in the decoder) rather than an out-of-memory. */
static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (nsize > (64u << 20))
        return NULL;
    return realloc(ptr, nsize);
}

static bool intended(const char *err)
{
    return strstr(err, "expected an op") || strstr(err, "decimal PostgreSQL can hold") ||
           strstr(err, "expected a boolean byte 0 or 1") ||
           strstr(err, "expected an enum index below");
}

/* Cut every "m":"..." value out of @p s (in place); returns how many
 * hstore pairs those values held. */
static size_t cut_maps(char *s)
{
    size_t n = 0;
    for (char *p = s; (p = strstr(p, "\"m\":\"")) != NULL;) {
        char *v = p + 5, *q = v;
        while (*q && *q != '"')
            q += *q == '\\' && q[1] ? 2 : 1;
        for (char *k = v; k + 3 < q; k++)
            if (k[0] == '\\' && k[1] == '"' && k[2] == '=' && k[3] == '>')
                n++;
        memmove(v, q, strlen(q) + 1);
        p = v;
    }
    return n;
}

/* Do the two renderings differ only in the map field "m", where the decoder
 * shows more pairs than avro-c kept (a key written twice) or a key with a
 * NUL byte (avro-c's map keys are C strings, cut at the NUL)? */
static bool only_map_keys(const char *a, const char *b)
{
    char *ca = strdup(a), *cb = strdup(b);
    size_t na = cut_maps(ca), nb = cut_maps(cb);
    bool same = (na > nb || strstr(a, "\\u0000")) && strcmp(ca, cb) == 0;
    free(ca);
    free(cb);
    return same;
}

static const char schema[] =
    "{\"type\":\"record\",\"name\":\"Envelope\",\"namespace\":\"f.public.t\",\"fields\":["
    "{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Value\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"int\"},"
    "{\"name\":\"d\",\"type\":[\"null\",{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"scale\":"
    "2,"
    "\"precision\":10}]},"
    "{\"name\":\"ts\",\"type\":[\"null\",{\"type\":\"long\",\"connect.name\":"
    "\"io.debezium.time.MicroTimestamp\"}]},"
    "{\"name\":\"day\",\"type\":[\"null\",{\"type\":\"int\",\"connect.name\":\"io.debezium.time."
    "Date\"}]},"
    "{\"name\":\"s\",\"type\":[\"null\",\"string\"]},{\"name\":\"f\",\"type\":[\"null\",\"double\"]"
    "},"
    "{\"name\":\"a\",\"type\":[\"null\",{\"type\":\"array\",\"items\":[\"null\",\"string\"]}]},"
    "{\"name\":\"aa\",\"type\":[\"null\",{\"type\":\"array\",\"items\":{\"type\":\"array\","
    "\"items\":"
    "\"long\"}}]},"
    "{\"name\":\"m\",\"type\":[\"null\",{\"type\":\"map\",\"values\":\"string\"}]},"
    "{\"name\":\"v\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"VariableScaleDecimal\","
    "\"namespace\":\"io.debezium.data\",\"fields\":[{\"name\":\"scale\",\"type\":\"int\"},"
    "{\"name\":\"value\",\"type\":\"bytes\"}]}]},"
    "{\"name\":\"e\",\"type\":[\"null\",{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]"
    "}]},"
    "{\"name\":\"x\",\"type\":[\"null\",{\"type\":\"fixed\",\"name\":\"F\",\"size\":3}]},"
    "{\"name\":\"b\",\"type\":[\"null\",\"boolean\"]}]}]},"
    "{\"name\":\"after\",\"type\":[\"null\",\"Value\"]},"
    "{\"name\":\"source\",\"type\":{\"type\":\"record\",\"name\":\"Source\",\"fields\":["
    "{\"name\":\"db\",\"type\":\"string\"},{\"name\":\"table\",\"type\":\"string\"},"
    "{\"name\":\"ts_ms\",\"type\":\"long\"}]}},"
    "{\"name\":\"op\",\"type\":\"string\"},{\"name\":\"ts_ms\",\"type\":[\"null\",\"long\"]}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cdc_decoder_t *dec;
    static dgen_t *gen;
    static uint8_t *buf;
    static size_t cap;
    if (!dec) {
        avro_set_allocator(capped_alloc, NULL);
        gen = dgen_new(schema, sizeof(schema) - 1, NULL, NULL, 0);
        if (!gen)
            abort();
        cdc_decoder_conf_t conf;
        memset(&conf, 0, sizeof(conf));
        conf.format = CDC_FORMAT_AVRO;
        dec = cdc_decoder_new(&conf, NULL, 0);
        if (cdc_decoder_add_schema(dec, 1, schema, sizeof(schema) - 1, NULL, 0) != 0)
            abort();
    }
    if (size + 5 > cap) {
        cap = size + 5;
        buf = realloc(buf, cap);
    }
    static const uint8_t hdr[5] = {0, 0, 0, 0, 1};
    memcpy(buf, hdr, 5);
    memcpy(buf + 5, data, size);
    cdc_record_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.topic = "fuzz.public.t";
    rec.value = buf;
    rec.value_len = size + 5;
    cdc_event_t *ev = NULL;
    cdc_err_class_t cls;
    char err[CDC_ERRSTR_SIZE];
    int rc = cdc_decoder_decode(dec, &rec, &ev, &cls, err, sizeof(err));
    char gerr[512] = "";
    cdc_buf_t a = CDC_BUF_INIT, b = CDC_BUF_INIT;
    int grc = dgen_read(gen, rec.topic, buf + 5, size, gerr, sizeof(gerr));
    if (grc == 0)
        grc = dgen_render(gen, &b, gerr, sizeof(gerr));
    if (rc == 0) {
        cdc_buf_t out = CDC_BUF_INIT;
        cdc_event_to_json(ev, &out);
        cdc_buf_free(&out);
        dgen_event_json(ev, true, &a);
        cdc_event_destroy(ev);
        if (grc != 0 || (strcmp(a.data, b.data) != 0 && !only_map_keys(a.data, b.data))) {
            fprintf(stderr, "decoder accepts: %s\navro-c: %s%s\n", a.data, grc ? "refuses: " : "",
                    grc ? gerr : b.data);
            abort();
        }
    } else if (grc == 0 && !intended(err)) {
        fprintf(stderr, "decoder refuses: %s\navro-c accepts: %s\n", err, b.data);
        abort();
    }
    cdc_buf_free(&a);
    cdc_buf_free(&b);
    return 0;
}
