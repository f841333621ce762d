/* Connect schemas (JsonConverter, schemas.enable=true) compiled to the
 * schema tree the front ends walk; called by the schema cache. */
#include "decode_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

/* ---- Connect schema -> schema tree ---- */

static const struct {
    const char *name;
    dtype_t type;
} conn_types[] = {
    {"int8", DT_INT8},       {"int16", DT_INT16},     {"int32", DT_INT32},  {"int64", DT_INT64},
    {"float", DT_FLOAT32},   {"double", DT_FLOAT64},  {"boolean", DT_BOOL}, {"string", DT_STRING},
    {"bytes", DT_BYTES},     {"array", DT_ARRAY},     {"map", DT_MAP},      {"struct", DT_STRUCT},
    {"float32", DT_FLOAT32}, {"float64", DT_FLOAT64},
};

static bool jbool(json_t *v)
{
    /* The Debezium docs show "optional":"false" as a string. */
    return json_is_true(v) || (json_is_string(v) && strcmp(json_string_value(v), "true") == 0);
}

static int jparam_int(json_t *params, const char *key, int *out)
{
    json_t *v = json_object_get(params, key);
    if (json_is_integer(v)) {
        *out = (int)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        char *end;
        long x = strtol(json_string_value(v), &end, 10);
        if (*end == '\0' && end != json_string_value(v)) {
            *out = (int)x;
            return 0;
        }
    }
    return -1;
}

static dsch_t *compile(darena_t *a, json_t *js, int depth, char *err, size_t errsz)
{
    if (depth > MAX_DEPTH) {
        snprintf(err, errsz, "schema nested deeper than %d levels", MAX_DEPTH);
        return NULL;
    }
    if (!json_is_object(js)) {
        snprintf(err, errsz, "expected a schema object, found %s",
                 json_is_null(js) ? "null" : "another JSON value");
        return NULL;
    }
    const char *tn = json_string_value(json_object_get(js, "type"));
    if (!tn) {
        snprintf(err, errsz, "schema without a \"type\" string");
        return NULL;
    }
    dsch_t *s = darena_alloc(a, sizeof(*s));
    s->type = DT_NULL;
    for (size_t i = 0; i < sizeof(conn_types) / sizeof(conn_types[0]); i++)
        if (strcmp(conn_types[i].name, tn) == 0)
            s->type = conn_types[i].type;
    if (s->type == DT_NULL) {
        snprintf(err, errsz, "unknown Connect schema type \"%.64s\"", tn);
        return NULL;
    }
    s->optional = jbool(json_object_get(js, "optional"));
    const char *name = json_string_value(json_object_get(js, "name"));
    if (name)
        s->name = darena_strdup(a, name);
    s->sem = dsch_sem_of(name);
    s->bits_len = -1;
    json_t *params = json_object_get(js, "parameters");
    int precision = -1;
    if (json_is_object(params)) {
        int x;
        if (jparam_int(params, "scale", &x) == 0) {
            s->scale = x;
            s->has_scale = true;
        }
        if (jparam_int(params, "length", &x) == 0)
            s->bits_len = x;
        if (jparam_int(params, "connect.decimal.precision", &x) == 0)
            precision = x;
        if (jparam_int(params, "__debezium.source.column.length", &x) == 0)
            dsch_source_type(
                s, json_string_value(json_object_get(params, "__debezium.source.column.type")), x);
    }
    if (s->type == DT_STRUCT) {
        json_t *fields = json_object_get(js, "fields");
        if (!json_is_array(fields)) {
            snprintf(err, errsz, "struct schema without a \"fields\" array");
            return NULL;
        }
        s->nfields = json_array_size(fields);
        s->fields = darena_alloc(a, (s->nfields ? s->nfields : 1) * sizeof(dfield_t));
        for (size_t i = 0; i < s->nfields; i++) {
            json_t *f = json_array_get(fields, i);
            const char *fname = json_string_value(json_object_get(f, "field"));
            if (!fname) {
                snprintf(err, errsz, "struct field %zu without a \"field\" name", i);
                return NULL;
            }
            s->fields[i].name = darena_strdup(a, fname);
            s->fields[i].sch = compile(a, f, depth + 1, err, errsz);
            if (!s->fields[i].sch)
                return NULL;
            /* A repeated field name makes the DOM path emit the value once
             * per field; the single-pass scanner must not take such rows. */
            for (size_t k = 0; k < i && !s->dup_fields; k++)
                s->dup_fields = strcmp(s->fields[k].name, fname) == 0;
        }
    } else if (s->type == DT_ARRAY) {
        s->items = compile(a, json_object_get(js, "items"), depth + 1, err, errsz);
        if (!s->items)
            return NULL;
    } else if (s->type == DT_MAP) {
        json_t *vals = json_object_get(js, "values");
        if (vals) {
            s->values = compile(a, vals, depth + 1, err, errsz);
            if (!s->values)
                return NULL;
        }
    }
    dsch_finish(a, s);
    if (s->sem == SEM_DECIMAL)
        dsch_set_numeric(a, s, precision);
    return s;
}

dsch_t *dj_compile_schema(darena_t *a, json_t *js, char *err, size_t errsz)
{
    return compile(a, js, 0, err, errsz);
}
