/* The programs' command lines: a wrong flag or a missing config file exits
 * 2 with one line that names it; --help lists every option of the table;
 * --version answers. Runs the built binaries. */
#include "th.h"

#include "cdc/app.h"
#include "cdc/config.h"

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

static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

int main(void)
{
    const char *progs[] = {"cdc-apply", "cdc-verify", "cdc-decode"};
    for (size_t i = 0; i < 3; i++) {
        char *out;
        TH_CHECK_INT(run(progs[i], "--bogus", &out), 2);
        TH_CHECK(strstr(out, "--bogus") != NULL);
        TH_CHECK_INT(lines(out), 1);
        free(out);

        TH_CHECK_INT(run(progs[i], "-c /nonexistent/missing.conf", &out), 2);
        TH_CHECK(strstr(out, "/nonexistent/missing.conf") != NULL);
        TH_CHECK_INT(lines(out), 1);
        free(out);

        TH_CHECK_INT(run(progs[i], "--version", &out), 0);
        TH_CHECK(strstr(out, progs[i]) && strstr(out, "librdkafka"));
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

    /* Missing required options are named. */
    TH_CHECK_INT(run("cdc-apply", "--brokers x --topics t", &out), 2);
    TH_CHECK(strstr(out, "--target") != NULL && lines(out) == 1);
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
