/* The programs' command lines: a wrong flag or a missing config file exits
 * 2 with one line that names it; --help lists every option of the table;
 * --version answers. Runs the built binaries. */
#include "th.h"

#include "app.h"
#include "cdc/config.h"

#include <strings.h>
#include <sys/wait.h>

/* Run "prog args" with stderr captured; returns the exit code. */
static int run(const char *prog, const char *args, char **out)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s/%s' %s 2>&1", th_build_root(), prog, args);
    FILE *p = popen(cmd, "r");
    TH_ASSERT(p != NULL);
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, p)) > 0)
        n += r;
    buf[n] = '\0';
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
    const char *progs[] = {"cdc-apply", "cdc-verify", "cdc-decode"};
    for (size_t i = 0; i < 3; i++) {
        char *out;
        TH_CHECK_INT(run(progs[i], "--bogus", &out), 2);
        TH_CHECK(strstr(out, "--bogus") != NULL);
        TH_CHECK_INT(th_count_lines(out), 1);
        free(out);

        TH_CHECK_INT(run(progs[i], "-c /nonexistent/missing.conf", &out), 2);
        TH_CHECK(strstr(out, "/nonexistent/missing.conf") != NULL);
        TH_CHECK_INT(th_count_lines(out), 1);
        free(out);

        TH_CHECK_INT(run(progs[i], "--version", &out), 0);
        TH_CHECK(strstr(out, progs[i]) && strstr(out, "librdkafka"));
        free(out);
    }

    /* Usage errors (issue #8): exit 2 and one line that names the
     * offending text and, for a bad value, what is accepted. */
    static const struct usage {
        const char *prog, *args;
        const char *names[3]; /* every one must be in the line */
    } usage[] = {
        /* stray operands: "--table a b c" verified only a */
        {"cdc-verify", "--source s --target t --table a b c", {"'b'", "--table a --table b"}},
        {"cdc-verify", "--source s --target t --all-tables extra", {"'extra'"}},
        {"cdc-verify",
         "--source s --target t --store false --table a",
         {"'false'", "--store=false"}},
        {"cdc-apply", "--brokers k --topics t1 t2 --target x", {"'t2'", "--topics"}},
        {"cdc-apply", "stray --brokers k --topics t --target x", {"'stray'"}},
        {"cdc-apply", "--brokers k --topics t --target x -- after", {"'after'"}},
        /* cdc-decode takes FILE operands: a missing one is named */
        {"cdc-decode", "/nonexistent/input.json", {"/nonexistent/input.json"}},
        /* wrong flags */
        {"cdc-verify", "--source s --target t --tables a", {"--tables"}},
        {"cdc-apply", "--brokers k --topic t --target x", {"--topic"}},
        {"cdc-decode", "--schema-regsitry http://r", {"--schema-regsitry"}},
        /* missing flag values, at the end or before another option */
        {"cdc-verify", "--source s --target t --table", {"--table", "[SCHEMA.]TABLE"}},
        {"cdc-verify", "--source s --table --target t", {"--table", "--target"}},
        {"cdc-apply", "--topics t --target x --brokers", {"--brokers", "LIST"}},
        {"cdc-decode", "--topic", {"--topic", "TOPIC"}},
        /* wrong values: the option and the accepted values */
        {"cdc-apply",
         "--brokers k --topics t --target x --batch-rows abc",
         {"--batch-rows", "'abc'", "1 to 1000000"}},
        {"cdc-apply",
         "--brokers k --topics t --target x --errors-tolerance maybe",
         {"--errors-tolerance", "'maybe'", "none|all"}},
        {"cdc-apply",
         "--brokers k --topics t --target host=/nonexistent --metrics-addr nonsense",
         {"--metrics-addr", "nonsense", "HOST:PORT"}},
        {"cdc-verify",
         "--source s --target t --table a --threshold high",
         {"--threshold", "'high'", "0 to 1"}},
        {"cdc-verify",
         "--source s --target t --table a --output xml",
         {"--output", "'xml'", "text|json"}},
        {"cdc-verify",
         "--source s --target t --table a --recheck-delay soon",
         {"--recheck-delay", "soon", "auto"}},
        {"cdc-decode", "--format xml", {"--format", "'xml'", "auto|json|avro"}},
        {"cdc-decode", "--registry-timeout-ms abc", {"--registry-timeout-ms", "'abc'", "100 to"}},
    };
    for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++) {
        char *out;
        int rc = run(usage[i].prog, usage[i].args, &out);
        bool ok = rc == 2 && th_count_lines(out) == 1;
        for (size_t j = 0; j < 3 && usage[i].names[j]; j++)
            ok = ok && strstr(out, usage[i].names[j]) != NULL;
        if (!ok)
            fprintf(stderr, "%s %s: exit %d, want 2 and one line naming %s; got:\n%s",
                    usage[i].prog, usage[i].args, rc, usage[i].names[0], out);
        TH_CHECK(ok);
        free(out);
    }

    /* --help lists every row of cdc-apply's table. */
    char *out;
    TH_CHECK_INT(run("cdc-apply", "--help", &out), 0);
    for (const cdc_opt_def_t *d = cdc_apply_options; d->key; d++) {
        char want[64];
        snprintf(want, sizeof(want), "--%s", d->key);
        if (!strstr(out, want))
            fprintf(stderr, "--help lacks %s\n", want);
        TH_CHECK(strstr(out, want) != NULL);
    }
    free(out);

    /* One usage line, and the footer names no -X where there is none
     * (cdc-verify talks to no Kafka). */
    TH_CHECK_INT(run("cdc-verify", "--help", &out), 0);
    int usage_lines = 0;
    for (const char *l = out; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        usage_lines += strncasecmp(l, "usage:", 6) == 0;
    if (usage_lines != 1 || strstr(out, "X.<prop>") || strstr(out, "-X"))
        fprintf(stderr, "cdc-verify --help: %d usage lines, want 1 and no -X:\n%s", usage_lines,
                out);
    TH_CHECK(usage_lines == 1);
    TH_CHECK(strstr(out, "X.<prop>") == NULL && strstr(out, "-X") == NULL);
    free(out);
    TH_CHECK_INT(run("cdc-verify", "--source s --target t --table a -X acks=all", &out), 2);
    TH_CHECK(strstr(out, "'-X'") != NULL && th_count_lines(out) == 1);
    free(out);

    /* Missing required options are named. */
    TH_CHECK_INT(run("cdc-apply", "--brokers x --topics t", &out), 2);
    TH_CHECK(strstr(out, "--target") != NULL && th_count_lines(out) == 1);
    free(out);
    /* Secrets never appear in --dump-config. */
    TH_CHECK_INT(run("cdc-apply",
                     "--brokers x --topics t --target 'host=h password=hunter2' "
                     "-X sasl.password=pw2 --dump-config",
                     &out),
                 0);
    TH_CHECK(strstr(out, "hunter2") == NULL && strstr(out, "pw2") == NULL);
    TH_CHECK(strstr(out, "target=host=h password=*****") != NULL);
    free(out);
    TH_DONE();
}
