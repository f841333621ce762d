/* The schema tree shared by the JSON and Avro front ends: semantic names,
 * the PostgreSQL type each one maps to, and the arena schemas live in. */
#include "decode_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- arena ---- */

struct darena_chunk {
    darena_chunk_t *next;
    size_t used, cap;
    max_align_t data[];
};

void *darena_alloc(darena_t *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    darena_chunk_t *ch = a->head;
    if (!ch || ch->cap - ch->used < n) {
        size_t cap = n > 8192 ? n : 8192;
        ch = malloc(sizeof(*ch) + cap);
        if (!ch) {
            fputs("cdc: out of memory\n", stderr);
            abort();
        }
        ch->used = 0;
        ch->cap = cap;
        ch->next = a->head;
        a->head = ch;
    }
    void *p = (char *)ch->data + ch->used;
    ch->used += n;
    memset(p, 0, n);
    return p;
}

char *darena_strndup(darena_t *a, const char *s, size_t n)
{
    char *p = darena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *darena_strdup(darena_t *a, const char *s)
{
    return darena_strndup(a, s, strlen(s));
}

void darena_free(darena_t *a)
{
    darena_chunk_t *ch = a->head;
    while (ch) {
        darena_chunk_t *next = ch->next;
        free(ch);
        ch = next;
    }
    a->head = NULL;
}

/* ---- semantic names ---- */

static const struct {
    const char *name;
    dsem_t sem;
    const char *pg;
} sem_tab[] = {
    {"io.debezium.time.Date", SEM_DATE, "date"},
    {"io.debezium.time.Time", SEM_TIME, "time(3)"},
    {"io.debezium.time.MicroTime", SEM_MICROTIME, "time(6)"},
    {"io.debezium.time.NanoTime", SEM_NANOTIME, "time(6)"},
    {"io.debezium.time.Timestamp", SEM_TIMESTAMP, "timestamp(3)"},
    {"io.debezium.time.MicroTimestamp", SEM_MICROTS, "timestamp(6)"},
    {"io.debezium.time.NanoTimestamp", SEM_NANOTS, "timestamp(6)"},
    {"io.debezium.time.ZonedTimestamp", SEM_ZONEDTS, "timestamptz"},
    {"io.debezium.time.ZonedTime", SEM_ZONEDTIME, "timetz"},
    {"io.debezium.time.MicroDuration", SEM_MICRODURATION, "interval"},
    {"io.debezium.time.Interval", SEM_INTERVAL, "interval"},
    {"io.debezium.time.IsoDate", SEM_ISODATE, "date"},
    {"io.debezium.time.IsoTime", SEM_ISOTIME, "time"},
    {"io.debezium.time.IsoTimestamp", SEM_ISOTS, "timestamp"},
    {"org.apache.kafka.connect.data.Decimal", SEM_DECIMAL, "numeric"},
    {"io.debezium.data.VariableScaleDecimal", SEM_VSDECIMAL, "numeric"},
    {"io.debezium.data.Json", SEM_JSON, "jsonb"},
    {"io.debezium.data.Uuid", SEM_UUID, "uuid"},
    {"io.debezium.data.Xml", SEM_XML, "xml"},
    {"io.debezium.data.Enum", SEM_ENUM, "text"},
    {"io.debezium.data.EnumSet", SEM_ENUMSET, "text"},
    {"io.debezium.data.Bits", SEM_BITS, "bit varying"},
    {"io.debezium.time.Year", SEM_YEAR, "integer"},
    {"io.debezium.data.geometry.Geometry", SEM_GEOMETRY, "geometry"},
    {"io.debezium.data.geometry.Geography", SEM_GEOGRAPHY, "geography"},
    {"io.debezium.data.geometry.Point", SEM_POINT, "point"},
    {"io.debezium.data.Ltree", SEM_LTREE, "ltree"},
    {"io.debezium.data.Tsvector", SEM_TSVECTOR, "tsvector"},
    {"org.apache.kafka.connect.data.Date", SEM_CDATE, "date"},
    {"org.apache.kafka.connect.data.Time", SEM_CTIME, "time(3)"},
    {"org.apache.kafka.connect.data.Timestamp", SEM_CTS, "timestamp(3)"},
};

dsem_t dsch_sem_of(const char *name)
{
    if (!name)
        return SEM_NONE;
    for (size_t i = 0; i < sizeof(sem_tab) / sizeof(sem_tab[0]); i++)
        if (strcmp(sem_tab[i].name, name) == 0)
            return sem_tab[i].sem;
    return SEM_OTHER;
}

static const char *sem_pg(dsem_t sem)
{
    for (size_t i = 0; i < sizeof(sem_tab) / sizeof(sem_tab[0]); i++)
        if (sem_tab[i].sem == sem)
            return sem_tab[i].pg;
    return NULL;
}

static const char *plain_name(dtype_t t)
{
    static const char *const names[] = {"null",   "boolean", "int8",   "int16", "int32", "int64",
                                        "float",  "double",  "string", "bytes", "array", "map",
                                        "struct", "union",   "string", "bytes"};
    return names[t];
}

static const char *plain_pg(dtype_t t)
{
    switch (t) {
    case DT_BOOL: return "boolean";
    case DT_INT8:
    case DT_INT16: return "smallint";
    case DT_INT32: return "integer";
    case DT_INT64: return "bigint";
    case DT_FLOAT32: return "real";
    case DT_FLOAT64: return "double precision";
    case DT_STRING:
    case DT_ENUM: return "text";
    case DT_BYTES:
    case DT_FIXED: return "bytea";
    case DT_MAP: return "hstore";
    case DT_STRUCT: return "jsonb";
    default: return NULL;
    }
}

/* A struct's names block (dsch_t.names): each distinct string once. Its
 * fields are finished before it (the schema compilers recurse first). */
static void names_build(darena_t *a, dsch_t *s)
{
    const char **strs = calloc(3 * s->nfields + 1, sizeof(*strs));
    size_t *lens = calloc(3 * s->nfields + 1, sizeof(*lens));
    uint32_t *at = darena_alloc(a, (3 * s->nfields + 1) * sizeof(*at));
    if (!strs || !lens)
        abort();
    size_t n = 0, total = 0;
    for (size_t i = 0; i < s->nfields; i++) {
        const dsch_t *u = dsch_unwrap(s->fields[i].sch);
        const char *want[3] = {s->fields[i].name, u ? u->semantic : NULL, u ? u->pg_type : NULL};
        for (int k = 0; k < 3; k++) {
            at[3 * i + k] = UINT32_MAX;
            if (!want[k])
                continue;
            size_t j = 0, off = 0;
            while (j < n && strcmp(strs[j], want[k]) != 0)
                off += lens[j++] + 1;
            if (j == n) {
                strs[n] = want[k];
                lens[n++] = strlen(want[k]);
                total = off + lens[j] + 1;
            }
            at[3 * i + k] = (uint32_t)off;
        }
    }
    if (total && total < UINT32_MAX) {
        char *blk = darena_alloc(a, total), *w = blk;
        for (size_t j = 0; j < n; j++) {
            memcpy(w, strs[j], lens[j] + 1);
            w += lens[j] + 1;
        }
        s->names = blk;
        s->names_len = total;
        s->names_at = at;
    }
    free(strs);
    free(lens);
}

void dsch_finish(darena_t *a, dsch_t *s)
{
    if (s->type == DT_STRUCT && s->nfields)
        names_build(a, s);
    s->semantic = s->name ? s->name : plain_name(s->type);
    const char *pg = NULL;
    if (s->sem != SEM_NONE && s->sem != SEM_OTHER)
        pg = sem_pg(s->sem);
    if (s->sem == SEM_DECIMAL && s->has_scale) {
        /* numeric(p,s) needs the precision; without it only the scale is
         * known and plain numeric still holds the value exactly. */
        (void)a;
    }
    if (s->sem == SEM_BITS && s->bits_len > 0) {
        char tmp[48];
        snprintf(tmp, sizeof(tmp), "bit varying(%lld)", (long long)s->bits_len);
        pg = darena_strdup(a, tmp);
    }
    if (!pg && s->type == DT_ARRAY && s->items) {
        const dsch_t *it = dsch_unwrap(s->items);
        /* PostgreSQL array types do not carry dimensions: int4[][] is int4[]. */
        if (it->pg_type && it->type == DT_ARRAY) {
            pg = it->pg_type;
        } else if (it->pg_type) {
            char tmp[96];
            snprintf(tmp, sizeof(tmp), "%s[]", it->pg_type);
            pg = darena_strdup(a, tmp);
        }
    }
    if (!pg && s->type == DT_STRING && s->varchar_len > 0) {
        char tmp[48];
        snprintf(tmp, sizeof(tmp), "character varying(%d)", s->varchar_len);
        pg = darena_strdup(a, tmp);
    }
    if (!pg)
        pg = plain_pg(s->type);
    if (s->type == DT_UNION) {
        const dsch_t *t = dsch_unwrap(s);
        if (t != s) {
            s->semantic = t->semantic;
            pg = t->pg_type;
        }
    }
    s->pg_type = pg;
}

void dsch_source_type(dsch_t *s, const char *type, int length)
{
    /* PostgreSQL's connector says VARCHAR, MySQL's VARCHAR too; TEXT's
     * "length" (2147483647) is no limit worth keeping. */
    if (s->type == DT_STRING && type && length > 0 &&
        (!strcasecmp(type, "VARCHAR") || !strcasecmp(type, "CHARACTER VARYING")))
        s->varchar_len = length;
}

/* Precision arrives separately (connect.decimal.precision / Avro
 * precision); callers that know it set a numeric(p,s) pg_type here. */
void dsch_set_numeric(darena_t *a, dsch_t *s, int precision)
{
    if (precision <= 0 || !s->has_scale || s->scale < 0 || s->scale > precision)
        return;
    char tmp[48];
    snprintf(tmp, sizeof(tmp), "numeric(%d,%d)", precision, s->scale);
    s->pg_type = darena_strdup(a, tmp);
}

const dsch_t *dsch_unwrap(const dsch_t *s)
{
    if (s && s->type == DT_UNION && s->nbranches == 2) {
        if (s->branches[0]->type == DT_NULL)
            return s->branches[1];
        if (s->branches[1]->type == DT_NULL)
            return s->branches[0];
    }
    return s;
}

const dfield_t *dsch_field(const dsch_t *s, const char *name)
{
    if (!s || s->type != DT_STRUCT)
        return NULL;
    for (size_t i = 0; i < s->nfields; i++)
        if (strcmp(s->fields[i].name, name) == 0)
            return &s->fields[i];
    return NULL;
}
