/* apply-livecheck: the apply-time integrity check tells the truth.
 *
 * Two target tables receive the same Debezium stream (inserts and updates
 * of orders): one has the source's column types, the other stores
 * amount as numeric(12,1) while the source sends numeric(12,2). PostgreSQL
 * accepts 12.34 into numeric(12,1) silently (it rounds), so only a check
 * that reads rows back can notice. cdc-apply applies one row per batch
 * until every record is counted in cdc_events_total, so the counts are
 * exact: the faithful table scores 1 with one match per upserted event;
 * in the narrowed one every upserted event is a match or a mismatch, there
 * are mismatches, the score is exactly match / (match + mismatch), and the
 * log names the record and the column. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"
#include "th_registry.h"

#include <sys/wait.h>
#include <unistd.h>

/* Scrape @p url until cdc_events_total of both tables (@p la, @p lb: label
 * matchers) reaches their topics' record counts (@p na, @p nb), 60 s at
 * most. A batch's live-check counters are added before its events are
 * counted, so they are final then. Returns the last body (caller frees). */
static char *scrape_applied(pid_t pid, const char *url, const char *la, int64_t na, const char *lb,
                            int64_t nb)
{
    const char *labels[] = {la, lb};
    const double mins[] = {(double)na, (double)nb};
    return ta_scrape_until(pid, url, "cdc_events_total", labels, mins, 2, 60000);
}

/* Events of the table @p lt whose rows were upserted (c, u, r). */
static double upserts(const char *body, const char *lt)
{
    double n = 0;
    const char *ops[] = {"c", "u", "r"};
    for (int i = 0; i < 3; i++) {
        char m[200];
        snprintf(m, sizeof(m), "%s,op=\"%s\"", lt, ops[i]);
        n += ta_metric_sum(body, "cdc_events_total", m);
    }
    return n;
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    th_pg_start(&pg);
    const char *prefix = "lc";
    char good[64], narrow[64], tgood[128], tnarrow[128], ddl[700];
    snprintf(good, sizeof(good), "%s", th_unique("good"));
    snprintf(narrow, sizeof(narrow), "%s", th_unique("narrow"));
    snprintf(tgood, sizeof(tgood), "%s.public.%s", prefix, good);
    snprintf(tnarrow, sizeof(tnarrow), "%s.public.%s", prefix, narrow);
    TH_ASSERT(th_broker_start(&b, 1, NULL) == 0);
    TH_ASSERT(th_broker_cmd(&b, "create %s 2", tgood) == 0);
    TH_ASSERT(th_broker_cmd(&b, "create %s 2", tnarrow) == 0);

    for (int i = 0; i < 2; i++) {
        const char *t = i ? narrow : good;
        const char *const *lg =
            TA_LOADGEN_ARGS(pg.source_conninfo, b.bootstrap, prefix, t, "--reset", "--workload",
                            "mixed", "--events", "300", "--seed", "7", "--tombstones", "false");
        TH_ASSERT(ta_loadgen(lg) == 0);
        char q[100];
        snprintf(q, sizeof(q), "public.%s", t);
        snprintf(ddl, sizeof(ddl), TA_ORDERS_DDL, q);
        TH_ASSERT(th_pg_exec(pg.target_conninfo, ddl) == 0);
    }
    snprintf(ddl, sizeof(ddl), "ALTER TABLE public.%s ALTER COLUMN amount TYPE numeric(12,1)",
             narrow);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, ddl) == 0);

    int port = ta_free_port();
    char addr[64], url[128], topics[300], log[128];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    snprintf(topics, sizeof(topics), "%s,%s", tgood, tnarrow);
    snprintf(log, sizeof(log), "/tmp/%s.log", th_unique("livecheck"));
    const char *const *ap =
        TA_APPLY_ARGS(b.bootstrap, th_unique("g"), topics, pg.target_conninfo, "--metrics-addr",
                      addr, "--live-check-rows", "1000", "--batch-rows", "1", TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(ap, log);
    TH_ASSERT(pid > 0);

    char lgood[128], lnarrow[128];
    snprintf(lgood, sizeof(lgood), "table=\"public.%s\"", good);
    snprintf(lnarrow, sizeof(lnarrow), "table=\"public.%s\"", narrow);
    /* Every record is a change event (no tombstones): wait until all are
     * applied; then the live-check counters are final. */
    int64_t ngood = 0, nnarrow = 0;
    for (int32_t p = 0; p < 2; p++) {
        ngood += ta_end_offset(b.bootstrap, tgood, p);
        nnarrow += ta_end_offset(b.bootstrap, tnarrow, p);
    }
    TH_ASSERT(ngood > 0 && nnarrow > 0);
    char *body = scrape_applied(pid, url, lgood, ngood, lnarrow, nnarrow);
    kill(pid, SIGTERM);
    TH_CHECK_INT(ta_wait(pid, 30000), 0);
    TH_ASSERT(body != NULL);
    TH_CHECK(ta_metric_sum(body, "cdc_events_total", lgood) == (double)ngood);
    TH_CHECK(ta_metric_sum(body, "cdc_events_total", lnarrow) == (double)nnarrow);

    /* One row per batch (--batch-rows 1): every upserted event's row is
     * read back exactly once. */
    char want_match[256], want_mism[256];
    snprintf(want_match, sizeof(want_match), "%s,result=\"match\"", lgood);
    snprintf(want_mism, sizeof(want_mism), "%s,result=\"mismatch\"", lgood);
    double up = upserts(body, lgood);
    TH_CHECK(up > 0);
    TH_CHECK(ta_metric_sum(body, "cdc_live_check_rows_total", want_match) == up);
    TH_CHECK(ta_metric_sum(body, "cdc_live_check_rows_total", want_mism) == 0);
    TH_CHECK(ta_metric_sum(body, "cdc_table_consistency_score", lgood) == 1.0);
    snprintf(want_match, sizeof(want_match), "%s,result=\"match\"", lnarrow);
    snprintf(want_mism, sizeof(want_mism), "%s,result=\"mismatch\"", lnarrow);
    double match = ta_metric_sum(body, "cdc_live_check_rows_total", want_match);
    double mism = ta_metric_sum(body, "cdc_live_check_rows_total", want_mism);
    TH_CHECK(match + mism == upserts(body, lnarrow));
    TH_CHECK(mism > 0);
    /* The score is the share of matches since start, whatever the share
     * (0 when every checked row was narrowed). */
    double score = ta_metric_sum(body, "cdc_table_consistency_score", lnarrow);
    double want_score = match / (match + mism);
    fprintf(stderr, "narrow: match %.0f mismatch %.0f score %.9g\n", match, mism, score);
    TH_CHECK(score > want_score - 1e-9 && score < want_score + 1e-9);

    char *text = ta_slurp(log);
    TH_ASSERT(text);
    char want[200];
    snprintf(want, sizeof(want), "public.%s stored a different value in column \"amount\"", narrow);
    TH_CHECK(strstr(text, want) != NULL);
    snprintf(want, sizeof(want), "public.%s stored a different value", good);
    TH_CHECK(strstr(text, want) == NULL);
    ta_dump_log_metrics(text, body);
    ta_stop(&pg, &b);
    TH_DONE();
}
