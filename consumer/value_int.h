/* Private to the writer and the live check: the text a change's value is
 * written as into a target column whose type the value's Connect type
 * does not spell the same way.
 *
 * PostgreSQL reads almost every Debezium value's text literal into every
 * plausible column type exactly (an int into numeric or text, a date into
 * timestamp, a UTC timestamp into timestamptz). Booleans are the
 * exception: Debezium sends bit(1) as a Connect BOOLEAN, and 't'/'f' is
 * not bit or integer input, so a bool into bit(1), bit varying, an integer
 * or a numeric column is written as the digit 1/0, its exact value there,
 * and into text as "true"/"false" (what bool::text gives). */
#ifndef CDC_VALUE_INT_H
#define CDC_VALUE_INT_H

#include "cdc/event.h"

#include <stdbool.h>
#include <string.h>

/* True when a boolean is written as 1/0 into a column of format_type()
 * @p type. */
static inline bool cdc_value_bool_as_digit(const char *type)
{
    return !strncmp(type, "bit", 3) || !strcmp(type, "smallint") || !strcmp(type, "integer") ||
           !strcmp(type, "bigint") || !strncmp(type, "numeric", 7) || !strcmp(type, "real") ||
           !strcmp(type, "double precision");
}

/* The text to write for present value @p c into a column of type @p type:
 * c->text, or a borrowed static replacement (*len updated). */
static inline const char *cdc_value_text(const char *type, const cdc_col_t *c, size_t *len)
{
    *len = c->len;
    if (!c->semantic || c->len != 1 || (c->text[0] != 't' && c->text[0] != 'f') ||
        strcmp(c->semantic, "boolean"))
        return c->text;
    bool t = c->text[0] == 't';
    if (cdc_value_bool_as_digit(type)) {
        *len = 1;
        return t ? "1" : "0";
    }
    /* In a text column, a boolean reads as PostgreSQL's bool::text does. */
    if (!strcmp(type, "text") || !strncmp(type, "character varying", 17)) {
        *len = t ? 4 : 5;
        return t ? "true" : "false";
    }
    return c->text;
}

/* Timestamps whose time of day a date column would drop without a word. */
static inline bool cdc_value_is_timestamp(const char *sem)
{
    return !strcmp(sem, "io.debezium.time.Timestamp") ||
           !strcmp(sem, "io.debezium.time.MicroTimestamp") ||
           !strcmp(sem, "io.debezium.time.NanoTimestamp") ||
           !strcmp(sem, "io.debezium.time.ZonedTimestamp") ||
           !strcmp(sem, "io.debezium.time.IsoTimestamp") ||
           !strcmp(sem, "org.apache.kafka.connect.data.Timestamp");
}

/* PostgreSQL cuts some values to fit a column silently: NULL when present
 * value @p c fits a column of format_type() @p type without that, else
 * what it would lose (for the error). A column narrower than the source's
 * (numeric(12,1) for numeric(12,2), timestamp(0) for timestamp(6)) is a
 * precision choice the live check reports (livecheck.h), not an error. */
static inline const char *cdc_value_loss(const char *type, const cdc_col_t *c)
{
    /* Per value of every row: only "date" and "bytea" go further. */
    if (!c->semantic || !c->text || (type[0] != 'd' && type[0] != 'b'))
        return NULL;
    if (!strcmp(type, "date") && cdc_value_is_timestamp(c->semantic)) {
        /* "YYYY-MM-DD HH:MM:SS[.f][+00]" (or ISO "...T...Z"): only midnight fits. */
        const char *sp = strpbrk(c->text, " T");
        if (sp && strncmp(sp + 1, "00:00:00", 8) != 0)
            return "the time of day";
        if (sp && sp[9] == '.')
            return "the fraction of a second";
        return NULL;
    }
    /* A bit string (bit(n>1), varbit) is formatted as its digits, which
     * bytea would store as the bytes '0' and '1'. */
    if (!strcmp(type, "bytea") && !strcmp(c->semantic, "io.debezium.data.Bits"))
        return "its bits (they would be stored as the digit characters)";
    return NULL;
}

#endif
