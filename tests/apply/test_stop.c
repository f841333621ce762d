/* apply-stop: stop requests and a target that does not answer.
 *
 *   keepalive        the target connection runs TCP keepalives unless the
 *                    conninfo says keepalives=0 (its settings win, as does
 *                    its application_name).
 *   outage-sigterm   the target goes down mid-stream; cdc-apply retries;
 *                    SIGTERM while it retries exits 0 (was 2) within a few
 *                    seconds, and a rerun once the target is back leaves it
 *                    equal to the source.
 *   startup-sigterm  the target is down at start; SIGTERM during the first
 *                    connect's retries exits 0 (was 2).
 *   hung-timeout     the PostgreSQL backend serving cdc-apply is stopped
 *                    (SIGSTOP: the server's kernel still acknowledges, so
 *                    this is what no TCP keepalive can see, like a hung
 *                    server or a partition behind a proxy); with
 *                    --target-timeout 3 cdc-apply cuts the connection and
 *                    retries within a bounded time (before: blocked until
 *                    the backend ran again). After SIGCONT it finishes,
 *                    exit 0, target equal to the source.
 *   hung-sigterm     the same hang with the default --target-timeout (300 s):
 *                    SIGTERM exits 0 within a few seconds (before: blocked
 *                    until the backend ran again); a rerun completes and the
 *                    target equals the source. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct run {
    char prefix[64], table[64], topic[200], group[64], log[128], q[100];
} run_t;

static void prepare(run_t *r, th_pg_t *pg, th_broker_t *b, const char *events)
{
    snprintf(r->prefix, sizeof(r->prefix), "%s", th_unique("st"));
    snprintf(r->table, sizeof(r->table), "%s", th_unique("orders"));
    snprintf(r->topic, sizeof(r->topic), "%s.public.%s", r->prefix, r->table);
    snprintf(r->group, sizeof(r->group), "%s", th_unique("g"));
    snprintf(r->log, sizeof(r->log), "/tmp/%s.log", r->prefix);
    snprintf(r->q, sizeof(r->q), "public.%s", r->table);
    TH_ASSERT(th_broker_cmd(b, "create %s 2", r->topic) == 0);
    const char *const *lg =
        TA_LOADGEN_ARGS(pg->source_conninfo, b->bootstrap, r->prefix, r->table, "--reset",
                        "--format", "json-noschema", "--workload", "insert", "--events", events,
                        "--partitions", "2", "--seed", "5");
    TH_ASSERT(ta_loadgen(lg) == 0);
    char ddl[600];
    snprintf(ddl, sizeof(ddl), TA_ORDERS_DDL, r->q);
    TH_ASSERT(th_pg_exec(pg->target_conninfo, ddl) == 0);
}

static bool log_has(const char *log, const char *needle)
{
    char *out = ta_slurp(log);
    bool has = strstr(out, needle) != NULL;
    free(out);
    return has;
}

/* Wait up to @p ms for @p needle in the log; false if it never came. */
static bool wait_log(const char *log, const char *needle, int ms)
{
    int64_t deadline = th_now_ms() + ms;
    while (th_now_ms() < deadline) {
        if (log_has(log, needle))
            return true;
        usleep(100 * 1000);
    }
    fprintf(stderr, "no '%s' in %s after %d ms\n", needle, log, ms);
    return false;
}

static long long progress(const th_pg_t *pg, const run_t *r)
{
    char sql[300];
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(sum(next_offset), 0) FROM cdc.offsets WHERE group_id = '%s'",
             r->group);
    return ta_query_ll(pg->target_conninfo, sql);
}

static void wait_progress(const th_pg_t *pg, const run_t *r)
{
    int64_t deadline = th_now_ms() + 30000;
    while (th_now_ms() < deadline && progress(pg, r) <= 0)
        usleep(50 * 1000);
    TH_ASSERT(progress(pg, r) > 0);
}

/* Rerun to idle: the target must equal the source, positions at the end. */
static void finish(const th_pg_t *pg, const th_broker_t *b, const run_t *r)
{
    const char *const *args =
        TA_APPLY_ARGS(b->bootstrap, r->group, r->topic, pg->target_conninfo, "--exit-on-idle", "3",
                      "--metrics-addr", "", TA_FAST_GROUP);
    TH_CHECK_INT(ta_apply_run(args, r->log, 90000), 0);
    long rows = 0;
    TH_CHECK(ta_tables_equal(pg->source_conninfo, pg->target_conninfo, r->q, "id", &rows));
    fprintf(stderr, "%ld rows equal\n", rows);
    TH_CHECK(rows >= 200);
    ta_check_positions(b->bootstrap, pg->target_conninfo, r->group, r->topic, 2);
}

static void show_log(const run_t *r)
{
    char *out = ta_slurp(r->log);
    size_t len = strlen(out);
    if (th_failures)
        fprintf(stderr, "cdc-apply log (tail):\n%s\n", len > 4000 ? out + len - 4000 : out);
    free(out);
}

/* The pid of the backend serving cdc-apply (application_name cdc-apply). */
static long long apply_backend(const th_pg_t *pg)
{
    int64_t deadline = th_now_ms() + 20000;
    long long pid = -1;
    while (th_now_ms() < deadline && pid <= 0) {
        pid = ta_query_ll(pg->target_conninfo,
                          "SELECT pid FROM pg_stat_activity WHERE application_name = 'cdc-apply' "
                          "ORDER BY backend_start DESC LIMIT 1");
        if (pid <= 0)
            usleep(50 * 1000);
    }
    return pid;
}

static void case_outage(th_pg_t *pg, th_broker_t *b)
{
    fprintf(stderr, "--- outage-sigterm\n");
    run_t r;
    prepare(&r, pg, b, "4000");
    const char *const *args =
        TA_APPLY_ARGS(b->bootstrap, r.group, r.topic, pg->target_conninfo, "--batch-rows", "50",
                      "--retry-backoff-ms", "200", "--metrics-addr", "", TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(args, r.log);
    wait_progress(pg, &r);
    TH_ASSERT(th_pg_down(pg, true) == 0);
    TH_CHECK(wait_log(r.log, "(retrying)", 20000));
    int64_t t0 = th_now_ms();
    kill(pid, SIGTERM);
    TH_CHECK_INT(ta_wait(pid, 15000), 0);
    int64_t took = th_now_ms() - t0;
    fprintf(stderr, "exit after SIGTERM during the outage: %lld ms\n", (long long)took);
    TH_CHECK(took < 8000);
    TH_ASSERT(th_pg_up(pg) == 0);
    finish(pg, b, &r);
    show_log(&r);
}

static void case_startup(th_pg_t *pg, th_broker_t *b)
{
    fprintf(stderr, "--- startup-sigterm\n");
    run_t r;
    prepare(&r, pg, b, "200");
    /* Not immediate: the table just created must survive. */
    TH_ASSERT(th_pg_down(pg, false) == 0);
    const char *const *args =
        TA_APPLY_ARGS(b->bootstrap, r.group, r.topic, pg->target_conninfo, "--metrics-addr", "");
    pid_t pid = ta_apply_spawn(args, r.log);
    TH_CHECK(wait_log(r.log, "(retrying)", 20000));
    kill(pid, SIGTERM);
    TH_CHECK_INT(ta_wait(pid, 15000), 0);
    TH_ASSERT(th_pg_up(pg) == 0);
    finish(pg, b, &r);
    show_log(&r);
}

static void case_hung(th_pg_t *pg, th_broker_t *b, bool sigterm)
{
    fprintf(stderr, "--- %s\n", sigterm ? "hung-sigterm" : "hung-timeout");
    run_t r;
    prepare(&r, pg, b, "6000");
    const char *const *args =
        TA_APPLY_ARGS(b->bootstrap, r.group, r.topic, pg->target_conninfo, "--batch-rows", "20",
                      "--retry-backoff-ms", "200", "--metrics-addr", "", "--exit-on-idle", "5",
                      TA_FAST_GROUP, sigterm ? NULL : "--target-timeout", "3");
    pid_t pid = ta_apply_spawn(args, r.log);
    wait_progress(pg, &r);
    long long backend = apply_backend(pg);
    TH_ASSERT(backend > 0);
    TH_ASSERT(kill((pid_t)backend, SIGSTOP) == 0);
    int64_t t0 = th_now_ms();
    if (sigterm) {
        usleep(1000 * 1000); /* let it block on the stopped backend */
        t0 = th_now_ms();
        kill(pid, SIGTERM);
        TH_CHECK_INT(ta_wait(pid, 20000), 0);
        int64_t took = th_now_ms() - t0;
        fprintf(stderr, "exit after SIGTERM with the backend stopped: %lld ms\n", (long long)took);
        TH_CHECK(took < 10000);
        kill((pid_t)backend, SIGCONT);
    } else {
        bool cut = wait_log(r.log, "did not answer within --target-timeout 3 s", 20000);
        TH_CHECK(cut);
        fprintf(stderr, "connection cut after %lld ms\n", (long long)(th_now_ms() - t0));
        kill((pid_t)backend, SIGCONT);
        TH_CHECK_INT(ta_wait(pid, 90000), 0);
    }
    finish(pg, b, &r);
    show_log(&r);
}

/* The kernel timer of cdc-apply's target socket (client port @p port, to
 * the server's @p server_port) in /proc/net/tcp: 2 is the keepalive timer,
 * 0 none; -1 when the socket is not found. *secs: seconds until it fires. */
static int tcp_timer(int port, int server_port, double *secs)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    int timer = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        unsigned lport = 0, rport = 0, st = 0, tr = 0;
        unsigned long when = 0;
        if (sscanf(line, " %*d: %*8[0-9A-Fa-f]:%x %*8[0-9A-Fa-f]:%x %x %*x:%*x %x:%lx", &lport,
                   &rport, &st, &tr, &when) == 5 &&
            (int)lport == port && (int)rport == server_port && st == 1 /* ESTABLISHED */) {
            timer = (int)tr;
            *secs = (double)when / (double)sysconf(_SC_CLK_TCK);
        }
    }
    fclose(f);
    return timer;
}

/* Keepalives are on for the target connection by default (an idle socket
 * runs the keepalive timer), and a conninfo's own settings win over our
 * defaults (keepalives=0, application_name). */
static void case_keepalive(th_pg_t *pg, th_broker_t *b)
{
    fprintf(stderr, "--- keepalive\n");
    run_t r;
    prepare(&r, pg, b, "200");
    for (int custom = 0; custom < 2; custom++) {
        char conninfo[700], sql[200];
        snprintf(conninfo, sizeof(conninfo), "%s%s", pg->target_conninfo,
                 custom ? " keepalives=0 application_name=cdc-nokeep" : "");
        const char *app = custom ? "cdc-nokeep" : "cdc-apply";
        const char *const *args =
            TA_APPLY_ARGS(b->bootstrap, r.group, r.topic, conninfo, "--metrics-addr", "");
        pid_t pid = ta_apply_spawn(args, r.log);
        wait_progress(pg, &r);
        snprintf(sql, sizeof(sql),
                 "SELECT client_port FROM pg_stat_activity WHERE application_name = '%s'", app);
        long long port = -1;
        int64_t deadline = th_now_ms() + 10000;
        while (th_now_ms() < deadline && (port = ta_query_ll(pg->target_conninfo, sql)) <= 0)
            usleep(50 * 1000);
        TH_CHECK(port > 0);
        /* Idle now (caught up): the timer is the keepalive one, or none. */
        int timer = -1;
        double secs = 0;
        deadline = th_now_ms() + 10000;
        while (th_now_ms() < deadline) {
            timer = tcp_timer((int)port, pg->port, &secs);
            if (timer == (custom ? 0 : 2))
                break;
            usleep(100 * 1000);
        }
        fprintf(stderr, "%s: socket timer %d, fires in %.1f s\n", app, timer, secs);
        TH_CHECK_INT(timer, custom ? 0 : 2);
        /* keepalives_idle=10 (the kernel's own default is 7200 s). */
        if (!custom)
            TH_CHECK(secs <= 10.5);
        kill(pid, SIGTERM);
        TH_CHECK_INT(ta_wait(pid, 15000), 0);
    }
    show_log(&r);
}

int main(int argc, char **argv)
{
    /* An argument runs one case (for debugging): keepalive, outage, startup,
     * hung-timeout or hung-sigterm. */
    const char *only = argc > 1 ? argv[1] : NULL;
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    if (!only || !strcmp(only, "keepalive"))
        case_keepalive(&pg, &b);
    if (!only || !strcmp(only, "outage"))
        case_outage(&pg, &b);
    if (!only || !strcmp(only, "startup"))
        case_startup(&pg, &b);
    if (!only || !strcmp(only, "hung-timeout"))
        case_hung(&pg, &b, false);
    if (!only || !strcmp(only, "hung-sigterm"))
        case_hung(&pg, &b, true);
    ta_stop(&pg, &b);
    TH_DONE();
}
