/* The record classifier: which kind of Kafka record a value is, decided
 * once for every front end (the jansson path and the single-pass scanner
 * of JSON, and Avro) from the value schema's name and its top-level fields.
 *
 * debezium-format.md §1 and §6.1: a value is a change event (envelope) if
 * its schema name ends with ".Envelope", or it is unnamed and has an op
 * field; heartbeats (io.debezium.connector.common.Heartbeat, topic
 * __debezium-heartbeat.*), transaction metadata (…TransactionMetadataValue)
 * and schema-change records (io.debezium.connector.*.SchemaChangeValue,
 * whose fields are ddl, tableChanges and, in the history form,
 * historyRecord) are recognised; anything else is a row (flattened by
 * ExtractNewRecordState, or a plain value). */
#include "decode_int.h"
#include "cdc/util.h"

#include <string.h>

/* Called for every top-level field of every record: by length first. */
unsigned dclass_field(const char *name, size_t len)
{
#define IS(lit) (memcmp(name, lit, len) == 0)
    switch (len) {
    case 2: return IS("op") ? DF_OP : IS("id") ? DF_ID : 0;
    case 3: return IS("ddl") ? DF_DDL : 0;
    case 5: return IS("after") ? DF_AFTER : IS("ts_ms") ? DF_TS_MS : 0;
    case 6:
        return IS("source") ? DF_SOURCE : IS("before") ? DF_BEFORE : IS("status") ? DF_STATUS : 0;
    case 11: return IS("event_count") ? DF_EVENT_COUNT : 0;
    case 12: return IS("tableChanges") ? DF_TABLE_CHANGES : 0;
    case 13: return IS("historyRecord") ? DF_HISTORY_RECORD : 0;
    case 16: return IS("data_collections") ? DF_DATA_COLLECTIONS : 0;
    default: return 0;
    }
#undef IS
}

dclass_t dclassify(const dshape_t *sh, const char *topic)
{
    const char *name = sh->name;
    unsigned f = sh->fields, t = sh->typed;
    if (cdc_ends_with(name, ".Envelope"))
        return DC_ENVELOPE;
    /* Unnamed with an op (or, schemaless, the shape of an envelope whose op
     * is missing: that error is the one to report) next to a block. */
    if ((!name || sh->always_named) && (t & (DF_OP | DF_ENV_SHAPE)) &&
        (f & (DF_SOURCE | DF_BEFORE | DF_AFTER)))
        return DC_ENVELOPE;
    if (name ? strcmp(name, "io.debezium.connector.common.Heartbeat") == 0
             : (topic && strncmp(topic, "__debezium-heartbeat", 20) == 0) ||
                   (sh->nfields == 1 && (t & DF_TS_MS)))
        return DC_HEARTBEAT;
    if (cdc_ends_with(name, "TransactionMetadataValue") ||
        (!name && (t & DF_STATUS) && (f & DF_ID) &&
         ((f & (DF_EVENT_COUNT | DF_DATA_COLLECTIONS)) || cdc_ends_with(topic, ".transaction"))))
        return DC_TXN; /* on <prefix>.transaction an END that lost its counts is one, and wrong */
    /* By name or by its fields, whatever the name: the same in JSON and in
     * Avro (a schema-change value whose name was lost is still one). */
    if (cdc_ends_with(name, "SchemaChangeValue") ||
        (f & (DF_DDL | DF_TABLE_CHANGES | DF_HISTORY_RECORD)))
        return DC_SCHEMA_CHANGE;
    return DC_FLAT;
}
