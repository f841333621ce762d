/* Avro through a real HTTP schema registry (devstack/cdc-registry-mock):
 * the decoder fetches the schema by the id in the framing, retries a
 * registry that answers 503, tells an unknown id (poison) from an
 * unreachable registry (retriable) and from a wrong URL (fatal), and works
 * behind Apicurio's ccompat prefix.
 *
 * The datum is a golden case's value.avro (encoded by avro-c with id 1);
 * its framing is rewritten to the id the registry hands out, and the event
 * must equal the golden expected.json. */
#include "th.h"
#include "th_registry.h"

#include <stdlib.h>
#include <string.h>

#include "cdc/decode.h"
#include "cdc/util.h"

#define CASE "avro-envelope-delete"

/* A file of the golden case: NUL-terminated text (new, caller frees) or
 * raw bytes (value.avro holds NULs: *len says how many). */
static char *read_case(const char *file, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/fixtures/decode/%s/%s", th_source_root(), CASE, file);
    return th_read_file(path, len);
}

static void frame_id(char *value, int id)
{
    for (int i = 0; i < 4; i++)
        value[1 + i] = (char)((unsigned)id >> (8 * (3 - i)));
}

typedef struct result {
    int rc;
    cdc_err_class_t cls;
    char err[CDC_ERRSTR_SIZE];
    cdc_buf_t json;
} result_t;

static void decode(const char *url, int retries, const char *value, size_t len, result_t *res)
{
    cdc_decoder_conf_t conf;
    memset(&conf, 0, sizeof(conf));
    conf.format = CDC_FORMAT_AVRO;
    conf.registry_url = url;
    conf.registry_timeout_ms = 2000;
    conf.registry_retries = retries;
    char err[CDC_ERRSTR_SIZE];
    cdc_decoder_t *dec = cdc_decoder_new(&conf, err, sizeof(err));
    TH_ASSERT(dec);
    cdc_record_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.topic = "dbserver1.public.t";
    rec.partition = 0;
    rec.offset = 42;
    rec.timestamp_ms = -1;
    rec.value = value;
    rec.value_len = len;
    cdc_event_t *ev = NULL;
    memset(res, 0, sizeof(*res));
    res->rc = cdc_decoder_decode(dec, &rec, &ev, &res->cls, res->err, sizeof(res->err));
    if (res->rc == 0) {
        cdc_event_to_json(ev, &res->json);
        cdc_buf_putc(&res->json, '\n');
        cdc_event_destroy(ev);
    }
    cdc_decoder_destroy(dec);
}

int main(void)
{
    char *schema = read_case("schema.avsc", NULL);
    char *want = read_case("expected.json", NULL);
    size_t len = 0;
    char *raw = read_case("value.avro", &len);
    TH_ASSERT(schema && want && raw);
    char value[65536];
    TH_ASSERT(len > 5 && len <= sizeof(value) && raw[0] == 0);
    memcpy(value, raw, len);
    free(raw);
    const char *subject = th_unique("dbserver1.public.t-value");
    result_t res;

    /* 1. Registered schema, framed with the id the registry returned. */
    th_registry_t r;
    if (th_registry_start(&r, 0) != 0)
        TH_SKIP("cannot start devstack/cdc-registry-mock");
    /* Another subject first, so the id under test is not 1 (the id the
     * fixture was framed with): the framing really is rewritten. */
    TH_ASSERT(th_registry_register(&r, th_unique("other-value"),
                                   "{\"type\":\"record\",\"name\":\"X\",\"fields\":[]}") > 0);
    int id = th_registry_register(&r, subject, schema);
    TH_ASSERT(id > 1);
    frame_id(value, id);
    decode(r.url, 3, value, len, &res);
    TH_CHECK_INT(res.rc, 0);
    if (res.rc == 0)
        TH_CHECK_STR(res.json.data, want);
    else
        fprintf(stderr, "decode: %s\n", res.err);
    cdc_buf_free(&res.json);

    /* 2. The same through Apicurio's Confluent-compatible prefix. */
    char url[256];
    snprintf(url, sizeof(url), "%s/apis/ccompat/v7", r.url);
    decode(url, 3, value, len, &res);
    TH_CHECK_INT(res.rc, 0);
    if (res.rc == 0)
        TH_CHECK_STR(res.json.data, want);
    else
        fprintf(stderr, "decode via ccompat: %s\n", res.err);
    cdc_buf_free(&res.json);

    /* 3. Unknown id: this record is poison, and the message says which id
     *    and what the registry answered. */
    char bad[65536];
    memcpy(bad, value, len);
    frame_id(bad, 4242);
    decode(r.url, 3, bad, len, &res);
    TH_CHECK_INT(res.rc, -1);
    TH_CHECK_INT(res.cls, CDC_ERR_POISON);
    TH_CHECK(strstr(res.err, "4242") != NULL);
    TH_CHECK(strstr(res.err, "404") != NULL && strstr(res.err, "40403") != NULL);
    fprintf(stderr, "unknown id: %s\n", res.err);

    /* 4. A wrong URL (404 without 40403) would fail every record: fatal. */
    snprintf(url, sizeof(url), "%s/no/such/prefix", r.url);
    decode(url, 3, value, len, &res);
    TH_CHECK_INT(res.rc, -1);
    TH_CHECK_INT(res.cls, CDC_ERR_FATAL);
    fprintf(stderr, "wrong url: %s\n", res.err);
    th_registry_stop(&r);

    /* 5. A registry that answers 503 twice: the third attempt decodes. */
    th_registry_t r2;
    TH_ASSERT(th_registry_start(&r2, 2) == 0);
    int id2 = th_registry_register(&r2, subject, schema);
    TH_ASSERT(id2 > 0);
    frame_id(value, id2);
    int64_t t0 = th_now_ms();
    decode(r2.url, 3, value, len, &res);
    TH_CHECK_INT(res.rc, 0);
    if (res.rc == 0)
        TH_CHECK_STR(res.json.data, want);
    else
        fprintf(stderr, "decode after 503s: %s\n", res.err);
    cdc_buf_free(&res.json);
    TH_CHECK(th_now_ms() - t0 >= 250); /* backoff 100 + 200 ms really happened */

    /* 6. Fewer attempts than 503s: retriable, the record is fine. */
    th_registry_stop(&r2);
    TH_ASSERT(th_registry_start(&r2, 5) == 0);
    id2 = th_registry_register(&r2, subject, schema);
    frame_id(value, id2);
    decode(r2.url, 2, value, len, &res);
    TH_CHECK_INT(res.rc, -1);
    TH_CHECK_INT(res.cls, CDC_ERR_RETRIABLE);
    TH_CHECK(strstr(res.err, "503") != NULL);
    fprintf(stderr, "503s: %s\n", res.err);

    /* 7. Registry stopped: unreachable is retriable (retry the record). */
    char gone[128];
    snprintf(gone, sizeof(gone), "%s", r2.url);
    th_registry_stop(&r2);
    decode(gone, 2, value, len, &res);
    TH_CHECK_INT(res.rc, -1);
    TH_CHECK_INT(res.cls, CDC_ERR_RETRIABLE);
    TH_CHECK(strstr(res.err, "unreachable") != NULL);
    fprintf(stderr, "stopped: %s\n", res.err);

    free(schema);
    free(want);
    TH_DONE();
}
