/* Helpers shared by the cdc-verify integration tests (see tv.h). */
#include "tv.h"

#include "th.h"
#include "th_proc.h"

#include <stdio.h>

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
