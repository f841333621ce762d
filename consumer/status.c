/* cdc-apply --status (see status_int.h).
 *
 * Order: the target first (positions, verify runs), then Kafka (metadata,
 * watermarks, the first unapplied record of each lagging partition). The
 * target is opened read-only and the Kafka handle has no group.id, so the
 * report can run next to the service, from cron or CI, and change nothing:
 * no offsets commit, no member joins, no rebalance, no topic is created
 * (metadata is asked for all topics, which never auto-creates one). */
#include "status_int.h"
#include "status_report_int.h"

#include "cdc/buf.h"
#include "cdc/log.h"
#include "cdc/pg.h"
#include "cdc/util.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Each Kafka phase (metadata and watermarks; fetching first records) gets
 * this long, so an unreachable cluster is an error within ~10 s. */
#define STATUS_KAFKA_TIMEOUT_MS 10000

static const cdc_opt_def_t status_defs[] = {
    {"status", 0, CDC_OPT_BOOL, "false", 0, -1, NULL, 0, NULL,
     "print stored positions, log bounds, lag and the last cdc-verify score per table, then "
     "exit (joins no group, changes nothing)"},
    {"max-lag", 0, CDC_OPT_DOUBLE, NULL, 0, 1e9, NULL, 0, "SECONDS",
     "with --status: exit 1 when a partition's lag is over SECONDS"},
    {"min-score", 0, CDC_OPT_DOUBLE, NULL, 0, 1, NULL, 0, "SCORE",
     "with --status: exit 1 when a table's last cdc-verify score is below SCORE"},
    {"output", 'o', CDC_OPT_ENUM, "text", 0, -1, "text|json", 0, NULL,
     "with --status: a text table, or one JSON document"},
    {NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL, NULL},
};

cdc_opt_def_t *cdc_status_options_merge(const cdc_opt_def_t *base)
{
    size_t nb = 0, ns = sizeof status_defs / sizeof status_defs[0]; /* with its terminator */
    while (base[nb].key)
        nb++;
    cdc_opt_def_t *all = malloc((nb + ns) * sizeof *all);
    if (!all)
        abort();
    memcpy(all, base, nb * sizeof *all);
    memcpy(all + nb, status_defs, ns * sizeof *all);
    return all;
}

int cdc_status_check_usage(const cdc_config_t *cfg, char *errstr, size_t errstr_size)
{
    if (cdc_config_get_bool(cfg, "status"))
        return 0;
    static const char *const only[] = {"max-lag", "min-score", "output"};
    for (size_t i = 0; i < sizeof only / sizeof only[0]; i++)
        if (cdc_config_is_set(cfg, only[i])) {
            snprintf(errstr, errstr_size,
                     "--%s only applies to the report: add --status (cdc-apply --status --%s ...)",
                     only[i], only[i]);
            return -1;
        }
    return 0;
}

/* ---- the report (status_report_int.h) --------------------------------- */

static part_t *part_find(report_t *r, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < r->nparts; i++)
        if (r->parts[i].partition == partition && !strcmp(r->parts[i].topic, topic))
            return &r->parts[i];
    return NULL;
}

static part_t *part_add(report_t *r, const char *topic, int32_t partition)
{
    if (r->nparts == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->parts = realloc(r->parts, r->cap * sizeof *r->parts);
        if (!r->parts)
            abort();
    }
    part_t *p = &r->parts[r->nparts++];
    memset(p, 0, sizeof *p);
    p->topic = cdc_xstrdup(topic);
    p->partition = partition;
    p->stored = p->lo = p->hi = p->lag = p->first_off = p->first_ts = -1;
    p->lag_s = NAN;
    return p;
}

static void violate(report_t *r, const char *kind, const part_t *p, const table_t *t,
                    const char *topic, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void violate(report_t *r, const char *kind, const part_t *p, const table_t *t,
                    const char *topic, const char *fmt, ...)
{
    cdc_buf_t b = CDC_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    cdc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    r->viol = realloc(r->viol, (r->nviol + 1) * sizeof *r->viol);
    if (!r->viol)
        abort();
    r->viol[r->nviol++] =
        (violation_t){kind, p, t, topic ? cdc_xstrdup(topic) : NULL, cdc_buf_steal(&b)};
}

static void report_free(report_t *r)
{
    for (size_t i = 0; i < r->nparts; i++)
        free(r->parts[i].topic);
    free(r->parts);
    for (size_t i = 0; i < r->ntables; i++) {
        free(r->tables[i].name);
        free(r->tables[i].status);
        free(r->tables[i].finished_at);
        free(r->tables[i].error);
    }
    free(r->tables);
    for (size_t i = 0; i < r->nviol; i++) {
        free(r->viol[i].topic);
        free(r->viol[i].msg);
    }
    free(r->viol);
}

/* ---- which topics ------------------------------------------------------- */

/* --topics as cdc-apply subscribes it: a comma list, or one regex when it
 * starts with '^' (librdkafka's rule; POSIX ERE here, which agrees with it
 * on the patterns people write for Debezium topics). */
typedef struct topic_sel {
    bool is_regex;
    regex_t re;
    char **names;
    size_t nnames;
} topic_sel_t;

static int sel_init(topic_sel_t *s, const char *topics, char *errstr, size_t errstr_size)
{
    memset(s, 0, sizeof *s);
    if (topics[0] == '^') {
        int rc = regcomp(&s->re, topics, REG_EXTENDED | REG_NOSUB);
        if (rc) {
            char e[256];
            regerror(rc, &s->re, e, sizeof e);
            snprintf(errstr, errstr_size, "--topics '%s' is not a valid regex: %s", topics, e);
            return -1;
        }
        s->is_regex = true;
        return 0;
    }
    char *list = cdc_xstrdup(topics), *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (!*t)
            continue;
        s->names = realloc(s->names, (s->nnames + 1) * sizeof *s->names);
        if (!s->names)
            abort();
        s->names[s->nnames++] = cdc_xstrdup(t);
    }
    free(list);
    if (!s->nnames) {
        snprintf(errstr, errstr_size, "--topics '%s' names no topic", topics);
        return -1;
    }
    return 0;
}

static bool sel_match(const topic_sel_t *s, const char *topic)
{
    if (s->is_regex)
        return regexec(&s->re, topic, 0, NULL, 0) == 0;
    for (size_t i = 0; i < s->nnames; i++)
        if (!strcmp(s->names[i], topic))
            return true;
    return false;
}

static void sel_free(topic_sel_t *s)
{
    if (s->is_regex)
        regfree(&s->re);
    for (size_t i = 0; i < s->nnames; i++)
        free(s->names[i]);
    free(s->names);
}

/* ---- the target: positions and verify runs ------------------------------ */

static PGresult *query(PGconn *conn, const char *sql, int n, const char *const *params,
                       char *errstr, size_t errstr_size)
{
    char e[512];
    PGresult *res =
        cdc_pg_exec_params(conn, sql, n, params, NULL, NULL, PGRES_TUPLES_OK, NULL, e, sizeof e);
    if (!res)
        snprintf(errstr, errstr_size, "reading the state schema: %s", e);
    return res;
}

static int load_target(report_t *r, PGconn *conn, const char *schema, const char *group,
                       const topic_sel_t *sel, FILE *err, char *errstr, size_t errstr_size)
{
    PGresult *res = NULL;
    cdc_buf_t sql = CDC_BUF_INIT, q = CDC_BUF_INIT;
    int rc = -1;
    char e[512];
    /* Read-only: the report must never write, even by mistake. */
    if (cdc_pg_exec(conn, "SET default_transaction_read_only = on", NULL, e, sizeof e)) {
        snprintf(errstr, errstr_size, "target: %s", e);
        goto out;
    }
    const char *p1[1] = {schema};
    res = query(conn,
                "SELECT to_regclass(format('%I.offsets', $1::text)) IS NOT NULL, "
                "to_regclass(format('%I.verify_runs', $1::text)) IS NOT NULL",
                1, p1, errstr, errstr_size);
    if (!res)
        goto out;
    bool have_offsets = PQgetvalue(res, 0, 0)[0] == 't';
    bool have_runs = PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    res = NULL;
    if (!have_offsets)
        /* Not an error: every partition then starts at the log start, as
         * cdc-apply would. But a misspelt --state-schema looks the same. */
        fprintf(err,
                "cdc-apply: state schema \"%s\" has no offsets table: no stored positions (has "
                "cdc-apply run with this --state-schema?)\n",
                schema);
    cdc_pg_append_ident(&q, schema);
    if (have_offsets) {
        cdc_buf_printf(&sql,
                       "SELECT topic, partition, next_offset FROM %s.offsets WHERE group_id = $1 "
                       "ORDER BY topic, partition",
                       q.data);
        const char *p2[1] = {group};
        res = query(conn, sql.data, 1, p2, errstr, errstr_size);
        if (!res)
            goto out;
        for (int i = 0; i < PQntuples(res); i++) {
            const char *topic = PQgetvalue(res, i, 0);
            if (!sel_match(sel, topic))
                continue;
            part_t *p = part_add(r, topic, (int32_t)atoi(PQgetvalue(res, i, 1)));
            p->stored = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        }
        PQclear(res);
        res = NULL;
    }
    if (have_runs) {
        /* The last finished run of each table ("running" has no score yet). */
        cdc_buf_reset(&sql);
        cdc_buf_printf(&sql,
                       "SELECT DISTINCT ON (table_name) table_name, run_id, score, status, "
                       "threshold, to_char(finished_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), error "
                       "FROM %s.verify_runs WHERE status <> 'running' "
                       "ORDER BY table_name, finished_at DESC NULLS LAST, run_id DESC",
                       q.data);
        res = query(conn, sql.data, 0, NULL, errstr, errstr_size);
        if (!res)
            goto out;
        int n = PQntuples(res);
        r->tables = calloc(n ? (size_t)n : 1, sizeof *r->tables);
        if (!r->tables)
            abort();
        for (int i = 0; i < n; i++) {
            table_t *t = &r->tables[r->ntables++];
            t->name = cdc_xstrdup(PQgetvalue(res, i, 0));
            t->run_id = strtoll(PQgetvalue(res, i, 1), NULL, 10);
            t->has_score = !PQgetisnull(res, i, 2);
            t->score = t->has_score ? strtod(PQgetvalue(res, i, 2), NULL) : 0;
            t->status = cdc_xstrdup(PQgetvalue(res, i, 3));
            t->has_threshold = !PQgetisnull(res, i, 4);
            t->threshold = t->has_threshold ? strtod(PQgetvalue(res, i, 4), NULL) : 0;
            t->finished_at = PQgetisnull(res, i, 5) ? NULL : cdc_xstrdup(PQgetvalue(res, i, 5));
            t->error = PQgetisnull(res, i, 6) ? NULL : cdc_xstrdup(PQgetvalue(res, i, 6));
        }
    }
    rc = 0;
out:
    PQclear(res);
    cdc_buf_free(&sql);
    cdc_buf_free(&q);
    return rc;
}

/* ---- Kafka: partitions, watermarks, first unapplied records ------------- */

static void kafka_error_cb(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    report_t *r = opaque;
    (void)rk;
    (void)code;
    snprintf(r->kafka_err, sizeof r->kafka_err, "%s", reason);
}

/* librdkafka's own chatter only at --log-level debug: the report and its
 * one error line are the output. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (cdc_log_enabled(CDC_LOG_DEBUG))
        cdc_log_rdkafka_cb(rk, level, fac, buf);
}

/* -X keys the report must not take: they would give the handle a group
 * (a coordinator, commits) or let it commit. */
static bool group_key(const char *k)
{
    return !strcmp(k, "group.id") || !strcmp(k, "group.instance.id") ||
           !strcmp(k, "enable.auto.commit") || !strcmp(k, "enable.auto.offset.store") ||
           !strcmp(k, "auto.offset.reset");
}

static int set_prop(rd_kafka_conf_t *c, const char *k, const char *v, char *errstr,
                    size_t errstr_size)
{
    char e[256];
    if (rd_kafka_conf_set(c, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "-X %s: %s", k, e);
        return -1;
    }
    return 0;
}

static rd_kafka_t *kafka_new(const cdc_config_t *cfg, report_t *r, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char *const *keys, *const *vals;
    size_t nx = cdc_config_rdkafka(cfg, &keys, &vals);
    if (set_prop(c, "bootstrap.servers", cdc_config_get(cfg, "brokers"), errstr, errstr_size) ||
        set_prop(c, "client.id", "cdc-apply-status", errstr, errstr_size))
        goto fail;
    for (size_t i = 0; i < nx; i++)
        if (!group_key(keys[i]) && set_prop(c, keys[i], vals[i], errstr, errstr_size))
            goto fail;
    /* No group.id: no coordinator, nothing to commit. A position outside
     * the log must be an error, never a silent reset; and one record per
     * partition is all we read. */
    if (set_prop(c, "enable.auto.commit", "false", errstr, errstr_size) ||
        set_prop(c, "enable.auto.offset.store", "false", errstr, errstr_size) ||
        set_prop(c, "auto.offset.reset", "error", errstr, errstr_size) ||
        set_prop(c, "enable.partition.eof", "true", errstr, errstr_size) ||
        set_prop(c, "queued.min.messages", "1", errstr, errstr_size))
        goto fail;
    rd_kafka_conf_set_log_cb(c, kafka_log_cb);
    rd_kafka_conf_set_error_cb(c, kafka_error_cb);
    rd_kafka_conf_set_opaque(c, r);
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e);
    if (!rk) {
        snprintf(errstr, errstr_size, "cannot create the Kafka client: %s", e);
        goto fail;
    }
    return rk;
fail:
    rd_kafka_conf_destroy(c);
    return NULL;
}

static void unreachable(rd_kafka_t *rk, const report_t *r, const char *brokers, const char *what,
                        rd_kafka_resp_err_t e, char *errstr, size_t errstr_size)
{
    rd_kafka_poll(rk, 0); /* serves kafka_error_cb: the reason, if one came */
    snprintf(errstr, errstr_size,
             "cannot reach the Kafka brokers %s within %d s (%s: %s%s%s): check --brokers and the "
             "-X security settings",
             brokers, STATUS_KAFKA_TIMEOUT_MS / 1000, what, rd_kafka_err2str(e),
             r->kafka_err[0] ? "; " : "", r->kafka_err);
    cdc_redact_errstr(errstr, errstr_size);
}

static int cmp_part(const void *a, const void *b)
{
    const part_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Partitions of the selected topics, and their log bounds. */
static int load_kafka(report_t *r, rd_kafka_t *rk, const cdc_config_t *cfg, const topic_sel_t *sel,
                      char *errstr, size_t errstr_size)
{
    const char *brokers = cdc_config_get(cfg, "brokers");
    int64_t deadline = cdc_now_mono_ms() + STATUS_KAFKA_TIMEOUT_MS;
    const struct rd_kafka_metadata *md = NULL;
    /* all_topics=1: a request that names no topic never auto-creates one. */
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, STATUS_KAFKA_TIMEOUT_MS);
    if (e) {
        unreachable(rk, r, brokers, "metadata", e, errstr, errstr_size);
        return -1;
    }
    size_t nstored = r->nparts;
    bool *seen = calloc(nstored ? nstored : 1, sizeof *seen);
    if (!seen)
        abort();
    for (int i = 0; i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        if (t->err || !sel_match(sel, t->topic))
            continue;
        for (int j = 0; j < t->partition_cnt; j++) {
            int32_t id = t->partitions[j].id;
            part_t *p = part_find(r, t->topic, id);
            if (p)
                seen[p - r->parts] = true;
            else
                p = part_add(r, t->topic, id);
            p->lo = 0; /* set below; 0 marks "in Kafka" */
        }
    }
    /* Listed topics Kafka does not have: cdc-apply would wait for them. */
    for (size_t i = 0; i < sel->nnames; i++) {
        const rd_kafka_metadata_topic_t *t = NULL;
        for (int j = 0; j < md->topic_cnt && !t; j++)
            if (!strcmp(md->topics[j].topic, sel->names[i]))
                t = &md->topics[j];
        if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            violate(r, "topic", NULL, NULL, sel->names[i],
                    "topic %s does not exist in Kafka (--topics names it)", sel->names[i]);
        else if (t->err)
            violate(r, "topic", NULL, NULL, sel->names[i], "topic %s: %s", sel->names[i],
                    rd_kafka_err2str(t->err));
    }
    rd_kafka_metadata_destroy(md);
    for (size_t i = 0; i < nstored; i++)
        if (!seen[i])
            r->parts[i].st = ST_GONE;
    free(seen);

    for (size_t i = 0; i < r->nparts; i++) {
        part_t *p = &r->parts[i];
        if (p->st == ST_GONE)
            continue;
        int64_t left = deadline - cdc_now_mono_ms();
        e = rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &p->lo, &p->hi,
                                             left > 100 ? (int)left : 100);
        if (e) {
            char what[300];
            snprintf(what, sizeof what, "log bounds of %s[%d]", p->topic, p->partition);
            unreachable(rk, r, brokers, what, e, errstr, errstr_size);
            return -1;
        }
    }
    qsort(r->parts, r->nparts, sizeof *r->parts, cmp_part);
    return 0;
}

/* State and lag in records; which partitions need their first record. */
static void classify(report_t *r)
{
    for (size_t i = 0; i < r->nparts; i++) {
        part_t *p = &r->parts[i];
        if (p->st == ST_GONE) {
            p->lo = p->hi = -1;
            continue;
        }
        /* Without a stored row cdc-apply starts at the log start. */
        int64_t pos = p->stored >= 0 ? p->stored : p->lo;
        if (pos > p->hi) {
            p->st = ST_AHEAD;
            continue;
        }
        p->lag = p->hi - pos;
        if (pos < p->lo)
            p->st = ST_GAP; /* the first unapplied record is gone: lag_s unknown */
        else if (p->lag == 0) {
            p->st = ST_CAUGHT_UP;
            p->lag_s = 0;
        } else {
            p->st = ST_BEHIND;
            p->want_fetch = true;
        }
    }
}

/* Read the record at each lagging partition's position with the simple
 * consumer (consume_start: no group), stopping each partition at its
 * first answer. Its Kafka timestamp dates the lag. */
static void fetch_first(report_t *r, rd_kafka_t *rk)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_topic_t **rkts = calloc(r->nparts ? r->nparts : 1, sizeof *rkts);
    size_t pending = 0;
    if (!rkts)
        abort();
    for (size_t i = 0; i < r->nparts; i++) {
        part_t *p = &r->parts[i];
        if (!p->want_fetch)
            continue;
        rkts[i] = rd_kafka_topic_new(rk, p->topic, NULL);
        int64_t pos = p->stored >= 0 ? p->stored : p->lo;
        if (!rkts[i] || rd_kafka_consume_start_queue(rkts[i], p->partition, pos, q) == -1) {
            cdc_log_debug("%s[%d]: cannot start fetching at %lld: %s", p->topic, p->partition,
                          (long long)pos, rd_kafka_err2str(rd_kafka_last_error()));
            if (rkts[i])
                rd_kafka_topic_destroy(rkts[i]);
            rkts[i] = NULL;
            continue;
        }
        pending++;
    }
    int64_t deadline = cdc_now_mono_ms() + STATUS_KAFKA_TIMEOUT_MS;
    while (pending && cdc_now_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consume_queue(q, 100);
        if (!m)
            continue;
        part_t *p = m->rkt ? part_find(r, rd_kafka_topic_name(m->rkt), m->partition) : NULL;
        if (p && p->want_fetch && !p->fetched) {
            p->fetched = true;
            pending--;
            int64_t now = cdc_now_wall_ms();
            rd_kafka_timestamp_type_t tt;
            if (!m->err) {
                p->first_off = m->offset;
                p->first_ts = rd_kafka_message_timestamp(m, &tt);
                if (p->first_ts >= 0)
                    p->lag_s = now > p->first_ts ? (double)(now - p->first_ts) / 1000.0 : 0;
            } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                /* Only control records (transaction markers) were left:
                 * nothing to apply, so nothing is late. */
                p->lag_s = 0;
            } else {
                /* Out of range now (retention ran since the watermarks),
                 * or a fetch error: the lag's age is not known. */
                cdc_log_debug("%s[%d]: fetching the first unapplied record: %s", p->topic,
                              p->partition, rd_kafka_message_errstr(m));
            }
        }
        rd_kafka_message_destroy(m);
    }
    for (size_t i = 0; i < r->nparts; i++)
        if (rkts[i]) {
            rd_kafka_consume_stop(rkts[i], r->parts[i].partition);
            rd_kafka_topic_destroy(rkts[i]);
        }
    free(rkts);
    rd_kafka_queue_destroy(q);
}

/* ---- thresholds --------------------------------------------------------- */

static void check(report_t *r, const char *schema)
{
    for (size_t i = 0; i < r->nparts; i++) {
        const part_t *p = &r->parts[i];
        const char *t = p->topic;
        int n = p->partition;
        switch (p->st) {
        case ST_GAP:
            violate(r, "gap", p, NULL, NULL,
                    "%s[%d]: GAP: the stored position %lld is below the log start %lld: records "
                    "%lld..%lld were deleted from Kafka before cdc-apply applied them (restore "
                    "them from a new snapshot)",
                    t, n, (long long)p->stored, (long long)p->lo, (long long)p->stored,
                    (long long)p->lo - 1);
            break;
        case ST_AHEAD:
            violate(r, "ahead", p, NULL, NULL,
                    "%s[%d]: AHEAD: the stored position %lld is above the log end %lld: was the "
                    "topic deleted and recreated? (then delete its rows from %s.offsets)",
                    t, n, (long long)p->stored, (long long)p->hi, schema);
            break;
        case ST_GONE:
            violate(r, "gone", p, NULL, NULL,
                    "%s[%d]: GONE: a position is stored (%lld) but Kafka has no such partition: "
                    "was the topic deleted?",
                    t, n, (long long)p->stored);
            break;
        case ST_BEHIND:
        case ST_CAUGHT_UP:
            if (!r->have_max_lag)
                break;
            if (isnan(p->lag_s))
                violate(r, "lag", p, NULL, NULL,
                        "%s[%d]: %lld records behind and the age of the first one is unknown "
                        "(it could not be read): cannot check --max-lag %g",
                        t, n, (long long)p->lag, r->max_lag);
            else if (p->lag_s > r->max_lag)
                violate(r, "lag", p, NULL, NULL,
                        "%s[%d]: lag %.1f s is over --max-lag %g (%lld records behind, the first "
                        "at offset %lld)",
                        t, n, p->lag_s, r->max_lag, (long long)p->lag, (long long)p->first_off);
            break;
        }
    }
    if (!r->have_min_score)
        return;
    if (!r->ntables)
        violate(r, "verify", NULL, NULL, NULL,
                "no cdc-verify run is stored in %s.verify_runs: cannot check --min-score %g (run "
                "cdc-verify --store with --state-schema %s)",
                schema, r->min_score, schema);
    for (size_t i = 0; i < r->ntables; i++) {
        const table_t *t = &r->tables[i];
        if (!t->has_score)
            violate(r, "score", NULL, t, NULL,
                    "table %s: the last cdc-verify run (%s, run %lld) has no score (status %s%s%s)",
                    t->name, t->finished_at ? t->finished_at : "unfinished", t->run_id, t->status,
                    t->error ? ": " : "", t->error ? t->error : "");
        else if (t->score < r->min_score)
            violate(r, "score", NULL, t, NULL,
                    "table %s: the last cdc-verify score %.6f (%s, run %lld) is below --min-score "
                    "%g",
                    t->name, t->score, t->finished_at ? t->finished_at : "unfinished", t->run_id,
                    r->min_score);
    }
}

int cdc_status_run(const cdc_config_t *cfg, FILE *out, FILE *err)
{
    report_t r;
    topic_sel_t sel;
    PGconn *conn = NULL;
    rd_kafka_t *rk = NULL;
    char errstr[CDC_ERRSTR_WRAP_SIZE];
    int rc = 2;
    bool sel_ok = false;
    const char *schema = cdc_config_get(cfg, "state-schema");

    memset(&r, 0, sizeof r);
    r.have_max_lag = cdc_config_is_set(cfg, "max-lag");
    r.max_lag = cdc_config_get_double(cfg, "max-lag");
    r.have_min_score = cdc_config_is_set(cfg, "min-score");
    r.min_score = cdc_config_get_double(cfg, "min-score");
    if (sel_init(&sel, cdc_config_get(cfg, "topics"), errstr, sizeof errstr))
        goto fail;
    sel_ok = true;
    conn = cdc_pg_connect(cdc_config_get(cfg, "target"), "cdc-apply-status", errstr, sizeof errstr);
    if (!conn)
        goto fail;
    if (load_target(&r, conn, schema, cdc_config_get(cfg, "group"), &sel, err, errstr,
                    sizeof errstr))
        goto fail;
    PQfinish(conn);
    conn = NULL;
    if (!(rk = kafka_new(cfg, &r, errstr, sizeof errstr)))
        goto fail;
    if (load_kafka(&r, rk, cfg, &sel, errstr, sizeof errstr))
        goto fail;
    classify(&r);
    fetch_first(&r, rk);
    /* Topic violations found while listing come first; keep them there. */
    check(&r, schema);
    if (!strcmp(cdc_config_get(cfg, "output"), "json"))
        cdc_status_print_json(&r, cfg, out);
    else
        cdc_status_print_text(&r, out);
    fflush(out);
    for (size_t i = 0; i < r.nviol; i++)
        fprintf(err, "cdc-apply: %s\n", r.viol[i].msg);
    rc = r.nviol ? 1 : 0;
    goto out;
fail:
    cdc_redact_errstr(errstr, sizeof errstr);
    fprintf(err, "cdc-apply: %s\n", errstr);
out:
    if (rk)
        rd_kafka_destroy(rk);
    if (conn)
        PQfinish(conn);
    if (sel_ok)
        sel_free(&sel);
    report_free(&r);
    return rc;
}
