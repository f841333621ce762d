/* apply-e2e: cdc-loadgen makes real changes in the source database and
 * produces exactly the Debezium records for them; cdc-apply runs to idle;
 * the target table must then equal the source row for row (invariants 1,
 * 2 and 6: TOAST placeholders under DEFAULT identity must keep the stored
 * note, PK changes and truncates must land in order), the stored positions
 * must equal the end offsets, and the metrics scraped while it ran must
 * count every change event exactly once.
 *
 * Cases with a truncate use one partition: with several, Debezium (and
 * loadgen) give no order between the truncate and other partitions' rows,
 * so "target == source" would not be a property of cdc-apply. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"
#include "th_registry.h"

#include <jansson.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct ecase {
    const char *name;
    const char *identity; /* default | full */
    const char *format;   /* json | json-noschema | avro */
    int partitions;
    const char *truncate_at; /* NULL: none */
    const char *workload;
    bool precreate; /* else --create-tables */
} ecase_t;

static const ecase_t cases[] = {
    {"default-json-truncate", "default", "json", 1, "200", "mixed", false},
    {"full-json-truncate", "full", "json", 1, "250", "mixed", false},
    {"default-json-3p", "default", "json", 3, NULL, "mixed", true},
    {"full-json-3p", "full", "json", 3, NULL, "mixed", false},
    {"noschema-3p", "default", "json-noschema", 3, NULL, "mixed", true},
    {"avro-3p", "default", "avro", 3, NULL, "mixed", false},
};

typedef struct scrape {
    pid_t pid;
    char url[128];
    char *last; /* last /metrics body */
    int status;
} scrape_t;

/* Poll /metrics until the process exits; keep the last body. */
static void run_and_scrape(scrape_t *s, int timeout_ms)
{
    int64_t deadline = th_now_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid) {
            s->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            return;
        }
        long code = 0;
        char *body = NULL;
        if (th_http_request(s->url, NULL, &code, &body, NULL) == 0 && code == 200) {
            free(s->last);
            s->last = body;
        } else {
            free(body);
        }
        if (th_now_ms() > deadline) {
            fprintf(stderr, "cdc-apply did not go idle in %d ms\n", timeout_ms);
            s->status = ta_wait(s->pid, 1);
            return;
        }
        usleep(150 * 1000);
    }
}

static void run_case(const ecase_t *c, th_pg_t *pg, th_broker_t *b, th_registry_t *reg)
{
    char prefix[64], table[64], topic[200], qtable[100], summary[256], parts[16], group[64],
        log[256], addr[64], url[128], events_label[128];
    snprintf(prefix, sizeof(prefix), "%s", th_unique("e2e"));
    snprintf(table, sizeof(table), "%s", th_unique("orders"));
    snprintf(topic, sizeof(topic), "%s.public.%s", prefix, table);
    snprintf(qtable, sizeof(qtable), "public.%s", table);
    snprintf(summary, sizeof(summary), "/tmp/%s.json", prefix);
    snprintf(log, sizeof(log), "/tmp/%s.log", prefix);
    snprintf(parts, sizeof(parts), "%d", c->partitions);
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    int port = ta_free_port();
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    snprintf(events_label, sizeof(events_label), "table=\"public.%s\"", table);
    fprintf(stderr, "--- case %s (topic %s)\n", c->name, topic);
    int64_t t0 = th_now_ms();

    TH_ASSERT(th_broker_cmd(b, "create %s %d", topic, c->partitions) == 0);
    /* Two loadgen runs into one topic: inserts first, so the mixed run
     * (60/20/20 with hot keys) has rows to update and delete. */
    double want = 0;
    for (int run = 0; run < 2; run++) {
        const char *lg[40] = {"--source",
                              pg->source_conninfo,
                              "--brokers",
                              b->bootstrap,
                              "--topic-prefix",
                              prefix,
                              "--table",
                              table,
                              "--replica-identity",
                              c->identity,
                              "--format",
                              c->format,
                              "--toast",
                              "--txn-size",
                              "3",
                              "--partitions",
                              parts,
                              "--summary-json",
                              summary};
        size_t n = 19;
        if (run == 0) {
            const char *more[] = {"--reset", "--workload", "insert", "--events",
                                  "200",     "--seed",     "41",     NULL};
            for (size_t i = 0; more[i]; i++)
                lg[n++] = more[i];
        } else {
            const char *more[] = {"--workload", c->workload, "--events", "300", "--pk-changes",
                                  "5",          "--seed",    "42",       NULL};
            for (size_t i = 0; more[i]; i++)
                lg[n++] = more[i];
            if (c->truncate_at) {
                lg[n++] = "--truncate-at";
                lg[n++] = c->truncate_at;
            }
        }
        if (!strcmp(c->format, "avro")) {
            lg[n++] = "--schema-registry";
            lg[n++] = reg->url;
        }
        lg[n] = NULL;
        TH_ASSERT(ta_loadgen(lg) == 0);
        json_t *sum = json_load_file(summary, 0, NULL);
        TH_ASSERT(sum);
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(sum, "ops"), k, v) want +=
            (double)json_integer_value(v);
        json_decref(sum);
    }

    if (c->precreate) {
        char ddl[600];
        snprintf(ddl, sizeof(ddl), TA_ORDERS_DDL, qtable);
        TH_ASSERT(th_pg_exec(pg->target_conninfo, ddl) == 0);
    }
    const char *ap[40] = {"--brokers",      b->bootstrap, "--group",      group,
                          "--topics",       topic,        "--target",     pg->target_conninfo,
                          "--exit-on-idle", "2",          "--batch-rows", "150",
                          "--metrics-addr", addr};
    size_t n = 14;
    if (!c->precreate)
        ap[n++] = "--create-tables";
    if (!strcmp(c->format, "avro")) {
        ap[n++] = "--schema-registry";
        ap[n++] = reg->url;
    }
    ap[n] = NULL;
    scrape_t s = {.pid = ta_apply_spawn(ap, log)};
    snprintf(s.url, sizeof(s.url), "%s", url);
    run_and_scrape(&s, 45000);
    TH_CHECK_INT(s.status, 0);
    if (s.status != 0) {
        char *l = ta_slurp(log);
        fprintf(stderr, "cdc-apply log:\n%s\n", l);
        free(l);
    }

    long rows = 0;
    TH_CHECK(ta_tables_equal(pg->source_conninfo, pg->target_conninfo, qtable, "id", &rows));
    /* After a late truncate few rows are left; without one, the inserts stay. */
    TH_CHECK(c->truncate_at ? rows >= 1 : rows > 100);
    ta_check_positions(b->bootstrap, pg->target_conninfo, group, topic, c->partitions);

    /* Every change event is counted once: the op counts of the summary
     * against cdc_events_total of the last scrape (taken while idle). */
    double got = s.last ? ta_metric_sum(s.last, "cdc_events_total", events_label) : -1;
    if (got != want)
        fprintf(stderr, "cdc_events_total %s: %.0f, loadgen changes %.0f\n", events_label, got,
                want);
    TH_CHECK(got == want);
    TH_CHECK(s.last && ta_metric_sum(s.last, "cdc_apply_batches_total", "status=\"ok\"") >= 2);
    TH_CHECK(s.last && ta_metric_sum(s.last, "cdc_errors_total", NULL) == 0);
    free(s.last);
    unlink(summary);
    if (!th_failures)
        unlink(log);
    fprintf(stderr, "--- case %s: %ld rows, %lld ms\n", c->name, rows,
            (long long)(th_now_ms() - t0));
}

int main(int argc, char **argv)
{
    th_pg_t pg;
    th_broker_t b;
    th_registry_t reg;
    memset(&pg, 0, sizeof(pg));
    memset(&reg, 0, sizeof(reg));
    ta_start(&pg, &b, 1);
    TH_ASSERT(th_registry_start(&reg, 0) == 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (argc < 2 || !strcmp(argv[1], cases[i].name))
            run_case(&cases[i], &pg, &b, &reg);
    th_registry_stop(&reg);
    ta_stop(&pg, &b);
    TH_DONE();
}
