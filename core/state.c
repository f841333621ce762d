/*
 * State schema migrations. Both programs call cdc_state_ensure() on start.
 * The DDL lives in schemas/state/NNNN_description.sql, embedded at build
 * time as cdc_state_migrations[] (schemas/embed_sql.py); this file is the
 * runner. Several processes may start at once: CREATE ... IF NOT EXISTS
 * alone races on the catalog (unique violation on pg_namespace / pg_type),
 * and two runners must not both apply a migration, hence one transaction
 * holding an advisory lock per schema name, in which the ledger is read.
 */
#include "cdc/state.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/buf.h"
#include "cdc/pg.h"

/* Where a migration names the schema; psql's syntax, so that a file also
 * runs with psql -v schema=cdc -f FILE. */
#define PLACEHOLDER ":\"schema\""

/* Run a query with the schema name as $1 (schema NULL: no parameter) and return its one value as an
 * integer (-1 on error, with e). */
static long long query_int(PGconn *conn, const char *sql, const char *schema, char *e,
                           size_t e_size)
{
    cdc_err_class_t cls;
    const char *params[] = {schema};
    PGresult *res = cdc_pg_exec_params(conn, sql, schema ? 1 : 0, params, NULL, NULL,
                                       PGRES_TUPLES_OK, &cls, e, e_size);
    if (!res)
        return -1;
    long long v = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? atoll(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return v;
}

static int exec_migration(PGconn *conn, const char *tmpl, const char *qschema, char *e,
                          size_t e_size)
{
    cdc_buf_t sql = CDC_BUF_INIT;
    size_t plen = strlen(PLACEHOLDER);
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, PLACEHOLDER, plen) == 0) {
            cdc_buf_puts(&sql, qschema);
            p += plen;
        } else {
            cdc_buf_putc(&sql, *p++);
        }
    }
    int rc = cdc_pg_exec(conn, sql.data, NULL, e, e_size);
    cdc_buf_free(&sql);
    return rc;
}

/* The ledger's columns and the (nspname = $1, relname) filter. */
#define LEDGER_ATTR                                                                                \
    "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN "              \
    "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = "               \
    "'schema_version' AND a.attnum > 0 AND NOT a.attisdropped"

int cdc_state_ensure(PGconn *conn, const char *schema, char *errstr, size_t errstr_size)
{
    cdc_buf_t q = CDC_BUF_INIT, sql = CDC_BUF_INIT;
    PGresult *res = NULL;
    int rc = -1;
    bool in_tx = false;
    bool *applied = NULL;
    const char *doing = "reading";
    const cdc_state_migration_t *m = NULL;
    cdc_err_class_t cls;
    char e[512];
    const int latest = (int)cdc_state_migrations_count;

    cdc_pg_append_ident(&q, schema);
    applied = calloc(cdc_state_migrations_count + 1, sizeof *applied);
    if (!applied) {
        snprintf(e, sizeof e, "out of memory");
        goto fail;
    }
    if (cdc_pg_exec(conn, "BEGIN", NULL, e, sizeof e))
        goto fail;
    in_tx = true;
    /* "already exists, skipping" notices are the normal case, not news. */
    if (cdc_pg_exec(conn, "SET LOCAL client_min_messages = warning", NULL, e, sizeof e))
        goto fail;
    /* The name itself, for migrations that need it inside a dollar quote
     * (see schemas/state/0002_verify_runs_scope.sql); transaction-local. */
    const char *sv[] = {schema};
    res = cdc_pg_exec_params(conn, "SELECT set_config('cdc.state_schema', $1, true)", 1, sv, NULL,
                             NULL, PGRES_TUPLES_OK, &cls, e, sizeof e);
    if (!res)
        goto fail;
    PQclear(res);
    /* One lock per schema name, released at COMMIT. */
    res = cdc_pg_exec_params(conn, "SELECT pg_advisory_xact_lock(hashtext('cdc_state:' || $1))", 1,
                             sv, NULL, NULL, PGRES_TUPLES_OK, &cls, e, sizeof e);
    if (!res)
        goto fail;
    PQclear(res);
    res = NULL;

    /* Catalog reads only, so that a role that owns nothing starts when
     * nothing is missing. */
    long long have_schema = query_int(conn, "SELECT count(*) FROM pg_namespace WHERE nspname = $1",
                                      schema, e, sizeof e);
    long long ledger_cols = have_schema > 0 ? query_int(conn, LEDGER_ATTR, schema, e, sizeof e) : 0;
    long long ledger_named =
        ledger_cols > 0
            ? query_int(conn, LEDGER_ATTR " AND a.attname = 'name'", schema, e, sizeof e)
            : 0;
    if (have_schema < 0 || ledger_cols < 0 || ledger_named < 0)
        goto fail;
    doing = "creating";
    if (!have_schema) {
        cdc_buf_reset(&sql);
        cdc_buf_printf(&sql, "CREATE SCHEMA IF NOT EXISTS %s", q.data);
        if (cdc_pg_exec(conn, sql.data, NULL, e, sizeof e))
            goto fail;
    }
    if (!ledger_cols) {
        cdc_buf_reset(&sql);
        cdc_buf_printf(&sql,
                       "CREATE TABLE %s.schema_version (version integer PRIMARY KEY, name text "
                       "NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                       q.data);
        if (cdc_pg_exec(conn, sql.data, NULL, e, sizeof e))
            goto fail;
    } else if (!ledger_named) {
        /* Written by a release before migrations: one row, version 1, for
         * the DDL of that release, i.e. migration 0001 and maybe some of the
         * later additive ones (which are written to be re-run). */
        doing = "upgrading";
        cdc_buf_reset(&sql);
        cdc_buf_printf(&sql, "SELECT count(*) FROM %s.schema_version WHERE version <> 1", q.data);
        long long other = query_int(conn, sql.data, NULL, e, sizeof e);
        if (other < 0)
            goto fail;
        if (other > 0) {
            snprintf(errstr, errstr_size,
                     "state schema \"%s\": schema_version has no name column but versions other "
                     "than 1: not a ledger this program knows; use another --state-schema",
                     schema);
            goto out;
        }
        cdc_buf_reset(&sql);
        cdc_buf_printf(&sql,
                       "ALTER TABLE %s.schema_version ADD COLUMN name text; "
                       "UPDATE %s.schema_version SET name = '%s' WHERE version = 1; "
                       "ALTER TABLE %s.schema_version ALTER COLUMN name SET NOT NULL",
                       q.data, q.data, cdc_state_migrations[0].name, q.data);
        if (cdc_pg_exec(conn, sql.data, NULL, e, sizeof e))
            goto fail;
    }

    doing = "reading";
    cdc_buf_reset(&sql);
    cdc_buf_printf(&sql, "SELECT version FROM %s.schema_version ORDER BY version", q.data);
    res = PQexec(conn, sql.data);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_pg_error(res, conn, e, sizeof e);
        goto fail;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        int v = atoi(PQgetvalue(res, i, 0));
        if (v > latest || v < 1) {
            snprintf(errstr, errstr_size,
                     "state schema \"%s\" is at version %d, newer than this program's %d: upgrade "
                     "cdc-apply/cdc-verify or use another --state-schema",
                     schema, v, latest);
            goto out;
        }
        applied[v] = true;
    }
    PQclear(res);
    res = NULL;

    doing = "applying";
    for (size_t i = 0; i < cdc_state_migrations_count; i++) {
        m = &cdc_state_migrations[i];
        if (applied[m->version])
            continue;
        if (exec_migration(conn, m->sql, q.data, e, sizeof e))
            goto fail;
        /* No ON CONFLICT: under the lock a migration is applied once, and
         * a second row would be a bug to hear about. */
        cdc_buf_reset(&sql);
        cdc_buf_printf(&sql, "INSERT INTO %s.schema_version (version, name) VALUES (%d, '%s')",
                       q.data, m->version, m->name);
        if (cdc_pg_exec(conn, sql.data, NULL, e, sizeof e))
            goto fail;
    }
    m = NULL;
    if (cdc_pg_exec(conn, "COMMIT", NULL, e, sizeof e))
        goto fail;
    in_tx = false;
    rc = 0;
    goto out;
fail:
    if (m)
        snprintf(errstr, errstr_size,
                 "applying state migration %04d_%s to schema \"%s\": %s (the first start of a "
                 "release with a new migration needs a role that owns the schema's tables or "
                 "may create in it)",
                 m->version, m->name, schema, e);
    else
        snprintf(errstr, errstr_size,
                 "%s state schema \"%s\": %s (does the target user have CREATE privilege on the "
                 "database?)",
                 doing, schema, e);
out:
    if (in_tx) {
        PGresult *r = PQexec(conn, "ROLLBACK");
        PQclear(r);
    }
    PQclear(res);
    free(applied);
    cdc_buf_free(&q);
    cdc_buf_free(&sql);
    return rc;
}

int cdc_state_record_gap(PGconn *conn, const char *schema, const cdc_state_gap_t *gap,
                         cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    cdc_buf_t q = CDC_BUF_INIT, sql = CDC_BUF_INIT;
    char part[16], from[24], to[24], lo[24], hi[24];
    snprintf(part, sizeof part, "%d", gap->partition);
    snprintf(from, sizeof from, "%lld", (long long)gap->from_offset);
    snprintf(to, sizeof to, "%lld", (long long)gap->to_offset);
    snprintf(lo, sizeof lo, "%lld", (long long)gap->log_start);
    snprintf(hi, sizeof hi, "%lld", (long long)gap->log_end);
    cdc_pg_append_ident(&q, schema);
    /* The upsert only moves a row that still holds from_offset (or creates
     * one when none was stored), so a member that moved the partition in
     * the meantime is not overwritten; the gap row exists only if the
     * position moved, and both commit together. */
    cdc_buf_printf(&sql,
                   "WITH moved AS (INSERT INTO %s.offsets AS o (group_id, topic, partition, "
                   "next_offset) VALUES ($1, $2, $3::integer, $5::bigint) "
                   "ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = "
                   "EXCLUDED.next_offset, updated_at = now() WHERE o.next_offset = $4::bigint "
                   "RETURNING 1) "
                   "INSERT INTO %s.gaps (group_id, topic, partition, from_offset, to_offset, "
                   "log_start, log_end) SELECT $1, $2, $3::integer, nullif($4::bigint, -1), "
                   "$5::bigint, $6::bigint, $7::bigint FROM moved",
                   q.data, q.data);
    const char *params[] = {gap->group, gap->topic, part, from, to, lo, hi};
    PGresult *res = cdc_pg_exec_params(conn, sql.data, 7, params, NULL, NULL, PGRES_COMMAND_OK, cls,
                                       errstr, errstr_size);
    int rc = -1;
    if (res) {
        rc = atoi(PQcmdTuples(res)) == 1 ? 0 : 1;
        PQclear(res);
    }
    cdc_buf_free(&q);
    cdc_buf_free(&sql);
    return rc;
}
