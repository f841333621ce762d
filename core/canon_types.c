/*
 * Kinds: what a PostgreSQL type's values are canonicalised as, by name or
 * by built-in OID, and the kind table (each kind's frame tag and name).
 */
#include "canon_int.h"

static const struct {
    const char *name;
    cdc_canon_kind_t kind;
} type_names[] = {
    {"int2", CDC_CANON_INT},
    {"int4", CDC_CANON_INT},
    {"int8", CDC_CANON_INT},
    {"smallint", CDC_CANON_INT},
    {"integer", CDC_CANON_INT},
    {"int", CDC_CANON_INT},
    {"bigint", CDC_CANON_INT},
    {"oid", CDC_CANON_INT},
    {"xid", CDC_CANON_INT},
    {"smallserial", CDC_CANON_INT},
    {"serial", CDC_CANON_INT},
    {"bigserial", CDC_CANON_INT},
    {"numeric", CDC_CANON_NUMERIC},
    {"decimal", CDC_CANON_NUMERIC},
    {"float4", CDC_CANON_FLOAT4},
    {"real", CDC_CANON_FLOAT4},
    {"float8", CDC_CANON_FLOAT8},
    {"double precision", CDC_CANON_FLOAT8},
    {"date", CDC_CANON_DATE},
    {"time", CDC_CANON_TIME},
    {"time without time zone", CDC_CANON_TIME},
    {"timetz", CDC_CANON_TIMETZ},
    {"time with time zone", CDC_CANON_TIMETZ},
    {"timestamp", CDC_CANON_TIMESTAMP},
    {"timestamp without time zone", CDC_CANON_TIMESTAMP},
    {"timestamptz", CDC_CANON_TIMESTAMPTZ},
    {"timestamp with time zone", CDC_CANON_TIMESTAMPTZ},
    {"text", CDC_CANON_TEXT},
    {"varchar", CDC_CANON_TEXT},
    {"character varying", CDC_CANON_TEXT},
    {"name", CDC_CANON_TEXT},
    {"citext", CDC_CANON_TEXT},
    {"bpchar", CDC_CANON_BPCHAR},
    {"char", CDC_CANON_BPCHAR},   /* SQL's char(n); the catalog's "char" needs its OID */
    {"\"char\"", CDC_CANON_TEXT}, /* format_type() of the 1-byte type: not padded */
    {"character", CDC_CANON_BPCHAR},
    {"bytea", CDC_CANON_BYTEA},
    {"bool", CDC_CANON_BOOL},
    {"boolean", CDC_CANON_BOOL},
    {"uuid", CDC_CANON_UUID},
    {"json", CDC_CANON_JSON},
    {"jsonb", CDC_CANON_JSONB},
    {"interval", CDC_CANON_INTERVAL},
};

cdc_canon_type_t cdc_canon_type_from_name(const char *typname)
{
    cdc_canon_type_t t = {CDC_CANON_OTHER, false};
    if (!typname)
        return t;
    char name[96];
    size_t n = strlen(typname);
    const char *p = typname;
    if (n && p[0] == '_') {
        t.is_array = true;
        p++;
        n--;
    }
    if (n >= sizeof name)
        return t;
    memcpy(name, p, n);
    name[n] = '\0';
    /* strip "[]" and a type modifier "(10)" / "(10,2)" */
    char *br = strstr(name, "[]");
    if (br) {
        t.is_array = true;
        *br = '\0';
    }
    char *par = strchr(name, '(');
    if (par) {
        char *close = strchr(par, ')');
        if (close)
            memmove(par, close + 1, strlen(close + 1) + 1);
    }
    /* "timestamp(3) with time zone" leaves a double space; collapse it and
     * trim the ends. */
    size_t w = 0;
    for (size_t r = 0; name[r]; r++) {
        if (name[r] == ' ' && (w == 0 || name[w - 1] == ' '))
            continue;
        name[w++] = (char)tolower((unsigned char)name[r]);
    }
    while (w && name[w - 1] == ' ')
        w--;
    name[w] = '\0';
    /* "character" with a quoted "char" catalog type would be the 1-byte
     * internal type; both compare as bytes, so BPCHAR is right for both. */
    for (size_t k = 0; k < sizeof type_names / sizeof type_names[0]; k++)
        if (strcmp(name, type_names[k].name) == 0) {
            t.kind = type_names[k].kind;
            return t;
        }
    return t;
}

cdc_canon_type_t cdc_canon_type_from_oid(unsigned int oid)
{
    static const struct {
        unsigned int oid;
        cdc_canon_kind_t kind;
        bool arr;
    } oids[] = {
        {16, CDC_CANON_BOOL, false},          {17, CDC_CANON_BYTEA, false},
        {18, CDC_CANON_TEXT, false},          {1002, CDC_CANON_TEXT, true},
        {19, CDC_CANON_TEXT, false},          {20, CDC_CANON_INT, false},
        {21, CDC_CANON_INT, false},           {23, CDC_CANON_INT, false},
        {25, CDC_CANON_TEXT, false},          {26, CDC_CANON_INT, false},
        {114, CDC_CANON_JSON, false},         {700, CDC_CANON_FLOAT4, false},
        {701, CDC_CANON_FLOAT8, false},       {1042, CDC_CANON_BPCHAR, false},
        {1043, CDC_CANON_TEXT, false},        {1082, CDC_CANON_DATE, false},
        {1083, CDC_CANON_TIME, false},        {1114, CDC_CANON_TIMESTAMP, false},
        {1184, CDC_CANON_TIMESTAMPTZ, false}, {1186, CDC_CANON_INTERVAL, false},
        {1266, CDC_CANON_TIMETZ, false},      {1700, CDC_CANON_NUMERIC, false},
        {2950, CDC_CANON_UUID, false},        {3802, CDC_CANON_JSONB, false},
        {199, CDC_CANON_JSON, true},          {1000, CDC_CANON_BOOL, true},
        {1001, CDC_CANON_BYTEA, true},        {1005, CDC_CANON_INT, true},
        {1007, CDC_CANON_INT, true},          {1009, CDC_CANON_TEXT, true},
        {1014, CDC_CANON_BPCHAR, true},       {1015, CDC_CANON_TEXT, true},
        {1016, CDC_CANON_INT, true},          {1021, CDC_CANON_FLOAT4, true},
        {1022, CDC_CANON_FLOAT8, true},       {1115, CDC_CANON_TIMESTAMP, true},
        {1182, CDC_CANON_DATE, true},         {1183, CDC_CANON_TIME, true},
        {1185, CDC_CANON_TIMESTAMPTZ, true},  {1187, CDC_CANON_INTERVAL, true},
        {1231, CDC_CANON_NUMERIC, true},      {1270, CDC_CANON_TIMETZ, true},
        {2951, CDC_CANON_UUID, true},         {3807, CDC_CANON_JSONB, true},
    };
    for (size_t k = 0; k < sizeof oids / sizeof oids[0]; k++)
        if (oids[k].oid == oid)
            return (cdc_canon_type_t){oids[k].kind, oids[k].arr, NULL, 0};
    return (cdc_canon_type_t){CDC_CANON_OTHER, false, NULL, 0};
}

/* One entry per kind, in cdc_canon_kind_t's order: the designated
 * initialisers keep it so, and the assertion below notices a kind added to
 * canon.h without an entry here (a zero tag would frame as NULL). */
const canon_kind_info_t canon_kinds[CANON_NKINDS] = {
    [CDC_CANON_OTHER] = {CANON_TAG_OTHER, "other"},
    [CDC_CANON_INT] = {CANON_TAG_NUMBER, "integer"},
    [CDC_CANON_NUMERIC] = {CANON_TAG_NUMBER, "numeric"},
    [CDC_CANON_FLOAT4] = {CANON_TAG_FLOAT, "float4"},
    [CDC_CANON_FLOAT8] = {CANON_TAG_FLOAT, "float8"},
    [CDC_CANON_DATE] = {CANON_TAG_DATE, "date"},
    [CDC_CANON_TIME] = {CANON_TAG_TIME, "time"},
    [CDC_CANON_TIMETZ] = {CANON_TAG_TIMETZ, "timetz"},
    [CDC_CANON_TIMESTAMP] = {CANON_TAG_TIMESTAMP, "timestamp"},
    [CDC_CANON_TIMESTAMPTZ] = {CANON_TAG_TIMESTAMP, "timestamptz"},
    [CDC_CANON_TEXT] = {CANON_TAG_TEXT, "text"},
    [CDC_CANON_BPCHAR] = {CANON_TAG_TEXT, "bpchar"},
    [CDC_CANON_BYTEA] = {CANON_TAG_BYTEA, "bytea"},
    [CDC_CANON_BOOL] = {CANON_TAG_BOOL, "bool"},
    [CDC_CANON_UUID] = {CANON_TAG_UUID, "uuid"},
    [CDC_CANON_JSON] = {CANON_TAG_JSON, "json"},
    [CDC_CANON_JSONB] = {CANON_TAG_JSON, "jsonb"},
    [CDC_CANON_INTERVAL] = {CANON_TAG_INTERVAL, "interval"},
    [CDC_CANON_COMPOSITE] = {CANON_TAG_COMPOSITE, "composite"},
    [CDC_CANON_RANGE] = {CANON_TAG_RANGE, "range"},
};
_Static_assert(sizeof canon_kinds / sizeof canon_kinds[0] == CDC_CANON_RANGE + 1,
               "one canon_kinds entry per cdc_canon_kind_t");

const char *cdc_canon_kind_name(cdc_canon_kind_t kind)
{
    return (size_t)kind < CANON_NKINDS ? canon_kinds[kind].name : "other";
}
