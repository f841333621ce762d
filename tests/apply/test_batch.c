/* Unit test of per-key compaction (consumer/batch.c): invariants 2 and 6
 * at the level of one batch. Events are decoded from small hand-made
 * Debezium JSON records (so the batch can free them as it does in
 * cdc-apply); the target table is built by hand: t(id key, qty, note).
 *
 * Each case is a sequence of records; the expectation is the batch's steps
 * written as a string: steps separated by " | ", "T" for a truncate, and
 * per entry "<kind><id>:<qty>/<note>" with "-" for a column left out (so
 * the stored value is kept) and "~" for an explicit NULL. Kinds: u upsert,
 * d delete, r replace (deleted, then created again within the batch: the
 * writer deletes, then inserts, so no column keeps a pre-delete value). An
 * update whose before image holds another key (REPLICA IDENTITY FULL)
 * deletes that key first. */
#include "ta.h"
#include "th.h"

#include "batch.h"
#include "cdc/buf.h"
#include "cdc/decode.h"
#include "cdc/util.h"

#define PH "__debezium_unavailable_value"

static const ta_field_t fields[] = {
    {"id", "int64", false}, {"qty", "int32", true}, {"note", "string", true}};

typedef struct rec {
    char op; /* c u d t; 'D' = delete without key or before image */
    long long id;
    int qty;          /* -1: null */
    const char *note; /* NULL: null; PH: unavailable */
    long long from;   /* 'u' only, not 0: the before image's id (a key change) */
} rec_t;

typedef struct bcase {
    const char *name;
    rec_t recs[8];
    size_t n;
    const char *want; /* steps, or the error text substring when POISON */
    bool poison;
} bcase_t;

static const bcase_t cases[] = {
    {"U-D-U of one key compacts to a replace by the last U",
     {{'u', 1, 10, "a"}, {'d', 1, 0, NULL}, {'u', 1, 30, "c"}},
     3,
     "r1:30/c",
     false},
    {"D then C of a key is a replace with C's row",
     {{'d', 2, 0, NULL}, {'c', 2, 5, "new"}},
     2,
     "r2:5/new",
     false},
    {"U-U of one key stays an upsert", {{'u', 2, 5, "a"}, {'u', 2, 6, "b"}}, 2, "u2:6/b", false},
    {"C then D is a delete", {{'c', 2, 5, "x"}, {'d', 2, 0, NULL}}, 2, "d2", false},
    {"unavailable TOAST column takes the earlier change's value",
     {{'c', 3, 1, "long text"}, {'u', 3, 2, PH}},
     2,
     "u3:2/long text",
     false},
    {"unavailable TOAST column with no earlier change stays out",
     {{'u', 4, 7, PH}},
     1,
     "u4:7/-",
     false},
    {"a delete in between drops the earlier value: the column stays out",
     {{'c', 5, 1, "old"}, {'d', 5, 0, NULL}, {'u', 5, 2, PH}},
     3,
     "r5:2/-",
     false},
    {"explicit NULL is data, not a placeholder",
     {{'c', 6, 1, "x"}, {'u', 6, -1, NULL}},
     2,
     "u6:~/~",
     false},
    {"keys keep their first-arrival order; the last change of each wins",
     {{'c', 1, 1, "a"}, {'c', 2, 2, "b"}, {'u', 1, 3, "c"}, {'d', 2, 0, NULL}},
     4,
     "u1:3/c d2",
     false},
    /* The truncate wipes what came before it: never written ("-"). */
    {"truncate is a barrier: no compaction across it",
     {{'c', 7, 1, "a"}, {'t', 0, 0, NULL}, {'u', 7, 2, "b"}, {'c', 8, 3, "c"}},
     4,
     "- | T | u7:2/b u8:3/c",
     false},
    {"TOAST value does not come from before a truncate",
     {{'c', 9, 1, "kept?"}, {'t', 0, 0, NULL}, {'u', 9, 2, PH}},
     3,
     "- | T | u9:2/-",
     false},
    {"a key change (before holds another key) deletes the old key",
     {{'u', 2, 5, "b", 1}},
     1,
     "d1 u2:5/b",
     false},
    {"key changes back and forth keep each key's order",
     {{'c', 1, 1, "a"}, {'u', 2, 2, "b", 1}, {'u', 1, 3, "c", 2}},
     3,
     "r1:3/c d2",
     false},
    {"missing key is a POISON naming the column",
     {{'D', 10, 0, NULL}},
     1,
     "no value for key column \"id\"",
     true},
};

static json_t *image(const rec_t *r)
{
    json_t *o = json_pack("{s:I}", "id", (json_int_t)r->id);
    json_object_set_new(o, "qty", r->qty < 0 ? json_null() : json_integer(r->qty));
    json_object_set_new(o, "note", r->note ? json_string(r->note) : json_null());
    return o;
}

static void describe(const cdc_batch_t *b, cdc_buf_t *out)
{
    for (size_t i = 0; i < b->nsteps; i++) {
        const cdc_step_t *s = &b->steps[i];
        if (i)
            cdc_buf_puts(out, " | ");
        if (s->kind == CDC_STEP_TRUNCATE) {
            cdc_buf_puts(out, "T");
            continue;
        }
        if (!s->nentries) /* emptied by a truncate after it */
            cdc_buf_puts(out, "-");
        for (size_t j = 0; j < s->nentries; j++) {
            const cdc_entry_t *e = &s->entries[j];
            /* The key value as the entry will write it (column 0, id). */
            const cdc_col_t *id = e->vals[0];
            cdc_buf_printf(out, "%s%c%.*s", j ? " " : "", e->kind, id ? (int)id->len : 1,
                           id ? id->text : "?");
            if (e->kind == 'd')
                continue;
            for (size_t c = 1; c < 3; c++) {
                const cdc_col_t *v = e->vals[c];
                cdc_buf_puts(out, c == 1 ? ":" : "/");
                if (!v)
                    cdc_buf_puts(out, "-");
                else if (v->state == CDC_VAL_NULL)
                    cdc_buf_puts(out, "~");
                else
                    cdc_buf_append(out, v->text, v->len);
            }
        }
    }
}

int main(void)
{
    cdc_tcol_t cols[3] = {{"id", "bigint", true, false},
                          {"qty", "integer", false, false},
                          {"note", "text", false, false}};
    for (size_t c = 0; c < 3; c++)
        cols[c].canon = cdc_canon_type_from_name(cols[c].type);
    size_t key[1] = {0};
    cdc_table_t t = {.schema = "public",
                     .name = "t",
                     .qname = "\"public\".\"t\"",
                     .label = "public.t",
                     .cols = cols,
                     .ncols = 3,
                     .key = key,
                     .nkey = 1,
                     .key_unique = true};
    cdc_decoder_conf_t dc = {.format = CDC_FORMAT_JSON};
    char err[CDC_ERRSTR_SIZE];
    cdc_decoder_t *dec = cdc_decoder_new(&dc, err, sizeof(err));
    TH_ASSERT(dec);

    for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
        const bcase_t *c = &cases[ci];
        cdc_batch_t b;
        cdc_batch_init(&b, free);
        bool poisoned = false;
        char perr[512] = "";
        for (size_t i = 0; i < c->n && !poisoned; i++) {
            const rec_t *r = &c->recs[i];
            char op = r->op == 'D' ? 'd' : r->op;
            rec_t old = *r;
            old.id = r->from;
            json_t *before = (op == 'd' && r->op != 'D') ? image(r)
                             : (op == 'u' && r->from)    ? image(&old)
                                                         : NULL;
            json_t *after = (op == 'c' || op == 'u') ? image(r) : NULL;
            char *val = ta_dbz_value("public", "t", op, fields, 3, before, after);
            /* Truncates and keyless deletes have a null Kafka key. */
            char *k = (op == 't' || r->op == 'D') ? NULL : ta_dbz_key("id", r->id);
            cdc_record_t rec = {.topic = "srv.public.t",
                                .partition = 0,
                                .offset = (int64_t)i,
                                .timestamp_ms = -1,
                                .key = k,
                                .key_len = k ? strlen(k) : 0,
                                .value = val,
                                .value_len = strlen(val)};
            cdc_event_t *ev = NULL;
            cdc_err_class_t cls = CDC_ERR_NONE;
            if (cdc_decoder_decode(dec, &rec, &ev, &cls, err, sizeof(err)) != 0) {
                fprintf(stderr, "%s: record %zu does not decode: %s\n", c->name, i, err);
                TH_CHECK(0);
                free(k);
                free(val);
                continue;
            }
            /* The batch keeps views into the message: hand it the value
             * buffer to free, as cdc-apply hands it the Kafka message. */
            size_t idx = cdc_batch_add_item(&b, val, &rec, ev, -1);
            free(k);
            if (cdc_batch_add_change(&b, idx, &t, &cls, perr, sizeof(perr)) != 0) {
                poisoned = true;
                TH_CHECK_INT(cls, CDC_ERR_POISON);
            }
        }
        if (c->poison) {
            if (!poisoned || !strstr(perr, c->want))
                fprintf(stderr, "%s: want POISON with '%s', got '%s'\n", c->name, c->want, perr);
            TH_CHECK(poisoned && strstr(perr, c->want));
            TH_CHECK(strstr(perr, "srv.public.t[0]@0") != NULL); /* names the record */
        } else {
            TH_CHECK(!poisoned);
            cdc_buf_t got = CDC_BUF_INIT;
            describe(&b, &got);
            cdc_buf_putc(&got, '\0');
            if (strcmp(got.data, c->want))
                fprintf(stderr, "%s:\n  got:  %s\n  want: %s\n", c->name, got.data, c->want);
            TH_CHECK(!strcmp(got.data, c->want));
            cdc_buf_free(&got);
            /* The batch covers every record's offset in its partition. */
            TH_CHECK_INT(b.nparts, 1);
            TH_CHECK_INT(b.parts[0].last_offset, (long long)c->n - 1);
        }
        cdc_batch_free(&b);
    }
    cdc_decoder_destroy(dec);
    TH_DONE();
}
