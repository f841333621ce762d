/* apply-route: --table-format and --key-columns split a qualified name at
 * its one unquoted dot, and a dot inside a source schema or table name is
 * part of that name.
 *
 * Schema "Sch.ema" and table ta"ble é used to be split at the expanded
 * name's first dot (schema "Sch", table "ema.ta"ble é"): refused as a
 * missing table, or applied to the wrong one if that existed. Routing is
 * checked through cdc_catalog_route() with the default and custom formats;
 * a format or --key-columns TABLE with two unquoted dots is refused at
 * start with a one-line error. (apply-catalog-mem and apply-names cover
 * the apply path end to end.) */
#include "th.h"

#include "catalog.h"

#include <string.h>

static void route(const char *fmt, const char *schema, const char *table, const char *topic,
                  const char *want_schema, const char *want_table)
{
    cdc_catalog_conf_t conf = {fmt, NULL, 0, false, false};
    char err[300] = "";
    cdc_catalog_t *cat = cdc_catalog_new(&conf, err, sizeof(err));
    TH_ASSERT(cat != NULL);
    cdc_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.db = "src";
    ev.schema = schema;
    ev.table = table;
    ev.topic = topic;
    char s[256], t[256];
    fprintf(stderr, "--- %s: %s / %s\n", fmt ? fmt : "(default)", schema, table);
    TH_CHECK_INT(cdc_catalog_route(cat, &ev, s, sizeof(s), t, sizeof(t)), 0);
    TH_CHECK_STR(s, want_schema);
    TH_CHECK_STR(t, want_table);
    cdc_catalog_destroy(cat);
}

static void refused(const char *fmt, const char *key_columns, const char *want)
{
    const char *kc[1] = {key_columns};
    cdc_catalog_conf_t conf = {fmt, kc, key_columns ? 1 : 0, false, false};
    char err[300] = "";
    cdc_catalog_t *cat = cdc_catalog_new(&conf, err, sizeof(err));
    TH_CHECK(cat == NULL);
    cdc_catalog_destroy(cat);
    fprintf(stderr, "refused: %s\n", err);
    TH_CHECK_STR(err, want);
}

int main(void)
{
    /* Default format: the parts are the event's own fields. */
    route(NULL, "Sch.ema", "ta\"ble é", "t", "Sch.ema", "ta\"ble é");
    route(NULL, "public", "a.b.c", "t", "public", "a.b.c");
    route(NULL, "plain", "orders", "t", "plain", "orders");
    route("${source.schema}.${source.table}", "Sch.ema", "x.y", "t", "Sch.ema", "x.y");
    /* Custom formats: literal text, quoted literals with dots, no dot. */
    route("archive.${source.schema}_${source.table}", "Sch.ema", "ta\"ble", "t", "archive",
          "Sch.ema_ta\"ble");
    route("\"my.arch\"\"ive\".${source.table}", "s", "é.t", "t", "my.arch\"ive", "é.t");
    route("${source.table}", "Sch.ema", "a.b", "t", "public", "a.b");
    route("public.${topic}", "s", "t", "srv.Sch.ema.tbl", "public", "srv_Sch_ema_tbl");
    route("\"${source.schema}.x\".${source.table}", "s", "t", "t", "s.x", "t");
    /* Names that cannot be split: one line, what to fix. */
    refused("a.b.${source.table}", NULL,
            "--table-format 'a.b.${source.table}': more than one unquoted '.' (quote a name "
            "that has a dot, e.g. \"my.schema\".table)");
    refused(".${source.table}", NULL,
            "--table-format '.${source.table}': empty schema or table name");
    refused("\"open.${source.table}", NULL,
            "--table-format '\"open.${source.table}': unterminated double quote");
    refused(NULL, "Sch.ema.tbl:id",
            "--key-columns 'Sch.ema.tbl:id': more than one unquoted '.' (quote a name that has "
            "a dot, e.g. \"my.schema\".table)");
    /* --key-columns with a quoted dotted schema parses. */
    const char *kc[2] = {"\"Sch.ema\".\"ta\"\"ble é\":id", "plain:a,b"};
    cdc_catalog_conf_t conf = {NULL, kc, 2, false, false};
    char err[300] = "";
    cdc_catalog_t *cat = cdc_catalog_new(&conf, err, sizeof(err));
    TH_CHECK(cat != NULL);
    cdc_catalog_destroy(cat);
    TH_DONE();
}
