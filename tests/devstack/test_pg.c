/* The harness's PostgreSQL: both databases answer, logical decoding is on,
 * and a restart keeps the port and the data (fault tests rely on both). */
#include "th.h"
#include "th_pg.h"

#include <stdlib.h>

int main(void)
{
    th_pg_t pg;
    char sql[256];

    TH_ASSERT(th_pg_start(&pg) == 0);

    th_pg_check_value(pg.source_conninfo, "SELECT 1", "1");
    th_pg_check_value(pg.target_conninfo, "SELECT current_database()", "target");
    th_pg_check_value(pg.source_conninfo, "SHOW wal_level", "logical");
    th_pg_check_value(pg.source_conninfo, "SHOW max_connections", "200");

    /* Errors come back as -1 / NULL, not as a crash or an exit. */
    TH_CHECK_INT(th_pg_exec(pg.target_conninfo, "SELECT * FROM no_such_table"), -1);
    TH_CHECK(th_pg_query_value(pg.target_conninfo, "SELECT NULL") == NULL);

    const char *table = th_unique("t");
    snprintf(sql, sizeof(sql), "CREATE TABLE %s (id int primary key); INSERT INTO %s VALUES (42)",
             table, table);
    TH_CHECK_INT(th_pg_exec(pg.target_conninfo, sql), 0);

    int port = pg.port;
    TH_ASSERT(th_pg_restart(&pg) == 0);
    TH_CHECK_INT(pg.port, port);
    snprintf(sql, sizeof(sql), "SELECT id FROM %s", table);
    th_pg_check_value(pg.target_conninfo, sql, "42");

    /* A crash-like stop: the committed row survives recovery. */
    TH_ASSERT(th_pg_down(&pg, true) == 0);
    TH_CHECK(th_pg_query_value(pg.target_conninfo, "SELECT 1") == NULL);
    TH_ASSERT(th_pg_up(&pg) == 0);
    th_pg_check_value(pg.target_conninfo, sql, "42");

    th_pg_stop(&pg);
    TH_DONE();
}
