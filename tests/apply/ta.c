/* Helpers shared by the cdc-apply integration tests (see ta.h). */
#include "ta.h"

#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"
#include "th_registry.h"
#include "cdc/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int ta_loadgen(const char *const *args)
{
    const char *argv[80];
    char exe[512];
    size_t n = 0;
    snprintf(exe, sizeof(exe), "%s/devstack/cdc-loadgen", th_build_root());
    argv[n++] = exe;
    argv[n++] = "--log-level";
    argv[n++] = "warn";
    for (; *args && n < 78; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    return th_proc_run(argv, 120000, NULL);
}

pid_t ta_spawn(const char *prog, const char *const *args, const char *log)
{
    const char *argv[80];
    char exe[512];
    size_t n = 0;
    snprintf(exe, sizeof(exe), "%s/%s", th_build_root(), prog);
    argv[n++] = exe;
    for (; *args && n < 79; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    TH_ASSERT(pid >= 0);
    if (pid == 0) {
        /* SIGKILL, not SIGTERM: a test that dies must not leave a consumer
         * in the group that the next test run would have to wait out. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int nul = open("/dev/null", O_RDONLY);
        if (fd < 0 || nul < 0)
            _exit(127);
        dup2(nul, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(exe, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    return pid;
}

pid_t ta_apply_spawn(const char *const *args, const char *log)
{
    return ta_spawn("cdc-apply", args, log);
}

int ta_wait(pid_t pid, int timeout_ms)
{
    int64_t deadline = th_now_ms() + timeout_ms;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (r < 0)
            return -1;
        if (th_now_ms() > deadline) {
            fprintf(stderr, "ta_wait: pid %d still running after %d ms: killing it\n", (int)pid,
                    timeout_ms);
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        poll(NULL, 0, 20);
    }
}

int ta_apply_run(const char *const *args, const char *log, int timeout_ms)
{
    return ta_wait(ta_apply_spawn(args, log), timeout_ms);
}

char *ta_slurp(const char *path)
{
    return th_read_text(path);
}

int ta_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    TH_ASSERT(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    TH_ASSERT(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    int port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static PGresult *dump(const char *conninfo, const char *table, const char *order_by)
{
    PGconn *conn = PQconnectdb(conninfo);
    TH_ASSERT(PQstatus(conn) == CONNECTION_OK);
    char sql[1024];
    snprintf(sql, sizeof(sql), "SELECT o::text FROM %s o ORDER BY %s", table, order_by);
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "dump %s: %s", table, PQerrorMessage(conn));
    PQfinish(conn);
    return res;
}

bool ta_tables_equal(const char *src_conninfo, const char *dst_conninfo, const char *table,
                     const char *order_by, long *rows)
{
    PGresult *a = dump(src_conninfo, table, order_by), *b = dump(dst_conninfo, table, order_by);
    bool ok = PQresultStatus(a) == PGRES_TUPLES_OK && PQresultStatus(b) == PGRES_TUPLES_OK;
    if (ok) {
        int na = PQntuples(a), nb = PQntuples(b), shown = 0;
        if (na != nb) {
            fprintf(stderr, "%s: source has %d rows, target %d\n", table, na, nb);
            ok = false;
        }
        /* Merge by position is enough to show the first differences. */
        for (int i = 0; i < na && i < nb && shown < 5; i++) {
            if (strcmp(PQgetvalue(a, i, 0), PQgetvalue(b, i, 0))) {
                fprintf(stderr, "%s row %d differs:\n  source: %.300s\n  target: %.300s\n", table,
                        i, PQgetvalue(a, i, 0), PQgetvalue(b, i, 0));
                shown++;
                ok = false;
            }
        }
        if (rows)
            *rows = na;
    }
    PQclear(a);
    PQclear(b);
    return ok;
}

int64_t ta_end_offset(const char *bootstrap, const char *topic, int32_t p)
{
    char err[CDC_ERRSTR_SIZE];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    TH_ASSERT(rk);
    int64_t lo = -1, hi = -1;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
    if (e)
        fprintf(stderr, "watermarks %s[%d]: %s\n", topic, p, rd_kafka_err2str(e));
    rd_kafka_destroy(rk);
    return e ? -1 : hi;
}

long long ta_query_ll(const char *conninfo, const char *sql)
{
    char *v = th_pg_query_value(conninfo, sql);
    long long r = v ? strtoll(v, NULL, 10) : -1;
    free(v);
    return r;
}

int64_t ta_stored_offset(const char *conninfo, const char *group, const char *topic, int32_t p)
{
    PGconn *conn = PQconnectdb(conninfo);
    TH_ASSERT(PQstatus(conn) == CONNECTION_OK);
    char part[16];
    snprintf(part, sizeof(part), "%d", p);
    const char *params[3] = {group, topic, part};
    PGresult *res = PQexecParams(conn,
                                 "SELECT next_offset FROM cdc.offsets WHERE group_id = $1 AND "
                                 "topic = $2 AND partition = $3",
                                 3, NULL, params, NULL, NULL, 0);
    int64_t r = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        r = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "offsets: %s", PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);
    return r;
}

void ta_check_positions(const char *bootstrap, const char *conninfo, const char *group,
                        const char *topic, int nparts)
{
    for (int p = 0; p < nparts; p++) {
        int64_t end = ta_end_offset(bootstrap, topic, p);
        int64_t stored = ta_stored_offset(conninfo, group, topic, p);
        if (end == 0 && stored == -1)
            continue;
        if (stored != end)
            fprintf(stderr, "%s[%d]: stored next_offset %lld, end offset %lld\n", topic, p,
                    (long long)stored, (long long)end);
        TH_CHECK(stored == end);
    }
}

double ta_metric_sum(const char *text, const char *name, const char *label_match)
{
    double sum = 0;
    size_t nl = strlen(name);
    for (const char *line = text; line && *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > nl && !strncmp(line, name, nl) && (line[nl] == '{' || line[nl] == ' ')) {
            char buf[1024];
            snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1),
                     line);
            const char *sp = strrchr(buf, ' ');
            if (sp && (!label_match || strstr(buf, label_match)))
                sum += strtod(sp + 1, NULL);
        }
        line = eol ? eol + 1 : NULL;
    }
    return sum;
}

static json_t *fields_schema(const char *name, const ta_field_t *fields, size_t n, const char *as)
{
    json_t *fs = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(fs, json_pack("{s:s,s:b,s:s}", "type", fields[i].type, "optional",
                                            fields[i].optional, "field", fields[i].name));
    return json_pack("{s:s,s:b,s:s,s:o,s:s}", "type", "struct", "optional", 1, "name", name,
                     "fields", fs, "field", as);
}

char *ta_dbz_value(const char *schema, const char *table, char op, const ta_field_t *fields,
                   size_t nfields, json_t *before, json_t *after)
{
    char vname[512], ename[512], opstr[2] = {op, 0};
    snprintf(vname, sizeof(vname), "srv.%s.%s.Value", schema, table);
    snprintf(ename, sizeof(ename), "srv.%s.%s.Envelope", schema, table);
    json_t *src_fields = json_array();
    const char *sf[][2] = {{"version", "string"}, {"connector", "string"}, {"name", "string"},
                           {"ts_ms", "int64"},    {"db", "string"},        {"schema", "string"},
                           {"table", "string"},   {"txId", "int64"},       {"lsn", "int64"}};
    for (size_t i = 0; i < sizeof(sf) / sizeof(sf[0]); i++)
        json_array_append_new(src_fields, json_pack("{s:s,s:b,s:s}", "type", sf[i][1], "optional",
                                                    i >= 7, "field", sf[i][0]));
    json_t *sch = json_pack(
        "{s:s,s:s,s:b,s:[o,o,{s:s,s:s,s:b,s:s,s:o},{s:s,s:b,s:s},{s:s,s:b,s:s}]}", "type", "struct",
        "name", ename, "optional", 0, "fields", fields_schema(vname, fields, nfields, "before"),
        fields_schema(vname, fields, nfields, "after"), "type", "struct", "name",
        "io.debezium.connector.postgresql.Source", "optional", 0, "field", "source", "fields",
        src_fields, "type", "string", "optional", 0, "field", "op", "type", "int64", "optional", 1,
        "field", "ts_ms");
    static long long txid = 1000;
    txid++;
    json_t *payload = json_pack(
        "{s:o,s:o,s:{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:I,s:I},s:s,s:I}", "before",
        before ? before : json_null(), "after", after ? after : json_null(), "source", "version",
        "2.4.2.Final", "connector", "postgresql", "name", "srv", "ts_ms", (json_int_t)1700000000000,
        "db", "source", "schema", schema, "table", table, "txId", (json_int_t)txid, "lsn",
        (json_int_t)(txid * 100), "op", opstr, "ts_ms", (json_int_t)1700000000001);
    json_t *root = json_pack("{s:o,s:o}", "schema", sch, "payload", payload);
    TH_ASSERT(root);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

char *ta_dbz_key(const char *name, long long id)
{
    json_t *root = json_pack("{s:{s:s,s:s,s:b,s:[{s:s,s:b,s:s}]},s:{s:I}}", "schema", "type",
                             "struct", "name", "srv.Key", "optional", 0, "fields", "type", "int64",
                             "optional", 0, "field", name, "payload", name, (json_int_t)id);
    TH_ASSERT(root);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

void ta_names_init(ta_names_t *n, const char *tag)
{
    snprintf(n->prefix, sizeof(n->prefix), "%s", th_unique(tag));
    snprintf(n->table, sizeof(n->table), "%s", th_unique("orders"));
    snprintf(n->topic, sizeof(n->topic), "%s.public.%s", n->prefix, n->table);
    snprintf(n->group, sizeof(n->group), "%s", th_unique("g"));
    snprintf(n->log, sizeof(n->log), "/tmp/%s.log", n->prefix);
    snprintf(n->qname, sizeof(n->qname), "public.%s", n->table);
}

void ta_start(th_pg_t *pg, th_broker_t *b, int brokers)
{
    memset(pg, 0, sizeof(*pg));
    TH_ASSERT(th_pg_start(pg) == 0);
    TH_ASSERT(th_broker_start(b, brokers, NULL) == 0);
}

void ta_stop(th_pg_t *pg, th_broker_t *b)
{
    th_broker_stop(b);
    th_pg_stop(pg);
}

const char *ta_topic_new(th_broker_t *b, const char *tag, int partitions)
{
    const char *topic = th_unique(tag);
    TH_ASSERT(th_broker_cmd(b, "create %s %d", topic, partitions) == 0);
    return topic;
}

void ta_create_orders(const char *conninfo, const char *qname)
{
    char ddl[600];
    snprintf(ddl, sizeof(ddl), TA_ORDERS_DDL, qname);
    TH_ASSERT(th_pg_exec(conninfo, ddl) == 0);
}

void ta_loadgen_inserts(const char *source, const char *brokers, const char *prefix,
                        const char *table, long long events, int partitions, int seed)
{
    char ev[24], parts[16], sd[16];
    snprintf(ev, sizeof(ev), "%lld", events);
    snprintf(parts, sizeof(parts), "%d", partitions);
    snprintf(sd, sizeof(sd), "%d", seed);
    TH_ASSERT(
        ta_loadgen(TA_LOADGEN_ARGS(source, brokers, prefix, table, "--reset", "--format",
                                   "json-noschema", "--workload", "insert", "--events", ev,
                                   "--partitions", parts, "--txn-size", "10", "--seed", sd)) == 0);
}

void ta_loadgen_mixed(const char *source, const char *brokers, const char *prefix,
                      const char *table, long long events, long long pk_changes, int partitions,
                      int seed)
{
    char ev[24], pk[24], parts[16], sd[16];
    snprintf(ev, sizeof(ev), "%lld", events);
    snprintf(pk, sizeof(pk), "%lld", pk_changes);
    snprintf(parts, sizeof(parts), "%d", partitions);
    snprintf(sd, sizeof(sd), "%d", seed);
    TH_ASSERT(
        ta_loadgen(TA_LOADGEN_ARGS(source, brokers, prefix, table, "--format", "json-noschema",
                                   "--workload", "mixed", "--events", ev, "--pk-changes", pk,
                                   "--partitions", parts, "--txn-size", "5", "--seed", sd)) == 0);
}

void ta_loadgen_history(const char *source, const char *brokers, const char *prefix,
                        const char *table, int partitions)
{
    ta_loadgen_inserts(source, brokers, prefix, table, 3000, partitions, 8);
    ta_loadgen_mixed(source, brokers, prefix, table, 8000, 20, partitions, 9);
}

void ta_history_case(ta_names_t *n, th_pg_t *pg, th_broker_t *b, const char *tag, int partitions)
{
    ta_names_init(n, tag);
    TH_ASSERT(th_broker_cmd(b, "create %s %d", n->topic, partitions) == 0);
    ta_loadgen_history(pg->source_conninfo, b->bootstrap, n->prefix, n->table, partitions);
    ta_create_orders(pg->target_conninfo, n->qname);
}

void ta_two_init(ta_two_t *t, th_broker_t *b, const char *tag, int partitions)
{
    snprintf(t->prefix, sizeof(t->prefix), "%s", th_unique(tag));
    snprintf(t->ins, sizeof(t->ins), "%s", th_unique("ins"));
    snprintf(t->mix, sizeof(t->mix), "%s", th_unique("mix"));
    snprintf(t->tins, sizeof(t->tins), "%s.public.%s", t->prefix, t->ins);
    snprintf(t->tmix, sizeof(t->tmix), "%s.public.%s", t->prefix, t->mix);
    snprintf(t->topics, sizeof(t->topics), "%s,%s", t->tins, t->tmix);
    snprintf(t->group, sizeof(t->group), "%s", th_unique("g"));
    snprintf(t->log, sizeof(t->log), "/tmp/%s.log", t->prefix);
    TH_ASSERT(th_broker_cmd(b, "create %s %d", t->tins, partitions) == 0);
    TH_ASSERT(th_broker_cmd(b, "create %s %d", t->tmix, partitions) == 0);
}

void ta_create_progress_fn(const char *conninfo)
{
    TH_ASSERT(th_pg_exec(conninfo,
                         "CREATE FUNCTION progress(g text) RETURNS bigint LANGUAGE plpgsql AS $$ "
                         "DECLARE r bigint; BEGIN IF to_regclass('cdc.offsets') IS NULL THEN "
                         "RETURN 0; END IF; EXECUTE 'SELECT coalesce(sum(next_offset), 0) FROM "
                         "cdc.offsets WHERE group_id = $1' INTO r USING g; RETURN r; END $$") == 0);
}

bool ta_orders_equal(const th_pg_t *pg, const char *table, long *rows)
{
    char q[100];
    snprintf(q, sizeof(q), "public.%s", table);
    return ta_tables_equal(pg->source_conninfo, pg->target_conninfo, q, "id", rows);
}

typedef struct ll_above {
    const char *conninfo, *sql;
    long long above;
} ll_above_t;

static bool is_above(void *arg)
{
    ll_above_t *a = arg;
    return ta_query_ll(a->conninfo, a->sql) > a->above;
}

bool ta_wait_ll_above(const char *conninfo, const char *sql, long long above, int timeout_ms)
{
    ll_above_t a = {conninfo, sql, above};
    return th_wait_for(is_above, &a, timeout_ms);
}

int ta_log_count(const char *log, const char *needle)
{
    char *out = ta_slurp(log);
    int n = 0;
    for (const char *s = out; s && (s = strstr(s, needle)); s++)
        n++;
    free(out);
    return n;
}

typedef struct log_count {
    const char *log, *needle;
    int n;
} log_count_t;

static bool log_counted(void *arg)
{
    log_count_t *c = arg;
    return ta_log_count(c->log, c->needle) >= c->n;
}

bool ta_wait_log_count(const char *log, const char *needle, int n, int timeout_ms)
{
    log_count_t c = {log, needle, n};
    return th_wait_for(log_counted, &c, timeout_ms);
}

bool ta_wait_applied(const char *conninfo, const char *group)
{
    char sql[200];
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(sum(next_offset), 0) FROM cdc.offsets WHERE group_id = '%s'", group);
    /* cdc.offsets exists once cdc-apply connected: wait for the table first. */
    int64_t deadline = th_now_ms() + 20000;
    char *reg = NULL;
    while (th_now_ms() < deadline &&
           !(reg = th_pg_query_value(conninfo, "SELECT to_regclass('cdc.offsets')")))
        usleep(50 * 1000);
    free(reg);
    return ta_wait_ll_above(conninfo, sql, 0, 20000);
}

void ta_log_finish(const char *log, size_t tail)
{
    if (!th_failures) {
        unlink(log);
        return;
    }
    char *out = ta_slurp(log);
    size_t len = strlen(out);
    fprintf(stderr, "cdc-apply log %s (tail):\n%s\n", log, len > tail ? out + len - tail : out);
    free(out);
}

long long ta_count(const char *conninfo, const char *from_where)
{
    char q[1024];
    snprintf(q, sizeof(q), "SELECT count(*) FROM %s", from_where);
    return ta_query_ll(conninfo, q);
}

void ta_produce_keyed(rd_kafka_t *rk, const char *topic, long long id, char *value)
{
    char key[64];
    snprintf(key, sizeof(key), "{\"id\":%lld}", id);
    TH_ASSERT(th_kafka_produce_sync(rk, topic, 0, key, value, 10000) == 0);
    free(value);
}

static bool metrics_reached(const char *body, const char *name, const char *const *labels,
                            const double *mins, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ta_metric_sum(body, name, labels[i]) < mins[i])
            return false;
    return true;
}

char *ta_scrape_until(pid_t pid, const char *url, const char *name, const char *const *labels,
                      const double *mins, size_t n, int timeout_ms)
{
    int64_t deadline = th_now_ms() + timeout_ms;
    char *last = NULL;
    while (th_now_ms() < deadline) {
        long code = 0;
        char *body = NULL;
        if (th_http_request(url, NULL, &code, &body, NULL) == 0 && code == 200) {
            free(last);
            last = body;
            if (metrics_reached(body, name, labels, mins, n))
                return last;
        } else {
            free(body);
        }
        if (waitpid(pid, NULL, WNOHANG) == pid)
            break;
        usleep(200 * 1000);
    }
    fprintf(stderr, "%s did not reach", name);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %.0f", mins[i]);
    fprintf(stderr, " in %d ms\n", timeout_ms);
    return last;
}

void ta_check_counts(const char *conninfo, const ta_count_want_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        long long got = ta_count(conninfo, w[i].from_where);
        if (got != w[i].want)
            fprintf(stderr, "count(*) FROM %s: %lld, want %lld\n", w[i].from_where, got, w[i].want);
        TH_CHECK_INT(got, w[i].want);
    }
}

void ta_check_log_line(const char *log, const char *first, const char *then)
{
    char *text = ta_slurp(log);
    const char *line = strstr(text, first);
    const char *eol = line ? strchr(line, '\n') : NULL;
    const char *at = line ? strstr(line, then) : NULL;
    TH_CHECK(line != NULL);
    bool same_line = at != NULL && eol != NULL && at < eol;
    TH_CHECK(same_line);
    if (!same_line)
        fprintf(stderr, "no line with '%s' then '%s' in the log:\n%s\n", first, then, text);
    free(text);
}

void ta_dump_log_metrics(char *text, char *body)
{
    if (th_failures)
        fprintf(stderr, "--- log:\n%s\n--- metrics:\n%s\n", text, body);
    free(text);
    free(body);
}

rd_kafka_t *ta_producer_new(const th_broker_t *b)
{
    rd_kafka_t *rk = th_kafka_producer_new(b->bootstrap, NULL);
    TH_ASSERT(rk);
    return rk;
}

int ta_apply_run_logged(const char *const *args, const char *log, int timeout_ms)
{
    int rc = ta_apply_run(args, log, timeout_ms);
    if (rc != 0) {
        char *out = ta_slurp(log);
        fprintf(stderr, "%s\n", out);
        free(out);
    }
    return rc;
}

void ta_check_stops_at(const char *target, const char *const *args, const char *log,
                       const char *from_where, const char *group, const char *topic, int64_t offset,
                       const char *first, const char *then)
{
    TH_CHECK_INT(ta_apply_run(args, log, 60000), 1);
    TH_CHECK_INT(ta_count(target, from_where), 0);
    TH_CHECK_INT(ta_stored_offset(target, group, topic, 0), offset);
    ta_check_log_line(log, first, then);
}
