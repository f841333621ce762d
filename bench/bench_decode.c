/* Decoder throughput per core: JSON with schema (~5.5 KB, schema cache hit;
 * also with its JSON key, and with a text[] column),
 * schemaless JSON and Avro, each next to a plain json_loadb of the same
 * bytes (what a naive decoder pays just to parse). Avro is also read by
 * avro-c's generic reader (avro_value_read into an avro_value_t), alone and
 * rendered into the same normalized text (decode/avro_generic.c): the
 * median of 5 interleaved rounds of each, side by side.
 *   bench_decode [SECONDS_PER_CASE [CASE_SUBSTRING]]   (default 2, all cases)
 * The filter lets perf/callgrind look at one case at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <avro.h>
#include <jansson.h>

#include "cdc/decode.h"
#include "cdc/util.h"
#include "decode/avro_generic.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Rates are per second of this thread's CPU time: "per core" even when
 * other processes share the machine (wall-clock figures on a loaded box
 * mostly measure the scheduler). The wall-clock rate is shown as well. */
static double now(void)
{
    return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static void field(cdc_buf_t *b, const char *type, const char *name, const char *sem,
                  const char *params)
{
    cdc_buf_printf(b, "{\"type\":\"%s\",\"optional\":true,%s%s%s%s\"field\":\"%s\"},", type,
                   sem ? "\"name\":\"" : "", sem ? sem : "", sem ? "\"," : "", params ? params : "",
                   name);
}

/* A 20-column row of typical types, with the Debezium envelope around it;
 * @p with_array adds a text[] column (an array once sent every record
 * through jansson). */
static void make_json(cdc_buf_t *b, bool with_schema, bool with_array, int i)
{
    if (with_schema) {
        cdc_buf_t val = CDC_BUF_INIT;
        cdc_buf_puts(&val, "{\"type\":\"struct\",\"fields\":[");
        for (int k = 0; k < 4; k++) {
            char n[16];
            snprintf(n, sizeof(n), "id%d", k);
            field(&val, "int64", n, NULL, NULL);
            snprintf(n, sizeof(n), "name%d", k);
            field(&val, "string", n, NULL, NULL);
            snprintf(n, sizeof(n), "price%d", k);
            field(&val, "bytes", n, "org.apache.kafka.connect.data.Decimal",
                  "\"version\":1,\"parameters\":{\"scale\":\"2\",\"connect.decimal.precision\":"
                  "\"10\"},");
            snprintf(n, sizeof(n), "ts%d", k);
            field(&val, "int64", n, "io.debezium.time.MicroTimestamp", "\"version\":1,");
            snprintf(n, sizeof(n), "tz%d", k);
            field(&val, "string", n, "io.debezium.time.ZonedTimestamp", "\"version\":1,");
        }
        if (with_array)
            field(&val, "array", "tags", NULL,
                  "\"items\":{\"type\":\"string\",\"optional\":true},");
        val.len--; /* trailing comma */
        cdc_buf_puts(&val, "],\"optional\":true,\"name\":\"bench.public.t.Value\"");
        cdc_buf_printf(b,
                       "{\"schema\":{\"type\":\"struct\",\"fields\":[%s,\"field\":\"before\"},"
                       "%s,\"field\":\"after\"},",
                       val.data, val.data);
        cdc_buf_puts(b,
                     "{\"type\":\"struct\",\"fields\":[{\"type\":\"string\",\"optional\":false,"
                     "\"field\":\"version\"},{\"type\":\"string\",\"optional\":false,\"field\":"
                     "\"connector\"},{\"type\":\"string\",\"optional\":false,\"field\":\"name\"},"
                     "{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},{\"type\":"
                     "\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\","
                     "\"version\":1,\"parameters\":{\"allowed\":\"true,last,false,incremental\"},"
                     "\"default\":\"false\",\"field\":\"snapshot\"},{\"type\":\"string\","
                     "\"optional\":false,\"field\":\"db\"},{\"type\":\"string\",\"optional\":"
                     "false,\"field\":\"schema\"},{\"type\":\"string\",\"optional\":false,"
                     "\"field\":\"table\"},{\"type\":\"int64\",\"optional\":true,\"field\":"
                     "\"txId\"},{\"type\":\"int64\",\"optional\":true,\"field\":\"lsn\"}],"
                     "\"optional\":false,\"name\":\"io.debezium.connector.postgresql.Source\","
                     "\"field\":\"source\"},{\"type\":\"string\",\"optional\":false,\"field\":"
                     "\"op\"},{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"}],"
                     "\"optional\":false,\"name\":\"bench.public.t.Envelope\",\"version\":1},"
                     "\"payload\":");
        cdc_buf_free(&val);
    }
    cdc_buf_puts(b, "{\"before\":null,\"after\":{");
    for (int k = 0; k < 4; k++)
        cdc_buf_printf(b,
                       "%s\"id%d\":%d,\"name%d\":\"customer number %d\",\"price%d\":\"C+o=\","
                       "\"ts%d\":1529507596945104,\"tz%d\":\"2018-06-20T13:37:03.03Z\"",
                       k ? "," : "", k, i + k, k, i, k, k, k);
    if (with_array)
        cdc_buf_puts(b, ",\"tags\":[\"vip\",\"new customer\",null]");
    cdc_buf_printf(b,
                   "},\"source\":{\"version\":\"2.4.2.Final\",\"connector\":\"postgresql\","
                   "\"name\":\"bench\",\"ts_ms\":1700000000123,\"snapshot\":\"false\",\"db\":"
                   "\"shop\",\"schema\":\"public\",\"table\":\"t\",\"txId\":%d,\"lsn\":%d},"
                   "\"op\":\"c\",\"ts_ms\":1700000000456}",
                   i, i * 8);
    if (with_schema)
        cdc_buf_putc(b, '}');
}

static const char *avsc =
    "{\"type\":\"record\",\"name\":\"Envelope\",\"namespace\":\"bench.public.t\",\"fields\":["
    "{\"name\":\"before\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"Value\",\"fields\":["
    "@FIELDS@]}],\"default\":null},{\"name\":\"after\",\"type\":[\"null\",\"Value\"]},"
    "{\"name\":\"source\",\"type\":{\"type\":\"record\",\"name\":\"Source\",\"namespace\":"
    "\"io.debezium.connector.postgresql\",\"fields\":[{\"name\":\"db\",\"type\":\"string\"},"
    "{\"name\":\"schema\",\"type\":\"string\"},{\"name\":\"table\",\"type\":\"string\"},"
    "{\"name\":\"ts_ms\",\"type\":\"long\"},{\"name\":\"lsn\",\"type\":[\"null\",\"long\"]}]}},"
    "{\"name\":\"op\",\"type\":\"string\"},{\"name\":\"ts_ms\",\"type\":[\"null\",\"long\"]}]}";

static void put_str(cdc_buf_t *b, const char *s, size_t n)
{
    cdc_avro_long_append(b, (int64_t)n);
    cdc_buf_append(b, s, n);
}

static void make_avro(cdc_buf_t *b, int i)
{
    static const char hdr[5] = {0, 0, 0, 0, 1};
    cdc_buf_append(b, hdr, 5);
    cdc_avro_long_append(b, 0); /* before: null */
    cdc_avro_long_append(b, 1); /* after: Value */
    for (int k = 0; k < 4; k++) {
        char name[32];
        int n = snprintf(name, sizeof(name), "customer number %d", i);
        cdc_avro_long_append(b, 1), cdc_avro_long_append(b, i + k);
        cdc_avro_long_append(b, 1), put_str(b, name, (size_t)n);
        cdc_avro_long_append(b, 1), put_str(b, "\x0b\xea", 2);
        cdc_avro_long_append(b, 1), cdc_avro_long_append(b, 1529507596945104);
        cdc_avro_long_append(b, 1), put_str(b, "2018-06-20T13:37:03.03Z", 23);
    }
    put_str(b, "shop", 4);
    put_str(b, "public", 6);
    put_str(b, "t", 1);
    cdc_avro_long_append(b, 1700000000123);
    cdc_avro_long_append(b, 1), cdc_avro_long_append(b, i * 8);
    put_str(b, "c", 1);
    cdc_avro_long_append(b, 1), cdc_avro_long_append(b, 1700000000456);
}

#define NMSG 256

static const char *only; /* case filter from argv[2], NULL for all */

/* The record key JsonConverter writes for a one-column primary key. */
static void make_key(cdc_buf_t *b, int i)
{
    cdc_buf_printf(b,
                   "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"int64\","
                   "\"optional\":false,\"field\":\"id0\"}],\"optional\":false,\"name\":"
                   "\"bench.public.t.Key\"},\"payload\":{\"id0\":%d}}",
                   i);
}

static cdc_buf_t *keys; /* when set, run() sends keys[i] with msgs[i] */

static void run(const char *label, cdc_decoder_t *dec, cdc_buf_t *msgs, double secs, bool jl)
{
    if (only && !strstr(label, only))
        return;
    cdc_record_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.topic = "bench.public.t";
    size_t bytes = 0;
    long n = 0;
    double t0 = now(), t1, w0 = clock_s(CLOCK_MONOTONIC);
    char err[CDC_ERRSTR_SIZE];
    do {
        for (int i = 0; i < NMSG; i++) {
            if (jl) {
                json_t *js = json_loadb(msgs[i].data, msgs[i].len, 0, NULL);
                json_decref(js);
            } else {
                rec.value = msgs[i].data;
                rec.value_len = msgs[i].len;
                if (keys) {
                    rec.key = keys[i].data;
                    rec.key_len = keys[i].len;
                }
                rec.offset = n;
                cdc_event_t *ev;
                cdc_err_class_t cls;
                if (cdc_decoder_decode(dec, &rec, &ev, &cls, err, sizeof(err)) != 0) {
                    fprintf(stderr, "%s: %s\n", label, err);
                    exit(1);
                }
                cdc_event_destroy(ev);
            }
            bytes += msgs[i].len;
            n++;
        }
        t1 = now();
    } while (t1 - t0 < secs);
    double wall = clock_s(CLOCK_MONOTONIC) - w0;
    printf("%-36s %9.0f msgs/s %8.1f MB/s  (avg %zu B; wall-clock %.0f msgs/s)\n", label,
           (double)n / (t1 - t0), (double)bytes / (t1 - t0) / 1e6, bytes / (size_t)n,
           (double)n / wall);
}

/* ---- the hand-written Avro decoder vs avro-c's generic reader ---- */

enum { AV_DECODER, AV_AVROC_READ, AV_AVROC_RENDER, AV_N };

/* One timed round of @p secs: msgs/s of CPU time. */
static double av_round(int which, cdc_decoder_t *dec, dgen_t *g, avro_reader_t rd,
                       avro_value_t *val, cdc_buf_t *msgs, double secs)
{
    cdc_record_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.topic = "bench.public.t";
    cdc_buf_t out = CDC_BUF_INIT;
    char err[256];
    long n = 0;
    double t0 = now(), t1;
    do {
        for (int i = 0; i < NMSG; i++, n++) {
            const uint8_t *p = (const uint8_t *)msgs[i].data;
            size_t len = msgs[i].len;
            int rc = 0;
            if (which == AV_DECODER) {
                rec.value = p;
                rec.value_len = len;
                rec.offset = n;
                cdc_event_t *ev;
                cdc_err_class_t cls;
                rc = cdc_decoder_decode(dec, &rec, &ev, &cls, err, sizeof(err));
                if (rc == 0)
                    cdc_event_destroy(ev);
            } else if (which == AV_AVROC_READ) {
                avro_reader_memory_set_source(rd, (const char *)p + 5, (int64_t)(len - 5));
                avro_value_reset(val);
                rc = avro_value_read(rd, val);
                if (rc)
                    snprintf(err, sizeof(err), "%s", avro_strerror());
            } else {
                cdc_buf_reset(&out);
                rc = dgen_read(g, rec.topic, p + 5, len - 5, err, sizeof(err));
                if (rc == 0)
                    rc = dgen_render(g, &out, err, sizeof(err));
            }
            if (rc != 0) {
                fprintf(stderr, "avro case %d: %s\n", which, err);
                exit(1);
            }
        }
        t1 = now();
    } while (t1 - t0 < secs);
    cdc_buf_free(&out);
    return (double)n / (t1 - t0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void avro_compare(cdc_decoder_t *dec, const cdc_buf_t *schema, cdc_buf_t *msgs, double secs)
{
    if (only && !strstr("avro: hand-written vs avro-c", only))
        return;
    char err[256];
    dgen_t *g = dgen_new(schema->data, schema->len, NULL, err, sizeof(err));
    avro_schema_t as;
    if (!g || avro_schema_from_json_length(schema->data, schema->len, &as) != 0) {
        fprintf(stderr, "avro-c setup: %s\n", g ? avro_strerror() : err);
        exit(1);
    }
    avro_value_iface_t *iface = avro_generic_class_from_schema(as);
    avro_value_t val;
    avro_generic_value_new(iface, &val);
    avro_reader_t rd = avro_reader_memory("", 0);
    enum { ROUNDS = 5 };
    double rate[AV_N][ROUNDS];
    for (int r = 0; r < ROUNDS; r++) /* interleaved: load changes hit all three alike */
        for (int w = 0; w < AV_N; w++)
            rate[w][r] = av_round(w, dec, g, rd, &val, msgs, secs / ROUNDS);
    static const char *const label[AV_N] = {"avro: cdc_decoder_decode (hand-written)",
                                            "avro: avro-c avro_value_read only",
                                            "avro: avro-c read + render to text"};
    double med[AV_N];
    for (int w = 0; w < AV_N; w++) {
        qsort(rate[w], ROUNDS, sizeof(double), cmp_double);
        med[w] = rate[w][ROUNDS / 2];
        printf("%-40s %9.0f msgs/s median of %d (min %.0f, max %.0f)\n", label[w], med[w], ROUNDS,
               rate[w][0], rate[w][ROUNDS - 1]);
    }
    printf("hand-written decoder: %.1fx avro-c's read alone, %.1fx avro-c read + render\n",
           med[AV_DECODER] / med[AV_AVROC_READ], med[AV_DECODER] / med[AV_AVROC_RENDER]);
    avro_reader_free(rd);
    avro_value_decref(&val);
    avro_value_iface_decref(iface);
    avro_schema_decref(as);
    dgen_destroy(g);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    only = argc > 2 ? argv[2] : NULL;
    static cdc_buf_t js[NMSG], jsa[NMSG], bare[NMSG], av[NMSG], jkeys[NMSG];
    for (int i = 0; i < NMSG; i++) {
        make_key(&jkeys[i], i);
        make_json(&js[i], true, false, i);
        make_json(&jsa[i], true, true, i);
        make_json(&bare[i], false, false, i);
        make_avro(&av[i], i);
    }
    cdc_buf_t fields = CDC_BUF_INIT;
    for (int k = 0; k < 4; k++)
        cdc_buf_printf(
            &fields,
            "%s{\"name\":\"id%d\",\"type\":[\"null\",\"long\"]},"
            "{\"name\":\"name%d\",\"type\":[\"null\",\"string\"]},"
            "{\"name\":\"price%d\",\"type\":[\"null\",{\"type\":\"bytes\","
            "\"logicalType\":\"decimal\",\"scale\":2,\"precision\":10}]},"
            "{\"name\":\"ts%d\",\"type\":[\"null\",{\"type\":\"long\",\"connect.name\":"
            "\"io.debezium.time.MicroTimestamp\"}]},"
            "{\"name\":\"tz%d\",\"type\":[\"null\",{\"type\":\"string\",\"connect.name\":"
            "\"io.debezium.time.ZonedTimestamp\"}]}",
            k ? "," : "", k, k, k, k, k);
    cdc_buf_t schema = CDC_BUF_INIT;
    const char *at = strstr(avsc, "@FIELDS@");
    cdc_buf_append(&schema, avsc, (size_t)(at - avsc));
    cdc_buf_append(&schema, fields.data, fields.len);
    cdc_buf_puts(&schema, at + 8);
    char err[CDC_ERRSTR_SIZE];
    cdc_decoder_t *dec = cdc_decoder_new(NULL, err, sizeof(err));
    if (!dec || cdc_decoder_add_schema(dec, 1, schema.data, schema.len, err, sizeof(err)) != 0) {
        fprintf(stderr, "setup: %s\n", err);
        return 1;
    }
    /* A shared machine skews wall-clock figures: say how busy it was. */
    char load[64] = "?";
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (!fgets(load, sizeof(load), lf))
            snprintf(load, sizeof(load), "?");
        load[strcspn(load, "\n")] = '\0';
        fclose(lf);
    }
    printf("one core, 20-column rows, %g s of CPU per case (load average %s)\n", secs, load);
    run("json+schema: cdc_decoder_decode", dec, js, secs, false);
    run("json+schema: json_loadb only", NULL, js, secs, true);
    keys = jkeys; /* bytes count the value only */
    run("json+schema+key: cdc_decoder_decode", dec, js, secs, false);
    keys = NULL;
    run("json+schema+array: cdc_decoder_decode", dec, jsa, secs, false);
    run("schemaless json: cdc_decoder_decode", dec, bare, secs, false);
    run("schemaless json: json_loadb only", NULL, bare, secs, true);
    run("avro: cdc_decoder_decode", dec, av, secs, false);
    avro_compare(dec, &schema, av, secs * 2);
    cdc_decoder_destroy(dec);
    for (int i = 0; i < NMSG; i++) {
        cdc_buf_free(&js[i]);
        cdc_buf_free(&jsa[i]);
        cdc_buf_free(&bare[i]);
        cdc_buf_free(&av[i]);
        cdc_buf_free(&jkeys[i]);
    }
    cdc_buf_free(&fields);
    cdc_buf_free(&schema);
    return 0;
}
