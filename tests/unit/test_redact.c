/* Redaction: every password libpq knows in both conninfo forms, URL
 * userinfo, secret key=value pairs in free text, registered secret values,
 * and the logger hiding all of them (text and JSON lines). */
#include "th.h"

#include "cdc/log.h"
#include "cdc/redact.h"

static void check_conninfo(const char *in, const char *want)
{
    char out[512];
    cdc_redact_conninfo(in, out, sizeof(out));
    TH_CHECK_STR(out, want);
    TH_CHECK(strstr(out, "S3cr") == NULL);
}

static void test_conninfo(void)
{
    check_conninfo("host=db password=S3cr1 dbname=t", "host=db password=***** dbname=t");
    check_conninfo("host=db sslpassword=S3cr2 sslmode=require",
                   "host=db sslpassword=***** sslmode=require");
    check_conninfo("host=db password = 'S3cr 3\\' x' sslpassword='S3cr4' user=u",
                   "host=db password = ***** sslpassword=***** user=u");
    check_conninfo("sslpassword=S3cr\\ 5 host=db", "sslpassword=***** host=db");
    check_conninfo("host=db dbname=t", "host=db dbname=t");
    check_conninfo("postgresql://u:S3cr6@db:5432/t?sslpassword=S3cr7&sslmode=require",
                   "postgresql://u:*****@db:5432/t?sslpassword=*****&sslmode=require");
    check_conninfo("postgres://u@db/t?ssl%70assword=S3cr8",
                   "postgres://u@db/t?ssl%70assword=*****");
    check_conninfo("postgresql://u:S3cr@9@h1,h2:5433/t", "postgresql://u:*****@h1,h2:5433/t");
    check_conninfo("http://user:S3cr10@registry:8081/apis", "http://user:*****@registry:8081/apis");
    check_conninfo("postgresql://db/t", "postgresql://db/t");
    /* dbname may itself be a URI or conninfo (libpq's expand_dbname). */
    check_conninfo("dbname='postgresql://u:S3cr11@h/t' connect_timeout=3",
                   "dbname='postgresql://u:*****@h/t' connect_timeout=3");
    /* Garbage libpq would refuse is still not printed with its password. */
    check_conninfo("host=db garbage sslpassword=S3cr12", "host=db garbage sslpassword=*****");

    TH_CHECK(cdc_redact_is_secret_key("password", 8));
    TH_CHECK(cdc_redact_is_secret_key("sslpassword", 11));
    TH_CHECK(cdc_redact_is_secret_key("sasl.password", 13));
    TH_CHECK(cdc_redact_is_secret_key("ssl.key.password", 16));
    TH_CHECK(cdc_redact_is_secret_key("PASSWORD", 8));
    TH_CHECK(cdc_redact_is_secret_key("client.secret", 13));
    TH_CHECK(!cdc_redact_is_secret_key("host", 4));
    TH_CHECK(!cdc_redact_is_secret_key("sslmode", 7));
}

static void check_text(const char *in, const char *want)
{
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_redact_text(in, &b);
    TH_CHECK_STR(b.data, want);
    cdc_buf_free(&b);
}

static void test_text(void)
{
    check_text("schema registry http://user:S3cretPW@host:8081 unreachable after 3 attempt(s)",
               "schema registry http://user:*****@host:8081 unreachable after 3 attempt(s)");
    check_text("pushing to http://a:b1234@gw:9091/metrics/job/x: refused",
               "pushing to http://a:*****@gw:9091/metrics/job/x: refused");
    check_text("cannot connect to PostgreSQL 'host=h sslpassword=abc1234': refused",
               "cannot connect to PostgreSQL 'host=h sslpassword=*****': refused");
    check_text("bad -X sasl.password=\"p w\" here", "bad -X sasl.password=\"*****\" here");
    check_text("already password=***** fine", "already password=***** fine");
    check_text("batch of 5 rows, ratio=1.5 ok", "batch of 5 rows, ratio=1.5 ok");
    check_text("http://host:8081/x?a=1&password=zz&b=2",
               "http://host:8081/x?a=1&password=*****&b=2");

    /* Registered values are hidden wherever they appear, longest first. */
    cdc_redact_add_secret("Zq9-registered");
    cdc_redact_add_secret("Zq9-registered-longer");
    cdc_redact_add_secret("abc"); /* too short to register */
    check_text("x Zq9-registered-longer y Zq9-registered z abc", "x ***** y ***** z abc");
    cdc_redact_add_conninfo_secrets("postgresql://u:p%40ssWord1@h/t?sslpassword=Ssl-pw-2");
    check_text("p%40ssWord1 p@ssWord1 Ssl-pw-2", "***** ***** *****");
    cdc_redact_add_conninfo_secrets("host=h password='kv pass 3' sslpassword=kvssl4");
    check_text("[kv pass 3] [kvssl4]", "[*****] [*****]");

    char e[64];
    snprintf(e, sizeof(e), "at http://u:Zq9-registered@h");
    cdc_redact_errstr(e, sizeof(e));
    TH_CHECK_STR(e, "at http://u:*****@h");
    char *d = cdc_redact_strdup("kvssl4!");
    TH_CHECK_STR(d, "*****!");
    free(d);
}

static void test_log(void)
{
    for (int json = 0; json <= 1; json++) {
        FILE *f = tmpfile();
        TH_ASSERT(f);
        cdc_log_init("t", CDC_LOG_DEBUG, json ? CDC_LOG_JSON : CDC_LOG_TEXT, f);
        cdc_log_warn("schema registry http://user:LogPW-1@host unreachable");
        cdc_log_error("connect 'host=h password=LogPW-2 sslpassword=LogPW-3' failed");
        cdc_log_info("registered value Zq9-registered here");
        const char *kv[] = {"url", "http://x:LogPW-4@h", NULL};
        cdc_log_kv(CDC_LOG_INFO, kv, "with fields");
        char *s = th_slurp(f);
        TH_CHECK(strstr(s, "LogPW") == NULL && strstr(s, "Zq9") == NULL);
        TH_CHECK(strstr(s, "http://user:*****@host") != NULL);
        if (strstr(s, "LogPW") || strstr(s, "Zq9"))
            fprintf(stderr, "leaked:\n%s\n", s);
        free(s);
        fclose(f);
    }
    cdc_log_init("t", CDC_LOG_INFO, CDC_LOG_TEXT, NULL);
}

int main(void)
{
    test_conninfo();
    test_text();
    test_log();
    TH_DONE();
}
