/* cdc-loadgen encoders: rows read back from the source become the exact
 * records Debezium's PostgreSQL connector (2.4.x, decimal.handling.mode=
 * precise, time.precision.mode=adaptive_time_microseconds, JsonConverter or
 * Confluent AvroConverter) writes for them. The shapes follow the captured
 * 2.4.2 output in shared/fixtures/debezium and debezium-format.md sections
 * 4 and 5; field order is the real one, because some consumers (wrongly)
 * parse by position and we want to catch that, not hide it. */
#include "loadgen.h"

#include "cdc/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "debezium_schemas.h"

/* Semantic kinds: each decides the Connect schema, the JSON payload form,
 * the Avro type and the Avro binary encoding. */
typedef enum lg_kind {
    K_INT64,
    K_INT32,
    K_BOOL,
    K_STRING,
    K_DECIMAL, /* numeric(12,2): Decimal, base64 two's complement, scale 2 */
    K_ZONED,   /* timestamptz: ZonedTimestamp, ISO UTC string */
    K_MICROTS, /* timestamp(6): MicroTimestamp, µs since epoch (wall clock as UTC) */
    K_DATE,    /* date: io.debezium.time.Date, days since epoch */
    K_JSON,    /* jsonb: io.debezium.data.Json, the text inside a string */
    K_UUID,    /* uuid: io.debezium.data.Uuid, lowercase text */
    K_TEXTARR, /* text[]: array of optional strings */
} lg_kind_t;

typedef struct lg_col {
    const char *name;
    lg_kind_t kind;
    bool optional;
} lg_col_t;

/* DDL order; the select list below must match it one for one. */
static const lg_col_t cols[CDC_LOADGEN_NCOLS] = {
    {"id", K_INT64, false},      {"customer", K_STRING, true},  {"amount", K_DECIMAL, true},
    {"status", K_STRING, true},  {"created_at", K_ZONED, true}, {"updated_at", K_MICROTS, true},
    {"qty", K_INT32, true},      {"note", K_STRING, true},      {"tags", K_TEXTARR, true},
    {"attrs", K_JSON, true},     {"flag", K_BOOL, true},        {"ref", K_UUID, true},
    {"ship_date", K_DATE, true},
};

#define DEC_PRECISION 12
#define DEC_SCALE     2

/* Text forms chosen so that C needs no date or numeric parsing of its own:
 * PostgreSQL computes epoch units exactly (extract() is numeric in 15), and
 * to_char under TimeZone=UTC gives the UTC wall clock of a timestamptz. The
 * trailing LSN is read in the same statement as the change, so it is the WAL
 * position just after that change's record. */
static const char select_list[] =
    "id::text, customer, amount::text, status,"
    " to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'),"
    " (extract(epoch from updated_at) * 1000000)::bigint::text, qty::text, note,"
    " array_to_json(tags)::text, attrs::text, flag::text, ref::text,"
    " (ship_date - date '1970-01-01')::text,"
    " (pg_current_wal_insert_lsn() - '0/0')::bigint::text";

const char *cdc_loadgen_select_list(void)
{
    return select_list;
}

void cdc_loadgen_ddl(cdc_buf_t *out, const char *qualified)
{
    /* No column defaults: Debezium turns function defaults into zero-value
     * schema "default"s, which would make the schemas depend on DDL details
     * nobody tests for. */
    cdc_buf_printf(out,
                   "CREATE TABLE IF NOT EXISTS %s ("
                   "id bigint PRIMARY KEY, customer text, amount numeric(12,2), status text,"
                   " created_at timestamptz, updated_at timestamp(6), qty int, note text,"
                   " tags text[], attrs jsonb, flag boolean, ref uuid, ship_date date)",
                   qualified);
}

struct cdc_loadgen_enc_s {
    cdc_loadgen_format_t fmt;
    bool heartbeat;
    char *prefix, *schema, *table, *topic, *ns; /* ns = <prefix>.<schema>.<table> */
    char *json_key_schema, *json_value_schema;  /* "{...}" Connect schema JSON */
    char *avro_key_schema, *avro_value_schema;
    int32_t key_id, value_id;
};

/* ---- small writers ---------------------------------------------------- */

void cdc_loadgen_json_str(cdc_buf_t *out, const char *s, size_t len, bool bytes_only)
{
    static const char hex[] = "0123456789abcdef";
    cdc_buf_putc(out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            cdc_buf_putc(out, '\\');
            cdc_buf_putc(out, (char)c);
        } else if (c == '\n') {
            cdc_buf_puts(out, "\\n");
        } else if (c == '\t') {
            cdc_buf_puts(out, "\\t");
        } else if (c == '\r') {
            cdc_buf_puts(out, "\\r");
        } else if (c < 0x20 || c == 0x7f || (bytes_only && c >= 0x80)) {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            cdc_buf_puts(out, u);
        } else {
            cdc_buf_putc(out, (char)c);
        }
    }
    cdc_buf_putc(out, '"');
}

static void json_cstr(cdc_buf_t *out, const char *s)
{
    cdc_loadgen_json_str(out, s, strlen(s), false);
}

/* Avro binary: zig-zag varints, length-prefixed strings (spec "Binary
 * encoding"). */
static void avro_bytes(cdc_buf_t *out, const void *p, size_t n)
{
    cdc_avro_long_append(out, (int64_t)n);
    cdc_buf_append(out, p, n);
}

static void avro_str(cdc_buf_t *out, const char *s)
{
    avro_bytes(out, s, strlen(s));
}

/* numeric text ("-123.4", "5") -> unscaled value at DEC_SCALE, as the
 * minimal big-endian two's complement Java's BigInteger.toByteArray() gives
 * (that is what Connect's Decimal carries). */
static int decimal_bytes(const char *txt, unsigned char *b, size_t *n)
{
    const char *p = txt;
    bool neg = false;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    int64_t v = 0;
    int frac = -1;
    for (; *p; p++) {
        if (*p == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (*p < '0' || *p > '9')
            return -1; /* NaN: Debezium would need VariableScaleDecimal tricks */
        if (frac >= 0 && ++frac > DEC_SCALE)
            return -1;
        v = v * 10 + (*p - '0');
    }
    for (int f = frac < 0 ? 0 : frac; f < DEC_SCALE; f++)
        v *= 10;
    if (neg)
        v = -v;
    unsigned char full[8];
    for (int i = 0; i < 8; i++)
        full[i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
    size_t start = 0;
    /* Drop a leading byte while the next one still carries the sign bit. */
    while (start < 7 && ((full[start] == 0x00 && !(full[start + 1] & 0x80)) ||
                         (full[start] == 0xff && (full[start + 1] & 0x80))))
        start++;
    *n = 8 - start;
    memcpy(b, full + start, *n);
    return 0;
}

/* to_char "2024-01-02T03:04:05.120000" -> "2024-01-02T03:04:05.12Z": Java's
 * ISO_OFFSET_DATE_TIME prints only the fraction digits needed. */
static void zoned_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src);
    char *dot = strchr(dst, '.');
    if (dot) {
        size_t n = strlen(dst);
        while (n > 0 && dst[n - 1] == '0')
            dst[--n] = '\0';
        if (dst + n - 1 == dot)
            *dot = '\0';
    }
    size_t n = strlen(dst);
    if (n + 1 < size) {
        dst[n] = 'Z';
        dst[n + 1] = '\0';
    }
}

/* ---- schemas ---------------------------------------------------------- */

static void json_col_schema(cdc_buf_t *o, const lg_col_t *c)
{
    const char *opt = c->optional ? "true" : "false";
    switch (c->kind) {
    case K_INT64:
        cdc_buf_printf(o, "{\"type\":\"int64\",\"optional\":%s,\"field\":\"%s\"}", opt, c->name);
        break;
    case K_INT32:
        cdc_buf_printf(o, "{\"type\":\"int32\",\"optional\":%s,\"field\":\"%s\"}", opt, c->name);
        break;
    case K_BOOL:
        cdc_buf_printf(o, "{\"type\":\"boolean\",\"optional\":%s,\"field\":\"%s\"}", opt, c->name);
        break;
    case K_STRING:
        cdc_buf_printf(o, "{\"type\":\"string\",\"optional\":%s,\"field\":\"%s\"}", opt, c->name);
        break;
    case K_DECIMAL:
        cdc_buf_printf(o,
                       "{\"type\":\"bytes\",\"optional\":%s,\"name\":"
                       "\"org.apache.kafka.connect.data.Decimal\",\"version\":1,\"parameters\":"
                       "{\"scale\":\"%d\",\"connect.decimal.precision\":\"%d\"},\"field\":\"%s\"}",
                       opt, DEC_SCALE, DEC_PRECISION, c->name);
        break;
    case K_ZONED:
    case K_JSON:
    case K_UUID:
        cdc_buf_printf(o,
                       "{\"type\":\"string\",\"optional\":%s,\"name\":\"%s\",\"version\":1,"
                       "\"field\":\"%s\"}",
                       opt,
                       c->kind == K_ZONED  ? "io.debezium.time.ZonedTimestamp"
                       : c->kind == K_JSON ? "io.debezium.data.Json"
                                           : "io.debezium.data.Uuid",
                       c->name);
        break;
    case K_MICROTS:
        cdc_buf_printf(o,
                       "{\"type\":\"int64\",\"optional\":%s,\"name\":"
                       "\"io.debezium.time.MicroTimestamp\",\"version\":1,\"field\":\"%s\"}",
                       opt, c->name);
        break;
    case K_DATE:
        cdc_buf_printf(o,
                       "{\"type\":\"int32\",\"optional\":%s,\"name\":\"io.debezium.time.Date\","
                       "\"version\":1,\"field\":\"%s\"}",
                       opt, c->name);
        break;
    case K_TEXTARR:
        cdc_buf_printf(o,
                       "{\"type\":\"array\",\"items\":{\"type\":\"string\",\"optional\":true},"
                       "\"optional\":%s,\"field\":\"%s\"}",
                       opt, c->name);
        break;
    }
}

/* The Connect source and transaction blocks (2.4.x field order, fixture
 * pg-2.4.2-create.json) are the schemas/debezium .connect.json files, embedded at
 * build time (debezium_schemas.h). */

static void json_value_struct(cdc_buf_t *o, const char *ns, const char *field)
{
    cdc_buf_puts(o, "{\"type\":\"struct\",\"fields\":[");
    for (int i = 0; i < CDC_LOADGEN_NCOLS; i++) {
        if (i)
            cdc_buf_putc(o, ',');
        json_col_schema(o, &cols[i]);
    }
    cdc_buf_printf(o, "],\"optional\":true,\"name\":\"%s.Value\",\"field\":\"%s\"}", ns, field);
}

/* AvroData: a named Connect primitive keeps its Avro type and gains
 * connect.version / connect.parameters / connect.name; optional fields are
 * ["null", T] with default null. */
static void avro_col_type(cdc_buf_t *o, const lg_col_t *c)
{
    switch (c->kind) {
    case K_INT64: cdc_buf_puts(o, "\"long\""); break;
    case K_INT32: cdc_buf_puts(o, "\"int\""); break;
    case K_BOOL: cdc_buf_puts(o, "\"boolean\""); break;
    case K_STRING: cdc_buf_puts(o, "\"string\""); break;
    case K_DECIMAL:
        cdc_buf_printf(o,
                       "{\"type\":\"bytes\",\"scale\":%d,\"precision\":%d,\"connect.version\":1,"
                       "\"connect.parameters\":{\"scale\":\"%d\",\"connect.decimal.precision\":"
                       "\"%d\"},\"connect.name\":\"org.apache.kafka.connect.data.Decimal\","
                       "\"logicalType\":\"decimal\"}",
                       DEC_SCALE, DEC_PRECISION, DEC_SCALE, DEC_PRECISION);
        break;
    case K_ZONED:
        cdc_buf_puts(o, "{\"type\":\"string\",\"connect.version\":1,"
                        "\"connect.name\":\"io.debezium.time.ZonedTimestamp\"}");
        break;
    case K_JSON:
        cdc_buf_puts(o, "{\"type\":\"string\",\"connect.version\":1,"
                        "\"connect.name\":\"io.debezium.data.Json\"}");
        break;
    case K_UUID:
        cdc_buf_puts(o, "{\"type\":\"string\",\"connect.version\":1,"
                        "\"connect.name\":\"io.debezium.data.Uuid\"}");
        break;
    case K_MICROTS:
        cdc_buf_puts(o, "{\"type\":\"long\",\"connect.version\":1,"
                        "\"connect.name\":\"io.debezium.time.MicroTimestamp\"}");
        break;
    case K_DATE:
        cdc_buf_puts(o, "{\"type\":\"int\",\"connect.version\":1,"
                        "\"connect.name\":\"io.debezium.time.Date\"}");
        break;
    case K_TEXTARR: cdc_buf_puts(o, "{\"type\":\"array\",\"items\":[\"null\",\"string\"]}"); break;
    }
}

/* The Avro source and transaction blocks are the schemas/debezium .avsc files. */

static void build_schemas(cdc_loadgen_enc_t *enc)
{
    cdc_buf_t b = CDC_BUF_INIT;
    if (enc->heartbeat) {
        enc->json_key_schema =
            strdup("{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,"
                   "\"field\":\"serverName\"}],\"optional\":false,"
                   "\"name\":\"io.debezium.connector.common.ServerNameKey\"}");
        enc->json_value_schema =
            strdup("{\"type\":\"struct\",\"fields\":[{\"type\":\"int64\",\"optional\":false,"
                   "\"field\":\"ts_ms\"}],\"optional\":false,"
                   "\"name\":\"io.debezium.connector.common.Heartbeat\"}");
        enc->avro_key_schema =
            strdup("{\"type\":\"record\",\"name\":\"ServerNameKey\",\"namespace\":"
                   "\"io.debezium.connector.common\",\"fields\":[{\"name\":\"serverName\",\"type\":"
                   "\"string\"}],\"connect.name\":\"io.debezium.connector.common.ServerNameKey\"}");
        enc->avro_value_schema =
            strdup("{\"type\":\"record\",\"name\":\"Heartbeat\",\"namespace\":"
                   "\"io.debezium.connector.common\",\"fields\":[{\"name\":\"ts_ms\",\"type\":"
                   "\"long\"}],\"connect.name\":\"io.debezium.connector.common.Heartbeat\"}");
        return;
    }
    const char *ns = enc->ns;

    cdc_buf_puts(&b, "{\"type\":\"struct\",\"fields\":[");
    json_col_schema(&b, &cols[0]);
    cdc_buf_printf(&b, "],\"optional\":false,\"name\":\"%s.Key\"}", ns);
    enc->json_key_schema = cdc_buf_steal(&b);

    cdc_buf_puts(&b, "{\"type\":\"struct\",\"fields\":[");
    json_value_struct(&b, ns, "before");
    cdc_buf_putc(&b, ',');
    json_value_struct(&b, ns, "after");
    cdc_buf_putc(&b, ',');
    cdc_buf_puts(&b, cdc_dbz_pg_source_connect);
    cdc_buf_puts(&b, ",{\"type\":\"string\",\"optional\":false,\"field\":\"op\"},"
                     "{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"},");
    cdc_buf_puts(&b, cdc_dbz_txn_block_connect);
    cdc_buf_printf(&b, "],\"optional\":false,\"name\":\"%s.Envelope\",\"version\":1}", ns);
    enc->json_value_schema = cdc_buf_steal(&b);

    cdc_buf_printf(&b,
                   "{\"type\":\"record\",\"name\":\"Key\",\"namespace\":\"%s\",\"fields\":["
                   "{\"name\":\"id\",\"type\":\"long\"}],\"connect.name\":\"%s.Key\"}",
                   ns, ns);
    enc->avro_key_schema = cdc_buf_steal(&b);

    cdc_buf_printf(&b,
                   "{\"type\":\"record\",\"name\":\"Envelope\",\"namespace\":\"%s\",\"fields\":["
                   "{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"record\",\"name\":"
                   "\"Value\",\"fields\":[",
                   ns);
    for (int i = 0; i < CDC_LOADGEN_NCOLS; i++) {
        cdc_buf_printf(&b, "%s{\"name\":\"%s\",\"type\":", i ? "," : "", cols[i].name);
        if (cols[i].optional) {
            cdc_buf_puts(&b, "[\"null\",");
            avro_col_type(&b, &cols[i]);
            cdc_buf_puts(&b, "],\"default\":null}");
        } else {
            avro_col_type(&b, &cols[i]);
            cdc_buf_putc(&b, '}');
        }
    }
    /* `after` refers to the Value record defined inside `before` by its full
     * name, exactly like AvroData's output: decoders need a named-type table. */
    cdc_buf_printf(&b,
                   "],\"connect.name\":\"%s.Value\"}],\"default\":null},"
                   "{\"name\":\"after\",\"type\":[\"null\",\"%s.Value\"],\"default\":null},"
                   "{\"name\":\"source\",\"type\":%s},"
                   "{\"name\":\"op\",\"type\":\"string\"},"
                   "{\"name\":\"ts_ms\",\"type\":[\"null\",\"long\"],\"default\":null},"
                   "{\"name\":\"transaction\",\"type\":[\"null\",%s],\"default\":null}],"
                   "\"connect.version\":1,\"connect.name\":\"%s.Envelope\"}",
                   ns, ns, cdc_dbz_pg_source_avro, cdc_dbz_txn_block_avro, ns);
    enc->avro_value_schema = cdc_buf_steal(&b);
}

cdc_loadgen_enc_t *cdc_loadgen_enc_new(cdc_loadgen_format_t fmt, const char *prefix,
                                       const char *schema, const char *table)
{
    cdc_loadgen_enc_t *enc = calloc(1, sizeof(*enc));
    if (!enc)
        abort();
    cdc_buf_t b = CDC_BUF_INIT;
    enc->fmt = fmt;
    enc->heartbeat = table == NULL;
    enc->prefix = strdup(prefix);
    enc->schema = strdup(schema ? schema : "");
    enc->table = strdup(table ? table : "");
    if (enc->heartbeat) {
        cdc_buf_printf(&b, "__debezium-heartbeat.%s", prefix);
    } else {
        cdc_buf_printf(&b, "%s.%s.%s", prefix, schema, table);
        enc->ns = strdup(b.data);
    }
    enc->topic = cdc_buf_steal(&b);
    build_schemas(enc);
    return enc;
}

void cdc_loadgen_enc_destroy(cdc_loadgen_enc_t *enc)
{
    if (!enc)
        return;
    free(enc->prefix);
    free(enc->schema);
    free(enc->table);
    free(enc->topic);
    free(enc->ns);
    free(enc->json_key_schema);
    free(enc->json_value_schema);
    free(enc->avro_key_schema);
    free(enc->avro_value_schema);
    free(enc);
}

const char *cdc_loadgen_enc_topic(const cdc_loadgen_enc_t *enc)
{
    return enc->topic;
}

const char *cdc_loadgen_enc_avro_schema(const cdc_loadgen_enc_t *enc, bool value)
{
    return value ? enc->avro_value_schema : enc->avro_key_schema;
}

void cdc_loadgen_enc_set_ids(cdc_loadgen_enc_t *enc, int32_t key_id, int32_t value_id)
{
    enc->key_id = key_id;
    enc->value_id = value_id;
}

static void avro_frame(cdc_buf_t *out, int32_t id)
{
    unsigned char h[5] = {0, (unsigned char)((uint32_t)id >> 24),
                          (unsigned char)((uint32_t)id >> 16), (unsigned char)((uint32_t)id >> 8),
                          (unsigned char)id};
    cdc_buf_append(out, h, sizeof(h));
}

void cdc_loadgen_enc_key(const cdc_loadgen_enc_t *enc, const char *id, cdc_buf_t *out)
{
    cdc_buf_reset(out);
    if (enc->fmt == CDC_LOADGEN_AVRO) {
        avro_frame(out, enc->key_id);
        if (enc->heartbeat)
            avro_str(out, enc->prefix);
        else
            cdc_avro_long_append(out, strtoll(id, NULL, 10));
        return;
    }
    if (enc->fmt == CDC_LOADGEN_JSON)
        cdc_buf_printf(out, "{\"schema\":%s,\"payload\":", enc->json_key_schema);
    if (enc->heartbeat) {
        cdc_buf_puts(out, "{\"serverName\":");
        json_cstr(out, enc->prefix);
        cdc_buf_putc(out, '}');
    } else {
        cdc_buf_printf(out, "{\"id\":%s}", id);
    }
    if (enc->fmt == CDC_LOADGEN_JSON)
        cdc_buf_putc(out, '}');
}

void cdc_loadgen_enc_heartbeat(const cdc_loadgen_enc_t *enc, int64_t ts_ms, cdc_buf_t *out)
{
    cdc_buf_reset(out);
    if (enc->fmt == CDC_LOADGEN_AVRO) {
        avro_frame(out, enc->value_id);
        cdc_avro_long_append(out, ts_ms);
        return;
    }
    if (enc->fmt == CDC_LOADGEN_JSON)
        cdc_buf_printf(out, "{\"schema\":%s,\"payload\":", enc->json_value_schema);
    cdc_buf_printf(out, "{\"ts_ms\":%lld}", (long long)ts_ms);
    if (enc->fmt == CDC_LOADGEN_JSON)
        cdc_buf_putc(out, '}');
}

/* ---- values ----------------------------------------------------------- */

/* One column value in JSON. A value we cannot represent is an error rather
 * than a silently different record. */
/* A column value in the forms both encoders need: a timestamptz as its ISO
 * UTC text, a numeric as its unscaled two's-complement bytes. */
typedef struct lg_val {
    const char *text;
    unsigned char dec[8];
    size_t dec_len;
    char ts[64];
} lg_val_t;

static int col_value(const lg_col_t *c, const char *v, lg_val_t *cv, char *errstr,
                     size_t errstr_size)
{
    cv->text = v;
    if (c->kind == K_ZONED) {
        zoned_text(cv->ts, sizeof(cv->ts), v);
        cv->text = cv->ts;
    } else if (c->kind == K_DECIMAL && decimal_bytes(v, cv->dec, &cv->dec_len) != 0) {
        snprintf(errstr, errstr_size, "column %s: cannot encode numeric '%s'", c->name, v);
        return -1;
    }
    return 0;
}

static int json_col(cdc_buf_t *o, const lg_col_t *c, const char *v, char *errstr,
                    size_t errstr_size)
{
    lg_val_t cv;
    if (col_value(c, v, &cv, errstr, errstr_size) != 0)
        return -1;
    switch (c->kind) {
    case K_BOOL: cdc_buf_puts(o, strcmp(v, "true") == 0 ? "true" : "false"); return 0;
    case K_DECIMAL:
        cdc_buf_putc(o, '"');
        cdc_base64_append(o, cv.dec, cv.dec_len);
        cdc_buf_putc(o, '"');
        return 0;
    case K_STRING:
    case K_JSON:
    case K_UUID:
    case K_ZONED: json_cstr(o, cv.text); return 0;
    default:
        /* Integers: PostgreSQL's text is a JSON number; text[]:
         * array_to_json already is the JSON array of optional strings. */
        cdc_buf_puts(o, v);
        return 0;
    }
}

static int json_row(cdc_buf_t *o, const cdc_loadgen_row_t *row, char *errstr, size_t errstr_size)
{
    if (!row) {
        cdc_buf_puts(o, "null");
        return 0;
    }
    cdc_buf_putc(o, '{');
    for (int i = 0; i < CDC_LOADGEN_NCOLS; i++) {
        cdc_buf_printf(o, "%s\"%s\":", i ? "," : "", cols[i].name);
        if (i == CDC_LOADGEN_COL_NOTE && row->note_unavailable)
            json_cstr(o, CDC_LOADGEN_PLACEHOLDER);
        else if (!row->v[i] || (row->key_only && i > 0))
            cdc_buf_puts(o, "null");
        else if (json_col(o, &cols[i], row->v[i], errstr, errstr_size) != 0)
            return -1;
    }
    cdc_buf_putc(o, '}');
    return 0;
}

static int avro_col(cdc_buf_t *o, const lg_col_t *c, const char *v, char *errstr,
                    size_t errstr_size)
{
    lg_val_t cv;
    if (col_value(c, v, &cv, errstr, errstr_size) != 0)
        return -1;
    switch (c->kind) {
    case K_INT64:
    case K_INT32:
    case K_MICROTS:
    case K_DATE:
        cdc_avro_long_append(o, strtoll(v, NULL, 10)); /* int and long share the encoding */
        return 0;
    case K_BOOL: cdc_buf_putc(o, strcmp(v, "true") == 0 ? 1 : 0); return 0;
    case K_STRING:
    case K_JSON:
    case K_UUID:
    case K_ZONED: avro_str(o, cv.text); return 0;
    case K_DECIMAL: avro_bytes(o, cv.dec, cv.dec_len); return 0;
    case K_TEXTARR: {
        json_error_t jerr;
        json_t *arr = json_loads(v, 0, &jerr);
        if (!json_is_array(arr)) {
            json_decref(arr);
            snprintf(errstr, errstr_size, "column %s: array_to_json gave '%s'", c->name, v);
            return -1;
        }
        size_t cnt = json_array_size(arr);
        if (cnt)
            cdc_avro_long_append(o, (int64_t)cnt);
        for (size_t i = 0; i < cnt; i++) {
            json_t *e = json_array_get(arr, i);
            if (json_is_string(e)) {
                cdc_avro_long_append(o, 1);
                avro_bytes(o, json_string_value(e), json_string_length(e));
            } else {
                cdc_avro_long_append(o, 0);
            }
        }
        cdc_avro_long_append(o, 0);
        json_decref(arr);
        return 0;
    }
    }
    return 0;
}

/* A ["null", Value] union: branch index, then the record. */
static int avro_row(cdc_buf_t *o, const cdc_loadgen_row_t *row, char *errstr, size_t errstr_size)
{
    if (!row) {
        cdc_avro_long_append(o, 0);
        return 0;
    }
    cdc_avro_long_append(o, 1);
    for (int i = 0; i < CDC_LOADGEN_NCOLS; i++) {
        const char *v = row->v[i];
        if (i == CDC_LOADGEN_COL_NOTE && row->note_unavailable)
            v = CDC_LOADGEN_PLACEHOLDER;
        else if (row->key_only && i > 0)
            v = NULL;
        if (cols[i].optional) {
            cdc_avro_long_append(o, v ? 1 : 0);
            if (!v)
                continue;
        }
        if (avro_col(o, &cols[i], v, errstr, errstr_size) != 0)
            return -1;
    }
    return 0;
}

static void sequence_text(char *dst, size_t size, const cdc_loadgen_source_t *s)
{
    /* ["<last commit lsn>","<this lsn>"] as a string, null when unknown. */
    char last[32] = "null";
    if (s->last_commit_lsn >= 0)
        snprintf(last, sizeof(last), "\"%lld\"", (long long)s->last_commit_lsn);
    snprintf(dst, size, "[%s,\"%lld\"]", last, (long long)s->lsn);
}

int cdc_loadgen_enc_value(const cdc_loadgen_enc_t *enc, const cdc_loadgen_event_t *ev,
                          cdc_buf_t *out, char *errstr, size_t errstr_size)
{
    char seq[96];
    char op[2] = {ev->op, 0};
    const char *snap = ev->src.snapshot ? ev->src.snapshot : "false";
    sequence_text(seq, sizeof(seq), &ev->src);
    cdc_buf_reset(out);

    if (enc->fmt == CDC_LOADGEN_AVRO) {
        avro_frame(out, enc->value_id);
        if (avro_row(out, ev->before, errstr, errstr_size) != 0 ||
            avro_row(out, ev->after, errstr, errstr_size) != 0)
            return -1;
        avro_str(out, "2.4.2.Final");
        avro_str(out, "postgresql");
        avro_str(out, enc->prefix);
        cdc_avro_long_append(out, ev->src.ts_ms);
        cdc_avro_long_append(out, 0); /* snapshot: branch 0 is the string */
        avro_str(out, snap);
        avro_str(out, ev->src.db);
        cdc_avro_long_append(out, 1);
        avro_str(out, seq);
        avro_str(out, enc->schema);
        avro_str(out, enc->table);
        cdc_avro_long_append(out, 1);
        cdc_avro_long_append(out, ev->src.txid);
        cdc_avro_long_append(out, 1);
        cdc_avro_long_append(out, ev->src.lsn);
        cdc_avro_long_append(out, 0); /* xmin null */
        avro_str(out, op);
        cdc_avro_long_append(out, 1);
        cdc_avro_long_append(out, ev->ts_ms);
        cdc_avro_long_append(out, 0); /* transaction null: provide.transaction.metadata=false */
        return 0;
    }

    if (enc->fmt == CDC_LOADGEN_JSON)
        cdc_buf_printf(out, "{\"schema\":%s,\"payload\":", enc->json_value_schema);
    cdc_buf_puts(out, "{\"before\":");
    if (json_row(out, ev->before, errstr, errstr_size) != 0)
        return -1;
    cdc_buf_puts(out, ",\"after\":");
    if (json_row(out, ev->after, errstr, errstr_size) != 0)
        return -1;
    cdc_buf_puts(out, ",\"source\":{\"version\":\"2.4.2.Final\",\"connector\":\"postgresql\","
                      "\"name\":");
    json_cstr(out, enc->prefix);
    cdc_buf_printf(out, ",\"ts_ms\":%lld,\"snapshot\":\"%s\",\"db\":", (long long)ev->src.ts_ms,
                   snap);
    json_cstr(out, ev->src.db);
    const char *tail[][2] = {{"sequence", seq}, {"schema", enc->schema}, {"table", enc->table}};
    for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++) {
        cdc_buf_printf(out, ",\"%s\":", tail[i][0]);
        json_cstr(out, tail[i][1]);
    }
    cdc_buf_printf(out,
                   ",\"txId\":%lld,\"lsn\":%lld,\"xmin\":null},\"op\":\"%s\",\"ts_ms\":%lld,"
                   "\"transaction\":null}",
                   (long long)ev->src.txid, (long long)ev->src.lsn, op, (long long)ev->ts_ms);
    if (enc->fmt == CDC_LOADGEN_JSON)
        cdc_buf_putc(out, '}');
    return 0;
}

void cdc_loadgen_row_clear(cdc_loadgen_row_t *row)
{
    for (int i = 0; i < CDC_LOADGEN_NCOLS; i++)
        free(row->v[i]);
    memset(row, 0, sizeof(*row));
}
