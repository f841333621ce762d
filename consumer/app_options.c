/* cdc-apply's options (cdc_apply_options, app.h): the table the
 * command line, the environment and --help are read from. */
#include "app.h"

#include "cdc/config.h"

#include <stddef.h>

const cdc_opt_def_t cdc_apply_options[] = {
    {"brokers", 'b', CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_REQUIRED, "LIST",
     "Kafka bootstrap servers (host:port,...)"},
    {"group", 'g', CDC_OPT_STRING, "cdc-apply", 0, -1, NULL, 0, "ID",
     "consumer group id; also the key of the stored offsets"},
    {"topics", 't', CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_REQUIRED, "LIST|^REGEX",
     "topics to apply: a comma list, or a regex starting with ^"},
    {"target", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_REQUIRED | CDC_OPT_CONNINFO,
     "CONNINFO", "target PostgreSQL: libpq conninfo or URI (PGPASSWORD, service files work)"},
    {"format", 'f', CDC_OPT_ENUM, "auto", 0, -1, "auto|json|avro", 0, NULL,
     "record format; auto: a 0x00 first byte means Confluent-framed Avro"},
    {"schema-registry", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_CONNINFO, "URL",
     "Schema Registry URL for Avro (Confluent, or Apicurio's /apis/ccompat/v7)"},
    {"apicurio-8byte-id", 0, CDC_OPT_BOOL, "false", 0, -1, NULL, 0, NULL,
     "Avro framing uses Apicurio 2.x 8-byte global ids"},
    {"unavailable-placeholder", 0, CDC_OPT_STRING, "__debezium_unavailable_value", 0, -1, NULL, 0,
     "TEXT", "the connector's unavailable.value.placeholder"},
    {"decimal-handling", 0, CDC_OPT_ENUM, "precise", 0, -1, "precise|string|double", 0, NULL,
     "the connector's decimal.handling.mode, for JSON without schema: precise reads a string "
     "as base64 of the unscaled value (scale from the column), string as decimal text"},
    {"binary-handling", 0, CDC_OPT_ENUM, "bytes", 0, -1, "bytes|base64|base64-url-safe|hex", 0,
     NULL, "the connector's binary.handling.mode, for bytea in JSON without schema"},
    {"time-precision", 0, CDC_OPT_ENUM, "adaptive", 0, -1,
     "adaptive|adaptive_time_microseconds|connect", 0, NULL,
     "the connector's time.precision.mode, for integer times in JSON without schema"},
    {"table-format", 0, CDC_OPT_STRING, "${source.schema}.${source.table}", 0, -1, NULL, 0,
     "FORMAT",
     "target table from ${source.schema}, ${source.table}, ${source.db}, ${topic} (dots become "
     "_). The format's one unquoted . separates schema and table (none: schema public); a "
     "placeholder's value is never split (schema Sch.ema stays one name); quote literal dots: "
     "\"my.arch\".${source.table}"},
    {"key-columns", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_MULTI, "TABLE:COLS",
     "key of a target table without a primary key (e.g. public.log:id,ts); TABLE splits like "
     "--table-format: \"Sch.ema\".\"t.1\":id"},
    {"delete-enabled", 0, CDC_OPT_BOOL, "true", 0, -1, NULL, 0, NULL,
     "apply deletes (op d; tombstones under --tombstone-is-delete); =false skips and counts them "
     "(cdc_events_skipped_total{reason=\"delete_disabled\"}), the JDBC sinks' delete.enabled"},
    {"truncate-enabled", 0, CDC_OPT_BOOL, "true", 0, -1, NULL, 0, NULL,
     "apply truncates (op t); =false skips and counts them (reason truncate_disabled), the "
     "Debezium JDBC sink's truncate.enabled"},
    {"tombstone-is-delete", 0, CDC_OPT_BOOL, "false", 0, -1, NULL, 0, NULL,
     "a tombstone (null value) with a key deletes the key's row: flattened topics "
     "(ExtractNewRecordState), as the JDBC sinks' delete.enabled does; the tombstone right after "
     "its delete (tombstones.on.delete) stays skipped"},
    {"columns-include", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_MULTI, "TABLE:COLS",
     "write only these columns of a target table (e.g. public.orders:id,total; * for all; list "
     "the key columns too; not with --columns-exclude for the same table); TABLE splits like "
     "--key-columns (repeatable, one per table); the Debezium "
     "JDBC sink's field.include.list, Confluent's fields.whitelist"},
    {"columns-exclude", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_MULTI, "TABLE:COLS",
     "never write these columns of a target table (not in writes nor --create-tables DDL; a key "
     "column is an error), e.g. public.orders:secret (repeatable, one per table); the Debezium "
     "JDBC sink's field.exclude.list"},
    {"create-tables", 0, CDC_OPT_BOOL, "false", 0, -1, NULL, 0, NULL,
     "create a missing target table from the event schema (PK from the record key)"},
    {"evolve", 0, CDC_OPT_BOOL, "false", 0, -1, NULL, 0, NULL,
     "add missing columns; widen int2 to int4 to int8 when the event schema does, varchar(n) only "
     "for a value that does not fit (to the propagated source length, else text)"},
    {"state-schema", 0, CDC_OPT_STRING, "cdc", 0, -1, NULL, 0, "NAME",
     "schema of the state tables (offsets, dead_letter, ...) in the target"},
    {"batch-rows", 0, CDC_OPT_INT, "5000", 1, 1000000, NULL, 0, "N",
     "apply a batch after N records (or --batch-bytes, --batch-ms: the first limit reached)"},
    {"batch-bytes", 0, CDC_OPT_INT, "16777216", 1024, 1073741824, NULL, 0, "BYTES",
     "apply a batch after this many record bytes"},
    {"batch-ms", 0, CDC_OPT_INT, "200", 1, 600000, NULL, 0, "MS",
     "apply a batch at most this long after its first record"},
    {"errors-tolerance", 0, CDC_OPT_ENUM, "none", 0, -1, "none|all", 0, NULL,
     "none: stop at a record that cannot be applied; all: dead-letter it and go on"},
    {"dead-letter-topic", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, 0, "TOPIC",
     "also copy each dead letter to this Kafka topic after its state table row commits: key, "
     "value and headers as read plus __connect.errors.* headers (Connect's "
     "errors.deadletterqueue.topic.name with context.headers.enable); the table stays the record"},
    {"max-retries", 0, CDC_OPT_INT, "0", 0, 1000000, NULL, 0, "N",
     "retries of a retriable failure (connection lost, deadlock, registry down) before giving up "
     "(0: retry forever); a batch that fails 5 times in a row with the same other SQLSTATE "
     "(e.g. 57014, a statement that always exceeds statement_timeout) is isolated as bad data "
     "instead"},
    {"retry-backoff-ms", 0, CDC_OPT_INT, "500", 1, 60000, NULL, 0, "MS",
     "first retry delay; doubles up to 30 s"},
    {"exit-on-idle", 0, CDC_OPT_INT, "0", 0, 86400, NULL, 0, "SECONDS",
     "exit 0 after this long without records (batch runs, tests; 0: run until stopped)"},
    {"metrics-addr", 0, CDC_OPT_STRING, "127.0.0.1:9187", 0, -1, NULL, 0, "HOST:PORT",
     "serve /metrics, /healthz and /readyz here; port 0 picks one (logged); empty: off"},
    {"queue-kbytes", 0, CDC_OPT_INT, "32768", 1024, 2097151, NULL, 0, "KB",
     "librdkafka fetch queue bound (queued.max.messages.kbytes)"},
    {"on-gap", 0, CDC_OPT_ENUM, "fail", 0, -1, "fail|skip", 0, NULL,
     "a stored position Kafka no longer holds (retention ran, topic recreated): fail stops "
     "(exit 1); skip reads on from the log start, logged, counted (cdc_gaps_total) and recorded "
     "in the state schema's gaps table"},
    {"target-timeout", 0, CDC_OPT_INT, "300", 0, 86400, NULL, 0, "SECONDS",
     "longest wait for the target to apply one batch before the connection is dropped and the "
     "batch retried (hung server, network partition); 0: no limit"},
    {"startup-timeout", 0, CDC_OPT_INT, "60", 0, 86400, NULL, 0, "SECONDS",
     "exit 2 when no Kafka broker of --brokers has answered this long after the start (wrong "
     "list, brokers down); 0: wait forever"},
    {"live-check-rows", 0, CDC_OPT_INT, "32", 0, 1000000, NULL, 0, "N",
     "after each batch, read back up to N upserted rows per table and compare them with "
     "their events (cdc_table_consistency_score); 0: off"},
    {"transactions", 0, CDC_OPT_BOOL, "false", 0, -1, NULL, 0, NULL,
     "apply each source transaction (Debezium provide.transaction.metadata=true; list the "
     "<prefix>.transaction topic in --topics) atomically, in commit order; one active member "
     "per group, the others stand by"},
    {"max-transaction-bytes", 0, CDC_OPT_INT, "67108864", 1024, 1073741824, NULL, 0, "BYTES",
     "--transactions: records held for incomplete transactions beyond this are released: the "
     "blocking transaction is applied in pieces (WARN, cdc_transactions_given_up_total)"},
    {"otlp-endpoint", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_CONNINFO, "URL",
     "export a span per applied batch, linked to its records' traceparent headers, over "
     "OTLP/HTTP JSON to URL (e.g. http://collector:4318; /v1/traces is appended unless the path "
     "ends so); never slows the apply: spans that cannot be sent are dropped and counted"},
    {"otlp-timeout-ms", 0, CDC_OPT_INT, "2000", 100, 60000, NULL, 0, "MS",
     "longest OTLP export request, and longest wait for the last spans at shutdown"},
    {NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL, NULL},
};
