/* Config table: good and bad inputs, file handling, -X, redaction, help. */
#include "th.h"

#include "cdc/config.h"
#include "cdc/util.h"

#include <stdarg.h>
#include <unistd.h>

static const cdc_opt_def_t defs[] = {
    {"brokers", 'b', CDC_OPT_STRING, "localhost:9092", 0, -1, NULL, 0, "LIST", "bootstrap brokers"},
    {"target", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_REQUIRED | CDC_OPT_CONNINFO,
     "CONNINFO", "target database"},
    {"batch-rows", 0, CDC_OPT_INT, "5000", 1, 1000000, NULL, 0, "N", "rows per batch"},
    {"threshold", 0, CDC_OPT_DOUBLE, "1.0", 0, 1, NULL, 0, "X", "score threshold"},
    {"errors-tolerance", 0, CDC_OPT_ENUM, "none", 0, -1, "none|all", 0, NULL, "on bad records"},
    {"create-tables", 0, CDC_OPT_BOOL, "false", 0, -1, NULL, 0, NULL, "create tables"},
    {"table", 't', CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_MULTI, "NAME", "table to check"},
    {"registry-password", 0, CDC_OPT_STRING, NULL, 0, -1, NULL, CDC_OPT_SENSITIVE, "PW", "secret"},
    {NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL, NULL},
};

static char errstr[CDC_ERRSTR_SIZE];

/* Parse a NULL-terminated argv; returns the status, keeps cfg in *out. */
static cdc_config_status_t vparse(cdc_config_t **out, FILE *sink, va_list ap)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"prog";
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    *out = cdc_config_new("prog", "[options]", defs);
    cdc_config_allow_args(*out, "FILE");
    errstr[0] = '\0';
    return cdc_config_parse(*out, argc, argv, sink, errstr, sizeof(errstr));
}

static cdc_config_status_t parse(cdc_config_t **out, FILE *sink, ...)
{
    va_list ap;
    va_start(ap, sink);
    cdc_config_status_t st = vparse(out, sink, ap);
    va_end(ap);
    return st;
}

/* What a parse of the NULL-terminated arguments writes (--help,
 * --dump-config, ...), checking it returns @p want (new, caller frees). */
static char *output_of(int want, ...)
{
    cdc_config_t *c;
    FILE *f = tmpfile();
    va_list ap;
    va_start(ap, want);
    TH_CHECK_INT(vparse(&c, f, ap), want);
    va_end(ap);
    char *s = th_slurp(f);
    fclose(f);
    cdc_config_destroy(c);
    return s;
}

/* Every option of defs is named (--key) in @p s. */
static void check_names_all(const char *s)
{
    for (const cdc_opt_def_t *d = defs; d->key; d++) {
        char want[64];
        snprintf(want, sizeof(want), "--%s", d->key);
        TH_CHECK(strstr(s, want) != NULL);
    }
}

static void test_good(void)
{
    cdc_config_t *c;
    TH_CHECK_INT(parse(&c, stdout, "--target", "dbname=t", "--batch-rows=200", "-b", "k1:9092",
                       "--create-tables", "-t", "a", "--table", "b", "-X", "fetch.wait.max.ms=5",
                       "pos1", (char *)NULL),
                 CDC_CONFIG_OK);
    TH_CHECK_STR(cdc_config_get(c, "brokers"), "k1:9092");
    TH_CHECK_INT(cdc_config_get_int(c, "batch-rows"), 200);
    TH_CHECK(cdc_config_get_double(c, "threshold") == 1.0);
    TH_CHECK(cdc_config_get_bool(c, "create-tables"));
    TH_CHECK(!cdc_config_is_set(c, "threshold"));
    TH_CHECK_STR(cdc_config_get(c, "errors-tolerance"), "none");
    const char *const *v;
    TH_CHECK_INT(cdc_config_get_list(c, "table", &v), 2);
    TH_CHECK_STR(v[0], "a");
    TH_CHECK_STR(v[1], "b");
    const char *const *k;
    TH_CHECK_INT(cdc_config_rdkafka(c, &k, &v), 1);
    TH_CHECK_STR(k[0], "fetch.wait.max.ms");
    TH_CHECK_STR(v[0], "5");
    TH_CHECK_INT(cdc_config_args(c, &v), 1);
    TH_CHECK_STR(v[0], "pos1");
    cdc_config_destroy(c);
}

static void expect_error(const char *want, ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, want);
    argv[argc++] = (char *)"prog";
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    cdc_config_t *c = cdc_config_new("prog", "[options]", defs);
    errstr[0] = '\0';
    TH_CHECK_INT(cdc_config_parse(c, argc, argv, stdout, errstr, sizeof(errstr)), CDC_CONFIG_ERROR);
    TH_CHECK_STR(errstr, want);
    TH_CHECK(strchr(errstr, '\n') == NULL);
    cdc_config_destroy(c);
}

static void test_bad(void)
{
    expect_error("unknown option '--bogus': see prog --help", "--bogus", (char *)NULL);
    expect_error("unknown option '-q': see prog --help", "-q", (char *)NULL);
    expect_error("--batch-rows: 'ten' is not a whole number: use 1 to 1000000", "--target", "x",
                 "--batch-rows", "ten", (char *)NULL);
    expect_error("--batch-rows: 0 is out of range: use 1 to 1000000", "--batch-rows=0",
                 (char *)NULL);
    expect_error("--threshold: 1.5 is out of range: use 0 to 1", "--threshold=1.5", (char *)NULL);
    expect_error("--errors-tolerance: 'some' is not one of none|all", "--errors-tolerance", "some",
                 (char *)NULL);
    expect_error("--create-tables: 'maybe' is not a boolean: use true or false",
                 "--create-tables=maybe", (char *)NULL);
    expect_error("option --brokers needs a value (LIST)", "--brokers", (char *)NULL);
    expect_error("option --table needs a value (NAME) before --target (write --table=--target if "
                 "that is the value)",
                 "--table", "--target", "x", (char *)NULL);
    /* Operands, in a program that takes none, are named with the likely
     * mistake (issue #8: "--table a b c" verified only a). */
    expect_error("unexpected argument 'b' after --table a: --table takes one value; repeat it "
                 "(--table a --table b)",
                 "--target", "x", "--table", "a", "b", "c", (char *)NULL);
    expect_error("unexpected argument 'k2' after --brokers k1: --brokers takes one value LIST "
                 "(quote it if it contains spaces)",
                 "--target", "x", "--brokers", "k1", "k2", (char *)NULL);
    expect_error("unexpected argument 'false': --create-tables is a flag and takes no separate "
                 "value (write --create-tables=false)",
                 "--target", "x", "--create-tables", "false", (char *)NULL);
    expect_error("unexpected argument 'stray': prog takes no operands, only options (see prog "
                 "--help)",
                 "stray", "--target", "x", (char *)NULL);
    expect_error("unexpected argument 'after': prog takes no operands, only options (see prog "
                 "--help)",
                 "--target", "x", "--", "after", (char *)NULL);
    expect_error("missing required option --target CONNINFO: target database", (char *)NULL);
    expect_error("-X 'novalue': expected KEY=VALUE (a librdkafka property)", "-X", "novalue",
                 (char *)NULL);
    expect_error("cannot read config file /nonexistent/missing.conf: No such file or directory",
                 "-c", "/nonexistent/missing.conf", (char *)NULL);
}

static void test_file(void)
{
    char path[] = "/tmp/cdc-test-conf-XXXXXX";
    int fd = mkstemp(path);
    TH_ASSERT(fd >= 0);
    const char *text = "# a comment\n"
                       "target = \"host=db password=s3cret dbname=t\"\n"
                       "batch_rows=300\n"
                       "table=x\n"
                       "X.security.protocol=plaintext\n"
                       "\n";
    TH_ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    cdc_config_t *c;
    /* The flag after -c overrides the file; the one before is overridden. */
    TH_CHECK_INT(parse(&c, stdout, "--batch-rows", "7", "-c", path, "--table", "y", (char *)NULL),
                 CDC_CONFIG_OK);
    TH_CHECK_INT(cdc_config_get_int(c, "batch-rows"), 300);
    TH_CHECK_STR(cdc_config_get(c, "target"), "host=db password=s3cret dbname=t");
    const char *const *v, *const *k;
    TH_CHECK_INT(cdc_config_get_list(c, "table", &v), 2);
    TH_CHECK_INT(cdc_config_rdkafka(c, &k, &v), 1);
    TH_CHECK_STR(k[0], "security.protocol");
    cdc_config_destroy(c);

    FILE *f = fopen(path, "w");
    fputs("batch-rows=1\nnonsense\n", f);
    fclose(f);
    char want[256];
    snprintf(want, sizeof(want),
             "%s:2: expected key=value (the line is not shown: it may hold a secret)", path);
    expect_error(want, "-c", path, (char *)NULL);
    /* A line without '=' names its key, never its value: it may be a secret. */
    static const struct {
        const char *line, *want;
    } no_eq[] = {
        {"sasl.password hunter2",
         "key 'sasl.password' has no '=': write sasl.password=VALUE (a librdkafka property: "
         "X.<property>=VALUE)"},
        {"X.sasl.password\thunter2",
         "key 'X.sasl.password' has no '=': write X.sasl.password=VALUE"},
        {"registry-password: hunter2",
         "key 'registry-password' has no '=': write registry-password=VALUE"},
        {"hunter2", "expected key=value (the line is not shown: it may hold a secret)"},
    };
    for (size_t i = 0; i < sizeof(no_eq) / sizeof(no_eq[0]); i++) {
        f = fopen(path, "w");
        fprintf(f, "# secrets\n%s\n", no_eq[i].line);
        fclose(f);
        snprintf(want, sizeof(want), "%s:2: %s", path, no_eq[i].want);
        expect_error(want, "-c", path, (char *)NULL);
        TH_CHECK(strstr(errstr, "hunter2") == NULL);
    }
    f = fopen(path, "w");
    fputs("bogus-key=1\n", f);
    fclose(f);
    snprintf(want, sizeof(want), "%s:1: unknown key 'bogus-key': see --help for the keys", path);
    expect_error(want, "-c", path, (char *)NULL);
    f = fopen(path, "w");
    fputs("batch-rows=-5\n", f);
    fclose(f);
    snprintf(want, sizeof(want), "%s:1: --batch-rows: -5 is out of range: use 1 to 1000000", path);
    expect_error(want, "-c", path, (char *)NULL);
    unlink(path);
}

static void test_redact(void)
{
    char out[256];
    struct {
        const char *in, *want;
    } cases[] = {
        {"host=db password=s3cret dbname=t", "host=db password=***** dbname=t"},
        {"host=db password = 's3 cr\\'et' user=u", "host=db password = ***** user=u"},
        {"password=x", "password=*****"},
        {"host=db dbname=t", "host=db dbname=t"},
        {"postgresql://u:s3cret@db:5432/t", "postgresql://u:*****@db:5432/t"},
        {"postgresql://u@db/t?password=s3cret&sslmode=require",
         "postgresql://u@db/t?password=*****&sslmode=require"},
        {"http://user:pw@registry:8081", "http://user:*****@registry:8081"},
        {"postgresql://db/t", "postgresql://db/t"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cdc_redact_conninfo(cases[i].in, out, sizeof(out));
        TH_CHECK_STR(out, cases[i].want);
        TH_CHECK(strstr(out, "s3cret") == NULL);
    }
}

static void test_dump_help(void)
{
    cdc_config_t *c;
    char *s =
        output_of(CDC_CONFIG_EXIT, "--target", "postgresql://u:s3cret@db/t", "--registry-password",
                  "hunter2", "-X", "sasl.password=pw1", "--dump-config", (char *)NULL);
    TH_CHECK(strstr(s, "target=postgresql://u:*****@db/t\n") != NULL);
    TH_CHECK(strstr(s, "registry-password=*****\n") != NULL);
    TH_CHECK(strstr(s, "X.sasl.password=*****\n") != NULL);
    TH_CHECK(strstr(s, "batch-rows=5000\n") != NULL);
    TH_CHECK(strstr(s, "s3cret") == NULL && strstr(s, "hunter2") == NULL && !strstr(s, "pw1"));
    free(s);

    s = output_of(CDC_CONFIG_EXIT, "--help", (char *)NULL);
    check_names_all(s);
    TH_CHECK(strstr(s, "--log-format") && strstr(s, "-X KEY=VALUE"));
    free(s);

    /* Without --brokers there is no -X: nothing to pass it to. */
    static const cdc_opt_def_t nokafka[] = {{NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL, NULL}};
    c = cdc_config_new("prog", "[options]", nokafka);
    FILE *f = tmpfile();
    char *argv[] = {(char *)"prog", (char *)"--help", NULL};
    TH_CHECK_INT(cdc_config_parse(c, 2, argv, f, errstr, sizeof(errstr)), CDC_CONFIG_EXIT);
    s = th_slurp(f);
    TH_CHECK(strstr(s, "-X") == NULL);
    TH_CHECK(strstr(s, "X.<prop>") == NULL); /* nor a footer naming it */
    TH_CHECK(strstr(s, "-c file as key=value") != NULL);
    free(s);
    fclose(f);
    cdc_config_destroy(c);

    /* --help-markdown: README's rows from the same table, the hidden row
     * itself in neither --help, --dump-config nor the rows. */
    s = output_of(CDC_CONFIG_EXIT, "--help-markdown", (char *)NULL);
    static const char head[] =
        "<!-- options -->\n| option | default | meaning |\n| --- | --- | --- |\n";
    TH_CHECK(strncmp(s, head, strlen(head)) == 0);
    check_names_all(s);
    TH_CHECK(strstr(s, "| `-X KEY=VALUE` | | ") != NULL);
    TH_CHECK(strstr(s, "| `--batch-rows N` | `5000` | ") != NULL);
    TH_CHECK(strstr(s, "help-markdown") == NULL);
    free(s);
    s = output_of(CDC_CONFIG_EXIT, "--help", (char *)NULL);
    TH_CHECK(strstr(s, "help-markdown") == NULL);
    free(s);
    s = output_of(CDC_CONFIG_EXIT, "--target", "t", "--dump-config", (char *)NULL);
    TH_CHECK(strstr(s, "help-markdown") == NULL);
    free(s);

    s = output_of(CDC_CONFIG_EXIT, "--version", (char *)NULL);
    TH_CHECK(strncmp(s, "prog ", 5) == 0 && strstr(s, "librdkafka"));
    free(s);
}

int main(void)
{
    test_good();
    test_bad();
    test_file();
    test_redact();
    test_dump_help();
    TH_DONE();
}
