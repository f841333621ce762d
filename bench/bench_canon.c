/* Canonical encoding throughput per core (core/canon*.c, what cdc-verify
 * and cdc-apply's live check pay per value), through the public API only,
 * so that any two builds can be compared on the same machine in one run:
 *   bench_canon [SECONDS_PER_CASE [CASE_SUBSTRING]]   (default 1, all cases)
 * (SECONDS_PER_CASE -N: exactly N rounds of 4096 values, for valgrind).
 * Cases: the verify scan's binary values (int8, text, numeric,
 * timestamptz), the same values from their text (the Debezium side), a row
 * digest, jsonb, arrays and composites, key comparison. Prints one line per
 * case: values per second of this thread's CPU time, and a checksum of the
 * bytes produced (equal across builds when the encoding is). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc/canon.h"
#include "cdc/util.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define NV 4096

typedef struct bench_in {
    cdc_canon_type_t type;
    char *data[NV];
    size_t len[NV];
} bench_in_t;

static void be_put(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

static char *dup_bytes(const void *p, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) {
        perror("malloc");
        exit(1);
    }
    memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

/* Text inputs: PostgreSQL's output with the canonical session settings. */
static void text_in(bench_in_t *in, const char *typname, int which)
{
    in->type = cdc_canon_type_from_name(typname);
    for (int i = 0; i < NV; i++) {
        char t[512];
        int n = 0;
        switch (which) {
        case 0: n = snprintf(t, sizeof t, "%lld", 1000000LL + i * 7919LL); break;
        case 1: n = snprintf(t, sizeof t, "customer-%08d name %d", i * 31, i); break;
        case 2: n = snprintf(t, sizeof t, "%d.%02d", i * 13, i % 100); break;
        case 3:
            n = snprintf(t, sizeof t, "2026-%02d-%02d %02d:%02d:%02d.%06d+00", 1 + i % 12,
                         1 + i % 28, i % 24, i % 60, (i * 7) % 60, (i * 7919) % 1000000);
            break;
        case 4:
            n = snprintf(t, sizeof t,
                         "{\"name\": \"item %d\", \"tags\": [\"a\", \"b\", %d], \"price\": %d.50, "
                         "\"meta\": {\"z\": true, \"a\": null, \"n\": 1e%d}}",
                         i, i % 10, i, i % 5);
            break;
        case 5: n = snprintf(t, sizeof t, "{%d,%d,NULL,%d,\"%d\"}", i, i + 1, i * 3, i * 5); break;
        default: n = snprintf(t, sizeof t, "P%dDT%dH%dM%d.5S", i % 30, i % 24, i % 60, i % 60);
        }
        in->data[i] = dup_bytes(t, (size_t)n);
        in->len[i] = (size_t)n;
    }
}

/* Binary inputs: PostgreSQL's send format of the same kinds of values. */
static void binary_in(bench_in_t *in, const char *typname, int which)
{
    in->type = cdc_canon_type_from_name(typname);
    for (int i = 0; i < NV; i++) {
        unsigned char b[64];
        size_t n = 0;
        switch (which) {
        case 0:
            be_put(b, (uint64_t)(1000000LL + i * 7919LL), 8);
            n = 8;
            break;
        case 1:
            n = (size_t)snprintf((char *)b, sizeof b, "customer-%08d name %d", i * 31, i);
            break;
        case 2: /* i*13 + (i%100)/100: ndigits 2, weight 0, dscale 2 */
            be_put(b, 2, 2);
            be_put(b + 2, 0, 2);
            be_put(b + 4, 0, 2);
            be_put(b + 6, 2, 2);
            be_put(b + 8, (uint64_t)(i * 13 % 10000), 2);
            be_put(b + 10, (uint64_t)(i % 100) * 100, 2);
            n = 12;
            break;
        default: be_put(b, (uint64_t)(INT64_C(850000000000000) + (int64_t)i * 1234567), 8); n = 8;
        }
        in->data[i] = dup_bytes(b, n);
        in->len[i] = n;
    }
}

static uint64_t g_sum;

/* Another round? SECONDS < 0 means exactly -SECONDS rounds (for counting
 * instructions under valgrind, which the shared machine does not disturb). */
static bool more(double secs, double t, uint64_t rounds)
{
    return secs < 0 ? (double)rounds < -secs : t < secs;
}

/* Encodes all inputs, round after round, until @p secs of CPU time have passed. */
static void run(const char *name, const char *filter, double secs, const bench_in_t *in,
                bool binary)
{
    if (filter && !strstr(name, filter))
        return;
    cdc_buf_t out = CDC_BUF_INIT;
    char err[CDC_ERRSTR_SIZE];
    uint64_t sum = 0, nvals = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < NV; i++) {
            cdc_buf_reset(&out);
            int rc =
                binary ? cdc_canon_encode_binary(in->type, in->data[i], in->len[i], &out, err,
                                                 sizeof err)
                       : cdc_canon_encode(in->type, in->data[i], in->len[i], &out, err, sizeof err);
            if (rc) {
                fprintf(stderr, "%s: %s\n", name, err);
                exit(1);
            }
            if (!nvals) /* the first round: the checksum does not depend on speed */
                sum += cdc_canon_hash(out.data, out.len);
        }
        nvals += NV;
        t = now() - t0;
    } while (more(secs, t, nvals / NV));
    printf("%-22s %10.2f Mvalues/s  (sum %016llx)\n", name, (double)nvals / t / 1e6,
           (unsigned long long)sum);
    g_sum ^= sum;
    cdc_buf_free(&out);
}

static void run_digest(const char *filter, double secs, bench_in_t *cols)
{
    if (filter && !strstr("row-digest", filter))
        return;
    static const char *names[] = {"id", "name", "qty", "price", "at"};
    cdc_buf_t scratch = CDC_BUF_INIT;
    char err[CDC_ERRSTR_SIZE];
    uint64_t sum = 0, nrows = 0, d;
    double t0 = now(), t;
    do {
        for (int i = 0; i < NV; i++) {
            cdc_canon_col_t c[5];
            for (int k = 0; k < 5; k++)
                c[k] = (cdc_canon_col_t){names[k], cols[k].type, k == 0 ? 0 : -1, cols[k].data[i],
                                         cols[k].len[i]};
            if (cdc_canon_row_digest(c, 5, &scratch, &d, err, sizeof err)) {
                fprintf(stderr, "row-digest: %s\n", err);
                exit(1);
            }
            if (!nrows)
                sum += d;
        }
        nrows += NV;
        t = now() - t0;
    } while (more(secs, t, nrows / NV));
    printf("%-22s %10.2f Mrows/s    (sum %016llx)\n", "row-digest", (double)nrows / t / 1e6,
           (unsigned long long)sum);
    cdc_buf_free(&scratch);
}

static void run_compare(const char *filter, double secs, const bench_in_t *in)
{
    if (filter && !strstr("compare-int8", filter))
        return;
    cdc_buf_t enc[NV];
    char err[CDC_ERRSTR_SIZE];
    for (int i = 0; i < NV; i++) {
        enc[i] = (cdc_buf_t)CDC_BUF_INIT;
        if (cdc_canon_encode(in->type, in->data[i], in->len[i], &enc[i], err, sizeof err)) {
            fprintf(stderr, "compare: %s\n", err);
            exit(1);
        }
    }
    long acc = 0;
    uint64_t n = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i + 1 < NV; i++) {
            size_t al = enc[i].len, bl = enc[i + 1].len;
            int c = cdc_canon_compare((const unsigned char *)enc[i].data, &al,
                                      (const unsigned char *)enc[i + 1].data, &bl);
            if (!n)
                acc += c;
        }
        n += NV - 1;
        t = now() - t0;
    } while (more(secs, t, n / (NV - 1)));
    printf("%-22s %10.2f Mcmp/s     (sum %ld)\n", "compare-int8", (double)n / t / 1e6, acc);
    for (int i = 0; i < NV; i++)
        cdc_buf_free(&enc[i]);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    const char *filter = argc > 2 ? argv[2] : NULL;
    static bench_in_t t_int8, t_text, t_num, t_ts, t_json, t_arr, t_iv;
    static bench_in_t b_int8, b_text, b_num, b_ts;
    text_in(&t_int8, "int8", 0);
    text_in(&t_text, "text", 1);
    text_in(&t_num, "numeric", 2);
    text_in(&t_ts, "timestamptz", 3);
    text_in(&t_json, "jsonb", 4);
    text_in(&t_arr, "int4[]", 5);
    text_in(&t_iv, "interval", 6);
    binary_in(&b_int8, "int8", 0);
    binary_in(&b_text, "text", 1);
    binary_in(&b_num, "numeric", 2);
    binary_in(&b_ts, "timestamptz", 3);
    run("binary-int8", filter, secs, &b_int8, true);
    run("binary-text", filter, secs, &b_text, true);
    run("binary-numeric", filter, secs, &b_num, true);
    run("binary-timestamptz", filter, secs, &b_ts, true);
    run("text-int8", filter, secs, &t_int8, false);
    run("text-text", filter, secs, &t_text, false);
    run("text-numeric", filter, secs, &t_num, false);
    run("text-timestamptz", filter, secs, &t_ts, false);
    run("text-interval", filter, secs, &t_iv, false);
    run("text-jsonb", filter, secs, &t_json, false);
    run("text-int4-array", filter, secs, &t_arr, false);
    bench_in_t row[5] = {t_int8, t_text, t_int8, t_num, t_ts}; /* id, name, qty, price, at */
    run_digest(filter, secs, row);
    run_compare(filter, secs, &t_int8);
    printf("checksum %016llx\n", (unsigned long long)g_sum);
    return 0;
}
