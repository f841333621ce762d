/* The decoder handle and cdc_decoder_decode(): the top of decode/.
 *
 * For each record it reads the framing (frame.c: the Schema Registry
 * header, the JsonConverter {"schema","payload"} wrapper), obtains the
 * schema from the cache (schema_cache.c, which owns the registry client),
 * and only then hands schema and bytes to a front end: the single-pass JSON
 * scanner (jscan.c) with the jansson path (json.c) behind it, or the Avro
 * walker (avro.c). The front ends build the event through record.c and
 * never call back here. */
#include "decode_int.h"

#include "cdc/redact.h"
#include "cdc/util.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cdc_decoder_s {
    cdc_format_t format;
    bool apicurio8;
    bool null_delete;
    dopts_t opts;    /* what the front ends read of the configuration */
    dcache_t *cache; /* both schema caches and the registry client */
    cdc_buf_t tb;
    srow_t rows[4]; /* key, before, after, scratch */
    cdc_buf_t scratch[DSCRATCH_N];
    bool slow_only; /* single-pass JSON scanner off (tests, fuzzing) */
    dintern_t intern;
};

static void set_err(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (!errstr || !errstr_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

cdc_decoder_t *cdc_decoder_new(const cdc_decoder_conf_t *conf, char *errstr, size_t errstr_size)
{
    cdc_decoder_conf_t defconf;
    if (!conf) {
        memset(&defconf, 0, sizeof(defconf));
        conf = &defconf;
    }
    if (conf->format < CDC_FORMAT_AUTO || conf->format > CDC_FORMAT_AVRO) {
        set_err(errstr, errstr_size, "unknown format %d: use auto, json or avro",
                (int)conf->format);
        return NULL;
    }
    if (conf->placeholder && conf->placeholder[0] == '\0') {
        set_err(errstr, errstr_size,
                "empty unavailable-value placeholder: every empty string would be taken for "
                "an unchanged TOAST value; leave it unset for Debezium's default");
        return NULL;
    }
    if ((unsigned)conf->decimal_handling > CDC_DECIMAL_DOUBLE ||
        (unsigned)conf->binary_handling > CDC_BINARY_HEX ||
        (unsigned)conf->time_precision > CDC_TIME_CONNECT) {
        set_err(errstr, errstr_size,
                "unknown decimal/binary/time handling mode %d/%d/%d: use the connector's "
                "decimal.handling.mode, binary.handling.mode and time.precision.mode names",
                (int)conf->decimal_handling, (int)conf->binary_handling, (int)conf->time_precision);
        return NULL;
    }
    cdc_decoder_t *dec = calloc(1, sizeof(*dec));
    if (!dec) {
        set_err(errstr, errstr_size, "out of memory");
        return NULL;
    }
    dec->format = conf->format;
    dec->apicurio8 = conf->apicurio_8byte_id;
    dec->null_delete = conf->null_value_is_delete;
    dec->opts.dec_mode = conf->decimal_handling;
    dec->opts.bin_mode = conf->binary_handling;
    dec->opts.time_mode = conf->time_precision;
    dph_init(&dec->opts.ph, conf->placeholder);
    dec->cache = dcache_new(conf->registry_url,
                            conf->registry_timeout_ms > 0 ? conf->registry_timeout_ms : 5000,
                            conf->registry_retries > 0 ? conf->registry_retries : 3);
    if (!dec->cache) {
        if (conf->registry_url && conf->registry_url[0])
            set_err(errstr, errstr_size, "cannot initialise the HTTP client for %s",
                    conf->registry_url);
        else
            set_err(errstr, errstr_size, "out of memory");
        cdc_redact_errstr(errstr, errstr_size);
        cdc_decoder_destroy(dec);
        return NULL;
    }
    return dec;
}

void cdc_decoder_destroy(cdc_decoder_t *dec)
{
    if (!dec)
        return;
    dcache_destroy(dec->cache);
    dph_free(&dec->opts.ph);
    cdc_buf_free(&dec->tb);
    for (int i = 0; i < 4; i++)
        free(dec->rows[i].v);
    for (int i = 0; i < DSCRATCH_N; i++)
        cdc_buf_free(&dec->scratch[i]);
    free(dec);
}

void ddec_set_fastpath(cdc_decoder_t *dec, bool on)
{
    dec->slow_only = !on;
}

int cdc_decoder_add_schema(cdc_decoder_t *dec, int64_t id, const char *json, size_t len,
                           char *errstr, size_t errstr_size)
{
    char err[CDC_ERRSTR_SIZE] = "";
    if (dcache_avro_add(dec->cache, id, json, len, err, sizeof(err)) != 0) {
        set_err(errstr, errstr_size, "schema id %lld: %s", (long long)id, err);
        return -1;
    }
    return 0;
}

/* ---- JSON: the wrapper, the schema, then the scanner or jansson ---- */

/* The compiled schema of the wrapper's schema span (NULL for "schema":null),
 * or -1 after the error. */
static int json_schema(cdc_decoder_t *dec, dctx_t *c, dspan_t sch, const dsch_t **root)
{
    *root = NULL;
    if (sch.n == 4 && memcmp(sch.p, "null", 4) == 0)
        return 0;
    char err[CDC_ERRSTR_SIZE] = "";
    bool flushed = false;
    *root = dcache_json(dec->cache, sch.p, sch.n, &flushed, err, sizeof(err));
    if (flushed) /* the freed schemas' strings may be reused at the same addresses */
        dintern_reset(&dec->intern);
    if (!*root) {
        size_t old = dpath_push(c, "schema");
        derr(c, CDC_ERR_POISON, "%s", err);
        dpath_pop(c, old);
        return -1;
    }
    return 0;
}

/* Run the single-pass scanner; on "not mine" put everything it touched
 * back as it was, so the jansson path starts from the same state. */
static bool try_fast(cdc_decoder_t *dec, dctx_t *c, const dsch_t *root, dspan_t pl, bool key)
{
    /* The scanner never touches the path: save everything before it. */
    dctx_t save;
    memcpy(&save, c, offsetof(dctx_t, path));
    size_t tbl = c->tb->len, kn = c->key->n, bn = c->before->n, an = c->after->n;
    if (key ? dj_fast_key(c, root, pl.p, pl.n) : dj_fast_value(c, root, pl.p, pl.n))
        return true;
    memcpy(c, &save, offsetof(dctx_t, path));
    c->tb->len = tbl;
    c->tb->data[tbl] = '\0';
    c->key->n = kn;
    c->before->n = bn;
    c->after->n = an;
    dintern_reset(&dec->intern);
    return false;
}

static int json_part(cdc_decoder_t *dec, dctx_t *c, const char *p, size_t n, bool key)
{
    const dsch_t *root = NULL;
    dspan_t sch = {NULL, 0}, pl = {NULL, 0};
    bool fast = !dec->slow_only, tried = false;
    if (fast) {
        /* A recently used schema's exact bytes: no span scan, no hash. */
        const char *bytes;
        size_t len;
        bool stop = false;
        const dsch_t *r;
        for (size_t i = 0; !stop && (r = dcache_json_mru(dec->cache, i, &bytes, &len)); i++) {
            if (dframe_json_prefix(p, n, bytes, len, &pl, &stop)) {
                if (try_fast(dec, c, r, pl, key))
                    return 0;
                /* For the jansson path (a type the scanner leaves to it,
                 * e.g. an array column): a payload span of exactly one
                 * value is what dframe_json_split() would find, with the
                 * same schema: no rescan and hash of the schema. */
                if (dframe_json_one_value(pl))
                    return key ? dj_decode_key(c, r, pl.p, pl.n, true)
                               : dj_decode_value(c, r, pl.p, pl.n, true);
                tried = true;
                break;
            }
        }
    }
    bool wrapped = dframe_json_split(p, n, &sch, &pl);
    if (!wrapped) {
        pl.p = p;
        pl.n = n;
    } else if (json_schema(dec, c, sch, &root) != 0) {
        return -1;
    }
    if (fast && !tried && wrapped && root && try_fast(dec, c, root, pl, key))
        return 0;
    return key ? dj_decode_key(c, root, pl.p, pl.n, wrapped)
               : dj_decode_value(c, root, pl.p, pl.n, wrapped);
}

/* ---- Avro: the Schema Registry header, the schema, then the datum ---- */

static int avro_part(cdc_decoder_t *dec, dctx_t *c, const uint8_t *p, size_t n, bool key)
{
    /* Apicurio 2.x serdes write an 8-byte globalId after the magic byte;
     * nothing in the bytes tells the two apart, so it is configuration. */
    int64_t id = 0;
    size_t hdr = dframe_avro(p, n, dec->apicurio8, &id);
    if (!hdr)
        return derr(c, CDC_ERR_POISON,
                    "expected Schema Registry framing (0x00 + %d-byte schema id), found %s",
                    dec->apicurio8 ? 8 : 4,
                    n < (dec->apicurio8 ? 9u : 5u) ? "a shorter value" : "another first byte");
    char err[CDC_ERRSTR_SIZE] = "";
    cdc_err_class_t cls = CDC_ERR_NONE;
    const dsch_t *root = dcache_avro(dec->cache, id, &cls, err, sizeof(err));
    if (!root)
        return derr(c, cls, "%s", err);
    return key ? da_decode_key(c, root, p, hdr, n) : da_decode_value(c, root, id, p, hdr, n);
}

/* ---- the entry point ---- */

static bool looks_avro(const void *p, size_t n)
{
    return n >= 5 && ((const uint8_t *)p)[0] == 0x00;
}

/* A value or key that starts with the magic byte but is too short for the
 * schema id: cut-off Avro, not JSON (and not another first byte). */
static bool short_frame(const cdc_decoder_t *dec, const void *p, size_t n)
{
    return dec->format != CDC_FORMAT_JSON && n > 0 && n < 5 && ((const uint8_t *)p)[0] == 0x00;
}

static int short_frame_err(dctx_t *c, size_t n)
{
    return derr(c, CDC_ERR_POISON,
                "truncated Schema Registry framing: found %zu byte%s, but a Confluent Avro value "
                "needs the magic byte 0x00, a 4-byte schema id and the datum",
                n, n == 1 ? "" : "s");
}

static int decode_key(cdc_decoder_t *dec, dctx_t *c)
{
    const cdc_record_t *rec = c->rec;
    if (!rec->key)
        return 0;
    size_t old = dpath_push(c, "key");
    int rc;
    if (short_frame(dec, rec->key, rec->key_len))
        rc = short_frame_err(c, rec->key_len);
    else if (dec->format == CDC_FORMAT_AVRO ||
             (dec->format == CDC_FORMAT_AUTO && looks_avro(rec->key, rec->key_len)))
        rc = avro_part(dec, c, rec->key, rec->key_len, true);
    else
        rc = json_part(dec, c, rec->key, rec->key_len, true);
    dpath_pop(c, old);
    return rc;
}

int cdc_decoder_decode(cdc_decoder_t *dec, const cdc_record_t *rec, cdc_event_t **evp,
                       cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    return cdc_decoder_decode_with(dec, rec, NULL, evp, cls, errstr, errstr_size);
}

/* A fresh context for one record of @p dec. */
static inline void ctx_init(cdc_decoder_t *dec, dctx_t *c, const cdc_record_t *rec,
                            const cdc_type_lookup_t *lookup, char *errstr, size_t errstr_size)
{
    /* The path stack (2 KB) is only read below pathlen. */
    memset(c, 0, offsetof(dctx_t, path));
    c->opts = &dec->opts;
    c->intern = &dec->intern;
    c->lookup = lookup;
    c->rec = rec;
    c->tb = &dec->tb;
    c->scratch = dec->scratch;
    c->tmprow = &dec->rows[3];
    dintern_reset(&dec->intern);
    c->errstr = errstr;
    c->errstr_size = errstr_size;
    c->cls = CDC_ERR_NONE;
    cdc_buf_reset(c->tb);
    for (int i = 0; i < 3; i++)
        dec->rows[i].n = 0;
    c->key = &dec->rows[0];
    c->before = &dec->rows[1];
    c->after = &dec->rows[2];
    c->topic = c->connector = c->db = c->schema = c->table = c->snapshot = c->txn_id =
        c->txn_status = DOFF_NONE;
    c->source_ts_ms = c->source_ts_us = c->ts_ms = c->lsn = c->txid = c->txn_event_count =
        c->txn_order = -1;
    c->topic = dtb_cstr(c, rec->topic ? rec->topic : "");
}

int cdc_decoder_salvage_txn(cdc_decoder_t *dec, const cdc_record_t *rec, cdc_event_t **evp)
{
    dctx_t ctx;
    char err[64];
    *evp = NULL;
    ctx_init(dec, &ctx, rec, NULL, err, sizeof(err));
    if (!rec->value || looks_avro(rec->value, rec->value_len) ||
        dj_salvage_txn(&ctx, rec->value, rec->value_len) != 0)
        return -1;
    *evp = drec_event(&ctx);
    return 0;
}

int cdc_decoder_decode_with(cdc_decoder_t *dec, const cdc_record_t *rec,
                            const cdc_type_lookup_t *lookup, cdc_event_t **evp,
                            cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    dctx_t ctx;
    dctx_t *c = &ctx;
    ctx_init(dec, c, rec, lookup, errstr, errstr_size);
    *evp = NULL;
    if (cls)
        *cls = CDC_ERR_NONE;

    int rc = 0;
    if (!rec->value) {
        c->kind = CDC_KIND_TOMBSTONE;
        if (dec->null_delete) {
            c->kind = CDC_KIND_CHANGE;
            c->op = 'd';
        }
        rc = decode_key(dec, c);
        if (rc == 0 && c->kind == CDC_KIND_CHANGE)
            dtopic_names(c);
    } else {
        size_t old = dpath_push(c, "value");
        bool avro = looks_avro(rec->value, rec->value_len);
        if (short_frame(dec, rec->value, rec->value_len))
            rc = short_frame_err(c, rec->value_len);
        else if (dec->format == CDC_FORMAT_JSON && rec->value_len &&
                 ((const uint8_t *)rec->value)[0] == 0)
            rc = derr(c, CDC_ERR_POISON,
                      "expected JSON, found byte 0x00: this looks like Avro with Schema Registry "
                      "framing; use --format avro or auto");
        else if (dec->format == CDC_FORMAT_AVRO && !avro)
            rc = derr(c, CDC_ERR_POISON,
                      "expected Schema Registry framing (magic byte 0x00 + schema id), found %s: "
                      "is the topic written by the JsonConverter? use --format json or auto",
                      rec->value_len == 0                    ? "an empty value"
                      : ((const char *)rec->value)[0] == '{' ? "'{' (JSON)"
                                                             : "another first byte");
        else if (avro && dec->format != CDC_FORMAT_JSON)
            rc = avro_part(dec, c, rec->value, rec->value_len, false);
        else
            rc = json_part(dec, c, rec->value, rec->value_len, false);
        dpath_pop(c, old);
        if (rc == 0 && (c->kind == CDC_KIND_CHANGE || c->kind == CDC_KIND_MESSAGE))
            rc = decode_key(dec, c);
    }
    if (rc != 0) {
        if (c->cls == CDC_ERR_NONE)
            derr(c, CDC_ERR_POISON, "cannot decode");
        if (cls)
            *cls = c->cls;
        return -1;
    }
    *evp = drec_event(c);
    return 0;
}
