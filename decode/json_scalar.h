/**
 * @file json_scalar.h
 * @brief The one JSON scalar formatter both JSON paths use (the jansson
 *        walk in json.c and the single-pass scanner in jscan.c): a column
 *        value of a scalar Connect type as PostgreSQL text.
 */
#ifndef CDC_DECODE_JSON_SCALAR_H
#define CDC_DECODE_JSON_SCALAR_H

#include "decode_int.h"

typedef enum djt { DJT_STR, DJT_INT, DJT_REAL, DJT_TRUE, DJT_FALSE, DJT_NULL } djt_t;

/** A JSON scalar: strings and number texts borrowed (NULL text for a real
 *  whose exact digits are not known). */
typedef struct djv {
    djt_t t;
    const char *s;
    size_t n;
    int64_t i;
    double d;
} djv_t;

/** A decimal's exact number text at @p scale (-1: as many digits as it has)
 *  into @p out; @p pg the schemaless column type or NULL. -1 after derr()
 *  (or quietly) when it does not fit. */
int djs_num_text(dctx_t *c, const char *t, size_t len, int scale, const char *pg, cdc_buf_t *out,
                 bool quiet);
/** What a value of scalar schema @p s must be ("an integer", "base64
 *  bytes", ...), NULL for arrays, maps and structs. */
const char *djs_expected(const dsch_t *s);
/** "expected X, found <v>" with the value cut short; returns -1. */
int djs_mismatch(dctx_t *c, const char *expected, const djv_t *v);
/** The rare paths of djs_value(): the special float strings, bytes and
 *  decimals, and every value that does not fit (see djs_value()). */
int djs_value_slow(dctx_t *c, const dsch_t *s, const djv_t *v, cdc_buf_t *out, bool quiet);
/** The scalar @p v as a djv_t (false for objects and arrays; json.c). */
bool dj_scalar_of(dctx_t *c, json_t *v, djv_t *out);

/**
 * Scalar @p v of schema @p s (unwrapped, not NULL; @p v not null) into
 * @p out. Returns 0; 1 when @p s is not a scalar type (arrays, maps,
 * structs: the caller's); -1 when @p v does not fit @p s: after derr()
 * unless @p quiet (the single-pass scanner then declines the record).
 * Inline for the common types: it runs for every column of every record.
 */
static inline int djs_value(dctx_t *c, const dsch_t *s, const djv_t *v, cdc_buf_t *out, bool quiet)
{
    switch (s->type) {
    case DT_INT8:
        if (v->t != DJT_INT || v->i < -128 || v->i > 127)
            break; /* a value its own schema cannot hold: a bad record */
        dfmt_int_sem(out, s->sem, v->i);
        return 0;
    case DT_INT16:
        if (v->t != DJT_INT || v->i < -32768 || v->i > 32767)
            break;
        dfmt_int_sem(out, s->sem, v->i);
        return 0;
    case DT_INT32:
        if (v->t != DJT_INT || v->i < INT32_MIN || v->i > INT32_MAX)
            break;
        dfmt_int_sem(out, s->sem, v->i);
        return 0;
    case DT_INT64:
        if (v->t != DJT_INT)
            break;
        dfmt_int_sem(out, s->sem, v->i);
        return 0;
    case DT_FLOAT32:
    case DT_FLOAT64:
        if (v->t != DJT_INT && v->t != DJT_REAL)
            break;
        if (s->type == DT_FLOAT32)
            dfmt_float(out, (float)v->d);
        else
            dfmt_double(out, v->d);
        return 0;
    case DT_BOOL:
        if (v->t != DJT_TRUE && v->t != DJT_FALSE)
            break;
        dbuf_putc(out, v->t == DJT_TRUE ? 't' : 'f');
        return 0;
    case DT_STRING:
    case DT_ENUM:
        if (v->t != DJT_STR)
            break;
        dfmt_str_sem(out, s->sem, v->s, v->n);
        return 0;
    case DT_BYTES:
    case DT_FIXED: break;
    default: return 1; /* arrays, maps, structs: not a scalar */
    }
    return djs_value_slow(c, s, v, out, quiet);
}

/** A scalar as text without a schema (source blocks, metadata, schemaless
 *  values): strings as they are, numbers, t/f, nothing for null. */
static inline void djs_generic(cdc_buf_t *out, const djv_t *v)
{
    switch (v->t) {
    case DJT_STR: dbuf_append(out, v->s, v->n); break;
    case DJT_INT: dfmt_int(out, v->i); break;
    case DJT_REAL: dfmt_double(out, v->d); break;
    case DJT_TRUE: dbuf_putc(out, 't'); break;
    case DJT_FALSE: dbuf_putc(out, 'f'); break;
    case DJT_NULL: break;
    }
}

/* jscan_text.c */
/** A transaction block the scanner read (@p kv, its values @p vals) has
 *  the shape Debezium writes: a non-empty string id, an integer
 *  total_order (and data_collection_order, if any) of 1 or more. */
bool dj_fast_txn_block_ok(const dkvs_t *kv, const djv_t *vals);

#endif
