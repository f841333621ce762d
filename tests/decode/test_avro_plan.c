/* decode-avro-plan: what the Avro decoder works out once per schema (the
 * field roles, the column strings, which columns can carry the placeholder)
 * gives each event what reading the schema per datum gave: the envelope's
 * ts_ms, the source block's ts_ms / txId / lsn / db / schema / table and a
 * placeholder there read as absent, each column's name, semantic, pg_type
 * and optional flag, the placeholder in a string column (and a string of
 * its length that is not it), the key's columns, a tombstone-free delete,
 * and the errors of a bad op and a short datum. The figures are those the
 * decoder of main gives the same bytes. */
#include "th.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/buf.h"
#include "cdc/decode.h"
#include "cdc/util.h"

static const char *value_schema =
    "{\"type\":\"record\",\"name\":\"Envelope\",\"namespace\":\"pl.public.t\",\"fields\":["
    "{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Value\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"long\"},"
    "{\"name\":\"name\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"at\",\"type\":[\"null\",{\"type\":\"long\",\"connect.name\":"
    "\"io.debezium.time.MicroTimestamp\"}],\"default\":null},"
    "{\"name\":\"price\",\"type\":[\"null\",{\"type\":\"bytes\",\"logicalType\":\"decimal\","
    "\"scale\":2,\"precision\":10}],\"default\":null}]}],\"default\":null},"
    "{\"name\":\"after\",\"type\":[\"null\",\"Value\"],\"default\":null},"
    "{\"name\":\"source\",\"type\":{\"type\":\"record\",\"name\":\"Source\",\"namespace\":"
    "\"io.debezium.connector.postgresql\",\"fields\":["
    "{\"name\":\"ts_ms\",\"type\":\"long\"},"
    "{\"name\":\"snapshot\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"db\",\"type\":\"string\"},{\"name\":\"schema\",\"type\":\"string\"},"
    "{\"name\":\"table\",\"type\":\"string\"},"
    "{\"name\":\"txId\",\"type\":[\"null\",\"long\"],\"default\":null},"
    "{\"name\":\"lsn\",\"type\":[\"null\",\"long\"],\"default\":null}]}},"
    "{\"name\":\"op\",\"type\":\"string\"},"
    "{\"name\":\"ts_ms\",\"type\":[\"null\",\"long\"],\"default\":null}]}";

static const char *key_schema = "{\"type\":\"record\",\"name\":\"Key\",\"namespace\":"
                                "\"pl.public.t\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}";

static const char *ph = "__debezium_unavailable_value";

static void str(cdc_buf_t *b, const char *s)
{
    cdc_avro_long_append(b, (int64_t)strlen(s));
    cdc_buf_puts(b, s);
}

static void frame(cdc_buf_t *b, int id)
{
    const char hdr[5] = {0, 0, 0, 0, (char)id};
    cdc_buf_append(b, hdr, 5);
}

/* A Value image: id, name (NULL: null), at, price 12.34. */
static void image(cdc_buf_t *b, int64_t id, const char *name)
{
    cdc_avro_long_append(b, 1); /* the Value branch */
    cdc_avro_long_append(b, id);
    if (name) {
        cdc_avro_long_append(b, 1);
        str(b, name);
    } else {
        cdc_avro_long_append(b, 0);
    }
    cdc_avro_long_append(b, 1);
    cdc_avro_long_append(b, 1529507596945104);
    cdc_avro_long_append(b, 1);
    str(b, "\x04\xd2"); /* 1234 */
}

/* An envelope: @p op, images as given (id < 0: null), source with
 * @p snapshot (NULL: null), txId 771, lsn @p lsn (< 0: null), ts_ms
 * @p ts (< 0: null). */
static void envelope(cdc_buf_t *b, const char *op, int64_t before_id, int64_t after_id,
                     const char *name, const char *snapshot, int64_t lsn, int64_t ts)
{
    frame(b, 1);
    if (before_id < 0)
        cdc_avro_long_append(b, 0);
    else
        image(b, before_id, "old");
    if (after_id < 0)
        cdc_avro_long_append(b, 0);
    else
        image(b, after_id, name);
    cdc_avro_long_append(b, 1700000000123);
    if (snapshot) {
        cdc_avro_long_append(b, 1);
        str(b, snapshot);
    } else {
        cdc_avro_long_append(b, 0);
    }
    str(b, "shop");
    str(b, "public");
    str(b, "t");
    cdc_avro_long_append(b, 1);
    cdc_avro_long_append(b, 771);
    if (lsn < 0) {
        cdc_avro_long_append(b, 0);
    } else {
        cdc_avro_long_append(b, 1);
        cdc_avro_long_append(b, lsn);
    }
    str(b, op);
    if (ts < 0) {
        cdc_avro_long_append(b, 0);
    } else {
        cdc_avro_long_append(b, 1);
        cdc_avro_long_append(b, ts);
    }
}

static cdc_decoder_t *dec;

static int decode(const cdc_buf_t *value, const cdc_buf_t *key, cdc_event_t **ev, char *err,
                  size_t errsz)
{
    cdc_record_t rec = {.topic = "pl.public.t", .offset = 9, .timestamp_ms = -1};
    rec.value = value->data;
    rec.value_len = value->len;
    if (key) {
        rec.key = key->data;
        rec.key_len = key->len;
    }
    cdc_err_class_t cls;
    return cdc_decoder_decode(dec, &rec, ev, &cls, err, errsz);
}

static void check_col(const cdc_col_t *c, const char *name, cdc_val_state_t state, const char *text,
                      const char *semantic, const char *pg, bool optional)
{
    TH_CHECK_STR(c->name, name);
    TH_CHECK_INT(c->state, state);
    if (text)
        TH_CHECK_STR(c->text, text);
    TH_CHECK_STR(c->semantic ? c->semantic : "(none)", semantic);
    TH_CHECK_STR(c->pg_type ? c->pg_type : "(none)", pg);
    TH_CHECK_INT(c->optional, optional);
}

static void check_image(const cdc_row_t *r, int64_t id, cdc_val_state_t name_state,
                        const char *name)
{
    TH_ASSERT(r->ncols == 4);
    char idt[32];
    snprintf(idt, sizeof(idt), "%lld", (long long)id);
    check_col(&r->cols[0], "id", CDC_VAL_PRESENT, idt, "int64", "bigint", false);
    check_col(&r->cols[1], "name", name_state, name, "string", "text", true);
    check_col(&r->cols[2], "at", CDC_VAL_PRESENT, "2018-06-20 15:13:16.945104",
              "io.debezium.time.MicroTimestamp", "timestamp(6)", true);
    check_col(&r->cols[3], "price", CDC_VAL_PRESENT, "12.34",
              "org.apache.kafka.connect.data.Decimal", "numeric(10,2)", true);
}

int main(void)
{
    char err[CDC_ERRSTR_SIZE];
    dec = cdc_decoder_new(NULL, err, sizeof(err));
    TH_ASSERT(dec);
    TH_ASSERT(
        cdc_decoder_add_schema(dec, 1, value_schema, strlen(value_schema), err, sizeof(err)) == 0);
    TH_ASSERT(cdc_decoder_add_schema(dec, 2, key_schema, strlen(key_schema), err, sizeof(err)) ==
              0);
    cdc_buf_t v = CDC_BUF_INIT, k = CDC_BUF_INIT;
    cdc_event_t *ev = NULL;

    /* An update: the placeholder in a string column; the source block's
     * snapshot is the placeholder too (no snapshot). */
    frame(&k, 2);
    cdc_avro_long_append(&k, 5);
    envelope(&v, "u", 5, 5, ph, ph, 26658, 1700000000456);
    TH_ASSERT(decode(&v, &k, &ev, err, sizeof(err)) == 0);
    TH_CHECK_INT(ev->op, 'u');
    TH_CHECK_INT(ev->ts_ms, 1700000000456);
    TH_CHECK_INT(ev->source_ts_ms, 1700000000123);
    TH_CHECK_INT(ev->txid, 771);
    TH_CHECK_INT(ev->lsn, 26658);
    TH_CHECK(ev->snapshot == NULL);
    TH_CHECK_STR(ev->db, "shop");
    TH_CHECK_STR(ev->schema, "public");
    TH_CHECK_STR(ev->table, "t");
    TH_ASSERT(ev->has_before && ev->has_after && ev->has_key);
    check_image(&ev->before, 5, CDC_VAL_PRESENT, "old");
    check_image(&ev->after, 5, CDC_VAL_UNAVAILABLE, NULL);
    TH_ASSERT(ev->key.ncols == 1);
    check_col(&ev->key.cols[0], "id", CDC_VAL_PRESENT, "5", "int64", "bigint", false);
    cdc_event_destroy(ev);

    /* A string of the placeholder's length that is not it; a snapshot
     * value; no lsn, no ts_ms. */
    cdc_buf_reset(&v);
    envelope(&v, "c", -1, 6, "__debezium_unavailable_valuX", "true", -1, -1);
    TH_ASSERT(decode(&v, NULL, &ev, err, sizeof(err)) == 0);
    TH_CHECK_INT(ev->op, 'c');
    TH_CHECK_INT(ev->ts_ms, -1);
    TH_CHECK_INT(ev->lsn, -1);
    TH_CHECK_STR(ev->snapshot, "true");
    TH_ASSERT(!ev->has_before && ev->has_after);
    check_image(&ev->after, 6, CDC_VAL_PRESENT, "__debezium_unavailable_valuX");
    cdc_event_destroy(ev);

    /* A delete with a null name. */
    cdc_buf_reset(&v);
    envelope(&v, "d", 7, -1, NULL, NULL, 1, 0);
    TH_ASSERT(decode(&v, NULL, &ev, err, sizeof(err)) == 0);
    TH_CHECK_INT(ev->op, 'd');
    TH_CHECK_INT(ev->ts_ms, 0);
    TH_CHECK_INT(ev->lsn, 1);
    TH_ASSERT(ev->has_before && !ev->has_after);
    check_image(&ev->before, 7, CDC_VAL_PRESENT, "old");
    cdc_event_destroy(ev);

    /* A bad op, and a datum cut short inside the source block. */
    cdc_buf_reset(&v);
    envelope(&v, "x", -1, 8, "n", NULL, 1, 1);
    TH_CHECK(decode(&v, NULL, &ev, err, sizeof(err)) != 0);
    TH_CHECK_STR(err, "pl.public.t[0]@9: value.op: expected an op of c, u, d, r, t or m, found "
                      "\"x\"");
    cdc_buf_reset(&v);
    envelope(&v, "c", -1, 8, "n", NULL, 1, 1);
    v.len -= 12;
    TH_CHECK(decode(&v, NULL, &ev, err, sizeof(err)) != 0);
    TH_CHECK_STR(err, "pl.public.t[0]@9: value.source.schema: expected 6 bytes, found 5 left "
                      "(corrupt length or wrong schema id)");

    cdc_buf_free(&v);
    cdc_buf_free(&k);
    cdc_decoder_destroy(dec);
    TH_DONE();
}
