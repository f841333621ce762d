/* The hand-written Avro decoder (avro.c) against avro-c's generic reader
 * (decode/avro_generic.c): every Avro golden case under tests/fixtures/decode
 * and random datums of their schemas (and of one with the types the
 * fixtures lack: fixed, nested arrays, records in arrays, a recursive type),
 * encoded by avro-c, must be read the same way by both: both accept with
 * equal column values (op, before, after, or the flattened row), or both
 * refuse the bytes.
 *
 * Intended difference: none for framing-free datums. avro-c's reader does
 * not check what the decoder checks beyond the bytes (an op outside
 * c/u/d/r/t/m, a decimal PostgreSQL cannot hold): those are decoder
 * refusals of well-formed Avro, counted apart. */
#include "th.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#include "cdc/decode.h"
#include "decode/avro_generic.h"

typedef struct tally {
    int equal, both_refuse, decoder_only_refuses;
} tally_t;

/* One framed value through both readers. Returns 0 when they agree. */
static int crosscheck(const char *label, cdc_decoder_t *dec, dgen_t *g, const char *topic,
                      const uint8_t *value, size_t len, size_t hdr, tally_t *t, bool verbose)
{
    cdc_record_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.topic = topic;
    rec.offset = 42;
    rec.timestamp_ms = -1;
    rec.value = value;
    rec.value_len = len;
    cdc_event_t *ev = NULL;
    cdc_err_class_t cls;
    char err[1024], gerr[512] = "";
    int rc = cdc_decoder_decode(dec, &rec, &ev, &cls, err, sizeof(err));
    cdc_buf_t a = CDC_BUF_INIT, b = CDC_BUF_INIT;
    int grc = len >= hdr ? dgen_read(g, topic, value + hdr, len - hdr, gerr, sizeof(gerr)) : -1;
    int bad = 0;
    if (grc == 0)
        grc = dgen_render(g, &b, gerr, sizeof(gerr));
    if (rc == 0) {
        dgen_event_json(ev, dgen_is_envelope(g), &a);
        cdc_event_destroy(ev);
        if (grc != 0) {
            fprintf(stderr, "%s: the decoder accepts, avro-c refuses (%s): %s\n", label, gerr,
                    a.data);
            bad = 1;
        } else if (strcmp(a.data, b.data) != 0) {
            fprintf(stderr, "%s: values differ\n  decoder: %s\n  avro-c:  %s\n", label, a.data,
                    b.data);
            bad = 1;
        } else {
            t->equal++;
        }
    } else if (grc != 0) {
        t->both_refuse++;
        if (verbose)
            fprintf(stderr, "%s: both refuse\n  decoder: %s\n  avro-c:  %s\n", label, err, gerr);
    } else if (cls == CDC_ERR_POISON &&
               (strstr(err, "expected an op of") || strstr(err, "decimal PostgreSQL can hold"))) {
        t->decoder_only_refuses++; /* well-formed Avro the decoder refuses on purpose */
    } else {
        fprintf(stderr, "%s: avro-c accepts, the decoder refuses: %s\n  avro-c: %s\n", label, err,
                b.data);
        bad = 1;
    }
    cdc_buf_free(&a);
    cdc_buf_free(&b);
    th_failures += bad;
    return bad;
}

/* ---- random datums, encoded by avro-c ---- */

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *const ops[] = {"c", "u", "d", "r"};

static void rand_str(cdc_buf_t *b)
{
    static const char *const words[] = {
        "a",          "b c",   "",  "\"q\"", "x\\y",
        "NULL",       "{1,2}", "é", "k=>v",  "2018-06-20T13:37:03.03Z",
        "line\nbreak"};
    size_t n = rnd() % 3;
    for (size_t i = 0; i < n; i++)
        cdc_buf_puts(b, words[rnd() % (sizeof(words) / sizeof(words[0]))]);
}

static int rand_val(avro_value_t *v, const char *field, int depth)
{
    avro_schema_t s = avro_value_get_schema(v);
    cdc_buf_t b = CDC_BUF_INIT;
    int rc = 0;
    switch (avro_typeof(s)) {
    case AVRO_NULL: rc = avro_value_set_null(v); break;
    case AVRO_BOOLEAN: rc = avro_value_set_boolean(v, (int)(rnd() & 1)); break;
    case AVRO_INT32: rc = avro_value_set_int(v, (int32_t)(rnd() % 200000) - 100000); break;
    case AVRO_INT64:
        rc = avro_value_set_long(v, rnd() & 1 ? (int64_t)(rnd() % 4000000000000000u)
                                              : (int64_t)(rnd() % 1000) - 500);
        break;
    case AVRO_FLOAT: rc = avro_value_set_float(v, (float)(rnd() % 10000) / 8.0f); break;
    case AVRO_DOUBLE: rc = avro_value_set_double(v, (double)(rnd() % 100000) / 16.0 - 99.5); break;
    case AVRO_STRING:
        if (field && (strcmp(field, "op") == 0 || strcmp(field, "__op") == 0))
            cdc_buf_puts(&b, ops[rnd() % 4]);
        else if (field && strcmp(field, "__deleted") == 0)
            cdc_buf_puts(&b, rnd() & 1 ? "true" : "false");
        else
            rand_str(&b);
        rc = avro_value_set_string_len(v, b.data ? b.data : "", b.len + 1);
        break;
    case AVRO_BYTES: {
        uint8_t raw[16];
        size_t n = rnd() % sizeof(raw);
        for (size_t i = 0; i < n; i++)
            raw[i] = (uint8_t)rnd();
        rc = avro_value_set_bytes(v, raw, n);
        break;
    }
    case AVRO_FIXED: {
        uint8_t raw[64];
        size_t n = (size_t)avro_schema_fixed_size(s);
        for (size_t i = 0; i < n && i < sizeof(raw); i++)
            raw[i] = (uint8_t)rnd();
        rc = avro_value_set_fixed(v, raw, n);
        break;
    }
    case AVRO_ENUM:
        rc = avro_value_set_enum(v, (int)(rnd() % (uint64_t)avro_schema_enum_number_of_symbols(s)));
        break;
    case AVRO_RECORD: {
        size_t n = avro_schema_record_size(s);
        for (size_t i = 0; i < n && rc == 0; i++) {
            avro_value_t f;
            avro_value_get_by_index(v, i, &f, NULL);
            rc = rand_val(&f, avro_schema_record_field_name(s, (int)i), depth + 1);
        }
        break;
    }
    case AVRO_ARRAY:
    case AVRO_MAP: {
        size_t n = depth > 6 ? 0 : rnd() % 4;
        for (size_t i = 0; i < n && rc == 0; i++) {
            avro_value_t el;
            if (avro_typeof(s) == AVRO_ARRAY) {
                avro_value_append(v, &el, NULL);
            } else {
                char key[16];
                snprintf(key, sizeof(key), i & 1 ? "k%zu" : "\"k %zu\"", i);
                avro_value_add(v, key, &el, NULL, NULL);
            }
            rc = rand_val(&el, NULL, depth + 1);
        }
        break;
    }
    case AVRO_UNION: {
        size_t n = avro_schema_union_size(s);
        /* Deep down, take the null branch where there is one (ends recursion). */
        int pick = (int)(rnd() % n);
        for (size_t i = 0; depth > 6 && i < n; i++)
            if (avro_typeof(avro_schema_union_branch(s, (int)i)) == AVRO_NULL)
                pick = (int)i;
        avro_value_t br;
        avro_value_set_branch(v, pick, &br);
        rc = rand_val(&br, field, depth + 1);
        break;
    }
    default: rc = -1;
    }
    cdc_buf_free(&b);
    return rc;
}

static void random_datums(const char *label, const char *schema, size_t hdr, int rounds, tally_t *t)
{
    avro_schema_t s;
    TH_ASSERT(avro_schema_from_json_length(schema, strlen(schema), &s) == 0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(s);
    cdc_decoder_conf_t conf;
    memset(&conf, 0, sizeof(conf));
    conf.format = CDC_FORMAT_AVRO;
    conf.apicurio_8byte_id = hdr == 9;
    char err[512];
    cdc_decoder_t *dec = cdc_decoder_new(&conf, err, sizeof(err));
    TH_ASSERT(dec);
    TH_ASSERT(cdc_decoder_add_schema(dec, 1, schema, strlen(schema), err, sizeof(err)) == 0);
    dgen_t *g = dgen_new(schema, strlen(schema), NULL, err, sizeof(err));
    TH_ASSERT(g);
    static char buf[1 << 16];
    int failed = 0;
    for (int i = 0; i < rounds && failed < 3; i++) {
        avro_value_t val;
        avro_generic_value_new(iface, &val);
        TH_ASSERT(rand_val(&val, NULL, 0) == 0);
        avro_writer_t w = avro_writer_memory(buf + hdr, (int64_t)(sizeof(buf) - hdr));
        TH_ASSERT(avro_value_write(w, &val) == 0);
        size_t n = hdr + (size_t)avro_writer_tell(w);
        avro_writer_free(w);
        avro_value_decref(&val);
        memset(buf, 0, hdr);
        buf[hdr - 1] = 1;
        char lab[128];
        snprintf(lab, sizeof(lab), "%s random #%d", label, i);
        failed +=
            crosscheck(lab, dec, g, "dbserver1.public.t", (const uint8_t *)buf, n, hdr, t, false);
        /* Cut short: both must refuse. */
        if (n > hdr + 1) {
            snprintf(lab, sizeof(lab), "%s random #%d truncated", label, i);
            failed += crosscheck(lab, dec, g, "dbserver1.public.t", (const uint8_t *)buf,
                                 hdr + (size_t)(rnd() % (n - hdr)), hdr, t, false);
        }
    }
    dgen_destroy(g);
    cdc_decoder_destroy(dec);
    avro_value_iface_decref(iface);
    avro_schema_decref(s);
}

/* Types the golden schemas lack. */
static const char extra_schema[] =
    "{\"type\":\"record\",\"name\":\"Envelope\",\"namespace\":\"x.public.t\",\"fields\":["
    "{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Value\",\"fields\":["
    "{\"name\":\"id\",\"type\":{\"type\":\"int\",\"connect.type\":\"int16\"}},"
    "{\"name\":\"h\",\"type\":{\"type\":\"fixed\",\"name\":\"Hash\",\"size\":4}},"
    "{\"name\":\"h2\",\"type\":[\"null\",\"Hash\"]},"
    "{\"name\":\"grid\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":"
    "[\"null\",\"long\"]}}},"
    "{\"name\":\"mm\",\"type\":{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":"
    "\"string\"}}},"
    "{\"name\":\"recs\",\"type\":{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":"
    "\"Item\",\"fields\":[{\"name\":\"n\",\"type\":\"string\"},{\"name\":\"f\",\"type\":"
    "\"float\"}]}}},"
    "{\"name\":\"list\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
    "{\"name\":\"v\",\"type\":\"int\"},{\"name\":\"next\",\"type\":[\"null\",\"Node\"]}]}]},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Color\",\"namespace\":\"x.enums\","
    "\"symbols\":[\"RED\",\"GREEN\"]}},"
    "{\"name\":\"e2\",\"type\":\"x.enums.Color\"},"
    "{\"name\":\"geo\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Geometry\","
    "\"namespace\":\"io.debezium.data.geometry\",\"fields\":[{\"name\":\"wkb\",\"type\":"
    "\"bytes\"},{\"name\":\"srid\",\"type\":[\"null\",\"int\"]}],\"connect.name\":"
    "\"io.debezium.data.geometry.Geometry\"}]},"
    "{\"name\":\"d\",\"type\":{\"type\":\"int\",\"connect.name\":\"io.debezium.time.Date\"}},"
    "{\"name\":\"t\",\"type\":{\"type\":\"long\",\"connect.name\":"
    "\"io.debezium.time.MicroTime\"}},"
    "{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"raw\",\"type\":\"bytes\"}]}]},"
    "{\"name\":\"after\",\"type\":[\"null\",\"Value\"]},"
    "{\"name\":\"source\",\"type\":{\"type\":\"record\",\"name\":\"Source\",\"namespace\":"
    "\"io.debezium.connector.postgresql\",\"fields\":[{\"name\":\"db\",\"type\":\"string\"},"
    "{\"name\":\"schema\",\"type\":\"string\"},{\"name\":\"table\",\"type\":\"string\"},"
    "{\"name\":\"ts_ms\",\"type\":\"long\"}]}},"
    "{\"name\":\"op\",\"type\":\"string\"},{\"name\":\"ts_ms\",\"type\":[\"null\",\"long\"]}]}";

/* An Avro int beyond 32 bits is corrupt: avro-c refuses it, and so must the
 * decoder (it used to print the 64-bit value for an int column). */
static void int_beyond_32_bits(void)
{
    static const char schema[] = "{\"type\":\"record\",\"name\":\"Value\",\"namespace\":"
                                 "\"x.public.t\",\"fields\":[{\"name\":\"n\",\"type\":\"int\"}]}";
    char err[1024];
    cdc_decoder_t *dec = cdc_decoder_new(NULL, err, sizeof(err));
    TH_ASSERT(dec);
    TH_ASSERT(cdc_decoder_add_schema(dec, 1, schema, sizeof(schema) - 1, err, sizeof(err)) == 0);
    dgen_t *g = dgen_new(schema, sizeof(schema) - 1, NULL, err, sizeof(err));
    TH_ASSERT(g);
    /* zigzag(2^33) = 2^34: 0x80 0x80 0x80 0x80 0x40 */
    static const uint8_t v[] = {0, 0, 0, 0, 1, 0x80, 0x80, 0x80, 0x80, 0x40};
    tally_t t = {0, 0, 0};
    crosscheck("int beyond 32 bits", dec, g, "x.public.t", v, sizeof(v), 5, &t, true);
    TH_CHECK_INT(t.both_refuse, 1);
    cdc_record_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.topic = "x.public.t";
    rec.value = v;
    rec.value_len = sizeof(v);
    cdc_event_t *ev = NULL;
    cdc_err_class_t cls;
    TH_CHECK_INT(cdc_decoder_decode(dec, &rec, &ev, &cls, err, sizeof(err)), -1);
    TH_CHECK_STR(err, "x.public.t[0]@0: value.n: expected an Avro int (32 bits), found 8589934592 "
                      "(corrupt data or wrong schema id)");
    cdc_event_destroy(ev);
    dgen_destroy(g);
    cdc_decoder_destroy(dec);
}

int main(void)
{
    int_beyond_32_bits();
    char root[1024];
    snprintf(root, sizeof(root), "%s/tests/fixtures/decode", th_source_root());
    DIR *d = opendir(root);
    TH_ASSERT(d);
    struct dirent *de;
    tally_t golden = {0, 0, 0}, random = {0, 0, 0};
    int cases = 0;
    char *schemas[64];
    size_t hdrs[64];
    int nschemas = 0;
    while ((de = readdir(d))) {
        char path[2048];
        size_t slen, vlen, olen;
        snprintf(path, sizeof(path), "%s/%s/schema.avsc", root, de->d_name);
        char *schema = th_read_file(path, &slen);
        if (!schema)
            continue;
        snprintf(path, sizeof(path), "%s/%s/value.avro", root, de->d_name);
        char *value = th_read_file(path, &vlen);
        TH_ASSERT(value);
        snprintf(path, sizeof(path), "%s/%s/options", root, de->d_name);
        char *opts = th_read_file(path, &olen);
        char topic[256] = "dbserver1.public.t";
        bool eight = false;
        for (char *line = opts ? strtok(opts, "\n") : NULL; line; line = strtok(NULL, "\n")) {
            if (strncmp(line, "topic=", 6) == 0)
                snprintf(topic, sizeof(topic), "%s", line + 6);
            else if (strncmp(line, "apicurio8=", 10) == 0)
                eight = true;
        }
        free(opts);
        cdc_decoder_conf_t conf;
        memset(&conf, 0, sizeof(conf));
        conf.format = CDC_FORMAT_AVRO;
        conf.apicurio_8byte_id = eight;
        char err[512];
        cdc_decoder_t *dec = cdc_decoder_new(&conf, err, sizeof(err));
        TH_ASSERT(dec);
        TH_ASSERT(cdc_decoder_add_schema(dec, 1, schema, slen, err, sizeof(err)) == 0);
        dgen_t *g = dgen_new(schema, slen, NULL, err, sizeof(err));
        if (!g)
            fprintf(stderr, "%s: %s\n", de->d_name, err);
        TH_ASSERT(g);
        crosscheck(de->d_name, dec, g, topic, (const uint8_t *)value, vlen, eight ? 9 : 5, &golden,
                   true);
        cases++;
        dgen_destroy(g);
        cdc_decoder_destroy(dec);
        free(value);
        if (nschemas < 64) {
            hdrs[nschemas] = eight ? 9 : 5;
            schemas[nschemas++] = schema;
        } else {
            free(schema);
        }
    }
    closedir(d);
    fprintf(stderr,
            "%d Avro golden cases: %d read equal by both, %d refused by both, %d refused by the "
            "decoder only (on purpose)\n",
            cases, golden.equal, golden.both_refuse, golden.decoder_only_refuses);
    TH_CHECK(cases >= 7);
    TH_CHECK(golden.equal >= 5);
    for (int i = 0; i < nschemas; i++) {
        random_datums("golden schema", schemas[i], hdrs[i], 300, &random);
        free(schemas[i]);
    }
    random_datums("extra schema", extra_schema, 5, 2000, &random);
    fprintf(stderr,
            "random datums: %d read equal by both, %d refused by both, %d refused by the "
            "decoder only (on purpose)\n",
            random.equal, random.both_refuse, random.decoder_only_refuses);
    TH_CHECK(random.equal > 2000);
    TH_DONE();
}
