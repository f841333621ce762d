/* libFuzzer: arbitrary bytes as a JSON record value (first byte picks a
 * key/value split so keys are fuzzed too). The decoder must fail cleanly,
 * never crash, and every success must serialize. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cdc_decoder_t *dec;
    if (!dec) {
        cdc_decoder_conf_t conf;
        memset(&conf, 0, sizeof(conf));
        conf.format = CDC_FORMAT_JSON;
        dec = cdc_decoder_new(&conf, NULL, 0);
    }
    size_t split = size ? data[0] % 8 : 0;
    const uint8_t *p = size ? data + 1 : data;
    size_t n = size ? size - 1 : 0;
    size_t klen = split && n > 16 ? n / (split + 1) : 0;
    cdc_record_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.topic = "fuzz.public.t";
    rec.key = klen ? (const char *)p : NULL;
    rec.key_len = klen;
    rec.value = (const char *)p + klen;
    rec.value_len = n - klen;
    cdc_event_t *ev = NULL;
    cdc_err_class_t cls;
    char err[512];
    if (cdc_decoder_decode(dec, &rec, &ev, &cls, err, sizeof(err)) == 0) {
        cdc_buf_t out = CDC_BUF_INIT;
        cdc_event_to_json_ext(ev, &out, CDC_EVJSON_TYPES);
        cdc_buf_free(&out);
        cdc_event_destroy(ev);
    }
    return 0;
}
