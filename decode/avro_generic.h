/**
 * @file avro_generic.h
 * @brief avro-c's generic reader next to the hand-written Avro decoder:
 *        the same datum read by avro_value_read() into an avro_value_t,
 *        then rendered with the same schema tree and value formatters into
 *        the decoder's normalized text. bench-decode times it against
 *        cdc_decoder_decode(); the cross-check test and the Avro fuzzer
 *        require both to agree. Not used on the decoding path, and not
 *        thread-safe (avro-c keeps its last error in one global buffer).
 */
#ifndef CDC_DECODE_AVRO_GENERIC_H
#define CDC_DECODE_AVRO_GENERIC_H

#include <stddef.h>
#include <stdint.h>

#include "cdc/buf.h"
#include "cdc/event.h"

typedef struct dgen dgen_t;

/**
 * @brief A generic reader for one writer schema (parsed by avro-c, compiled
 *        by da_compile_schema()).
 * @param placeholder the unavailable-value placeholder (NULL: Debezium's
 *        default), as cdc_decoder_conf_t.placeholder.
 * @returns a new reader (dgen_destroy()), or NULL with errstr.
 */
dgen_t *dgen_new(const char *schema, size_t len, const char *placeholder, char *errstr,
                 size_t errstr_size);
/** @brief Free a reader. Accepts NULL. */
void dgen_destroy(dgen_t *g);

/**
 * @brief Read one datum (the bytes after the registry framing) with
 *        avro_value_read(); the record's kind (envelope, row, metadata) is
 *        the decoder's classification of the schema on @p topic.
 * @returns 0; -1 with errstr when avro-c refuses the bytes or bytes are left
 *          over after the datum.
 */
int dgen_read(dgen_t *g, const char *topic, const uint8_t *p, size_t n, char *errstr,
              size_t errstr_size);

/**
 * @brief Render the datum last read as one JSON object (appended to @p out):
 *        {"op":"c","before":{...}|null,"after":{...}|null} for a Debezium
 *        envelope, {"row":{...}} for any other record (its top-level fields
 *        except the flattened __ metadata). A column is its PostgreSQL text,
 *        null, or false for the unavailable-value placeholder.
 * @returns 0, or -1 with errstr when a formatter refuses a value (a decimal
 *          PostgreSQL cannot hold).
 */
int dgen_render(dgen_t *g, cdc_buf_t *out, char *errstr, size_t errstr_size);

/**
 * @brief The same JSON form for an event the decoder produced: op, before
 *        and after of a change; the after (else before) image as "row" when
 *        @p envelope is false.
 */
void dgen_event_json(const cdc_event_t *ev, bool envelope, cdc_buf_t *out);

/** @brief Whether the datum last read is a Debezium envelope. */
bool dgen_is_envelope(const dgen_t *g);

#endif
