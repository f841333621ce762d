/**
 * @file pgtype.h
 * @brief Canonical types of table columns resolved through a PostgreSQL
 *        catalog by OID, never by name: built-in types by their fixed OIDs,
 *        domains by their base type at any depth, arrays by their element,
 *        composites by their fields and ranges by their subtype.
 *
 * Shared by cdc-verify (both sides of a comparison) and cdc-apply's live
 * integrity check, so that both judge a value by the same type.
 */
#ifndef CDC_PGTYPE_H
#define CDC_PGTYPE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "cdc/canon.h"
#include "cdc/err.h"

/** Storage of the sub-type arrays (composite fields, range subtypes) that
 *  resolved types point to: a list, freed with cdc_pgtype_mem_free(). */
typedef struct cdc_pgtype_mem cdc_pgtype_mem_t;

/**
 * @brief Resolve the canonical type of each of @p n type OIDs (pg_attribute
 *        atttypid of the columns) with one catalog query on @p conn.
 *
 * A user type named like a built-in ("public.numeric") is not taken for
 * it; enums, extension types and arrays whose elements compare as text map
 * to CDC_CANON_OTHER (text output as bytes); citext to CDC_CANON_TEXT.
 * @param mem    list the sub-type arrays are added to (owned by the
 *               caller, who keeps it while @p types are used; *mem may be
 *               NULL at first).
 * @param types  n entries, filled.
 * @param base   n entries or NULL: each OID under any domains.
 * @param cls    NULL or set on failure (RETRIABLE for a lost connection).
 * @returns 0, or -1 with errstr (the server's message) when the query failed.
 */
int cdc_pgtype_resolve(PGconn *conn, const unsigned *oids, size_t n, cdc_pgtype_mem_t **mem,
                       cdc_canon_type_t *types, unsigned *base, cdc_err_class_t *cls, char *errstr,
                       size_t errstr_size);

/** @brief Free a list filled by cdc_pgtype_resolve(). Accepts NULL. */
void cdc_pgtype_mem_free(cdc_pgtype_mem_t *mem);

#endif
