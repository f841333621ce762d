/* Column types by OID (see pgtype.h). */
#include "cdc/pgtype.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/buf.h"
#include "cdc/pg.h"

/* Every type the columns' values are made of: the columns' own ($1), and
 * recursively domains' base types, array elements, range subtypes and
 * composite fields. One row per type, resolved client-side by resolve(). */
static const char types_sql[] =
    "WITH RECURSIVE ty(oid) AS ("
    " SELECT unnest($1::oid[])"
    " UNION"
    " SELECT s.oid FROM ty JOIN pg_type t ON t.oid = ty.oid CROSS JOIN LATERAL ("
    "  SELECT t.typbasetype WHERE t.typtype = 'd'"
    "  UNION ALL SELECT t.typelem WHERE t.typelem <> 0"
    "  UNION ALL SELECT r.rngsubtype FROM pg_range r WHERE r.rngtypid = t.oid"
    "  UNION ALL SELECT f.atttypid FROM pg_attribute f WHERE t.typtype = 'c'"
    "   AND f.attrelid = t.typrelid AND f.attnum > 0 AND NOT f.attisdropped) s(oid))"
    " SELECT t.oid, t.typtype, t.typbasetype,"
    " CASE WHEN t.typinput = 'array_in'::regproc THEN t.typelem ELSE 0 END,"
    " coalesce((SELECT e.typdelim = ',' FROM pg_type e WHERE e.oid = t.typelem), false),"
    " coalesce((SELECT r.rngsubtype FROM pg_range r WHERE r.rngtypid = t.oid), 0),"
    " (SELECT string_agg(f.atttypid::text, ' ' ORDER BY f.attnum) FROM pg_attribute f"
    "  WHERE t.typtype = 'c' AND f.attrelid = t.typrelid AND f.attnum > 0"
    "  AND NOT f.attisdropped),"
    " EXISTS (SELECT 1 FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid"
    "  WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid"
    "  AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'"
    "  AND x.extname = 'citext')"
    " FROM ty JOIN pg_type t ON t.oid = ty.oid";

struct cdc_pgtype_mem {
    struct cdc_pgtype_mem *next;
    size_t n;
    cdc_canon_type_t t[];
};

typedef struct tcat {
    PGresult *res;          /* rows of types_sql */
    cdc_pgtype_mem_t **mem; /* the caller's list: new sub-type arrays go here */
} tcat_t;

static int tcat_row(const tcat_t *c, unsigned oid)
{
    for (int r = 0; r < PQntuples(c->res); r++)
        if ((unsigned)strtoul(PQgetvalue(c->res, r, 0), NULL, 10) == oid)
            return r;
    return -1;
}

static cdc_canon_type_t *tcat_alloc(const tcat_t *c, size_t n)
{
    cdc_pgtype_mem_t *m = calloc(1, sizeof *m + (n ? n : 1) * sizeof m->t[0]);
    if (!m)
        return NULL;
    m->n = n;
    m->next = *c->mem;
    *c->mem = m;
    return m->t;
}

/* The canonical type of @p oid. Built-in types by their fixed OIDs
 * (pg_type.h), so a user type named "numeric" or "bool" is never taken
 * for one; domains by their base type, at any depth; arrays, composites
 * and ranges by their parts; anything else (enums, extension types, arrays
 * whose elements are compared as text anyway) by its text output.
 * @p base is set to the OID under any domains (what binary COPY sends). */
static cdc_canon_type_t resolve(const tcat_t *c, unsigned oid, int depth, unsigned *base)
{
    cdc_canon_type_t other = {CDC_CANON_OTHER, false, NULL, 0};
    if (base)
        *base = oid;
    cdc_canon_type_t b = cdc_canon_type_from_oid(oid);
    if (b.kind != CDC_CANON_OTHER || depth > 32)
        return b;
    int r = tcat_row(c, oid);
    if (r < 0)
        return other;
    char typtype = PQgetvalue(c->res, r, 1)[0];
    unsigned basetype = (unsigned)strtoul(PQgetvalue(c->res, r, 2), NULL, 10);
    unsigned elem = (unsigned)strtoul(PQgetvalue(c->res, r, 3), NULL, 10);
    bool comma = PQgetvalue(c->res, r, 4)[0] == 't';
    unsigned rngsub = (unsigned)strtoul(PQgetvalue(c->res, r, 5), NULL, 10);
    const char *fields = PQgetvalue(c->res, r, 6);
    if (typtype == 'd')
        return resolve(c, basetype, depth + 1, base);
    if (PQgetvalue(c->res, r, 7)[0] == 't')
        return (cdc_canon_type_t){CDC_CANON_TEXT, false, NULL, 0}; /* citext: the bytes */
    if (elem) {
        /* Element by element, unless the elements compare as text anyway
         * or use another delimiter than ',' (box). */
        cdc_canon_type_t e = resolve(c, elem, depth + 1, NULL);
        if (!comma || e.kind == CDC_CANON_OTHER || e.is_array)
            return other;
        e.is_array = true;
        return e;
    }
    if (typtype == 'r' && rngsub) {
        cdc_canon_type_t *sub = tcat_alloc(c, 1);
        if (!sub)
            return other;
        sub[0] = resolve(c, rngsub, depth + 1, NULL);
        return (cdc_canon_type_t){CDC_CANON_RANGE, false, sub, 1};
    }
    if (typtype == 'c') {
        size_t n = 0;
        for (const char *p = fields; *p; p++)
            n += *p == ' ';
        n += *fields != '\0';
        cdc_canon_type_t *sub = tcat_alloc(c, n);
        if (!sub)
            return other;
        char *end = NULL;
        for (size_t k = 0; k < n; k++, fields = end)
            sub[k] = resolve(c, (unsigned)strtoul(fields, &end, 10), depth + 1, NULL);
        return (cdc_canon_type_t){CDC_CANON_COMPOSITE, false, sub, n};
    }
    return other;
}

int cdc_pgtype_resolve(PGconn *conn, const unsigned *oids, size_t n, cdc_pgtype_mem_t **mem,
                       cdc_canon_type_t *types, unsigned *base, cdc_err_class_t *cls, char *errstr,
                       size_t errstr_size)
{
    cdc_buf_t arr = CDC_BUF_INIT;
    cdc_buf_putc(&arr, '{');
    for (size_t i = 0; i < n; i++)
        cdc_buf_printf(&arr, "%s%u", i ? "," : "", oids[i]);
    cdc_buf_putc(&arr, '}');
    const char *params[1] = {arr.data};
    PGresult *res = PQexecParams(conn, types_sql, 1, NULL, params, NULL, NULL, 0);
    cdc_buf_free(&arr);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_pg_error(res, conn, errstr, errstr_size);
        if (cls)
            *cls = cdc_pg_classify(res, conn);
        PQclear(res);
        return -1;
    }
    tcat_t c = {res, mem};
    for (size_t i = 0; i < n; i++)
        types[i] = resolve(&c, oids[i], 0, base ? &base[i] : NULL);
    PQclear(res);
    return 0;
}

void cdc_pgtype_mem_free(cdc_pgtype_mem_t *mem)
{
    while (mem) {
        cdc_pgtype_mem_t *m = mem;
        mem = m->next;
        free(m);
    }
}
