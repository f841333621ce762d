/* apply-pg-restart: the target PostgreSQL goes away mid-stream (a crash:
 * immediate shutdown, down for 3 s; and a clean fast restart). cdc-apply
 * must log that it retries, reconnect (its temp staging tables are gone
 * with the old session), exit 0 at idle, and leave the target equal to the
 * source with positions at the end offsets: nothing lost, nothing twice.
 * The crash case is the one where the reply to COMMIT can be lost: the
 * retried batch then meets the fence (stored position already moved),
 * is given back and re-read from the stored positions. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"

#include <unistd.h>

static const struct rcase {
    const char *name;
    bool crash; /* immediate stop + 3 s down, else th_pg_restart */
} cases[] = {{"crash-down-3s", true}, {"fast-restart", false}};

static void run_case(const struct rcase *c, th_pg_t *pg, th_broker_t *b)
{
    ta_names_t n;
    fprintf(stderr, "--- %s\n", c->name);
    ta_history_case(&n, pg, b, "rs", 3);
    /* Small batches so the outage falls mid-stream. */
    const char *const *args = TA_APPLY_ARGS(
        b->bootstrap, n.group, n.topic, pg->target_conninfo, "--batch-rows", "100",
        "--retry-backoff-ms", "200", "--exit-on-idle", "4", "--metrics-addr", "", TA_FAST_GROUP);
    pid_t pid = ta_apply_spawn(args, n.log);
    TH_ASSERT(ta_wait_applied(pg->target_conninfo, n.group));
    if (c->crash) {
        TH_ASSERT(th_pg_down(pg, true) == 0);
        usleep(3000 * 1000); /* the outage itself */
        TH_ASSERT(th_pg_up(pg) == 0);
    } else {
        TH_ASSERT(th_pg_restart(pg) == 0);
    }
    int rc = ta_wait(pid, 90000);
    TH_CHECK_INT(rc, 0);
    char *out = ta_slurp(n.log);
    TH_CHECK(strstr(out, "retrying") != NULL);
    long rows = 0;
    TH_CHECK(ta_tables_equal(pg->source_conninfo, pg->target_conninfo, n.qname, "id", &rows));
    TH_CHECK(rows > 1000);
    ta_check_positions(b->bootstrap, pg->target_conninfo, n.group, n.topic, 3);
    if (th_failures) {
        size_t len = strlen(out);
        fprintf(stderr, "cdc-apply log (tail):\n%s\n", len > 5000 ? out + len - 5000 : out);
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "grep -A2 'ERROR' %s/pg.log | tail -20 >&2", pg->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "(no ERROR in the server log)\n");
    } else {
        unlink(n.log);
    }
    free(out);
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    /* The test cluster runs with synchronous_commit off, so a crash loses
     * commits the server already acknowledged: the target itself would
     * forget applied batches. Production targets commit durably; so does
     * this one. */
    TH_ASSERT(th_pg_exec(pg.admin_conninfo, "ALTER DATABASE target SET synchronous_commit = on") ==
              0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i], &pg, &b);
    ta_stop(&pg, &b);
    TH_DONE();
}
