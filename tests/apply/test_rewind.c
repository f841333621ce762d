/* apply-rewind: the fence's conflict while records fetched in a batch are
 * still waiting to be handed out. cdc-apply reads Kafka in batches (one
 * librdkafka call takes what the queue holds); when the fence refuses a
 * batch it seeks back to the stored positions, and no record fetched
 * before that seek may be applied after it: the records after the batch
 * given back would otherwise pass the position just set and the ones
 * between would never be applied.
 *
 * One partition, small batches, and the writer thread holding each batch
 * (CDC_APPLY_TEST_WRITER_DELAY_MS) so that the source has fetched well
 * ahead; once a batch is committed and the next one is held, the stored
 * position is moved back to 0 behind cdc-apply's back (a target that lost
 * commits). The held batch meets the fence, everything is read again from
 * 0, and at idle the target equals the source with the position at the
 * end offset. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"

#include <stdlib.h>
#include <string.h>

#define HOLD "holding a batch of"

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    ta_start(&pg, &b, 1);
    ta_names_t n;
    ta_names_init(&n, "rw");
    TH_ASSERT(th_broker_cmd(&b, "create %s 1", n.topic) == 0);
    ta_loadgen_inserts(pg.source_conninfo, b.bootstrap, n.prefix, n.table, 1200, 1, 11);
    ta_create_orders(pg.target_conninfo, n.qname);

    const char *args[] = {"--brokers",      b.bootstrap, "--group",        n.group,
                          "--topics",       n.topic,     "--target",       pg.target_conninfo,
                          "--batch-rows",   "100",       "--metrics-addr", "",
                          "--exit-on-idle", "3",         TA_FAST_GROUP,    NULL};
    setenv("CDC_APPLY_TEST_WRITER_DELAY_MS", "700", 1);
    pid_t pid = ta_apply_spawn(args, n.log);
    unsetenv("CDC_APPLY_TEST_WRITER_DELAY_MS");
    TH_ASSERT(ta_wait_applied(pg.target_conninfo, n.group));
    TH_ASSERT(ta_wait_log_count(n.log, HOLD, ta_log_count(n.log, HOLD) + 1, 30000));
    char sql[512];
    snprintf(sql, sizeof(sql), "UPDATE cdc.offsets SET next_offset = 0 WHERE group_id = '%s'",
             n.group);
    TH_ASSERT(th_pg_exec(pg.target_conninfo, sql) == 0);
    int rc = ta_wait(pid, 120000);
    TH_CHECK_INT(rc, 0);

    /* The conflict did happen, and everything was read again. */
    char *log = ta_slurp(n.log);
    TH_CHECK(log && strstr(log, "giving the batch back and re-reading positions"));
    free(log);
    long rows = 0;
    TH_CHECK(ta_tables_equal(pg.source_conninfo, pg.target_conninfo, n.qname, "id", &rows));
    TH_CHECK_INT(rows, 1200);
    ta_check_positions(b.bootstrap, pg.target_conninfo, n.group, n.topic, 1);
    ta_log_finish(n.log, 4000);
    ta_stop(&pg, &b);
    TH_DONE();
}
