/*
 * State schema DDL. Both programs call cdc_state_ensure() on start, so the
 * DDL must be idempotent and must tolerate two processes starting at once:
 * CREATE ... IF NOT EXISTS alone still races on the catalog (unique
 * violation on pg_namespace / pg_type), hence the advisory lock.
 */
#include "cdc/state.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/buf.h"
#include "cdc/pg.h"

/* Each statement uses "@" where the quoted schema goes. */
static const char *const ddl[] = {
    "CREATE SCHEMA IF NOT EXISTS @",
    "CREATE TABLE IF NOT EXISTS @.schema_version ("
    " version integer PRIMARY KEY,"
    " applied_at timestamptz NOT NULL DEFAULT now())",
    /* cdc-apply: the consumed offset per partition, written in the same
     * transaction as the rows it covers (invariant 1). */
    "CREATE TABLE IF NOT EXISTS @.offsets ("
    " group_id text NOT NULL,"
    " topic text NOT NULL,"
    " partition integer NOT NULL,"
    " next_offset bigint NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (group_id, topic, partition))",
    "CREATE TABLE IF NOT EXISTS @.dead_letter ("
    " id bigserial PRIMARY KEY,"
    " group_id text NOT NULL,"
    " topic text NOT NULL,"
    " partition integer NOT NULL,"
    " kafka_offset bigint NOT NULL,"
    " key bytea,"
    " value bytea,"
    " headers jsonb,"
    " error text NOT NULL,"
    " first_seen timestamptz NOT NULL DEFAULT now())",
    /* cdc-apply: positions Kafka could no longer serve (retention ran, the
     * topic was recreated) that were skipped because --on-gap skip said so
     * (invariant 8). Written in the statement that moves the offset.
     * Additive: older releases of the same schema version ignore it. */
    "CREATE TABLE IF NOT EXISTS @.gaps ("
    " id bigserial PRIMARY KEY,"
    " group_id text NOT NULL,"
    " topic text NOT NULL,"
    " partition integer NOT NULL,"
    " from_offset bigint,"
    " to_offset bigint NOT NULL,"
    " log_start bigint NOT NULL,"
    " log_end bigint NOT NULL,"
    " detected_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS @.verify_runs ("
    " run_id bigserial PRIMARY KEY,"
    " table_name text NOT NULL,"
    " started_at timestamptz NOT NULL,"
    " finished_at timestamptz,"
    " source_rows bigint,"
    " target_rows bigint,"
    " mismatched_rows bigint,"
    " missing_rows bigint,"
    " extra_rows bigint,"
    " different_rows bigint,"
    " in_flight_rows bigint,"
    " score double precision,"
    " threshold double precision,"
    " status text NOT NULL CHECK (status IN ('ok', 'mismatch', 'error', 'running')),"
    " error text)",
    "CREATE INDEX IF NOT EXISTS verify_runs_table_idx ON @.verify_runs (table_name, started_at)",
    /* What a run compared when not the whole table (--where, --column,
     * --exclude-column); NULL: every row and column. Only when missing:
     * ALTER TABLE needs ownership even when the column exists. */
    "DO $do$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
    "$q$@.verify_runs$q$::regclass AND attname = 'scope' AND NOT attisdropped) THEN "
    "ALTER TABLE @.verify_runs ADD COLUMN scope text; END IF; END $do$",
    "CREATE TABLE IF NOT EXISTS @.verify_mismatches ("
    " run_id bigint NOT NULL REFERENCES @.verify_runs (run_id) ON DELETE CASCADE,"
    " table_name text NOT NULL,"
    " key jsonb NOT NULL,"
    " kind text NOT NULL CHECK (kind IN ('missing', 'extra', 'different')),"
    " source_row jsonb,"
    " target_row jsonb)",
    "CREATE INDEX IF NOT EXISTS verify_mismatches_run_idx ON @.verify_mismatches (run_id)",
    /* Digests are the order-independent sum of the row digests (mod 2^64)
     * as 16 hex digits: text, because bigint would show them signed. */
    "CREATE TABLE IF NOT EXISTS @.table_digests ("
    " table_name text PRIMARY KEY,"
    " source_digest text,"
    " target_digest text,"
    " source_rows bigint,"
    " target_rows bigint,"
    " as_of timestamptz NOT NULL DEFAULT now(),"
    " as_of_offsets jsonb)",
};

static int exec_ddl(PGconn *conn, const char *tmpl, const char *qschema, char *errstr,
                    size_t errstr_size)
{
    cdc_buf_t sql = CDC_BUF_INIT;
    for (const char *p = tmpl; *p; p++) {
        if (*p == '@')
            cdc_buf_puts(&sql, qschema);
        else
            cdc_buf_putc(&sql, *p);
    }
    int rc = cdc_pg_exec(conn, sql.data, NULL, errstr, errstr_size);
    cdc_buf_free(&sql);
    return rc;
}

int cdc_state_ensure(PGconn *conn, const char *schema, char *errstr, size_t errstr_size)
{
    cdc_buf_t q = CDC_BUF_INIT, sql = CDC_BUF_INIT;
    PGresult *res = NULL;
    int rc = -1;
    bool in_tx = false;
    char e[512];

    cdc_pg_append_ident(&q, schema);
    if (cdc_pg_exec(conn, "BEGIN", NULL, e, sizeof e))
        goto fail;
    in_tx = true;
    /* "already exists, skipping" notices are the normal case, not news. */
    if (cdc_pg_exec(conn, "SET LOCAL client_min_messages = warning", NULL, e, sizeof e))
        goto fail;
    /* One lock per schema name, released at COMMIT. */
    cdc_buf_puts(&sql, "SELECT pg_advisory_xact_lock(hashtext('cdc_state:' || ");
    cdc_pg_append_literal(&sql, schema);
    cdc_buf_puts(&sql, "))");
    if (cdc_pg_exec(conn, sql.data, NULL, e, sizeof e))
        goto fail;
    for (size_t i = 0; i < sizeof ddl / sizeof ddl[0]; i++)
        if (exec_ddl(conn, ddl[i], q.data, e, sizeof e))
            goto fail;
    cdc_buf_reset(&sql);
    cdc_buf_printf(&sql, "SELECT coalesce(max(version), 0) FROM %s.schema_version", q.data);
    res = PQexec(conn, sql.data);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_pg_error(res, conn, e, sizeof e);
        goto fail;
    }
    int have = atoi(PQgetvalue(res, 0, 0));
    if (have > CDC_STATE_VERSION) {
        snprintf(errstr, errstr_size,
                 "state schema \"%s\" is at version %d, newer than this program's %d: upgrade "
                 "cdc-apply/cdc-verify or use another --state-schema",
                 schema, have, CDC_STATE_VERSION);
        goto out;
    }
    cdc_buf_reset(&sql);
    cdc_buf_printf(&sql,
                   "INSERT INTO %s.schema_version (version) VALUES (%d) ON CONFLICT DO NOTHING",
                   q.data, CDC_STATE_VERSION);
    if (cdc_pg_exec(conn, sql.data, NULL, e, sizeof e))
        goto fail;
    if (cdc_pg_exec(conn, "COMMIT", NULL, e, sizeof e))
        goto fail;
    in_tx = false;
    rc = 0;
    goto out;
fail:
    snprintf(errstr, errstr_size,
             "creating state schema \"%s\": %s (does the target user have "
             "CREATE privilege on the database?)",
             schema, e);
out:
    if (in_tx) {
        PGresult *r = PQexec(conn, "ROLLBACK");
        PQclear(r);
    }
    PQclear(res);
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
