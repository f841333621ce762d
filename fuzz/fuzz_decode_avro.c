/* libFuzzer: a fixed Debezium-shaped Avro schema (id 1) and arbitrary
 * datum bytes after the 5-byte framing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/decode.h"
#include "cdc/util.h"

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
    static uint8_t *buf;
    static size_t cap;
    if (!dec) {
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
    if (cdc_decoder_decode(dec, &rec, &ev, &cls, err, sizeof(err)) == 0) {
        cdc_buf_t out = CDC_BUF_INIT;
        cdc_event_to_json(ev, &out);
        cdc_buf_free(&out);
        cdc_event_destroy(ev);
    }
    return 0;
}
