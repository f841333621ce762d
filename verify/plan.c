/*
 * Step 1, plan: resolve the table, its key, the compared columns and each
 * side's types from both catalogs; list the tables of --all-tables. (The
 * split points of --jobs are ranges.c.)
 */
#include "verify_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"
#include "cdc/pg.h"
#include "cdc/pgtype.h"

/* ---- plan ------------------------------------------------------------- */

typedef struct catcol {
    char *name;
    unsigned typoid; /* atttypid */
    bool collatable;
} catcol_t;

/* Run catalog query @p sql with params (schema, table); NULL on failure
 * with errstr "reading <what> of <schema>.<table>: <error>". */
static PGresult *catalog_query(PGconn *conn, const char *sql, const char *schema, const char *table,
                               const char *what, char *errstr, size_t errstr_size)
{
    const char *params[2] = {schema, table};
    char e[512];
    cdc_err_class_t cls = CDC_ERR_NONE;
    PGresult *res =
        cdc_pg_exec_params(conn, sql, 2, params, NULL, NULL, PGRES_TUPLES_OK, &cls, e, sizeof e);
    if (!res)
        snprintf(errstr, errstr_size, "reading %s of %s.%s: %s", what, schema, table, e);
    return res;
}

static int load_columns(PGconn *conn, const char *schema, const char *table, catcol_t **cols,
                        size_t *ncols, char ***pk, size_t *npk, double *reltuples, char *errstr,
                        size_t errstr_size)
{
    PGresult *res = NULL;
    int rc = -1;
    /* The type's OID: cdc_pgtype_resolve() maps it. */
    res = catalog_query(conn,
                        "SELECT a.attname, a.atttypid, a.attcollation <> 0, c.reltuples::float8 "
                        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "JOIN pg_attribute a ON a.attrelid = c.oid "
                        "WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 "
                        "AND NOT a.attisdropped ORDER BY a.attnum",
                        schema, table, "columns", errstr, errstr_size);
    if (!res)
        goto out;
    *ncols = (size_t)PQntuples(res);
    if (*ncols == 0) {
        snprintf(errstr, errstr_size, "table %s.%s not found (or has no columns): check --table",
                 schema, table);
        goto out;
    }
    *cols = calloc(*ncols, sizeof **cols);
    for (size_t i = 0; i < *ncols; i++) {
        (*cols)[i].name = strdup(PQgetvalue(res, (int)i, 0));
        (*cols)[i].typoid = (unsigned)strtoul(PQgetvalue(res, (int)i, 1), NULL, 10);
        (*cols)[i].collatable = PQgetvalue(res, (int)i, 2)[0] == 't';
    }
    if (reltuples)
        *reltuples = atof(PQgetvalue(res, 0, 3));
    PQclear(res);
    res = catalog_query(conn,
                        "SELECT a.attname FROM pg_index i "
                        "JOIN pg_class c ON c.oid = i.indrelid "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
                        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
                        "WHERE n.nspname = $1 AND c.relname = $2 AND i.indisprimary "
                        "ORDER BY k.ord",
                        schema, table, "the primary key", errstr, errstr_size);
    if (!res)
        goto out;
    *npk = (size_t)PQntuples(res);
    *pk = calloc(*npk + 1, sizeof **pk);
    for (size_t i = 0; i < *npk; i++)
        (*pk)[i] = strdup(PQgetvalue(res, (int)i, 0));
    rc = 0;
out:
    PQclear(res);
    return rc;
}

static void free_catcols(catcol_t *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free(c[i].name);
    }
    free(c);
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

static const catcol_t *find_col(const catcol_t *c, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].name, name) == 0)
            return &c[i];
    return NULL;
}

/* Types whose binary send format canon decodes: exactly these built-in
 * OIDs (under any domains; an extension type mapped to a kind, such as
 * citext, keeps the text path: its send function is its own business).
 *
 * Key columns need their PostgreSQL spelling for the report, the recheck
 * queries and the repair statements. Integers, text and uuid get it back
 * from their canonical payload (decimal digits, the bytes, lowercase
 * 8-4-4-4-12: exactly int8out/textout/uuid_out), so they travel in binary
 * like the other columns: the server skips int8out and the client a text
 * parse per row. Other key types (dates, numerics, char(n), ...) stay
 * text, as their canonical form is not their spelling. */
static bool binary_ok(unsigned base, cdc_canon_type_t type, bool key)
{
    /* int2 int4 int8 numeric float4 float8 date timestamp timestamptz
     * text varchar bpchar bytea bool uuid */
    static const unsigned oids[] = {21,   23, 20,   1700, 700, 701, 1082, 1114,
                                    1184, 25, 1043, 1042, 17,  16,  2950, 0};
    static const unsigned key_oids[] = {21, 23, 20, 25, 1043, 2950, 0};
    if (!cdc_canon_binary_capable(type))
        return false;
    const unsigned *list = key ? key_oids : oids;
    for (int i = 0; list[i]; i++)
        if (base == list[i])
            return true;
    return false;
}

/* Each column's type on one side (@p types: that side's canonical types,
 * @p base: the OIDs under domains, both ncols long). */
static int resolve_columns(PGconn *conn, const char *schema, const char *table,
                           const catcol_t *cols, size_t ncols, cdc_pgtype_mem_t **mem,
                           cdc_canon_type_t *types, unsigned *base, char *errstr,
                           size_t errstr_size)
{
    unsigned *oids = calloc(ncols ? ncols : 1, sizeof *oids);
    char e[512];
    if (!oids) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < ncols; i++)
        oids[i] = cols[i].typoid;
    int rc = cdc_pgtype_resolve(conn, oids, ncols, mem, types, base, NULL, e, sizeof e);
    if (rc)
        snprintf(errstr, errstr_size, "reading the column types of %s.%s: %s", schema, table, e);
    free(oids);
    return rc;
}

int vplan_build(vplan_t *plan, PGconn *conn_s, PGconn *conn_t, const cdc_verify_opts_t *opts,
                char *errstr, size_t errstr_size)
{
    catcol_t *sc = NULL, *tc = NULL;
    cdc_canon_type_t *sty = NULL, *tty = NULL;
    unsigned *sbase = NULL, *tbase = NULL;
    size_t nsc = 0, ntc = 0, nspk = 0, ntpk = 0, nkeys = 0;
    char **spk = NULL, **tpk = NULL, **keys = NULL;
    cdc_canon_col_t *cc = NULL;
    size_t *order = NULL;
    int rc = -1;
    memset(plan, 0, sizeof *plan);

    if (vtable_split(opts->table, &plan->schema, &plan->table, errstr, errstr_size))
        goto out;
    size_t dl = strlen(plan->schema) + strlen(plan->table) + 2;
    plan->display = malloc(dl);
    snprintf(plan->display, dl, "%s.%s", plan->schema, plan->table);

    if (load_columns(conn_s, plan->schema, plan->table, &sc, &nsc, &spk, &nspk, &plan->reltuples,
                     errstr, errstr_size))
        goto out;
    char e2[600];
    if (load_columns(conn_t, plan->schema, plan->table, &tc, &ntc, &tpk, &ntpk, NULL, e2,
                     sizeof e2)) {
        snprintf(errstr, errstr_size, "target: %s", e2);
        goto out;
    }
    /* The key: --key, else the source's primary key. */
    if (opts->key && *opts->key) {
        char *dup = strdup(opts->key), *save = NULL;
        keys = calloc(strlen(opts->key) + 1, sizeof *keys);
        for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ')
                t++;
            keys[nkeys++] = strdup(t);
        }
        free(dup);
    } else {
        if (nspk == 0) {
            /* --table as given (quoted where needed, also under
             * --all-tables): the command to run is pasteable. */
            snprintf(errstr, errstr_size,
                     "table %s has no primary key: name the columns that identify a row with "
                     "--table '%s' --key col1,col2",
                     plan->display, opts->table);
            goto out;
        }
        keys = spk;
        nkeys = nspk;
        spk = NULL;
    }
    for (size_t k = 0; k < nkeys; k++)
        if (!find_col(sc, nsc, keys[k])) {
            snprintf(errstr, errstr_size, "key column \"%s\" is not a column of %s", keys[k],
                     plan->display);
            goto out;
        }

    /* A misspelt --column would silently leave only the key compared. */
    for (size_t i = 0; i < opts->ncolumns + opts->nexclude; i++) {
        const char *name =
            i < opts->ncolumns ? opts->columns[i] : opts->exclude[i - opts->ncolumns];
        /* An excluded column may be one only the target has. */
        if (!find_col(sc, nsc, name) && !(i >= opts->ncolumns && find_col(tc, ntc, name))) {
            snprintf(errstr, errstr_size, "%s %s: %s has no such column",
                     i < opts->ncolumns ? "--column" : "--exclude-column", name, plan->display);
            goto out;
        }
    }

    /* Each side's types, from its own catalog (OIDs of user types differ). */
    sty = calloc(nsc, sizeof *sty);
    tty = calloc(ntc, sizeof *tty);
    sbase = calloc(nsc, sizeof *sbase);
    tbase = calloc(ntc, sizeof *tbase);
    if (!sty || !tty || !sbase || !tbase) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (resolve_columns(conn_s, plan->schema, plan->table, sc, nsc, &plan->typemem, sty, sbase,
                        errstr, errstr_size))
        goto out;
    if (resolve_columns(conn_t, plan->schema, plan->table, tc, ntc, &plan->typemem, tty, tbase, e2,
                        sizeof e2)) {
        snprintf(errstr, errstr_size, "target: %s", e2);
        goto out;
    }

    /* Columns: the source's, filtered; every one must exist in the target. */
    cc = calloc(nsc, sizeof *cc);
    size_t n = 0;
    for (size_t i = 0; i < nsc; i++) {
        int kp = -1;
        for (size_t k = 0; k < nkeys; k++)
            if (strcmp(keys[k], sc[i].name) == 0)
                kp = (int)k;
        if (kp < 0 && (in_list(sc[i].name, opts->exclude, opts->nexclude) ||
                       (opts->ncolumns && !in_list(sc[i].name, opts->columns, opts->ncolumns))))
            continue;
        if (!find_col(tc, ntc, sc[i].name)) {
            snprintf(errstr, errstr_size,
                     "column \"%s\" of %s is missing in the target: fix the schema or pass "
                     "--exclude-column %s",
                     sc[i].name, plan->display, sc[i].name);
            goto out;
        }
        cc[n++] = (cdc_canon_col_t){sc[i].name, sty[i], kp, NULL, 0};
    }
    /* Columns only the target has are never compared: say so, unless
     * excluded by name (a --column list names the whole scope). */
    plan->target_only = calloc(ntc ? ntc : 1, sizeof *plan->target_only);
    for (size_t i = 0; i < ntc && !opts->ncolumns; i++)
        if (!find_col(sc, nsc, tc[i].name) && !in_list(tc[i].name, opts->exclude, opts->nexclude))
            plan->target_only[plan->ntarget_only++] = strdup(tc[i].name);
    order = calloc(n ? n : 1, sizeof *order);
    cdc_canon_row_order(cc, n, order);
    plan->cols = calloc(n ? n : 1, sizeof *plan->cols);
    plan->ncols = n;
    plan->nkeys = nkeys;
    cdc_buf_t sel = CDC_BUF_INIT, ob = CDC_BUF_INIT, from = CDC_BUF_INIT;
    cdc_buf_t selb[2] = {CDC_BUF_INIT, CDC_BUF_INIT};
    for (size_t i = 0; i < n; i++) {
        const cdc_canon_col_t *c = &cc[order[i]];
        const catcol_t *s = find_col(sc, nsc, c->name), *t = find_col(tc, ntc, c->name);
        vcol_t *v = &plan->cols[i];
        v->name = strdup(c->name);
        v->stype = c->type;
        size_t si = (size_t)(s - sc), ti = t ? (size_t)(t - tc) : 0;
        v->ttype = t ? tty[ti] : c->type;
        v->collate_c = s && s->collatable;
        v->key_pos = c->key_pos;
        v->sbin = s && binary_ok(sbase[si], v->stype, v->key_pos >= 0);
        v->tbin = t && binary_ok(tbase[ti], v->ttype, v->key_pos >= 0);
        if (i)
            cdc_buf_puts(&sel, ", ");
        cdc_pg_append_ident(&sel, v->name);
        for (int side = 0; side < 2; side++) {
            if (i)
                cdc_buf_puts(&selb[side], ", ");
            cdc_pg_append_ident(&selb[side], v->name);
            if (!(side ? v->tbin : v->sbin))
                cdc_buf_puts(&selb[side], "::text");
        }
        if (v->key_pos >= 0) {
            if (ob.len)
                cdc_buf_puts(&ob, ", ");
            /* Qualified: the select list casts keys to text under the same
             * name, and ORDER BY would otherwise sort the text. */
            cdc_buf_puts(&ob, "_cdc_t.");
            cdc_pg_append_ident(&ob, v->name);
            /* Byte order on both sides whatever their collations: the merge
             * compares canonical bytes. */
            if (v->collate_c)
                cdc_buf_puts(&ob, " COLLATE \"C\"");
        }
    }
    cdc_pg_append_qualified(&from, plan->schema, plan->table);
    plan->select_list = cdc_buf_steal(&sel);
    plan->select_bin[0] = cdc_buf_steal(&selb[0]);
    plan->select_bin[1] = cdc_buf_steal(&selb[1]);
    plan->order_by = cdc_buf_steal(&ob);
    plan->from = cdc_buf_steal(&from);
    plan->where = opts->where && *opts->where ? strdup(opts->where) : NULL;
    rc = 0;
out:
    free_catcols(sc, nsc);
    free_catcols(tc, ntc);
    free_strv(spk, nspk);
    free_strv(tpk, ntpk);
    free_strv(keys, nkeys);
    free(cc);
    free(order);
    free(sty);
    free(tty);
    free(sbase);
    free(tbase);
    return rc;
}

void vplan_free(vplan_t *plan)
{
    for (size_t i = 0; plan->cols && i < plan->ncols; i++)
        free(plan->cols[i].name);
    free(plan->cols);
    free(plan->schema);
    free(plan->table);
    free(plan->display);
    free(plan->select_list);
    free(plan->select_bin[0]);
    free(plan->select_bin[1]);
    free(plan->from);
    free(plan->where);
    free(plan->order_by);
    cdc_pgtype_mem_free(plan->typemem);
    free_strv(plan->target_only, plan->ntarget_only);
    memset(plan, 0, sizeof *plan);
}

int vtable_split(const char *name, char **schema, char **table, char *errstr, size_t errstr_size)
{
    char *part[3] = {NULL, NULL, NULL};
    size_t np = 0;
    const char *p = name;
    int rc = -1;
    *schema = *table = NULL;
    for (;;) {
        cdc_buf_t b = CDC_BUF_INIT;
        if (*p == '"') {
            for (p++;; p++) {
                if (!*p) {
                    cdc_buf_free(&b);
                    snprintf(errstr, errstr_size,
                             "--table %s: unterminated quote (write \"my.schema\".\"t\", \"\" for "
                             "a quote inside)",
                             name);
                    goto out;
                }
                if (*p == '"' && p[1] == '"')
                    cdc_buf_putc(&b, '"'), p++;
                else if (*p == '"')
                    break;
                else
                    cdc_buf_putc(&b, *p);
            }
            p++;
        } else {
            while (*p && *p != '.')
                cdc_buf_putc(&b, *p++);
        }
        if (!b.len || np == 2) {
            cdc_buf_free(&b);
            snprintf(errstr, errstr_size,
                     "--table %s: expected [SCHEMA.]TABLE (quote a name that holds a dot: "
                     "\"my.schema\".\"t\")",
                     name);
            goto out;
        }
        part[np++] = cdc_buf_steal(&b);
        if (!*p)
            break;
        if (*p != '.') {
            snprintf(errstr, errstr_size, "--table %s: expected a dot after a quoted name", name);
            goto out;
        }
        p++;
    }
    *schema = np == 2 ? part[0] : strdup("public");
    *table = part[np - 1];
    if (np == 2)
        part[0] = NULL;
    part[np - 1] = NULL;
    rc = 0;
out:
    for (size_t i = 0; i < 3; i++)
        free(part[i]);
    return rc;
}

/* --key COL,COL: a column named twice would make the next column part of
 * the key (the plan counts names, the columns hold one position each). */
static int check_key_option(const char *key, char *errstr, size_t errstr_size)
{
    if (!key || !*key)
        return 0;
    char *dup = strdup(key), *save = NULL;
    char *seen[256];
    size_t n = 0;
    int rc = 0;
    for (char *t = strtok_r(dup, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        char *e = t + strlen(t);
        while (e > t && e[-1] == ' ')
            *--e = '\0';
        if (!*t) {
            snprintf(errstr, errstr_size, "--key %s: empty column name", key);
            rc = -1;
        }
        for (size_t i = 0; i < n && !rc; i++)
            if (strcmp(seen[i], t) == 0) {
                snprintf(errstr, errstr_size, "--key %s: column \"%s\" is named twice", key, t);
                rc = -1;
            }
        if (!rc && n < sizeof seen / sizeof *seen)
            seen[n++] = t;
    }
    if (!rc && (key[strlen(key) - 1] == ',' || key[0] == ',' || strstr(key, ",,"))) {
        snprintf(errstr, errstr_size, "--key %s: empty column name", key);
        rc = -1;
    }
    free(dup);
    return rc;
}

/* The key's names as a text[] literal ({"a","b"}). */
void vkey_names(const vplan_t *plan, cdc_buf_t *names)
{
    for (size_t k = 0; k < plan->nkeys; k++)
        cdc_pg_append_array_elem(names, plan->cols[k].name);
    if (!names->len)
        cdc_buf_putc(names, '{');
    cdc_buf_putc(names, '}');
}

PGresult *vplan_catalog(PGconn *conn, const vplan_t *plan, const char *sql, bool keys, char *errstr,
                        size_t errstr_size)
{
    cdc_buf_t names = CDC_BUF_INIT;
    if (keys)
        vkey_names(plan, &names);
    const char *params[3] = {plan->schema, plan->table, names.data};
    cdc_err_class_t cls;
    PGresult *res = cdc_pg_exec_params(conn, sql, keys ? 3 : 2, params, NULL, NULL, PGRES_TUPLES_OK,
                                       &cls, errstr, errstr_size);
    cdc_buf_free(&names);
    return res;
}

/* Plan checks that need the plan: key columns are always compared, and a
 * key under a nondeterministic collation cannot be merged byte by byte. */
static int check_plan(const vplan_t *plan, const cdc_verify_opts_t *opts, PGconn *cs, PGconn *ct,
                      char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < opts->nexclude; i++)
        for (size_t k = 0; k < plan->nkeys; k++)
            if (strcmp(opts->exclude[i], plan->cols[k].name) == 0) {
                snprintf(errstr, errstr_size,
                         "--exclude-column %s: \"%s\" is a key column of %s and key columns are "
                         "always compared; drop it from --exclude-column or choose --key",
                         opts->exclude[i], plan->cols[k].name, plan->display);
                return -1;
            }
    /* Equal under a nondeterministic collation ('Abc' = 'abc' under a
     * case-insensitive one) is not equal bytes: the merge would call one
     * logical row missing and extra. Refuse rather than contradict. */
    cdc_buf_t names = CDC_BUF_INIT;
    vkey_names(plan, &names);
    const char *params[3] = {plan->schema, plan->table, names.data};
    int rc = 0;
    for (int side = 0; side < 2 && !rc; side++) {
        PGconn *conn = side ? ct : cs;
        PGresult *r = PQexecParams(
            conn,
            "SELECT a.attname, co.collname FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_collation co ON co.oid = a.attcollation "
            "WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = ANY ($3::text[]) "
            /* (through jsonb: collisdeterministic is new in PostgreSQL 12) */
            "AND to_jsonb(co) ->> 'collisdeterministic' = 'false' ORDER BY a.attnum LIMIT 1",
            3, NULL, params, NULL, NULL, 0);
        char e[512];
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            cdc_pg_error(r, conn, e, sizeof e);
            snprintf(errstr, errstr_size, "%s: reading key collations of %s: %s",
                     side ? "target" : "source", plan->display, e);
            rc = -1;
        } else if (PQntuples(r)) {
            snprintf(errstr, errstr_size,
                     "key column \"%s\" of %s has the nondeterministic collation \"%s\" (%s): "
                     "keys equal under it are not equal bytes, so rows cannot be matched; pass "
                     "--key with other columns (e.g. a unique id)",
                     PQgetvalue(r, 0, 0), plan->display, PQgetvalue(r, 0, 1),
                     side ? "target" : "source");
            rc = -1;
        }
        PQclear(r);
    }
    cdc_buf_free(&names);
    return rc;
}

/* True when @p conn has no table @p name (and the name parses). */
static bool target_absent(PGconn *conn, const char *name)
{
    char *schema = NULL, *table = NULL, e[300];
    if (vtable_split(name, &schema, &table, e, sizeof e))
        return false; /* vplan_build says why */
    const char *params[2] = {schema, table};
    PGresult *r = PQexecParams(conn,
                               "SELECT to_regclass(quote_ident($1) || '.' || quote_ident($2)) "
                               "IS NULL",
                               2, NULL, params, NULL, NULL, 0);
    bool absent =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    free(schema);
    free(table);
    return absent;
}

/* What a run compared when not the whole table (new), or NULL. */
static char *scope_of(const cdc_verify_opts_t *opts)
{
    cdc_buf_t b = CDC_BUF_INIT;
    if (opts->where && *opts->where)
        cdc_buf_printf(&b, "where %s", opts->where);
    for (int list = 0; list < 2; list++) {
        size_t n = list ? opts->nexclude : opts->ncolumns;
        const char *const *v = list ? opts->exclude : opts->columns;
        if (!n)
            continue;
        cdc_buf_printf(&b, "%s%s", b.len ? "; " : "", list ? "excluded " : "columns ");
        for (size_t i = 0; i < n; i++)
            cdc_buf_printf(&b, "%s%s", i ? ", " : "", v[i]);
    }
    if (!b.len) {
        cdc_buf_free(&b);
        return NULL;
    }
    return cdc_buf_steal(&b);
}

/* "schema.table" with each part quoted when needed, as --table reads it. */
static const char list_sql[] =
    "SELECT CASE WHEN n.nspname ~ '[.\"]' THEN quote_ident(n.nspname) ELSE n.nspname END || '.' "
    "|| CASE WHEN c.relname ~ '[.\"]' THEN quote_ident(c.relname) ELSE c.relname END "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> $1 ORDER BY 1";

static int list_side(const char *conninfo, const char *side, const char *skip_schema,
                     PGresult **out, char *errstr, size_t errstr_size)
{
    char e[600];
    PGconn *conn = cdc_pg_connect(conninfo, "cdc-verify", e, sizeof e);
    if (!conn) {
        snprintf(errstr, errstr_size, "%s: %s", side, e);
        return -1;
    }
    const char *params[1] = {skip_schema ? skip_schema : ""};
    PGresult *res = PQexecParams(conn, list_sql, 1, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_pg_error(res, conn, e, sizeof e);
        snprintf(errstr, errstr_size, "%s: listing tables: %s", side, e);
        PQclear(res);
        res = NULL;
        rc = -1;
    }
    *out = res;
    PQfinish(conn);
    return rc;
}

int cdc_verify_list_tables(const char *source_conninfo, const char *target_conninfo,
                           const char *skip_schema, char ***tables, char ***target_only,
                           size_t *ntarget_only, char *errstr, size_t errstr_size)
{
    PGresult *rs = NULL, *rt = NULL;
    int n = -1;
    *tables = *target_only = NULL;
    *ntarget_only = 0;
    /* Every source table: one without a primary key is not skipped (it
     * fails with what to do), and the target's own tables are named. */
    if (list_side(source_conninfo, "source", skip_schema, &rs, errstr, errstr_size) ||
        list_side(target_conninfo, "target", skip_schema, &rt, errstr, errstr_size))
        goto out;
    n = PQntuples(rs);
    *tables = calloc((size_t)n + 1, sizeof **tables);
    for (int i = 0; i < n; i++)
        (*tables)[i] = strdup(PQgetvalue(rs, i, 0));
    *target_only = calloc((size_t)PQntuples(rt) + 1, sizeof **target_only);
    for (int j = 0; j < PQntuples(rt); j++) {
        const char *t = PQgetvalue(rt, j, 0);
        bool found = false;
        for (int i = 0; i < n && !found; i++)
            found = strcmp((*tables)[i], t) == 0;
        if (!found)
            (*target_only)[(*ntarget_only)++] = strdup(t);
    }
out:
    PQclear(rs);
    PQclear(rt);
    return n;
}

int vrun_plan(vrun_t *run, char *errstr, size_t errstr_size)
{
    const cdc_verify_opts_t *opts = run->opts;
    cdc_verify_result_t *res = run->res;
    char e[600];
    if (check_key_option(opts->key, errstr, errstr_size))
        return -1;
    run->cs = cdc_pg_connect(opts->source_conninfo, "cdc-verify", e, sizeof e);
    if (!run->cs) {
        snprintf(errstr, errstr_size, "source: %s", e);
        return -1;
    }
    run->ct = cdc_pg_connect(opts->target_conninfo, "cdc-verify", e, sizeof e);
    if (!run->ct) {
        snprintf(errstr, errstr_size, "target: %s", e);
        return -1;
    }
    /* A table the target lacks is a finding (every row missing), not an
     * error: plan it from the source's catalog alone. */
    run->absent = target_absent(run->ct, opts->table);
    run->ctf = run->absent ? NULL : run->ct; /* target fetches: none */
    if (vplan_build(&run->plan, run->cs, run->absent ? run->cs : run->ct, opts, errstr,
                    errstr_size) ||
        check_plan(&run->plan, opts, run->cs, run->ct, errstr, errstr_size))
        return -1;
    const vplan_t *plan = &run->plan;
    res->table = strdup(plan->display);
    res->target_absent = run->absent;
    res->target_only_columns = calloc(plan->ntarget_only + 1, sizeof *res->target_only_columns);
    for (size_t i = 0; i < plan->ntarget_only; i++)
        res->target_only_columns[res->ntarget_only_columns++] = strdup(plan->target_only[i]);
    res->scope = scope_of(opts);
    run->max_keep = opts->max_retained ? opts->max_retained : 100000;
    if ((size_t)opts->max_report > run->max_keep)
        run->max_keep = (size_t)opts->max_report;
    return 0;
}
