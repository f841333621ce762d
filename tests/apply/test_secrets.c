/* apply-secrets: no secret given to a program ever comes out of it (issue #8).
 *
 * Every channel gets its own distinct secret: target conninfo password and
 * sslpassword in key=value and URI form, schema registry URL userinfo, -X
 * librdkafka secrets, PGPASSWORD, cdc-verify's source/target conninfo and
 * its Pushgateway URL userinfo, cdc-decode's registry URL. Then the
 * programs are made to fail in every way that quotes a connection string or
 * URL: --dump-config, an unreachable target (both forms), SSL required by a
 * server without SSL, an unreachable registry, unknown schema ids that
 * become dead letters (--errors-tolerance all), an unreachable source and
 * Pushgateway; text and JSON logs. Everything they wrote is collected:
 * stdout, stderr, /metrics and /readyz while running, --textfile and
 * --repair-sql files, and the target database (pg_dump and every cdc.*
 * table). No secret may appear anywhere; each failure must really have
 * happened (its message is checked), so the test cannot pass by accident. */
#include "ta.h"
#include "th.h"
#include "th_kafka.h"
#include "th_pg.h"
#include "th_proc.h"
#include "th_registry.h"

#include "cdc/buf.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const secrets[] = {
    "ApTgtPw-7f3a",  "ApTgtSsl-91c2", "ApUriPw-4d8e",  "ApUriSsl-c0b5", "ApRegPw-e61d",
    "ApSaslPw-2b7c", "ApKeyPw-8a1f",  "ApOauth-77d0",  "ApFilePw-1c3e", "EnvPgPw-5e9a",
    "VfSrcPw-0a4b",  "VfSrcSsl-3d9e", "VfTgtPw-6b21",  "VfTgtSsl-f4c7", "VfPushPw-92e8",
    "DcRegPw-5b3f",  "ApSslReq-1e7d", "VfSrcPw2-8c0d", "ApBadSsl-6e2a"};
#define NSECRETS (sizeof(secrets) / sizeof(secrets[0]))

static cdc_buf_t everything = CDC_BUF_INIT; /* all the programs wrote */

static void collect(const char *what, const char *text)
{
    cdc_buf_printf(&everything, "==== %s\n%s\n", what, text ? text : "");
}

static void collect_file(const char *what, const char *path)
{
    char *s = ta_slurp(path);
    collect(what, s);
    free(s);
}

/* Run build/<prog> with args, stdout and stderr into @p log; exit status. */
static int run_prog(const char *prog, const char *const *args, const char *log, int timeout_ms)
{
    unlink(log);
    return ta_wait(ta_spawn(prog, args, log), timeout_ms);
}

/* Run, collect its output, check the exit code and that @p must (a
 * message proving the failure happened) is in the output. */
static void run_case(const char *name, const char *prog, const char *const *args, int want_rc,
                     const char *must)
{
    char log[128];
    snprintf(log, sizeof(log), "/tmp/%s.log", th_unique("secrets"));
    fprintf(stderr, "--- %s\n", name);
    int rc = run_prog(prog, args, log, 60000);
    char *out = ta_slurp(log);
    collect(name, out);
    bool ok = rc == want_rc && (!must || strstr(out, must));
    if (!ok)
        fprintf(stderr, "%s: exit %d (want %d), want '%s' in:\n%s\n", name, rc, want_rc,
                must ? must : "", out);
    TH_CHECK(ok);
    free(out);
    unlink(log);
}

static void produce_raw(rd_kafka_t *rk, const char *topic, const char *key, const void *val,
                        size_t len)
{
    TH_ASSERT(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_KEY((void *)(uintptr_t)key, strlen(key)),
                                RD_KAFKA_V_VALUE((void *)(uintptr_t)val, len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    TH_ASSERT(rd_kafka_flush(rk, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* An Avro value in Confluent framing with a schema id the registry does
 * not know: poison (dead letter) when the registry answers, retriable when
 * it is down. */
static const char avro_unknown[] = {0x00, 0x00, 0x00, 0x03, (char)0xe7, 0x02, 0x04, 'h', 'i'};

static const ta_field_t fields[] = {{"id", "int64", false}, {"name", "string", true}};

static char *scrape(const char *url)
{
    long code = 0;
    char *body = NULL;
    if (th_http_request(url, NULL, &code, &body, NULL) != 0)
        return NULL;
    return body;
}

typedef struct live {
    int port;
    char *metrics, *readyz;
} live_t;

/* While the dead-letter run is going: keep the last /metrics that shows
 * the dead letters, and /readyz. */
static bool scrape_live(void *arg)
{
    live_t *l = arg;
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", l->port);
    char *m = scrape(url);
    if (!m)
        return false;
    free(l->metrics);
    l->metrics = m;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", l->port);
    free(l->readyz);
    l->readyz = scrape(url);
    return ta_metric_sum(m, "cdc_dead_letter_total", NULL) >= 2;
}

static void rm_dir(void *arg)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (const char *)arg);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", (const char *)arg);
}

static bool ssl_up(void *arg)
{
    PGconn *conn = PQconnectdb(arg);
    bool ok = PQstatus(conn) == CONNECTION_OK && PQsslInUse(conn);
    PQfinish(conn);
    return ok;
}

/* Turn SSL on in the test cluster and make a client certificate whose key
 * is encrypted with "RightPass" (openssl, EC keys: fast). Returns false
 * when openssl is missing. */
static bool enable_ssl(th_pg_t *pg, const char *cdir)
{
    char cmd[2048], sql[1024];
    if (access("/usr/bin/openssl", X_OK) != 0)
        return false;
    snprintf(cmd, sizeof(cmd),
             "set -e; exec 2>/dev/null; mkdir -p %s; cd %s; "
             "openssl req -new -x509 -days 2 -nodes -subj /CN=localhost -newkey ec "
             "-pkeyopt ec_paramgen_curve:prime256v1 -keyout %s/server.key -out %s/server.crt; "
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -aes-256-cbc "
             "-pass pass:RightPass -out client.key; chmod 600 client.key %s/server.key; "
             "openssl req -new -x509 -days 2 -key client.key -passin pass:RightPass "
             "-subj /CN=postgres -out client.crt",
             cdir, cdir, pg->dir, pg->dir, pg->dir);
    TH_ASSERT(system(cmd) == 0);
    /* Run as root, the server runs as "postgres" and owns its files. */
    struct passwd *pw = getuid() == 0 ? getpwnam("postgres") : NULL;
    for (int i = 0; pw && i < 2; i++) {
        snprintf(cmd, sizeof(cmd), "%s/server.%s", pg->dir, i ? "key" : "crt");
        TH_ASSERT(chown(cmd, pw->pw_uid, pw->pw_gid) == 0);
    }
    /* One by one: ALTER SYSTEM refuses to run in a multi-statement
     * (implicit transaction) string. */
    for (int i = 0; i < 3; i++) {
        if (i < 2)
            snprintf(sql, sizeof(sql), "ALTER SYSTEM SET ssl_%s_file = '%s/server.%s'",
                     i ? "key" : "cert", pg->dir, i ? "key" : "crt");
        else
            snprintf(sql, sizeof(sql), "ALTER SYSTEM SET ssl = on");
        TH_ASSERT(th_pg_exec(pg->admin_conninfo, sql) == 0);
    }
    TH_ASSERT(th_pg_exec(pg->admin_conninfo, "SELECT pg_reload_conf()") == 0);
    snprintf(sql, sizeof(sql), "%s sslmode=require", pg->admin_conninfo);
    TH_ASSERT(th_wait_for(ssl_up, sql, 10000));
    return true;
}

/* A fresh table public.<table> (a unique name that starts with @p tag)
 * with columns @p cols, created in @p conninfo and, unless NULL, in
 * @p conninfo2. */
static void new_table(char table[64], const char *tag, const char *cols, const char *conninfo,
                      const char *conninfo2)
{
    char sql[256];
    snprintf(table, 64, "%s", th_unique(tag));
    snprintf(sql, sizeof(sql), "CREATE TABLE public.%s (%s)", table, cols);
    TH_ASSERT(th_pg_exec(conninfo, sql) == 0);
    if (conninfo2) {
        TH_ASSERT(th_pg_exec(conninfo2, sql) == 0);
    }
}

static void apply_cases(th_pg_t *pg, th_broker_t *b, th_registry_t *reg)
{
    char target_kv[1024], target_uri[1024], dead_port[16], reg_url[256], dead_reg[256];
    int free_port = ta_free_port();
    snprintf(dead_port, sizeof(dead_port), "%d", free_port);
    snprintf(target_kv, sizeof(target_kv), "%s password=ApTgtPw-7f3a sslpassword=ApTgtSsl-91c2",
             pg->target_conninfo);
    snprintf(target_uri, sizeof(target_uri),
             "postgresql://postgres:ApUriPw-4d8e@%s:%d/target?sslpassword=ApUriSsl-c0b5", pg->host,
             pg->port);
    snprintf(reg_url, sizeof(reg_url), "http://cdc:ApRegPw-e61d@127.0.0.1:%d", reg->port);
    snprintf(dead_reg, sizeof(dead_reg), "http://cdc:ApRegPw-e61d@127.0.0.1:%d", free_port);

    /* --dump-config, key=value target, every -X secret, and a -c file. */
    char conf[128];
    snprintf(conf, sizeof(conf), "/tmp/%s.conf", th_unique("secrets"));
    FILE *f = fopen(conf, "w");
    TH_ASSERT(f);
    fprintf(f, "X.sasl.password = ApFilePw-1c3e\nschema-registry = %s\n", reg_url);
    fclose(f);
    {
        const char *args[] = {"--brokers",
                              b->bootstrap,
                              "--topics",
                              "t",
                              "--target",
                              target_kv,
                              "-c",
                              conf,
                              "-X",
                              "sasl.password=ApSaslPw-2b7c",
                              "-X",
                              "ssl.key.password=ApKeyPw-8a1f",
                              "-X",
                              "sasl.oauthbearer.client.secret=ApOauth-77d0",
                              "--dump-config",
                              NULL};
        run_case("apply --dump-config (key=value)", "cdc-apply", args, 0, "X.sasl.password=*****");
        const char *const *args2 =
            TH_ARGS("--brokers", b->bootstrap, "--topics", "t", "--target", target_uri,
                    "--schema-registry", dead_reg, "--dump-config");
        run_case("apply --dump-config (URI)", "cdc-apply", args2, 0, "sslpassword=*****");
    }
    unlink(conf);

    /* Unreachable target, both forms, text and JSON logs. */
    char unreach_kv[512], unreach_uri[512];
    snprintf(unreach_kv, sizeof(unreach_kv),
             "host=127.0.0.1 port=%d user=postgres dbname=target password=ApTgtPw-7f3a "
             "sslpassword=ApTgtSsl-91c2",
             free_port);
    snprintf(unreach_uri, sizeof(unreach_uri),
             "postgresql://postgres:ApUriPw-4d8e@127.0.0.1:%d/target?sslpassword=ApUriSsl-c0b5",
             free_port);
    {
        const char *args[] = {"--brokers",
                              b->bootstrap,
                              "--topics",
                              "t",
                              "--target",
                              unreach_kv,
                              "--metrics-addr",
                              "",
                              "--retry-backoff-ms",
                              "50",
                              "-X",
                              "sasl.password=ApSaslPw-2b7c",
                              NULL};
        run_case("apply unreachable target (key=value)", "cdc-apply", args, 2,
                 "cannot connect to PostgreSQL");
        const char *const *args2 = TH_ARGS(
            "--brokers", b->bootstrap, "--topics", "t", "--target", unreach_uri, "--metrics-addr",
            "", "--retry-backoff-ms", "50", "--log-format", "json", "--schema-registry", reg_url);
        run_case("apply unreachable target (URI, json)", "cdc-apply", args2, 2,
                 "cannot connect to PostgreSQL");
    }
    /* SSL demanded from a server without it: a connection error quoting a
     * conninfo with an sslpassword. */
    {
        char ssl_req[1024];
        snprintf(ssl_req, sizeof(ssl_req), "%s sslmode=require sslpassword=ApSslReq-1e7d",
                 pg->target_conninfo);
        const char *args[] = {
            "--brokers",      b->bootstrap, "--topics",           "t",  "--target", ssl_req,
            "--metrics-addr", "",           "--retry-backoff-ms", "50", NULL};
        run_case("apply ssl required", "cdc-apply", args, 2, "SSL");
    }
    /* A wrong sslpassword for an encrypted client key, on a server with
     * SSL: libpq's own error, and our message quoting the conninfo. */
    static char cdir[128];
    snprintf(cdir, sizeof(cdir), "/tmp/%s", th_unique("secrets_ssl"));
    th_cleanup_push(rm_dir, cdir);
    if (enable_ssl(pg, cdir)) {
        char bad_ssl[1024];
        snprintf(bad_ssl, sizeof(bad_ssl),
                 "%s sslmode=require sslcert=%s/client.crt sslkey=%s/client.key "
                 "sslpassword=ApBadSsl-6e2a",
                 pg->target_conninfo, cdir, cdir);
        const char *args[] = {
            "--brokers",      b->bootstrap, "--topics",           "t",  "--target", bad_ssl,
            "--metrics-addr", "",           "--retry-backoff-ms", "50", NULL};
        run_case("apply wrong sslpassword", "cdc-apply", args, 2, "bad decrypt");
        /* The right one connects: the password really is what libpq uses. */
        snprintf(bad_ssl, sizeof(bad_ssl),
                 "%s sslmode=require sslcert=%s/client.crt sslkey=%s/client.key "
                 "sslpassword=RightPass",
                 pg->target_conninfo, cdir, cdir);
        TH_CHECK(ssl_up(bad_ssl));
    } else {
        fprintf(stderr, "no /usr/bin/openssl: the wrong-sslpassword case is not run\n");
    }

    /* Unreachable registry: retried with WARN lines, then exit 2. */
    char topic[64], group[64];
    snprintf(topic, sizeof(topic), "%s", th_unique("sec"));
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    TH_ASSERT(th_broker_cmd(b, "create %s 1", topic) == 0);
    rd_kafka_t *rk = ta_producer_new(b);
    produce_raw(rk, topic, "k0", avro_unknown, sizeof(avro_unknown));
    {
        const char *const *args = TA_APPLY_ARGS(
            b->bootstrap, group, topic, target_kv, "--schema-registry", dead_reg, "--metrics-addr",
            "", "--max-retries", "2", "--retry-backoff-ms", "50", "--log-format", "json", "-X",
            "sasl.password=ApSaslPw-2b7c", TA_FAST_GROUP);
        run_case("apply unreachable registry", "cdc-apply", args, 2, "unreachable");
    }

    /* Dead letters: an unknown schema id (the registry's 404 names its
     * URL) and a JSON record the decoder rejects, tolerance all. */
    snprintf(topic, sizeof(topic), "%s", th_unique("sec"));
    snprintf(group, sizeof(group), "%s", th_unique("g"));
    char table[64], sql[256];
    new_table(table, "st", "id bigint PRIMARY KEY, name text", pg->target_conninfo, NULL);
    TH_ASSERT(th_broker_cmd(b, "create %s 1", topic) == 0);
    char *k = ta_dbz_key("id", 1);
    char *v = ta_dbz_value("public", table, 'c', fields, 2, NULL,
                           json_pack("{s:I,s:s}", "id", (json_int_t)1, "name", "good"));
    produce_raw(rk, topic, k, v, strlen(v));
    free(v);
    produce_raw(rk, topic, k, avro_unknown, sizeof(avro_unknown));
    v = ta_dbz_value("public", table, 'c', fields, 2, NULL,
                     json_pack("{s:s,s:s}", "id", "abc", "name", "bad"));
    produce_raw(rk, topic, k, v, strlen(v));
    free(v);
    free(k);
    rd_kafka_destroy(rk);
    {
        live_t l = {ta_free_port(), NULL, NULL};
        char maddr[32], log[128];
        snprintf(maddr, sizeof(maddr), "127.0.0.1:%d", l.port);
        snprintf(log, sizeof(log), "/tmp/%s.log", th_unique("secrets"));
        const char *const *args =
            TA_APPLY_ARGS(b->bootstrap, group, topic, target_uri, "--schema-registry", reg_url,
                          "--metrics-addr", maddr, "--errors-tolerance", "all", "--exit-on-idle",
                          "3", "-X", "sasl.password=ApSaslPw-2b7c", TA_FAST_GROUP);
        fprintf(stderr, "--- apply dead letters\n");
        pid_t pid = ta_apply_spawn(args, log);
        TH_CHECK(th_wait_for(scrape_live, &l, 20000));
        TH_CHECK_INT(ta_wait(pid, 30000), 0);
        char *out = ta_slurp(log);
        collect("apply dead letters", out);
        collect("/metrics", l.metrics);
        collect("/readyz", l.readyz);
        free(out);
        free(l.metrics);
        free(l.readyz);
        unlink(log);
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM cdc.dead_letter WHERE topic = '%s' AND error LIKE "
                 "'%%127.0.0.1:%d%%'",
                 topic, reg->port);
        /* The registry's URL is in the error (redacted), so the channel
         * was really exercised. */
        TH_CHECK_INT(ta_query_ll(pg->target_conninfo, sql), 1);
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM cdc.dead_letter WHERE topic = '%s'",
                 topic);
        TH_CHECK_INT(ta_query_ll(pg->target_conninfo, sql), 2);
    }
}

static void verify_cases(th_pg_t *pg)
{
    char src[1024], tgt[1024], push[256], unreach[512], textfile[128], repair[128];
    int free_port = ta_free_port();
    snprintf(src, sizeof(src), "%s password=VfSrcPw-0a4b sslpassword=VfSrcSsl-3d9e",
             pg->source_conninfo);
    snprintf(tgt, sizeof(tgt),
             "postgresql://postgres:VfTgtPw-6b21@%s:%d/target?sslpassword=VfTgtSsl-f4c7", pg->host,
             pg->port);
    snprintf(push, sizeof(push), "http://gw:VfPushPw-92e8@127.0.0.1:%d/", free_port);
    snprintf(unreach, sizeof(unreach),
             "host=127.0.0.1 port=%d dbname=source password=VfSrcPw2-8c0d "
             "sslpassword=VfSrcSsl-3d9e connect_timeout=3",
             free_port);
    snprintf(textfile, sizeof(textfile), "/tmp/%s.prom", th_unique("secrets"));
    snprintf(repair, sizeof(repair), "/tmp/%s.sql", th_unique("secrets"));
    char table[64], sql[512];
    new_table(table, "vt", "id int PRIMARY KEY, v text", pg->source_conninfo, pg->target_conninfo);
    snprintf(sql, sizeof(sql), "INSERT INTO public.%s VALUES (1, 'a'), (2, 'b')", table);
    TH_ASSERT(th_pg_exec(pg->source_conninfo, sql) == 0);
    snprintf(sql, sizeof(sql), "INSERT INTO public.%s VALUES (1, 'a'), (2, 'x')", table);
    TH_ASSERT(th_pg_exec(pg->target_conninfo, sql) == 0);

    const char *const *dump = TH_ARGS("--source", src, "--target", tgt, "--table", table,
                                      "--pushgateway", push, "--dump-config");
    run_case("verify --dump-config", "cdc-verify", dump, 0, "pushgateway=http://gw:*****@");
    /* A mismatch (stored, with repair SQL), then the Pushgateway refuses:
     * a WARN naming it, and the mismatch's exit 1. */
    const char *const *run =
        TH_ARGS("--source", src, "--target", tgt, "--table", table, "--pushgateway", push,
                "--textfile", textfile, "--repair-sql", repair, "--log-format", "json");
    run_case("verify push refused", "cdc-verify", run, 1, "Pushgateway");
    collect_file("--textfile", textfile);
    collect_file("--repair-sql", repair);
    unlink(textfile);
    unlink(repair);
    /* An unreachable source: the error is logged and stored in
     * cdc.verify_runs.error. */
    const char *const *down = TH_ARGS("--source", unreach, "--target", tgt, "--table", table);
    run_case("verify unreachable source", "cdc-verify", down, 2, "cannot connect to PostgreSQL");
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM cdc.verify_runs WHERE table_name LIKE '%%%s' AND error LIKE "
             "'%%cannot connect%%'",
             table);
    TH_CHECK(ta_query_ll(pg->target_conninfo, sql) >= 1);
}

static void decode_cases(th_registry_t *reg)
{
    char reg_url[256], dead_reg[256], input[128];
    snprintf(reg_url, sizeof(reg_url), "http://dec:DcRegPw-5b3f@127.0.0.1:%d", reg->port);
    snprintf(dead_reg, sizeof(dead_reg), "http://dec:DcRegPw-5b3f@127.0.0.1:%d", ta_free_port());
    snprintf(input, sizeof(input), "/tmp/%s.avro", th_unique("secrets"));
    FILE *f = fopen(input, "wb");
    TH_ASSERT(f && fwrite(avro_unknown, 1, sizeof(avro_unknown), f) == sizeof(avro_unknown));
    fclose(f);
    const char *const *dump = TH_ARGS("--schema-registry", reg_url, "--dump-config");
    run_case("decode --dump-config", "cdc-decode", dump, 0, "schema-registry=http://dec:*****@");
    const char *const *down =
        TH_ARGS("--schema-registry", dead_reg, "--registry-timeout-ms", "500", input);
    run_case("decode unreachable registry", "cdc-decode", down, 1, "unreachable");
    const char *const *unknown =
        TH_ARGS("--schema-registry", reg_url, "--log-format", "json", input);
    run_case("decode unknown schema id", "cdc-decode", unknown, 1, "not found");
    unlink(input);
}

/* The target database as pg_dump and SELECT see it. */
static void collect_database(th_pg_t *pg)
{
    char *out = NULL, exe[512];
    const char *bindir = getenv("PG_BINDIR");
    snprintf(exe, sizeof(exe), "%s/pg_dump", bindir ? bindir : "/usr/bin");
    const char *const *argv = TH_ARGS(exe, "--dbname", pg->target_conninfo, "--schema", "cdc");
    int rc = th_proc_run(argv, 60000, &out);
    TH_CHECK_INT(rc, 0);
    TH_CHECK(out && strstr(out, "dead_letter"));
    collect("pg_dump target --schema cdc", out);
    free(out);
    const char *tables[] = {"dead_letter", "verify_runs", "verify_mismatches", "offsets"};
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT string_agg(t::text, E'\\n') FROM cdc.%s t", tables[i]);
        char *v = th_pg_query_value(pg->target_conninfo, sql);
        collect(tables[i], v);
        free(v);
    }
}

int main(void)
{
    /* libpq reads it (trust auth ignores it); it must not show either. */
    setenv("PGPASSWORD", "EnvPgPw-5e9a", 1);
    th_pg_t pg;
    memset(&pg, 0, sizeof(pg));
    TH_ASSERT(th_pg_start(&pg) == 0);
    th_broker_t b;
    TH_ASSERT(th_broker_start(&b, 1, NULL) == 0);
    th_registry_t reg;
    TH_ASSERT(th_registry_start(&reg, 0) == 0);

    apply_cases(&pg, &b, &reg);
    verify_cases(&pg);
    decode_cases(&reg);
    collect_database(&pg);

    /* The verdict: no secret anywhere. */
    const char *all = everything.data ? everything.data : "";
    for (size_t i = 0; i < NSECRETS; i++) {
        const char *hit = strstr(all, secrets[i]);
        if (hit) {
            const char *from = hit - all > 300 ? hit - 300 : all;
            fprintf(stderr, "secret %s leaked:\n%.*s\n", secrets[i], (int)(hit - from + 100), from);
        }
        TH_CHECK(hit == NULL);
    }
    /* Redaction left its mark where the secrets were. */
    TH_CHECK(strstr(all, "*****") != NULL);
    if (getenv("SECRETS_DUMP"))
        fputs(all, stderr);
    cdc_buf_free(&everything);
    th_registry_stop(&reg);
    ta_stop(&pg, &b);
    TH_DONE();
}
