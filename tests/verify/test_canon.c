/*
 * Known-answer vectors for the canonical row encoding. The payloads and the
 * digests below are the encoding: if one of them changes, every stored
 * digest (cdc.table_digests, apply-time digests) silently stops matching,
 * so a failure here means "bump the encoding version", never "update the
 * expected value".
 */
#include "th.h"

#include "cdc/canon.h"
#include "cdc/util.h"

#include "../../core/canon_int.h" /* the tag table: canon_kinds, CANON_TAG_* */

static char g_err[256];

/* Encode and return the framed bytes as a new buffer. */
static cdc_buf_t enc(const char *type, const char *text)
{
    cdc_buf_t b = CDC_BUF_INIT;
    g_err[0] = '\0';
    if (cdc_canon_encode(cdc_canon_type_from_name(type), text, text ? strlen(text) : 0, &b, g_err,
                         sizeof g_err))
        cdc_buf_puts(&b, "<error>");
    return b;
}

/* Payload of a single framed value as a C string ("" for NULL). */
static const char *payload_of(const cdc_buf_t *b, char *tag)
{
    static char out[512];
    const unsigned char *p;
    size_t n;
    unsigned char t;
    size_t fl = cdc_canon_frame((const unsigned char *)b->data, b->len, &t, &p, &n);
    if (!fl || fl != b->len || n >= sizeof out)
        return "<bad frame>";
    memcpy(out, p, n);
    out[n] = '\0';
    *tag = (char)t;
    return out;
}

static const struct {
    const char *type, *in;
    char tag;
    const char *payload;
} vectors[] = {
    {"int4", "42", 'N', "42"},
    {"int8", "-9223372036854775808", 'N', "-9223372036854775808"},
    {"int2", "0", 'N', "0"},
    {"numeric", "12.30", 'N', "12.3"},
    {"numeric", "-0.000", 'N', "0"},
    {"numeric", "0.0010", 'N', "0.001"},
    {"numeric", "1200", 'N', "1200"},
    {"numeric", "1.2E+3", 'N', "1200"},
    {"numeric", "NaN", 'N', "NaN"},
    {"numeric", "-Infinity", 'N', "-Infinity"},
    {"float8", "0.1", 'F', "0.1"},
    {"float8", "-0", 'F', "0"},
    {"float8", "1e+20", 'F', "1e+20"},
    {"float8", "0.30000000000000004", 'F', "0.30000000000000004"},
    {"float8", "Infinity", 'F', "Infinity"},
    /* A real is the double it promotes to (PostgreSQL's real = float8). */
    {"float4", "0.1", 'F', "0.10000000149011612"},
    {"float4", "3.1415927", 'F', "3.1415927410125732"},
    {"date", "1970-01-01", 'D', "0"},
    {"date", "2018-06-20", 'D', "17702"},
    {"date", "1969-12-31", 'D', "-1"},
    {"date", "infinity", 'D', "infinity"},
    {"time", "00:00:01.5", 'T', "1500000"},
    {"time", "23:59:59.999999", 'T', "86399999999"},
    {"timetz", "12:00:00+02", 'Z', "43200000000@7200"},
    {"timestamp", "2018-06-20 15:13:16.945104", 'P', "1529507596945104"},
    {"timestamptz", "2018-06-20 13:37:03.03+00", 'P', "1529501823030000"},
    {"timestamptz", "-infinity", 'P', "-infinity"},
    {"text", "héllo", 'S', "héllo"},
    {"bpchar", "ab   ", 'S', "ab"},
    {"bytea", "\\x0102", 'B', "\x01\x02"},
    {"bool", "t", 'b', "t"},
    {"bool", "false", 'b', "f"},
    {"uuid", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", 'U', "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {"jsonb", "{\"b\": 1, \"a\": [1.0, \"x\", null]}", 'J', "{\"a\":[1,\"x\",null],\"b\":1}"},
    {"interval", "P1DT2H", 'I', "93600000000"},
    {"interval", "PT0S", 'I', "0"},
    {"inet", "10.0.0.1/32", 'O', "10.0.0.1/32"},
};

/* Pairs that are the same value written two ways: must encode equal. */
static const struct {
    const char *type, *a, *b;
} equal_pairs[] = {
    {"numeric", "1.5", "1.50"},
    {"numeric", "12.30", "12.3"},
    {"numeric", "007", "7"},
    {"numeric", "1e2", "100"},
    {"int8", "+5", "5"},
    {"int4", "-0", "0"},
    {"float8", "-0", "0"},
    {"float8", "-0.0", "0.0"},
    {"float8", "1.5e-05", "0.000015"},
    {"float8", "1E+20", "100000000000000000000"},
    {"float4", "0.100000001", "0.1"},
    {"timestamptz", "2018-06-20 15:37:03.03+02", "2018-06-20 13:37:03.03+00"},
    {"timestamptz", "2018-06-20T13:37:03.030Z", "2018-06-20 13:37:03.03+00"},
    {"timestamptz", "2018-06-20 13:37:03.03+00:00", "2018-06-20 13:37:03.03+00"},
    {"timestamptz", "2018-06-20 13:37:03.0300001+00", "2018-06-20 13:37:03.03+00"},
    {"timestamp", "2018-06-20T15:13:16.945104", "2018-06-20 15:13:16.945104"},
    {"timestamp", "2018-06-20 15:13:16.945104+05", "2018-06-20 15:13:16.945104"},
    {"timestamp", "2018-06-20 00:00:00", "2018-06-20"},
    {"date", "2018-6-20", "2018-06-20"},
    {"bpchar", "ab", "ab    "},
    {"character(5)", "x", "x    "},
    {"bytea", "\\x0A0b", "\\x0a0b"},
    {"bytea", "ab\\\\\\001", "\\x61625c01"},
    {"bool", "true", "t"},
    {"uuid", "{a0eebc99-9c0b4ef8-bb6d6bb9bd380a11}", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
    {"jsonb", "{\"a\":1,\"b\":2}", "{\"b\": 2, \"a\": 1}"},
    {"jsonb", "{\"a\":1.0}", "{\"a\":1}"},
    {"json", "{\"a\":1,\"a\":2}", "{\"a\":2}"},
    {"interval", "P1D", "PT24H"},
    {"interval", "P1M", "P30D"},
    {"interval", "1 day 02:00:00", "P1DT2H"},
    {"interval", "-1 days +02:03:00", "P-1DT2H3M"},
    {"interval", "PT1.5S", "00:00:01.5"},
    {"_int4", "{1,2,NULL}", "{ 1 , 2 , null }"},
    {"_numeric", "{1.50,2}", "{1.5,2.000}"},
    {"text[]", "{\"a,b\",c}", "{\"a,b\",\"c\"}"},
    {"_timestamptz", "{\"2018-06-20 13:37:03+00\"}", "{\"2018-06-20 15:37:03+02\"}"},
    /* json numbers are exact decimals, equal as jsonb's numeric "=" says */
    {"jsonb", "[1.0, 1, 1e0, 10e-1, -0]", "[1,1,1,1,0]"},
    {"json", "{\"a\":1E+2}", "{\"a\":100.00}"},
    {"jsonb", "{\"a\":1e309}",
     "{\"a\":1000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
     "0000000000000000000000000000000000000000000000000000000}"},
    {"jsonb", "{\"\\u0041\":\"\\u00e9\\ud83d\\ude00\"}", "{\"A\":\"\xc3\xa9\xf0\x9f\x98\x80\"}"},
    {"jsonb", "\"a\\/b\"", "\"a/b\""},
};

/* Values that are different: must encode differently. */
static const struct {
    const char *type, *a, *b;
} diff_pairs[] = {
    {"text", "", NULL},
    {"text", "NULL", NULL},
    {"text", "a ", "a"},
    {"numeric", "1.5", "1.51"},
    {"numeric", "NaN", "0"},
    {"float8", "0.1", "0.10000000000000002"},
    {"timestamp", "2018-06-20 15:13:16.945104", "2018-06-20 15:13:16.945105"},
    {"timetz", "12:00:00+02", "10:00:00+00"},
    {"bytea", "\\x00", "\\x"},
    {"jsonb", "{\"a\":[1,2]}", "{\"a\":[2,1]}"},
    {"jsonb", "{\"a\":\"1\"}", "{\"a\":1}"},
    {"_int4", "{1,NULL}", "{1}"},
    {"_int4", "{{1,2},{3,4}}", "{1,2,3,4}"},
    {"_text", "{\"\"}", "{NULL}"},
    {"_int4", "[0:1]={1,2}", "{1,2}"},
    /* json numbers beyond double precision (issue #11) */
    {"jsonb", "9007199254740993", "9007199254740992"},
    {"jsonb", "{\"a\":1e-400}", "{\"a\":0}"},
    {"jsonb", "[0.1]", "[0.10000000000000001]"},
    {"json", "12345678901234567890123", "12345678901234567890124"},
    /* what json stores and jsonb would not: kept exactly */
    {"json", "{\"a\\u0000b\":1}", "{\"ab\":1}"},
    {"json", "\"\\ud83d\"", "\"\\ud83e\""},
    {"json", "\"\\ud83d\"", "\"\\\\ud83d\""},
    {"json", "1e999999999", "1e999999998"},
};

static bool same(const cdc_buf_t *a, const cdc_buf_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void check_vectors(void)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        cdc_buf_t b = enc(vectors[i].type, vectors[i].in);
        char tag = 0;
        const char *p = payload_of(&b, &tag);
        if (tag != vectors[i].tag || strcmp(p, vectors[i].payload) != 0) {
            fprintf(stderr, "vector %zu (%s '%s'): got tag %c payload '%s' %s\n", i,
                    vectors[i].type, vectors[i].in, tag, p, g_err);
            th_failures++;
        }
        cdc_buf_free(&b);
    }
}

static void check_pairs(void)
{
    for (size_t i = 0; i < sizeof equal_pairs / sizeof equal_pairs[0]; i++) {
        cdc_buf_t a = enc(equal_pairs[i].type, equal_pairs[i].a);
        cdc_buf_t b = enc(equal_pairs[i].type, equal_pairs[i].b);
        if (!same(&a, &b) || strstr(a.data, "<error>")) {
            fprintf(stderr, "equal pair %zu (%s) '%s' vs '%s' differ: %s\n", i, equal_pairs[i].type,
                    equal_pairs[i].a, equal_pairs[i].b, g_err);
            th_failures++;
        }
        cdc_buf_free(&a);
        cdc_buf_free(&b);
    }
    for (size_t i = 0; i < sizeof diff_pairs / sizeof diff_pairs[0]; i++) {
        cdc_buf_t a = enc(diff_pairs[i].type, diff_pairs[i].a);
        cdc_buf_t b = enc(diff_pairs[i].type, diff_pairs[i].b);
        if (same(&a, &b) || strstr(a.data, "<error>") || strstr(b.data ? b.data : "", "<error>")) {
            fprintf(stderr, "different pair %zu (%s) '%s' vs '%s' encode equal or fail: %s\n", i,
                    diff_pairs[i].type, diff_pairs[i].a, diff_pairs[i].b ? diff_pairs[i].b : "NULL",
                    g_err);
            th_failures++;
        }
        cdc_buf_free(&a);
        cdc_buf_free(&b);
    }
}

static void check_invalid(void)
{
    static const char *const bad[][2] = {
        {"int4", "12a"}, {"numeric", "1.2.3"},    {"date", "2018-13-01"},
        {"uuid", "xyz"}, {"bool", "maybe"},       {"bytea", "\\x0"},
        {"jsonb", "{"},  {"timestamptz", "noon"}, {"_int4", "{1,2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cdc_buf_t b = CDC_BUF_INIT;
        char err[CDC_ERRSTR_SIZE] = "";
        int rc = cdc_canon_encode(cdc_canon_type_from_name(bad[i][0]), bad[i][1], strlen(bad[i][1]),
                                  &b, err, sizeof err);
        TH_CHECK(rc == -1);
        TH_CHECK(b.len == 0);
        TH_CHECK(strstr(err, "invalid") != NULL);
        cdc_buf_free(&b);
    }
}

static uint64_t row2(const char *t1, const char *v1, const char *t2, const char *v2)
{
    cdc_canon_col_t cols[2] = {
        {"id", cdc_canon_type_from_name(t1), 0, v1, v1 ? strlen(v1) : 0},
        {"a", cdc_canon_type_from_name(t2), -1, v2, v2 ? strlen(v2) : 0},
    };
    uint64_t d = 0;
    char err[CDC_ERRSTR_SIZE];
    TH_CHECK(cdc_canon_row_digest(cols, 2, NULL, &d, err, sizeof err) == 0);
    return d;
}

static void check_rows(void)
{
    /* Framing: column boundaries and NULL are part of the digest. */
    TH_CHECK(row2("text", "ab", "text", "c") != row2("text", "a", "text", "bc"));
    TH_CHECK(row2("text", "x", "text", "") != row2("text", "x", "text", NULL));
    TH_CHECK(row2("int4", "1", "numeric", "1.50") == row2("int8", "1", "numeric", "1.5"));

    /* Key first, then other columns by name, whatever order they are given. */
    cdc_canon_col_t cols[3] = {
        {"zeta", {CDC_CANON_TEXT, false}, -1, "z", 1},
        {"id", {CDC_CANON_INT, false}, 0, "7", 1},
        {"alpha", {CDC_CANON_BOOL, false}, -1, "t", 1},
    };
    size_t order[3];
    cdc_canon_row_order(cols, 3, order);
    TH_CHECK_INT(order[0], 1);
    TH_CHECK_INT(order[1], 2);
    TH_CHECK_INT(order[2], 0);

    /* Pinned digests: the encoding's contract. */
    char err[CDC_ERRSTR_SIZE];
    uint64_t d = 0;
    TH_CHECK(cdc_canon_row_digest(cols, 3, NULL, &d, err, sizeof err) == 0);
    TH_CHECK(d == UINT64_C(0x2c60853378f25fb7));
    /* ... which is XXH3 over exactly these framed bytes: */
    TH_CHECK(d == cdc_canon_hash("N\x01"
                                 "7"
                                 "b\x01"
                                 "t"
                                 "S\x01"
                                 "z",
                                 9));
    uint64_t e = row2("int8", "1", "text", NULL);
    TH_CHECK(e == UINT64_C(0x9f9b8c543d03fb91));
    TH_CHECK(e == cdc_canon_hash("N\x01"
                                 "1\x00",
                                 4));
    uint64_t empty = cdc_canon_hash("", 0);
    TH_CHECK(empty == UINT64_C(0x2d06800538d394c2)); /* XXH3_64bits("") */
}

static int cmp1(const char *type, const char *a, const char *b)
{
    cdc_buf_t x = enc(type, a), y = enc(type, b);
    size_t xl = x.len, yl = y.len;
    int c =
        cdc_canon_compare((const unsigned char *)x.data, &xl, (const unsigned char *)y.data, &yl);
    TH_CHECK(xl == x.len && yl == y.len);
    cdc_buf_free(&x);
    cdc_buf_free(&y);
    return c;
}

static void check_order(void)
{
    TH_CHECK(cmp1("int4", "9", "10") < 0);
    TH_CHECK(cmp1("int4", "-10", "-9") < 0);
    TH_CHECK(cmp1("int4", "-1", "0") < 0);
    TH_CHECK(cmp1("numeric", "0.5", "0.25") > 0);
    TH_CHECK(cmp1("numeric", "1.5", "1.50") == 0);
    TH_CHECK(cmp1("numeric", "-0.5", "-0.25") < 0);
    TH_CHECK(cmp1("numeric", "NaN", "1e100") > 0);
    TH_CHECK(cmp1("numeric", "-Infinity", "-1e100") < 0);
    TH_CHECK(cmp1("date", "1969-12-31", "1970-01-01") < 0);
    TH_CHECK(cmp1("date", "infinity", "9999-01-01") > 0);
    TH_CHECK(cmp1("text", "ab", "abc") < 0);
    TH_CHECK(cmp1("text", "B", "a") < 0); /* COLLATE "C" */
    TH_CHECK(cmp1("uuid", "A0000000-0000-0000-0000-000000000000",
                  "0fffffff-ffff-ffff-ffff-ffffffffffff") > 0);
    TH_CHECK(cmp1("timestamptz", "2018-06-20 13:00:00+00", "2018-06-20 14:00:00+02") > 0);
    TH_CHECK(cmp1("float8", "-1.5", "0.25") < 0);
    TH_CHECK(cmp1("int4", NULL, "1") > 0); /* NULLS LAST */
}

static void check_types(void)
{
    TH_CHECK(cdc_canon_type_from_name("timestamp(3) with time zone").kind == CDC_CANON_TIMESTAMPTZ);
    TH_CHECK(cdc_canon_type_from_name("character varying(10)").kind == CDC_CANON_TEXT);
    TH_CHECK(cdc_canon_type_from_name("numeric(10,2)").kind == CDC_CANON_NUMERIC);
    cdc_canon_type_t t = cdc_canon_type_from_name("_int8");
    TH_CHECK(t.kind == CDC_CANON_INT && t.is_array);
    t = cdc_canon_type_from_name("text[]");
    TH_CHECK(t.kind == CDC_CANON_TEXT && t.is_array);
    t = cdc_canon_type_from_oid(1185);
    TH_CHECK(t.kind == CDC_CANON_TIMESTAMPTZ && t.is_array);
    TH_CHECK(cdc_canon_type_from_oid(1700).kind == CDC_CANON_NUMERIC);
    TH_CHECK(cdc_canon_type_from_name("hstore").kind == CDC_CANON_OTHER);
    TH_CHECK(cdc_canon_type_from_oid(18).kind == CDC_CANON_TEXT); /* "char": not bpchar */
    TH_CHECK(cdc_canon_type_from_oid(16385).kind == CDC_CANON_OTHER);
}

/* Binary send format and text of the same value encode identically. */
static void check_binary(void)
{
    static const struct {
        const char *type, *text;
        const char *bin;
        size_t len;
    } cases[] = {
        {"int4", "42", "\x00\x00\x00\x2a", 4},
        {"int2", "-2", "\xff\xfe", 2},
        {"int8", "7", "\0\0\0\0\0\0\0\x07", 8},
        {"numeric", "12.30", "\0\x02\0\0\0\0\0\x02\0\x0c\x0b\xb8", 12},
        {"numeric", "-0.5", "\0\x01\xff\xff\x40\0\0\x01\x13\x88", 10},
        {"numeric", "NaN", "\0\0\0\0\xc0\0\0\0", 8},
        {"date", "2018-06-20", "\0\0\x1a\x59", 4},
        {"timestamptz", "2018-06-20 13:37:03.03+00", "\0\x02\x12\x11\xa9\xa0\x72\xf0", 8},
        {"timestamp", "infinity", "\x7f\xff\xff\xff\xff\xff\xff\xff", 8},
        {"float8", "0.1", "\x3f\xb9\x99\x99\x99\x99\x99\x9a", 8},
        {"float8", "0", "\x80\0\0\0\0\0\0\0", 8}, /* -0 */
        {"float4", "0.1", "\x3d\xcc\xcc\xcd", 4},
        {"bool", "t", "\x01", 1},
        {"uuid", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
         "\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38\x0a\x11", 16},
        {"bpchar", "ab", "ab  ", 4},
        {"bytea", "\\x0102", "\x01\x02", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cdc_buf_t t = enc(cases[i].type, cases[i].text), b = CDC_BUF_INIT;
        char err[CDC_ERRSTR_SIZE] = "";
        int rc = cdc_canon_encode_binary(cdc_canon_type_from_name(cases[i].type), cases[i].bin,
                                         cases[i].len, &b, err, sizeof err);
        if (rc || !same(&t, &b)) {
            fprintf(stderr, "binary case %zu (%s %s): rc %d %s\n", i, cases[i].type, cases[i].text,
                    rc, err);
            th_failures++;
        }
        cdc_buf_free(&t);
        cdc_buf_free(&b);
    }
    TH_CHECK(!cdc_canon_binary_capable(cdc_canon_type_from_name("jsonb")));
    TH_CHECK(!cdc_canon_binary_capable(cdc_canon_type_from_name("_int4")));
}

/* numeric_send form of the plain decimal @p text ("-12.034"): base-10000
 * digits around the point. @p pad_groups adds zero groups at both ends,
 * which PostgreSQL never sends but which must not change the encoding. */
static size_t numeric_send(const char *text, int pad_groups, unsigned char *out)
{
    bool neg = *text == '-';
    if (neg)
        text++;
    const char *dot = strchr(text, '.');
    size_t il = dot ? (size_t)(dot - text) : strlen(text), fl = dot ? strlen(dot + 1) : 0;
    char digits[600];
    size_t lead = (4 - il % 4) % 4 + 4 * (size_t)pad_groups, n = 0;
    memset(digits, '0', lead);
    n = lead;
    memcpy(digits + n, text, il);
    n += il;
    if (dot)
        memcpy(digits + n, dot + 1, fl);
    n += fl;
    size_t trail = (4 - fl % 4) % 4 + 4 * (size_t)pad_groups;
    memset(digits + n, '0', trail);
    n += trail;
    int ndig = (int)(n / 4), weight = (int)((lead + il) / 4) - 1;
    unsigned char *w = out;
    *w++ = (unsigned char)(ndig >> 8), *w++ = (unsigned char)ndig;
    *w++ = (unsigned char)((unsigned)weight >> 8), *w++ = (unsigned char)weight;
    *w++ = neg ? 0x40 : 0, *w++ = 0;
    *w++ = 0, *w++ = (unsigned char)fl;
    for (int g = 0; g < ndig; g++) {
        unsigned d = (unsigned)((digits[4 * g] - '0') * 1000 + (digits[4 * g + 1] - '0') * 100 +
                                (digits[4 * g + 2] - '0') * 10 + (digits[4 * g + 3] - '0'));
        *w++ = (unsigned char)(d >> 8), *w++ = (unsigned char)d;
    }
    return (size_t)(w - out);
}

/* The binary paths write their frames directly (no text in between): check
 * them against the text path on many generated values, so that a faster
 * binary encoder can never drift from the canonical bytes. */
static void check_binary_generated(void)
{
    uint64_t x = 0x9e3779b97f4a7c15u;
    int bad = 0;
    for (int i = 0; i < 20000 && bad < 5; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* numeric: up to 40 integer and 40 fraction digits, zeros likely */
        char text[200];
        size_t n = 0;
        if (x & 1)
            text[n++] = '-';
        int il = (int)(x >> 8 & 63) % 41, fl = (int)(x >> 16 & 63) % 41;
        uint64_t y = x;
        for (int k = 0; k < il + fl; k++) {
            if (k == il)
                text[n++] = '.';
            y = y * 6364136223846793005u + 1442695040888963407u;
            text[n++] = (y >> 60) < 6 ? '0' : (char)('0' + (y >> 33) % 10);
        }
        if (il == 0) { /* "0", "-0", ".5" -> "0.5" */
            size_t at = x & 1;
            memmove(text + at + 1, text + at, n - at);
            text[at] = '0';
            n++;
        }
        text[n] = '\0';
        unsigned char bin[400];
        size_t bl = numeric_send(text, (int)(x >> 40 & 1), bin);
        cdc_buf_t t = enc("numeric", text), b = CDC_BUF_INIT;
        char err[CDC_ERRSTR_SIZE] = "";
        int rc = cdc_canon_encode_binary(cdc_canon_type_from_name("numeric"), bin, bl, &b, err,
                                         sizeof err);
        if (rc || !same(&t, &b)) {
            fprintf(stderr, "generated numeric %s: rc %d %s\n", text, rc, err);
            bad++;
        }
        cdc_buf_free(&t);
        cdc_buf_free(&b);

        /* integers of every width, extremes included */
        int64_t v = (int64_t)x;
        if (i % 3 == 1) /* every length of digits */
            v >>= x >> 58;
        if (i < 6)
            v = (int64_t[]){INT64_MIN, INT64_MAX, 0, -1, INT32_MIN, INT16_MIN}[i];
        static const char *const names[] = {"int2", "int4", "int8"};
        for (int w = 0; w < 3; w++) {
            int64_t tv = w == 0 ? (int16_t)v : w == 1 ? (int32_t)v : v;
            size_t bw = w == 0 ? 2 : w == 1 ? 4 : 8;
            unsigned char ib[8];
            for (size_t k = 0; k < bw; k++)
                ib[k] = (unsigned char)((uint64_t)tv >> (8 * (bw - 1 - k)));
            char it[32];
            snprintf(it, sizeof it, "%lld", (long long)tv);
            t = enc(names[w], it);
            b = (cdc_buf_t)CDC_BUF_INIT;
            rc = cdc_canon_encode_binary(cdc_canon_type_from_name(names[w]), ib, bw, &b, err,
                                         sizeof err);
            if (rc || !same(&t, &b)) {
                fprintf(stderr, "generated %s %s: rc %d %s\n", names[w], it, rc, err);
                bad++;
            }
            cdc_buf_free(&t);
            cdc_buf_free(&b);
        }
    }
    TH_CHECK_INT(bad, 0);
}

/* The merge's order: compare of int8 frames agrees with the integers
 * (fast path for non-negative integers included) on generated pairs. */
static void check_order_generated(void)
{
    uint64_t x = 0x2545f4914f6cdd1du;
    int bad = 0;
    for (int i = 0; i < 20000 && bad < 5; i++) {
        int64_t v[2];
        for (int k = 0; k < 2; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v[k] = (int64_t)x >> (x >> 58);
            if (i % 4 == 0)
                v[k] = v[k] < 0 ? -(v[k] / 2) : v[k]; /* mostly non-negative */
        }
        if (i % 7 == 0)
            v[1] = x & 1 ? v[0] : v[0] ^ 1; /* equal or a neighbour */
        char t[2][32];
        cdc_buf_t b[2];
        for (int k = 0; k < 2; k++) {
            snprintf(t[k], sizeof t[k], "%lld", (long long)v[k]);
            b[k] = enc("int8", t[k]);
        }
        size_t al = b[0].len, bl = b[1].len;
        int c = cdc_canon_compare((const unsigned char *)b[0].data, &al,
                                  (const unsigned char *)b[1].data, &bl);
        int want = v[0] < v[1] ? -1 : v[0] > v[1];
        if ((c > 0) - (c < 0) != want) {
            fprintf(stderr, "compare %s %s: %d, want %d\n", t[0], t[1], c, want);
            bad++;
        }
        cdc_buf_free(&b[0]);
        cdc_buf_free(&b[1]);
    }
    TH_CHECK_INT(bad, 0);
}

/* Encode with an explicit type (composites, ranges: built by hand here as
 * verify builds them from the catalog). */
static cdc_buf_t enc_t(cdc_canon_type_t t, const char *text)
{
    cdc_buf_t b = CDC_BUF_INIT;
    g_err[0] = '\0';
    if (cdc_canon_encode(t, text, text ? strlen(text) : 0, &b, g_err, sizeof g_err))
        cdc_buf_puts(&b, "<error>");
    return b;
}

static bool eq_t(cdc_canon_type_t ta, const char *a, cdc_canon_type_t tb, const char *b)
{
    cdc_buf_t x = enc_t(ta, a), y = enc_t(tb, b);
    bool ok = !strstr(x.data ? x.data : "", "<error>") && !strstr(y.data ? y.data : "", "<error>");
    if (!ok)
        fprintf(stderr, "'%s' / '%s' do not encode: %s\n", a, b ? b : "NULL", g_err);
    bool r = ok && same(&x, &y);
    cdc_buf_free(&x);
    cdc_buf_free(&y);
    return r;
}

#define TY(k) ((cdc_canon_type_t){(k), false, NULL, 0})

/* Issue #11: types are compared by what they are, element by element. */
static void check_structured(void)
{
    cdc_canon_type_t f4 = TY(CDC_CANON_FLOAT4), f8 = TY(CDC_CANON_FLOAT8);
    /* PostgreSQL's real = double precision promotes the real: */
    TH_CHECK(eq_t(f4, "0.1", f8, "0.10000000149011612")); /* 0.1::real = 0.1::real::float8 */
    TH_CHECK(!eq_t(f4, "0.1", f8, "0.1"));                /* 0.1::real <> 0.1::float8 */
    TH_CHECK(eq_t(f4, "-0", f8, "0"));

    /* "char" (OID 18) is one byte, not padded: ' ' <> '' */
    cdc_canon_type_t ch = cdc_canon_type_from_oid(18);
    TH_CHECK(!eq_t(ch, " ", ch, ""));
    TH_CHECK(
        !eq_t(cdc_canon_type_from_name("\"char\""), " ", cdc_canon_type_from_name("\"char\""), ""));

    /* composite (numeric, float8, text) */
    cdc_canon_type_t fields[3] = {TY(CDC_CANON_NUMERIC), f8, TY(CDC_CANON_TEXT)};
    cdc_canon_type_t rec = {CDC_CANON_COMPOSITE, false, fields, 3};
    TH_CHECK(eq_t(rec, "(1.50,-0,x)", rec, "(1.5,0,x)"));
    TH_CHECK(eq_t(rec, "(1,2,\"a \"\"b\"\" \\\\c\")", rec, "(1,2,\"a \"\"b\"\" \\\\c\")"));
    TH_CHECK(!eq_t(rec, "(1,2,)", rec, "(1,2,\"\")")); /* NULL <> '' */
    TH_CHECK(!eq_t(rec, "(1,2,\"a,b\")", rec, "(1,2,a)"));
    TH_CHECK(!eq_t(rec, "(1.5,2,x)", rec, "(1.51,2,x)"));
    cdc_buf_t b = enc_t(rec, "(1.50,-0,\"a)\")");
    TH_CHECK(b.len == 14 && memcmp(b.data,
                                   "C\x0cN\x03"
                                   "1.5F\x01"
                                   "0S\x02"
                                   "a)",
                                   14) == 0);
    cdc_buf_free(&b);
    b = enc_t(rec, "(1,2)"); /* a field short */
    TH_CHECK(strstr(b.data, "<error>") != NULL);
    cdc_buf_free(&b);

    /* array of that composite */
    cdc_canon_type_t arec = rec;
    arec.is_array = true;
    TH_CHECK(eq_t(arec, "{\"(1.50,-0,x)\",NULL}", arec, "{\"(1.5,0,x)\",NULL}"));
    TH_CHECK(!eq_t(arec, "{\"(1.50,-0,x)\"}", arec, "{\"(1.5,0,y)\"}"));

    /* numrange */
    cdc_canon_type_t num = TY(CDC_CANON_NUMERIC);
    cdc_canon_type_t nr = {CDC_CANON_RANGE, false, &num, 1};
    TH_CHECK(eq_t(nr, "[1.50,2.0)", nr, "[1.5,2)"));
    TH_CHECK(!eq_t(nr, "[1.5,2)", nr, "[1.5,2]"));
    TH_CHECK(!eq_t(nr, "(,2)", nr, "(0,2)"));
    TH_CHECK(!eq_t(nr, "(,)", nr, "empty"));
    b = enc_t(nr, "[1.50,)");
    TH_CHECK(b.len == 10 && memcmp(b.data,
                                   "R\x08[N\x03"
                                   "1.5\0)",
                                   10) == 0);
    cdc_buf_free(&b);
    cdc_canon_type_t anr = nr;
    anr.is_array = true;
    TH_CHECK(eq_t(anr, "{\"[1.50,2.0)\",empty}", anr, "{\"[1.5,2)\",empty}"));
    /* a composite holding a range and an array */
    cdc_canon_type_t anum = {CDC_CANON_NUMERIC, true, NULL, 0};
    cdc_canon_type_t f2[2] = {nr, anum};
    cdc_canon_type_t rec2 = {CDC_CANON_COMPOSITE, false, f2, 2};
    TH_CHECK(eq_t(rec2, "(\"[1.50,2.0)\",\"{1.0,2}\")", rec2, "(\"[1.5,2)\",\"{1,2.00}\")"));

    /* json nested deeper than any recursion would go: iterative */
    size_t depth = 1500;
    char *deep = malloc(2 * depth + 8), *deep2 = malloc(2 * depth + 8);
    for (size_t k = 0; k < depth; k++)
        deep[k] = '[', deep[depth + 1 + k] = ']';
    deep[depth] = '1';
    deep[2 * depth + 1] = '\0';
    memcpy(deep2, deep, 2 * depth + 2);
    deep2[depth] = '2';
    cdc_canon_type_t jb = TY(CDC_CANON_JSONB);
    TH_CHECK(eq_t(jb, deep, jb, deep));
    TH_CHECK(!eq_t(jb, deep, jb, deep2));
    free(deep);
    free(deep2);

    /* pinned json forms; what jsonb rejects is its exact text behind 0x01 */
    static const char *const jv[][2] = {
        {"{\"b\":1,\"a\\\"\":2,\"a\":[1e2,-0.50]}", "{\"a\":[100,-0.5],\"a\\\"\":2,\"b\":1}"},
        {"\"\\ud83d\"", "\x01\"\\ud83d\""},
        {"{\"a\\u0000b\":\"\\u001f\\n\"}", "\x01{\"a\\u0000b\":\"\\u001f\\n\"}"},
        {"{\"a\":\"\\u001f\\n\"}", "{\"a\":\"\\u001F\\n\"}"},
        {"1e-3", "0.001"},
        {"1E999999", "\x01"
                     "1E999999"},
        {"[1e131072]", "\x01[1e131072]"},
        {"[1.5e-16383]", "\x01[1.5e-16383]"},
        {"[\"\\ud83d\\ude00\", 0e99999]", "[\"\xf0\x9f\x98\x80\",0]"},
    };
    for (size_t k = 0; k < sizeof jv / sizeof jv[0]; k++) {
        cdc_buf_t x = enc("json", jv[k][0]);
        char tag = 0;
        const char *p = payload_of(&x, &tag);
        if (tag != CANON_TAG_JSON || strcmp(p, jv[k][1]) != 0) {
            fprintf(stderr, "json %s: got %c %s %s\n", jv[k][0], tag, p, g_err);
            th_failures++;
        }
        cdc_buf_free(&x);
    }
    static const char *const badj[] = {"[1,]",      "01", "1.",        "\"\\x\"", "tru",
                                       "{\"a\" 1}", "[1", "\"\\u12\"", "{} {}",   "\"a\nb\""};
    for (size_t k = 0; k < sizeof badj / sizeof badj[0]; k++) {
        cdc_buf_t x = enc("json", badj[k]);
        if (!strstr(x.data ? x.data : "", "<error>")) {
            fprintf(stderr, "json %s accepted\n", badj[k]);
            th_failures++;
        }
        cdc_buf_free(&x);
    }
}

/* The tag table (core/canon_int.h) agrees with the pinned vectors above,
 * which stay spelled as bytes: a tag changed in the table fails here and
 * in check_vectors(), never silently in stored digests. Every kind has a
 * tag and a name, and the structural frames use their named tags. */
static void check_tags(void)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        cdc_canon_kind_t kind = cdc_canon_type_from_name(vectors[i].type).kind;
        if (canon_kind_tag(kind) != vectors[i].tag) {
            fprintf(stderr, "vector %zu (%s): table tag %c, pinned %c\n", i, vectors[i].type,
                    canon_kind_tag(kind), vectors[i].tag);
            th_failures++;
        }
    }
    for (size_t k = 0; k < CANON_NKINDS; k++) {
        TH_CHECK(canon_kinds[k].tag != CANON_TAG_NULL && canon_kinds[k].name != NULL);
        TH_CHECK(strcmp(cdc_canon_kind_name((cdc_canon_kind_t)k), canon_kinds[k].name) == 0);
    }
    TH_CHECK(strcmp(cdc_canon_kind_name((cdc_canon_kind_t)CANON_NKINDS), "other") == 0);

    cdc_canon_type_t i4 = {CDC_CANON_INT, false, NULL, 0};
    cdc_canon_type_t rng = {CDC_CANON_RANGE, false, &i4, 1};
    cdc_buf_t b = enc_t(rng, "empty");
    TH_CHECK(b.len == 3 && b.data[0] == CANON_TAG_RANGE && b.data[2] == CANON_RANGE_EMPTY);
    cdc_buf_free(&b);
    b = enc("int4[]", "[0:0]={7}");
    /* A | len | L | 5 | "[0:0]" | N | 1 | "7" */
    TH_CHECK(b.len == 12 && b.data[0] == CANON_TAG_ARRAY && b.data[2] == CANON_TAG_ARRAY_BOUNDS &&
             b.data[9] == CANON_TAG_NUMBER);
    cdc_buf_free(&b);
    cdc_canon_type_t rec = {CDC_CANON_COMPOSITE, false, &i4, 1};
    b = enc_t(rec, "()");
    TH_CHECK(b.len == 3 && b.data[0] == CANON_TAG_COMPOSITE && b.data[2] == CANON_TAG_NULL);
    cdc_buf_free(&b);
}

int main(void)
{
    check_tags();
    check_structured();
    check_binary();
    check_binary_generated();
    check_order_generated();
    check_vectors();
    check_pairs();
    check_invalid();
    check_rows();
    check_order();
    check_types();
    TH_DONE();
}
