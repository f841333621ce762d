/*
 * Value generators of the cdc-verify oracle test (test_verify_oracle.c):
 * every column type family the test knows, each value a pure function of
 * (family, seed, spelling) so that one side can hold the same value
 * written another way.
 */
#ifndef ORACLE_GEN_H
#define ORACLE_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "cdc/buf.h"

/** Feature families: each can be switched off (CDC_ORACLE_FEATURES). */
typedef enum ofeat {
    FT_INTS,
    FT_NUMERIC,
    FT_FLOAT,
    FT_TEXT,
    FT_QCHAR,
    FT_BYTEA,
    FT_BOOL,
    FT_UUID,
    FT_TIME,
    FT_INTERVAL,
    FT_JSON,
    FT_JSONB,
    FT_JSONX,
    FT_ARRAY,
    FT_DOMAIN,
    FT_COMPOSITE,
    FT_RANGE,
    FT_ENUM,
    FT_COLLIDE,
    FT_ICU,
    FT_CITEXT,
    FT_WIDEN,
    FT_KEYLESS,
    FT_RESPELL,
    FT_REPAIR,
    FT_WHERE,
    FT_KEYDUP,
    FT_ALLTABLES,
    FT_N
} ofeat_t;

/** Column generators. */
typedef enum ogen {
    G_INT2,
    G_INT4,
    G_INT8,
    G_NUM,
    G_NUM3,
    G_FLOAT4,
    G_FLOAT8,
    G_TEXT,
    G_VARCHAR,
    G_CHARN,
    G_QCHAR,
    G_BYTEA,
    G_BOOL,
    G_UUID,
    G_DATE,
    G_TIME,
    G_TIMETZ,
    G_TS,
    G_TSTZ,
    G_INTERVAL,
    G_JSON,
    G_JSONB,
    G_JSONX,
    G_JSONBX,
    G_ARR_INT,
    G_ARR_TEXT,
    G_ARR_NUM,
    G_DOM,
    G_DOM2,
    G_COMP,
    G_NUMRANGE,
    G_TSTZRANGE,
    G_ENUM,
    G_COLLIDE,
    G_ICU,
    G_CITEXT,
    G_W_INT,
    G_W_FLOAT,
    G_W_NUM,
    G_W_VARCHAR,
    G_N
} ogen_t;

/** One generator's column: feature switch, rule family (the oracle's
 *  comparison rule is looked up by it), source and target SQL types. */
typedef struct ocoltype {
    ogen_t gen;
    ofeat_t feature;
    const char *family;
    const char *stype, *ttype;
} ocoltype_t;

extern const ocoltype_t ocoltypes[G_N];
extern const char *const ofeat_names[FT_N];

/** The SQL that creates the user types every generator needs (run in each
 *  database, schema public). */
extern const char *const ogen_types_sql;

/** @brief Append an SQL expression for the value of generator @p g drawn
 *  from @p seed. @p spelling 0 is the plain form; 1 is an equal value
 *  written differently where the type has one (1.5 / 1.50, '1 day' /
 *  '24 hours', -0 / 0, key order in JSON, another case under a case-
 *  insensitive collation), else the same value. Never NULL. */
void ogen_value(cdc_buf_t *out, ogen_t g, uint64_t seed, int spelling);

/** @brief SQL string literal of @p s (standard_conforming_strings). */
void ogen_quote(cdc_buf_t *out, const char *s);

/** @brief splitmix64 step. */
uint64_t ogen_mix(uint64_t x);

#endif
