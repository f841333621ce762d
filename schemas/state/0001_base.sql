-- The state schema as the base release (40a6cb3) created it, less the
-- schema_version ledger, which the migration runner owns (core/state.c).
-- :"schema" is replaced by the quoted schema name (--state-schema) at apply
-- time; it must not appear inside string literals or dollar quotes (use
-- current_setting('cdc.state_schema') there, which the runner sets to the
-- name). The placeholder is psql's syntax, so psql -v schema=cdc shows the
-- DDL the same way.
-- IF NOT EXISTS: a ledger from before migrations (version "1") is mapped to
-- this migration, and a partly created schema must not stop it.

-- cdc-apply: the consumed offset per partition, written in the same
-- transaction as the rows it covers (invariant 1).
CREATE TABLE IF NOT EXISTS :"schema".offsets (
    group_id text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition));

CREATE TABLE IF NOT EXISTS :"schema".dead_letter (
    id bigserial PRIMARY KEY,
    group_id text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    kafka_offset bigint NOT NULL,
    key bytea,
    value bytea,
    headers jsonb,
    error text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now());

CREATE TABLE IF NOT EXISTS :"schema".verify_runs (
    run_id bigserial PRIMARY KEY,
    table_name text NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    source_rows bigint,
    target_rows bigint,
    mismatched_rows bigint,
    missing_rows bigint,
    extra_rows bigint,
    different_rows bigint,
    in_flight_rows bigint,
    score double precision,
    threshold double precision,
    status text NOT NULL CHECK (status IN ('ok', 'mismatch', 'error', 'running')),
    error text);

CREATE INDEX IF NOT EXISTS verify_runs_table_idx
    ON :"schema".verify_runs (table_name, started_at);

CREATE TABLE IF NOT EXISTS :"schema".verify_mismatches (
    run_id bigint NOT NULL REFERENCES :"schema".verify_runs (run_id) ON DELETE CASCADE,
    table_name text NOT NULL,
    key jsonb NOT NULL,
    kind text NOT NULL CHECK (kind IN ('missing', 'extra', 'different')),
    source_row jsonb,
    target_row jsonb);

CREATE INDEX IF NOT EXISTS verify_mismatches_run_idx
    ON :"schema".verify_mismatches (run_id);

-- Digests are the order-independent sum of the row digests (mod 2^64) as 16
-- hex digits: text, because bigint would show them signed.
CREATE TABLE IF NOT EXISTS :"schema".table_digests (
    table_name text PRIMARY KEY,
    source_digest text,
    target_digest text,
    source_rows bigint,
    target_rows bigint,
    as_of timestamptz NOT NULL DEFAULT now(),
    as_of_offsets jsonb);
