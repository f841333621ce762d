/* Avro schema text -> the decoder's schema tree (dsch_t).
 *
 * avro-c parses and validates the schema: JSON syntax, type names,
 * identifiers, namespaces and full names, references to named types
 * defined earlier (including recursive ones), unions, enums, fixed. Its
 * avro_schema_t is then walked into the dsch_t tree that the hand-written
 * datum decoder (avro.c) runs on.
 *
 * What avro-c 1.11 does not keep is read from the same JSON, node by node
 * next to the avro_schema_t: logicalType with its precision and scale (avro-c
 * has no logical types), and Kafka Connect's connect.name, connect.type and
 * connect.parameters (avro-c drops unknown attributes). Aliases and field
 * defaults are not used: they only matter when a reader schema is resolved
 * against a writer schema, and the decoder always reads with the writer's
 * own schema (the registry id in the frame). avro-c 1.11 does not check
 * them either. */
#include "decode_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avro.h>

#define MAX_DEPTH 64

/* avro-c keeps its last error in one process-wide buffer (no thread-local
 * storage in Debian's build) and counts references on shared static
 * primitive schemas: parsing is serialized. Schemas are parsed once per
 * registry id, so nobody waits in practice. */
static pthread_mutex_t avro_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct named {
    avro_schema_t as; /* avro-c's named schema (links point to it) */
    dsch_t *s;
} named_t;

typedef struct sctx {
    darena_t *a;
    named_t *names;
    size_t nnames, cap;
    char *err;
    size_t errsz;
} sctx_t;

static int param_int(json_t *v, int *out)
{
    if (json_is_integer(v)) {
        *out = (int)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        char *end;
        long x = strtol(json_string_value(v), &end, 10);
        if (end != json_string_value(v) && !*end) {
            *out = (int)x;
            return 0;
        }
    }
    return -1;
}

/* Connect and Avro logical-type annotations on a schema object (a no-op for
 * a bare type name). */
static void annotate(sctx_t *x, dsch_t *s, json_t *js, int *precision)
{
    const char *cname = json_string_value(json_object_get(js, "connect.name"));
    const char *lt = json_string_value(json_object_get(js, "logicalType"));
    const char *ctype = json_string_value(json_object_get(js, "connect.type"));
    if (ctype && s->type == DT_INT32) {
        if (strcmp(ctype, "int8") == 0)
            s->type = DT_INT8;
        else if (strcmp(ctype, "int16") == 0)
            s->type = DT_INT16;
    }
    if (cname) {
        s->name = darena_strdup(x->a, cname);
    } else if (lt) {
        static const struct {
            const char *lt, *name;
        } map[] = {{"decimal", "org.apache.kafka.connect.data.Decimal"},
                   {"date", "org.apache.kafka.connect.data.Date"},
                   {"time-millis", "org.apache.kafka.connect.data.Time"},
                   {"time-micros", "io.debezium.time.MicroTime"},
                   {"timestamp-millis", "org.apache.kafka.connect.data.Timestamp"},
                   {"timestamp-micros", "io.debezium.time.MicroTimestamp"},
                   {"uuid", "io.debezium.data.Uuid"}};
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
            if (strcmp(map[i].lt, lt) == 0)
                s->name = map[i].name;
    }
    if (s->name && !s->sem)
        s->sem = dsch_sem_of(s->name);
    int v;
    json_t *params = json_object_get(js, "connect.parameters");
    if (json_is_object(params)) {
        if (param_int(json_object_get(params, "scale"), &v) == 0) {
            s->scale = v;
            s->has_scale = true;
        }
        if (param_int(json_object_get(params, "length"), &v) == 0)
            s->bits_len = v;
        if (param_int(json_object_get(params, "connect.decimal.precision"), &v) == 0)
            *precision = v;
        if (param_int(json_object_get(params, "__debezium.source.column.length"), &v) == 0)
            dsch_source_type(
                s, json_string_value(json_object_get(params, "__debezium.source.column.type")), v);
    }
    if (lt && strcmp(lt, "decimal") == 0) {
        if (param_int(json_object_get(js, "scale"), &v) == 0) {
            s->scale = v;
            s->has_scale = true;
        } else if (!s->has_scale) {
            s->scale = 0; /* Avro: scale defaults to 0 */
            s->has_scale = true;
        }
        if (param_int(json_object_get(js, "precision"), &v) == 0)
            *precision = v;
    }
}

static int add_named(sctx_t *x, avro_schema_t as, dsch_t *s)
{
    if (x->nnames == x->cap) {
        size_t ncap = x->cap ? x->cap * 2 : 32;
        named_t *nn = realloc(x->names, ncap * sizeof(*nn));
        if (!nn) {
            snprintf(x->err, x->errsz, "out of memory");
            return -1;
        }
        x->names = nn;
        x->cap = ncap;
    }
    x->names[x->nnames].as = as;
    x->names[x->nnames++].s = s;
    return 0;
}

/* Full name as the schema tree shows it: "ns.Name", or "Name" in the null
 * (or empty) namespace. */
static const char *full_name(sctx_t *x, avro_schema_t as)
{
    const char *name = avro_schema_name(as), *ns = avro_schema_namespace(as);
    if (!ns || !*ns)
        return darena_strdup(x->a, name);
    size_t n = strlen(ns) + strlen(name) + 2;
    char *p = darena_alloc(x->a, n);
    snprintf(p, n, "%s.%s", ns, name);
    return p;
}

static dsch_t *conv(sctx_t *x, avro_schema_t as, json_t *js, int depth);

static int conv_named(sctx_t *x, avro_schema_t as, json_t *js, int depth, dsch_t *s)
{
    const char *fn = full_name(x, as);
    /* Registered before the fields: recursive and later references are
     * avro-c links to this very schema. */
    if (add_named(x, as, s) != 0)
        return -1;
    s->name = fn;
    switch (avro_typeof(as)) {
    case AVRO_ENUM:
        s->type = DT_ENUM;
        s->nsymbols = (size_t)avro_schema_enum_number_of_symbols(as);
        s->symbols = darena_alloc(x->a, (s->nsymbols ? s->nsymbols : 1) * sizeof(char *));
        for (size_t i = 0; i < s->nsymbols; i++)
            s->symbols[i] = darena_strdup(x->a, avro_schema_enum_get(as, (int)i));
        break;
    case AVRO_FIXED:
        s->type = DT_FIXED;
        /* avro-c takes any integer; a negative size has no encoding. */
        if (avro_schema_fixed_size(as) < 0) {
            snprintf(x->err, x->errsz, "fixed %.128s has a negative size", fn);
            return -1;
        }
        s->fixed_size = (size_t)avro_schema_fixed_size(as);
        break;
    default: {
        s->type = DT_STRUCT;
        json_t *fields = json_object_get(js, "fields");
        s->nfields = avro_schema_record_size(as);
        s->fields = darena_alloc(x->a, (s->nfields ? s->nfields : 1) * sizeof(dfield_t));
        for (size_t i = 0; i < s->nfields; i++) {
            s->fields[i].name = darena_strdup(x->a, avro_schema_record_field_name(as, (int)i));
            s->fields[i].sch = conv(x, avro_schema_record_field_get_by_index(as, (int)i),
                                    json_object_get(json_array_get(fields, i), "type"), depth + 1);
            if (!s->fields[i].sch)
                return -1;
        }
    }
    }
    int precision = -1;
    s->name = NULL;
    annotate(x, s, js, &precision);
    if (!s->name)
        s->name = fn;
    if (!s->sem || s->sem == SEM_OTHER)
        s->sem = dsch_sem_of(s->name);
    dsch_finish(x->a, s);
    if (s->sem == SEM_DECIMAL)
        dsch_set_numeric(x->a, s, precision);
    return 0;
}

/* @p js is the JSON of the same node (a type name, an object or an array). */
static dsch_t *conv(sctx_t *x, avro_schema_t as, json_t *js, int depth)
{
    if (depth > MAX_DEPTH) {
        snprintf(x->err, x->errsz, "schema nested deeper than %d levels", MAX_DEPTH);
        return NULL;
    }
    if (avro_typeof(as) == AVRO_LINK) {
        avro_schema_t to = avro_schema_link_target(as);
        for (size_t i = 0; i < x->nnames; i++)
            if (x->names[i].as == to)
                return x->names[i].s;
        snprintf(x->err, x->errsz, "reference to %.128s before its definition",
                 avro_schema_type_name(to));
        return NULL;
    }
    dsch_t *s = darena_alloc(x->a, sizeof(*s));
    s->bits_len = -1;
    int precision = -1;
    switch (avro_typeof(as)) {
    case AVRO_NULL: s->type = DT_NULL; break;
    case AVRO_BOOLEAN: s->type = DT_BOOL; break;
    case AVRO_INT32: s->type = DT_INT32; break;
    case AVRO_INT64: s->type = DT_INT64; break;
    case AVRO_FLOAT: s->type = DT_FLOAT32; break;
    case AVRO_DOUBLE: s->type = DT_FLOAT64; break;
    case AVRO_BYTES: s->type = DT_BYTES; break;
    case AVRO_STRING: s->type = DT_STRING; break;
    case AVRO_RECORD:
    case AVRO_ENUM:
    case AVRO_FIXED: return conv_named(x, as, js, depth, s) == 0 ? s : NULL;
    case AVRO_ARRAY:
        s->type = DT_ARRAY;
        s->items = conv(x, avro_schema_array_items(as), json_object_get(js, "items"), depth + 1);
        if (!s->items)
            return NULL;
        break;
    case AVRO_MAP:
        s->type = DT_MAP;
        s->values = conv(x, avro_schema_map_values(as), json_object_get(js, "values"), depth + 1);
        if (!s->values)
            return NULL;
        break;
    case AVRO_UNION:
        s->type = DT_UNION;
        s->nbranches = avro_schema_union_size(as);
        s->branches = darena_alloc(x->a, (s->nbranches ? s->nbranches : 1) * sizeof(dsch_t *));
        for (size_t i = 0; i < s->nbranches; i++) {
            s->branches[i] =
                conv(x, avro_schema_union_branch(as, (int)i), json_array_get(js, i), depth + 1);
            if (!s->branches[i])
                return NULL;
            if (s->branches[i]->type == DT_NULL)
                s->optional = true;
        }
        dsch_finish(x->a, s);
        return s;
    default: snprintf(x->err, x->errsz, "unsupported Avro type"); return NULL;
    }
    annotate(x, s, js, &precision);
    dsch_finish(x->a, s);
    if (s->sem == SEM_DECIMAL)
        dsch_set_numeric(x->a, s, precision);
    return s;
}

/* avro-c's message on one line, quotes kept. */
static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t')
            *s = ' ';
}

dsch_t *da_compile_schema(darena_t *a, const char *text, size_t len, char *err, size_t errsz)
{
    json_error_t jerr;
    json_t *js = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (!js) {
        snprintf(err, errsz, "schema is not JSON (%s at line %d column %d)", jerr.text, jerr.line,
                 jerr.column);
        return NULL;
    }
    sctx_t x = {a, NULL, 0, 0, err, errsz};
    dsch_t *s = NULL;
    avro_schema_t as = NULL;
    pthread_mutex_lock(&avro_lock);
    if (avro_schema_from_json_length(text, len, &as) != 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "%s", avro_strerror());
        one_line(msg);
        snprintf(err, errsz, "not a valid Avro schema (avro-c: %s)", msg);
        goto done;
    }
    s = conv(&x, as, js, 0);
    /* Every record is a named type: plan each one now that all are final. */
    for (size_t i = 0; s && i < x.nnames; i++)
        if (x.names[i].s->type == DT_STRUCT)
            da_plan_record(a, x.names[i].s);
done:
    if (as)
        avro_schema_decref(as);
    pthread_mutex_unlock(&avro_lock);
    free(x.names);
    json_decref(js);
    return s;
}
