/* cdc-apply's JDBC-sink style switches (sink_opts.h): which changes are
 * skipped (--delete-enabled, --truncate-enabled, tombstones under
 * --tombstone-is-delete) and which columns are never written
 * (--columns-include, --columns-exclude). */
#include "sink_opts.h"

#include "catalog_int.h"
#include "cdc/log.h"
#include "cdc/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One --columns-include or --columns-exclude entry. */
typedef struct colspec {
    char *schema; /* NULL: the TABLE named no schema (any schema) */
    char *table;
    bool include;
    bool all; /* include list "*": every column */
    char **cols;
    size_t ncols;
    char *entry;  /* as given, for messages */
    bool checked; /* its names were compared with an event's (warned once) */
} colspec_t;

/* The last record of a partition, for tombstones.on.delete: the
 * tombstone Debezium writes right after a delete, same key, deletes
 * nothing more and is skipped as a tombstone. */
typedef struct lastdel {
    char *topic;
    int32_t partition;
    bool was_delete;
    char *key; /* the delete's key bytes */
    size_t key_len;
} lastdel_t;

struct cdc_sinkopts {
    bool delete_enabled, truncate_enabled, tombstone_delete;
    colspec_t *specs;
    size_t nspecs;
    lastdel_t *last;
    size_t nlast;
};

static bool spec_names(const colspec_t *s, const char *name)
{
    for (size_t i = 0; i < s->ncols; i++)
        if (!strcmp(s->cols[i], name))
            return true;
    return false;
}

static bool spec_is(const colspec_t *s, const char *schema, const char *table)
{
    return (!s->schema || (schema && !strcmp(s->schema, schema))) && !strcmp(s->table, table);
}

/* The include and exclude entries of a table (NULL: none). */
static void find_specs(const cdc_sinkopts_t *so, const char *schema, const char *table,
                       colspec_t **inc, colspec_t **exc)
{
    *inc = *exc = NULL;
    for (size_t i = 0; i < so->nspecs; i++)
        if (spec_is(&so->specs[i], schema, table)) {
            if (so->specs[i].include)
                *inc = &so->specs[i];
            else
                *exc = &so->specs[i];
        }
}

static bool col_written(const colspec_t *inc, const colspec_t *exc, const char *name)
{
    if (inc && !inc->all && !spec_names(inc, name))
        return false;
    return !(exc && spec_names(exc, name));
}

static const char *list_opt(bool include)
{
    return include ? "--columns-include" : "--columns-exclude";
}

/* The error for key column @p col (of @p what) that the lists leave
 * unwritten, with the fix for the list that does it. */
static void key_dropped(char *errstr, size_t errstr_size, const colspec_t *exc, const char *col,
                        const char *what)
{
    if (exc && spec_names(exc, col))
        snprintf(errstr, errstr_size,
                 "--columns-exclude drops column %s of %s: key columns are always written; "
                 "take it out of the list",
                 col, what);
    else
        snprintf(errstr, errstr_size,
                 "--columns-include leaves out column %s of %s: key columns are always written; "
                 "add it to the list",
                 col, what);
}

/* Parse "TABLE:COL[,COL...]" (TABLE split like --table-format). */
static int parse_spec(const char *e, bool include, colspec_t *s, char *errstr, size_t errstr_size)
{
    const char *colon = strrchr(e, ':');
    if (!colon || colon == e || !colon[1]) {
        snprintf(errstr, errstr_size, "%s '%s': expected TABLE:COL[,COL...] (e.g. %s)",
                 list_opt(include), e, include ? "public.orders:id,total" : "public.orders:secret");
        return -1;
    }
    char why[200];
    char *name = cdc_xstrdup(e);
    name[colon - e] = '\0';
    int rc = cdc_route_split_name(name, false, &s->schema, &s->table, why, sizeof(why));
    free(name);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "%s '%s': %s", list_opt(include), e, why);
        return -1;
    }
    s->include = include;
    s->entry = cdc_xstrdup(e);
    char *list = cdc_xstrdup(colon + 1), *save = NULL;
    for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        if (!strcmp(c, "*") && include) {
            s->all = true;
            continue;
        }
        s->cols = realloc(s->cols, (s->ncols + 1) * sizeof(char *));
        if (!s->cols)
            abort();
        s->cols[s->ncols++] = cdc_xstrdup(c);
    }
    free(list);
    return 0;
}

/* A --key-columns entry must not name a column the lists drop. */
static int check_keycols(const cdc_sinkopts_t *so, const char *e, char *errstr, size_t errstr_size)
{
    const char *colon = strrchr(e, ':');
    if (!colon)
        return 0; /* the catalog reports the malformed entry */
    char *name = cdc_xstrdup(e), *schema = NULL, *table = NULL, why[200];
    name[colon - e] = '\0';
    int rc = 0;
    if (cdc_route_split_name(name, false, &schema, &table, why, sizeof(why)) != 0)
        goto out;
    colspec_t *inc, *exc;
    find_specs(so, schema, table, &inc, &exc);
    char *list = cdc_xstrdup(colon + 1), *save = NULL;
    for (char *c = strtok_r(list, ",", &save); c && rc == 0; c = strtok_r(NULL, ",", &save))
        if (!col_written(inc, exc, c)) {
            char what[300];
            snprintf(what, sizeof(what), "--key-columns %s", e);
            key_dropped(errstr, errstr_size, exc, c, what);
            rc = -1;
        }
    free(list);
out:
    free(name);
    free(schema);
    free(table);
    return rc;
}

cdc_sinkopts_t *cdc_sinkopts_new(const cdc_config_t *cfg, char *errstr, size_t errstr_size)
{
    cdc_sinkopts_t *so = cdc_xcalloc(1, sizeof(*so));
    so->delete_enabled = cdc_config_get_bool(cfg, "delete-enabled");
    so->truncate_enabled = cdc_config_get_bool(cfg, "truncate-enabled");
    so->tombstone_delete = cdc_config_get_bool(cfg, "tombstone-is-delete");
    const char *const *inc, *const *exc, *const *kc;
    size_t ninc = cdc_config_get_list(cfg, "columns-include", &inc);
    size_t nexc = cdc_config_get_list(cfg, "columns-exclude", &exc);
    size_t nkc = cdc_config_get_list(cfg, "key-columns", &kc);
    so->specs = cdc_xcalloc(ninc + nexc + 1, sizeof(*so->specs));
    for (size_t i = 0; i < ninc + nexc; i++) {
        bool include = i < ninc;
        const char *e = include ? inc[i] : exc[i - ninc];
        colspec_t *s = &so->specs[so->nspecs++];
        if (parse_spec(e, include, s, errstr, errstr_size) != 0)
            goto fail;
        for (size_t j = 0; j + 1 < so->nspecs; j++)
            if (so->specs[j].include == include && !strcmp(so->specs[j].table, s->table) &&
                !so->specs[j].schema == !s->schema &&
                (!s->schema || !strcmp(so->specs[j].schema, s->schema))) {
                snprintf(errstr, errstr_size,
                         "%s '%s': the table has an entry already; list all its columns in one",
                         list_opt(include), e);
                goto fail;
            }
    }
    /* The JDBC sinks take either list for a table, never both: a column
     * named in both would be dropped without a word. */
    for (size_t i = 0; i < so->nspecs; i++)
        for (size_t j = 0; j < so->nspecs; j++) {
            const colspec_t *a = &so->specs[i], *x = &so->specs[j];
            if (a->include && !x->include && !strcmp(a->table, x->table) &&
                (!a->schema || !x->schema || !strcmp(a->schema, x->schema))) {
                snprintf(errstr, errstr_size,
                         "--columns-include '%s' and --columns-exclude '%s' both apply to table "
                         "%s: give a table one of the two lists (list only the columns to write, "
                         "or only those to leave out)",
                         a->entry, x->entry, a->table);
                goto fail;
            }
        }
    for (size_t i = 0; i < nkc; i++)
        if (check_keycols(so, kc[i], errstr, errstr_size) != 0)
            goto fail;
    return so;
fail:
    cdc_sinkopts_destroy(so);
    return NULL;
}

void cdc_sinkopts_destroy(cdc_sinkopts_t *so)
{
    if (!so)
        return;
    for (size_t i = 0; i < so->nspecs; i++) {
        free(so->specs[i].schema);
        free(so->specs[i].table);
        for (size_t j = 0; j < so->specs[i].ncols; j++)
            free(so->specs[i].cols[j]);
        free(so->specs[i].cols);
        free(so->specs[i].entry);
    }
    free(so->specs);
    for (size_t i = 0; i < so->nlast; i++) {
        free(so->last[i].topic);
        free(so->last[i].key);
    }
    free(so->last);
    free(so);
}

bool cdc_sinkopts_tombstone_is_delete(const cdc_sinkopts_t *so)
{
    return so->tombstone_delete;
}

static lastdel_t *last_of(cdc_sinkopts_t *so, const cdc_record_t *rec)
{
    for (size_t i = 0; i < so->nlast; i++)
        if (so->last[i].partition == rec->partition && !strcmp(so->last[i].topic, rec->topic))
            return &so->last[i];
    so->last = realloc(so->last, (so->nlast + 1) * sizeof(*so->last));
    if (!so->last)
        abort();
    lastdel_t *l = &so->last[so->nlast++];
    memset(l, 0, sizeof(*l));
    l->topic = cdc_xstrdup(rec->topic);
    l->partition = rec->partition;
    return l;
}

/* Whether @p rec is the tombstone of the delete just before it in its
 * partition; remembers @p rec for the next record. */
static bool follows_its_delete(cdc_sinkopts_t *so, const cdc_record_t *rec, const cdc_event_t *ev)
{
    lastdel_t *l = last_of(so, rec);
    bool tomb = !rec->value;
    bool same = tomb && l->was_delete && l->key_len == rec->key_len &&
                (!rec->key_len || !memcmp(l->key, rec->key, rec->key_len));
    l->was_delete = !tomb && ev->op == 'd' && rec->key;
    free(l->key);
    l->key = NULL;
    l->key_len = 0;
    if (l->was_delete) {
        l->key = malloc(rec->key_len ? rec->key_len : 1);
        if (!l->key)
            abort();
        memcpy(l->key, rec->key, rec->key_len);
        l->key_len = rec->key_len;
    }
    return same;
}

const char *cdc_sinkopts_skip(cdc_sinkopts_t *so, const cdc_record_t *rec, const cdc_event_t *ev)
{
    if (so->tombstone_delete) {
        /* Only records of data topics reach here: a heartbeat or
         * transaction record never sits between a delete and its
         * tombstone. */
        if (follows_its_delete(so, rec, ev))
            return "tombstone";
        if (!rec->value && !rec->key)
            return "tombstone"; /* no key: nothing to delete by */
    }
    if (ev->op == 'd' && !so->delete_enabled)
        return "delete_disabled";
    if (ev->op == 't' && !so->truncate_enabled)
        return "truncate_disabled";
    return NULL;
}

/* Drop the columns not written from @p row. */
static void filter_row(cdc_row_t *row, const colspec_t *inc, const colspec_t *exc)
{
    size_t n = 0;
    for (size_t i = 0; i < row->ncols; i++)
        if (col_written(inc, exc, row->cols[i].name))
            row->cols[n++] = row->cols[i];
    row->ncols = n;
}

/* Once per entry: a listed column the event does not carry is likely a
 * typo (an include list would then write nothing of it; an exclude entry
 * for a column the source does not have is harmless but useless). */
static void warn_unknown(colspec_t *s, const cdc_event_t *ev, const char *schema, const char *table)
{
    if (s->checked || !ev->has_after)
        return;
    s->checked = true;
    for (size_t i = 0; i < s->ncols; i++)
        if (!cdc_row_find(&ev->after, s->cols[i]))
            cdc_log_warn("%s: column %s of %s.%s is not in the events of %s[%d]@%lld: check the "
                         "name",
                         list_opt(s->include), s->cols[i], schema, table, ev->topic,
                         (int)ev->partition, (long long)ev->offset);
}

int cdc_sinkopts_filter(cdc_sinkopts_t *so, const cdc_catalog_t *cat, cdc_event_t *ev, char *errstr,
                        size_t errstr_size)
{
    if (!so->nspecs)
        return 0;
    char schema[256], table[256];
    if (cdc_catalog_route(cat, ev, schema, sizeof(schema), table, sizeof(table)) != 0)
        return 0; /* the catalog reports the unroutable event */
    colspec_t *inc, *exc;
    find_specs(so, schema, table, &inc, &exc);
    if (!inc && !exc)
        return 0;
    for (size_t i = 0; i < ev->key.ncols; i++)
        if (!col_written(inc, exc, ev->key.cols[i].name)) {
            char what[600];
            snprintf(what, sizeof(what), "%s.%s, a field of the record key (%s[%d]@%lld)", schema,
                     table, ev->topic, (int)ev->partition, (long long)ev->offset);
            key_dropped(errstr, errstr_size, exc, ev->key.cols[i].name, what);
            return -1;
        }
    if (inc)
        warn_unknown(inc, ev, schema, table);
    if (exc)
        warn_unknown(exc, ev, schema, table);
    filter_row(&ev->before, inc, exc);
    filter_row(&ev->after, inc, exc);
    return 0;
}

int cdc_sinkopts_check_table(const cdc_sinkopts_t *so, const cdc_table_t *t, char *errstr,
                             size_t errstr_size)
{
    if (!so->nspecs)
        return 0;
    colspec_t *inc, *exc;
    find_specs(so, t->schema, t->name, &inc, &exc);
    for (size_t i = 0; i < t->nkey; i++) {
        const char *name = t->cols[t->key[i]].name;
        if (!col_written(inc, exc, name)) {
            char what[300];
            snprintf(what, sizeof(what), "%s, part of its key", t->label);
            key_dropped(errstr, errstr_size, exc, name, what);
            return -1;
        }
    }
    return 0;
}
