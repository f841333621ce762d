/**
 * @file th_pg.h
 * @brief A throwaway PostgreSQL cluster per test (devstack/pg-up.sh in a
 *        fresh temp dir), with databases "source" and "target".
 *
 * The cluster is removed however the test ends: th_pg_stop, exit (atexit),
 * or the test being killed (a watchdog process outside the test's process
 * group notices the test is gone, stops the server and deletes the dir).
 */
#ifndef TH_PG_H
#define TH_PG_H

#include <stdbool.h>
#include <sys/types.h>

/** @brief One test cluster. Zero it, then th_pg_start(). Fields are read-only
 *  for tests. */
typedef struct th_pg {
    char dir[256];             /**< cluster home (temp dir) */
    char host[64];             /**< "127.0.0.1" */
    int port;                  /**< TCP port, kept across restarts */
    char source_conninfo[512]; /**< libpq conninfo of database "source" */
    char target_conninfo[512]; /**< libpq conninfo of database "target" */
    char admin_conninfo[512];  /**< database "postgres", to create more */
    bool running;
    pid_t watchdog; /**< cleans up if the test dies */
    int watchdog_fd;
} th_pg_t;

/**
 * @brief Start a new cluster (fsync off: tests only).
 *
 * Skips the test (exit 77) when the PostgreSQL server binaries are missing.
 * @returns 0, or -1 (reason on stderr).
 */
int th_pg_start(th_pg_t *pg);

/** @brief Stop the server and delete its directory. Safe to call twice. */
void th_pg_stop(th_pg_t *pg);

/**
 * @brief Stop the server, keeping its data and port (for fault tests).
 * @param immediate  true: no shutdown checkpoint, like a crash; the next
 *                   start runs crash recovery.
 * @returns 0, or -1.
 */
int th_pg_down(th_pg_t *pg, bool immediate);

/** @brief Start a server stopped by th_pg_down on the same port. 0 or -1. */
int th_pg_up(th_pg_t *pg);

/** @brief th_pg_down(pg, false) then th_pg_up(pg). 0 or -1. */
int th_pg_restart(th_pg_t *pg);

/**
 * @brief Run @p sql (one or more statements) on @p conninfo (borrowed).
 * @returns 0, or -1 with the server's message on stderr.
 */
int th_pg_exec(const char *conninfo, const char *sql);

/**
 * @brief First column of the first row of @p sql.
 * @returns the value (new, caller frees), or NULL on error, no rows or SQL
 *          NULL (errors are printed on stderr).
 */
char *th_pg_query_value(const char *conninfo, const char *sql);

/** @brief Check (TH_CHECK_STR) that @p sql's single value on @p conninfo
 *  is @p want (NULL: SQL NULL or an error). */
void th_pg_check_value(const char *conninfo, const char *sql, const char *want);

#endif
