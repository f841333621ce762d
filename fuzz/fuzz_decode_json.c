/* libFuzzer: arbitrary bytes as a JSON record value (first byte picks a
 * key/value split so keys are fuzzed too). The decoder must fail cleanly,
 * never crash, and every success must serialize.
 *
 * Differential: a second decoder has the single-pass scanner turned off;
 * both must give the same event (or the same error class and message) for
 * every input, or the fuzzer aborts with both results. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/decode.h"
#include "cdc/util.h"
#include "decode/decode_int.h" /* ddec_set_fastpath */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cdc_decoder_t *dec, *slow;
    if (!dec) {
        cdc_decoder_conf_t conf;
        memset(&conf, 0, sizeof(conf));
        conf.format = CDC_FORMAT_JSON;
        dec = cdc_decoder_new(&conf, NULL, 0);
        slow = cdc_decoder_new(&conf, NULL, 0);
        ddec_set_fastpath(slow, false);
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
    cdc_buf_t out[2] = {CDC_BUF_INIT, CDC_BUF_INIT};
    cdc_decoder_t *decs[2] = {dec, slow};
    for (int i = 0; i < 2; i++) {
        cdc_event_t *ev = NULL;
        cdc_err_class_t cls;
        char err[CDC_ERRSTR_SIZE];
        if (cdc_decoder_decode(decs[i], &rec, &ev, &cls, err, sizeof(err)) == 0) {
            cdc_event_to_json_ext(ev, &out[i], CDC_EVJSON_TYPES);
            cdc_event_destroy(ev);
        } else {
            cdc_buf_printf(&out[i], "%s: %s", cdc_err_class_name(cls), err);
        }
    }
    if (strcmp(out[0].data, out[1].data) != 0) {
        fprintf(stderr, "fast and jansson paths differ\n  fast:    %s\n  jansson: %s\n",
                out[0].data, out[1].data);
        abort();
    }
    cdc_buf_free(&out[0]);
    cdc_buf_free(&out[1]);
    return 0;
}
