/* Broker faults driven through cdc-mock-broker's command channel: a message
 * produced while its leader is down is delivered once the broker is back,
 * injected request errors are retried away, and bad commands answer ERR. */
#include "th.h"
#include "th_kafka.h"
#include "cdc/util.h"

#include <librdkafka/rdkafka.h>

/* Reads partition 0 of @p topic from the beginning; returns the values
 * joined by ',' (new) once @p want messages arrived, or what came by the
 * deadline. */
static char *read_partition0(const char *bootstrap, const char *topic, int want)
{
    char errstr[CDC_ERRSTR_SIZE];
    char *out = calloc(1, 4096);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    TH_ASSERT(out);
    TH_ASSERT(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) ==
              RD_KAFKA_CONF_OK);
    TH_ASSERT(rd_kafka_conf_set(conf, "group.id", th_unique("reader"), errstr, sizeof(errstr)) ==
              RD_KAFKA_CONF_OK);
    TH_ASSERT(rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) ==
              RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    TH_ASSERT(rk);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    TH_ASSERT(rd_kafka_assign(rk, parts) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);

    int got = 0;
    int64_t deadline = th_now_ms() + 20000;
    while (got < want && th_now_ms() < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
        if (!msg)
            continue;
        if (!msg->err) {
            size_t len = strlen(out);
            snprintf(out + len, 4096 - len, "%s%.*s", got ? "," : "", (int)msg->len,
                     (const char *)msg->payload);
            got++;
        }
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return out;
}

int main(void)
{
    th_broker_t b;
    char spec[256];
    const char *topic = th_unique("faults");
    const char *topic2 = th_unique("created");

    snprintf(spec, sizeof(spec), "%s:3", topic);
    TH_ASSERT(th_broker_start(&b, 3, spec, NULL) == 0);

    /* Pin the leader so we know which broker to take down. */
    TH_CHECK_INT(th_broker_cmd(&b, "leader %s 0 2", topic), 0);

    rd_kafka_t *rk = th_kafka_producer_new(b.bootstrap, NULL);
    TH_ASSERT(rk);
    TH_CHECK_INT(th_kafka_produce_sync(rk, topic, 0, "k", "before", 10000), 0);

    /* While the leader is down nothing can be delivered... */
    TH_CHECK_INT(th_broker_cmd(&b, "down 2"), 0);
    TH_CHECK_INT(th_kafka_produce_sync(rk, topic, 0, "k", "during", 1500),
                 RD_KAFKA_RESP_ERR__TIMED_OUT);
    /* ...and once it is back, the queued message and a new one go through,
     * bounded by the producer's short reconnect backoff. */
    TH_CHECK_INT(th_broker_cmd(&b, "up 2"), 0);
    int64_t t0 = th_now_ms();
    TH_CHECK_INT(th_kafka_produce_sync(rk, topic, 0, "k", "after", 30000), 0);
    fprintf(stderr, "delivered %lld ms after up\n", (long long)(th_now_ms() - t0));
    char *values = read_partition0(b.bootstrap, topic, 3);
    TH_CHECK_STR(values, "before,during,after");
    free(values);

    /* Injected retriable errors (Produce = ApiKey 0, NOT_LEADER_OR_FOLLOWER
     * = 6): the producer retries through them. */
    TH_CHECK_INT(th_broker_cmd(&b, "error 0 6 2"), 0);
    TH_CHECK_INT(th_kafka_produce_sync(rk, topic, 1, "k", "retried", 30000), 0);
    /* A permanent error proves the injection reaches the client at all. */
    TH_CHECK_INT(th_broker_cmd(&b, "error 0 29 1"), 0);
    TH_CHECK_INT(th_kafka_produce_sync(rk, topic, 1, "k", "denied", 10000),
                 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);

    /* Latency injection and topics created at run time. */
    TH_CHECK_INT(th_broker_cmd(&b, "rtt 1 50"), 0);
    TH_CHECK_INT(th_broker_cmd(&b, "rtt 1 0"), 0);
    TH_CHECK_INT(th_broker_cmd(&b, "create %s 2", topic2), 0);
    TH_CHECK_INT(th_kafka_produce_sync(rk, topic2, 1, "k", "x", 10000), 0);

    /* Bad commands answer ERR and the broker keeps serving. */
    TH_CHECK_INT(th_broker_cmd(&b, "down 9"), -1);
    TH_CHECK_INT(th_broker_cmd(&b, "create %s zero", topic2), -1);
    TH_CHECK_INT(th_broker_cmd(&b, "no-such-command"), -1);
    TH_CHECK_INT(th_broker_cmd(&b, "rtt 1 0"), 0);

    rd_kafka_flush(rk, 10000);
    rd_kafka_destroy(rk);
    th_broker_stop(&b);
    TH_DONE();
}
