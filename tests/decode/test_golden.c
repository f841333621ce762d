/* Golden tests of the decoder: every directory under tests/fixtures/decode
 * is one case.
 *
 *   value.json          the record value (absent: null value, a tombstone)
 *   key.json            the record key (optional)
 *   schema.avsc +
 *   datum.json          Avro case: datum.json (natural JSON; bytes as base64,
 *                       unions pick the first branch that fits) is encoded by
 *                       avro-c, independently of our decoder, framed with
 *                       schema id 1 and written to value.avro
 *   options             key=value lines: topic, format, placeholder,
 *                       null_is_delete, types, value_file (relative path),
 *                       lookup=col:type (schemaless type hints), apicurio8,
 *                       decimal_handling, binary_handling, time_precision
 *                       (the connector modes, for schemaless records)
 *   expected.json       the cdc_event_to_json line, or
 *   expected.err        "<class>: <error message>"
 *
 * CDC_GOLDEN_UPDATE=1 rewrites the expected files (review the diff!). */
#include "th.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>
#include <jansson.h>

#include "cdc/decode.h"
#include "cdc/util.h"
#include "decode/decode_int.h" /* ddec_set_fastpath */

static void spit(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    TH_ASSERT(f);
    fwrite(data, 1, len, f);
    fclose(f);
}

typedef struct lookup_tab {
    char col[16][64];
    char type[16][64];
    int n;
} lookup_tab_t;

static int lookup(void *opaque, const cdc_type_query_t *q, const char **type, cdc_err_class_t *cls,
                  char *errstr, size_t errstr_size)
{
    (void)cls;
    (void)errstr;
    (void)errstr_size;
    lookup_tab_t *t = opaque;
    *type = NULL;
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->col[i], q->column) == 0)
            *type = t->type[i];
    return 0;
}

/* ---- Avro encoding with avro-c (an independent implementation) ---- */

static int b64(const char *s, cdc_buf_t *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        const char *p = strchr(tab, *s);
        if (!p)
            return -1;
        acc = acc << 6 | (uint32_t)(p - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            cdc_buf_putc(out, (char)(acc >> bits));
        }
    }
    return 0;
}

static bool fits(avro_schema_t s, json_t *v)
{
    switch (avro_typeof(s)) {
    case AVRO_NULL: return json_is_null(v);
    case AVRO_BOOLEAN: return json_is_boolean(v);
    case AVRO_INT32:
    case AVRO_INT64: return json_is_integer(v);
    case AVRO_FLOAT:
    case AVRO_DOUBLE: return json_is_number(v);
    case AVRO_STRING:
    case AVRO_BYTES:
    case AVRO_ENUM:
    case AVRO_FIXED: return json_is_string(v);
    case AVRO_ARRAY: return json_is_array(v);
    case AVRO_MAP:
    case AVRO_RECORD: return json_is_object(v);
    case AVRO_LINK: return fits(avro_schema_link_target(s), v);
    default: return false;
    }
}

static int set_val(avro_value_t *val, json_t *v)
{
    avro_schema_t s = avro_value_get_schema(val);
    switch (avro_typeof(s)) {
    case AVRO_NULL: return avro_value_set_null(val);
    case AVRO_BOOLEAN: return avro_value_set_boolean(val, json_is_true(v));
    case AVRO_INT32: return avro_value_set_int(val, (int32_t)json_integer_value(v));
    case AVRO_INT64: return avro_value_set_long(val, json_integer_value(v));
    case AVRO_FLOAT: return avro_value_set_float(val, (float)json_number_value(v));
    case AVRO_DOUBLE: return avro_value_set_double(val, json_number_value(v));
    case AVRO_STRING:
        return avro_value_set_string_len(val, json_string_value(v), json_string_length(v) + 1);
    case AVRO_BYTES: {
        cdc_buf_t b = CDC_BUF_INIT;
        b64(json_string_value(v), &b);
        int rc = avro_value_set_bytes(val, b.data ? b.data : (char *)"", b.len);
        cdc_buf_free(&b);
        return rc;
    }
    case AVRO_ENUM:
        return avro_value_set_enum(val, avro_schema_enum_get_by_name(s, json_string_value(v)));
    case AVRO_RECORD: {
        size_t n = avro_schema_record_size(s);
        for (size_t i = 0; i < n; i++) {
            avro_value_t f;
            avro_value_get_by_index(val, i, &f, NULL);
            const char *name = avro_schema_record_field_name(s, (int)i);
            json_t *fv = json_object_get(v, name);
            if (set_val(&f, fv ? fv : json_null()) != 0)
                return -1;
        }
        return 0;
    }
    case AVRO_ARRAY: {
        for (size_t i = 0; i < json_array_size(v); i++) {
            avro_value_t el;
            avro_value_append(val, &el, NULL);
            if (set_val(&el, json_array_get(v, i)) != 0)
                return -1;
        }
        return 0;
    }
    case AVRO_MAP: {
        const char *k;
        json_t *mv;
        json_object_foreach(v, k, mv)
        {
            avro_value_t el;
            avro_value_add(val, k, &el, NULL, NULL);
            if (set_val(&el, mv) != 0)
                return -1;
        }
        return 0;
    }
    case AVRO_UNION: {
        size_t n = avro_schema_union_size(s);
        for (size_t i = 0; i < n; i++) {
            if (fits(avro_schema_union_branch(s, (int)i), v)) {
                avro_value_t br;
                avro_value_set_branch(val, (int)i, &br);
                return set_val(&br, v);
            }
        }
        return -1;
    }
    default: return -1;
    }
}

/* Frame (0x00 + id) and encode @p datum with avro-c. */
static int avro_encode(const char *schema_text, json_t *datum, int64_t id, bool eight,
                       cdc_buf_t *out)
{
    avro_schema_t s;
    if (avro_schema_from_json_length(schema_text, strlen(schema_text), &s) != 0) {
        fprintf(stderr, "avro-c: %s\n", avro_strerror());
        return -1;
    }
    avro_value_iface_t *iface = avro_generic_class_from_schema(s);
    avro_value_t val;
    avro_generic_value_new(iface, &val);
    int rc = set_val(&val, datum);
    static char buf[1 << 20];
    avro_writer_t w = avro_writer_memory(buf, sizeof(buf));
    if (rc == 0)
        rc = avro_value_write(w, &val);
    if (rc == 0) {
        cdc_buf_putc(out, 0);
        for (int i = eight ? 7 : 3; i >= 0; i--)
            cdc_buf_putc(out, (char)(id >> (8 * i)));
        cdc_buf_append(out, buf, (size_t)avro_writer_tell(w));
    } else {
        fprintf(stderr, "avro-c encode: %s\n", avro_strerror());
    }
    avro_writer_free(w);
    avro_value_decref(&val);
    avro_value_iface_decref(iface);
    avro_schema_decref(s);
    return rc;
}

/* Decode @p rec and append the cdc_event_to_json line or "<class>: <error>". */
static void decode_line(cdc_decoder_t *dec, const cdc_record_t *rec, const cdc_type_lookup_t *lk,
                        unsigned flags, cdc_buf_t *got)
{
    cdc_event_t *ev = NULL;
    cdc_err_class_t cls;
    char err[CDC_ERRSTR_SIZE];
    if (cdc_decoder_decode_with(dec, rec, lk, &ev, &cls, err, sizeof(err)) == 0) {
        cdc_event_to_json_ext(ev, got, flags);
        cdc_event_destroy(ev);
    } else {
        cdc_buf_printf(got, "%s: %s", cdc_err_class_name(cls), err);
    }
    cdc_buf_putc(got, '\n');
}

static void run_case(const char *root, const char *name, bool update)
{
    char dir[1024], path[2048];
    snprintf(dir, sizeof(dir), "%.500s/%.200s", root, name);
    cdc_decoder_conf_t conf;
    memset(&conf, 0, sizeof(conf));
    char topic[256] = "dbserver1.public.t", value_file[512] = "", placeholder[256] = "";
    unsigned flags = 0;
    lookup_tab_t lt;
    memset(&lt, 0, sizeof(lt));
    size_t len;
    snprintf(path, sizeof(path), "%s/options", dir);
    char *opts = th_read_file(path, &len);
    if (opts) {
        for (char *line = strtok(opts, "\n"); line; line = strtok(NULL, "\n")) {
            char *eq = strchr(line, '=');
            if (!eq)
                continue;
            *eq = '\0';
            const char *v = eq + 1;
            if (strcmp(line, "topic") == 0)
                snprintf(topic, sizeof(topic), "%s", v);
            else if (strcmp(line, "value_file") == 0)
                snprintf(value_file, sizeof(value_file), "%s", v);
            else if (strcmp(line, "placeholder") == 0)
                snprintf(placeholder, sizeof(placeholder), "%s", v);
            else if (strcmp(line, "format") == 0)
                conf.format = strcmp(v, "json") == 0   ? CDC_FORMAT_JSON
                              : strcmp(v, "avro") == 0 ? CDC_FORMAT_AVRO
                                                       : CDC_FORMAT_AUTO;
            else if (strcmp(line, "null_is_delete") == 0)
                conf.null_value_is_delete = true;
            else if (strcmp(line, "apicurio8") == 0)
                conf.apicurio_8byte_id = true;
            else if (strcmp(line, "decimal_handling") == 0)
                conf.decimal_handling = strcmp(v, "string") == 0   ? CDC_DECIMAL_STRING
                                        : strcmp(v, "double") == 0 ? CDC_DECIMAL_DOUBLE
                                                                   : CDC_DECIMAL_PRECISE;
            else if (strcmp(line, "binary_handling") == 0)
                conf.binary_handling = strcmp(v, "hex") == 0 ? CDC_BINARY_HEX
                                       : strcmp(v, "base64-url-safe") == 0
                                           ? CDC_BINARY_BASE64_URL_SAFE
                                           : CDC_BINARY_BYTES;
            else if (strcmp(line, "time_precision") == 0)
                conf.time_precision = strcmp(v, "connect") == 0 ? CDC_TIME_CONNECT
                                      : strcmp(v, "adaptive_time_microseconds") == 0
                                          ? CDC_TIME_ADAPTIVE_TIME_MICROSECONDS
                                          : CDC_TIME_ADAPTIVE;
            else if (strcmp(line, "types") == 0)
                flags |= CDC_EVJSON_TYPES;
            else if (strcmp(line, "lookup") == 0 && lt.n < 16) {
                const char *colon = strchr(v, ':');
                if (colon) {
                    snprintf(lt.col[lt.n], 64, "%.*s", (int)(colon - v), v);
                    snprintf(lt.type[lt.n], 64, "%s", colon + 1);
                    lt.n++;
                }
            }
        }
        free(opts);
    }
    if (placeholder[0])
        conf.placeholder = placeholder;
    char err[CDC_ERRSTR_SIZE];
    cdc_decoder_t *dec = cdc_decoder_new(&conf, err, sizeof(err));
    TH_ASSERT(dec);
    cdc_type_lookup_t lk = {lookup, &lt};
    const cdc_type_lookup_t *lkp = lt.n ? &lk : NULL;

    char *value = NULL, *key = NULL;
    size_t value_len = 0, key_len = 0;
    cdc_buf_t avro = CDC_BUF_INIT;
    snprintf(path, sizeof(path), "%s/schema.avsc", dir);
    char *avsc = th_read_file(path, &len);
    char *avsc_copy = avsc ? strndup(avsc, len) : NULL;
    size_t avsc_len = avsc ? len : 0;
    if (avsc) {
        TH_CHECK(cdc_decoder_add_schema(dec, 1, avsc, len, err, sizeof(err)) == 0);
        snprintf(path, sizeof(path), "%s/datum.json", dir);
        char *datum_text = th_read_file(path, &len);
        if (!datum_text) {
            /* hand-made (corrupt) binary input */
            snprintf(path, sizeof(path), "%s/value.avro", dir);
            char *raw = th_read_file(path, &len);
            TH_ASSERT(raw);
            cdc_buf_append(&avro, raw, len);
            free(raw);
            value = avro.data;
            value_len = avro.len;
            free(avsc);
            goto have_value;
        }
        json_t *datum = json_loads(datum_text, 0, NULL);
        TH_ASSERT(datum);
        TH_ASSERT(avro_encode(avsc, datum, 1, conf.apicurio_8byte_id, &avro) == 0);
        json_decref(datum);
        free(datum_text);
        snprintf(path, sizeof(path), "%s/value.avro", dir);
        if (update)
            spit(path, avro.data, avro.len);
        value = avro.data;
        value_len = avro.len;
        free(avsc);
    } else if (snprintf(path, sizeof(path), "%s/value.avro", dir) > 0 &&
               (value = th_read_file(path, &value_len)) != NULL) {
        /* framed Avro without a schema: the id is unknown */
    } else {
        if (value_file[0])
            snprintf(path, sizeof(path), "%s/%s", dir, value_file);
        else
            snprintf(path, sizeof(path), "%s/value.json", dir);
        value = th_read_file(path, &value_len);
    }
have_value:
    snprintf(path, sizeof(path), "%s/key.json", dir);
    key = th_read_file(path, &key_len);

    cdc_record_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.topic = topic;
    rec.partition = 0;
    rec.offset = 42;
    rec.timestamp_ms = -1;
    rec.value = value;
    rec.value_len = value_len;
    rec.key = key;
    rec.key_len = key_len;
    cdc_buf_t got = CDC_BUF_INIT;
    decode_line(dec, &rec, lkp, flags, &got);
    /* The same record again (JSON: the schema now comes from the
     * recently-used list, not the hash) and through the jansson-only path:
     * the single-pass scanner must never change a result. */
    cdc_buf_t again = CDC_BUF_INIT, slow = CDC_BUF_INIT;
    decode_line(dec, &rec, lkp, flags, &again);
    cdc_decoder_t *sdec = cdc_decoder_new(&conf, err, sizeof(err));
    TH_ASSERT(sdec);
    ddec_set_fastpath(sdec, false);
    if (avsc_len)
        TH_CHECK(cdc_decoder_add_schema(sdec, 1, avsc_copy, avsc_len, err, sizeof(err)) == 0);
    decode_line(sdec, &rec, lkp, flags, &slow);
    cdc_decoder_destroy(sdec);
    if (strcmp(got.data, again.data) != 0 || strcmp(got.data, slow.data) != 0) {
        fprintf(stderr, "case %s: paths differ\n  first:   %s  again:   %s  jansson: %s", name,
                got.data, again.data, slow.data);
        th_failures++;
    }
    cdc_buf_free(&again);
    cdc_buf_free(&slow);
    free(avsc_copy);
    bool is_err = strncmp(got.data, "poison: ", 8) == 0 || strncmp(got.data, "fatal: ", 7) == 0 ||
                  strncmp(got.data, "retriable: ", 11) == 0;
    char exp_json[1200], exp_err[1200];
    snprintf(exp_json, sizeof(exp_json), "%s/expected.json", dir);
    snprintf(exp_err, sizeof(exp_err), "%s/expected.err", dir);
    if (update) {
        remove(exp_json);
        remove(exp_err);
        spit(is_err ? exp_err : exp_json, got.data, got.len);
    } else {
        char *want = th_read_file(exp_json, &len);
        if (!want)
            want = th_read_file(exp_err, &len);
        if (!want) {
            fprintf(stderr, "%s: no expected.json or expected.err\n", name);
            th_failures++;
        } else if (strcmp(want, got.data) != 0) {
            fprintf(stderr, "case %s:\n  got:  %s  want: %s", name, got.data, want);
            th_failures++;
        }
        free(want);
    }
    cdc_buf_free(&got);
    cdc_buf_free(&avro);
    if (!avsc)
        free(value);
    free(key);
    cdc_decoder_destroy(dec);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    char root[1024];
    snprintf(root, sizeof(root), "%s/tests/fixtures/decode", th_source_root());
    bool update = getenv("CDC_GOLDEN_UPDATE") != NULL;
    DIR *d = opendir(root);
    TH_ASSERT(d);
    char *names[1024];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 1024)
        if (de->d_name[0] != '.')
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof(char *), cmp);
    for (int i = 0; i < n; i++) {
        run_case(root, names[i], update);
        free(names[i]);
    }
    fprintf(stderr, "%d golden cases\n", n);
    TH_CHECK(n > 0);
    TH_DONE();
}
