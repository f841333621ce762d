/* cdc-loadgen: makes real changes in a source PostgreSQL database and
 * produces to Kafka the records Debezium's PostgreSQL connector would
 * produce for them, so a consumer under test can be checked against the
 * real source (the target must end row-for-row equal to it).
 *
 * Every event carries the row as PostgreSQL stored it: each change is an
 * INSERT/UPDATE/DELETE ... RETURNING in a session with the canonical settings
 * (TimeZone=UTC, DateStyle=ISO, extra_float_digits=3, bytea_output=hex).
 * Events of a source transaction are produced after its COMMIT, like
 * Debezium, which only sees committed transactions. */
#include "loadgen_int.h"

#include "cdc/buf.h"
#include "cdc/config.h"
#include "cdc/log.h"
#include "cdc/pg.h"
#include "cdc/util.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_config.h"

/* librdkafka's mock cluster (cdc-mock-broker) keeps about this much per
 * partition and then drops the oldest segments. */
#define MOCK_MAX_MSGS  100000
#define MOCK_MAX_BYTES (5 * 1024 * 1024)

static const cdc_opt_def_t defs[] = {
    {"source", 's', CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_REQUIRED | CDC_OPT_CONNINFO,
     "CONNINFO", "source PostgreSQL database (libpq conninfo or URI) the changes are made in"},
    {"brokers", 'b', CDC_OPT_STRING, NULL, 0, -1, NULL, 0, "LIST",
     "Kafka bootstrap servers; without it nothing is produced (needs --print)"},
    {"topic-prefix", 0, CDC_OPT_STRING, "dbserver1", 0, -1, NULL, 0, "NAME",
     "Debezium topic.prefix: topics are <prefix>.<schema>.<table>"},
    {"schema", 0, CDC_OPT_STRING, "public", 0, -1, NULL, 0, "NAME", "source schema"},
    {"table", 't', CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_MULTI, "NAME",
     "table to generate changes in (default orders)"},
    {"tables", 0, CDC_OPT_INT, "0", 0, 1000, NULL, 0, "N",
     "use N tables orders_1..orders_N instead of --table"},
    {"reset", 0, CDC_OPT_BOOL, NULL, 0, -1, NULL, 0, NULL,
     "drop and recreate the tables first (otherwise CREATE IF NOT EXISTS)"},
    {"partitions", 'p', CDC_OPT_INT, "0", 0, 10000, NULL, 0, "P",
     "create the topics with P partitions (admin CreateTopics; 0 = leave to the broker)"},
    {"format", 'f', CDC_OPT_ENUM, "json", 0, -1, "json|json-noschema|avro", 0, "FORMAT",
     "converter: JsonConverter with/without schemas, or Confluent Avro"},
    {"schema-registry", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_CONNINFO, "URL",
     "Schema Registry for --format avro (subjects <topic>-key / <topic>-value)"},
    {"events", 'n', CDC_OPT_INT, "1000", 0, 1e12, NULL, 0, "N",
     "source row changes to make (cdc-mock-broker keeps only ~5 MB / 100k messages per "
     "partition and drops the oldest beyond that)"},
    {"workload", 'w', CDC_OPT_ENUM, "mixed", 0, -1, "insert|mixed", 0, "KIND",
     "insert only, or 60% update / 20% insert / 20% delete with 80% of updates on 5% of keys"},
    {"replica-identity", 0, CDC_OPT_ENUM, "default", 0, -1, "default|full", 0, "ID",
     "REPLICA IDENTITY set on the tables (full fills 'before')"},
    {"toast", 0, CDC_OPT_BOOL, NULL, 0, -1, NULL, 0, NULL,
     "store > 2 KB notes out of line; most updates leave them alone, so under DEFAULT "
     "identity the event carries __debezium_unavailable_value"},
    {"pk-changes", 0, CDC_OPT_INT, "0", 0, 1e12, NULL, 0, "N",
     "N of the changes update the primary key (delete + tombstone + create, with headers)"},
    {"truncate-at", 0, CDC_OPT_INT, "0", 0, 1e12, NULL, 0, "K",
     "TRUNCATE the tables after K changes (op=t, null key: with P > 1 its order against "
     "the row events of other partitions is not guaranteed, as with Debezium)"},
    {"snapshot", 0, CDC_OPT_BOOL, NULL, 0, -1, NULL, 0, NULL,
     "first emit op=r records for the rows already in the tables"},
    {"tombstones", 0, CDC_OPT_ENUM, "true", 0, -1, "true|false", 0, "BOOL",
     "write a null-value record after each delete (tombstones.on.delete)"},
    {"heartbeat-ms", 0, CDC_OPT_INT, "0", 0, 86400000, NULL, 0, "MS",
     "write heartbeats to __debezium-heartbeat.<prefix> every MS (0 = off)"},
    {"seed", 0, CDC_OPT_INT, "1", 0, 9e18, NULL, 0, "N", "random seed (same seed, same workload)"},
    {"txn-size", 0, CDC_OPT_INT, "1", 1, 1000000, NULL, 0, "N", "changes per source transaction"},
    {"print", 0, CDC_OPT_BOOL, NULL, 0, -1, NULL, 0, NULL,
     "also write each record to stdout as a kcat -J line"},
    {"rate", 0, CDC_OPT_DOUBLE, "0", 0, 1e9, NULL, 0, "N",
     "at most N changes per second (0 = as fast as possible)"},
    {"summary-json", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, 0, "FILE",
     "write the run summary as JSON to FILE"},
    {NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL, NULL},
};

volatile sig_atomic_t lg_run = 1;

static void on_signal(int sig)
{
    (void)sig;
    lg_run = 0;
}

static const char op_names[OP_N] = {'c', 'u', 'd', 'r', 't'};

/* ---- summary ----------------------------------------------------------- */

static json_t *topic_json(const lg_topic_t *tp)
{
    json_t *offs = json_object();
    char k[16];
    for (int i = 0; i < tp->nlast; i++) {
        if (tp->last_off[i] < 0)
            continue;
        snprintf(k, sizeof(k), "%d", i);
        json_object_set_new(offs, k, json_integer(tp->last_off[i]));
    }
    return json_pack("{s:I,s:o}", "records", (json_int_t)tp->records, "last_offsets", offs);
}

static int write_summary(const lg_t *lg, const char *path, char *errstr, size_t errstr_size)
{
    json_t *ops = json_object(), *topics = json_object();
    for (int i = 0; i < OP_N; i++) {
        char k[2] = {op_names[i], 0};
        json_object_set_new(ops, k, json_integer(lg->ops[i]));
    }
    for (size_t i = 0; i < lg->ntables; i++)
        json_object_set_new(topics, lg->tables[i].topic.name, topic_json(&lg->tables[i].topic));
    if (lg->hb_enc)
        json_object_set_new(topics, lg->hb.name, topic_json(&lg->hb));
    json_t *root =
        json_pack("{s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:o}", "changes", (json_int_t)lg->changes, "ops",
                  ops, "tombstones", (json_int_t)lg->tombstones_n, "heartbeats",
                  (json_int_t)lg->heartbeats, "records", (json_int_t)lg->records, "delivered",
                  (json_int_t)lg->delivered, "failed", (json_int_t)lg->failed, "topics", topics);
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc != 0)
        snprintf(errstr, errstr_size, "cannot write --summary-json %s: %s", path, strerror(errno));
    return rc ? -1 : 0;
}

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    cdc_log_debug("source: %s", msg);
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
    int rc = 1;
    char errstr[CDC_ERRSTR_SIZE] = "";
    lg_t lg;
    memset(&lg, 0, sizeof(lg));
    lg.kbuf = (cdc_buf_t)CDC_BUF_INIT;
    lg.vbuf = (cdc_buf_t)CDC_BUF_INIT;
    cdc_config_t *cfg = cdc_config_new("cdc-loadgen",
                                       "make changes in a source PostgreSQL and produce the "
                                       "Debezium records for them",
                                       defs);
    switch (cdc_config_parse(cfg, argc, argv, stdout, errstr, sizeof(errstr))) {
    case CDC_CONFIG_EXIT: rc = 0; goto out;
    case CDC_CONFIG_ERROR:
        fprintf(stderr, "cdc-loadgen: %s\n", errstr);
        rc = 2;
        goto out;
    case CDC_CONFIG_OK: break;
    }
    cdc_log_init("cdc-loadgen",
                 (cdc_log_level_t)cdc_log_level_parse(cdc_config_get(cfg, "log-level")),
                 (cdc_log_format_t)cdc_log_format_parse(cdc_config_get(cfg, "log-format")), NULL);

    const char *fmt = cdc_config_get(cfg, "format");
    lg.fmt = !strcmp(fmt, "avro")            ? CDC_LOADGEN_AVRO
             : !strcmp(fmt, "json-noschema") ? CDC_LOADGEN_JSON_NOSCHEMA
                                             : CDC_LOADGEN_JSON;
    lg.prefix = cdc_config_get(cfg, "topic-prefix");
    lg.schema = cdc_config_get(cfg, "schema");
    lg.full = !strcmp(cdc_config_get(cfg, "replica-identity"), "full");
    lg.toast = cdc_config_get_bool(cfg, "toast");
    lg.tombstones = !strcmp(cdc_config_get(cfg, "tombstones"), "true");
    lg.print = cdc_config_get_bool(cfg, "print");
    lg.mixed = !strcmp(cdc_config_get(cfg, "workload"), "mixed");
    lg.events = cdc_config_get_int(cfg, "events");
    lg.pk_changes = cdc_config_get_int(cfg, "pk-changes");
    lg.truncate_at = cdc_config_get_int(cfg, "truncate-at");
    lg.heartbeat_ms = cdc_config_get_int(cfg, "heartbeat-ms");
    lg.txn_size = cdc_config_get_int(cfg, "txn-size");
    lg.partitions = (int)cdc_config_get_int(cfg, "partitions");
    lg.rate = cdc_config_get_double(cfg, "rate");
    lg.rng = (uint64_t)cdc_config_get_int(cfg, "seed");
    const char *brokers = cdc_config_get(cfg, "brokers");
    const char *registry = cdc_config_get(cfg, "schema-registry");

    if (!brokers && !lg.print) {
        fprintf(stderr, "cdc-loadgen: nothing to do: give --brokers, --print, or both\n");
        rc = 2;
        goto out;
    }
    if (lg.fmt == CDC_LOADGEN_AVRO && !registry) {
        fprintf(stderr, "cdc-loadgen: --format avro needs --schema-registry URL (the records "
                        "carry registry schema ids)\n");
        rc = 2;
        goto out;
    }
    if (lg.pk_changes > lg.events || (lg.truncate_at && lg.truncate_at > lg.events)) {
        fprintf(stderr, "cdc-loadgen: --pk-changes and --truncate-at must not exceed --events\n");
        rc = 2;
        goto out;
    }

    /* Tables: --tables N, else every --table, else orders. */
    const char *const *names = NULL;
    size_t nnames = cdc_config_get_list(cfg, "table", &names);
    int64_t ntab = cdc_config_get_int(cfg, "tables");
    lg.ntables = ntab > 0 ? (size_t)ntab : nnames ? nnames : 1;
    lg.tables = calloc(lg.ntables, sizeof(*lg.tables));
    if (!lg.tables)
        abort();
    for (size_t i = 0; i < lg.ntables; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        if (ntab > 0)
            cdc_buf_printf(&b, "orders_%zu", i + 1);
        else
            cdc_buf_puts(&b, nnames ? names[i] : "orders");
        lg.tables[i].name = cdc_buf_steal(&b);
        lg.tables[i].enc = cdc_loadgen_enc_new(lg.fmt, lg.prefix, lg.schema, lg.tables[i].name);
        lg.tables[i].topic.name = cdc_loadgen_enc_topic(lg.tables[i].enc);
    }
    if (lg.heartbeat_ms > 0) {
        lg.hb_enc = cdc_loadgen_enc_new(lg.fmt, lg.prefix, NULL, NULL);
        lg.hb.name = cdc_loadgen_enc_topic(lg.hb_enc);
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    lg.conn = cdc_pg_connect(cdc_config_get(cfg, "source"), "cdc-loadgen", errstr, sizeof(errstr));
    if (!lg.conn)
        goto fail;
    /* NOTICEs ("table does not exist, skipping") are noise on stderr. */
    PQsetNoticeProcessor(lg.conn, quiet_notice, NULL);
    PGresult *res;
    if (lg_pg_exec(&lg, CDC_PG_SESSION_SETTINGS, errstr, sizeof(errstr)) != 0 ||
        !(res =
              lg_pg_query(&lg, "SELECT current_database(), (pg_current_wal_lsn() - '0/0')::bigint",
                          0, NULL, errstr, sizeof(errstr))))
        goto fail;
    lg.db = strdup(PQgetvalue(res, 0, 0));
    lg.last_commit_lsn = lg_res_i64(res, 0, 1);
    PQclear(res);
    for (size_t i = 0; i < lg.ntables; i++)
        if (lg_table_setup(&lg, &lg.tables[i], cdc_config_get_bool(cfg, "reset"), errstr,
                           sizeof(errstr)) != 0)
            goto fail;

    if (brokers && lg_kafka_setup(&lg, cfg, errstr, sizeof(errstr)) != 0)
        goto fail;
    if (lg.fmt == CDC_LOADGEN_AVRO && lg_registry_setup(&lg, registry, errstr, sizeof(errstr)) != 0)
        goto fail;

    /* Each change is 1..3 records; a JSON-with-schema value is ~3.5 KB and a
     * TOASTed note adds ~4 KB. Warn before the mock broker silently drops. */
    {
        int parts = lg.partitions > 0 ? lg.partitions : 1;
        if (lg.ntables && lg.tables[0].topic.nparts > 0)
            parts = lg.tables[0].topic.nparts;
        double per = (lg.fmt == CDC_LOADGEN_JSON   ? 3500.0
                      : lg.fmt == CDC_LOADGEN_AVRO ? 250.0
                                                   : 800.0) +
                     (lg.toast ? 4000.0 : 0.0);
        double msgs = (double)lg.events * 1.3 / (double)lg.ntables / parts;
        if (msgs > MOCK_MAX_MSGS || msgs * per > MOCK_MAX_BYTES)
            cdc_log_warn("about %.0f records / %.1f MB per partition: if the broker is "
                         "cdc-mock-broker it keeps only ~5 MB / 100k messages per partition and "
                         "drops the oldest; use more --partitions or fewer --events",
                         msgs, msgs * per / 1048576.0);
    }

    if (cdc_config_get_bool(cfg, "snapshot") && lg_do_snapshot(&lg, errstr, sizeof(errstr)) != 0)
        goto fail;
    if (lg_run_workload(&lg, errstr, sizeof(errstr)) != 0)
        goto fail;
    if (lg.hb_enc && lg_heartbeat(&lg, errstr, sizeof(errstr)) != 0)
        goto fail;

    if (lg.rk) {
        /* Wait for every delivery report: the summary and exit status are
         * about what the broker acknowledged, not what we queued. */
        rd_kafka_resp_err_t ferr = rd_kafka_flush(lg.rk, 90000);
        if (ferr) {
            snprintf(errstr, sizeof(errstr), "%d records still undelivered after 90 s: %s",
                     rd_kafka_outq_len(lg.rk), rd_kafka_err2str(ferr));
            goto fail;
        }
        if (lg.failed) {
            snprintf(errstr, sizeof(errstr), "%lld records not delivered; first: %.400s",
                     (long long)lg.failed, lg.first_err);
            goto fail;
        }
    }
    rc = 0;
    goto summary;
fail:
    fprintf(stderr, "cdc-loadgen: %s\n", errstr);
    rc = 1;
summary:
    fprintf(stderr,
            "cdc-loadgen: changes=%lld c=%lld u=%lld d=%lld r=%lld t=%lld tombstones=%lld "
            "heartbeats=%lld records=%lld delivered=%lld failed=%lld\n",
            (long long)lg.changes, (long long)lg.ops[OP_C], (long long)lg.ops[OP_U],
            (long long)lg.ops[OP_D], (long long)lg.ops[OP_R], (long long)lg.ops[OP_T],
            (long long)lg.tombstones_n, (long long)lg.heartbeats, (long long)lg.records,
            (long long)lg.delivered, (long long)lg.failed);
    if (cdc_config_get(cfg, "summary-json") &&
        write_summary(&lg, cdc_config_get(cfg, "summary-json"), errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "cdc-loadgen: %s\n", errstr);
        rc = 1;
    }
out:
    if (lg.rk)
        rd_kafka_destroy(lg.rk);
    if (lg.conn)
        PQfinish(lg.conn);
    for (size_t i = 0; i < lg.ntables; i++) {
        lg_table_t *t = &lg.tables[i];
        cdc_loadgen_enc_destroy(t->enc);
        free(t->name);
        free(t->qname);
        free(t->keys);
        free(t->topic.last_off);
        free(t->sql_insert);
        free(t->sql_update);
        free(t->sql_update_note);
        free(t->sql_pk);
        free(t->sql_delete);
        free(t->sql_old);
    }
    free(lg.tables);
    for (size_t i = 0; i < lg.npend; i++) {
        cdc_loadgen_row_clear(&lg.pend[i].before);
        cdc_loadgen_row_clear(&lg.pend[i].after);
    }
    free(lg.pend);
    free(lg.hb.last_off);
    cdc_loadgen_enc_destroy(lg.hb_enc);
    free(lg.db);
    cdc_buf_free(&lg.kbuf);
    cdc_buf_free(&lg.vbuf);
    cdc_config_destroy(cfg);
    return rc;
}
