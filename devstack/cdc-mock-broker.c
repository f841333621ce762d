/**
 * @file cdc-mock-broker.c
 * @brief A Kafka-protocol broker for tests and local development: librdkafka's
 *        mock cluster, kept alive in its own process and steered over stdin.
 *
 * Several processes (cdc-apply, kcat, test members) can connect to the same
 * cluster, so consumer groups, rebalances and broker faults are exercised
 * across real process boundaries.
 *
 * Protocol: the first line on stdout is "BOOTSTRAP host:port,...". Then one
 * command per stdin line, one answer per command ("OK" or "ERR <reason>"):
 *
 *   create TOPIC PARTITIONS [REPLICATION]
 *   down BROKERID | up BROKERID         (-1 = all brokers)
 *   rtt BROKERID MS
 *   leader TOPIC PARTITION BROKERID     (set_down never moves leaders)
 *   error APIKEY ERRCODE COUNT          (next COUNT requests of APIKEY fail)
 *   quit
 *
 * Limits of the mock that tests must respect (librdkafka 2.0.2):
 * - each partition keeps roughly 5 MB or 100k messages, then drops the
 *   oldest segments: do not use it for large backlogs;
 * - unknown topics are auto-created with 4 partitions on the first
 *   Metadata request naming them (checked with kcat -P, -C and -G against
 *   this program); tests still create topics explicitly, to choose the
 *   partition count and so a group never starts on a half-known topic;
 * - no CreateTopics admin API, no log compaction, no transactions across
 *   restarts: everything lives in memory and dies with the process.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "cdc/util.h"

/* Signals only flip this flag; the stdin loop polls with a short timeout. */
static volatile sig_atomic_t run = 1;

static void on_signal(int sig)
{
    (void)sig;
    run = 0;
}

static void reply(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    /* The harness waits for each answer on a pipe: never leave it buffered. */
    fflush(stdout);
}

static int parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Replication factor the mock can honour: at most the broker count. */
static int default_rf(int brokers)
{
    return brokers < 3 ? brokers : 3;
}

static int create_topic(rd_kafka_mock_cluster_t *mc, const char *name, long parts, long rf,
                        char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, (int)parts, (int)rf);
    if (err) {
        snprintf(errstr, errstr_size, "create %s: %s", name, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

/* Executes one command line; answers exactly one line. Returns 1 on quit. */
static int command(rd_kafka_mock_cluster_t *mc, int brokers, char *line)
{
    char *argv[8];
    int argc = 0;
    char errstr[CDC_ERRSTR_SIZE];
    long a = 0, b = 0, c = 0;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

    for (char *save = NULL, *tok = strtok_r(line, " \t\r", &save); tok && argc < 8;
         tok = strtok_r(NULL, " \t\r", &save))
        argv[argc++] = tok;
    if (argc == 0) {
        reply("ERR empty command");
        return 0;
    }
    const char *cmd = argv[0];

    if (!strcmp(cmd, "quit")) {
        reply("OK");
        return 1;
    } else if (!strcmp(cmd, "create") && (argc == 3 || argc == 4)) {
        if (parse_int(argv[2], 1, 10000, &a) || (argc == 4 && parse_int(argv[3], 1, brokers, &b))) {
            reply("ERR bad partition count or replication factor");
            return 0;
        }
        if (create_topic(mc, argv[1], a, argc == 4 ? b : default_rf(brokers), errstr,
                         sizeof(errstr))) {
            reply("ERR %s", errstr);
            return 0;
        }
    } else if ((!strcmp(cmd, "down") || !strcmp(cmd, "up")) && argc == 2) {
        /* The mock accepts unknown ids silently; reject them so typos show. */
        if (parse_int(argv[1], -1, brokers, &a) || a == 0) {
            reply("ERR broker id must be 1..%d or -1", brokers);
            return 0;
        }
        err = cmd[0] == 'd' ? rd_kafka_mock_broker_set_down(mc, (int32_t)a)
                            : rd_kafka_mock_broker_set_up(mc, (int32_t)a);
    } else if (!strcmp(cmd, "rtt") && argc == 3) {
        if (parse_int(argv[1], -1, brokers, &a) || a == 0 || parse_int(argv[2], 0, 600000, &b)) {
            reply("ERR usage: rtt BROKERID MS");
            return 0;
        }
        err = rd_kafka_mock_broker_set_rtt(mc, (int32_t)a, (int)b);
    } else if (!strcmp(cmd, "leader") && argc == 4) {
        if (parse_int(argv[2], 0, 10000, &a) || parse_int(argv[3], -1, brokers, &b)) {
            reply("ERR usage: leader TOPIC PARTITION BROKERID");
            return 0;
        }
        err = rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t)a, (int32_t)b);
    } else if (!strcmp(cmd, "error") && argc == 4) {
        if (parse_int(argv[1], 0, 1000, &a) || parse_int(argv[2], -200, 1000, &b) ||
            parse_int(argv[3], 1, 10000, &c)) {
            reply("ERR usage: error APIKEY ERRCODE COUNT");
            return 0;
        }
        rd_kafka_resp_err_t *errs = malloc((size_t)c * sizeof(*errs));
        if (!errs) {
            reply("ERR out of memory");
            return 0;
        }
        for (long i = 0; i < c; i++)
            errs[i] = (rd_kafka_resp_err_t)b;
        rd_kafka_mock_push_request_errors_array(mc, (int16_t)a, (size_t)c, errs);
        free(errs);
    } else {
        reply("ERR unknown command or wrong argument count: %s", cmd);
        return 0;
    }

    if (err)
        reply("ERR %s", rd_kafka_err2str(err));
    else
        reply("OK");
    return 0;
}

/* Reads stdin without stdio buffering, so poll() on fd 0 tells the truth.
 * Returns 1 on quit or EOF, 0 to keep going. */
static int pump_stdin(rd_kafka_mock_cluster_t *mc, int brokers, char *buf, size_t cap, size_t *len)
{
    ssize_t n = read(STDIN_FILENO, buf + *len, cap - 1 - *len);
    if (n == 0)
        return 1;
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : 1;
    *len += (size_t)n;
    buf[*len] = '\0';

    char *start = buf, *nl;
    while ((nl = strchr(start, '\n'))) {
        *nl = '\0';
        if (command(mc, brokers, start))
            return 1;
        start = nl + 1;
    }
    *len = strlen(start);
    memmove(buf, start, *len + 1);
    if (*len == cap - 1) {
        reply("ERR line too long");
        *len = 0;
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: cdc-mock-broker [--brokers N] [--topic NAME:PARTITIONS]...\n"
               "Prints BOOTSTRAP host:port,... then reads commands on stdin:\n"
               "  create TOPIC PARTITIONS [RF] | down ID | up ID | rtt ID MS\n"
               "  leader TOPIC PARTITION ID | error APIKEY ERRCODE COUNT | quit\n");
}

int main(int argc, char **argv)
{
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    char errstr[CDC_ERRSTR_SIZE];
    long brokers = 3;
    int rc = 2;
    char buf[4096];
    size_t len = 0;

    /* First pass: options that do not need the cluster. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
            if (parse_int(argv[++i], 1, 32, &brokers)) {
                fprintf(stderr, "cdc-mock-broker: --brokers wants 1..32\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--topic") && i + 1 < argc) {
            i++;
        } else {
            usage(stderr);
            return 2;
        }
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* A reader that went away must not kill us mid-answer. */
    signal(SIGPIPE, SIG_IGN);

    /* The mock needs a host handle for its threads; this producer never
     * connects anywhere itself. */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "cdc-mock-broker: %s\n", errstr);
        goto out;
    }
    mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
    if (!mc) {
        fprintf(stderr, "cdc-mock-broker: cannot create mock cluster (no free ports?)\n");
        goto out;
    }

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--topic") != 0) {
            i += !strcmp(argv[i], "--brokers");
            continue;
        }
        const char *spec = argv[++i];
        const char *colon = strrchr(spec, ':');
        long parts = 0;
        char name[256];
        if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(name) ||
            parse_int(colon + 1, 1, 10000, &parts)) {
            fprintf(stderr, "cdc-mock-broker: --topic wants NAME:PARTITIONS, got '%s'\n", spec);
            goto out;
        }
        memcpy(name, spec, (size_t)(colon - spec));
        name[colon - spec] = '\0';
        if (create_topic(mc, name, parts, default_rf((int)brokers), errstr, sizeof(errstr))) {
            fprintf(stderr, "cdc-mock-broker: %s\n", errstr);
            goto out;
        }
    }

    /* Topics exist before anyone learns the address: no auto-create races. */
    reply("BOOTSTRAP %s", rd_kafka_mock_cluster_bootstraps(mc));

    while (run) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int n = poll(&pfd, 1, 200);
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0 && pump_stdin(mc, (int)brokers, buf, sizeof(buf), &len))
            break;
    }
    rc = 0;

out:
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (rk)
        rd_kafka_destroy(rk);
    return rc;
}
