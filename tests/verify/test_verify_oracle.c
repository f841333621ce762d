/*
 * cdc-verify against PostgreSQL as the oracle: random tables over many
 * column types, random edits on the target, and cdc-verify's counts, keys
 * and exit code compared with what PostgreSQL itself says differs.
 *
 * Each round (one seed) creates tables in the databases "source" and
 * "target" (same DDL, except widened columns), loads the same rows in
 * both, edits the target (delete, insert, change a value, write a value
 * another equal way, set NULL, duplicate a row of a keyless table), then
 * copies both sides (text COPY, exact) into a third database, "oracle",
 * as src.T and dst.T, where the truth is plain SQL:
 *   keyed tables: anti-joins for missing and extra keys, and per column
 *     norm(s.c) IS DISTINCT FROM norm(d.c) on matching keys;
 *   keyless tables under --key: rows as multisets (EXCEPT ALL both ways);
 *     per key, min(missing, extra) rows pair up as different.
 * norm() is the comparison rule of the column's family (table `rules`
 * below, overridable with CDC_ORACLE_RULES=family=rule,...): eq is
 * PostgreSQL's own = (IS DISTINCT FROM), text is the text output compared
 * bytewise, jsonb compares as jsonb, json compares as its jsonb cast
 * where that cast succeeds and by its exact text where jsonb rejects the
 * value (\u0000, a lone surrogate, a number out of numeric's range),
 * narrow casts both sides to the source's type, decimal compares each
 * side's shortest decimal text as a number (a float4 0.1 equals a float8
 * 0.1). The default table follows README.md's "cdc-verify equality rules".
 * Keys under a nondeterministic collation are refused (exit 2, README), so
 * such tables are expected to fail alone, also under --all-tables, whose
 * exit code is the worst table's (a keyless table there is exit 2).
 *
 * Usage: test-verify-oracle [long] [--seed N] [--rounds N]
 *   (no argument)  the fixed CI seeds
 *   long           soak: new seeds until CDC_SOAK_SECONDS (default 3600)
 *   --seed N       replay one seed (printed with every failure; a soak
 *                  seed replays with "long --seed N")
 * CDC_ORACLE_FEATURES=all,-json,... switches feature families (names in
 * ofeat_names); everything is on by default.
 */
#include "th.h"
#include "th_pg.h"
#include "th_proc.h"
#include "tv.h"

#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <time.h>
#include <unistd.h>

#include "oracle_gen.h"

/* ---- configuration ---------------------------------------------------- */

/* The oracle's comparison rule per type family, as README.md's
 * "cdc-verify equality rules" document them. eq: PostgreSQL's =; text:
 * text output, bytewise; jsonb: as jsonb (=); json: as jsonb where the
 * cast succeeds, else the exact text; narrow: both sides cast to the
 * source column's type, then =. */
static struct rule {
    const char *family;
    const char *rule;
    const char *why;
} rules[] = {
    {"integer", "eq", "int2/int4/int8"},
    {"numeric", "eq", "1.5 = 1.50, NaN = NaN"},
    {"float", "eq", "-0 = 0, NaN = NaN"},
    {"text", "eq", "text, varchar (C collation: bytes)"},
    {"char(n)", "eq", "trailing blanks insignificant"},
    {"\"char\"", "eq", "one byte"},
    {"bytea", "eq", "bytes"},
    {"bool", "eq", ""},
    {"uuid", "eq", ""},
    {"datetime", "eq", "date/time/timestamp/timestamptz: same instant"},
    {"timetz", "eq", "same instant and same offset"},
    {"interval", "eq", "'1 day' = '24 hours', '1 mon' = '30 days'"},
    {"json", "json", "json has no =: as its jsonb cast, the text where jsonb rejects it"},
    {"jsonb", "eq", "key order/whitespace normalised, 1 = 1.0, numbers exact"},
    {"array", "eq", "element =, dimensions and lower bounds"},
    {"domain", "eq", "the base type's ="},
    {"composite", "eq", "field by field ="},
    {"range", "eq", "bounds by the subtype's ="},
    {"enum", "eq", ""},
    {"icu", "text", "the stored bytes, not the nondeterministic collation's = (keys too)"},
    {"citext", "text", "the stored bytes, not citext's case-blind ="},
    {"widen", "eq", "cross-type = (int4 = int8, numeric(12,3) = numeric, varchar = text)"},
    {"widen-float", "eq", "float4 = float8: the float4 widened exactly (0.1f <> 0.1)"},
};
#define NRULES (sizeof rules / sizeof rules[0])

static bool feat_on[FT_N];

/* Multiset tables: pair a missing and an extra row of one key as one
 * different row (true), or count them apart (false). */
static const bool multiset_pairs = true;

static const char *rule_of(const char *family)
{
    for (size_t i = 0; i < NRULES; i++)
        if (strcmp(rules[i].family, family) == 0)
            return rules[i].rule;
    return "eq";
}

static void parse_features(const char *spec)
{
    for (int i = 0; i < FT_N; i++)
        feat_on[i] = true;
    if (!spec || !*spec)
        return;
    char *dup = strdup(spec), *save = NULL;
    for (char *t = strtok_r(dup, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        bool on = *t != '-';
        const char *name = *t == '-' || *t == '+' ? t + 1 : t;
        if (strcmp(name, "all") == 0 || strcmp(name, "none") == 0) {
            for (int i = 0; i < FT_N; i++)
                feat_on[i] = strcmp(name, "all") == 0 ? on : !on;
            continue;
        }
        int f = -1;
        for (int i = 0; i < FT_N; i++)
            if (strcmp(ofeat_names[i], name) == 0)
                f = i;
        if (f < 0) {
            fprintf(stderr, "CDC_ORACLE_FEATURES: unknown feature '%s' (known:", name);
            for (int i = 0; i < FT_N; i++)
                fprintf(stderr, " %s", ofeat_names[i]);
            fprintf(stderr, ")\n");
            exit(2);
        }
        feat_on[f] = on;
    }
    free(dup);
}

static void parse_rules(const char *spec)
{
    if (!spec || !*spec)
        return;
    char *dup = strdup(spec), *save = NULL; /* kept: rules[] points into it */
    for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        bool found = false;
        if (eq) {
            *eq = '\0';
            for (size_t i = 0; i < NRULES; i++)
                if (strcmp(rules[i].family, t) == 0) {
                    rules[i].rule = eq + 1;
                    found = true;
                }
        }
        if (!found ||
            (strcmp(eq + 1, "eq") && strcmp(eq + 1, "text") && strcmp(eq + 1, "jsonb") &&
             strcmp(eq + 1, "narrow") && strcmp(eq + 1, "decimal") && strcmp(eq + 1, "json"))) {
            fprintf(stderr,
                    "CDC_ORACLE_RULES: '%s' is not family=eq|text|jsonb|json|narrow|decimal\n", t);
            exit(2);
        }
    }
}

/* ---- the model -------------------------------------------------------- */

typedef enum kshape { K_INT8, K_TEXT, K_UUID, K_NUM, K_COMP, K_TIME, K_ICU, K_NONE, K_N } kshape_t;

#define MAXC 4

typedef struct cell {
    bool null;
    uint64_t seed;
    int spell;
} cell_t;

typedef struct orow {
    int kidx;   /* key number: the key values derive from it */
    int kspell; /* key written another equal way (numeric, icu) */
    cell_t c[MAXC];
} orow_t;

typedef struct otable {
    char name[16];
    kshape_t key;
    ogen_t gen[MAXC];
    int ncols;
    orow_t *src, *dst;
    size_t nsrc, ndst, cap;
    bool feats[FT_N]; /* features this table exercises */
    char edits[200];  /* what was done to the target */
    int nedits_respell;
} otable_t;

static const char *const colnames[MAXC] = {"v", "c1", "c2", "C 3"};

static th_pg_t pg;
static char verify_bin[512], oracle_conninfo[512];
static uint64_t cur_seed;
static bool replay_long; /* failures replay with "long --seed N" */
static int total_tables, failed_tables;
static cdc_buf_t fail_log = CDC_BUF_INIT; /* one line per failure, for the summary */
static int feat_fail[FT_N], feat_seen[FT_N];
static char feat_seeds[FT_N][200];

static void qident(cdc_buf_t *b, const char *name)
{
    cdc_buf_putc(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            cdc_buf_putc(b, '"');
        cdc_buf_putc(b, *p);
    }
    cdc_buf_putc(b, '"');
}

/* Key columns: names, SQL types and rule families. */
typedef struct keydef {
    int n;
    const char *name[2], *type[2], *family[2];
} keydef_t;

static keydef_t keydef(kshape_t k)
{
    switch (k) {
    case K_INT8: return (keydef_t){1, {"id"}, {"int8"}, {"integer"}};
    case K_TEXT: return (keydef_t){1, {"k"}, {"text"}, {"text"}};
    case K_UUID: return (keydef_t){1, {"u"}, {"uuid"}, {"uuid"}};
    case K_NUM: return (keydef_t){1, {"n"}, {"numeric"}, {"numeric"}};
    case K_COMP: return (keydef_t){2, {"a", "b"}, {"int4", "text"}, {"integer", "text"}};
    case K_TIME:
        return (keydef_t){2, {"d", "ts"}, {"date", "timestamptz"}, {"datetime", "datetime"}};
    case K_ICU: return (keydef_t){1, {"k"}, {"text COLLATE ora_ci"}, {"icu"}};
    case K_NONE: return (keydef_t){1, {"g"}, {"int4"}, {"integer"}};
    case K_N: break;
    }
    return (keydef_t){0, {NULL}, {NULL}, {NULL}};
}

static void key_text(cdc_buf_t *o, uint64_t tseed, int kidx, bool icu, int spell)
{
    static const char *const w[] = {"alpha", "Beta", "é", "日本", "z z", "\\", "'q'", "Ωmega", ""};
    uint64_t h = ogen_mix(tseed ^ (uint64_t)kidx * 0x100000001b3ull);
    const char *word = w[h % 9];
    for (const char *p = word; *p; p++) {
        char c = *p;
        bool up = ((h >> (8 + (p - word))) & 1) ^ (spell ? 1 : 0);
        if (icu && c >= 'a' && c <= 'z' && up)
            c = (char)(c - 32);
        else if (icu && c >= 'A' && c <= 'Z' && !up)
            c = (char)(c + 32);
        cdc_buf_putc(o, c);
    }
    cdc_buf_printf(o, "#%d", kidx);
}

static void key_values(cdc_buf_t *o, const otable_t *t, uint64_t tseed, const orow_t *r)
{
    cdc_buf_t s = CDC_BUF_INIT;
    switch (t->key) {
    case K_INT8: cdc_buf_printf(o, "%lld", (long long)r->kidx * 7 - 1000); break;
    case K_TEXT:
    case K_ICU:
        key_text(&s, tseed, r->kidx, t->key == K_ICU, r->kspell);
        ogen_quote(o, s.data);
        break;
    case K_UUID: {
        uint64_t a = ogen_mix(tseed + (uint64_t)r->kidx), b = ogen_mix(a);
        cdc_buf_printf(o, "'%016" PRIx64 "%016" PRIx64 "'", a, b);
        break;
    }
    case K_NUM:
        cdc_buf_printf(o, "%s%d.%03d%s", r->kidx < 50 ? "-" : "", abs(r->kidx - 50) / 8,
                       abs(r->kidx - 50) % 8 * 125, r->kspell ? "00" : "");
        break;
    case K_COMP:
        cdc_buf_printf(o, "%d, ", r->kidx % 5);
        key_text(&s, tseed, r->kidx, false, 0);
        ogen_quote(o, s.data);
        break;
    case K_TIME: /* infinities first and last; BC dates; microseconds */
        if (r->kidx == 0)
            cdc_buf_puts(o, "'-infinity', 'infinity'");
        else if (r->kidx == 1)
            cdc_buf_puts(o, "'infinity', '-infinity'");
        else
            cdc_buf_printf(o,
                           "DATE '0100-01-01 BC' + %d * 1000, TIMESTAMPTZ '2001-02-03 "
                           "04:05:06.789012+00' + %d * interval '1 hour 1.000001 seconds'",
                           r->kidx % 900, r->kidx);
        break;
    case K_NONE:
        if (ogen_mix(tseed * 31 + (uint64_t)r->kidx) % 15 == 0)
            cdc_buf_puts(o, "NULL");
        else
            cdc_buf_printf(o, "%d", r->kidx / 3);
        break;
    case K_N: break;
    }
    cdc_buf_free(&s);
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state += 0x9e3779b97f4a7c15ull;
    return ogen_mix(rng_state);
}

static int rndn(int n)
{
    return (int)(rnd() % (uint64_t)n);
}

static void push_row(otable_t *t, const orow_t *r)
{
    if (t->ndst == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->dst = realloc(t->dst, t->cap * sizeof *t->dst);
    }
    t->dst[t->ndst++] = *r;
}

static void new_cells(orow_t *r, const otable_t *t)
{
    for (int c = 0; c < t->ncols; c++) {
        r->c[c].seed = rnd();
        r->c[c].null = rndn(9) == 0;
        r->c[c].spell = 0;
    }
}

/* Generators a table may draw from, given the switched-on features. */
static int usable_gens(ogen_t *out)
{
    int n = 0;
    for (int g = 0; g < G_N; g++)
        if (feat_on[ocoltypes[g].feature])
            out[n++] = (ogen_t)g;
    return n;
}

static void build_table(otable_t *t, int ti, int round_no, int rows)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "t%d", ti);
    ogen_t gens[G_N];
    int ng = usable_gens(gens);
    /* rotate through the generators so every one is covered by the seeds */
    ogen_t theme = ng ? gens[(round_no * 7 + ti) % ng] : G_INT4;
    kshape_t shapes[K_N];
    int ns = 0;
    for (int k = 0; k < K_N; k++)
        if ((k != K_ICU || feat_on[FT_ICU]) && (k != K_NONE || feat_on[FT_KEYLESS]))
            shapes[ns++] = (kshape_t)k;
    t->key = shapes[rndn(ns)];
    t->gen[0] = G_INT4;
    t->ncols = 2 + rndn(MAXC - 1);
    for (int c = 1; c < t->ncols; c++)
        t->gen[c] = theme;
    t->feats[ocoltypes[theme].feature] = true;
    if (t->key == K_ICU)
        t->feats[FT_ICU] = true;
    if (t->key == K_NONE)
        t->feats[FT_KEYLESS] = true;
    t->nsrc = (size_t)(rows / 2 + rndn(rows));
    t->src = calloc(t->nsrc ? t->nsrc : 1, sizeof *t->src);
    for (size_t i = 0; i < t->nsrc; i++) {
        t->src[i].kidx = (int)i;
        new_cells(&t->src[i], t);
    }
    /* keyless: some rows twice already on both sides */
    if (t->key == K_NONE)
        for (size_t i = 0; i + 1 < t->nsrc; i += 5 + (size_t)rndn(5))
            t->src[i + 1] = t->src[i];
    for (size_t i = 0; i < t->nsrc; i++)
        push_row(t, &t->src[i]);

    /* edits on the target */
    int nedit = rndn(5) == 0 ? 0 : 1 + rndn(6);
    int next_key = (int)t->nsrc + 1000;
    size_t el = 0;
    for (int e = 0; e < nedit && t->ndst; e++) {
        size_t r = (size_t)rndn((int)t->ndst);
        int c = 1 + rndn(t->ncols - 1);
        int kind = rndn(7);
        const char *what = "";
        switch (kind) {
        case 0: /* delete */
            t->dst[r] = t->dst[--t->ndst];
            what = "delete";
            break;
        case 1: { /* insert a row the source does not have */
            orow_t n = {0};
            n.kidx = next_key++;
            new_cells(&n, t);
            push_row(t, &n);
            what = "insert";
            break;
        }
        case 2: /* change one value */
            t->dst[r].c[c].seed = rnd();
            t->dst[r].c[c].null = false;
            what = "change";
            break;
        case 3: /* NULL */
            t->dst[r].c[c].null = !t->dst[r].c[c].null;
            what = "null";
            break;
        case 4:
        case 5: /* equal value written another way */
            if (!feat_on[FT_RESPELL])
                continue;
            if (kind == 5 && (t->key == K_NUM || t->key == K_ICU))
                t->dst[r].kspell = 1;
            else
                t->dst[r].c[c].spell = 1;
            t->nedits_respell++;
            t->feats[FT_RESPELL] = true;
            what = kind == 5 && (t->key == K_NUM || t->key == K_ICU) ? "respell-key" : "respell";
            break;
        case 6: /* keyless: the same row once more */
            if (t->key != K_NONE)
                continue;
            push_row(t, &t->dst[r]);
            what = "dup";
            break;
        }
        el += (size_t)snprintf(t->edits + el, sizeof t->edits - el, "%s%s", el ? "," : "", what);
        if (el >= sizeof t->edits)
            el = sizeof t->edits - 1;
    }
}

static void free_table(otable_t *t)
{
    free(t->src);
    free(t->dst);
}

static void ddl(cdc_buf_t *b, const otable_t *t, const char *schema, bool target)
{
    keydef_t k = keydef(t->key);
    cdc_buf_printf(b, "CREATE TABLE %s.%s (", schema, t->name);
    for (int i = 0; i < k.n; i++)
        cdc_buf_printf(b, "%s %s, ", k.name[i], k.type[i]);
    for (int c = 0; c < t->ncols; c++) {
        qident(b, colnames[c]);
        cdc_buf_printf(b, " %s%s", target ? ocoltypes[t->gen[c]].ttype : ocoltypes[t->gen[c]].stype,
                       c + 1 < t->ncols ? ", " : "");
    }
    if (t->key != K_NONE) {
        cdc_buf_puts(b, ", PRIMARY KEY (");
        for (int i = 0; i < k.n; i++)
            cdc_buf_printf(b, "%s%s", i ? ", " : "", k.name[i]);
        cdc_buf_putc(b, ')');
    }
    cdc_buf_puts(b, ");");
}

static int load_rows(const char *conninfo, const otable_t *t, const orow_t *rows, size_t n,
                     uint64_t tseed)
{
    cdc_buf_t b = CDC_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += 200) {
        cdc_buf_reset(&b);
        cdc_buf_printf(&b, "INSERT INTO public.%s VALUES ", t->name);
        for (size_t j = i; j < n && j < i + 200; j++) {
            cdc_buf_puts(&b, j > i ? ", (" : "(");
            key_values(&b, t, tseed, &rows[j]);
            for (int c = 0; c < t->ncols; c++) {
                cdc_buf_puts(&b, ", ");
                if (rows[j].c[c].null)
                    cdc_buf_puts(&b, "NULL");
                else
                    ogen_value(&b, t->gen[c], rows[j].c[c].seed, rows[j].c[c].spell);
            }
            cdc_buf_putc(&b, ')');
        }
        rc = th_pg_exec(conninfo, b.data);
        if (rc)
            fprintf(stderr, "seed %" PRIu64 " %s: loading failed: %.300s...\n", cur_seed, t->name,
                    b.data);
    }
    cdc_buf_free(&b);
    return rc;
}

/* Copy public.T of @p from into SCHEMA.T of the oracle database (text COPY:
 * every value's text round-trips exactly). */
static int copy_table(PGconn *from, PGconn *oracle, const char *table, const char *schema)
{
    char sql[200];
    snprintf(sql, sizeof sql, "COPY public.%s TO STDOUT", table);
    PGresult *r1 = PQexec(from, sql);
    snprintf(sql, sizeof sql, "TRUNCATE %s.%s; COPY %s.%s FROM STDIN", schema, table, schema,
             table);
    PGresult *r2 = PQexec(oracle, sql);
    int rc = 0;
    if (PQresultStatus(r1) != PGRES_COPY_OUT || PQresultStatus(r2) != PGRES_COPY_IN) {
        fprintf(stderr, "copy %s: %s%s", table, PQerrorMessage(from), PQerrorMessage(oracle));
        PQclear(r1);
        PQclear(r2);
        return -1;
    }
    PQclear(r1);
    PQclear(r2);
    char *buf = NULL;
    int n;
    while ((n = PQgetCopyData(from, &buf, 0)) > 0) {
        if (PQputCopyData(oracle, buf, n) != 1)
            rc = -1;
        PQfreemem(buf);
    }
    PQclear(PQgetResult(from));
    PQputCopyEnd(oracle, NULL);
    PGresult *r = PQgetResult(oracle);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "copy %s into the oracle: %s", table, PQerrorMessage(oracle));
        rc = -1;
    }
    PQclear(r);
    while ((r = PQgetResult(oracle)))
        PQclear(r);
    return rc;
}

/* ---- the truth -------------------------------------------------------- */

static void norm(cdc_buf_t *b, const char *alias, const char *col, const char *family,
                 const char *stype)
{
    const char *rule = rule_of(family);
    cdc_buf_t id = CDC_BUF_INIT;
    if (alias)
        cdc_buf_printf(&id, "%s.", alias);
    qident(&id, col);
    if (strcmp(rule, "text") == 0)
        cdc_buf_printf(b, "(%s)::text COLLATE \"C\"", id.data);
    else if (strcmp(rule, "jsonb") == 0)
        cdc_buf_printf(b, "(%s)::jsonb", id.data);
    else if (strcmp(rule, "json") == 0)
        cdc_buf_printf(b, "ora_json(%s)", id.data);
    else if (strcmp(rule, "decimal") == 0)
        cdc_buf_printf(b, "((%s)::text)::numeric", id.data);
    else if (strcmp(rule, "narrow") == 0)
        cdc_buf_printf(b, "(%s)::%s", id.data, stype);
    else
        cdc_buf_puts(b, id.data);
    cdc_buf_free(&id);
}

/* "coalesce(a.k1::text, '\N') || E'\x1f' || ..." */
static void keytext(cdc_buf_t *b, const otable_t *t, const char *alias)
{
    keydef_t k = keydef(t->key);
    for (int i = 0; i < k.n; i++)
        cdc_buf_printf(b, "%scoalesce((%s.%s)::text, '\\N')", i ? " || E'\\x1f' || " : "", alias,
                       k.name[i]);
}

typedef struct strlist {
    char **v;
    size_t n;
} strlist_t;

static void sl_free(strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Rows "kind\x1ekey" of a two-column result, sorted. -1 on SQL error. */
static int query_list(PGconn *c, const char *sql, strlist_t *out)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "seed %" PRIu64 ": oracle query failed: %s  %.500s\n", cur_seed,
                PQerrorMessage(c), sql);
        PQclear(r);
        return -1;
    }
    out->n = (size_t)PQntuples(r);
    out->v = calloc(out->n + 1, sizeof *out->v);
    for (size_t i = 0; i < out->n; i++) {
        size_t l1 = strlen(PQgetvalue(r, (int)i, 0)), l2 = strlen(PQgetvalue(r, (int)i, 1));
        out->v[i] = malloc(l1 + l2 + 2);
        memcpy(out->v[i], PQgetvalue(r, (int)i, 0), l1);
        out->v[i][l1] = '\x1e';
        memcpy(out->v[i] + l1 + 1, PQgetvalue(r, (int)i, 1), l2 + 1);
    }
    PQclear(r);
    qsort(out->v, out->n, sizeof *out->v, cmpstr);
    return 0;
}

static void truth_sql(cdc_buf_t *q, const otable_t *t, const char *where)
{
    keydef_t k = keydef(t->key);
    char w[300] = "";
    if (where)
        snprintf(w, sizeof w, " WHERE %s", where);
    if (t->key == K_NONE) {
        /* multisets: normalised rows, EXCEPT ALL both ways, per key */
        cdc_buf_t sel = CDC_BUF_INIT;
        for (int i = 0; i < k.n; i++) {
            norm(&sel, NULL, k.name[i], k.family[i], k.type[i]);
            cdc_buf_printf(&sel, " AS k%d, ", i);
        }
        for (int c = 0; c < t->ncols; c++) {
            norm(&sel, NULL, colnames[c], ocoltypes[t->gen[c]].family, ocoltypes[t->gen[c]].stype);
            cdc_buf_printf(&sel, "%s", c + 1 < t->ncols ? ", " : "");
        }
        cdc_buf_printf(q,
                       "WITH s AS (SELECT %s FROM src.%s%s), d AS (SELECT %s FROM dst.%s%s), "
                       "x AS (SELECT k0, 1 AS m, 0 AS e FROM (SELECT * FROM s EXCEPT ALL SELECT * "
                       "FROM d) a UNION ALL SELECT k0, 0, 1 FROM (SELECT * FROM d EXCEPT ALL "
                       "SELECT * FROM s) b), "
                       "c AS (SELECT k0, sum(m)::int AS m, sum(e)::int AS e, %s AS p FROM x GROUP "
                       "BY k0) "
                       "SELECT v.kind, coalesce(k0::text, '\\N') FROM c, LATERAL (VALUES "
                       "('different', p), ('missing', m - p), ('extra', e - p)) v(kind, cnt), "
                       "generate_series(1, v.cnt)",
                       sel.data, t->name, w, sel.data, t->name, w,
                       multiset_pairs ? "least(sum(m), sum(e))::int" : "0");
        cdc_buf_free(&sel);
        return;
    }
    cdc_buf_t match = CDC_BUF_INIT, diff = CDC_BUF_INIT, ks = CDC_BUF_INIT, kd = CDC_BUF_INIT;
    for (int i = 0; i < k.n; i++) {
        if (i)
            cdc_buf_puts(&match, " AND ");
        norm(&match, "s", k.name[i], k.family[i], k.type[i]);
        cdc_buf_puts(&match, " IS NOT DISTINCT FROM ");
        norm(&match, "d", k.name[i], k.family[i], k.type[i]);
    }
    for (int c = 0; c < t->ncols; c++) {
        if (c)
            cdc_buf_puts(&diff, " OR ");
        norm(&diff, "s", colnames[c], ocoltypes[t->gen[c]].family, ocoltypes[t->gen[c]].stype);
        cdc_buf_puts(&diff, " IS DISTINCT FROM ");
        norm(&diff, "d", colnames[c], ocoltypes[t->gen[c]].family, ocoltypes[t->gen[c]].stype);
    }
    keytext(&ks, t, "s");
    keytext(&kd, t, "d");
    cdc_buf_printf(q,
                   "WITH s AS (SELECT * FROM src.%s%s), d AS (SELECT * FROM dst.%s%s) "
                   "SELECT 'missing', %s FROM s WHERE NOT EXISTS (SELECT 1 FROM d WHERE %s) "
                   "UNION ALL SELECT 'extra', %s FROM d WHERE NOT EXISTS (SELECT 1 FROM s WHERE "
                   "%s) "
                   "UNION ALL SELECT 'different', %s FROM s JOIN d ON %s WHERE %s",
                   t->name, w, t->name, w, ks.data, match.data, kd.data, match.data, ks.data,
                   match.data, diff.data);
    cdc_buf_free(&match);
    cdc_buf_free(&diff);
    cdc_buf_free(&ks);
    cdc_buf_free(&kd);
}

static int truth(PGconn *oc, const otable_t *t, const char *where, strlist_t *out)
{
    cdc_buf_t q = CDC_BUF_INIT;
    truth_sql(&q, t, where);
    int rc = query_list(oc, q.data, out);
    cdc_buf_free(&q);
    return rc;
}

/* cdc-verify's reported keys, spelt by the oracle the way truth() spells
 * them: each key field cast back to its column type, then ::text. */
static int reported(PGconn *oc, const otable_t *t, json_t *res, strlist_t *out)
{
    PQclear(PQexec(oc, "SET client_min_messages = warning; DROP TABLE IF EXISTS pg_temp.rep; "
                       "CREATE TEMP TABLE rep (kind text, "
                       "key json)"));
    json_t *mm = json_object_get(res, "mismatches");
    for (size_t i = 0; i < json_array_size(mm); i++) {
        json_t *m = json_array_get(mm, i);
        char *key = json_dumps(json_object_get(m, "key"), JSON_COMPACT | JSON_ENCODE_ANY);
        const char *p[2] = {json_string_value(json_object_get(m, "kind")), key};
        PGresult *r =
            PQexecParams(oc, "INSERT INTO rep VALUES ($1, $2)", 2, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fprintf(stderr, "seed %" PRIu64 ": storing reported key %s: %s", cur_seed, key,
                    PQerrorMessage(oc));
        PQclear(r);
        free(key);
    }
    keydef_t k = keydef(t->key);
    cdc_buf_t q = CDC_BUF_INIT;
    cdc_buf_puts(&q, "SELECT coalesce(kind, '?'), ");
    for (int i = 0; i < k.n; i++) {
        const char *ty = strcmp(k.type[i], "text COLLATE ora_ci") == 0 ? "text" : k.type[i];
        cdc_buf_printf(&q, "%scoalesce(((key->>'%s')::%s)::text, '\\N')",
                       i ? " || E'\\x1f' || " : "", k.name[i], ty);
    }
    cdc_buf_puts(&q, " FROM rep");
    int rc = query_list(oc, q.data, out);
    cdc_buf_free(&q);
    return rc;
}

static void printable(char *dst, size_t size, const char *s)
{
    size_t o = 0;
    for (; *s && o + 5 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == 0x1e)
            dst[o++] = ' ';
        else if (c == 0x1f)
            dst[o++] = '|';
        else if (c < 0x20)
            o += (size_t)snprintf(dst + o, size - o, "\\x%02x", c);
        else
            dst[o++] = (char)c;
    }
    dst[o] = '\0';
}

/* Rows of the first differing key on both sides, for the repro. */
static void show_rows(PGconn *oc, const otable_t *t, const char *item)
{
    const char *key = strchr(item, '\x1e');
    if (!key)
        return;
    key++;
    cdc_buf_t q = CDC_BUF_INIT, ks = CDC_BUF_INIT, kd = CDC_BUF_INIT;
    keytext(&ks, t, "s");
    keytext(&kd, t, "d");
    cdc_buf_printf(&q,
                   "SELECT (SELECT string_agg(s::text, ' ; ') FROM src.%s s WHERE %s = $1), "
                   "(SELECT string_agg(d::text, ' ; ') FROM dst.%s d WHERE %s = $1)",
                   t->name, ks.data, t->name, kd.data);
    const char *p[1] = {key};
    PGresult *r = PQexecParams(oc, q.data, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        char a[600], b[600];
        printable(a, sizeof a, PQgetisnull(r, 0, 0) ? "(none)" : PQgetvalue(r, 0, 0));
        printable(b, sizeof b, PQgetisnull(r, 0, 1) ? "(none)" : PQgetvalue(r, 0, 1));
        fprintf(stderr, "    source row: %s\n    target row: %s\n", a, b);
    }
    PQclear(r);
    cdc_buf_free(&q);
    cdc_buf_free(&ks);
    cdc_buf_free(&kd);
}

/* ---- running cdc-verify ----------------------------------------------- */

/* Run cdc-verify; *docs gets every JSON document it printed (new array). */
static int run_verify(const char *const extra[], json_t **docs)
{
    const char *const more[] = {"--max-report", "1000000", "--threshold", "1.0", NULL};
    char *out = NULL;
    int rc = tv_run_verify(&pg, more, extra, 120000, &out);
    *docs = json_array();
    size_t off = 0, len = out ? strlen(out) : 0;
    while (off < len) {
        while (off < len && (out[off] == '\n' || out[off] == ' '))
            off++;
        if (off >= len)
            break;
        json_error_t e;
        json_t *d = json_loadb(out + off, len - off, JSON_DISABLE_EOF_CHECK, &e);
        if (!d) {
            fprintf(stderr, "seed %" PRIu64 ": cdc-verify printed no JSON: %.300s\n", cur_seed,
                    out + off);
            break;
        }
        json_array_append_new(*docs, d);
        off += (size_t)e.position;
    }
    free(out);
    return rc;
}

static long long jint(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static void count_kinds(const strlist_t *l, long long n[3])
{
    n[0] = n[1] = n[2] = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (!strncmp(l->v[i], "missing\x1e", 8))
            n[0]++;
        else if (!strncmp(l->v[i], "extra\x1e", 6))
            n[1]++;
        else
            n[2]++;
    }
}

static void record_failure(const otable_t *t, const char *mode, ofeat_t mode_feat)
{
    failed_tables++;
    char feats[300] = "";
    size_t fl = 0;
    for (int f = 0; f < FT_N; f++)
        if (t->feats[f] || (int)f == (int)mode_feat) {
            fl += (size_t)snprintf(feats + fl, sizeof feats - fl, "%s%s", fl ? "," : "",
                                   ofeat_names[f]);
            feat_fail[f]++;
            size_t sl = strlen(feat_seeds[f]);
            char s[24];
            snprintf(s, sizeof s, "%" PRIu64, cur_seed);
            if (!strstr(feat_seeds[f], s) && sl + strlen(s) + 2 < sizeof feat_seeds[f])
                snprintf(feat_seeds[f] + sl, sizeof feat_seeds[f] - sl, "%s%s", sl ? " " : "", s);
        }
    cdc_buf_printf(&fail_log,
                   "  seed %" PRIu64 " %s (%s) [%s, key %s, %s]: replay with %s--seed %" PRIu64
                   "\n",
                   cur_seed, t->name, mode, feats, keydef(t->key).name[0],
                   ocoltypes[t->gen[t->ncols - 1]].stype, replay_long ? "long " : "", cur_seed);
}

/* A key under a nondeterministic collation: cdc-verify refuses the table
 * (exit 2, README.md), as equal keys are not equal bytes. */
static bool key_refused(const otable_t *t)
{
    return t->key == K_ICU;
}

/* Compare one table's result document with the truth. */
static bool check(PGconn *oc, const otable_t *t, const char *mode, ofeat_t mode_feat, int rc,
                  json_t *doc, const strlist_t *want)
{
    long long w[3];
    count_kinds(want, w);
    bool want_diff = w[0] + w[1] + w[2] > 0;
    bool ok = true;
    char why[400] = "";
    strlist_t got = {0};
    int want_rc = key_refused(t) ? 2 : want_diff ? 1 : 0;
    if (rc != want_rc) {
        ok = false;
        snprintf(why, sizeof why, "exit %d, want %d%s", rc, want_rc,
                 rc == 2 ? " (cdc-verify's error is above)" : "");
    }
    if (want_rc == 2) {
        /* A refused table still has its JSON record (one per requested
         * table), with status "error" and the reason, and no counts. */
        json_t *st = doc ? json_object_get(doc, "status") : NULL;
        json_t *er = doc ? json_object_get(doc, "error") : NULL;
        if (!doc || !json_is_string(st) || strcmp(json_string_value(st), "error") != 0 ||
            !json_is_string(er) || !*json_string_value(er) || json_object_get(doc, "missing")) {
            ok = false;
            size_t l = strlen(why);
            snprintf(why + l, sizeof why - l,
                     "%sa refused table needs a JSON record with status error and the reason",
                     l ? "; " : "");
        }
    } else if (doc) {
        if (jint(doc, "missing") != w[0] || jint(doc, "extra") != w[1] ||
            jint(doc, "different") != w[2]) {
            ok = false;
            size_t l = strlen(why);
            snprintf(why + l, sizeof why - l,
                     "%scounts missing/extra/different %lld/%lld/%lld, "
                     "truth %lld/%lld/%lld",
                     l ? "; " : "", jint(doc, "missing"), jint(doc, "extra"),
                     jint(doc, "different"), w[0], w[1], w[2]);
        }
        if (reported(oc, t, doc, &got) == 0) {
            bool same = got.n == want->n;
            for (size_t i = 0; same && i < got.n; i++)
                same = strcmp(got.v[i], want->v[i]) == 0;
            if (!same) {
                ok = false;
                size_t l = strlen(why);
                snprintf(why + l, sizeof why - l, "%sreported keys differ from the truth",
                         l ? "; " : "");
            }
        } else {
            ok = false;
        }
    } else if (rc != 2) {
        ok = false;
        size_t l = strlen(why);
        snprintf(why + l, sizeof why - l, "%sno JSON result", l ? "; " : "");
    }
    if (!ok) {
        fprintf(stderr, "FAIL seed %" PRIu64 " table %s (%s): %s\n  key %s, columns:", cur_seed,
                t->name, mode, why, keydef(t->key).name[0]);
        for (int c = 0; c < t->ncols; c++)
            fprintf(stderr, " %s %s%s", colnames[c], ocoltypes[t->gen[c]].stype,
                    strcmp(ocoltypes[t->gen[c]].stype, ocoltypes[t->gen[c]].ttype)
                        ? " (target widened)"
                        : "");
        fprintf(stderr, "; target edits: %s\n", t->edits[0] ? t->edits : "none");
        /* the items only one side has, a few of each */
        size_t i = 0, j = 0;
        int shown = 0;
        const char *first = NULL;
        while ((i < want->n || j < got.n) && shown < 6) {
            int c = i >= want->n ? 1 : j >= got.n ? -1 : strcmp(want->v[i], got.v[j]);
            char p[300];
            if (c == 0) {
                i++, j++;
                continue;
            }
            printable(p, sizeof p, c < 0 ? want->v[i] : got.v[j]);
            fprintf(stderr, "    %s: %s\n", c < 0 ? "truth only" : "cdc-verify only", p);
            if (!first)
                first = c < 0 ? want->v[i] : got.v[j];
            c < 0 ? i++ : j++;
            shown++;
        }
        if (first)
            show_rows(oc, t, first);
        record_failure(t, mode, mode_feat);
    }
    sl_free(&got);
    return ok;
}

/* ---- a round ---------------------------------------------------------- */

static const char *const reset_sql =
    "SET client_min_messages = warning; DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA "
    "public; DROP SCHEMA IF EXISTS \"odd.s\" CASCADE;";
static bool have_icu = true, have_citext = true;

static int prepare_db(const char *conninfo)
{
    if (th_pg_exec(conninfo, reset_sql) || th_pg_exec(conninfo, ogen_types_sql))
        return -1;
    if (have_citext && th_pg_exec(conninfo, "CREATE EXTENSION citext SCHEMA public"))
        return -1;
    if (have_icu && th_pg_exec(conninfo, "CREATE COLLATION public.ora_ci (provider = icu, locale "
                                         "= 'und-u-ks-level2', deterministic = false)"))
        return -1;
    return 0;
}

static void run_round(uint64_t seed, int ntables, int rows)
{
    cur_seed = seed;
    rng_state = seed * 0x2545f4914f6cdd1dull + 1;
    int round_no = (int)(seed % 1000003);
    fprintf(stderr, "round: seed %" PRIu64 ", %d tables\n", seed, ntables);
    TH_ASSERT(prepare_db(pg.source_conninfo) == 0);
    TH_ASSERT(prepare_db(pg.target_conninfo) == 0);
    TH_ASSERT(prepare_db(oracle_conninfo) == 0);
    /* The json rule: (jsonb, NULL) where the jsonb cast succeeds, else
     * (NULL, the exact text); rows compare field by field. */
    TH_ASSERT(
        th_pg_exec(oracle_conninfo,
                   "CREATE TYPE ora_jn AS (b jsonb, t text COLLATE \"C\"); "
                   "CREATE FUNCTION ora_json(j json) RETURNS ora_jn LANGUAGE plpgsql "
                   "IMMUTABLE STRICT AS $$ BEGIN RETURN ROW(j::jsonb, NULL)::ora_jn; EXCEPTION "
                   "WHEN others THEN RETURN ROW(NULL, j::text)::ora_jn; END $$") == 0);
    TH_ASSERT(
        th_pg_exec(
            oracle_conninfo,
            "SET client_min_messages = warning; DROP SCHEMA IF EXISTS src CASCADE; DROP SCHEMA IF "
            "EXISTS dst CASCADE; CREATE SCHEMA src; CREATE SCHEMA "
            "dst") == 0);
    otable_t *tabs = calloc((size_t)ntables, sizeof *tabs);
    bool *loaded = calloc((size_t)ntables, sizeof *loaded);
    PGconn *sc = PQconnectdb(pg.source_conninfo), *tc = PQconnectdb(pg.target_conninfo),
           *oc = PQconnectdb(oracle_conninfo);
    TH_ASSERT(PQstatus(sc) == CONNECTION_OK && PQstatus(tc) == CONNECTION_OK &&
              PQstatus(oc) == CONNECTION_OK);
    for (int i = 0; i < ntables; i++) {
        otable_t *t = &tabs[i];
        build_table(t, i, round_no, rows);
        uint64_t tseed = ogen_mix(seed ^ (uint64_t)(i + 1));
        cdc_buf_t d = CDC_BUF_INIT;
        ddl(&d, t, "public", false);
        int rc = th_pg_exec(pg.source_conninfo, d.data);
        cdc_buf_reset(&d);
        ddl(&d, t, "public", true);
        rc |= th_pg_exec(pg.target_conninfo, d.data);
        cdc_buf_reset(&d);
        ddl(&d, t, "src", false);
        ddl(&d, t, "dst", true);
        rc |= th_pg_exec(oracle_conninfo, d.data);
        cdc_buf_free(&d);
        if (!rc)
            rc = load_rows(pg.source_conninfo, t, t->src, t->nsrc, tseed) ||
                 load_rows(pg.target_conninfo, t, t->dst, t->ndst, tseed);
        if (!rc)
            rc = copy_table(sc, oc, t->name, "src") || copy_table(tc, oc, t->name, "dst");
        if (rc) { /* the generator's fault, not cdc-verify's */
            fprintf(stderr, "FAIL seed %" PRIu64 " %s: could not create or load the table\n", seed,
                    t->name);
            th_failures++;
            continue;
        }
        loaded[i] = true;
    }

    /* --all-tables: one document per table with a primary key, also for
     * a schema and a table with a dot in their names (equal on both sides);
     * a table without one is an error (exit 2) that stops no other table,
     * and the run exits with the worst table's code. */
    if (feat_on[FT_ALLTABLES]) {
        const char *dotted = "CREATE SCHEMA \"odd.s\"; CREATE TABLE \"odd.s\".\"dot.t\" (id int "
                             "PRIMARY KEY, v text); INSERT INTO \"odd.s\".\"dot.t\" SELECT g, "
                             "'v' || g FROM generate_series(1, 10) g";
        TH_ASSERT(th_pg_exec(pg.source_conninfo, dotted) == 0);
        TH_ASSERT(th_pg_exec(pg.target_conninfo, dotted) == 0);
        json_t *docs = NULL;
        int rc = run_verify((const char *const[]){"--all-tables", NULL}, &docs);
        bool any = false, dot_seen = false, keyless = false;
        for (size_t j = 0; j < json_array_size(docs); j++) {
            json_t *d = json_array_get(docs, j);
            const char *tn = json_string_value(json_object_get(d, "table"));
            if (tn && strstr(tn, "dot.t")) {
                dot_seen = true;
                if (jint(d, "missing") || jint(d, "extra") || jint(d, "different")) {
                    fprintf(stderr,
                            "FAIL seed %" PRIu64 " --all-tables: %s differs, but is equal\n", seed,
                            tn);
                    dot_seen = false;
                }
            }
        }
        if (!dot_seen) {
            fprintf(stderr,
                    "FAIL seed %" PRIu64 " --all-tables: \"odd.s\".\"dot.t\" not verified "
                    "(or wrongly)\n",
                    seed);
            cdc_buf_printf(&fail_log,
                           "  seed %" PRIu64 " --all-tables: \"odd.s\".\"dot.t\" not "
                           "verified as equal\n",
                           seed);
            failed_tables++;
            feat_fail[FT_ALLTABLES]++;
        }
        for (int i = 0; i < ntables; i++) {
            otable_t *t = &tabs[i];
            if (loaded[i] && (t->key == K_NONE || key_refused(t)))
                keyless = true; /* an error for this table: exit 2 */
            if (!loaded[i] || t->key == K_NONE || key_refused(t))
                continue;
            strlist_t want = {0};
            if (truth(oc, t, NULL, &want))
                continue;
            long long w[3];
            count_kinds(&want, w);
            any |= w[0] + w[1] + w[2] > 0;
            json_t *doc = NULL;
            char full[40];
            snprintf(full, sizeof full, "public.%s", t->name);
            for (size_t j = 0; j < json_array_size(docs); j++) {
                const char *tn =
                    json_string_value(json_object_get(json_array_get(docs, j), "table"));
                if (tn && !strcmp(tn, full))
                    doc = json_array_get(docs, j);
            }
            /* per table: the exit code is the run's; judge it below */
            if (!doc) {
                fprintf(stderr, "FAIL seed %" PRIu64 " --all-tables: no result for %s\n", seed,
                        full);
                record_failure(t, "--all-tables", FT_ALLTABLES);
            } else if (doc) {
                check(oc, t, "--all-tables", FT_ALLTABLES, w[0] + w[1] + w[2] > 0 ? 1 : 0, doc,
                      &want);
            }
            sl_free(&want);
        }
        int want_rc = keyless ? 2 : any ? 1 : 0;
        if (rc != want_rc) {
            fprintf(stderr, "FAIL seed %" PRIu64 " --all-tables: exit %d, want %d\n", seed, rc,
                    want_rc);
            cdc_buf_printf(&fail_log, "  seed %" PRIu64 " --all-tables exit %d, want %d\n", seed,
                           rc, want_rc);
            failed_tables++;
            feat_fail[FT_ALLTABLES]++;
        }
        json_decref(docs);
    }

    for (int i = 0; i < ntables; i++) {
        otable_t *t = &tabs[i];
        if (!loaded[i])
            continue;
        total_tables++;
        for (int f = 0; f < FT_N; f++)
            feat_seen[f] += t->feats[f];
        char full[40], repair[400];
        snprintf(full, sizeof full, "public.%s", t->name);
        snprintf(repair, sizeof repair, "%s/repair-%s.sql", pg.dir, t->name);
        const char *keyarg = t->key == K_NONE ? "--key" : NULL;
        bool do_repair = feat_on[FT_REPAIR] && !key_refused(t);
        strlist_t want = {0};
        if (truth(oc, t, NULL, &want)) {
            record_failure(t, "oracle query", FT_N);
            continue;
        }
        json_t *docs = NULL;
        const char *args[8];
        int na = 0;
        args[na++] = "--table";
        args[na++] = full;
        if (do_repair) {
            args[na++] = "--repair-sql";
            args[na++] = repair;
        }
        if (keyarg) {
            args[na++] = keyarg;
            args[na++] = "g";
        }
        args[na] = NULL;
        int rc = run_verify(args, &docs);
        bool ok = check(oc, t, "plain", FT_N, rc, json_array_get(docs, 0), &want);
        json_decref(docs);

        if (feat_on[FT_WHERE]) {
            const char *pred = "\"v\" % 3 <> 0 OR \"v\" IS NULL";
            strlist_t ww = {0};
            if (truth(oc, t, pred, &ww) == 0) {
                rc = run_verify(
                    (const char *const[]){"--table", full, "--where", pred, keyarg, "g", NULL},
                    &docs);
                check(oc, t, "--where", FT_WHERE, rc, json_array_get(docs, 0), &ww);
                json_decref(docs);
            }
            sl_free(&ww);
        }
        if (feat_on[FT_KEYDUP] && t->key != K_NONE && keydef(t->key).n == 1) {
            /* a key column named twice is the same key: the same result,
             * or a usage error (exit 2) */
            char kk[40];
            snprintf(kk, sizeof kk, "%s,%s", keydef(t->key).name[0], keydef(t->key).name[0]);
            rc = run_verify((const char *const[]){"--table", full, "--key", kk, NULL}, &docs);
            if (rc != 2)
                check(oc, t, "--key k,k", FT_KEYDUP, rc, json_array_get(docs, 0), &want);
            json_decref(docs);
        }
        /* The repair statements make the target equal (by the oracle), and
         * cdc-verify then agrees. */
        if (do_repair && ok && want.n) {
            char *body = th_read_file(repair, NULL);
            strlist_t after = {0};
            if (!body || th_pg_exec(pg.target_conninfo, body)) {
                fprintf(stderr, "FAIL seed %" PRIu64 " %s: the repair SQL does not run\n", seed,
                        t->name);
                record_failure(t, "repair runs", FT_REPAIR);
            } else if (copy_table(tc, oc, t->name, "dst") || truth(oc, t, NULL, &after)) {
                record_failure(t, "repair reload", FT_REPAIR);
            } else {
                if (after.n) {
                    char p[300];
                    printable(p, sizeof p, after.v[0]);
                    fprintf(stderr,
                            "FAIL seed %" PRIu64 " %s: after the repair SQL the oracle still "
                            "sees %zu differences, e.g. %s\n",
                            seed, t->name, after.n, p);
                    record_failure(t, "repair result", FT_REPAIR);
                } else {
                    rc = run_verify((const char *const[]){"--table", full, keyarg, "g", NULL},
                                    &docs);
                    check(oc, t, "after repair", FT_REPAIR, rc, json_array_get(docs, 0), &after);
                    json_decref(docs);
                }
            }
            sl_free(&after);
            free(body);
        }
        sl_free(&want);
    }
    for (int i = 0; i < ntables; i++)
        free_table(&tabs[i]);
    free(tabs);
    free(loaded);
    PQfinish(sc);
    PQfinish(tc);
    PQfinish(oc);
}

/* Rows per table (about): a function of the seed, so --seed replays it. */
static int rows_for(uint64_t seed, bool soak)
{
    return soak ? (seed % 4 == 3 ? 2000 : 400) : 60;
}

int main(int argc, char **argv)
{
    bool soak = false;
    long long only_seed = -1;
    int rounds = 12;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "long"))
            soak = true;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            only_seed = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [long] [--seed N] [--rounds N]\n", argv[0]);
            return 2;
        }
    }
    for (int g = 0; g < G_N; g++) /* the table is indexed by generator */
        TH_ASSERT(ocoltypes[g].gen == (ogen_t)g);
    for (int f = 0; f < FT_N; f++)
        TH_ASSERT(ofeat_names[f] != NULL);
    parse_features(getenv("CDC_ORACLE_FEATURES"));
    parse_rules(getenv("CDC_ORACLE_RULES"));
    snprintf(verify_bin, sizeof verify_bin, "%s/cdc-verify", th_build_root());
    if (access(verify_bin, X_OK) != 0)
        TH_SKIP("%s not built", verify_bin);
    TH_ASSERT(th_pg_start(&pg) == 0);
    TH_ASSERT(th_pg_exec(pg.admin_conninfo, "CREATE DATABASE oracle") == 0);
    snprintf(oracle_conninfo, sizeof oracle_conninfo,
             "host=%s port=%d user=postgres dbname=oracle connect_timeout=10", pg.host, pg.port);
    if (th_pg_exec(oracle_conninfo, "CREATE COLLATION pg_temp.probe (provider = icu, locale = "
                                    "'und-u-ks-level2', deterministic = false)")) {
        fprintf(stderr, "no ICU in this PostgreSQL: feature icu off\n");
        have_icu = false;
        feat_on[FT_ICU] = false;
    }
    if (th_pg_exec(oracle_conninfo, "CREATE EXTENSION citext; DROP EXTENSION citext")) {
        fprintf(stderr, "citext not installed: feature citext off\n");
        have_citext = false;
        feat_on[FT_CITEXT] = false;
    }
    fprintf(stderr, "features:");
    for (int f = 0; f < FT_N; f++)
        fprintf(stderr, " %s%s", feat_on[f] ? "" : "-", ofeat_names[f]);
    fprintf(stderr, "\nrules:");
    for (size_t i = 0; i < NRULES; i++)
        fprintf(stderr, " %s=%s", rules[i].family, rules[i].rule);
    fprintf(stderr, "\n");

    int ntables = 8;
    replay_long = soak;
    if (only_seed >= 0) {
        run_round((uint64_t)only_seed, ntables, rows_for((uint64_t)only_seed, soak));
    } else if (soak) {
        const char *s = getenv("CDC_SOAK_SECONDS");
        int64_t end = th_now_ms() + (s && *s ? atoll(s) : 3600) * 1000;
        uint64_t seed = (uint64_t)time(NULL) * 1000;
        fprintf(stderr, "soak: first seed %" PRIu64 "\n", seed);
        for (int n = 0; th_now_ms() < end; n++)
            run_round(seed + (uint64_t)n, ntables, rows_for(seed + (uint64_t)n, true));
    } else {
        for (int s = 1; s <= rounds; s++)
            run_round((uint64_t)s, ntables, rows_for((uint64_t)s, false));
    }
    fprintf(stderr, "\n%d tables checked, %d disagreements with the oracle\n", total_tables,
            failed_tables);
    if (fail_log.len)
        fprintf(stderr, "%s", fail_log.data);
    fprintf(stderr, "per feature (tables with it / failures / seeds):\n");
    for (int f = 0; f < FT_N; f++)
        if (feat_seen[f] || feat_fail[f])
            fprintf(stderr, "  %-10s %4d %4d  %s\n", ofeat_names[f], feat_seen[f], feat_fail[f],
                    feat_seeds[f]);
    th_failures += failed_tables;
    th_pg_stop(&pg);
    cdc_buf_free(&fail_log);
    TH_DONE();
}
