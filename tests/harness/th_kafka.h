/**
 * @file th_kafka.h
 * @brief A mock Kafka cluster per test (devstack/cdc-mock-broker as a child
 *        process), plus small producer helpers with test-friendly settings.
 *
 * The broker lives in its own process so consumers in other processes
 * (cdc-apply, forked members, kcat) share it. It dies with the test: on
 * th_broker_stop, at exit, on stdin EOF, or by PR_SET_PDEATHSIG.
 * Mock limits: ~5 MB / 100k messages per partition, oldest dropped.
 */
#ifndef TH_KAFKA_H
#define TH_KAFKA_H

#include <stdint.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>

/** @brief One mock cluster. Fields are read-only for tests. */
typedef struct th_broker {
    pid_t pid;
    int in_fd;           /**< commands to the broker */
    int out_fd;          /**< its answers */
    int brokers;         /**< broker ids are 1..brokers */
    char bootstrap[512]; /**< "127.0.0.1:port,..." for bootstrap.servers */
} th_broker_t;

/**
 * @brief Start a cluster of @p brokers brokers with the given topics.
 * @param ...  "name:partitions" strings (borrowed), then NULL.
 * @returns 0, or -1 (reason on stderr).
 */
int th_broker_start(th_broker_t *b, int brokers, ...) __attribute__((sentinel));

/**
 * @brief Send one command (printf-style: "down %d", "rtt 2 500",
 *        "error 0 6 3", "create t 6", "leader t 0 2") and wait up to 10 s
 *        for the answer.
 * @returns 0 on "OK", -1 on "ERR ..." or no answer (printed on stderr).
 */
int th_broker_cmd(th_broker_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** @brief Stop the cluster (all data is lost). Safe to call twice. */
void th_broker_stop(th_broker_t *b);

/**
 * @brief A producer for @p bootstrap (borrowed) with short reconnect
 *        backoffs and acks=all, so fault tests finish quickly.
 * @param ...  extra "key=value" properties (borrowed), then NULL.
 * @returns the handle (new, rd_kafka_destroy it), or NULL (reason on stderr).
 */
rd_kafka_t *th_kafka_producer_new(const char *bootstrap, ...) __attribute__((sentinel));

/**
 * @brief Produce one message and wait for its delivery report.
 * @param partition  RD_KAFKA_PARTITION_UA to let the partitioner choose.
 * @returns 0 when delivered within @p timeout_ms, else the error
 *          (RD_KAFKA_RESP_ERR__TIMED_OUT when no report came in time).
 */
rd_kafka_resp_err_t th_kafka_produce_sync(rd_kafka_t *rk, const char *topic, int32_t partition,
                                          const char *key, const char *value, int timeout_ms);

#endif
