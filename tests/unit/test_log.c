/* Logger: levels filter before formatting, text and JSON are one line per
 * call, control characters are escaped. */
#include "th.h"

#include "cdc/log.h"

int main(void)
{
    TH_CHECK_INT(cdc_log_level_parse("debug"), CDC_LOG_DEBUG);
    TH_CHECK_INT(cdc_log_level_parse("loud"), -1);
    TH_CHECK_INT(cdc_log_format_parse("json"), CDC_LOG_JSON);

    FILE *f = tmpfile();
    cdc_log_init("cdc-test", CDC_LOG_INFO, CDC_LOG_TEXT, f);
    cdc_log_debug("hidden %d", 1);
    cdc_log_info("topic %s[%d]@%d applied\nsecond line", "orders", 3, 42);
    cdc_log_warn("warned");
    char *s = th_slurp(f);
    TH_CHECK_INT(th_count_lines(s), 2);
    TH_CHECK(strstr(s, "INFO  cdc-test: topic orders[3]@42 applied\\nsecond line\n") != NULL);
    TH_CHECK(strstr(s, "WARN  cdc-test: warned\n") != NULL);
    TH_CHECK(strstr(s, "hidden") == NULL);
    free(s);
    fclose(f);

    f = tmpfile();
    cdc_log_init("cdc-test", CDC_LOG_DEBUG, CDC_LOG_JSON, f);
    const char *kv[] = {"topic", "orders", "offset", "42", NULL};
    cdc_log_kv(CDC_LOG_ERROR, kv, "bad \"record\"\tx");
    cdc_log_debug("shown");
    cdc_log_rdkafka_cb(NULL, 4, "FAIL", "broker down");
    s = th_slurp(f);
    TH_CHECK_INT(th_count_lines(s), 3);
    TH_CHECK(strstr(s,
                    "\"level\":\"error\",\"prog\":\"cdc-test\",\"msg\":\"bad \\\"record\\\"\\tx\","
                    "\"topic\":\"orders\",\"offset\":\"42\"}\n") != NULL);
    TH_CHECK(
        strstr(s,
               "\"level\":\"warn\",\"prog\":\"cdc-test\",\"msg\":\"rdkafka FAIL: broker down\"") !=
        NULL);
    TH_CHECK(strncmp(s, "{\"ts\":\"", 7) == 0);
    free(s);
    fclose(f);
    TH_DONE();
}
