#include "cdc/pg.h"

#include "cdc/redact.h"

#include <stdio.h>
#include <string.h>

void cdc_pg_error(const PGresult *res, const PGconn *conn, char *errstr, size_t errstr_size)
{
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!msg)
        msg = conn ? PQerrorMessage(conn) : "unknown error";
    /* Keep it to one line: libpq messages end with a newline and may carry
     * a "server closed the connection" second line. */
    char line[512];
    snprintf(line, sizeof(line), "%s", msg);
    for (char *p = line; *p; p++) {
        if (*p == '\t')
            *p = ' ';
        if (*p == '\n' || *p == '\r')
            *p = (p[1] ? ' ' : '\0');
    }
    size_t n = strlen(line);
    while (n && line[n - 1] == ' ')
        line[--n] = '\0';
    if (state)
        snprintf(errstr, errstr_size, "%s (SQLSTATE %s)", line, state);
    else
        snprintf(errstr, errstr_size, "%s", line);
}

PGconn *cdc_pg_connect(const char *conninfo, const char *app_name, char *errstr, size_t errstr_size)
{
    /* expand_dbname=1: conninfo may be a full string or URI. libpq lets
     * the last occurrence of a key win, so our defaults come BEFORE dbname:
     * whatever the conninfo sets itself applies.
     *
     * Keepalives and tcp_user_timeout bound how long a dead peer (network
     * partition, host gone) goes unnoticed: an idle connection is probed
     * after 10 s and dropped after 3 unanswered probes 5 s apart, and data
     * left unacknowledged for 30 s drops the connection. Without them a
     * COPY or COMMIT into a partition waits for the kernel's TCP timeout
     * (about 15 minutes). A slow but alive server is not affected: its
     * kernel acknowledges. */
    const char *keys[] = {"application_name",
                          "connect_timeout",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "dbname",
                          NULL};
    const char *vals[] = {app_name, "10", "1", "10", "5", "3", "30000", conninfo, NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn) {
        snprintf(errstr, errstr_size, "out of memory connecting to PostgreSQL");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        char red[512], msg[512];
        cdc_redact_conninfo(conninfo, red, sizeof(red));
        cdc_pg_error(NULL, conn, msg, sizeof(msg));
        snprintf(errstr, errstr_size,
                 "cannot connect to PostgreSQL '%s': %s: check the conninfo, that the server "
                 "runs and accepts connections",
                 red, msg);
        cdc_redact_errstr(errstr, errstr_size); /* a secret libpq quoted back */
        PQfinish(conn);
        return NULL;
    }
    if (cdc_pg_exec(conn, CDC_PG_SESSION_SETTINGS, NULL, errstr, errstr_size) != 0) {
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

cdc_err_class_t cdc_pg_classify(const PGresult *res, const PGconn *conn)
{
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (conn && PQstatus(conn) != CONNECTION_OK)
        return CDC_ERR_RETRIABLE;
    if (!st)
        return CDC_ERR_RETRIABLE; /* no server answer: the connection broke */
    if (!strncmp(st, "08", 2) ||  /* connection exception */
        !strcmp(st, "40001") ||   /* serialization_failure */
        !strcmp(st, "40P01") ||   /* deadlock_detected */
        !strncmp(st, "57P", 3) || /* admin/crash shutdown, cannot connect now */
        !strcmp(st, "55P03") ||   /* lock_not_available */
        !strcmp(st, "53300") ||   /* too_many_connections */
        !strcmp(st, "53100") || !strcmp(st, "53200") || /* disk full, out of memory */
        !strcmp(st, "57014"))                           /* query_canceled (statement_timeout) */
        return CDC_ERR_RETRIABLE;
    if (!strcmp(st, "42501")) /* insufficient_privilege: configuration */
        return CDC_ERR_FATAL;
    if (!strncmp(st, "22", 2) || /* data exception: value does not fit */
        !strncmp(st, "23", 2) || /* integrity constraint violation */
        !strncmp(st, "42", 2))   /* undefined table/column, datatype mismatch */
        return CDC_ERR_POISON;
    return CDC_ERR_FATAL;
}

int cdc_pg_exec(PGconn *conn, const char *sql, cdc_err_class_t *cls, char *errstr,
                size_t errstr_size)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(res);
        if (cls)
            *cls = CDC_ERR_NONE;
        return 0;
    }
    cdc_pg_error(res, conn, errstr, errstr_size);
    if (cls)
        *cls = cdc_pg_classify(res, conn);
    PQclear(res);
    return -1;
}

void cdc_pg_append_ident(cdc_buf_t *out, const char *name)
{
    cdc_buf_putc(out, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            cdc_buf_putc(out, '"');
        cdc_buf_putc(out, *p);
    }
    cdc_buf_putc(out, '"');
}

void cdc_pg_append_qualified(cdc_buf_t *out, const char *schema, const char *table)
{
    if (schema && *schema) {
        cdc_pg_append_ident(out, schema);
        cdc_buf_putc(out, '.');
    }
    cdc_pg_append_ident(out, table);
}

void cdc_pg_append_literal(cdc_buf_t *out, const char *s)
{
    if (strchr(s, '\\'))
        cdc_buf_putc(out, 'E');
    cdc_buf_putc(out, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '\'' || *p == '\\')
            cdc_buf_putc(out, *p);
        cdc_buf_putc(out, *p);
    }
    cdc_buf_putc(out, '\'');
}

void cdc_pg_append_array_elem(cdc_buf_t *out, const char *s)
{
    cdc_buf_putc(out, out->len ? ',' : '{');
    cdc_buf_putc(out, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            cdc_buf_putc(out, '\\');
        cdc_buf_putc(out, *p);
    }
    cdc_buf_putc(out, '"');
}

PGresult *cdc_pg_exec_params(PGconn *conn, const char *sql, int n, const char *const *params,
                             const int *lens, const int *fmts, ExecStatusType want,
                             cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, lens, fmts, 0);
    if (PQresultStatus(res) == want)
        return res;
    cdc_pg_error(res, conn, errstr, errstr_size);
    *cls = cdc_pg_classify(res, conn);
    PQclear(res);
    return NULL;
}
