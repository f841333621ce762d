/* Schema registry client: GET {url}/schemas/ids/{id} (Confluent, and
 * Apicurio's ccompat API at .../apis/ccompat/v7). Ids are immutable, so the
 * decoder caches each answer forever and this runs once per id. */
#include "decode_int.h"

#include "cdc/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

struct dreg {
    char *url;
    char *shown; /* url with its userinfo password hidden: for messages */
    int timeout_ms;
    int retries;
    CURL *curl;
};

dreg_t *dreg_new(const char *url, int timeout_ms, int retries)
{
    static int curl_ready;
    if (!curl_ready) {
        /* Not thread-safe by libcurl's rules; decoders are created at
         * start-up, before consumer threads exist. */
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = 1;
    }
    dreg_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    r->url = strndup(url, n);
    /* Messages end up in logs and in cdc.dead_letter.error: never the
     * password of http://user:pw@host. */
    r->shown = r->url ? cdc_redact_strdup(r->url) : NULL;
    r->timeout_ms = timeout_ms;
    r->retries = retries;
    r->curl = curl_easy_init();
    if (!r->url || !r->curl) {
        dreg_destroy(r);
        return NULL;
    }
    return r;
}

void dreg_destroy(dreg_t *r)
{
    if (!r)
        return;
    if (r->curl)
        curl_easy_cleanup(r->curl);
    free(r->url);
    free(r->shown);
    free(r);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *opaque)
{
    cdc_buf_t *b = opaque;
    /* A schema response is a few KB; refuse absurd bodies. */
    if (b->len + size * nmemb > (16u << 20))
        return 0;
    cdc_buf_append(b, p, size * nmemb);
    return size * nmemb;
}

int dreg_parse_response(const char *body, size_t len, char **out, char *err, size_t errsz)
{
    json_error_t jerr;
    json_t *js = json_loadb(body, len, 0, &jerr);
    if (!js) {
        snprintf(err, errsz, "expected a JSON registry response, found invalid JSON (%s)",
                 jerr.text);
        return -1;
    }
    int rc = -1;
    const char *type = json_string_value(json_object_get(js, "schemaType"));
    const char *schema = json_string_value(json_object_get(js, "schema"));
    if (type && strcmp(type, "AVRO") != 0) {
        snprintf(err, errsz,
                 "expected an Avro schema, found schemaType %.32s: use the matching converter "
                 "format",
                 type);
    } else if (!schema) {
        snprintf(err, errsz, "expected {\"schema\": \"...\"} in the registry response");
    } else {
        *out = strdup(schema);
        rc = *out ? 0 : -1;
    }
    json_decref(js);
    return rc;
}

/* The "error_code" of a Confluent-style error body, 0 when there is none. */
static long error_code(const cdc_buf_t *body)
{
    json_t *js = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    json_t *code = json_object_get(js, "error_code");
    long v = json_is_integer(code) ? (long)json_integer_value(code) : 0;
    json_decref(js);
    return v;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int dreg_fetch(dreg_t *r, int64_t id, char **out, cdc_err_class_t *cls, char *err, size_t errsz)
{
    char url[2048];
    snprintf(url, sizeof(url), "%s/schemas/ids/%lld", r->url, (long long)id);
    struct curl_slist *hdrs =
        curl_slist_append(NULL, "Accept: application/vnd.schemaregistry.v1+json");
    cdc_buf_t body = CDC_BUF_INIT;
    int rc = -1;
    long backoff = 100;
    *cls = CDC_ERR_RETRIABLE;
    for (int attempt = 1; attempt <= r->retries; attempt++) {
        cdc_buf_reset(&body);
        curl_easy_reset(r->curl);
        curl_easy_setopt(r->curl, CURLOPT_URL, url);
        curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(r->curl, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
        curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)r->timeout_ms);
        curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, &body);
        CURLcode cc = curl_easy_perform(r->curl);
        long status = 0;
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
        if (cc != CURLE_OK) {
            snprintf(err, errsz,
                     "schema registry %s unreachable after %d attempt(s) (%s): is it running "
                     "and is --schema-registry right?",
                     r->shown, attempt, curl_easy_strerror(cc));
        } else if (status == 200) {
            rc = dreg_parse_response(body.data ? body.data : "", body.len, out, err, errsz);
            *cls = CDC_ERR_POISON;
            break;
        } else if (status == 404) {
            /* Confluent-style registries say which 404 it is: 40403 is "no
             * schema with this id" (this record is bad); another code (the
             * mock and Confluent answer 404/404 for an unknown path) means
             * the URL is wrong, which would fail every record: fatal. */
            long code = error_code(&body);
            if (code > 0 && code != 40403) {
                snprintf(err, errsz,
                         "schema registry %s answered HTTP 404 (error_code %ld) for "
                         "/schemas/ids/%lld: the URL looks wrong; check --schema-registry "
                         "(Apicurio: .../apis/ccompat/v7)",
                         r->shown, code, (long long)id);
                *cls = CDC_ERR_FATAL;
                break;
            }
            snprintf(err, errsz,
                     "schema id %lld not found in the registry %s (HTTP 404%s): was the topic "
                     "written against another registry, or (Apicurio) with globalId vs "
                     "contentId ids?",
                     (long long)id, r->shown, code == 40403 ? ", error_code 40403" : "");
            *cls = CDC_ERR_POISON;
            break;
        } else if (status >= 500 || status == 429 || status == 408) {
            snprintf(err, errsz, "schema registry %s answered HTTP %ld after %d attempt(s)",
                     r->shown, status, attempt);
        } else {
            snprintf(err, errsz,
                     "schema registry %s answered HTTP %ld for id %lld: check the URL "
                     "(Apicurio: .../apis/ccompat/v7) and credentials",
                     r->shown, status, (long long)id);
            *cls = CDC_ERR_FATAL;
            break;
        }
        if (attempt < r->retries) {
            sleep_ms(backoff);
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
        }
    }
    if (rc == 0)
        *cls = CDC_ERR_NONE;
    curl_slist_free_all(hdrs);
    cdc_buf_free(&body);
    return rc;
}
