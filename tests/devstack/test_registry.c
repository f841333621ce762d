/* cdc-registry-mock answers like a Confluent Schema Registry for the calls
 * the decoder makes: ids global and stable, schemas back byte for byte,
 * Confluent error codes, the Apicurio ccompat prefix, and --fail-first for
 * retry tests. */
#include "th.h"
#include "th_registry.h"

#include <jansson.h>

#define CT "application/vnd.schemaregistry.v1+json"

static const char *schema1 =
    "{\"type\":\"record\",\"name\":\"Value\",\"namespace\":\"db.public.orders\","
    "\"fields\":[{\"name\":\"id\",\"type\":\"int\"},"
    "{\"name\":\"note\",\"type\":[\"null\",\"string\"],\"default\":null,"
    "\"doc\":\"quotes \\\" and caf\xc3\xa9\"}]}";
static const char *schema2 = "{\"type\":\"string\"}";

/* GET @p path on @p r; returns the HTTP status, fills body (new). */
static long get(th_registry_t *r, const char *path, char **body, char **ctype)
{
    char url[512];
    long status = 0;
    snprintf(url, sizeof(url), "%s%s", r->url, path);
    TH_ASSERT(th_http_request(url, NULL, &status, body, ctype) == 0);
    return status;
}

/* The "schema" member of a GET /schemas/ids/N answer (new), or NULL. */
static char *schema_of(const char *body)
{
    json_t *js = json_loads(body, 0, NULL);
    const char *s = NULL;
    char *copy = NULL;
    if (js && json_unpack(js, "{s:s}", "schema", &s) == 0)
        copy = strdup(s);
    json_decref(js);
    return copy;
}

static long error_code_of(const char *body)
{
    json_t *js = json_loads(body, 0, NULL);
    json_int_t code = -1;
    if (js)
        json_unpack(js, "{s:I}", "error_code", &code);
    json_decref(js);
    return (long)code;
}

/* The schema a registry answer @p body (stolen) carries is @p want. */
static void check_schema(char *body, const char *want)
{
    char *s = schema_of(body);
    TH_CHECK_STR(s, want);
    free(s);
    free(body);
}

int main(void)
{
    th_registry_t r, flaky;
    char *body = NULL, *ctype = NULL;
    char subject1[128], subject2[128], path[256];

    snprintf(subject1, sizeof(subject1), "%s-value", th_unique("orders"));
    snprintf(subject2, sizeof(subject2), "%s-value", th_unique("other"));
    TH_ASSERT(th_registry_start(&r, 0) == 0);

    /* Ids start at 1; the same text under another subject keeps its id. */
    TH_CHECK_INT(th_registry_register(&r, subject1, schema1), 1);
    TH_CHECK_INT(th_registry_register(&r, subject2, schema1), 1);
    TH_CHECK_INT(th_registry_register(&r, subject2, schema2), 2);
    TH_CHECK_INT(th_registry_register(&r, subject1, schema1), 1);

    TH_CHECK_INT(get(&r, "/schemas/ids/1", &body, &ctype), 200);
    TH_CHECK_STR(ctype, CT);
    check_schema(body, schema1);
    free(ctype);

    TH_CHECK_INT(get(&r, "/schemas/ids/1/schema", &body, NULL), 200);
    TH_CHECK_STR(body, schema1);
    free(body);

    TH_CHECK_INT(get(&r, "/schemas/ids/999", &body, &ctype), 404);
    TH_CHECK_INT(error_code_of(body), 40403);
    TH_CHECK_STR(ctype, CT);
    free(body);
    free(ctype);

    TH_CHECK_INT(get(&r, "/subjects", &body, NULL), 200);
    TH_CHECK(body && strstr(body, subject1) && strstr(body, subject2));
    free(body);
    snprintf(path, sizeof(path), "/subjects/%s/versions", subject2);
    TH_CHECK_INT(get(&r, path, &body, NULL), 200);
    TH_CHECK_STR(body, "[1,2]");
    free(body);

    /* Apicurio's Confluent-compatible prefix reaches the same registry. */
    TH_CHECK_INT(get(&r, "/apis/ccompat/v7/schemas/ids/2", &body, NULL), 200);
    check_schema(body, schema2);
    TH_CHECK_INT(get(&r, "/apis/ccompat/v7/schemas/ids/3", &body, NULL), 404);
    TH_CHECK_INT(error_code_of(body), 40403);
    free(body);

    /* --fail-first 2: two 503s, then the real answer. */
    TH_ASSERT(th_registry_start(&flaky, 2) == 0);
    TH_CHECK_INT(th_registry_register(&flaky, subject1, schema2), 1);
    TH_CHECK_INT(get(&flaky, "/schemas/ids/1", &body, NULL), 503);
    free(body);
    TH_CHECK_INT(get(&flaky, "/schemas/ids/1", &body, NULL), 503);
    free(body);
    TH_CHECK_INT(get(&flaky, "/schemas/ids/1", &body, NULL), 200);
    check_schema(body, schema2);

    th_registry_stop(&flaky);
    th_registry_stop(&r);
    TH_DONE();
}
