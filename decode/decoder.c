/* The decoder handle: configuration, schema caches, record classification
 * shared by both wire formats, and the assembly of the final event (one
 * allocation per event: struct, column arrays and text blob together). */
#include "decode_int.h"

#include "cdc/redact.h"
#include "cdc/util.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

typedef struct jent {
    uint64_t hash;
    char *bytes; /* the exact schema text, compared on a hit */
    size_t len;
    dsch_t *root;
    darena_t arena;
} jent_t;

typedef struct aent {
    int64_t id;
    bool used;
    dsch_t *root;
    darena_t arena;
} aent_t;

/* Distinct schemas are few (one per table and version); the bound only
 * stops a hostile stream from growing memory without limit. */
#define JCACHE_MAX 4096

/* Schema strings (column names, semantic names, PostgreSQL types) are copied
 * into each event so it owns them; the same pointer (the after image shares
 * names with the before image and the key, many columns share a type) is
 * copied once per record. Keyed by the pointer, which is only sound for
 * schema-owned strings that cannot be freed while the record is decoded. */
#define INTERN_SLOTS 256
typedef struct intern {
    const char *s;
    size_t off;
    uint32_t gen;
} intern_t;

#define JMRU_N 8
typedef struct jmru {
    const char *bytes;
    size_t len;
    const dsch_t *root;
} jmru_t;

struct cdc_decoder_s {
    cdc_format_t format;
    bool apicurio8;
    bool null_delete;
    cdc_decimal_handling_t dec_mode;
    cdc_binary_handling_t bin_mode;
    cdc_time_precision_t time_mode;
    dreg_t *reg;
    dph_t ph;
    jent_t *jc;
    size_t jc_cap, jc_n;
    aent_t *ac;
    size_t ac_cap, ac_n;
    cdc_buf_t tb;
    srow_t rows[4]; /* key, before, after, scratch */
    cdc_buf_t scratch[DSCRATCH_N];
    bool slow_only; /* single-pass JSON scanner off (tests, fuzzing) */
    uint32_t gen;   /* record counter for the intern table */
    intern_t intern[INTERN_SLOTS];
    jmru_t mru[JMRU_N];
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
    dec->dec_mode = conf->decimal_handling;
    dec->bin_mode = conf->binary_handling;
    dec->time_mode = conf->time_precision;
    dph_init(&dec->ph, conf->placeholder);
    if (conf->registry_url && conf->registry_url[0]) {
        dec->reg = dreg_new(conf->registry_url,
                            conf->registry_timeout_ms > 0 ? conf->registry_timeout_ms : 5000,
                            conf->registry_retries > 0 ? conf->registry_retries : 3);
        if (!dec->reg) {
            set_err(errstr, errstr_size, "cannot initialise the HTTP client for %s",
                    conf->registry_url);
            cdc_redact_errstr(errstr, errstr_size);
            cdc_decoder_destroy(dec);
            return NULL;
        }
    }
    return dec;
}

void cdc_decoder_destroy(cdc_decoder_t *dec)
{
    if (!dec)
        return;
    for (size_t i = 0; i < dec->jc_cap; i++) {
        if (dec->jc[i].bytes) {
            free(dec->jc[i].bytes);
            darena_free(&dec->jc[i].arena);
        }
    }
    free(dec->jc);
    for (size_t i = 0; i < dec->ac_cap; i++)
        if (dec->ac[i].used)
            darena_free(&dec->ac[i].arena);
    free(dec->ac);
    dreg_destroy(dec->reg);
    dph_free(&dec->ph);
    cdc_buf_free(&dec->tb);
    for (int i = 0; i < 4; i++)
        free(dec->rows[i].v);
    for (int i = 0; i < DSCRATCH_N; i++)
        cdc_buf_free(&dec->scratch[i]);
    free(dec);
}

bool ddec_apicurio8(const cdc_decoder_t *dec)
{
    return dec->apicurio8;
}

cdc_decimal_handling_t ddec_decimal_mode(const cdc_decoder_t *dec)
{
    return dec->dec_mode;
}

cdc_binary_handling_t ddec_binary_mode(const cdc_decoder_t *dec)
{
    return dec->bin_mode;
}

cdc_time_precision_t ddec_time_mode(const cdc_decoder_t *dec)
{
    return dec->time_mode;
}

bool ddec_is_placeholder(cdc_decoder_t *dec, const dsch_t *s, const char *text, size_t len)
{
    return dph_match(&dec->ph, s, text, len);
}

void ddec_set_fastpath(cdc_decoder_t *dec, bool on)
{
    dec->slow_only = !on;
}

bool ddec_fastpath(const cdc_decoder_t *dec)
{
    return !dec->slow_only;
}

void ddec_intern_reset(cdc_decoder_t *dec)
{
    if (++dec->gen == 0) {
        /* wrapped: stale entries of generation 0 must not match */
        memset(dec->intern, 0, sizeof(dec->intern));
        dec->gen = 1;
    }
}

const dsch_t *ddec_json_mru(cdc_decoder_t *dec, size_t i, const char **bytes, size_t *len)
{
    if (i >= JMRU_N || !dec->mru[i].root)
        return NULL;
    *bytes = dec->mru[i].bytes;
    *len = dec->mru[i].len;
    return dec->mru[i].root;
}

static void mru_touch(cdc_decoder_t *dec, const char *bytes, size_t len, const dsch_t *root)
{
    size_t i = 0;
    while (i < JMRU_N - 1 && dec->mru[i].root && dec->mru[i].root != root)
        i++;
    memmove(&dec->mru[1], &dec->mru[0], i * sizeof(jmru_t));
    dec->mru[0].bytes = bytes;
    dec->mru[0].len = len;
    dec->mru[0].root = root;
}

/* ---- JSON schema cache, keyed by xxh3 of the schema's exact text ---- */

static void jc_clear(cdc_decoder_t *dec)
{
    for (size_t i = 0; i < dec->jc_cap; i++) {
        if (dec->jc[i].bytes) {
            free(dec->jc[i].bytes);
            darena_free(&dec->jc[i].arena);
        }
    }
    memset(dec->jc, 0, dec->jc_cap * sizeof(jent_t));
    dec->jc_n = 0;
    /* The freed schemas may be reused at the same addresses. */
    memset(dec->mru, 0, sizeof(dec->mru));
    ddec_intern_reset(dec);
}

static void jc_insert(cdc_decoder_t *dec, jent_t *e)
{
    if ((dec->jc_n + 1) * 2 > dec->jc_cap) {
        size_t ncap = dec->jc_cap ? dec->jc_cap * 2 : 64;
        jent_t *nt = calloc(ncap, sizeof(jent_t));
        if (!nt)
            abort();
        for (size_t i = 0; i < dec->jc_cap; i++) {
            if (!dec->jc[i].bytes)
                continue;
            size_t j = dec->jc[i].hash & (ncap - 1);
            while (nt[j].bytes)
                j = (j + 1) & (ncap - 1);
            nt[j] = dec->jc[i];
        }
        free(dec->jc);
        dec->jc = nt;
        dec->jc_cap = ncap;
    }
    size_t j = e->hash & (dec->jc_cap - 1);
    while (dec->jc[j].bytes)
        j = (j + 1) & (dec->jc_cap - 1);
    dec->jc[j] = *e;
    dec->jc_n++;
}

const dsch_t *ddec_json_schema(cdc_decoder_t *dec, const char *p, size_t n, char *err, size_t errsz,
                               bool *failed)
{
    *failed = false;
    uint64_t h = XXH3_64bits(p, n);
    if (dec->jc_cap) {
        size_t j = h & (dec->jc_cap - 1);
        while (dec->jc[j].bytes) {
            if (dec->jc[j].hash == h && dec->jc[j].len == n &&
                memcmp(dec->jc[j].bytes, p, n) == 0) {
                mru_touch(dec, dec->jc[j].bytes, n, dec->jc[j].root);
                return dec->jc[j].root;
            }
            j = (j + 1) & (dec->jc_cap - 1);
        }
    }
    json_error_t jerr;
    json_t *js = json_loadb(p, n, JSON_DECODE_ANY, &jerr);
    if (!js) {
        snprintf(err, errsz, "expected a JSON schema, found invalid JSON (%s at byte %d)",
                 jerr.text, jerr.position);
        *failed = true;
        return NULL;
    }
    jent_t e;
    memset(&e, 0, sizeof(e));
    e.root = dj_compile_schema(&e.arena, js, err, errsz);
    json_decref(js);
    if (!e.root) {
        darena_free(&e.arena);
        *failed = true;
        return NULL;
    }
    if (dec->jc_n >= JCACHE_MAX)
        jc_clear(dec);
    e.hash = h;
    e.len = n;
    e.bytes = malloc(n ? n : 1);
    if (!e.bytes)
        abort();
    memcpy(e.bytes, p, n);
    jc_insert(dec, &e);
    mru_touch(dec, e.bytes, n, e.root);
    return e.root;
}

/* ---- Avro schema cache by registry id (ids are immutable: forever) ---- */

static aent_t *ac_find(cdc_decoder_t *dec, int64_t id)
{
    if (!dec->ac_cap)
        return NULL;
    size_t j = (size_t)XXH3_64bits(&id, sizeof(id)) & (dec->ac_cap - 1);
    while (dec->ac[j].used) {
        if (dec->ac[j].id == id)
            return &dec->ac[j];
        j = (j + 1) & (dec->ac_cap - 1);
    }
    return NULL;
}

static void ac_insert(cdc_decoder_t *dec, aent_t *e)
{
    if ((dec->ac_n + 1) * 2 > dec->ac_cap) {
        size_t ncap = dec->ac_cap ? dec->ac_cap * 2 : 32;
        aent_t *nt = calloc(ncap, sizeof(aent_t));
        if (!nt)
            abort();
        for (size_t i = 0; i < dec->ac_cap; i++) {
            if (!dec->ac[i].used)
                continue;
            size_t j = (size_t)XXH3_64bits(&dec->ac[i].id, sizeof(int64_t)) & (ncap - 1);
            while (nt[j].used)
                j = (j + 1) & (ncap - 1);
            nt[j] = dec->ac[i];
        }
        free(dec->ac);
        dec->ac = nt;
        dec->ac_cap = ncap;
    }
    size_t j = (size_t)XXH3_64bits(&e->id, sizeof(int64_t)) & (dec->ac_cap - 1);
    while (dec->ac[j].used)
        j = (j + 1) & (dec->ac_cap - 1);
    dec->ac[j] = *e;
    dec->ac[j].used = true;
    dec->ac_n++;
}

int cdc_decoder_add_schema(cdc_decoder_t *dec, int64_t id, const char *json, size_t len,
                           char *errstr, size_t errstr_size)
{
    if (ac_find(dec, id))
        return 0;
    aent_t e;
    memset(&e, 0, sizeof(e));
    char err[CDC_ERRSTR_SIZE] = "";
    e.root = da_compile_schema(&e.arena, json, len, err, sizeof(err));
    if (!e.root) {
        darena_free(&e.arena);
        set_err(errstr, errstr_size, "schema id %lld: %s", (long long)id, err);
        return -1;
    }
    e.id = id;
    ac_insert(dec, &e);
    return 0;
}

const dsch_t *ddec_avro_schema(dctx_t *c, int64_t id)
{
    cdc_decoder_t *dec = c->dec;
    aent_t *e = ac_find(dec, id);
    if (e)
        return e->root;
    if (!dec->reg) {
        derr(c, CDC_ERR_FATAL,
             "schema id %lld is not known and no schema registry is configured: use "
             "--schema-registry URL",
             (long long)id);
        return NULL;
    }
    char *text = NULL;
    char err[CDC_ERRSTR_SIZE] = "";
    cdc_err_class_t cls = CDC_ERR_NONE;
    if (dreg_fetch(dec->reg, id, &text, &cls, err, sizeof(err)) != 0) {
        derr(c, cls, "%s", err);
        return NULL;
    }
    char cerr[256] = "";
    if (cdc_decoder_add_schema(dec, id, text, strlen(text), cerr, sizeof(cerr)) != 0) {
        free(text);
        derr(c, CDC_ERR_POISON, "registry returned an unusable schema: %s", cerr);
        return NULL;
    }
    free(text);
    e = ac_find(dec, id);
    return e ? e->root : NULL;
}

/* ---- context helpers ---- */

size_t dtb_str(dctx_t *c, const char *s, size_t n)
{
    size_t off = c->tb->len;
    char *w = dbuf_room(c->tb, n + 1);
    if (n)
        memcpy(w, s, n);
    w[n] = '\0';
    dbuf_commit(c->tb, n + 1);
    return off;
}

/* dtb_cstr() for strings owned by a cached schema: copied once per record. */
static size_t dtb_intern(dctx_t *c, const char *s)
{
    if (!s)
        return DOFF_NONE;
    cdc_decoder_t *dec = c->dec;
    uintptr_t h = (uintptr_t)s;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15u;
    intern_t *e = &dec->intern[(h >> 24) & (INTERN_SLOTS - 1)];
    if (e->gen == dec->gen && e->s == s)
        return e->off;
    e->s = s;
    e->gen = dec->gen;
    e->off = dtb_cstr(c, s);
    return e->off;
}

size_t dtb_cstr(dctx_t *c, const char *s)
{
    return s ? dtb_str(c, s, strlen(s)) : DOFF_NONE;
}

const char *dtb_get(const dctx_t *c, size_t off)
{
    return off == DOFF_NONE ? NULL : c->tb->data + off;
}

/* The path only matters when a record fails but is kept on every field:
 * pushing is two stores (snprintf here was a fifth of the Avro decode
 * time); the text is built by derr(). */
size_t dpath_push(dctx_t *c, const char *seg)
{
    size_t old = c->pathlen;
    if (!seg[0])
        return old;
    if (old < DPATH_MAX) {
        c->path[old].name = seg;
        c->path[old].idx = 0;
    }
    c->pathlen = old + 1;
    return old;
}

size_t dpath_push_idx(dctx_t *c, size_t i)
{
    size_t old = c->pathlen;
    if (old < DPATH_MAX) {
        c->path[old].name = NULL;
        c->path[old].idx = i;
    }
    c->pathlen = old + 1;
    return old;
}

void dpath_pop(dctx_t *c, size_t old)
{
    c->pathlen = old;
}

/* "value.after.tags[2]", cut at 255 characters as the old fixed buffer did. */
static void path_text(const dctx_t *c, char *out, size_t size)
{
    size_t len = 0, n = c->pathlen < DPATH_MAX ? c->pathlen : DPATH_MAX;
    out[0] = '\0';
    for (size_t i = 0; i < n && len + 1 < size; i++) {
        int m;
        if (c->path[i].name)
            m = snprintf(out + len, size - len, "%s%s", i ? "." : "", c->path[i].name);
        else
            m = snprintf(out + len, size - len, "[%zu]", c->path[i].idx);
        if (m < 0)
            break;
        len = len + (size_t)m < size ? len + (size_t)m : size - 1;
    }
}

int derr(dctx_t *c, cdc_err_class_t cls, const char *fmt, ...)
{
    if (c->cls != CDC_ERR_NONE)
        return -1; /* keep the first (innermost) error */
    c->cls = cls;
    if (!c->errstr || !c->errstr_size)
        return -1;
    const cdc_record_t *rec = c->rec;
    int n = snprintf(c->errstr, c->errstr_size, "%s[%d]@%lld: ", rec->topic ? rec->topic : "",
                     (int)rec->partition, (long long)rec->offset);
    if (n < 0 || (size_t)n >= c->errstr_size)
        return -1;
    if (c->pathlen) {
        char path[256];
        path_text(c, path, sizeof(path));
        int m = snprintf(c->errstr + n, c->errstr_size - (size_t)n, "%s: ", path);
        if (m < 0 || (size_t)(n + m) >= c->errstr_size)
            return -1;
        n += m;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errstr + n, c->errstr_size - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

scol_t *drow_push(srow_t *row)
{
    if (row->n == row->cap) {
        size_t ncap = row->cap ? row->cap * 2 : 32;
        scol_t *v = realloc(row->v, ncap * sizeof(scol_t));
        if (!v)
            abort();
        row->v = v;
        row->cap = ncap;
    }
    scol_t *col = &row->v[row->n++];
    memset(col, 0, sizeof(*col));
    col->name = col->text = col->sem = col->pg = DOFF_NONE;
    return col;
}

void dcol_add(dctx_t *c, srow_t *row, const char *name, const dsch_t *s, const char *hint_pg,
              bool isnull, size_t start)
{
    scol_t *col = drow_push(row);
    if (isnull) {
        c->tb->len = start;
        col->state = CDC_VAL_NULL;
    } else {
        size_t len = c->tb->len - start;
        /* The placeholder means "keep the stored value": it must never be
         * handed on as data (design invariant 6). */
        if (dph_match(&c->dec->ph, s, c->tb->data + start, len)) {
            c->tb->len = start;
            col->state = CDC_VAL_UNAVAILABLE;
        } else {
            dbuf_putc(c->tb, '\0');
            col->state = CDC_VAL_PRESENT;
            col->text = start;
            col->len = len;
        }
    }
    const dsch_t *u = dsch_unwrap(s);
    if (u) {
        /* With a schema, @p name is the schema's field name. */
        col->name = dtb_intern(c, name);
        col->sem = dtb_intern(c, u->semantic);
        col->pg = dtb_intern(c, u->pg_type);
        col->optional = s->optional || u != s;
    } else {
        /* Schemaless: the name is the JSON key and the type the lookup's
         * answer, neither of which outlives the call: copy. */
        col->name = dtb_cstr(c, name);
        col->pg = dtb_cstr(c, hint_pg);
        col->optional = true;
    }
}

int dlookup(dctx_t *c, const char *column, const char **type)
{
    *type = NULL;
    if (!c->lookup || !c->lookup->fn)
        return 0;
    cdc_type_query_t q = {dtb_get(c, c->topic), dtb_get(c, c->db), dtb_get(c, c->schema),
                          dtb_get(c, c->table), column};
    char msg[512] = "";
    cdc_err_class_t cls = CDC_ERR_NONE;
    if (c->lookup->fn(c->lookup->opaque, &q, type, &cls, msg, sizeof(msg)) == 0)
        return 0;
    *type = NULL;
    return derr(c, cls == CDC_ERR_NONE ? CDC_ERR_FATAL : cls, "%s",
                *msg ? msg : "the target type lookup failed");
}

/* ---- source / transaction / flattened metadata ---- */

const char *dkv_get(const dctx_t *c, const dkvs_t *kv, const char *name)
{
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->v[i].name, name) == 0)
            return dtb_get(c, kv->v[i].text);
    return NULL;
}

bool dkv_has(const dkvs_t *kv, const char *name)
{
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->v[i].name, name) == 0)
            return true;
    return false;
}

static size_t dkv_off(const dkvs_t *kv, const char *name)
{
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->v[i].name, name) == 0)
            return kv->v[i].text;
    return DOFF_NONE;
}

static int64_t dkv_int(const dctx_t *c, const dkvs_t *kv, const char *name)
{
    const char *s = dkv_get(c, kv, name);
    if (!s || !*s)
        return -1;
    char *end;
    long long v = strtoll(s, &end, 10);
    return *end ? -1 : (int64_t)v;
}

void denv_source(dctx_t *c, const dkvs_t *kv)
{
    c->connector = dkv_off(kv, "connector");
    c->db = dkv_off(kv, "db");
    c->schema = dkv_off(kv, "schema");
    c->table = dkv_off(kv, "table");
    c->snapshot = dkv_off(kv, "snapshot");
    c->source_ts_ms = dkv_int(c, kv, "ts_ms");
    c->source_ts_us = dkv_int(c, kv, "ts_us");
    c->lsn = dkv_int(c, kv, "lsn");
    c->txid = dkv_int(c, kv, "txId");
    /* op=m messages and some MySQL events carry "" for schema/table. */
    if (c->schema != DOFF_NONE && !*dtb_get(c, c->schema))
        c->schema = DOFF_NONE;
    if (c->table != DOFF_NONE && !*dtb_get(c, c->table))
        c->table = DOFF_NONE;
}

void denv_transaction(dctx_t *c, const dkvs_t *kv)
{
    c->txn_id = dkv_off(kv, "id");
}

bool dflat_is_meta(const char *name)
{
    static const char *const known[] = {"op",   "deleted",      "table",   "db",       "schema",
                                        "lsn",  "ts_ms",        "ts_us",   "ts_ns",    "txId",
                                        "name", "connector",    "version", "snapshot", "sequence",
                                        "xmin", "source_ts_ms", NULL};
    if (name[0] != '_' || name[1] != '_')
        return false;
    const char *rest = name + 2;
    if (strncmp(rest, "source_", 7) == 0 || strncmp(rest, "transaction_", 12) == 0)
        return true;
    for (int i = 0; known[i]; i++)
        if (strcmp(known[i], rest) == 0)
            return true;
    return false;
}

void dtopic_names(dctx_t *c)
{
    if (c->table != DOFF_NONE)
        return;
    /* <topic.prefix>.<schema>.<table> for PostgreSQL, <prefix>.<db>.<table>
     * for MySQL; without the source block this is the best there is. */
    const char *t = c->rec->topic;
    if (!t)
        return;
    const char *last = strrchr(t, '.');
    if (!last || !last[1])
        return;
    size_t tl = strlen(last + 1);
    const char *prev = last;
    while (prev > t && prev[-1] != '.')
        prev--;
    size_t sl = (size_t)(last - prev);
    char tmp[512];
    if (sl && prev > t && sl < sizeof(tmp) && c->schema == DOFF_NONE && c->db == DOFF_NONE) {
        memcpy(tmp, prev, sl);
        tmp[sl] = '\0';
        c->schema = dtb_cstr(c, tmp);
    }
    c->table = dtb_str(c, last + 1, tl);
}

int dflat_finish(dctx_t *c, const dkvs_t *meta)
{
    c->kind = CDC_KIND_CHANGE;
    c->op = 'u'; /* no __op: an upsert is all that can be said */
    const char *op = dkv_get(c, meta, "__op");
    if (op && op[0] && !op[1])
        c->op = op[0];
    const char *del = dkv_get(c, meta, "__deleted");
    if (del && strcmp(del, "true") == 0)
        c->op = 'd';
    if (c->op == 'd' && c->has_after) {
        /* rewrite mode: the image of a delete is the old row. */
        srow_t *tmp = c->before;
        c->before = c->after;
        c->after = tmp;
        c->has_before = true;
        c->has_after = false;
    }
    size_t off;
    if ((off = dkv_off(meta, "__table")) != DOFF_NONE)
        c->table = off;
    if ((off = dkv_off(meta, "__db")) != DOFF_NONE)
        c->db = off;
    if ((off = dkv_off(meta, "__schema")) != DOFF_NONE)
        c->schema = off;
    if ((off = dkv_off(meta, "__source_connector")) != DOFF_NONE)
        c->connector = off;
    int64_t v;
    if ((v = dkv_int(c, meta, "__source_ts_ms")) >= 0)
        c->source_ts_ms = v;
    if ((v = dkv_int(c, meta, "__ts_ms")) >= 0)
        c->ts_ms = v;
    if ((v = dkv_int(c, meta, "__lsn")) >= 0 || (v = dkv_int(c, meta, "__source_lsn")) >= 0)
        c->lsn = v;
    if ((v = dkv_int(c, meta, "__txId")) >= 0 || (v = dkv_int(c, meta, "__source_txId")) >= 0)
        c->txid = v;
    dtopic_names(c);
    return 0;
}

/* ---- the entry point ---- */

static const char *str_or_null(const char *base, size_t off)
{
    return off == DOFF_NONE ? NULL : base + off;
}

static void fill_row(cdc_row_t *out, cdc_col_t *cols, const srow_t *row, const char *base)
{
    out->cols = row->n ? cols : NULL;
    out->ncols = row->n;
    for (size_t i = 0; i < row->n; i++) {
        const scol_t *s = &row->v[i];
        cols[i].name = base + s->name;
        cols[i].state = s->state;
        cols[i].text = str_or_null(base, s->text);
        cols[i].len = s->text == DOFF_NONE ? 0 : s->len;
        cols[i].semantic = str_or_null(base, s->sem);
        cols[i].pg_type = str_or_null(base, s->pg);
        cols[i].optional = s->optional;
    }
}

static cdc_event_t *build_event(dctx_t *c)
{
    size_t ncols = c->key->n + c->before->n + c->after->n;
    size_t colsz = ncols * sizeof(cdc_col_t);
    size_t total = sizeof(cdc_event_t) + colsz + c->tb->len + 1;
    cdc_event_t *ev = malloc(total);
    if (!ev)
        abort();
    memset(ev, 0, sizeof(*ev));
    cdc_col_t *cols = (cdc_col_t *)(ev + 1);
    char *base = (char *)cols + colsz;
    memcpy(base, c->tb->data, c->tb->len);
    base[c->tb->len] = '\0';
    ev->kind = c->kind;
    ev->op = c->kind == CDC_KIND_CHANGE ? c->op : 0;
    ev->topic = str_or_null(base, c->topic);
    ev->partition = c->rec->partition;
    ev->offset = c->rec->offset;
    ev->kafka_ts_ms = c->rec->timestamp_ms;
    ev->connector = str_or_null(base, c->connector);
    ev->db = str_or_null(base, c->db);
    ev->schema = str_or_null(base, c->schema);
    ev->table = str_or_null(base, c->table);
    ev->has_key = c->has_key;
    ev->has_before = c->has_before;
    ev->has_after = c->has_after;
    fill_row(&ev->key, cols, c->key, base);
    fill_row(&ev->before, cols + c->key->n, c->before, base);
    fill_row(&ev->after, cols + c->key->n + c->before->n, c->after, base);
    ev->source_ts_ms = c->source_ts_ms;
    ev->source_ts_us = c->source_ts_us;
    ev->ts_ms = c->ts_ms;
    ev->lsn = c->lsn;
    ev->txid = c->txid;
    ev->snapshot = str_or_null(base, c->snapshot);
    ev->txn_id = str_or_null(base, c->txn_id);
    ev->txn_status = str_or_null(base, c->txn_status);
    ev->txn_event_count = c->txn_event_count;
    ev->priv_ = NULL;
    return ev;
}

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

static int decode_key(dctx_t *c)
{
    const cdc_record_t *rec = c->rec;
    if (!rec->key)
        return 0;
    size_t old = dpath_push(c, "key");
    int rc;
    if (short_frame(c->dec, rec->key, rec->key_len))
        rc = short_frame_err(c, rec->key_len);
    else if (c->dec->format == CDC_FORMAT_AVRO ||
             (c->dec->format == CDC_FORMAT_AUTO && looks_avro(rec->key, rec->key_len)))
        rc = da_decode_key(c, rec->key, rec->key_len);
    else
        rc = dj_decode_key(c, rec->key, rec->key_len);
    dpath_pop(c, old);
    return rc;
}

int cdc_decoder_decode(cdc_decoder_t *dec, const cdc_record_t *rec, cdc_event_t **evp,
                       cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    return cdc_decoder_decode_with(dec, rec, NULL, evp, cls, errstr, errstr_size);
}

int cdc_decoder_decode_with(cdc_decoder_t *dec, const cdc_record_t *rec,
                            const cdc_type_lookup_t *lookup, cdc_event_t **evp,
                            cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    dctx_t ctx;
    dctx_t *c = &ctx;
    /* The path stack (2 KB) is only read below pathlen. */
    memset(c, 0, offsetof(dctx_t, path));
    c->dec = dec;
    c->lookup = lookup;
    c->rec = rec;
    c->tb = &dec->tb;
    c->scratch = dec->scratch;
    c->tmprow = &dec->rows[3];
    ddec_intern_reset(dec);
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
    c->source_ts_ms = c->source_ts_us = c->ts_ms = c->lsn = c->txid = c->txn_event_count = -1;
    c->topic = dtb_cstr(c, rec->topic ? rec->topic : "");
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
        rc = decode_key(c);
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
            rc = da_decode_value(c, rec->value, rec->value_len);
        else
            rc = dj_decode_value(c, rec->value, rec->value_len);
        dpath_pop(c, old);
        if (rc == 0 && (c->kind == CDC_KIND_CHANGE || c->kind == CDC_KIND_MESSAGE))
            rc = decode_key(c);
    }
    if (rc != 0) {
        if (c->cls == CDC_ERR_NONE)
            derr(c, CDC_ERR_POISON, "cannot decode");
        if (cls)
            *cls = c->cls;
        return -1;
    }
    *evp = build_event(c);
    return 0;
}
