/* cdc-apply: apply Debezium change topics to PostgreSQL. */
#include "app.h"
#include "apply_metrics_catalog.h"
#include "cdc/config.h"
#include "cdc/log.h"
#include "cdc/util.h"
#include "status_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    char errstr[CDC_ERRSTR_SIZE];
    /* The service's table plus the --status rows (consumer/status.c). */
    cdc_opt_def_t *defs = cdc_status_options_merge(cdc_apply_options);
    cdc_config_t *cfg = cdc_config_new(
        "cdc-apply",
        "--brokers LIST --group ID --topics LIST|^REGEX --target CONNINFO [--status] [options]",
        defs);
    cdc_config_on_help_markdown(cfg, cdc_apply_catalog_markdown);
    cdc_config_status_t st = cdc_config_parse(cfg, argc, argv, stdout, errstr, sizeof(errstr));
    if (st == CDC_CONFIG_OK && cdc_status_check_usage(cfg, errstr, sizeof(errstr)) != 0)
        st = CDC_CONFIG_ERROR;
    if (st != CDC_CONFIG_OK) {
        if (st == CDC_CONFIG_ERROR)
            fprintf(stderr, "cdc-apply: %s\n", errstr);
        cdc_config_destroy(cfg);
        free(defs);
        return st == CDC_CONFIG_EXIT ? 0 : 2;
    }
    cdc_log_init("cdc-apply", cdc_log_level_parse(cdc_config_get(cfg, "log-level")),
                 cdc_log_format_parse(cdc_config_get(cfg, "log-format")), NULL);
    if (cdc_config_get_bool(cfg, "status")) {
        int src = cdc_status_run(cfg, stdout, stderr);
        cdc_config_destroy(cfg);
        free(defs);
        return src;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cdc_app_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = cdc_app_run(cfg);
    cdc_config_destroy(cfg);
    free(defs);
    return rc;
}
