/* cdc-apply: apply Debezium change topics to PostgreSQL. */
#include "cdc/app.h"
#include "cdc/config.h"
#include "cdc/log.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    char errstr[1024];
    cdc_config_t *cfg = cdc_config_new(
        "cdc-apply", "--brokers LIST --group ID --topics LIST|^REGEX --target CONNINFO [options]",
        cdc_apply_options);
    cdc_config_status_t st = cdc_config_parse(cfg, argc, argv, stdout, errstr, sizeof(errstr));
    if (st != CDC_CONFIG_OK) {
        if (st == CDC_CONFIG_ERROR)
            fprintf(stderr, "cdc-apply: %s\n", errstr);
        cdc_config_destroy(cfg);
        return st == CDC_CONFIG_EXIT ? 0 : 2;
    }
    cdc_log_init("cdc-apply", cdc_log_level_parse(cdc_config_get(cfg, "log-level")),
                 cdc_log_format_parse(cdc_config_get(cfg, "log-format")), NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cdc_app_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = cdc_app_run(cfg);
    cdc_config_destroy(cfg);
    return rc;
}
