/* decode-txn-meta: Debezium's transaction metadata (debezium-format.md,
 * Transaction metadata) read strictly. A data event's `transaction` block
 * must be null or {id: non-empty string, total_order: integer >= 1,
 * data_collection_order: integer >= 1}; a <prefix>.transaction record needs
 * status BEGIN or END, a string id and, on END, an integer event_count.
 * Anything else is the record's error (poison: a bad record), naming
 * topic[partition]@offset and the field, in schemaless JSON and in JSON
 * with a schema (the single-pass scanner's path); the valid records
 * Debezium writes still decode with their id, order and count. */
#include "th.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/decode.h"

static cdc_decoder_t *dec;

/* Schemaless: a change event with @p txn as its transaction block. */
static void change(char *out, size_t n, const char *txn)
{
    snprintf(out, n,
             "{\"before\":null,\"after\":{\"id\":1,\"qty\":2},\"source\":{\"version\":\"2.7.1."
             "Final\",\"connector\":\"postgresql\",\"name\":\"tm\",\"ts_ms\":1700000000123,"
             "\"db\":\"shop\",\"schema\":\"public\",\"table\":\"lines\",\"txId\":502,\"lsn\":"
             "50200},\"transaction\":%s,\"op\":\"c\",\"ts_ms\":1700000000456}",
             txn);
}

/* With a schema, as Kafka Connect's JsonConverter writes it. */
static void change_schema(char *out, size_t n, const char *txn)
{
    snprintf(
        out, n,
        "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"struct\",\"fields\":[{\"type\":"
        "\"int64\",\"optional\":false,\"field\":\"id\"},{\"type\":\"int32\",\"optional\":true,"
        "\"field\":\"qty\"}],\"optional\":true,\"name\":\"tm.public.lines.Value\",\"field\":"
        "\"before\"},{\"type\":\"struct\",\"fields\":[{\"type\":\"int64\",\"optional\":false,"
        "\"field\":\"id\"},{\"type\":\"int32\",\"optional\":true,\"field\":\"qty\"}],\"optional\":"
        "true,\"name\":\"tm.public.lines.Value\",\"field\":\"after\"},{\"type\":\"struct\","
        "\"fields\":[{\"type\":\"string\",\"optional\":false,\"field\":\"connector\"},{\"type\":"
        "\"string\",\"optional\":false,\"field\":\"schema\"},{\"type\":\"string\",\"optional\":"
        "false,\"field\":\"table\"}],\"optional\":false,\"name\":\"io.debezium.connector."
        "postgresql.Source\",\"field\":\"source\"},{\"type\":\"string\",\"optional\":false,"
        "\"field\":\"op\"},{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":"
        "false,\"field\":\"id\"},{\"type\":\"int64\",\"optional\":false,\"field\":\"total_order\"},"
        "{\"type\":\"int64\",\"optional\":false,\"field\":\"data_collection_order\"}],"
        "\"optional\":true,\"name\":\"event.block\",\"version\":1,\"field\":\"transaction\"}],"
        "\"optional\":false,\"name\":\"tm.public.lines.Envelope\",\"version\":1},\"payload\":{"
        "\"before\":null,\"after\":{\"id\":1,\"qty\":2},\"source\":{\"connector\":\"postgresql\","
        "\"schema\":\"public\",\"table\":\"lines\"},\"op\":\"c\",\"transaction\":%s}}",
        txn);
}

static int dec_one(const char *topic, const char *value, cdc_event_t **ev, cdc_err_class_t *cls,
                   char *err, size_t errsz)
{
    cdc_record_t rec = {.topic = topic,
                        .offset = 7,
                        .timestamp_ms = -1,
                        .value = value,
                        .value_len = strlen(value)};
    *ev = NULL;
    return cdc_decoder_decode(dec, &rec, ev, cls, err, errsz);
}

/* @p value must fail as a bad record with an error naming the record and @p field. */
static void bad(const char *topic, const char *value, const char *field)
{
    cdc_event_t *ev;
    cdc_err_class_t cls = CDC_ERR_NONE;
    char err[1024] = "";
    int rc = dec_one(topic, value, &ev, &cls, err, sizeof(err));
    char where[160];
    snprintf(where, sizeof(where), "%s[0]@7", topic);
    fprintf(stderr, "%s -> %s\n", field, rc ? err : "(accepted)");
    TH_CHECK(rc != 0);
    TH_CHECK_INT(cls, CDC_ERR_POISON);
    TH_CHECK(strstr(err, where) != NULL);
    TH_CHECK(strstr(err, field) != NULL);
    TH_CHECK(strchr(err, '\n') == NULL);
    cdc_event_destroy(ev);
}

static void good_change(const char *value, const char *id, long long order)
{
    cdc_event_t *ev;
    cdc_err_class_t cls;
    char err[1024] = "";
    int rc = dec_one("tm.public.lines", value, &ev, &cls, err, sizeof(err));
    if (rc)
        fprintf(stderr, "unexpected: %s\n", err);
    TH_CHECK(rc == 0);
    if (rc)
        return;
    TH_CHECK_INT(ev->kind, CDC_KIND_CHANGE);
    TH_CHECK((id == NULL && ev->txn_id == NULL) || (id && ev->txn_id && !strcmp(ev->txn_id, id)));
    TH_CHECK_INT(ev->txn_order, order);
    cdc_event_destroy(ev);
}

static void good_txn(const char *value, const char *status, long long count)
{
    cdc_event_t *ev;
    cdc_err_class_t cls;
    char err[1024] = "";
    int rc = dec_one("tm.transaction", value, &ev, &cls, err, sizeof(err));
    if (rc)
        fprintf(stderr, "unexpected: %s\n", err);
    TH_CHECK(rc == 0);
    if (rc)
        return;
    TH_CHECK_INT(ev->kind, CDC_KIND_TXN);
    TH_CHECK(ev->txn_status && !strcmp(ev->txn_status, status));
    TH_CHECK_INT(ev->txn_event_count, count);
    cdc_event_destroy(ev);
}

int main(void)
{
    cdc_decoder_conf_t dc;
    memset(&dc, 0, sizeof(dc));
    dc.format = CDC_FORMAT_JSON;
    char err[256], v[8192];
    dec = cdc_decoder_new(&dc, err, sizeof(err));
    TH_ASSERT(dec);
    const char *ok = "{\"id\":\"502:50200\",\"total_order\":3,\"data_collection_order\":1}";
    const struct {
        const char *txn, *field;
    } bads[] = {
        {"\"502:50200\"", "transaction"},
        {"{\"id\":\"502:50200\",\"total_order\":\"1\",\"data_collection_order\":1}", "total_order"},
        {"{\"id\":\"502:50200\",\"total_order\":3.5,\"data_collection_order\":1}", "total_order"},
        {"{\"id\":\"502:50200\",\"total_order\":0,\"data_collection_order\":1}", "total_order"},
        {"{\"id\":\"502:50200\",\"data_collection_order\":1}", "total_order"},
        {"{\"id\":502,\"total_order\":1,\"data_collection_order\":1}", "id"},
        {"{\"id\":\"\",\"total_order\":1,\"data_collection_order\":1}", "id"},
        {"{\"total_order\":1,\"data_collection_order\":1}", "id"},
        {"{\"id\":\"502:50200\",\"total_order\":1,\"data_collection_order\":\"1\"}",
         "data_collection_order"},
        {"{\"id\":\"502:50200\",\"total_order\":1,\"data_collection_order\":true}",
         "data_collection_order"},
    };
    fprintf(stderr, "--- schemaless change events\n");
    change(v, sizeof(v), ok);
    good_change(v, "502:50200", 3);
    change(v, sizeof(v), "null");
    good_change(v, NULL, -1);
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        change(v, sizeof(v), bads[i].txn);
        bad("tm.public.lines", v, bads[i].field);
    }
    fprintf(stderr, "--- change events with a schema (the single-pass scanner)\n");
    change_schema(v, sizeof(v), ok);
    good_change(v, "502:50200", 3);
    change_schema(v, sizeof(v), "null");
    good_change(v, NULL, -1);
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        change_schema(v, sizeof(v), bads[i].txn);
        bad("tm.public.lines", v, bads[i].field);
    }
    fprintf(stderr, "--- transaction-topic records\n");
    good_txn(
        "{\"status\":\"BEGIN\",\"id\":\"571:53195829\",\"ts_ms\":1486500577125,\"event_count\":"
        "null,\"data_collections\":null}",
        "BEGIN", -1);
    good_txn("{\"status\":\"END\",\"id\":\"571:53195832\",\"ts_ms\":1486500577691,\"event_count\":"
             "2,\"data_collections\":[{\"data_collection\":\"s1.a\",\"event_count\":1},{\"data_"
             "collection\":\"s2.a\",\"event_count\":1}]}",
             "END", 2);
    bad("tm.transaction",
        "{\"status\":\"END\",\"id\":\"571:1\",\"ts_ms\":1,\"event_count\":\"1\",\"data_"
        "collections\":[{\"data_collection\":\"s1.a\",\"event_count\":1}]}",
        "event_count");
    bad("tm.transaction", "{\"status\":\"END\",\"id\":\"571:1\",\"ts_ms\":1}", "event_count");
    bad("tm.transaction",
        "{\"status\":\"COMMIT\",\"id\":\"571:1\",\"ts_ms\":1,\"event_count\":1,\"data_"
        "collections\":null}",
        "status");
    bad("tm.transaction",
        "{\"status\":\"BEGIN\",\"id\":571,\"ts_ms\":1,\"event_count\":null,\"data_collections\":"
        "null}",
        "id");
    bad("tm.transaction",
        "{\"status\":\"END\",\"id\":\"571:1\",\"ts_ms\":1,\"event_count\":1,\"data_collections\":"
        "[{\"data_collection\":\"s1.a\",\"event_count\":\"1\"}]}",
        "event_count");
    cdc_decoder_destroy(dec);
    TH_DONE();
}
