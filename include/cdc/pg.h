/**
 * @file pg.h
 * @brief PostgreSQL helpers shared by cdc-apply and cdc-verify: connecting
 *        with the canonical session settings, classifying errors by
 *        SQLSTATE, and quoting identifiers.
 */
#ifndef CDC_PG_H
#define CDC_PG_H

#include <libpq-fe.h>
#include <stddef.h>

#include "cdc/buf.h"
#include "cdc/err.h"

/** Session settings every connection runs with, so that the text of a
 *  value is the same whichever program reads it (design.md): UTF-8 text
 *  whatever the server encoding (events are UTF-8; a LATIN1 source and a
 *  UTF8 target must print 'café' alike). */
#define CDC_PG_SESSION_SETTINGS                                                                    \
    "SET client_encoding='UTF8'; SET TimeZone='UTC'; SET DateStyle='ISO'; "                        \
    "SET IntervalStyle='iso_8601'; SET extra_float_digits=3; SET bytea_output='hex'"

/**
 * @brief Connect and apply CDC_PG_SESSION_SETTINGS.
 *
 * Defaults that the conninfo may override: connect_timeout=10, TCP
 * keepalives (idle 10 s, interval 5 s, 3 probes), tcp_user_timeout=30000,
 * application_name=@p app_name.
 * @param conninfo libpq conninfo or URI (libpq's environment applies).
 * @param app_name application_name shown in pg_stat_activity.
 * @returns new connection, or NULL with errstr set (password redacted,
 *          naming the likely fix).
 */
PGconn *cdc_pg_connect(const char *conninfo, const char *app_name, char *errstr,
                       size_t errstr_size);

/**
 * @brief Class of a failed result: connection loss, deadlock,
 *        serialization failure, admin shutdown and lock timeouts are
 *        retriable; data errors (class 22, 23), undefined or mismatched
 *        objects (42) are poison; the rest is fatal.
 * @param res  borrowed, may be NULL (then the connection state decides).
 */
cdc_err_class_t cdc_pg_classify(const PGresult *res, const PGconn *conn);

/**
 * @brief Run a command that returns no rows.
 * @returns 0, or -1 with errstr = PostgreSQL's primary message (one line)
 *          and *cls (may be NULL) set.
 */
int cdc_pg_exec(PGconn *conn, const char *sql, cdc_err_class_t *cls, char *errstr,
                size_t errstr_size);

/**
 * @brief PQexecParams that reports failure the house way.
 * @param lens, fmts  as PQexecParams (NULL: all text).
 * @param want  the status that means success (PGRES_COMMAND_OK or
 *              PGRES_TUPLES_OK).
 * @returns the result (new: PQclear it), or NULL with errstr and *cls set.
 */
PGresult *cdc_pg_exec_params(PGconn *conn, const char *sql, int n, const char *const *params,
                             const int *lens, const int *fmts, ExecStatusType want,
                             cdc_err_class_t *cls, char *errstr, size_t errstr_size);

/** @brief Copy the one-line primary message (and SQLSTATE) of @p res, or
 *  of the connection when @p res has none, into errstr. */
void cdc_pg_error(const PGresult *res, const PGconn *conn, char *errstr, size_t errstr_size);

/** @brief Append @p name as a quoted identifier ("a""b"): any name is
 *  safe, whatever it contains (invariant 4). */
void cdc_pg_append_ident(cdc_buf_t *out, const char *name);

/** @brief Append "schema"."table" (schema may be NULL). */
void cdc_pg_append_qualified(cdc_buf_t *out, const char *schema, const char *table);

/** @brief Append @p s as a quoted string literal ('it''s'), using E''
 *  syntax when it contains a backslash. */
void cdc_pg_append_literal(cdc_buf_t *out, const char *s);

/** @brief Append @p s as one element of an array literal ("{...}"): a
 *  ',' or the opening '{' first, then the double-quoted, escaped text. The
 *  caller closes the literal with '}' (an empty list must be "{}"). */
void cdc_pg_append_array_elem(cdc_buf_t *out, const char *s);

#endif
