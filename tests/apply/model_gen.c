/* apply-model's generator and model (see model_gen.h). */
#include "model_gen.h"

#include "th.h"

#include "cdc/util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLACEHOLDER "__debezium_unavailable_value"
/* debezium-format.md §4.4: the bytea form of the placeholder in JSON. */
#define PLACEHOLDER_B64 "X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="

/* ---- random ---- */

uint64_t mg_next(mg_rng_t *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

int64_t mg_range(mg_rng_t *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return span ? lo + (int64_t)(mg_next(r) % span) : (int64_t)mg_next(r);
}

bool mg_chance(mg_rng_t *r, int pct)
{
    return (int)(mg_next(r) % 100) < pct;
}

/* ---- small text helpers ---- */

typedef struct sb {
    char *s;
    size_t n, cap;
} sb_t;

static void sb_add(sb_t *b, const char *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2 + 64;
        b->s = realloc(b->s, b->cap);
        TH_ASSERT(b->s);
    }
    memcpy(b->s + b->n, p, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_puts(sb_t *b, const char *p)
{
    sb_add(b, p, strlen(p));
}

static void sb_printf(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb_t *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    TH_ASSERT(n >= 0 && (size_t)n < sizeof(tmp));
    sb_add(b, tmp, (size_t)n);
}

static char *sb_take(sb_t *b)
{
    if (!b->s)
        return strdup("");
    return b->s;
}

static void b64(sb_t *out, const uint8_t *p, size_t n)
{
    cdc_buf_t enc = CDC_BUF_INIT;
    cdc_base64_append(&enc, p, n);
    sb_add(out, enc.data ? enc.data : "", enc.len);
    cdc_buf_free(&enc);
}

/* ---- civil time (days from 1970-01-01 to y-m-d) ---- */

static void civil(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static int64_t floordiv(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* "YYYY-MM-DD<sep>HH:MM:SS" of @p us microseconds since the epoch; the
 * fraction goes to *frac. */
static void ts_parts(int64_t us, char sep, char *buf, size_t size, int64_t *frac)
{
    int64_t secs = floordiv(us, 1000000);
    *frac = us - secs * 1000000;
    int64_t days = floordiv(secs, 86400);
    int64_t sod = secs - days * 86400;
    int y, m, d;
    civil(days, &y, &m, &d);
    snprintf(buf, size, "%04d-%02d-%02d%c%02d:%02d:%02d", y, m, d, sep, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60));
}

/* unscaled value u with scale s as a numeric literal */
static char *scaled(int64_t u, int s)
{
    char digits[40];
    uint64_t a = u < 0 ? (uint64_t)(-(u + 1)) + 1 : (uint64_t)u;
    snprintf(digits, sizeof(digits), "%" PRIu64, a);
    size_t n = strlen(digits);
    sb_t b = {0};
    if (u < 0)
        sb_puts(&b, "-");
    if (s == 0) {
        sb_puts(&b, digits);
    } else if ((int)n <= s) {
        sb_puts(&b, "0.");
        for (int i = 0; i < s - (int)n; i++)
            sb_puts(&b, "0");
        sb_puts(&b, digits);
    } else {
        sb_add(&b, digits, n - (size_t)s);
        sb_puts(&b, ".");
        sb_puts(&b, digits + n - (size_t)s);
    }
    return sb_take(&b);
}

/* Java BigInteger.toByteArray(): minimal big-endian two's complement. */
static void decimal_b64(sb_t *out, int64_t u)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (uint8_t)((uint64_t)u >> (56 - 8 * i));
    int start = 0;
    while (start < 7 && ((be[start] == 0x00 && !(be[start + 1] & 0x80)) ||
                         (be[start] == 0xff && (be[start + 1] & 0x80))))
        start++;
    b64(out, be + start, (size_t)(8 - start));
}

/* ---- values ---- */

static bool toastable(mg_type_t t)
{
    return t == MG_TEXT || t == MG_JSONB || t == MG_BYTEA || t == MG_TEXTARR;
}

static void rand_text(mg_rng_t *r, sb_t *b, size_t len)
{
    static const char *const multi[] = {"\xc3\xa9", "\xc3\x9f", "\xe2\x98\x83", "\xe4\xb8\xad",
                                        "\xf0\x9d\x84\x9e"};
    static const char special[] = "\t\n\r\\\"'|,{}";
    while (b->n < len) {
        int k = (int)mg_range(r, 0, 99);
        if (k < 85) {
            char c = (char)mg_range(r, 32, 126);
            sb_add(b, &c, 1);
        } else if (k < 92) {
            sb_add(b, &special[mg_range(r, 0, (int64_t)sizeof(special) - 2)], 1);
        } else {
            sb_puts(b, multi[mg_range(r, 0, 4)]);
        }
    }
    if (!b->s)
        sb_add(b, "", 0);
}

static int64_t rand_mag(mg_rng_t *r, int maxdigits)
{
    int digits = (int)mg_range(r, 1, maxdigits);
    int64_t p = 1;
    for (int i = 0; i < digits; i++)
        p *= 10;
    int64_t v = (int64_t)(mg_next(r) % (uint64_t)p);
    return mg_chance(r, 30) ? -v : v;
}

static mg_val_t val_null(void)
{
    mg_val_t v = {NULL, json_null(), false};
    return v;
}

/* Start array element @p i of the literal @p lit (a comma after the
 * first); one in ten is NULL, written to both sides: returns true then. */
static bool array_elem_null(mg_rng_t *r, sb_t *lit, json_t *js, int i)
{
    if (i)
        sb_puts(lit, ",");
    if (!mg_chance(r, 10))
        return false;
    sb_puts(lit, "NULL");
    json_array_append_new(js, json_null());
    return true;
}

static mg_val_t rand_val(mg_rng_t *r, const mg_col_t *c, bool allow_big)
{
    mg_val_t v = {NULL, NULL, false};
    if (!c->notnull && mg_chance(r, 12))
        return val_null();
    bool big = allow_big && toastable(c->type) && mg_chance(r, 25);
    v.big = big;
    sb_t lit = {0};
    switch (c->type) {
    case MG_INT8: {
        int64_t x = mg_chance(r, 5) ? (mg_chance(r, 50) ? INT64_MIN : INT64_MAX) : rand_mag(r, 18);
        sb_printf(&lit, "%" PRId64, x);
        v.js = json_integer(x);
        break;
    }
    case MG_INT4: {
        int32_t x = (int32_t)rand_mag(r, 9);
        sb_printf(&lit, "%d", x);
        v.js = json_integer(x);
        break;
    }
    case MG_BOOL: {
        bool x = mg_chance(r, 50);
        sb_puts(&lit, x ? "t" : "f");
        v.js = json_boolean(x);
        break;
    }
    case MG_TEXT:
        rand_text(r, &lit, big ? (size_t)mg_range(r, 2100, 3600) : (size_t)mg_range(r, 0, 24));
        v.js = json_stringn(lit.s, lit.n);
        break;
    case MG_JSONB: {
        sb_t s = {0};
        rand_text(r, &s, big ? (size_t)mg_range(r, 2100, 3200) : (size_t)mg_range(r, 0, 12));
        json_t *doc =
            json_pack("{s:I,s:s%,s:[i,n,b],s:n,s:{s:f}}", "k", (json_int_t)rand_mag(r, 12), "s",
                      s.s, s.n, "a", (int)mg_range(r, -5, 5), mg_chance(r, 50), "n", "o", "x", 1.5);
        TH_ASSERT(doc);
        free(s.s);
        /* PostgreSQL's jsonb text form: ", " and ": " separators. */
        char *text = json_dumps(doc, JSON_PRESERVE_ORDER);
        json_decref(doc);
        sb_puts(&lit, text);
        v.js = json_string(text);
        free(text);
        break;
    }
    case MG_BYTEA: {
        size_t n = big ? (size_t)mg_range(r, 2100, 3000) : (size_t)mg_range(r, 0, 20);
        uint8_t *p = malloc(n + 1);
        TH_ASSERT(p);
        for (size_t i = 0; i < n; i++)
            p[i] = (uint8_t)mg_next(r);
        sb_puts(&lit, "\\x");
        for (size_t i = 0; i < n; i++)
            sb_printf(&lit, "%02x", p[i]);
        sb_t e = {0};
        b64(&e, p, n);
        v.js = json_string(e.s);
        free(e.s);
        free(p);
        break;
    }
    case MG_DEC: {
        int64_t u = rand_mag(r, 17);
        char *s = scaled(u, c->scale);
        sb_puts(&lit, s);
        free(s);
        sb_t e = {0};
        decimal_b64(&e, u);
        v.js = json_string(e.s);
        free(e.s);
        break;
    }
    case MG_VDEC: {
        int64_t u = rand_mag(r, 18);
        int s = (int)mg_range(r, 0, 6);
        char *t = scaled(u, s);
        sb_puts(&lit, t);
        free(t);
        sb_t e = {0};
        decimal_b64(&e, u);
        v.js = json_pack("{s:i,s:s}", "scale", s, "value", e.s);
        free(e.s);
        break;
    }
    case MG_DATE: {
        int64_t days = mg_range(r, -25567, 47482);
        int y, m, d;
        civil(days, &y, &m, &d);
        sb_printf(&lit, "%04d-%02d-%02d", y, m, d);
        v.js = json_integer(days);
        break;
    }
    case MG_TS:
    case MG_TSTZ: {
        int64_t us = mg_range(r, -2208988800000000LL, 4102444799999999LL);
        if (mg_chance(r, 20))
            us -= us % 1000000; /* whole seconds */
        char buf[64];
        int64_t frac;
        ts_parts(us, ' ', buf, sizeof(buf), &frac);
        sb_printf(&lit, "%s.%06" PRId64 "%s", buf, frac, c->type == MG_TSTZ ? "+00" : "");
        if (c->type == MG_TS) {
            v.js = json_integer(us);
        } else {
            /* ISO-8601 in UTC, as few fraction digits as needed (or 6). */
            char iso[96], f[16];
            ts_parts(us, 'T', buf, sizeof(buf), &frac);
            snprintf(f, sizeof(f), ".%06" PRId64, frac);
            if (!mg_chance(r, 30)) {
                size_t n = strlen(f);
                while (n > 1 && f[n - 1] == '0')
                    f[--n] = 0;
                if (n == 1)
                    f[0] = 0;
            }
            snprintf(iso, sizeof(iso), "%s%sZ", buf, f);
            v.js = json_string(iso);
        }
        break;
    }
    case MG_TIME: {
        int64_t us = mg_range(r, 0, 86399999999LL);
        sb_printf(&lit, "%02d:%02d:%02d.%06d", (int)(us / 3600000000LL), (int)(us / 60000000 % 60),
                  (int)(us / 1000000 % 60), (int)(us % 1000000));
        v.js = json_integer(us);
        break;
    }
    case MG_TEXTARR: {
        int n = big ? (int)mg_range(r, 30, 45) : (int)mg_range(r, 0, 4);
        v.js = json_array();
        sb_puts(&lit, "{");
        for (int i = 0; i < n; i++) {
            if (array_elem_null(r, &lit, v.js, i))
                continue;
            sb_t e = {0};
            rand_text(r, &e, big ? (size_t)mg_range(r, 60, 90) : (size_t)mg_range(r, 0, 10));
            sb_puts(&lit, "\"");
            for (size_t j = 0; j < e.n; j++) {
                if (e.s[j] == '"' || e.s[j] == '\\')
                    sb_puts(&lit, "\\");
                sb_add(&lit, &e.s[j], 1);
            }
            sb_puts(&lit, "\"");
            json_array_append_new(v.js, json_stringn(e.s, e.n));
            free(e.s);
        }
        sb_puts(&lit, "}");
        break;
    }
    case MG_INTARR: {
        int n = (int)mg_range(r, 0, 5);
        v.js = json_array();
        sb_puts(&lit, "{");
        for (int i = 0; i < n; i++) {
            if (array_elem_null(r, &lit, v.js, i))
                continue;
            int32_t x = (int32_t)rand_mag(r, 9);
            sb_printf(&lit, "%d", x);
            json_array_append_new(v.js, json_integer(x));
        }
        sb_puts(&lit, "}");
        break;
    }
    case MG_NTYPES: break;
    }
    TH_ASSERT(v.js);
    v.lit = sb_take(&lit);
    return v;
}

static void val_free(mg_val_t *v);

/* A value for column @p c of table @p t. Without
 * opts.b64_numeric_lookalike, a schemaless Decimal whose base64 text reads
 * like a number ("85eE", "1234") is drawn again. */
static mg_val_t tval(mg_gen_t *g, const mg_table_t *t, const mg_col_t *c, bool allow_big)
{
    for (;;) {
        mg_val_t v = rand_val(&g->rng, c, allow_big);
        if (g->opts.b64_numeric_lookalike || t->with_schema || c->type != MG_DEC || !v.lit)
            return v;
        const char *b = json_string_value(v.js);
        bool digit = false, other = false;
        for (; *b; b++) {
            if (*b >= '0' && *b <= '9')
                digit = true;
            else if (!strchr("eE+-.", *b))
                other = true;
        }
        if (!digit || other)
            return v;
        val_free(&v);
    }
}

static mg_val_t val_copy(const mg_val_t *v)
{
    mg_val_t c = {v->lit ? strdup(v->lit) : NULL, json_incref(v->js), v->big};
    return c;
}

static void val_free(mg_val_t *v)
{
    free(v->lit);
    json_decref(v->js);
    v->lit = NULL;
    v->js = NULL;
}

static mg_val_t *row_copy(const mg_table_t *t, const mg_val_t *row)
{
    mg_val_t *c = calloc(MG_MAXCOLS, sizeof(*c));
    TH_ASSERT(c);
    for (int i = 0; i < t->ncols; i++)
        c[i] = val_copy(&row[i]);
    return c;
}

static void row_free(int ncols, mg_val_t *row)
{
    if (!row)
        return;
    for (int i = 0; i < ncols; i++)
        val_free(&row[i]);
    free(row);
}

static bool val_eq(const mg_val_t *a, const mg_val_t *b)
{
    if (!a->lit || !b->lit)
        return a->lit == b->lit;
    return strcmp(a->lit, b->lit) == 0;
}

/* ---- the map ---- */

#define NBUCKETS 4096

typedef struct ent {
    char *key;
    mg_val_t *row;
    int next;  /* chain, -1 ends */
    int dense; /* position in dense, -1 when free */
} ent_t;

struct mg_map {
    int ncols;
    ent_t *e;
    int n, cap;
    int heads[NBUCKETS];
    int *dense;
    int ndense;
    int freelist; /* chained through next */
};

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static mg_map_t *map_new(int ncols)
{
    mg_map_t *m = calloc(1, sizeof(*m));
    TH_ASSERT(m);
    m->ncols = ncols;
    for (int i = 0; i < NBUCKETS; i++)
        m->heads[i] = -1;
    m->freelist = -1;
    return m;
}

static int map_find(const mg_map_t *m, const char *key)
{
    for (int i = m->heads[hash(key) % NBUCKETS]; i >= 0; i = m->e[i].next)
        if (!strcmp(m->e[i].key, key))
            return i;
    return -1;
}

/* Put @p row (stolen) under @p key (copied), replacing any row there. */
static void map_put(mg_map_t *m, const char *key, mg_val_t *row)
{
    int i = map_find(m, key);
    if (i >= 0) {
        row_free(m->ncols, m->e[i].row);
        m->e[i].row = row;
        return;
    }
    if (m->freelist >= 0) {
        i = m->freelist;
        m->freelist = m->e[i].next;
    } else {
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 256;
            m->e = realloc(m->e, (size_t)m->cap * sizeof(*m->e));
            m->dense = realloc(m->dense, (size_t)m->cap * sizeof(*m->dense));
            TH_ASSERT(m->e && m->dense);
        }
        i = m->n++;
    }
    uint32_t b = hash(key) % NBUCKETS;
    m->e[i].key = strdup(key);
    m->e[i].row = row;
    m->e[i].next = m->heads[b];
    m->heads[b] = i;
    m->e[i].dense = m->ndense;
    m->dense[m->ndense++] = i;
}

static void map_del(mg_map_t *m, const char *key)
{
    uint32_t b = hash(key) % NBUCKETS;
    for (int *pp = &m->heads[b]; *pp >= 0; pp = &m->e[*pp].next) {
        int i = *pp;
        if (strcmp(m->e[i].key, key))
            continue;
        *pp = m->e[i].next;
        int d = m->e[i].dense, last = m->dense[--m->ndense];
        m->dense[d] = last;
        m->e[last].dense = d;
        free(m->e[i].key);
        row_free(m->ncols, m->e[i].row);
        m->e[i].key = NULL;
        m->e[i].row = NULL;
        m->e[i].dense = -1;
        m->e[i].next = m->freelist;
        m->freelist = i;
        return;
    }
}

static void map_clear(mg_map_t *m)
{
    for (int d = 0; d < m->ndense; d++) {
        ent_t *e = &m->e[m->dense[d]];
        free(e->key);
        row_free(m->ncols, e->row);
    }
    m->n = 0;
    m->ndense = 0;
    m->freelist = -1;
    for (int i = 0; i < NBUCKETS; i++)
        m->heads[i] = -1;
}

static void map_free(mg_map_t *m)
{
    if (!m)
        return;
    map_clear(m);
    free(m->e);
    free(m->dense);
    free(m);
}

size_t mg_map_count(const mg_map_t *m)
{
    return (size_t)m->ndense;
}

const mg_val_t *mg_map_row(const mg_map_t *m, size_t i)
{
    return m->e[m->dense[i]].row;
}

const mg_val_t *mg_map_get(const mg_map_t *m, const char *key)
{
    int i = map_find(m, key);
    return i >= 0 ? m->e[i].row : NULL;
}

char *mg_keystr(const mg_table_t *t, const mg_val_t *row)
{
    sb_t b = {0};
    for (int i = 0; i < t->nkey; i++) {
        if (i)
            sb_puts(&b, "|");
        sb_puts(&b, row[i].lit ? row[i].lit : "\\N");
    }
    return sb_take(&b);
}

bool mg_model_matches_source(const mg_table_t *t)
{
    bool ok = mg_map_count(t->src) == mg_map_count(t->model);
    if (!ok)
        fprintf(stderr, "generator bug: %s: source %zu rows, model %zu\n", t->name,
                mg_map_count(t->src), mg_map_count(t->model));
    for (size_t i = 0; i < mg_map_count(t->src); i++) {
        const mg_val_t *s = mg_map_row(t->src, i);
        char *k = mg_keystr(t, s);
        const mg_val_t *m = mg_map_get(t->model, k);
        for (int c = 0; m && c < t->ncols; c++)
            if (!val_eq(&s[c], &m[c])) {
                fprintf(stderr, "generator bug: %s key %s column %s: source %.80s model %.80s\n",
                        t->name, k, t->cols[c].name, s[c].lit ? s[c].lit : "NULL",
                        m[c].lit ? m[c].lit : "NULL");
                m = NULL;
                ok = false;
            }
        if (!mg_map_get(t->model, k)) {
            fprintf(stderr, "generator bug: %s key %s missing from the model\n", t->name, k);
            ok = false;
        }
        free(k);
    }
    return ok;
}

/* ---- Connect schemas (JsonConverter order: type, fields|items, optional,
 *      name, version, doc, parameters, default, field) ---- */

static json_t *col_schema(const mg_col_t *c, bool optional)
{
    json_t *o = json_object();
    const char *type = "string", *name = NULL;
    switch (c->type) {
    case MG_INT8: type = "int64"; break;
    case MG_INT4: type = "int32"; break;
    case MG_BOOL: type = "boolean"; break;
    case MG_TEXT: break;
    case MG_JSONB: name = "io.debezium.data.Json"; break;
    case MG_BYTEA: type = "bytes"; break;
    case MG_DEC:
        type = "bytes";
        name = "org.apache.kafka.connect.data.Decimal";
        break;
    case MG_VDEC:
        type = "struct";
        name = "io.debezium.data.VariableScaleDecimal";
        break;
    case MG_DATE:
        type = "int32";
        name = "io.debezium.time.Date";
        break;
    case MG_TS:
        type = "int64";
        name = "io.debezium.time.MicroTimestamp";
        break;
    case MG_TSTZ: name = "io.debezium.time.ZonedTimestamp"; break;
    case MG_TIME:
        type = "int64";
        name = "io.debezium.time.MicroTime";
        break;
    case MG_TEXTARR:
    case MG_INTARR: type = "array"; break;
    case MG_NTYPES: break;
    }
    json_object_set_new(o, "type", json_string(type));
    if (c->type == MG_VDEC)
        json_object_set_new(o, "fields",
                            json_pack("[{s:s,s:b,s:s},{s:s,s:b,s:s}]", "type", "int32", "optional",
                                      0, "field", "scale", "type", "bytes", "optional", 0, "field",
                                      "value"));
    if (c->type == MG_TEXTARR || c->type == MG_INTARR)
        json_object_set_new(o, "items",
                            json_pack("{s:s,s:b}", "type",
                                      c->type == MG_TEXTARR ? "string" : "int32", "optional", 1));
    json_object_set_new(o, "optional", json_boolean(optional));
    if (name) {
        json_object_set_new(o, "name", json_string(name));
        json_object_set_new(o, "version", json_integer(1));
    }
    if (c->type == MG_VDEC)
        json_object_set_new(o, "doc", json_string("Variable scaled decimal"));
    if (c->type == MG_DEC) {
        char s[8];
        snprintf(s, sizeof(s), "%d", c->scale);
        json_object_set_new(o, "parameters",
                            json_pack("{s:s,s:s}", "scale", s, "connect.decimal.precision", "18"));
    }
    json_object_set_new(o, "field", json_string(c->name));
    return o;
}

static json_t *struct_field(json_t *value_schema, const char *field)
{
    json_t *o = json_deep_copy(value_schema);
    json_object_set_new(o, "field", json_string(field));
    return o;
}

static json_t *env_schema(const mg_gen_t *g, const mg_table_t *t)
{
    (void)g;
    char ename[256];
    snprintf(ename, sizeof(ename), "%s.Envelope", t->topic);
    json_t *src = json_pack(
        "{s:s,s:[{s:s,s:b,s:s},{s:s,s:b,s:s},{s:s,s:b,s:s},{s:s,s:b,s:s},"
        "{s:s,s:b,s:s,s:i,s:{s:s},s:s,s:s},{s:s,s:b,s:s},{s:s,s:b,s:s},{s:s,s:b,s:s},"
        "{s:s,s:b,s:s},{s:s,s:b,s:s},{s:s,s:b,s:s},{s:s,s:b,s:s},{s:s,s:b,s:s},{s:s,s:b,s:s}],"
        "s:b,s:s,s:s}",
        "type", "struct", "fields", "type", "string", "optional", 0, "field", "version", "type",
        "string", "optional", 0, "field", "connector", "type", "string", "optional", 0, "field",
        "name", "type", "int64", "optional", 0, "field", "ts_ms", "type", "string", "optional", 1,
        "name", "io.debezium.data.Enum", "version", 1, "parameters", "allowed",
        "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental",
        "default", "false", "field", "snapshot", "type", "string", "optional", 0, "field", "db",
        "type", "string", "optional", 1, "field", "sequence", "type", "int64", "optional", 1,
        "field", "ts_us", "type", "int64", "optional", 1, "field", "ts_ns", "type", "string",
        "optional", 0, "field", "schema", "type", "string", "optional", 0, "field", "table", "type",
        "int64", "optional", 1, "field", "txId", "type", "int64", "optional", 1, "field", "lsn",
        "type", "int64", "optional", 1, "field", "xmin", "optional", 0, "name",
        "io.debezium.connector.postgresql.Source", "field", "source");
    TH_ASSERT(src);
    json_t *txn = json_pack("{s:s,s:[{s:s,s:b,s:s},{s:s,s:b,s:s},{s:s,s:b,s:s}],s:b,s:s,s:i,s:s}",
                            "type", "struct", "fields", "type", "string", "optional", 0, "field",
                            "id", "type", "int64", "optional", 0, "field", "total_order", "type",
                            "int64", "optional", 0, "field", "data_collection_order", "optional", 1,
                            "name", "event.block", "version", 1, "field", "transaction");
    json_t *sch = json_pack(
        "{s:s,s:[o,o,o,{s:s,s:b,s:s},{s:s,s:b,s:s},{s:s,s:b,s:s},{s:s,s:b,s:s},o],s:b,s:s,s:i}",
        "type", "struct", "fields", struct_field(t->value_schema, "before"),
        struct_field(t->value_schema, "after"), src, "type", "string", "optional", 0, "field", "op",
        "type", "int64", "optional", 1, "field", "ts_ms", "type", "int64", "optional", 1, "field",
        "ts_us", "type", "int64", "optional", 1, "field", "ts_ns", txn, "optional", 0, "name",
        ename, "version", 2);
    TH_ASSERT(sch);
    return sch;
}

/* ---- tables ---- */

static const char *type_ddl(const mg_col_t *c, char *buf, size_t size)
{
    static const char *const names[MG_NTYPES] = {
        "bigint",  "integer", "boolean",      "text",        "jsonb",   "bytea",  "",
        "numeric", "date",    "timestamp(6)", "timestamptz", "time(6)", "text[]", "integer[]"};
    if (c->type == MG_DEC)
        snprintf(buf, size, "numeric(18,%d)", c->scale);
    else
        snprintf(buf, size, "%s", names[c->type]);
    return buf;
}

char *mg_ddl(const mg_gen_t *g, int i, const char *as)
{
    const mg_table_t *t = &g->t[i];
    sb_t b = {0};
    sb_printf(&b, "CREATE TABLE %s (", as);
    for (int c = 0; c < t->ncols; c++) {
        char ty[64];
        sb_printf(&b, "%s\"%s\" %s%s%s", c ? ", " : "", t->cols[c].name,
                  type_ddl(&t->cols[c], ty, sizeof(ty)), t->cols[c].notnull ? " NOT NULL" : "",
                  !t->keyless && c == 0 ? " PRIMARY KEY" : "");
    }
    sb_puts(&b, ");");
    if (t->keyless && t->uniq) {
        sb_printf(&b, " CREATE UNIQUE INDEX ON %s (", as);
        for (int c = 0; c < t->nkey; c++)
            sb_printf(&b, "%s\"%s\"", c ? ", " : "", t->cols[c].name);
        sb_puts(&b, ");");
    }
    return sb_take(&b);
}

mg_gen_t *mg_gen_new(uint64_t seed, const mg_opts_t *opts, const char *prefix)
{
    mg_gen_t *g = calloc(1, sizeof(*g));
    TH_ASSERT(g);
    g->rng.s = seed * 0x9E3779B97F4A7C15ULL + 0x1234567;
    for (int i = 0; i < 8; i++)
        mg_next(&g->rng);
    g->opts = *opts;
    snprintf(g->prefix, sizeof(g->prefix), "%s", prefix);
    mg_rng_t *r = &g->rng;
    g->topic_route = opts->topic_route && mg_chance(r, 35);
    g->snapshot_new_style = mg_chance(r, 50);
    g->lsn = 30000000 + mg_range(r, 0, 1000000);
    g->txid = 700 + mg_range(r, 0, 1000);
    g->ntables = (int)mg_range(r, 2, 4);
    g->t = calloc((size_t)g->ntables, sizeof(*g->t));
    TH_ASSERT(g->t);
    for (int i = 0; i < g->ntables; i++) {
        mg_table_t *t = &g->t[i];
        snprintf(t->name, sizeof(t->name), "%st%d", prefix, i);
        snprintf(t->topic, sizeof(t->topic), "%s.public.%s", prefix, t->name);
        if (g->topic_route) {
            char flat[sizeof(t->topic)];
            snprintf(flat, sizeof(flat), "%s", t->topic);
            for (char *p = flat; *p; p++)
                if (*p == '.')
                    *p = '_';
            snprintf(t->target, sizeof(t->target), "public.%s", flat);
        } else {
            snprintf(t->target, sizeof(t->target), "public.%s", t->name);
        }
        t->keyless = mg_chance(r, 30);
        t->uniq = t->keyless && mg_chance(r, 50);
        t->full = t->keyless || mg_chance(r, 40);
        t->with_schema = mg_chance(r, 55) || (g->topic_route && !opts->topic_route_noschema);
        t->truncates = mg_chance(r, 30);
        t->nparts = t->truncates ? 1 : (int)mg_range(r, 1, 4);
        /* Without message.key.columns Debezium's key is null, so the
         * topic needs one partition for per-row order. */
        t->nullkey = t->keyless && mg_chance(r, 50);
        if (t->nullkey)
            t->nparts = 1;
        t->next_id = 1 + mg_range(r, 0, 100);
        int n = 0;
        if (t->keyless) {
            t->cols[n++] = (mg_col_t){"k1", MG_INT8, true, 0};
            t->cols[n++] =
                (mg_col_t){"k2", MG_TEXT, !(mg_chance(r, 50) && opts->nullable_keycols), 0};
            t->nkey = 2;
        } else {
            t->cols[n++] = (mg_col_t){"id", MG_INT8, true, 0};
            t->nkey = 1;
        }
        int extra = (int)mg_range(r, 3, 8);
        for (int k = 0; k < extra; k++) {
            mg_col_t *c = &t->cols[n];
            snprintf(c->name, sizeof(c->name), "c%d", k);
            /* The first one is always TOASTable, so placeholders occur. */
            static const mg_type_t tz[] = {MG_TEXT, MG_JSONB, MG_BYTEA, MG_TEXTARR};
            c->type = k == 0 ? tz[mg_range(r, 0, 3)] : (mg_type_t)mg_range(r, 0, MG_NTYPES - 1);
            c->notnull = mg_chance(r, 30) && (opts->toast_notnull || !toastable(c->type));
            c->scale = (int)mg_range(r, 0, 4);
            n++;
        }
        t->ncols = n;
        char vname[256];
        snprintf(vname, sizeof(vname), "%s.Value", t->topic);
        json_t *fields = json_array();
        for (int c = 0; c < n; c++)
            json_array_append_new(fields, col_schema(&t->cols[c], !t->cols[c].notnull));
        t->value_schema = json_pack("{s:s,s:o,s:b,s:s}", "type", "struct", "fields", fields,
                                    "optional", 1, "name", vname);
        json_t *kf = json_array();
        for (int c = 0; c < t->nkey; c++)
            json_array_append_new(kf, col_schema(&t->cols[c], !t->cols[c].notnull));
        char kname[256];
        snprintf(kname, sizeof(kname), "%s.Key", t->topic);
        t->key_schema = json_pack("{s:s,s:o,s:b,s:s}", "type", "struct", "fields", kf, "optional",
                                  0, "name", kname);
        t->src = map_new(n);
        t->model = map_new(n);
    }
    /* Self-check of the encoder against the documented constant. */
    sb_t e = {0};
    b64(&e, (const uint8_t *)PLACEHOLDER, strlen(PLACEHOLDER));
    TH_ASSERT(!strcmp(e.s, PLACEHOLDER_B64));
    free(e.s);
    return g;
}

void mg_gen_free(mg_gen_t *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->ntables; i++) {
        map_free(g->t[i].src);
        map_free(g->t[i].model);
        json_decref(g->t[i].value_schema);
        json_decref(g->t[i].key_schema);
    }
    free(g->t);
    free(g);
}

/* ---- records ---- */

static mg_rec_t *push_rec(mg_recs_t *out)
{
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 256;
        out->v = realloc(out->v, out->cap * sizeof(*out->v));
        TH_ASSERT(out->v);
    }
    mg_rec_t *r = &out->v[out->n++];
    memset(r, 0, sizeof(*r));
    return r;
}

void mg_recs_clear(mg_recs_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].key);
        free(r->v[i].value);
        free(r->v[i].hdr_val);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    TH_ASSERT(s);
    return s;
}

static char *key_json(const mg_table_t *t, const mg_val_t *row)
{
    if (t->nullkey)
        return NULL;
    json_t *p = json_object();
    for (int c = 0; c < t->nkey; c++)
        json_object_set(p, t->cols[c].name, row[c].js);
    json_t *root =
        t->with_schema ? json_pack("{s:O,s:o}", "schema", t->key_schema, "payload", p) : p;
    char *s = dump(root);
    json_decref(root);
    return s;
}

static int partition_of(const mg_table_t *t, const char *key)
{
    return t->nparts > 1 && key ? (int)(hash(key) % (uint32_t)t->nparts) : 0;
}

/* The JSON of @p row; columns flagged in @p ph get their placeholder, and
 * with @p key_only every non-key column is null (DEFAULT identity delete). */
static json_t *image(const mg_table_t *t, const mg_val_t *row, const bool *ph, bool key_only)
{
    json_t *o = json_object();
    for (int c = 0; c < t->ncols; c++) {
        json_t *v;
        if (key_only && c >= t->nkey)
            v = json_null();
        else if (ph && ph[c]) {
            switch (t->cols[c].type) {
            case MG_BYTEA: v = json_string(PLACEHOLDER_B64); break;
            case MG_TEXTARR: v = json_pack("[s]", PLACEHOLDER); break;
            default: v = json_string(PLACEHOLDER); break;
            }
        } else
            v = json_incref(row[c].js);
        json_object_set_new(o, t->cols[c].name, v);
    }
    return o;
}

static char *envelope(mg_gen_t *g, const mg_table_t *t, char op, json_t *before, json_t *after,
                      const char *snapshot)
{
    char opstr[2] = {op, 0};
    g->lsn += mg_range(&g->rng, 8, 400);
    g->txid++;
    json_int_t ts = 1764547200000 + g->txid;
    char seq[64];
    snprintf(seq, sizeof(seq), "[\"%" PRId64 "\",\"%" PRId64 "\"]", g->lsn - 8, g->lsn);
    json_t *src = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:I,s:I,s:n}", "version",
                            "2.6.2.Final", "connector", "postgresql", "name", g->prefix, "ts_ms",
                            ts, "snapshot", snapshot, "db", "source", "sequence", seq, "ts_us",
                            ts * 1000, "ts_ns", ts * 1000000, "schema", "public", "table", t->name,
                            "txId", (json_int_t)g->txid, "lsn", (json_int_t)g->lsn, "xmin");
    TH_ASSERT(src);
    json_t *p =
        json_pack("{s:o,s:o,s:o,s:s,s:I,s:I,s:I,s:n}", "before", before ? before : json_null(),
                  "after", after ? after : json_null(), "source", src, "op", opstr, "ts_ms", ts + 5,
                  "ts_us", (ts + 5) * 1000, "ts_ns", (ts + 5) * 1000000, "transaction");
    TH_ASSERT(p);
    json_t *root =
        t->with_schema ? json_pack("{s:o,s:o}", "schema", env_schema(g, t), "payload", p) : p;
    char *s = dump(root);
    json_decref(root);
    return s;
}

/* Emit one record of table @p ti and feed it to the model.
 * op: 'c','r','u' (after, ph), 'd' (key of @p row), 'T' tombstone, 't'. */
static void emit(mg_gen_t *g, int ti, mg_recs_t *out, char op, const mg_val_t *row,
                 const mg_val_t *before_row, const bool *ph, const char *snapshot)
{
    mg_table_t *t = &g->t[ti];
    mg_rec_t *rec = push_rec(out);
    rec->table = ti;
    char *k = row ? mg_keystr(t, row) : strdup("");
    snprintf(rec->what, sizeof(rec->what), "%c %.40s", op, k);
    if (op != 't') {
        rec->key = key_json(t, row);
        rec->partition = partition_of(t, rec->key);
    }
    switch (op) {
    case 'c':
    case 'r':
    case 'u': {
        json_t *before = before_row ? image(t, before_row, NULL, false) : NULL;
        rec->value = envelope(g, t, op, before, image(t, row, ph, false), snapshot);
        /* Model: upsert; a placeholder keeps the stored value. */
        const mg_val_t *cur = mg_map_get(t->model, k);
        bool any_ph = false;
        for (int c = 0; ph && c < t->ncols; c++)
            any_ph |= ph[c];
        TH_ASSERT(cur || !any_ph); /* the generator never emits that */
        mg_val_t *nr = calloc(MG_MAXCOLS, sizeof(*nr));
        TH_ASSERT(nr);
        for (int c = 0; c < t->ncols; c++)
            nr[c] = val_copy(ph && ph[c] ? &cur[c] : &row[c]);
        map_put(t->model, k, nr);
        break;
    }
    case 'd': {
        json_t *before = t->full ? image(t, before_row, NULL, false) : image(t, row, NULL, true);
        rec->value = envelope(g, t, 'd', before, NULL, "false");
        map_del(t->model, k);
        break;
    }
    case 'K': {
        /* A key change without a record key: one u, before (FULL) holds
         * the old key columns, after the new ones. The row found by the
         * old key takes the new image. */
        rec->value = envelope(g, t, 'u', image(t, before_row, NULL, false),
                              image(t, row, NULL, false), "false");
        char *ok = mg_keystr(t, before_row);
        snprintf(rec->from, sizeof(rec->from), "%s", ok);
        map_del(t->model, ok);
        free(ok);
        map_put(t->model, k, row_copy(t, row));
        break;
    }
    case 'T': break; /* tombstone: no value, nothing to do */
    case 't':
        rec->value = envelope(g, t, 't', NULL, NULL, "false");
        map_clear(t->model);
        break;
    }
    free(k);
}

void mg_snapshot(mg_gen_t *g, int rows, mg_recs_t *out)
{
    for (int ti = 0; ti < g->ntables; ti++) {
        mg_table_t *t = &g->t[ti];
        for (int i = 0; i < rows; i++) {
            mg_val_t *row = calloc(MG_MAXCOLS, sizeof(*row));
            TH_ASSERT(row);
            for (int c = 0; c < t->ncols; c++)
                row[c] = tval(g, t, &t->cols[c], c >= t->nkey);
            val_free(&row[0]);
            row[0].lit = malloc(24);
            snprintf(row[0].lit, 24, "%" PRId64, t->next_id);
            row[0].js = json_integer(t->next_id);
            t->next_id += mg_range(&g->rng, 1, 3);
            const char *snap = "true";
            if (g->snapshot_new_style && i == 0)
                snap = "first_in_data_collection";
            if (i == rows - 1)
                snap = ti == g->ntables - 1
                           ? "last"
                           : (g->snapshot_new_style ? "last_in_data_collection" : "true");
            if (ti == 0 && i == 0 && g->snapshot_new_style)
                snap = "first";
            char *k = mg_keystr(t, row);
            map_put(t->src, k, row_copy(t, row));
            free(k);
            emit(g, ti, out, 'r', row, NULL, NULL, snap);
            row_free(t->ncols, row);
        }
    }
}

/* A fresh key for @p row of table @p t (ids only grow, so it is new). */
static void new_key(mg_gen_t *g, mg_table_t *t, mg_val_t *row)
{
    val_free(&row[0]);
    row[0].lit = malloc(24);
    snprintf(row[0].lit, 24, "%" PRId64, t->next_id);
    row[0].js = json_integer(t->next_id);
    t->next_id += mg_range(&g->rng, 1, 3);
    if (t->keyless && mg_chance(&g->rng, 50)) {
        val_free(&row[1]);
        row[1] = tval(g, t, &t->cols[1], false);
    }
}

static const char *key_hdr(mg_gen_t *g, const mg_table_t *t, const mg_val_t *row, char **val)
{
    (void)g;
    *val = key_json(t, row);
    return NULL;
}

void mg_step(mg_gen_t *g, mg_recs_t *out)
{
    mg_rng_t *r = &g->rng;
    int ti = (int)mg_range(r, 0, g->ntables - 1);
    mg_table_t *t = &g->t[ti];
    size_t live = mg_map_count(t->src);
    int k = (int)mg_range(r, 0, 99);
    if (live == 0 || live < 8 || k < 28) {
        /* insert */
        mg_val_t *row = calloc(MG_MAXCOLS, sizeof(*row));
        TH_ASSERT(row);
        for (int c = 0; c < t->ncols; c++)
            row[c] = tval(g, t, &t->cols[c], c >= t->nkey);
        new_key(g, t, row);
        char *ks = mg_keystr(t, row);
        map_put(t->src, ks, row_copy(t, row));
        free(ks);
        emit(g, ti, out, 'c', row, NULL, NULL, "false");
        row_free(t->ncols, row);
        return;
    }
    const mg_val_t *cur = mg_map_row(t->src, (size_t)mg_range(r, 0, (int64_t)live - 1));
    mg_val_t *old = row_copy(t, cur);
    char *oldk = mg_keystr(t, old);
    if (k < 70) {
        /* update: some columns change; unchanged TOASTed ones are
         * placeholders under REPLICA IDENTITY DEFAULT */
        mg_val_t *row = row_copy(t, old);
        bool ph[MG_MAXCOLS] = {0};
        int pchange = (int)mg_range(r, 10, 70);
        for (int c = t->nkey; c < t->ncols; c++) {
            if (mg_chance(r, pchange)) {
                val_free(&row[c]);
                row[c] = tval(g, t, &t->cols[c], true);
            } else if (!t->full && row[c].big) {
                ph[c] = true;
            }
        }
        map_put(t->src, oldk, row_copy(t, row));
        emit(g, ti, out, 'u', row, t->full ? old : NULL, ph, "false");
        row_free(t->ncols, row);
    } else if (k < 82 || (t->keyless && !g->opts.keycol_change && k < 92)) {
        /* delete, then (usually) its tombstone */
        map_del(t->src, oldk);
        emit(g, ti, out, 'd', old, old, NULL, NULL);
        if (mg_chance(r, 90))
            emit(g, ti, out, 'T', old, NULL, NULL, NULL);
    } else if (k < 92) {
        /* key change: d (old key) + tombstone + c (new key), full after */
        mg_val_t *row = row_copy(t, old);
        new_key(g, t, row);
        for (int c = t->nkey; c < t->ncols; c++)
            if (mg_chance(r, 30)) {
                val_free(&row[c]);
                row[c] = tval(g, t, &t->cols[c], true);
            }
        map_del(t->src, oldk);
        char *nk = mg_keystr(t, row);
        map_put(t->src, nk, row_copy(t, row));
        free(nk);
        if (t->nullkey) {
            emit(g, ti, out, 'K', row, old, NULL, NULL);
            row_free(t->ncols, row);
            row_free(t->ncols, old);
            free(oldk);
            return;
        }
        size_t first = out->n;
        emit(g, ti, out, 'd', old, old, NULL, NULL);
        if (mg_chance(r, 50)) {
            out->v[first].hdr = "__debezium.newkey";
            key_hdr(g, t, row, &out->v[first].hdr_val);
        }
        emit(g, ti, out, 'T', old, NULL, NULL, NULL);
        size_t c_at = out->n;
        emit(g, ti, out, 'c', row, NULL, NULL, "false");
        if (mg_chance(r, 50)) {
            out->v[c_at].hdr = "__debezium.oldkey";
            key_hdr(g, t, old, &out->v[c_at].hdr_val);
        }
        row_free(t->ncols, row);
    } else if (k < 98 || !t->truncates) {
        /* incremental snapshot read of the current row */
        emit(g, ti, out, 'r', old, NULL, NULL, "incremental");
    } else {
        map_clear(t->src);
        emit(g, ti, out, 't', NULL, NULL, NULL, NULL);
    }
    row_free(t->ncols, old);
    free(oldk);
}

void mg_poison(mg_gen_t *g, mg_recs_t *out)
{
    mg_rng_t *r = &g->rng;
    int ti = (int)mg_range(r, 0, g->ntables - 1);
    mg_table_t *t = &g->t[ti];
    mg_rec_t *rec = push_rec(out);
    rec->table = ti;
    rec->poison = true;
    mg_val_t *row = calloc(MG_MAXCOLS, sizeof(*row));
    TH_ASSERT(row);
    for (int c = 0; c < t->ncols; c++)
        row[c] = tval(g, t, &t->cols[c], false);
    val_free(&row[0]);
    int64_t id = 2000000000LL + g->npoison++;
    row[0].lit = malloc(24);
    snprintf(row[0].lit, 24, "%" PRId64, id);
    row[0].js = json_integer(id);
    rec->key = key_json(t, row);
    rec->partition = partition_of(t, rec->key);
    if (mg_chance(r, 50)) {
        snprintf(rec->what, sizeof(rec->what), "poison: not JSON");
        rec->value = strdup("{\"schema\":{\"type\":\"struct\", this is not JSON");
    } else {
        /* A well-formed envelope whose bigint key column holds text: the
         * decoder (schema says int64) or the target (bigint) refuses it. */
        snprintf(rec->what, sizeof(rec->what), "poison: text in bigint");
        json_t *after = image(t, row, NULL, false);
        json_object_set_new(after, t->cols[0].name, json_string("not-a-number"));
        rec->value = envelope(g, t, 'c', NULL, after, "false");
    }
    row_free(t->ncols, row);
}
