/*
 * The state schema's migrations (schemas/state/, core/state.c): a fresh
 * database gets every migration and exactly the expected tables and
 * columns; a database left by the base release (its DDL and version "1")
 * upgrades in place to the same end state; several processes starting at
 * once all succeed and apply each migration once; a role that owns nothing
 * starts when nothing is missing; a newer ledger is refused.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cdc/buf.h"
#include "cdc/state.h"
#include "th.h"
#include "th_pg.h"

static th_pg_t pg;

/* The base release's DDL (40a6cb3:core/state.c), as it ran: "@" is the
 * schema. Kept here verbatim so that the upgrade is tested against what
 * that release really left, not against migration 0001. */
static const char *const base_ddl[] = {
    "CREATE SCHEMA IF NOT EXISTS @",
    "CREATE TABLE IF NOT EXISTS @.schema_version ("
    " version integer PRIMARY KEY,"
    " applied_at timestamptz NOT NULL DEFAULT now())",
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
    "CREATE TABLE IF NOT EXISTS @.verify_mismatches ("
    " run_id bigint NOT NULL REFERENCES @.verify_runs (run_id) ON DELETE CASCADE,"
    " table_name text NOT NULL,"
    " key jsonb NOT NULL,"
    " kind text NOT NULL CHECK (kind IN ('missing', 'extra', 'different')),"
    " source_row jsonb,"
    " target_row jsonb)",
    "CREATE INDEX IF NOT EXISTS verify_mismatches_run_idx ON @.verify_mismatches (run_id)",
    "CREATE TABLE IF NOT EXISTS @.table_digests ("
    " table_name text PRIMARY KEY,"
    " source_digest text,"
    " target_digest text,"
    " source_rows bigint,"
    " target_rows bigint,"
    " as_of timestamptz NOT NULL DEFAULT now(),"
    " as_of_offsets jsonb)",
    "INSERT INTO @.schema_version (version) VALUES (1) ON CONFLICT DO NOTHING",
};

/* What the releases between the base and migrations added under version
 * "1" (the gaps table, verify_runs.scope). */
static const char *const v1_additions[] = {
    "CREATE TABLE IF NOT EXISTS cdc.gaps (id bigserial PRIMARY KEY, group_id text NOT NULL,"
    " topic text NOT NULL, partition integer NOT NULL, from_offset bigint,"
    " to_offset bigint NOT NULL, log_start bigint NOT NULL, log_end bigint NOT NULL,"
    " detected_at timestamptz NOT NULL DEFAULT now())",
    "ALTER TABLE cdc.verify_runs ADD COLUMN scope text",
};

/* Every column of the end state, table.column:type:nullable, sorted. */
static const char want_columns[] =
    "dead_letter.error:text:NO,dead_letter.first_seen:timestamp with time zone:NO,"
    "dead_letter.group_id:text:NO,dead_letter.headers:jsonb:YES,dead_letter.id:bigint:NO,"
    "dead_letter.kafka_offset:bigint:NO,dead_letter.key:bytea:YES,"
    "dead_letter.partition:integer:NO,dead_letter.span_id:text:YES,dead_letter.topic:text:NO,"
    "dead_letter.trace_flags:smallint:YES,dead_letter.trace_id:text:YES,"
    "dead_letter.tracestate:text:YES,dead_letter.value:bytea:YES,"
    "gaps.detected_at:timestamp with time zone:NO,gaps.from_offset:bigint:YES,"
    "gaps.group_id:text:NO,gaps.id:bigint:NO,gaps.log_end:bigint:NO,gaps.log_start:bigint:NO,"
    "gaps.partition:integer:NO,gaps.to_offset:bigint:NO,gaps.topic:text:NO,"
    "offsets.group_id:text:NO,offsets.next_offset:bigint:NO,offsets.partition:integer:NO,"
    "offsets.topic:text:NO,offsets.updated_at:timestamp with time zone:NO,"
    "schema_version.applied_at:timestamp with time zone:NO,schema_version.name:text:NO,"
    "schema_version.version:integer:NO,"
    "table_digests.as_of:timestamp with time zone:NO,table_digests.as_of_offsets:jsonb:YES,"
    "table_digests.source_digest:text:YES,table_digests.source_rows:bigint:YES,"
    "table_digests.table_name:text:NO,table_digests.target_digest:text:YES,"
    "table_digests.target_rows:bigint:YES,"
    "verify_mismatches.key:jsonb:NO,verify_mismatches.kind:text:NO,"
    "verify_mismatches.run_id:bigint:NO,verify_mismatches.source_row:jsonb:YES,"
    "verify_mismatches.table_name:text:NO,verify_mismatches.target_row:jsonb:YES,"
    "verify_runs.different_rows:bigint:YES,verify_runs.error:text:YES,"
    "verify_runs.extra_rows:bigint:YES,verify_runs.finished_at:timestamp with time zone:YES,"
    "verify_runs.in_flight_rows:bigint:YES,verify_runs.mismatched_rows:bigint:YES,"
    "verify_runs.missing_rows:bigint:YES,verify_runs.run_id:bigint:NO,"
    "verify_runs.scope:text:YES,verify_runs.score:double precision:YES,"
    "verify_runs.source_rows:bigint:YES,verify_runs.started_at:timestamp with time zone:NO,"
    "verify_runs.status:text:NO,verify_runs.table_name:text:NO,"
    "verify_runs.target_rows:bigint:YES,verify_runs.threshold:double precision:YES";

static const char want_ledger[] = "1 base,2 verify_runs_scope,3 gaps,4 dead_letter_trace";

static void conninfo(char *out, size_t size, const char *db, const char *user)
{
    snprintf(out, size, "host=%s port=%d user=%s dbname=%s connect_timeout=10", pg.host, pg.port,
             user, db);
}

/* A new database; its conninfo in out. */
static void new_db(const char *db, char *out, size_t size)
{
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    TH_ASSERT(th_pg_exec(pg.admin_conninfo, sql) == 0);
    conninfo(out, size, db, "postgres");
}

/* One value of @p sql with $1 = @p schema (new, caller frees; "" for NULL). */
static char *value1(const char *ci, const char *sql, const char *schema)
{
    PGconn *c = PQconnectdb(ci);
    TH_ASSERT(PQstatus(c) == CONNECTION_OK);
    const char *params[] = {schema};
    PGresult *r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    TH_ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
    char *v = strdup(PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return v;
}

static char *columns(const char *ci, const char *schema)
{
    return value1(ci,
                  "SELECT string_agg(table_name || '.' || column_name || ':' || data_type || ':' "
                  "|| is_nullable, ',' ORDER BY table_name, column_name) FROM "
                  "information_schema.columns WHERE table_schema = $1",
                  schema);
}

/* Indexes, constraints and column defaults: what information_schema's
 * column list does not show, for comparing two end states. */
static char *structure(const char *ci, const char *schema)
{
    return value1(ci,
                  "SELECT (SELECT string_agg(indexdef, ';' ORDER BY indexname) FROM pg_indexes "
                  "WHERE schemaname = $1) || ' | ' || (SELECT string_agg(c.conname || '=' || "
                  "pg_get_constraintdef(c.oid), ';' ORDER BY c.conname) FROM pg_constraint c "
                  "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1) || ' | ' "
                  "|| (SELECT string_agg(table_name || '.' || column_name || '=' || "
                  "column_default, ';' ORDER BY table_name, column_name) FROM "
                  "information_schema.columns WHERE table_schema = $1 AND column_default IS NOT "
                  "NULL)",
                  schema);
}

static char *ledger(const char *ci, const char *schema)
{
    cdc_buf_t q = CDC_BUF_INIT;
    cdc_buf_puts(&q, "SELECT string_agg(version || ' ' || name, ',' ORDER BY version) FROM ");
    /* Test names only: letters, digits and the quoting below. */
    cdc_buf_puts(&q, schema);
    cdc_buf_puts(&q, ".schema_version WHERE $1::text IS NOT NULL");
    char *v = value1(ci, q.data, "x");
    cdc_buf_free(&q);
    return v;
}

/* cdc_state_ensure on a new connection: 0 or -1 with the message in e. */
static int ensure(const char *ci, const char *schema, char *e, size_t e_size)
{
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(e, e_size, "connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    e[0] = '\0';
    int rc = cdc_state_ensure(c, schema, e, e_size);
    PQfinish(c);
    return rc;
}

static void base_release(const char *ci)
{
    for (size_t i = 0; i < sizeof base_ddl / sizeof base_ddl[0]; i++) {
        cdc_buf_t s = CDC_BUF_INIT;
        for (const char *p = base_ddl[i]; *p; p++)
            if (*p == '@')
                cdc_buf_puts(&s, "cdc");
            else
                cdc_buf_putc(&s, *p);
        TH_ASSERT(th_pg_exec(ci, s.data) == 0);
        cdc_buf_free(&s);
    }
}

/* Check an owned string (a query result) against @p want, and free it. */
static void check_owned(char *got, const char *want)
{
    TH_CHECK_STR(got, want);
    free(got);
}

/* (a) fresh: every migration, the exact columns; a second start changes
 * nothing. Also a schema name that needs quoting. */
static void test_fresh(const char *fresh)
{
    char e[1024];
    TH_CHECK_INT((int)cdc_state_migrations_count, 4);
    TH_CHECK_INT(ensure(fresh, "cdc", e, sizeof e), 0);
    check_owned(columns(fresh, "cdc"), want_columns);
    check_owned(ledger(fresh, "cdc"), want_ledger);
    TH_CHECK_INT(ensure(fresh, "cdc", e, sizeof e), 0);
    check_owned(ledger(fresh, "cdc"), want_ledger);

    const char *odd = "we\"ird $do$ ; name";
    TH_CHECK_INT(ensure(fresh, odd, e, sizeof e), 0);
    if (e[0])
        fprintf(stderr, "%s\n", e);
    check_owned(columns(fresh, odd), want_columns);
    check_owned(ledger(fresh, "\"we\"\"ird $do$ ; name\""), want_ledger);
}

/* Migrate @p ci's schema cdc; it must end as @p want, every column and
 * ledger row included. */
static void check_upgraded(const char *ci, const char *want)
{
    char e[1024];
    TH_CHECK_INT(ensure(ci, "cdc", e, sizeof e), 0);
    if (e[0])
        fprintf(stderr, "%s\n", e);
    check_owned(columns(ci, "cdc"), want_columns);
    check_owned(structure(ci, "cdc"), want);
    check_owned(ledger(ci, "cdc"), want_ledger);
}

/* (b) the base release's schema, and one with the later version-"1"
 * additions, upgrade to the fresh end state; rows and the old ledger row
 * stay. */
static void test_upgrade(const char *fresh, const char *legacy, const char *legacy_more)
{
    char *want = structure(fresh, "cdc");
    base_release(legacy);
    TH_ASSERT(th_pg_exec(legacy,
                         "INSERT INTO cdc.offsets (group_id, topic, partition, next_offset) "
                         "VALUES ('g', 't', 0, 42); UPDATE cdc.schema_version SET applied_at = "
                         "'2026-01-02 03:04:05+00'") == 0);
    check_upgraded(legacy, want);
    char *v =
        th_pg_query_value(legacy, "SELECT next_offset || ' ' || (SELECT applied_at AT TIME ZONE "
                                  "'UTC' FROM cdc.schema_version WHERE version = 1) FROM "
                                  "cdc.offsets");
    TH_CHECK_STR(v, "42 2026-01-02 03:04:05");
    free(v);

    base_release(legacy_more);
    for (size_t i = 0; i < sizeof v1_additions / sizeof v1_additions[0]; i++)
        TH_ASSERT(th_pg_exec(legacy_more, v1_additions[i]) == 0);
    check_upgraded(legacy_more, want);
    free(want);
}

/* (c) several processes at once: all start, each migration once. */
static void test_concurrent(const char *ci)
{
    enum { N = 6 };
    int go[2];
    TH_ASSERT(pipe(go) == 0);
    pid_t kids[N];
    for (int i = 0; i < N; i++) {
        kids[i] = fork();
        TH_ASSERT(kids[i] >= 0);
        if (kids[i] == 0) {
            close(go[1]);
            PGconn *c = PQconnectdb(ci);
            if (PQstatus(c) != CONNECTION_OK)
                _exit(3);
            char b, e[1024];
            if (read(go[0], &b, 1) != 0) /* EOF: everyone connected, go */
                _exit(4);
            int rc = cdc_state_ensure(c, "cdc", e, sizeof e);
            if (rc)
                fprintf(stderr, "child %d: %s\n", i, e);
            PQfinish(c);
            _exit(rc ? 1 : 0);
        }
    }
    close(go[0]);
    usleep(300 * 1000);
    close(go[1]);
    for (int i = 0; i < N; i++) {
        int st;
        TH_ASSERT(waitpid(kids[i], &st, 0) == kids[i]);
        TH_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    check_owned(ledger(ci, "cdc"), want_ledger);
    check_owned(columns(ci, "cdc"), want_columns);
}

/* (d) a role that owns nothing and may create nothing starts when nothing
 * is missing; when a migration is missing it gets a one-line error that
 * names the migration, and nothing changes. */
static void test_not_owner(const char *ci)
{
    char e[1024], as_role[600];
    TH_CHECK_INT(ensure(ci, "cdc", e, sizeof e), 0);
    TH_ASSERT(th_pg_exec(ci,
                         "CREATE ROLE verifier LOGIN; GRANT USAGE ON SCHEMA cdc TO verifier; "
                         "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA cdc TO "
                         "verifier; GRANT USAGE ON ALL SEQUENCES IN SCHEMA cdc TO verifier") == 0);
    char *db = value1(ci, "SELECT current_database() WHERE $1::text IS NOT NULL", "x");
    conninfo(as_role, sizeof as_role, db, "verifier");
    free(db);
    TH_CHECK_INT(ensure(as_role, "cdc", e, sizeof e), 0);
    if (e[0])
        fprintf(stderr, "%s\n", e);

    /* The gaps table dropped and its ledger row removed: migration 0003
     * is missing again, which needs the owner. */
    TH_ASSERT(th_pg_exec(ci, "DROP TABLE cdc.gaps; DELETE FROM cdc.schema_version WHERE version "
                             "= 3") == 0);
    TH_CHECK_INT(ensure(as_role, "cdc", e, sizeof e), -1);
    TH_CHECK(strstr(e, "applying state migration 0003_gaps to schema \"cdc\": ") != NULL);
    TH_CHECK(strstr(e, "permission denied") != NULL);
    TH_CHECK(strchr(e, '\n') == NULL);
    fprintf(stderr, "non-owner, migration missing: %s\n", e);
    char *v = ledger(ci, "cdc");
    TH_CHECK_STR(v, "1 base,2 verify_runs_scope,4 dead_letter_trace");
    free(v);
    TH_CHECK_INT(ensure(ci, "cdc", e, sizeof e), 0);
    check_owned(ledger(ci, "cdc"), want_ledger);
}

/* A ledger from a newer release is refused, and so is an unknown old one. */
static void test_newer(const char *ci)
{
    char e[1024];
    TH_CHECK_INT(ensure(ci, "cdc", e, sizeof e), 0);
    TH_ASSERT(th_pg_exec(ci, "INSERT INTO cdc.schema_version (version, name) VALUES (99, "
                             "'future')") == 0);
    TH_CHECK_INT(ensure(ci, "cdc", e, sizeof e), -1);
    TH_CHECK_STR(e, "state schema \"cdc\" is at version 99, newer than this program's 4: upgrade "
                    "cdc-apply/cdc-verify or use another --state-schema");

    TH_ASSERT(th_pg_exec(ci, "CREATE SCHEMA odd; CREATE TABLE odd.schema_version (version "
                             "integer PRIMARY KEY); INSERT INTO odd.schema_version VALUES (1), "
                             "(2)") == 0);
    TH_CHECK_INT(ensure(ci, "odd", e, sizeof e), -1);
    TH_CHECK(strstr(e, "state schema \"odd\": schema_version has no name column but versions "
                       "other than 1") != NULL);
    char *v = th_pg_query_value(ci, "SELECT count(*) FROM pg_tables WHERE schemaname = 'odd'");
    TH_CHECK_STR(v, "1");
    free(v);
}

int main(void)
{
    memset(&pg, 0, sizeof pg);
    TH_ASSERT(th_pg_start(&pg) == 0);
    char fresh[600], legacy[600], legacy_more[600], conc[600], owner[600], newer[600];
    new_db("st_fresh", fresh, sizeof fresh);
    new_db("st_legacy", legacy, sizeof legacy);
    new_db("st_legacy_more", legacy_more, sizeof legacy_more);
    new_db("st_conc", conc, sizeof conc);
    new_db("st_owner", owner, sizeof owner);
    new_db("st_newer", newer, sizeof newer);
    test_fresh(fresh);
    test_upgrade(fresh, legacy, legacy_more);
    test_concurrent(conc);
    test_not_owner(owner);
    test_newer(newer);
    th_pg_stop(&pg);
    TH_DONE();
}
