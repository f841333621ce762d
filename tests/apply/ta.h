/**
 * @file ta.h
 * @brief Helpers shared by the cdc-apply integration tests: run cdc-loadgen
 *        and cdc-apply, compare source and target tables, read end offsets
 *        and stored positions, scrape metrics.
 *
 * Like the harness, these report on stderr and fail the test with
 * TH_CHECK/TH_ASSERT; they never return errstr.
 */
#ifndef TA_H
#define TA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/** The DDL cdc-loadgen gives its tables (devstack/loadgen_enc.c), for
 *  pre-creating target tables; %s is the quoted table name. */
#define TA_ORDERS_DDL                                                                              \
    "CREATE TABLE %s (id bigint PRIMARY KEY, customer text, amount numeric(12,2), status text,"    \
    " created_at timestamptz, updated_at timestamp(6), qty int, note text, tags text[],"           \
    " attrs jsonb, flag boolean, ref uuid, ship_date date)"

/** cdc-apply arguments for group settings that suit tests: the mock
 *  broker (like Kafka) keeps a member that left without a LeaveGroup, or
 *  was killed, until its session times out (45 s by default). */
#define TA_FAST_GROUP "-X", "session.timeout.ms=2500", "-X", "heartbeat.interval.ms=250"

/** @brief Run cdc-loadgen with @p args (borrowed, NULL-terminated) to
 *  completion (120 s max). @returns its exit status, -1 on timeout. */
int ta_loadgen(const char *const *args);

/**
 * @brief Start cdc-apply with @p args (borrowed, NULL-terminated), its
 *        stdout and stderr appended to @p log (borrowed path).
 *        It gets SIGKILL if the test dies.
 * @returns the pid.
 */
pid_t ta_apply_spawn(const char *const *args, const char *log);

/** @brief Wait up to @p timeout_ms for @p pid to exit; SIGKILL it after.
 *  @returns its exit status, -1 if it was killed or timed out. */
int ta_wait(pid_t pid, int timeout_ms);

/** @brief Spawn then wait: the usual "run to idle". */
int ta_apply_run(const char *const *args, const char *log, int timeout_ms);

/** @brief Content of a text file (new, caller frees), "" when missing. */
char *ta_slurp(const char *path);

/** @brief A free TCP port on 127.0.0.1 (racy by nature, fine for tests). */
int ta_free_port(void);

/**
 * @brief Compare table @p table (quoted SQL name, borrowed) on the two
 *        databases row for row (ordered by @p order_by). On a difference
 *        prints the first differing rows of both sides.
 * @returns true when equal (and the row count is stored in *rows if not NULL).
 */
bool ta_tables_equal(const char *src_conninfo, const char *dst_conninfo, const char *table,
                     const char *order_by, long *rows);

/** @brief High watermark of @p topic partition @p p. */
int64_t ta_end_offset(const char *bootstrap, const char *topic, int32_t p);

/** @brief cdc.offsets next_offset of (group, topic, p), -1 if no row. */
int64_t ta_stored_offset(const char *conninfo, const char *group, const char *topic, int32_t p);

/** @brief Check stored positions equal the end offsets for partitions
 *  0..nparts-1 of @p topic (partitions without records may lack a row). */
void ta_check_positions(const char *bootstrap, const char *conninfo, const char *group,
                        const char *topic, int nparts);

/** @brief Sum of every sample of metric @p name whose label set contains
 *  @p label_match (NULL: all) in Prometheus text @p text. */
double ta_metric_sum(const char *text, const char *name, const char *label_match);

/** @brief An integer query result (-1 on NULL/error). */
long long ta_query_ll(const char *conninfo, const char *sql);

#include <jansson.h>

/** One field of a hand-made Debezium Connect schema. */
typedef struct ta_field {
    const char *name;
    const char *type; /**< Connect type: "int32", "int64", "string", ... */
    bool optional;
} ta_field_t;

/**
 * @brief A Debezium JSON-with-schema value (PostgreSQL connector 2.4 form).
 * @param before, after  payload images (stolen; NULL gives JSON null).
 * @returns the record text (new, caller frees).
 */
char *ta_dbz_value(const char *schema, const char *table, char op, const ta_field_t *fields,
                   size_t nfields, json_t *before, json_t *after);

/** @brief A Debezium JSON-with-schema key of one int64 field @p name. */
char *ta_dbz_key(const char *name, long long id);

#endif
