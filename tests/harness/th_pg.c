#include "th_pg.h"
#include "th.h"
#include "th_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

/* pg-up.sh may initdb and wait for startup (up to 60 s each on a slow box). */
#define SCRIPT_TIMEOUT_MS 150000

static bool pg_binaries_present(void)
{
    const char *bindir = getenv("PG_BINDIR");
    char path[512];
    glob_t g;

    if (bindir) {
        snprintf(path, sizeof(path), "%s/initdb", bindir);
        return access(path, X_OK) == 0;
    }
    bool found = glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0 && g.gl_pathc > 0;
    if (found)
        globfree(&g);
    return found;
}

static void script_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/devstack/%s", th_source_root(), name);
}

/* The watchdog: a process in its own session (so a test runner that kills
 * the test's process group spares it) that waits for the test to go away.
 * 'q' on the pipe means "cleaned up already"; EOF means the test died. */
static int watchdog_start(th_pg_t *pg)
{
    int p[2];
    char down[512];
    script_path(down, sizeof(down), "pg-down.sh");
    const char *argv[] = {"/bin/bash", down, "--immediate", "--rm", pg->dir, NULL};

    if (pipe2(p, O_CLOEXEC)) {
        fprintf(stderr, "th_pg: pipe: %s\n", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "th_pg: fork: %s\n", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        setsid();
        /* Hold nothing of the test's (other watchdogs' pipes, server stdin),
         * or their EOF would wait for us. */
        for (int fd = 3; fd < 1024; fd++)
            if (fd != p[0])
                close(fd);
        char c = 0;
        ssize_t n;
        while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
            ;
        if (n == 1 && c == 'q')
            _exit(0);
        pid_t child = fork();
        if (child == 0) {
            execv(argv[0], (char *const *)(uintptr_t)argv);
            _exit(127);
        }
        if (child > 0)
            waitpid(child, NULL, 0);
        _exit(0);
    }
    close(p[0]);
    pg->watchdog = pid;
    pg->watchdog_fd = p[1];
    return 0;
}

static void cleanup_cb(void *arg)
{
    th_pg_stop(arg);
}

/* Runs pg-up.sh and reads the port it chose. */
static int pg_up(th_pg_t *pg, int port)
{
    char up[512], port_arg[16];
    char *out = NULL;
    int rc = -1;

    script_path(up, sizeof(up), "pg-up.sh");
    snprintf(port_arg, sizeof(port_arg), "%d", port);
    const char *argv[] = {"/bin/bash", up, "--fast", pg->dir, port ? port_arg : NULL, NULL};

    int status = th_proc_run(argv, SCRIPT_TIMEOUT_MS, &out);
    if (status == 3)
        TH_SKIP("pg-up.sh found no PostgreSQL server binaries");
    if (status != 0) {
        fprintf(stderr, "th_pg: pg-up.sh %s failed (status %d); see %s/pg.log\n", pg->dir, status,
                pg->dir);
        goto out;
    }
    const char *p = out ? strstr(out, "PGPORT=") : NULL;
    if (!p || sscanf(p, "PGPORT=%d", &pg->port) != 1) {
        fprintf(stderr, "th_pg: no PGPORT= line from pg-up.sh:\n%s\n", out ? out : "");
        goto out;
    }
    pg->running = true;
    rc = 0;
out:
    free(out);
    return rc;
}

int th_pg_start(th_pg_t *pg)
{
    memset(pg, 0, sizeof(*pg));
    pg->watchdog_fd = -1;
    if (!pg_binaries_present())
        TH_SKIP("PostgreSQL server binaries not found (no initdb in $PG_BINDIR or "
                "/usr/lib/postgresql/*/bin): install postgresql-15 or set PG_BINDIR");

    /* /tmp rather than $TMPDIR: as root the server runs as "postgres",
     * which must be able to reach the directory. */
    snprintf(pg->dir, sizeof(pg->dir), "/tmp/th_pg_XXXXXX");
    if (!mkdtemp(pg->dir)) {
        fprintf(stderr, "th_pg: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    /* Watchdog first: it also removes the dir if pg-up.sh fails half way. */
    if (watchdog_start(pg)) {
        rmdir(pg->dir);
        return -1;
    }
    th_cleanup_push(cleanup_cb, pg);
    if (pg_up(pg, 0)) {
        th_pg_stop(pg);
        return -1;
    }

    snprintf(pg->host, sizeof(pg->host), "127.0.0.1");
#define TH_PG_CONNINFO "host=%s port=%d user=postgres dbname=%s connect_timeout=10"
    snprintf(pg->source_conninfo, sizeof(pg->source_conninfo), TH_PG_CONNINFO, pg->host, pg->port,
             "source");
    snprintf(pg->target_conninfo, sizeof(pg->target_conninfo), TH_PG_CONNINFO, pg->host, pg->port,
             "target");
    snprintf(pg->admin_conninfo, sizeof(pg->admin_conninfo), TH_PG_CONNINFO, pg->host, pg->port,
             "postgres");
#undef TH_PG_CONNINFO
    return 0;
}

void th_pg_stop(th_pg_t *pg)
{
    char down[512];

    if (pg->watchdog_fd < 0)
        return;
    script_path(down, sizeof(down), "pg-down.sh");
    const char *argv[] = {"/bin/bash", down, "--immediate", "--rm", pg->dir, NULL};
    if (th_proc_run(argv, SCRIPT_TIMEOUT_MS, NULL) != 0)
        fprintf(stderr, "th_pg: pg-down.sh %s failed; the watchdog retries\n", pg->dir);
    else if (write(pg->watchdog_fd, "q", 1) != 1)
        fprintf(stderr, "th_pg: watchdog gone: %s\n", strerror(errno));
    close(pg->watchdog_fd);
    pg->watchdog_fd = -1;
    waitpid(pg->watchdog, NULL, 0);
    pg->running = false;
    th_cleanup_pop(cleanup_cb, pg);
}

int th_pg_down(th_pg_t *pg, bool immediate)
{
    char down[512];
    script_path(down, sizeof(down), "pg-down.sh");
    const char *argv[] = {"/bin/bash", down, immediate ? "--immediate" : pg->dir,
                          immediate ? pg->dir : NULL, NULL};
    if (th_proc_run(argv, SCRIPT_TIMEOUT_MS, NULL) != 0) {
        fprintf(stderr, "th_pg: pg-down.sh %s failed\n", pg->dir);
        return -1;
    }
    pg->running = false;
    return 0;
}

int th_pg_up(th_pg_t *pg)
{
    return pg_up(pg, pg->port);
}

int th_pg_restart(th_pg_t *pg)
{
    return th_pg_down(pg, false) || th_pg_up(pg) ? -1 : 0;
}

static PGresult *pg_run(const char *conninfo, const char *sql, PGconn **conn)
{
    *conn = PQconnectdb(conninfo);
    if (PQstatus(*conn) != CONNECTION_OK) {
        fprintf(stderr, "th_pg: connect (%s): %s", conninfo, PQerrorMessage(*conn));
        return NULL;
    }
    PGresult *res = PQexec(*conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "th_pg: %s\n  in: %s\n", PQerrorMessage(*conn), sql);
        PQclear(res);
        return NULL;
    }
    return res;
}

int th_pg_exec(const char *conninfo, const char *sql)
{
    PGconn *conn = NULL;
    PGresult *res = pg_run(conninfo, sql, &conn);
    int rc = res ? 0 : -1;
    PQclear(res);
    PQfinish(conn);
    return rc;
}

char *th_pg_query_value(const char *conninfo, const char *sql)
{
    PGconn *conn = NULL;
    char *value = NULL;
    PGresult *res = pg_run(conninfo, sql, &conn);
    if (res && PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
        value = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(conn);
    return value;
}

void th_pg_check_value(const char *conninfo, const char *sql, const char *want)
{
    char *v = th_pg_query_value(conninfo, sql);
    if (!(v == NULL && want == NULL) && !(v && want && strcmp(v, want) == 0))
        fprintf(stderr, "%s\n", sql);
    TH_CHECK_STR(v, want);
    free(v);
}
