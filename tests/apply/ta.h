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
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>

#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"

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

/** cdc-loadgen arguments for one table: --source, --brokers, --topic-prefix
 *  and --table, then the rest (at least one). */
#define TA_LOADGEN_ARGS(source, brokers, prefix, table, ...)                                       \
    TH_ARGS("--source", source, "--brokers", brokers, "--topic-prefix", prefix, "--table", table,  \
            __VA_ARGS__)

/** cdc-apply arguments: --brokers, --group, --topics and --target, then
 *  the rest (at least one). */
#define TA_APPLY_ARGS(brokers, group, topics, target, ...)                                         \
    TH_ARGS("--brokers", brokers, "--group", group, "--topics", topics, "--target", target,        \
            __VA_ARGS__)

/** @brief Run cdc-loadgen with @p args (borrowed, NULL-terminated) to
 *  completion (120 s max). @returns its exit status, -1 on timeout. */
int ta_loadgen(const char *const *args);

/**
 * @brief Start program @p prog (borrowed; relative to the build root, like
 *        "cdc-verify") with @p args (borrowed, NULL-terminated), its stdout
 *        and stderr appended to @p log (borrowed path). It gets SIGKILL if
 *        the test dies.
 * @returns the pid.
 */
pid_t ta_spawn(const char *prog, const char *const *args, const char *log);

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

/** @brief ta_apply_run(), and on a non-zero exit print the log.
 *  @returns the exit status. */
int ta_apply_run_logged(const char *const *args, const char *log, int timeout_ms);

/** @brief The record at @p topic [0]@@p offset stops cdc-apply run with
 *  @p args: exit 1, nothing of it in the target ("SELECT count(*) FROM
 *  @p from_where" on @p target is 0), @p group's position stays at
 *  @p offset, and one line of @p log holds @p first and later @p then. */
void ta_check_stops_at(const char *target, const char *const *args, const char *log,
                       const char *from_where, const char *group, const char *topic, int64_t offset,
                       const char *first, const char *then);

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

/** @brief Scrape @p url until, for every i < @p n, the sum of metric
 *  @p name over the samples matching @p labels[i] (NULL: all) reaches
 *  @p mins[i]; give up after @p timeout_ms or once @p pid exited.
 *  @returns the last body scraped (new, caller frees) or NULL. */
char *ta_scrape_until(pid_t pid, const char *url, const char *name, const char *const *labels,
                      const double *mins, size_t n, int timeout_ms);

/** @brief An integer query result (-1 on NULL/error). */
long long ta_query_ll(const char *conninfo, const char *sql);

/** The names one test case uses, each unique: topic prefix, table, the
 *  Debezium topic <prefix>.public.<table>, consumer group, cdc-apply log
 *  /tmp/<prefix>.log and the SQL name public.<table>. */
typedef struct ta_names {
    char prefix[64], table[64], topic[200], group[64], log[128], qname[100];
} ta_names_t;

/** @brief Fill @p n with fresh names; @p tag (borrowed) starts the prefix. */
void ta_names_init(ta_names_t *n, const char *tag);

/** @brief Start the servers most apply tests use: a PostgreSQL pair and a
 *  mock cluster of @p brokers brokers (asserts). */
void ta_start(th_pg_t *pg, th_broker_t *b, int brokers);

/** @brief Stop what ta_start() started. */
void ta_stop(th_pg_t *pg, th_broker_t *b);

/** @brief Create a topic of @p partitions partitions with a unique name
 *  that starts with @p tag. @returns the name (th_unique's storage). */
const char *ta_topic_new(th_broker_t *b, const char *tag, int partitions);

/** @brief Create table @p qname (SQL name, borrowed) with cdc-loadgen's
 *  DDL (TA_ORDERS_DDL) in @p conninfo (asserts). */
void ta_create_orders(const char *conninfo, const char *qname);

/** @brief cdc-loadgen --reset --workload insert of @p events changes in
 *  transactions of 10, JSON without schemas, into @p partitions
 *  partitions, random seed @p seed (asserts). */
void ta_loadgen_inserts(const char *source, const char *brokers, const char *prefix,
                        const char *table, long long events, int partitions, int seed);

/** @brief cdc-loadgen --workload mixed of @p events changes, @p pk_changes
 *  of them key changes, in transactions of 5, JSON without schemas, into
 *  @p partitions partitions, random seed @p seed (asserts). */
void ta_loadgen_mixed(const char *source, const char *brokers, const char *prefix,
                      const char *table, long long events, long long pk_changes, int partitions,
                      int seed);

/** The names of a two-table case: an insert-only table and a mixed one
 *  under one prefix, both topics, the --topics list, group and log. */
typedef struct ta_two {
    char prefix[64], ins[64], mix[64], tins[200], tmix[200], topics[420], group[64], log[128];
} ta_two_t;

/** @brief Fill @p t with fresh names (@p tag starts the prefix) and create
 *  both topics with @p partitions partitions. */
void ta_two_init(ta_two_t *t, th_broker_t *b, const char *tag, int partitions);

/** The target side of an exactly-once check: a row in applies per applied
 *  insert or update of table %s, with the number of times. */
#define TA_APPLIES_DDL                                                                             \
    "CREATE TABLE applies (id bigint PRIMARY KEY, n int NOT NULL);"                                \
    "CREATE FUNCTION count_apply() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "                  \
    "INSERT INTO applies VALUES (NEW.id, 1) ON CONFLICT (id) DO UPDATE SET n = "                   \
    "applies.n + 1; RETURN NULL; END $$;"                                                          \
    "CREATE TRIGGER count_apply AFTER INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE "                \
    "FUNCTION count_apply()"

/** @brief Create SQL function progress(group) in @p conninfo: the sum of
 *  the group's stored positions, 0 before cdc-apply made its state. */
void ta_create_progress_fn(const char *conninfo);

/** @brief ta_tables_equal() of public.@p table ordered by id. */
bool ta_orders_equal(const th_pg_t *pg, const char *table, long *rows);

/** @brief The usual source history of one orders table: 3,000 inserts in
 *  transactions of 10 (seed 8, --reset), then 8,000 mixed changes with 20
 *  key changes in transactions of 5 (seed 9), JSON without schemas, into
 *  @p partitions partitions (asserts). */
void ta_loadgen_history(const char *source, const char *brokers, const char *prefix,
                        const char *table, int partitions);

/** @brief A case on the usual history: fresh names @p n (@p tag starts the
 *  prefix), its topic with @p partitions partitions, ta_loadgen_history()
 *  into it, and the target table created up front. */
void ta_history_case(ta_names_t *n, th_pg_t *pg, th_broker_t *b, const char *tag, int partitions);

/** @brief Poll @p sql (an integer query) on @p conninfo until it returns
 *  more than @p above, at most @p timeout_ms. @returns whether it did. */
bool ta_wait_ll_above(const char *conninfo, const char *sql, long long above, int timeout_ms);

/** @brief How many times @p needle occurs in the file @p log. */
int ta_log_count(const char *log, const char *needle);

/** @brief Poll @p log until @p needle occurs at least @p n times, at most
 *  @p timeout_ms. @returns whether it did. */
bool ta_wait_log_count(const char *log, const char *needle, int n, int timeout_ms);

/** @brief Wait until cdc-apply has stored a position for @p group: first
 *  for cdc.offsets to exist, then for its sum to move (20 s each). */
bool ta_wait_applied(const char *conninfo, const char *group);

/** @brief The end of a case: on failure print the last @p tail bytes of
 *  the cdc-apply log @p log, else remove it. */
void ta_log_finish(const char *log, size_t tail);

/** One expected count: "SELECT count(*) FROM <from_where>" gives want. */
typedef struct ta_count_want {
    const char *from_where;
    long long want;
} ta_count_want_t;

/** @brief Check every count of @p w (@p n of them) on @p conninfo; a
 *  wrong one is named on stderr. */
void ta_check_counts(const char *conninfo, const ta_count_want_t *w, size_t n);

/** ta_check_counts() of a list of {from_where, want} pairs. */
#define TA_CHECK_COUNTS(conninfo, ...)                                                             \
    do {                                                                                           \
        const ta_count_want_t want_[] = {__VA_ARGS__};                                             \
        ta_check_counts(conninfo, want_, sizeof(want_) / sizeof(want_[0]));                        \
    } while (0)

/** @brief Check that the log @p log holds @p first and, later on the same
 *  line, @p then; on failure print the log. */
void ta_check_log_line(const char *log, const char *first, const char *then);

/** @brief A producer on @p b's brokers (asserts). @return new. */
rd_kafka_t *ta_producer_new(const th_broker_t *b);

/** @brief Produce @p value (steals; NULL: a tombstone) to partition 0
 *  of @p topic with the schemaless key {"id":@p id}, and wait for it. */
void ta_produce_keyed(rd_kafka_t *rk, const char *topic, long long id, char *value);

/** @brief The end of a live-check case: on failure print the log
 *  @p text and the last metrics @p body; free both (stolen). */
void ta_dump_log_metrics(char *text, char *body);

/** @brief count(*) of "SELECT count(*) FROM <from_where>" (-1 on error). */
long long ta_count(const char *conninfo, const char *from_where);

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
