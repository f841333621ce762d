/* cdc-decode, the program: plain JSON lines and kcat -J lines, from a file
 * and from stdin, give the golden events; a broken line fails the run
 * (exit 1) with file:line on stderr while every other line is still
 * printed; a bad flag is a usage error (exit 2).
 *
 * Inputs are built from golden cases (tests/fixtures/decode), so the
 * expected lines are their expected.json with the position the CLI gives:
 * plain input has no Kafka offset, so "offset" is the record's index. */
#include "th.h"
#include "th_proc.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cdc/buf.h"

static char tmpdir[256];

static char *golden(const char *name, const char *file)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/fixtures/decode/%s/%s", th_source_root(), name, file);
    return th_read_file(path, NULL);
}

/* A golden JSON file as one compact line (no newline). */
static void compact(const char *name, const char *file, cdc_buf_t *out)
{
    char *text = golden(name, file);
    TH_ASSERT(text);
    json_t *js = json_loads(text, JSON_DECODE_ANY, NULL);
    TH_ASSERT(js);
    char *s = json_dumps(js, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    cdc_buf_puts(out, s);
    free(s);
    json_decref(js);
    free(text);
}

/* expected.json of a case with "offset":42 (the golden runner's) replaced. */
static void expect(const char *name, long offset, cdc_buf_t *out)
{
    char *text = golden(name, "expected.json");
    TH_ASSERT(text);
    char *at = strstr(text, "\"offset\":42,");
    TH_ASSERT(at);
    cdc_buf_append(out, text, (size_t)(at - text));
    cdc_buf_printf(out, "\"offset\":%ld,", offset);
    cdc_buf_puts(out, at + strlen("\"offset\":42,"));
    free(text);
}

/* One kcat -J line carrying a golden case's key and value as text. */
static void kcat_line(const char *name, long offset, cdc_buf_t *out)
{
    cdc_buf_t key = CDC_BUF_INIT, val = CDC_BUF_INIT;
    compact(name, "key.json", &key);
    compact(name, "value.json", &val);
    json_t *js = json_pack("{s:s,s:i,s:I,s:s,s:I,s:s,s:s}", "topic", "dbserver1.public.t",
                           "partition", 0, "offset", (json_int_t)offset, "tstype", "create", "ts",
                           (json_int_t)1700000000999, "key", key.data, "payload", val.data);
    TH_ASSERT(js);
    char *s = json_dumps(js, JSON_COMPACT | JSON_PRESERVE_ORDER);
    cdc_buf_puts(out, s);
    cdc_buf_putc(out, '\n');
    free(s);
    json_decref(js);
    cdc_buf_free(&key);
    cdc_buf_free(&val);
}

static void write_file(const char *name, const cdc_buf_t *b)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    TH_ASSERT(f);
    fwrite(b->data, 1, b->len, f);
    fclose(f);
}

/* Run cdc-decode through sh (for the redirections): @p args is appended to
 * the command line, stdin from @p in_file (or /dev/null). Returns the exit
 * status; *out and *err get stdout and stderr (new). */
static int run(const char *args, const char *in_file, char **out, char **err)
{
    char script[2048], errpath[512];
    snprintf(errpath, sizeof(errpath), "%s/stderr", tmpdir);
    snprintf(script, sizeof(script), "cd '%s' && exec '%s/cdc-decode' %s <'%s' 2>'%s'", tmpdir,
             th_build_root(), args, in_file ? in_file : "/dev/null", errpath);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    int rc = th_proc_run(argv, 20000, out);
    *err = th_read_file(errpath, NULL);
    if (!*err)
        *err = strdup("");
    if (!*out)
        *out = strdup("");
    return rc;
}

static void cleanup(void *arg)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (const char *)arg);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", (const char *)arg);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/cdc-cli-decode-XXXXXX");
    TH_ASSERT(mkdtemp(tmpdir));
    th_cleanup_push(cleanup, tmpdir);

    /* Plain lines: three golden values (no key: plain input has none). */
    static const char *const plain[] = {"json-op-truncate", "json-placeholder-bare",
                                        "json-op-message"};
    cdc_buf_t in = CDC_BUF_INIT, want = CDC_BUF_INIT;
    for (int i = 0; i < 3; i++) {
        compact(plain[i], "value.json", &in);
        cdc_buf_putc(&in, '\n');
        expect(plain[i], i, &want);
    }
    write_file("plain.jsonl", &in);

    char *out, *err;
    int rc = run("--topic dbserver1.public.t plain.jsonl", NULL, &out, &err);
    TH_CHECK_INT(rc, 0);
    TH_CHECK_STR(out, want.data);
    free(out);
    free(err);

    /* The same through stdin, once implicitly and once as "-". */
    char inpath[512];
    snprintf(inpath, sizeof(inpath), "%s/plain.jsonl", tmpdir);
    rc = run("--topic dbserver1.public.t", inpath, &out, &err);
    TH_CHECK_INT(rc, 0);
    TH_CHECK_STR(out, want.data);
    free(out);
    free(err);
    rc = run("--topic dbserver1.public.t -", inpath, &out, &err);
    TH_CHECK_INT(rc, 0);
    TH_CHECK_STR(out, want.data);
    free(out);
    free(err);

    /* kcat -J lines: topic, partition, offset and key come from the line. */
    static const char *const keyed[] = {"json-op-update-full", "json-op-delete"};
    cdc_buf_t kin = CDC_BUF_INIT, kwant = CDC_BUF_INIT;
    for (int i = 0; i < 2; i++) {
        kcat_line(keyed[i], 42, &kin);
        expect(keyed[i], 42, &kwant);
    }
    write_file("kcat.jsonl", &kin);
    rc = run("kcat.jsonl", NULL, &out, &err);
    TH_CHECK_INT(rc, 0);
    TH_CHECK_STR(out, kwant.data);
    free(out);
    free(err);
    char kpath[512];
    snprintf(kpath, sizeof(kpath), "%s/kcat.jsonl", tmpdir);
    rc = run("", kpath, &out, &err);
    TH_CHECK_INT(rc, 0);
    TH_CHECK_STR(out, kwant.data);
    free(out);
    free(err);

    /* A broken line (an unterminated object) between good ones: exit 1,
     * file:line and the record position on stderr, the good lines printed
     * (the broken one must not swallow the line after it). */
    cdc_buf_t bad = CDC_BUF_INIT, bwant = CDC_BUF_INIT;
    compact(plain[0], "value.json", &bad);
    cdc_buf_puts(&bad, "\n{\"before\": {\"id\": 1,\n");
    compact(plain[1], "value.json", &bad);
    cdc_buf_putc(&bad, '\n');
    expect(plain[0], 0, &bwant);
    expect(plain[1], 2, &bwant);
    write_file("bad.jsonl", &bad);
    rc = run("--topic dbserver1.public.t bad.jsonl", NULL, &out, &err);
    TH_CHECK_INT(rc, 1);
    TH_CHECK_STR(out, bwant.data);
    TH_CHECK(strstr(err, "bad.jsonl:2:") != NULL);
    TH_CHECK(strstr(err, "dbserver1.public.t[0]@1") != NULL);
    TH_CHECK(strstr(err, "invalid JSON") != NULL);
    fprintf(stderr, "bad line: %s", err);
    free(out);
    free(err);

    /* The same from stdin names <stdin>. */
    char bpath[512];
    snprintf(bpath, sizeof(bpath), "%s/bad.jsonl", tmpdir);
    rc = run("--topic dbserver1.public.t", bpath, &out, &err);
    TH_CHECK_INT(rc, 1);
    TH_CHECK_STR(out, bwant.data);
    TH_CHECK(strstr(err, "<stdin>:2:") != NULL);
    free(out);
    free(err);

    /* Usage errors: exit 2, one line naming the problem, nothing decoded. */
    rc = run("--bogus plain.jsonl", NULL, &out, &err);
    TH_CHECK_INT(rc, 2);
    TH_CHECK_STR(out, "");
    TH_CHECK(strstr(err, "--bogus") != NULL);
    free(out);
    free(err);
    rc = run("--format xml plain.jsonl", NULL, &out, &err);
    TH_CHECK_INT(rc, 2);
    TH_CHECK(strstr(err, "format") != NULL);
    free(out);
    free(err);

    cdc_buf_free(&in);
    cdc_buf_free(&want);
    cdc_buf_free(&kin);
    cdc_buf_free(&kwant);
    cdc_buf_free(&bad);
    cdc_buf_free(&bwant);
    TH_DONE();
}
