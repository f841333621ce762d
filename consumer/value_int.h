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

#endif
