/* libFuzzer: arbitrary registry response bodies, then whatever schema text
 * they carry through the Avro schema compiler (a hostile or broken registry
 * must not crash the consumer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/decode.h"
#include "cdc/util.h"

int dreg_parse_response(const char *body, size_t len, char **out, char *err, size_t errsz);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[CDC_ERRSTR_SIZE];
    char *schema = NULL;
    const char *text = (const char *)data;
    size_t len = size;
    if (dreg_parse_response((const char *)data, size, &schema, err, sizeof(err)) == 0) {
        text = schema;
        len = strlen(schema);
    }
    cdc_decoder_t *dec = cdc_decoder_new(NULL, NULL, 0);
    if (cdc_decoder_add_schema(dec, 1, text, len, err, sizeof(err)) == 0) {
        /* Decode a few fixed datums against whatever schema compiled. */
        static const uint8_t datums[][9] = {{0, 0, 0, 0, 1, 0, 0, 0, 0},
                                            {0, 0, 0, 0, 1, 2, 2, 'a', 0},
                                            {0, 0, 0, 0, 1, 0x80, 1, 2, 3}};
        for (size_t i = 0; i < 3; i++) {
            cdc_record_t rec;
            memset(&rec, 0, sizeof(rec));
            rec.topic = "fuzz";
            rec.value = datums[i];
            rec.value_len = sizeof(datums[i]);
            cdc_event_t *ev = NULL;
            cdc_err_class_t cls;
            if (cdc_decoder_decode(dec, &rec, &ev, &cls, err, sizeof(err)) == 0)
                cdc_event_destroy(ev);
        }
    }
    cdc_decoder_destroy(dec);
    free(schema);
    return 0;
}
