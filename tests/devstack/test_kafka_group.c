/* A consumer group of two members in two processes over a 6-partition topic
 * on the mock broker: both members get partitions, and every produced
 * message is consumed exactly once across the group.
 *
 * The members are this same program re-executed with "member" as argv[1];
 * they report on stdout ("ASSIGNED n", "MSG partition offset value") and
 * leave the group when their stdin closes. */
#include "th.h"
#include "th_kafka.h"
#include "th_proc.h"
#include "cdc/util.h"

#include <poll.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define N_MSGS     300
#define PARTITIONS 6

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    /* Eager protocol: the assignment is replaced as a whole. */
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(rk, parts);
        printf("ASSIGNED %d\n", parts->cnt);
    } else {
        rd_kafka_assign(rk, NULL);
        printf("ASSIGNED 0\n");
    }
    fflush(stdout);
}

static int member(const char *bootstrap, const char *topic, const char *group)
{
    char errstr[CDC_ERRSTR_SIZE];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *props[][2] = {
        {"bootstrap.servers", bootstrap},
        {"group.id", group},
        {"auto.offset.reset", "earliest"},
        {"session.timeout.ms", "6000"},
        {"heartbeat.interval.ms", "300"},
        {"topic.metadata.refresh.interval.ms", "1000"},
        {"log_level", "4"},
    };
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], errstr, sizeof(errstr))) {
            fprintf(stderr, "member: %s\n", errstr);
            return 2;
        }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "member: %s\n", errstr);
        return 2;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (err) {
        fprintf(stderr, "member: subscribe: %s\n", rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        return 2;
    }

    for (;;) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        if (poll(&pfd, 1, 0) > 0) {
            char c;
            if (read(STDIN_FILENO, &c, 1) <= 0)
                break; /* the test closed our stdin: leave the group */
        }
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
        if (!msg)
            continue;
        if (msg->err)
            fprintf(stderr, "member: %s\n", rd_kafka_message_errstr(msg));
        else
            printf("MSG %d %lld %.*s\n", (int)msg->partition, (long long)msg->offset, (int)msg->len,
                   (const char *)msg->payload);
        fflush(stdout);
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    printf("BYE\n");
    return 0;
}

typedef struct {
    pid_t pid;
    int in_fd, out_fd;
    int assigned;     /* current partition count */
    int max_assigned; /* most it ever held */
    int consumed;
    bool eof;
} member_t;

/* Reads one line from whichever member has one (up to @p timeout_ms) and
 * applies it. @p seen counts consumptions per message. */
static void pump(member_t *m, int n, int *seen, int *rebalances, int timeout_ms)
{
    struct pollfd pfd[2];
    char line[256];
    for (int i = 0; i < n; i++)
        pfd[i] = (struct pollfd){.fd = m[i].eof ? -1 : m[i].out_fd, .events = POLLIN};
    if (poll(pfd, (nfds_t)n, timeout_ms) <= 0)
        return;
    for (int i = 0; i < n; i++) {
        if (!pfd[i].revents)
            continue;
        if (th_proc_read_line(m[i].out_fd, line, sizeof(line), 5000) < 0) {
            m[i].eof = true;
            continue;
        }
        int a, part, v;
        long long off;
        if (sscanf(line, "ASSIGNED %d", &a) == 1) {
            m[i].assigned = a;
            if (a > m[i].max_assigned)
                m[i].max_assigned = a;
            (*rebalances)++;
        } else if (sscanf(line, "MSG %d %lld v%d", &part, &off, &v) == 3 && v >= 0 && v < N_MSGS) {
            seen[v]++;
            m[i].consumed++;
        } else if (strcmp(line, "BYE") != 0) {
            fprintf(stderr, "member %d said: %s\n", i, line);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "member"))
        return member(argv[2], argv[3], argv[4]);

    th_broker_t b;
    member_t m[2] = {{0}};
    int seen[N_MSGS] = {0};
    int rebalances = 0;
    char spec[256], self[512];
    const char *topic = th_unique("grp_topic");
    const char *group = th_unique("grp");

    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    TH_ASSERT(len > 0);
    self[len] = '\0';
    snprintf(spec, sizeof(spec), "%s:%d", topic, PARTITIONS);
    TH_ASSERT(th_broker_start(&b, 3, spec, NULL) == 0);

    const char *margv[] = {self, "member", b.bootstrap, topic, group, NULL};
    for (int i = 0; i < 2; i++) {
        m[i].pid = th_proc_spawn(margv, &m[i].in_fd, &m[i].out_fd);
        TH_ASSERT(m[i].pid > 0);
    }

    /* Produce only once the group is stable with both members: a rebalance
     * while consuming would legitimately redeliver uncommitted messages,
     * which is not what this test is about. */
    int64_t deadline = th_now_ms() + 30000;
    while (
        !(m[0].assigned > 0 && m[1].assigned > 0 && m[0].assigned + m[1].assigned == PARTITIONS) &&
        th_now_ms() < deadline)
        pump(m, 2, seen, &rebalances, 100);
    TH_ASSERT(m[0].assigned > 0 && m[1].assigned > 0);
    TH_CHECK_INT(m[0].assigned + m[1].assigned, PARTITIONS);
    int stable_rebalances = rebalances;

    rd_kafka_t *rk = th_kafka_producer_new(b.bootstrap, NULL);
    TH_ASSERT(rk);
    for (int i = 0; i < N_MSGS; i++) {
        char key[32], value[32];
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(value, sizeof(value), "v%d", i);
        TH_ASSERT(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                    RD_KAFKA_V_VALUE(value, strlen(value)),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    TH_CHECK_INT(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);

    deadline = th_now_ms() + 60000;
    while (m[0].consumed + m[1].consumed < N_MSGS && th_now_ms() < deadline)
        pump(m, 2, seen, &rebalances, 100);

    /* The group must have stayed as it was while the messages flowed. */
    int rebalances_while_consuming = rebalances - stable_rebalances;

    /* Stop the members and drain what they still print: a late duplicate
     * must be counted too. */
    for (int i = 0; i < 2; i++)
        close(m[i].in_fd);
    deadline = th_now_ms() + 20000;
    while (!(m[0].eof && m[1].eof) && th_now_ms() < deadline)
        pump(m, 2, seen, &rebalances, 100);
    for (int i = 0; i < 2; i++) {
        TH_CHECK_INT(th_proc_stop(m[i].pid, 10000), 0);
        close(m[i].out_fd);
    }

    int missing = 0, dups = 0;
    for (int i = 0; i < N_MSGS; i++) {
        missing += seen[i] == 0;
        dups += seen[i] > 1;
    }
    fprintf(stderr, "member 0: %d partitions, %d messages; member 1: %d partitions, %d messages\n",
            m[0].max_assigned, m[0].consumed, m[1].max_assigned, m[1].consumed);
    TH_CHECK_INT(missing, 0);
    TH_CHECK_INT(dups, 0);
    TH_CHECK(m[0].consumed > 0 && m[1].consumed > 0);
    TH_CHECK_INT(rebalances_while_consuming, 0);

    th_broker_stop(&b);
    TH_DONE();
}
