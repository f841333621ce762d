/**
 * @file state.h
 * @brief The state schema in the target database (design.md, "State
 *        schema"): versioned migrations shared by cdc-apply and cdc-verify.
 *
 * The migrations are schemas/state/NNNN_description.sql, embedded at build
 * time (schemas/embed_sql.py) as cdc_state_migrations[]. Tables (all in the
 * configurable schema, default "cdc"):
 *  - schema_version(version, name, applied_at): the ledger, one row per
 *    applied migration (owned by the runner, not by a migration)
 *  - offsets(group_id, topic, partition, next_offset, updated_at),
 *    PK (group_id, topic, partition)
 *  - dead_letter(id bigserial, group_id, topic, partition, kafka_offset,
 *    key bytea, value bytea, headers jsonb, error, first_seen)
 *  - gaps(id bigserial, group_id, topic, partition, from_offset, to_offset,
 *    log_start, log_end, detected_at)
 *  - verify_runs(run_id bigserial, table_name, started_at, finished_at,
 *    source_rows, target_rows, mismatched_rows, missing_rows, extra_rows,
 *    different_rows, in_flight_rows, score, threshold, status, error, scope)
 *  - verify_mismatches(run_id, table_name, key jsonb, kind
 *    missing|extra|different, source_row jsonb, target_row jsonb)
 *  - table_digests(table_name PK, source_digest, target_digest,
 *    source_rows, target_rows, as_of, as_of_offsets jsonb)
 */
#ifndef CDC_STATE_H
#define CDC_STATE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/err.h"

/** One migration, from schemas/state/NNNN_description.sql. */
typedef struct cdc_state_migration {
    int version;      /**< NNNN: 1, 2, 3, ... without gaps */
    const char *name; /**< description, e.g. "gaps" */
    /** The file's text; :"schema" stands for the quoted schema name, and
     *  current_setting('cdc.state_schema') holds the name itself. */
    const char *sql;
} cdc_state_migration_t;

/** Every migration in version order (generated at build time). */
extern const cdc_state_migration_t cdc_state_migrations[];
/** Number of entries in cdc_state_migrations; also the latest version. */
extern const size_t cdc_state_migrations_count;

/**
 * @brief Bring the state schema to the latest version: create the schema
 *        and the schema_version ledger if missing, then apply, in order and
 *        in ONE transaction, each migration the ledger does not list, and
 *        record it (version, name). Serialised by a transaction-level
 *        advisory lock per schema name, so several processes may start at
 *        once. A ledger from before migrations (no name column, version 1)
 *        is taken as migration 1 and upgraded in place. When nothing is
 *        missing only catalog reads run, so a role that does not own the
 *        tables starts.
 * @param conn   borrowed; must not be inside a transaction.
 * @param schema schema name (borrowed), quoted as an identifier.
 * @returns 0, or -1 with errstr (e.g. the schema was migrated by a newer
 *          release: its ledger has a version above the latest known here).
 */
int cdc_state_ensure(PGconn *conn, const char *schema, char *errstr, size_t errstr_size);

/** A gap accepted with --on-gap skip (see cdc_state_record_gap). */
typedef struct cdc_state_gap {
    const char *group; /**< borrowed */
    const char *topic; /**< borrowed */
    int32_t partition;
    int64_t from_offset; /**< the stored position Kafka could not serve (-1: none stored) */
    int64_t to_offset;   /**< where reading resumes (the log start) */
    int64_t log_start;   /**< low watermark seen */
    int64_t log_end;     /**< high watermark seen */
} cdc_state_gap_t;

/**
 * @brief Move a partition's stored position from gap->from_offset to
 *        gap->to_offset and insert the gap into <schema>.gaps, in ONE
 *        statement (one transaction): the skip is never made without its
 *        record, nor recorded without being made.
 * @param conn  borrowed; must not be inside a transaction.
 * @returns 0; 1 when the stored position is no longer from_offset (another
 *          member moved it: nothing changed, read it again); -1 with *cls
 *          and errstr.
 */
int cdc_state_record_gap(PGconn *conn, const char *schema, const cdc_state_gap_t *gap,
                         cdc_err_class_t *cls, char *errstr, size_t errstr_size);

#endif
