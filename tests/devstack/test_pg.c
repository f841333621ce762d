/* The harness's PostgreSQL: both databases answer, logical decoding is on,
 * and a restart keeps the port and the data (fault tests rely on both). */
#include "th.h"
#include "th_pg.h"

#include <stdlib.h>

int main(void)
{
    th_pg_t pg;
    char *v = NULL;
    char sql[256];

    TH_ASSERT(th_pg_start(&pg) == 0);

    v = th_pg_query_value(pg.source_conninfo, "SELECT 1");
    TH_CHECK_STR(v, "1");
    free(v);
    v = th_pg_query_value(pg.target_conninfo, "SELECT current_database()");
    TH_CHECK_STR(v, "target");
    free(v);
    v = th_pg_query_value(pg.source_conninfo, "SHOW wal_level");
    TH_CHECK_STR(v, "logical");
    free(v);
    v = th_pg_query_value(pg.source_conninfo, "SHOW max_connections");
    TH_CHECK_STR(v, "200");
    free(v);

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
    v = th_pg_query_value(pg.target_conninfo, sql);
    TH_CHECK_STR(v, "42");
    free(v);

    /* A crash-like stop: the committed row survives recovery. */
    TH_ASSERT(th_pg_down(&pg, true) == 0);
    TH_CHECK(th_pg_query_value(pg.target_conninfo, "SELECT 1") == NULL);
    TH_ASSERT(th_pg_up(&pg) == 0);
    v = th_pg_query_value(pg.target_conninfo, sql);
    TH_CHECK_STR(v, "42");
    free(v);

    th_pg_stop(&pg);
    TH_DONE();
}
