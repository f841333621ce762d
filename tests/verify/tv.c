/* Helpers shared by the cdc-verify integration tests (see tv.h). */
#include "tv.h"

#include "th.h"
#include "th_proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tv_run_verify(const th_pg_t *pg, const char *const *more, const char *const *extra,
                  int timeout_ms, char **out)
{
    char bin[512];
    snprintf(bin, sizeof(bin), "%s/cdc-verify", th_build_root());
    const char *argv[64] = {bin,        "--source",          pg->source_conninfo,
                            "--target", pg->target_conninfo, "--output",
                            "json",     "--progress",        "never"};
    int n = 9;
    const char *const *lists[2] = {more, extra};
    for (int l = 0; l < 2; l++)
        for (int i = 0; lists[l] && lists[l][i] && n < 62; i++)
            argv[n++] = lists[l][i];
    argv[n] = NULL;
    return th_proc_run(argv, timeout_ms, out);
}

char *tv_slurp_path(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    fseek(f, 0, SEEK_END); /* th_slurp() reads up to the current offset */
    char *s = th_slurp(f);
    fclose(f);
    return s;
}

int tv_run_err(const char *errfile, const char *const *cmd, int timeout_ms, char **out, char **err)
{
    /* sh keeps stderr in a file; th_proc_run keeps only stdout. */
    const char *argv[48] = {"/bin/sh", "-c", "f=$1; shift; exec \"$@\" 2>\"$f\"", "sh", errfile};
    int n = 5;
    for (int i = 0; cmd[i] && n < 47; i++)
        argv[n++] = cmd[i];
    argv[n] = NULL;
    char *o = NULL;
    int rc = th_proc_run(argv, timeout_ms, &o);
    char *e = tv_slurp_path(errfile);
    *out = o ? o : strdup("");
    *err = e ? e : strdup("");
    return rc;
}
