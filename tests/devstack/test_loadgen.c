/* cdc-loadgen end to end: real PostgreSQL + mock broker (+ registry for
 * Avro). The records are read back with a plain consumer and checked
 * against Debezium's rules and against the source table itself: replaying
 * the stream into a model must give exactly the rows the source holds. */
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"
#include "th_registry.h"
#include "cdc/util.h"

#include <avro.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#define NPART       3
#define PLACEHOLDER "__debezium_unavailable_value"

typedef struct rec {
    int32_t partition;
    int64_t offset;
    char *key, *val; /* NUL-terminated copies (NULL = null) */
    size_t klen, vlen;
    char *hname, *hval;
} rec_t;

typedef struct recs {
    rec_t *v;
    size_t n, cap;
} recs_t;

static void recs_free(recs_t *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->v[i].key);
        free(rs->v[i].val);
        free(rs->v[i].hname);
        free(rs->v[i].hval);
    }
    free(rs->v);
    memset(rs, 0, sizeof(*rs));
}

static char *dupn(const void *p, size_t n)
{
    if (!p)
        return NULL;
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* Everything in the topic, partition by partition, in offset order. */
static void consume_all(const char *bootstrap, const char *topic, int nparts, recs_t *rs)
{
    char errstr[CDC_ERRSTR_SIZE];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, NULL, 0);
    rd_kafka_conf_set(conf, "group.id", th_unique("lgtest"), NULL, 0);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    TH_ASSERT(rk);
    for (int p = 0; p < nparts; p++) {
        int64_t lo = 0, hi = 0;
        TH_ASSERT(rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000) == 0);
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
        TH_ASSERT(rd_kafka_assign(rk, l) == 0);
        rd_kafka_topic_partition_list_destroy(l);
        int64_t deadline = th_now_ms() + 30000, next = lo;
        while (next < hi && th_now_ms() < deadline) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
            if (!m)
                continue;
            if (!m->err) {
                if (rs->n == rs->cap) {
                    rs->cap = rs->cap ? rs->cap * 2 : 256;
                    rs->v = realloc(rs->v, rs->cap * sizeof(*rs->v));
                }
                rec_t *r = &rs->v[rs->n++];
                memset(r, 0, sizeof(*r));
                r->partition = m->partition;
                r->offset = m->offset;
                r->key = dupn(m->key, m->key_len);
                r->klen = m->key_len;
                r->val = dupn(m->payload, m->len);
                r->vlen = m->len;
                rd_kafka_headers_t *h = NULL;
                const char *hn;
                const void *hv;
                size_t hl;
                if (rd_kafka_message_headers(m, &h) == 0 &&
                    rd_kafka_header_get_all(h, 0, &hn, &hv, &hl) == 0) {
                    r->hname = strdup(hn);
                    r->hval = dupn(hv, hl);
                }
                next = m->offset + 1;
            }
            rd_kafka_message_destroy(m);
        }
        TH_CHECK(next >= hi);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static json_t *load_json(const char *path)
{
    json_t *js = json_load_file(path, 0, NULL);
    TH_ASSERT(js);
    return js;
}

static int64_t jint(json_t *o, const char *path1, const char *path2)
{
    json_t *v = json_object_get(o, path1);
    if (path2)
        v = json_object_get(v, path2);
    return json_integer_value(v);
}

static int run_loadgen(const char *const *args)
{
    const char *argv[64];
    char exe[512];
    size_t n = 0;
    snprintf(exe, sizeof(exe), "%s/devstack/cdc-loadgen", th_build_root());
    argv[n++] = exe;
    for (; *args; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    return th_proc_run(argv, 90000, NULL);
}

/* Replay model: id -> note/status, as a consumer would apply the stream. */
typedef struct model_row {
    int64_t id;
    char *note, *status;
    bool live;
} model_row_t;

typedef struct model {
    model_row_t *v;
    size_t n;
} model_t;

static model_row_t *model_get(model_t *m, int64_t id)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].id == id)
            return &m->v[i];
    m->v = realloc(m->v, (m->n + 1) * sizeof(*m->v));
    memset(&m->v[m->n], 0, sizeof(*m->v));
    m->v[m->n].id = id;
    return &m->v[m->n++];
}

static void set_str(char **dst, json_t *v)
{
    free(*dst);
    *dst = json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

typedef struct ev {
    rec_t *r;
    json_t *pl; /* payload (borrowed from root) */
    json_t *root;
    int64_t txid, lsn;
    int rank; /* d before c at one LSN (PK change) */
} ev_t;

static int ev_cmp(const void *a, const void *b)
{
    const ev_t *x = a, *y = b;
    if (x->txid != y->txid)
        return x->txid < y->txid ? -1 : 1;
    if (x->lsn != y->lsn)
        return x->lsn < y->lsn ? -1 : 1;
    return x->rank - y->rank;
}

/* The JSON run: every Debezium rule the brief lists, then the replay. */
static void check_json(const char *bootstrap, const th_pg_t *pg, const char *prefix,
                       const char *table, bool full, const char *summary_path)
{
    char topic[256];
    recs_t rs = {0};
    snprintf(topic, sizeof(topic), "%s.public.%s", prefix, table);
    consume_all(bootstrap, topic, NPART, &rs);
    json_t *sum = load_json(summary_path);
    TH_CHECK_INT(rs.n, jint(json_object_get(sum, "topics"), topic, "records"));

    int64_t ops[128] = {0}, tombs = 0, newkey = 0, oldkey = 0, placeholders = 0;
    char want_env[300], want_key[300];
    snprintf(want_env, sizeof(want_env), "%s.Envelope", topic);
    snprintf(want_key, sizeof(want_key), "%s.Key", topic);
    ev_t *evs = calloc(rs.n, sizeof(*evs));
    size_t nev = 0;

    for (size_t i = 0; i < rs.n; i++) {
        rec_t *r = &rs.v[i];
        if (r->key) {
            /* Default partitioner: murmur2 of the key bytes. */
            TH_CHECK_INT(r->partition, rd_kafka_msg_partitioner_murmur2(NULL, r->key, r->klen,
                                                                        NPART, NULL, NULL));
            json_t *k = json_loads(r->key, 0, NULL);
            TH_CHECK(k != NULL);
            TH_CHECK_STR(json_string_value(json_object_get(json_object_get(k, "schema"), "name")),
                         want_key);
            json_decref(k);
        }
        if (!r->val) {
            tombs++;
            /* A tombstone follows its delete in the same partition. */
            TH_CHECK(i > 0 && rs.v[i - 1].val && rs.v[i - 1].partition == r->partition);
            TH_CHECK(i > 0 && r->key && rs.v[i - 1].key && !strcmp(r->key, rs.v[i - 1].key));
            if (i > 0 && rs.v[i - 1].val)
                TH_CHECK(strstr(rs.v[i - 1].val, "\"op\":\"d\"") != NULL);
            continue;
        }
        json_error_t jerr;
        json_t *v = json_loads(r->val, 0, &jerr);
        TH_ASSERT(v != NULL);
        json_t *schema = json_object_get(v, "schema"), *pl = json_object_get(v, "payload");
        TH_CHECK_STR(json_string_value(json_object_get(schema, "name")), want_env);
        /* Fields by name, in the schema and in the payload. */
        static const char *const fields[] = {"before", "after", "source",
                                             "op",     "ts_ms", "transaction"};
        for (size_t f = 0; f < 6; f++) {
            bool found = false;
            json_t *fl = json_object_get(schema, "fields");
            for (size_t j = 0; j < json_array_size(fl); j++)
                found |= !strcmp(json_string_value(json_object_get(json_array_get(fl, j), "field")),
                                 fields[f]);
            TH_CHECK(found);
            TH_CHECK(json_object_get(pl, fields[f]) != NULL);
        }
        const char *op = json_string_value(json_object_get(pl, "op"));
        TH_ASSERT(op);
        ops[(unsigned char)op[0]]++;
        json_t *before = json_object_get(pl, "before"), *after = json_object_get(pl, "after");
        if (op[0] == 't')
            TH_CHECK(r->key == NULL);
        else
            TH_CHECK(r->key != NULL);
        if (r->hname && !strcmp(r->hname, "__debezium.newkey")) {
            newkey++;
            TH_CHECK(op[0] == 'd');
        }
        if (r->hname && !strcmp(r->hname, "__debezium.oldkey")) {
            oldkey++;
            TH_CHECK(op[0] == 'c');
        }
        /* Placeholders: only in the new image of an update, only DEFAULT. */
        const char *bn = json_string_value(json_object_get(before, "note"));
        const char *an = json_string_value(json_object_get(after, "note"));
        TH_CHECK(!bn || strcmp(bn, PLACEHOLDER) != 0);
        if (an && !strcmp(an, PLACEHOLDER)) {
            placeholders++;
            TH_CHECK(!full);
            TH_CHECK(op[0] == 'u');
        }
        if (op[0] == 'u')
            TH_CHECK(full ? json_is_object(before) : json_is_null(before));
        if (op[0] == 'd') {
            /* DEFAULT logs the key only; FULL the whole old row. */
            json_t *cust = json_object_get(before, "customer");
            TH_CHECK(full ? !json_is_null(cust) : json_is_null(cust));
        }
        json_t *src = json_object_get(pl, "source");
        evs[nev].r = r;
        evs[nev].pl = pl;
        evs[nev].root = v;
        evs[nev].txid = json_integer_value(json_object_get(src, "txId"));
        evs[nev].lsn = json_integer_value(json_object_get(src, "lsn"));
        evs[nev].rank = op[0] == 'd' ? 0 : 1;
        nev++;
    }
    json_t *sops = json_object_get(sum, "ops");
    TH_CHECK_INT(ops['c'], json_integer_value(json_object_get(sops, "c")));
    TH_CHECK_INT(ops['u'], json_integer_value(json_object_get(sops, "u")));
    TH_CHECK_INT(ops['d'], json_integer_value(json_object_get(sops, "d")));
    TH_CHECK_INT(ops['t'], json_integer_value(json_object_get(sops, "t")));
    TH_CHECK_INT(ops['t'], 1);
    TH_CHECK_INT(tombs, jint(sum, "tombstones", NULL));
    TH_CHECK_INT(newkey, 5);
    TH_CHECK_INT(oldkey, 5);
    if (!full)
        TH_CHECK(placeholders > 0);
    fprintf(stderr,
            "%s: %zu records c=%lld u=%lld d=%lld t=%lld tombstones=%lld placeholders=%lld\n",
            topic, rs.n, (long long)ops['c'], (long long)ops['u'], (long long)ops['d'],
            (long long)ops['t'], (long long)tombs, (long long)placeholders);

    /* Replay in source commit order (txId, then LSN) and compare with the
     * source: the truncate has a null key, so partition order alone would
     * not tell where it goes (Debezium's caveat too). */
    qsort(evs, nev, sizeof(*evs), ev_cmp);
    model_t m = {0};
    for (size_t i = 0; i < nev; i++) {
        const char *op = json_string_value(json_object_get(evs[i].pl, "op"));
        json_t *after = json_object_get(evs[i].pl, "after");
        json_t *before = json_object_get(evs[i].pl, "before");
        if (op[0] == 't') {
            for (size_t j = 0; j < m.n; j++)
                m.v[j].live = false;
        } else if (op[0] == 'd') {
            model_get(&m, json_integer_value(json_object_get(before, "id")))->live = false;
        } else {
            model_row_t *row = model_get(&m, json_integer_value(json_object_get(after, "id")));
            json_t *note = json_object_get(after, "note");
            if (json_is_string(note) && !strcmp(json_string_value(note), PLACEHOLDER)) {
                /* Unchanged TOASTed value: the row must already hold it. */
                TH_CHECK(row->live && row->note && strlen(row->note) > 2048);
            } else {
                set_str(&row->note, note);
            }
            set_str(&row->status, json_object_get(after, "status"));
            row->live = true;
        }
    }
    char sql[512];
    size_t live = 0;
    for (size_t j = 0; j < m.n; j++) {
        if (!m.v[j].live)
            continue;
        live++;
        snprintf(sql, sizeof(sql),
                 "SELECT md5(coalesce(note,'<null>')) || '/' || coalesce(status,'<null>') FROM "
                 "%s WHERE id = %lld",
                 table, (long long)m.v[j].id);
        char *got = th_pg_query_value(pg->source_conninfo, sql);
        size_t wl = (m.v[j].note ? strlen(m.v[j].note) : 0) + 256;
        char *wsql = malloc(wl);
        snprintf(wsql, wl, "SELECT md5(%s%s%s) || '/' || '%s'", m.v[j].note ? "$q$" : "'<null>'",
                 m.v[j].note ? m.v[j].note : "", m.v[j].note ? "$q$" : "",
                 m.v[j].status ? m.v[j].status : "<null>");
        char *want = th_pg_query_value(pg->source_conninfo, wsql);
        free(wsql);
        TH_CHECK_STR(got, want);
        free(got);
        free(want);
    }
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    char *cnt = th_pg_query_value(pg->source_conninfo, sql);
    TH_CHECK(cnt && (size_t)atoll(cnt) == live);
    free(cnt);

    for (size_t j = 0; j < m.n; j++) {
        free(m.v[j].note);
        free(m.v[j].status);
    }
    free(m.v);
    for (size_t i = 0; i < nev; i++)
        json_decref(evs[i].root);
    free(evs);
    json_decref(sum);
    recs_free(&rs);
}

/* Fetch schema @p id from the registry and parse it with avro-c. */
static avro_schema_t registry_schema(const th_registry_t *reg, uint32_t id)
{
    char url[256];
    char *body = NULL;
    long status = 0;
    snprintf(url, sizeof(url), "%s/schemas/ids/%u", reg->url, id);
    TH_ASSERT(th_http_request(url, NULL, &status, &body, NULL) == 0 && status == 200);
    json_t *js = json_loads(body, 0, NULL);
    const char *txt = json_string_value(json_object_get(js, "schema"));
    TH_ASSERT(txt);
    avro_schema_t s = NULL;
    if (avro_schema_from_json_length(txt, strlen(txt), &s) != 0) {
        fprintf(stderr, "avro-c rejects schema %u: %s\n", id, avro_strerror());
        TH_ASSERT(0);
    }
    json_decref(js);
    free(body);
    return s;
}

static void check_avro(const char *bootstrap, const th_registry_t *reg, const char *prefix,
                       const char *summary_path)
{
    char topic[256];
    recs_t rs = {0};
    snprintf(topic, sizeof(topic), "%s.public.orders_a", prefix);
    consume_all(bootstrap, topic, NPART, &rs);
    json_t *sum = load_json(summary_path);
    TH_CHECK_INT(rs.n, jint(json_object_get(sum, "topics"), topic, "records"));
    int64_t ops[128] = {0}, placeholders = 0;
    avro_schema_t vs = NULL, ks = NULL;
    avro_value_iface_t *vi = NULL, *ki = NULL;
    for (size_t i = 0; i < rs.n; i++) {
        rec_t *r = &rs.v[i];
        if (r->key) {
            TH_ASSERT(r->klen > 5 && r->key[0] == 0);
            const unsigned char *kb = (const unsigned char *)r->key;
            uint32_t kid =
                (uint32_t)kb[1] << 24 | (uint32_t)kb[2] << 16 | (uint32_t)kb[3] << 8 | kb[4];
            if (!ks) {
                ks = registry_schema(reg, kid);
                ki = avro_generic_class_from_schema(ks);
            }
            avro_value_t kv;
            avro_generic_value_new(ki, &kv);
            avro_reader_t rd = avro_reader_memory(r->key + 5, r->klen - 5);
            TH_CHECK(avro_value_read(rd, &kv) == 0);
            avro_reader_free(rd);
            avro_value_decref(&kv);
        }
        if (!r->val)
            continue;
        const unsigned char *b = (const unsigned char *)r->val;
        TH_ASSERT(r->vlen > 5 && b[0] == 0);
        uint32_t id = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4];
        if (!vs) {
            vs = registry_schema(reg, id);
            vi = avro_generic_class_from_schema(vs);
            TH_ASSERT(vi);
        }
        avro_value_t v, f, br;
        avro_generic_value_new(vi, &v);
        avro_reader_t rd = avro_reader_memory(r->val + 5, r->vlen - 5);
        int rc = avro_value_read(rd, &v);
        if (rc)
            fprintf(stderr, "avro read: %s\n", avro_strerror());
        TH_CHECK(rc == 0);
        avro_reader_free(rd);
        /* The whole datum was consumed: re-encoding the decoded value takes
         * exactly the bytes we were given, so no field was mis-sized. */
        size_t enc = 0;
        TH_CHECK(avro_value_sizeof(&v, &enc) == 0 && enc == r->vlen - 5);
        const char *op = NULL;
        size_t sz;
        TH_CHECK(avro_value_get_by_name(&v, "op", &f, NULL) == 0);
        avro_value_get_string(&f, &op, &sz);
        TH_ASSERT(op);
        ops[(unsigned char)op[0]]++;
        if (avro_value_get_by_name(&v, "after", &f, NULL) == 0) {
            int disc = 0;
            avro_value_get_discriminant(&f, &disc);
            avro_value_get_current_branch(&f, &br);
            avro_value_t note, nb;
            if (disc == 1 && avro_value_get_by_name(&br, "note", &note, NULL) == 0) {
                avro_value_get_discriminant(&note, &disc);
                avro_value_get_current_branch(&note, &nb);
                const char *s = NULL;
                if (disc == 1 && avro_value_get_string(&nb, &s, &sz) == 0 &&
                    !strcmp(s, PLACEHOLDER))
                    placeholders++;
            }
        }
        avro_value_decref(&v);
    }
    json_t *sops = json_object_get(sum, "ops");
    TH_CHECK_INT(ops['c'], json_integer_value(json_object_get(sops, "c")));
    TH_CHECK_INT(ops['u'], json_integer_value(json_object_get(sops, "u")));
    TH_CHECK_INT(ops['d'], json_integer_value(json_object_get(sops, "d")));
    TH_CHECK(placeholders > 0);
    fprintf(stderr, "%s: %zu avro records c=%lld u=%lld d=%lld placeholders=%lld\n", topic, rs.n,
            (long long)ops['c'], (long long)ops['u'], (long long)ops['d'], (long long)placeholders);
    if (vi)
        avro_value_iface_decref(vi);
    if (ki)
        avro_value_iface_decref(ki);
    avro_schema_decref(vs);
    avro_schema_decref(ks);
    json_decref(sum);
    recs_free(&rs);
}

int main(void)
{
    th_pg_t pg;
    th_broker_t b;
    th_registry_t reg;
    char p1[64], p2[64], p3[64], t1[128], t2[128], t3[128], s1[256], s2[256], s3[256];
    memset(&pg, 0, sizeof(pg));
    snprintf(p1, sizeof(p1), "%s", th_unique("lgd"));
    snprintf(p2, sizeof(p2), "%s", th_unique("lgf"));
    snprintf(p3, sizeof(p3), "%s", th_unique("lga"));
    snprintf(t1, sizeof(t1), "%s.public.orders_d:%d", p1, NPART);
    snprintf(t2, sizeof(t2), "%s.public.orders_f:%d", p2, NPART);
    snprintf(t3, sizeof(t3), "%s.public.orders_a:%d", p3, NPART);
    snprintf(s1, sizeof(s1), "/tmp/%s.json", p1);
    snprintf(s2, sizeof(s2), "/tmp/%s.json", p2);
    snprintf(s3, sizeof(s3), "/tmp/%s.json", p3);

    TH_ASSERT(th_pg_start(&pg) == 0);
    TH_ASSERT(th_broker_start(&b, 1, t1, t2, t3, NULL) == 0);

    /* DEFAULT identity: before null on u, key-only on d, placeholders. */
    const char *const *a1 =
        TH_ARGS("--source", pg.source_conninfo, "--brokers", b.bootstrap, "--topic-prefix", p1,
                "--table", "orders_d", "--reset", "--events", "400", "--workload", "mixed",
                "--toast", "--pk-changes", "5", "--truncate-at", "120", "--txn-size", "3",
                "--partitions", "3", "--seed", "7", "--summary-json", s1);
    TH_CHECK_INT(run_loadgen(a1), 0);
    check_json(b.bootstrap, &pg, p1, "orders_d", false, s1);

    /* FULL identity: whole before images, never a placeholder. */
    const char *const *a2 =
        TH_ARGS("--source", pg.source_conninfo, "--brokers", b.bootstrap, "--topic-prefix", p2,
                "--table", "orders_f", "--reset", "--replica-identity", "full", "--events", "300",
                "--toast", "--pk-changes", "5", "--truncate-at", "200", "--partitions", "3",
                "--seed", "11", "--summary-json", s2);
    TH_CHECK_INT(run_loadgen(a2), 0);
    check_json(b.bootstrap, &pg, p2, "orders_f", true, s2);

    /* Avro through the registry, decoded by avro-c with the registered schema. */
    if (th_registry_start(&reg, 0) == 0) {
        const char *const *a3 = TH_ARGS(
            "--source", pg.source_conninfo, "--brokers", b.bootstrap, "--topic-prefix", p3,
            "--table", "orders_a", "--reset", "--format", "avro", "--schema-registry", reg.url,
            "--events", "200", "--toast", "--pk-changes", "3", "--seed", "5", "--summary-json", s3);
        TH_CHECK_INT(run_loadgen(a3), 0);
        check_avro(b.bootstrap, &reg, p3, s3);
        th_registry_stop(&reg);
    } else {
        fprintf(stderr, "registry mock did not start: Avro part not run\n");
        th_failures++;
    }

    unlink(s1);
    unlink(s2);
    unlink(s3);
    th_broker_stop(&b);
    th_pg_stop(&pg);
    TH_DONE();
}
