#include "th_kafka.h"
#include "th.h"
#include "th_proc.h"
#include "cdc/util.h"

#include <stdarg.h>
#include <unistd.h>

#define CMD_TIMEOUT_MS 10000

static void cleanup_cb(void *arg)
{
    th_broker_stop(arg);
}

int th_broker_start(th_broker_t *b, int brokers, ...)
{
    char path[512], nbrokers[16], line[1024];
    const char *argv[72];
    int argc = 0;
    va_list ap;

    memset(b, 0, sizeof(*b));
    b->pid = -1;
    b->in_fd = b->out_fd = -1;
    b->brokers = brokers;
    snprintf(path, sizeof(path), "%s/devstack/cdc-mock-broker", th_build_root());
    if (access(path, X_OK) != 0) {
        fprintf(stderr, "th_broker: %s is missing: build devstack/ first\n", path);
        return -1;
    }
    snprintf(nbrokers, sizeof(nbrokers), "%d", brokers);
    argv[argc++] = path;
    argv[argc++] = "--brokers";
    argv[argc++] = nbrokers;
    va_start(ap, brokers);
    for (const char *t; (t = va_arg(ap, const char *)) && argc < 70;) {
        argv[argc++] = "--topic";
        argv[argc++] = t;
    }
    va_end(ap);
    argv[argc] = NULL;

    b->pid = th_proc_spawn(argv, &b->in_fd, &b->out_fd);
    if (b->pid < 0)
        return -1;
    th_cleanup_push(cleanup_cb, b);
    if (th_proc_read_line(b->out_fd, line, sizeof(line), CMD_TIMEOUT_MS) < 0 ||
        sscanf(line, "BOOTSTRAP %511s", b->bootstrap) != 1) {
        fprintf(stderr, "th_broker: no BOOTSTRAP line from %s within %d ms\n", path,
                CMD_TIMEOUT_MS);
        th_broker_stop(b);
        return -1;
    }
    return 0;
}

int th_broker_cmd(th_broker_t *b, const char *fmt, ...)
{
    char cmd[512], line[512];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(cmd) - 1 || b->in_fd < 0)
        return -1;
    cmd[n++] = '\n';
    if (write(b->in_fd, cmd, (size_t)n) != n) {
        fprintf(stderr, "th_broker: cannot send '%.*s': broker gone?\n", n - 1, cmd);
        return -1;
    }
    if (th_proc_read_line(b->out_fd, line, sizeof(line), CMD_TIMEOUT_MS) < 0) {
        fprintf(stderr, "th_broker: no answer to '%.*s' within %d ms\n", n - 1, cmd,
                CMD_TIMEOUT_MS);
        return -1;
    }
    if (strcmp(line, "OK") != 0) {
        fprintf(stderr, "th_broker: '%.*s' -> %s\n", n - 1, cmd, line);
        return -1;
    }
    return 0;
}

void th_broker_stop(th_broker_t *b)
{
    if (b->pid <= 0)
        return;
    /* Closing stdin is the polite stop; SIGTERM follows if it lingers. */
    if (b->in_fd >= 0)
        close(b->in_fd);
    th_proc_stop(b->pid, 10000);
    if (b->out_fd >= 0)
        close(b->out_fd);
    b->in_fd = b->out_fd = -1;
    b->pid = -1;
    th_cleanup_pop(cleanup_cb, b);
}

/* Delivery state of one th_kafka_produce_sync message. Heap-allocated: if
 * the caller gives up waiting, the report still comes later and frees it. */
typedef struct {
    int done;
    int abandoned;
    rd_kafka_resp_err_t err;
} delivery_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    delivery_t *d = msg->_private;
    if (!d)
        return;
    if (d->abandoned) {
        free(d);
        return;
    }
    d->err = msg->err;
    d->done = 1;
}

rd_kafka_t *th_kafka_producer_new(const char *bootstrap, ...)
{
    char errstr[CDC_ERRSTR_SIZE];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    va_list ap;
    /* Fault tests take a broker down for seconds, not minutes: reconnect
     * fast, and let messages wait long enough to outlive the outage. */
    const char *defaults[][2] = {
        {"bootstrap.servers", bootstrap},
        {"acks", "all"},
        {"reconnect.backoff.ms", "50"},
        {"reconnect.backoff.max.ms", "500"},
        {"message.timeout.ms", "60000"},
        {"topic.metadata.refresh.interval.ms", "1000"},
        {"log_level", "4"},
    };
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], errstr, sizeof(errstr))) {
            fprintf(stderr, "th_kafka: %s\n", errstr);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    va_start(ap, bootstrap);
    for (const char *kv; (kv = va_arg(ap, const char *));) {
        char key[256];
        const char *eq = strchr(kv, '=');
        if (!eq || (size_t)(eq - kv) >= sizeof(key) ||
            (memcpy(key, kv, (size_t)(eq - kv)), key[eq - kv] = '\0',
             rd_kafka_conf_set(conf, key, eq + 1, errstr, sizeof(errstr)))) {
            fprintf(stderr, "th_kafka: bad property '%s'\n", kv);
            va_end(ap);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    va_end(ap);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "th_kafka: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

rd_kafka_resp_err_t th_kafka_produce_sync(rd_kafka_t *rk, const char *topic, int32_t partition,
                                          const char *key, const char *value, int timeout_ms)
{
    delivery_t *d = calloc(1, sizeof(*d));
    if (!d)
        return RD_KAFKA_RESP_ERR__FAIL;
    /* RD_KAFKA_MSG_F_COPY: librdkafka copies, so dropping const is safe
     * (its VALUE macro takes a non-const pointer). */
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE((void *)(uintptr_t)value, value ? strlen(value) : 0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
    if (err) {
        free(d);
        return err;
    }
    int64_t deadline = th_now_ms() + timeout_ms;
    while (!d->done && th_now_ms() < deadline)
        rd_kafka_poll(rk, 50);
    if (!d->done) {
        d->abandoned = 1;
        return RD_KAFKA_RESP_ERR__TIMED_OUT;
    }
    err = d->err;
    free(d);
    return err;
}
