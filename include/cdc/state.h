/**
 * @file state.h
 * @brief The state schema in the target database (design.md, "State
 *        schema"): one versioned DDL shared by cdc-apply and cdc-verify.
 *
 * Tables (all in the configurable schema, default "cdc"):
 *  - schema_version(version, applied_at)
 *  - offsets(group_id, topic, partition, next_offset, updated_at),
 *    PK (group_id, topic, partition)
 *  - dead_letter(id bigserial, group_id, topic, partition, kafka_offset,
 *    key bytea, value bytea, headers jsonb, error, first_seen)
 *  - verify_runs(run_id bigserial, table_name, started_at, finished_at,
 *    source_rows, target_rows, mismatched_rows, missing_rows, extra_rows,
 *    different_rows, in_flight_rows, score, threshold, status, error)
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

/** Version of the DDL below; a later release migrates from older rows of
 *  schema_version upward. */
#define CDC_STATE_VERSION 1

/**
 * @brief Create the schema and every state table if missing (idempotent,
 *        safe to run concurrently from several processes: serialised by a
 *        transaction-level advisory lock) and record CDC_STATE_VERSION.
 * @param conn   borrowed; must not be inside a transaction.
 * @param schema schema name (borrowed), quoted as an identifier.
 * @returns 0, or -1 with errstr (e.g. the schema was created by a newer
 *          release: its schema_version is above CDC_STATE_VERSION).
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
