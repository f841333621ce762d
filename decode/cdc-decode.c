/* cdc-decode: decode Debezium records from files or stdin and print one
 * normalized event per line. A debugging and golden-test companion of
 * cdc-apply: same decoder, no Kafka, no database.
 *
 * Input: JSON values one after another (one per line, or pretty-printed),
 * kcat -J lines ({"topic","partition","offset","key","payload"}), or, for
 * Avro, one raw framed value per file. Exit 0 when every record decoded,
 * 1 when any failed, 2 on usage errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cdc/buf.h"
#include "cdc/config.h"
#include "cdc/decode.h"
#include "cdc/log.h"
#include "cdc/util.h"

static const cdc_opt_def_t decode_opts[] = {
    {"format", 0, CDC_OPT_ENUM, "auto", 0, -1, "auto|json|avro", 0, "FORMAT",
     "value format: auto (0x00 first byte = Avro), json or avro"},
    {"schema-registry", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_CONNINFO, "URL",
     "schema registry for Avro (Apicurio: .../apis/ccompat/v7)"},
    {"apicurio-8byte-id", 0, CDC_OPT_BOOL, "false", 0, -1, NULL, 0, NULL,
     "Avro values carry Apicurio 2.x 8-byte globalIds"},
    {"registry-timeout-ms", 0, CDC_OPT_INT, "5000", 100, 600000, NULL, 0, "MS",
     "per-request schema registry timeout"},
    {"topic", 0, CDC_OPT_STRING, "", 0, -1, NULL, 0, "TOPIC",
     "topic name for plain (non-kcat) input"},
    {"unavailable-placeholder", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, 0, "TEXT",
     "the connector's unavailable.value.placeholder"},
    {"null-is-delete", 0, CDC_OPT_BOOL, "false", 0, -1, NULL, 0, NULL,
     "a null value deletes the key's row (flattened topics)"},
    {"types", 0, CDC_OPT_BOOL, "false", 0, -1, NULL, 0, NULL,
     "also print each column's semantic and PostgreSQL type"},
    {NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL, NULL},
};

typedef struct run {
    cdc_decoder_t *dec;
    const char *topic;
    unsigned json_flags;
    long failed, ok;
    cdc_buf_t line;
    const char *src; /* input being read ("<stdin>" for -) */
    long src_line;   /* 1-based line where the current record starts */
} run_t;

static int read_all(FILE *f, cdc_buf_t *out)
{
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        cdc_buf_append(out, tmp, n);
    return ferror(f) ? -1 : 0;
}

static void decode_one(run_t *r, const cdc_record_t *rec)
{
    cdc_event_t *ev = NULL;
    cdc_err_class_t cls = CDC_ERR_NONE;
    char err[CDC_ERRSTR_SIZE];
    if (cdc_decoder_decode(r->dec, rec, &ev, &cls, err, sizeof(err)) != 0) {
        /* file:line first: topic[partition]@offset is only the record's
         * index for plain input. */
        cdc_log_error("%s:%ld: %s (%s)", r->src, r->src_line, err, cdc_err_class_name(cls));
        r->failed++;
        return;
    }
    cdc_buf_reset(&r->line);
    cdc_event_to_json_ext(ev, &r->line, r->json_flags);
    cdc_buf_putc(&r->line, '\n');
    fwrite(r->line.data, 1, r->line.len, stdout);
    cdc_event_destroy(ev);
    r->ok++;
}

/* End of the JSON value starting at p (strings and nesting aware); the
 * decoder validates the content, this only cuts the input into records.
 * A broken record must not swallow the ones after it: a raw newline cannot
 * be inside a JSON string, and a line starting with '{' inside an open
 * value is the next record (pretty-printed JSON indents nested lines). */
static const char *value_end(const char *p, const char *e)
{
    int depth = 0;
    bool in_str = false;
    for (; p < e; p++) {
        char ch = *p;
        if (ch == '\n' && (in_str || (depth > 0 && p + 1 < e && p[1] == '{')))
            return p;
        if (in_str) {
            if (ch == '\\' && p + 1 < e && p[1] != '\n')
                p++;
            else if (ch == '"')
                in_str = false;
            continue;
        }
        if (ch == '"')
            in_str = true;
        else if (ch == '{' || ch == '[')
            depth++;
        else if (ch == '}' || ch == ']') {
            if (--depth <= 0)
                return p + 1;
        } else if (depth == 0 && (ch == '\n' || ch == ' ' || ch == '\r' || ch == '\t'))
            return p;
    }
    return e;
}

/* kcat -J wraps each message: {"topic":..,"partition":..,"offset":..,
 * "key":"<text>"|null,"payload":"<text>"|null,...}. */
static bool try_kcat(run_t *r, const char *p, size_t n)
{
    if (n < 10 || !memmem(p, n < 4096 ? n : 4096, "\"payload\"", 9))
        return false;
    json_t *js = json_loadb(p, n, 0, NULL);
    if (!js)
        return false;
    json_t *payload = json_object_get(js, "payload");
    json_t *topic = json_object_get(js, "topic");
    if (!payload || !json_is_string(topic) || json_object_size(js) < 3 ||
        (!json_is_string(payload) && !json_is_null(payload))) {
        json_decref(js);
        return false;
    }
    json_t *key = json_object_get(js, "key");
    cdc_record_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.topic = json_string_value(topic);
    rec.partition = (int32_t)json_integer_value(json_object_get(js, "partition"));
    rec.offset = json_integer_value(json_object_get(js, "offset"));
    json_t *ts = json_object_get(js, "ts");
    rec.timestamp_ms = json_is_integer(ts) ? json_integer_value(ts) : -1;
    if (json_is_string(key)) {
        rec.key = json_string_value(key);
        rec.key_len = json_string_length(key);
    }
    if (json_is_string(payload)) {
        rec.value = json_string_value(payload);
        rec.value_len = json_string_length(payload);
    }
    decode_one(r, &rec);
    json_decref(js);
    return true;
}

static void decode_input(run_t *r, const char *name, const cdc_buf_t *in)
{
    const char *p = in->data ? in->data : "", *e = p + in->len;
    cdc_record_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.topic = r->topic;
    rec.timestamp_ms = -1;
    if (in->len > 0 && p[0] == 0) {
        /* One framed Avro value per file. */
        r->src_line = 1;
        rec.value = p;
        rec.value_len = in->len;
        decode_one(r, &rec);
        return;
    }
    int64_t offset = 0;
    const char *counted = p;
    r->src_line = 1;
    while (p < e) {
        while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
            p++;
        if (p >= e)
            break;
        for (; counted < p; counted++)
            r->src_line += *counted == '\n';
        const char *end = value_end(p, e);
        size_t n = (size_t)(end - p);
        if (!try_kcat(r, p, n)) {
            rec.offset = offset;
            if (n == 4 && memcmp(p, "null", 4) == 0) {
                rec.value = NULL;
                rec.value_len = 0;
            } else {
                rec.value = p;
                rec.value_len = n;
            }
            decode_one(r, &rec);
        }
        offset++;
        p = end;
    }
    (void)name;
}

int main(int argc, char **argv)
{
    char err[CDC_ERRSTR_SIZE];
    int rc = 2;
    run_t r;
    memset(&r, 0, sizeof(r));
    cdc_config_t *cfg =
        cdc_config_new("cdc-decode", "[options] [FILE...]  (stdin when none)", decode_opts);
    cdc_config_allow_args(cfg, "FILE");
    switch (cdc_config_parse(cfg, argc, argv, stdout, err, sizeof(err))) {
    case CDC_CONFIG_EXIT: rc = 0; goto out;
    case CDC_CONFIG_ERROR: fprintf(stderr, "cdc-decode: %s\n", err); goto out;
    case CDC_CONFIG_OK: break;
    }
    cdc_log_init("cdc-decode",
                 (cdc_log_level_t)cdc_log_level_parse(cdc_config_get(cfg, "log-level")),
                 (cdc_log_format_t)cdc_log_format_parse(cdc_config_get(cfg, "log-format")), NULL);
    cdc_decoder_conf_t conf;
    memset(&conf, 0, sizeof(conf));
    const char *fmt = cdc_config_get(cfg, "format");
    conf.format = strcmp(fmt, "json") == 0   ? CDC_FORMAT_JSON
                  : strcmp(fmt, "avro") == 0 ? CDC_FORMAT_AVRO
                                             : CDC_FORMAT_AUTO;
    conf.registry_url = cdc_config_get(cfg, "schema-registry");
    conf.apicurio_8byte_id = cdc_config_get_bool(cfg, "apicurio-8byte-id");
    conf.registry_timeout_ms = (int)cdc_config_get_int(cfg, "registry-timeout-ms");
    conf.placeholder = cdc_config_get(cfg, "unavailable-placeholder");
    conf.null_value_is_delete = cdc_config_get_bool(cfg, "null-is-delete");
    r.topic = cdc_config_get(cfg, "topic");
    r.json_flags = cdc_config_get_bool(cfg, "types") ? CDC_EVJSON_TYPES : 0;
    r.dec = cdc_decoder_new(&conf, err, sizeof(err));
    if (!r.dec) {
        fprintf(stderr, "cdc-decode: %s\n", err);
        goto out;
    }
    const char *const *args;
    size_t nargs = cdc_config_args(cfg, &args);
    static const char *const stdin_only[] = {"-"};
    if (nargs == 0) {
        args = stdin_only;
        nargs = 1;
    }
    for (size_t i = 0; i < nargs; i++) {
        bool is_stdin = strcmp(args[i], "-") == 0;
        FILE *f = is_stdin ? stdin : fopen(args[i], "rb");
        if (!f) {
            fprintf(stderr, "cdc-decode: %s: %s\n", args[i], strerror(errno));
            goto out;
        }
        cdc_buf_t in = CDC_BUF_INIT;
        int rr = read_all(f, &in);
        if (!is_stdin)
            fclose(f);
        if (rr != 0) {
            fprintf(stderr, "cdc-decode: %s: read error\n", args[i]);
            cdc_buf_free(&in);
            goto out;
        }
        r.src = is_stdin ? "<stdin>" : args[i];
        decode_input(&r, args[i], &in);
        cdc_buf_free(&in);
    }
    fflush(stdout);
    rc = r.failed ? 1 : 0;
out:
    cdc_decoder_destroy(r.dec);
    cdc_buf_free(&r.line);
    cdc_config_destroy(cfg);
    return rc;
}
