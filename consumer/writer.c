/* One target transaction per batch (see writer.h for the contract).
 *
 * Order inside the transaction:
 *   1. lock and check the batch's offset rows (the fence),
 *   2. the steps in order: per table, deletes then upserts (a key has one
 *      final state per step, so the two sets never touch the same key),
 *      truncates where they fell in the stream,
 *   3. dead letters,
 *   4. the new offsets,
 * then COMMIT. Nothing reaches Kafka before the commit returns. */
#include "cdc/util.h"
#include "cdc/writer.h"

#include "cdc/livecheck.h"
#include "cdc/log.h"
#include "cdc/pg.h"
#include "cdc/state.h"
#include "value_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cdc_writer_s {
    char *conninfo;
    char *schema;  /* state schema, unquoted */
    char *qschema; /* quoted */
    char *group;
    PGconn *conn;
    cdc_buf_t copy; /* COPY data of one statement */
    cdc_buf_t sql;
    /* Tables whose staging tables this session created, in creation order;
     * entries from txn_mark on were created in the open transaction. A
     * ROLLBACK (or ROLLBACK TO SAVEPOINT) drops those again and a lost
     * session drops all, so their 'staged' flag must be cleared with them,
     * or the next statement names a temp table that no longer exists
     * ("schema pg_temp does not exist" when the rollback also undid the
     * session's first temp table). */
    cdc_table_t **txn_staged;
    size_t ntxn_staged, txn_staged_cap, txn_mark;
    size_t live_max; /* rows read back per table and batch (0: off) */
    /* Placeholder updates of rows the target lacks (isolated records). */
    uint64_t placeholder_rows;
    bool isolating; /* inside cdc_writer_apply_isolated() */
    /* Identical failures of one batch in a row (see repeat_check()). */
    struct {
        char topic[256];
        int32_t partition;
        int64_t offset;
        char sqlstate[6];
        int count;
        bool isolate; /* the next isolation treats this SQLSTATE as bad data */
    } rep;
    struct {
        const cdc_table_t *table;
        int skip; /* batches to skip the direct path after a key conflict */
    } * direct;
    size_t ndirect;
    cdc_writer_live_t *live; /* live-check results of the open transaction */
    size_t nlive;
};

cdc_writer_t *cdc_writer_new(const char *conninfo, const char *state_schema, const char *group)
{
    cdc_writer_t *w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    w->conninfo = strdup(conninfo);
    w->schema = strdup(state_schema);
    w->group = strdup(group);
    cdc_buf_t b = CDC_BUF_INIT;
    cdc_pg_append_ident(&b, state_schema);
    w->qschema = cdc_buf_steal(&b);
    if (!w->conninfo || !w->schema || !w->group)
        abort();
    return w;
}

void cdc_writer_disconnect(cdc_writer_t *w)
{
    if (w->conn)
        PQfinish(w->conn);
    w->conn = NULL;
    /* Temp tables died with the session. */
    for (size_t i = 0; i < w->ntxn_staged; i++)
        w->txn_staged[i]->staged = false;
    w->ntxn_staged = w->txn_mark = 0;
}

void cdc_writer_destroy(cdc_writer_t *w)
{
    if (!w)
        return;
    cdc_writer_disconnect(w);
    cdc_buf_free(&w->copy);
    cdc_buf_free(&w->sql);
    free(w->live);
    free(w->direct);
    free(w->txn_staged);
    free(w->conninfo);
    free(w->schema);
    free(w->qschema);
    free(w->group);
    free(w);
}

PGconn *cdc_writer_conn(cdc_writer_t *w)
{
    return w->conn;
}

bool cdc_writer_connected(const cdc_writer_t *w)
{
    return w->conn && PQstatus(w->conn) == CONNECTION_OK;
}

/* Server notices (e.g. "does not exist, skipping") are not errors: keep
 * them out of the log unless debugging. */
static void notice(void *arg, const char *msg)
{
    (void)arg;
    cdc_log_debug("postgres: %.*s", (int)strcspn(msg, "\n"), msg);
}

int cdc_writer_connect(cdc_writer_t *w, cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    if (cdc_writer_connected(w))
        return 0;
    cdc_writer_disconnect(w);
    w->conn = cdc_pg_connect(w->conninfo, "cdc-apply", errstr, errstr_size);
    if (!w->conn) {
        *cls = CDC_ERR_RETRIABLE;
        return -1;
    }
    PQsetNoticeProcessor(w->conn, notice, NULL);
    if (cdc_state_ensure(w->conn, w->schema, errstr, errstr_size) != 0) {
        *cls = cdc_writer_connected(w) ? CDC_ERR_FATAL : CDC_ERR_RETRIABLE;
        cdc_writer_disconnect(w);
        return -1;
    }
    return 0;
}

/* Run one command; on failure fill errstr/cls and return -1. */
static int run(cdc_writer_t *w, const char *sql, cdc_err_class_t *cls, char *errstr,
               size_t errstr_size)
{
    return cdc_pg_exec(w->conn, sql, cls, errstr, errstr_size);
}

/* Forget staging tables created since entry @p mark of txn_staged (they
 * were just rolled back). */
static void staged_forget(cdc_writer_t *w, size_t mark)
{
    for (size_t i = mark; i < w->ntxn_staged; i++)
        w->txn_staged[i]->staged = false;
    w->ntxn_staged = mark;
}

static void rollback(cdc_writer_t *w)
{
    staged_forget(w, w->txn_mark);
    if (cdc_writer_connected(w)) {
        PGresult *r = PQexec(w->conn, "ROLLBACK");
        PQclear(r);
    }
}

int cdc_writer_load_offsets(cdc_writer_t *w, const char *topic, const int32_t *partitions, size_t n,
                            int64_t *next, cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    cdc_buf_t parts = CDC_BUF_INIT, q = CDC_BUF_INIT;
    cdc_buf_putc(&parts, '{');
    for (size_t i = 0; i < n; i++) {
        cdc_buf_printf(&parts, "%s%d", i ? "," : "", partitions[i]);
        next[i] = -1;
    }
    cdc_buf_putc(&parts, '}');
    cdc_buf_printf(&q,
                   "SELECT partition, next_offset FROM %s.offsets WHERE group_id = $1 AND "
                   "topic = $2 AND partition = ANY($3::int[])",
                   w->qschema);
    const char *params[3] = {w->group, topic, parts.data};
    PGresult *res = cdc_pg_exec_params(w->conn, q.data, 3, params, NULL, NULL, PGRES_TUPLES_OK, cls,
                                       errstr, errstr_size);
    cdc_buf_free(&q);
    cdc_buf_free(&parts);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        int32_t p = atoi(PQgetvalue(res, r, 0));
        for (size_t i = 0; i < n; i++)
            if (partitions[i] == p)
                next[i] = strtoll(PQgetvalue(res, r, 1), NULL, 10);
    }
    PQclear(res);
    return 0;
}

/* Lock the batch's offset rows and check they hold what the batch expects;
 * insert the rows of partitions seen for the first time. Returns 0, -2 on
 * a conflict, -1 on error. */
static int fence(cdc_writer_t *w, const cdc_batch_t *b, cdc_err_class_t *cls, char *errstr,
                 size_t errstr_size)
{
    cdc_buf_t topics = CDC_BUF_INIT, parts = CDC_BUF_INIT, q = CDC_BUF_INIT;
    for (size_t i = 0; i < b->nparts; i++) {
        cdc_pg_append_array_elem(&topics, b->parts[i].topic);
        cdc_buf_printf(&parts, "%c%d", i ? ',' : '{', b->parts[i].partition);
    }
    cdc_buf_putc(&topics, '}');
    cdc_buf_putc(&parts, '}');
    /* ORDER BY: rows are locked in one order by every consumer, so two
     * consumers that briefly share partitions wait instead of deadlocking. */
    cdc_buf_printf(&q,
                   "SELECT o.topic, o.partition, o.next_offset FROM %s.offsets o "
                   "JOIN unnest($2::text[], $3::int[]) u(t, p) ON o.topic = u.t AND "
                   "o.partition = u.p WHERE o.group_id = $1 "
                   "ORDER BY o.topic, o.partition FOR UPDATE OF o",
                   w->qschema);
    const char *params[3] = {w->group, topics.data, parts.data};
    PGresult *res = PQexecParams(w->conn, q.data, 3, NULL, params, NULL, NULL, 0);
    cdc_buf_free(&topics);
    cdc_buf_free(&parts);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_pg_error(res, w->conn, errstr, errstr_size);
        *cls = cdc_pg_classify(res, w->conn);
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < b->nparts && rc == 0; i++) {
        const cdc_part_range_t *p = &b->parts[i];
        int64_t stored = -1;
        for (int r = 0; r < PQntuples(res); r++)
            if (atoi(PQgetvalue(res, r, 1)) == p->partition &&
                !strcmp(PQgetvalue(res, r, 0), p->topic))
                stored = strtoll(PQgetvalue(res, r, 2), NULL, 10);
        if (stored != p->expected_next) {
            snprintf(errstr, errstr_size,
                     "%s[%d]: stored position %lld, expected %lld: it moved (another consumer "
                     "applied this partition, or our last commit succeeded without its answer "
                     "reaching us)",
                     p->topic, p->partition, (long long)stored, (long long)p->expected_next);
            rc = -2;
        } else if (stored < 0) {
            /* A plain INSERT: if another consumer inserts the same row at the
             * same time, one of us fails on the primary key instead of both
             * applying the partition. */
            cdc_buf_t ins = CDC_BUF_INIT;
            char off[32], part[16];
            snprintf(off, sizeof(off), "%lld", (long long)p->first_offset);
            snprintf(part, sizeof(part), "%d", p->partition);
            cdc_buf_printf(&ins,
                           "INSERT INTO %s.offsets (group_id, topic, partition, next_offset) "
                           "VALUES ($1, $2, $3, $4)",
                           w->qschema);
            const char *ip[4] = {w->group, p->topic, part, off};
            PGresult *r2 = PQexecParams(w->conn, ins.data, 4, NULL, ip, NULL, NULL, 0);
            cdc_buf_free(&ins);
            if (PQresultStatus(r2) != PGRES_COMMAND_OK) {
                const char *st = PQresultErrorField(r2, PG_DIAG_SQLSTATE);
                cdc_pg_error(r2, w->conn, errstr, errstr_size);
                *cls = cdc_pg_classify(r2, w->conn);
                rc = (st && !strcmp(st, "23505")) ? -2 : -1;
            }
            PQclear(r2);
        }
    }
out:
    PQclear(res);
    cdc_buf_free(&q);
    return rc;
}

/* New positions: last offset + 1 of every partition, over items [0, n). */
static int save_offsets(cdc_writer_t *w, const cdc_batch_t *b, size_t n, cdc_err_class_t *cls,
                        char *errstr, size_t errstr_size)
{
    cdc_buf_t topics = CDC_BUF_INIT, parts = CDC_BUF_INIT, offs = CDC_BUF_INIT, q = CDC_BUF_INIT;
    size_t count = 0;
    for (size_t i = 0; i < b->nparts; i++) {
        const cdc_part_range_t *p = &b->parts[i];
        int64_t last = -1;
        if (n >= b->nitems) {
            last = p->last_offset;
        } else {
            for (size_t j = 0; j < n; j++)
                if (b->items[j].rec.partition == p->partition &&
                    !strcmp(b->items[j].rec.topic, p->topic))
                    last = b->items[j].rec.offset;
        }
        if (last < 0)
            continue;
        cdc_pg_append_array_elem(&topics, p->topic);
        cdc_buf_printf(&parts, "%c%d", count ? ',' : '{', p->partition);
        cdc_buf_printf(&offs, "%c%lld", count ? ',' : '{', (long long)last + 1);
        count++;
    }
    int rc = 0;
    if (count) {
        cdc_buf_putc(&topics, '}');
        cdc_buf_putc(&parts, '}');
        cdc_buf_putc(&offs, '}');
        cdc_buf_printf(&q,
                       "UPDATE %s.offsets o SET next_offset = u.n, updated_at = now() "
                       "FROM unnest($2::text[], $3::int[], $4::bigint[]) u(t, p, n) "
                       "WHERE o.group_id = $1 AND o.topic = u.t AND o.partition = u.p",
                       w->qschema);
        const char *params[4] = {w->group, topics.data, parts.data, offs.data};
        PGresult *res = cdc_pg_exec_params(w->conn, q.data, 4, params, NULL, NULL, PGRES_COMMAND_OK,
                                           cls, errstr, errstr_size);
        rc = res ? 0 : -1;
        PQclear(res);
    }
    cdc_buf_free(&topics);
    cdc_buf_free(&parts);
    cdc_buf_free(&offs);
    cdc_buf_free(&q);
    return rc;
}

/* Length of the valid UTF-8 sequence at @p p (at most @p n bytes; RFC
 * 3629: no overlongs, surrogates or code points above U+10FFFF), 0 when
 * invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return n >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return n >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

static bool utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len((const unsigned char *)s + i, n - i);
        if (!l || !s[i])
            return false; /* jsonb refuses \u0000 too */
        i += l;
    }
    return true;
}

static void put_hex(cdc_buf_t *out, const void *p, size_t n)
{
    for (size_t j = 0; j < n; j++)
        cdc_buf_printf(out, "%02x", ((const unsigned char *)p)[j]);
}

/* Headers as a JSON array, lossless whatever their bytes: per header
 * {"name": text, "hex": value bytes in hex or null}, where a name that is
 * not valid UTF-8 is given as "name_hex" instead (a raw copy of such a
 * name made the whole dead letter invalid JSON, so the record could not
 * be dead-lettered at all). */
static void headers_json(const cdc_record_t *rec, cdc_buf_t *out)
{
    cdc_buf_reset(out);
    cdc_buf_putc(out, '[');
    for (size_t i = 0; i < rec->nheaders; i++) {
        const cdc_header_t *h = &rec->headers[i];
        const char *name = h->name ? h->name : "";
        size_t nlen = strlen(name);
        cdc_buf_puts(out, i ? ",{" : "{");
        if (utf8_valid(name, nlen)) {
            cdc_buf_puts(out, "\"name\":\"");
            for (const char *p = name; *p; p++) {
                unsigned char ch = (unsigned char)*p;
                if (ch == '"' || ch == '\\')
                    cdc_buf_printf(out, "\\%c", ch);
                else if (ch < 0x20)
                    cdc_buf_printf(out, "\\u%04x", ch);
                else
                    cdc_buf_putc(out, (char)ch);
            }
        } else {
            cdc_buf_puts(out, "\"name_hex\":\"");
            put_hex(out, name, nlen);
        }
        cdc_buf_puts(out, "\",\"hex\":");
        if (!h->value) {
            cdc_buf_puts(out, "null}");
            continue;
        }
        cdc_buf_putc(out, '"');
        put_hex(out, h->value, h->len);
        cdc_buf_puts(out, "\"}");
    }
    cdc_buf_putc(out, ']');
}

/* @p s as valid UTF-8 (the error column is text): invalid bytes become
 * \xNN, so an error quoting record bytes never blocks its dead letter. */
static void utf8_text(const char *s, cdc_buf_t *out)
{
    cdc_buf_reset(out);
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len((const unsigned char *)s + i, n - i);
        if (l) {
            cdc_buf_append(out, s + i, l);
            i += l;
        } else {
            cdc_buf_printf(out, "\\x%02x", (unsigned char)s[i]);
            i++;
        }
    }
    cdc_buf_reserve(out, 0); /* data non-NULL even for "" */
}

static int save_dead_letters(cdc_writer_t *w, const cdc_batch_t *b, cdc_err_class_t *cls,
                             char *errstr, size_t errstr_size)
{
    if (!b->ndead)
        return 0;
    cdc_buf_t q = CDC_BUF_INIT, hdr = CDC_BUF_INIT, etext = CDC_BUF_INIT;
    cdc_buf_printf(&q,
                   "INSERT INTO %s.dead_letter (group_id, topic, partition, kafka_offset, key, "
                   "value, headers, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                   w->qschema);
    int rc = 0;
    for (size_t i = 0; i < b->nitems && rc == 0; i++) {
        const cdc_item_t *it = &b->items[i];
        if (!it->error)
            continue;
        char part[16], off[32];
        snprintf(part, sizeof(part), "%d", it->rec.partition);
        snprintf(off, sizeof(off), "%lld", (long long)it->rec.offset);
        headers_json(&it->rec, &hdr);
        utf8_text(it->error, &etext);
        /* Key and value go as binary parameters: the raw bytes, exactly. */
        const char *params[8] = {w->group,    it->rec.topic, part,     off,
                                 it->rec.key, it->rec.value, hdr.data, etext.data};
        int lens[8] = {0, 0, 0, 0, (int)it->rec.key_len, (int)it->rec.value_len, 0, 0};
        int fmts[8] = {0, 0, 0, 0, 1, 1, 0, 0};
        char err[CDC_ERRSTR_SIZE];
        PGresult *res = cdc_pg_exec_params(w->conn, q.data, 8, params, lens, fmts, PGRES_COMMAND_OK,
                                           cls, err, sizeof(err));
        rc = res ? 0 : -1;
        if (!res)
            snprintf(errstr, errstr_size, "%s[%d]@%lld: writing its dead letter: %s", it->rec.topic,
                     it->rec.partition, (long long)it->rec.offset, err);
        PQclear(res);
    }
    cdc_buf_free(&q);
    cdc_buf_free(&hdr);
    cdc_buf_free(&etext);
    return rc;
}

/* COPY text format escaping of one value, for a column of format_type()
 * @p type. */
static void copy_value(cdc_buf_t *b, const cdc_col_t *c, const char *type)
{
    if (!c || c->state != CDC_VAL_PRESENT) {
        cdc_buf_puts(b, "\\N");
        return;
    }
    size_t len;
    const char *s = cdc_value_text(type, c, &len), *run = s;
    cdc_buf_reserve(b, len + 8);
    for (const char *p = s; p < s + len; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: continue;
        }
        cdc_buf_append(b, run, (size_t)(p - run));
        cdc_buf_puts(b, esc);
        run = p + 1;
    }
    cdc_buf_append(b, run, (size_t)(s + len - run));
}

static void col_list(cdc_buf_t *q, const cdc_table_t *t, const uint8_t *mask, const char *prefix)
{
    bool first = true;
    for (size_t i = 0; i < t->ncols; i++) {
        if (!mask[i])
            continue;
        if (!first)
            cdc_buf_puts(q, ", ");
        first = false;
        if (prefix)
            cdc_buf_puts(q, prefix);
        cdc_pg_append_ident(q, t->cols[i].name);
    }
}

/* "c1" = <from>"c1", ... over the columns in @p mask. */
static void set_list(cdc_buf_t *q, const cdc_table_t *t, const uint8_t *mask, const char *from)
{
    bool first = true;
    for (size_t c = 0; c < t->ncols; c++) {
        if (!mask[c])
            continue;
        if (!first)
            cdc_buf_puts(q, ", ");
        first = false;
        cdc_pg_append_ident(q, t->cols[c].name);
        cdc_buf_printf(q, " = %s", from);
        cdc_pg_append_ident(q, t->cols[c].name);
    }
}

/* Key equality of @p a and @p b2. A NULL never equals anything with '=',
 * so a group holding a NULL key part (--key-columns may name nullable
 * columns) matches with IS NOT DISTINCT FROM; the others keep '=', which
 * an index can serve. */
static void key_match(cdc_buf_t *q, const cdc_table_t *t, const char *a, const char *b2, bool nulls)
{
    for (size_t k = 0; k < t->nkey; k++) {
        if (k)
            cdc_buf_puts(q, " AND ");
        cdc_buf_printf(q, "%s.", a);
        cdc_pg_append_ident(q, t->cols[t->key[k]].name);
        cdc_buf_puts(q, nulls ? " IS NOT DISTINCT FROM " : " = ");
        cdc_buf_printf(q, "%s.", b2);
        cdc_pg_append_ident(q, t->cols[t->key[k]].name);
    }
}

/* True when entry @p e has a NULL (or absent) value in a key column. */
static bool entry_null_key(const cdc_table_t *t, const cdc_entry_t *e)
{
    for (size_t k = 0; k < t->nkey; k++) {
        const cdc_col_t *c = e->vals[t->key[k]];
        if (!c || c->state != CDC_VAL_PRESENT)
            return true;
    }
    return false;
}

/* Per-session staging tables: same column types as the target, no
 * constraints, so a row with a column left out never trips NOT NULL. */
static int ensure_staging(cdc_writer_t *w, cdc_table_t *t, cdc_err_class_t *cls, char *errstr,
                          size_t errstr_size)
{
    if (t->staged)
        return 0;
    cdc_buf_t *q = &w->sql;
    uint8_t *all = calloc(t->ncols ? t->ncols : 1, 1), *keys = calloc(t->ncols ? t->ncols : 1, 1);
    if (!all || !keys)
        abort();
    for (size_t i = 0; i < t->ncols; i++)
        all[i] = !t->cols[i].generated;
    for (size_t k = 0; k < t->nkey; k++)
        keys[t->key[k]] = 1;
    cdc_buf_reset(q);
    cdc_buf_printf(q, "DROP TABLE IF EXISTS pg_temp.cdc_stg_%u, pg_temp.cdc_del_%u; ", t->id,
                   t->id);
    cdc_buf_printf(q, "CREATE TEMP TABLE cdc_stg_%u AS SELECT ", t->id);
    col_list(q, t, all, NULL);
    cdc_buf_printf(q, " FROM %s WITH NO DATA; ", t->qname);
    if (t->nkey) {
        cdc_buf_printf(q, "CREATE TEMP TABLE cdc_del_%u AS SELECT ", t->id);
        col_list(q, t, keys, NULL);
        cdc_buf_printf(q, " FROM %s WITH NO DATA", t->qname);
    }
    free(all);
    free(keys);
    if (run(w, q->data, cls, errstr, errstr_size) != 0)
        return -1;
    t->staged = true;
    if (w->ntxn_staged == w->txn_staged_cap) {
        w->txn_staged_cap = w->txn_staged_cap ? w->txn_staged_cap * 2 : 8;
        w->txn_staged = realloc(w->txn_staged, w->txn_staged_cap * sizeof(*w->txn_staged));
        if (!w->txn_staged)
            abort();
    }
    w->txn_staged[w->ntxn_staged++] = t;
    return 0;
}

/* A value COPY refused: name the column, both types and the fix instead
 * of PostgreSQL's bare "invalid input syntax for type bit". The COPY's
 * context ("COPY cdc_stg_3, line 2, column qty: ...") gives the line
 * (entry @p v[line - 1], or the row @p t holds for a direct COPY) and the
 * column. */
static void copy_error(const PGresult *res, const cdc_table_t *t, cdc_entry_t *const *v, size_t n,
                       char *errstr, size_t errstr_size)
{
    const char *ctx = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
    const char *ln = ctx ? strstr(ctx, ", line ") : NULL;
    if (!t || !ln)
        return;
    long line = strtol(ln + 7, NULL, 10);
    int col = -1;
    size_t best = 0;
    for (size_t c = 0; c < t->ncols; c++) {
        cdc_buf_t pat = CDC_BUF_INIT;
        cdc_buf_printf(&pat, ", column %s:", t->cols[c].name);
        if (strstr(ctx, pat.data) && pat.len > best) {
            best = pat.len;
            col = (int)c;
        }
        cdc_buf_free(&pat);
    }
    if (col < 0 || line < 1 || (size_t)line > n)
        return;
    const cdc_col_t *val = v[line - 1]->vals[col];
    char pgmsg[600];
    snprintf(pgmsg, sizeof(pgmsg), "%s", errstr);
    const char *sem = val && val->semantic ? val->semantic : "unknown";
    const char *fits = val && val->pg_type ? val->pg_type : NULL;
    snprintf(errstr, errstr_size,
             "%s.%s: a column of type %s cannot hold the event's value (%s): %s: change the "
             "column's type%s%s, or the source's",
             t->label, t->cols[col].name, t->cols[col].type, sem, pgmsg,
             fits ? " to one that holds it, e.g. " : "", fits ? fits : "");
}

static int copy_in(cdc_writer_t *w, const char *sql, const cdc_table_t *t, cdc_entry_t *const *v,
                   size_t n, cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    PGresult *res = PQexec(w->conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        cdc_pg_error(res, w->conn, errstr, errstr_size);
        *cls = cdc_pg_classify(res, w->conn);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    int ok = PQputCopyData(w->conn, w->copy.data ? w->copy.data : "", (int)w->copy.len) == 1 &&
             PQputCopyEnd(w->conn, NULL) == 1;
    res = PQgetResult(w->conn);
    int rc = 0;
    if (!ok || PQresultStatus(res) != PGRES_COMMAND_OK) {
        cdc_pg_error(res, w->conn, errstr, errstr_size);
        *cls = cdc_pg_classify(res, w->conn);
        if (*cls == CDC_ERR_POISON)
            copy_error(res, t, v, n, errstr, errstr_size);
        rc = -1;
    }
    PQclear(res);
    while ((res = PQgetResult(w->conn)) != NULL)
        PQclear(res);
    return rc;
}

static int cmp_entry_key(const void *a, const void *b)
{
    const cdc_entry_t *x = *(const cdc_entry_t *const *)a, *y = *(const cdc_entry_t *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static int apply_deletes(cdc_writer_t *w, cdc_table_t *t, cdc_entry_t **v, size_t n,
                         cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    cdc_buf_reset(&w->copy);
    for (size_t i = 0; i < n; i++) {
        /* The key values of the record that set the entry. */
        for (size_t k = 0; k < t->nkey; k++) {
            if (k)
                cdc_buf_putc(&w->copy, '\t');
            copy_value(&w->copy, v[i]->vals[t->key[k]], t->cols[t->key[k]].type);
        }
        cdc_buf_putc(&w->copy, '\n');
    }
    cdc_buf_t *q = &w->sql;
    uint8_t *keys = calloc(t->ncols ? t->ncols : 1, 1);
    if (!keys)
        abort();
    for (size_t k = 0; k < t->nkey; k++)
        keys[t->key[k]] = 1;
    cdc_buf_reset(q);
    cdc_buf_printf(q, "COPY pg_temp.cdc_del_%u (", t->id);
    col_list(q, t, keys, NULL);
    cdc_buf_puts(q, ") FROM STDIN");
    free(keys);
    if (copy_in(w, q->data, t, v, n, cls, errstr, errstr_size) != 0)
        return -1;
    bool nulls = false;
    for (size_t i = 0; i < n && !nulls; i++)
        nulls = entry_null_key(t, v[i]);
    cdc_buf_reset(q);
    cdc_buf_printf(q, "DELETE FROM %s t USING pg_temp.cdc_del_%u d WHERE ", t->qname, t->id);
    key_match(q, t, "t", "d", nulls);
    cdc_buf_printf(q, "; TRUNCATE pg_temp.cdc_del_%u", t->id);
    return run(w, q->data, cls, errstr, errstr_size);
}

/* Upserts (or appends) of entries that all write the columns in @p mask. */
static cdc_livecheck_result_t *live_slot(cdc_writer_t *w, const cdc_table_t *t)
{
    for (size_t i = 0; i < w->nlive; i++)
        if (w->live[i].table == t)
            return &w->live[i].res;
    w->live = realloc(w->live, (w->nlive + 1) * sizeof(*w->live));
    if (!w->live)
        abort();
    w->live[w->nlive] = (cdc_writer_live_t){t, {0, 0}};
    return &w->live[w->nlive++].res;
}

/* Names of the columns entry @p e leaves out because its record carried
 * the unchanged-TOAST placeholder for them, into @p out ("a", "b"). */
static void placeholder_cols(const cdc_table_t *t, const cdc_entry_t *e, const cdc_event_t *ev,
                             cdc_buf_t *out)
{
    for (size_t i = 0; i < ev->after.ncols; i++) {
        const cdc_col_t *c = &ev->after.cols[i];
        int idx = c->state == CDC_VAL_UNAVAILABLE ? cdc_table_col(t, c->name) : -1;
        if (idx < 0 || e->vals[idx])
            continue;
        cdc_buf_puts(out, out->len ? ", \"" : "\"");
        cdc_buf_puts(out, c->name);
        cdc_buf_putc(out, '"');
    }
}

/* A group whose rows leave an unchanged-TOAST column out can only update
 * rows the target has: an INSERT would write NULL (or the default) where
 * the source has a value, and PostgreSQL checks NOT NULL on the proposed
 * row before ON CONFLICT could turn it into an update. So such a group is
 * an UPDATE, and a row it would have to create is a real inconsistency
 * (the target lacks a row the source has): a poison record, named.
 * Returns 0, -1 with errstr/cls. */
static int check_present(cdc_writer_t *w, const cdc_batch_t *b, const cdc_table_t *t,
                         cdc_entry_t *const *v, size_t n, bool nulls, cdc_err_class_t *cls,
                         char *errstr, size_t errstr_size)
{
    cdc_buf_t *arrs = calloc(t->nkey + 1, sizeof(cdc_buf_t));
    const char **params = calloc(t->nkey + 1, sizeof(char *));
    cdc_buf_t q = CDC_BUF_INIT;
    if (!arrs || !params)
        abort();
    for (size_t i = 0; i < n; i++) {
        cdc_buf_printf(&arrs[0], "%c%zu", i ? ',' : '{', i);
        for (size_t k = 0; k < t->nkey; k++) {
            const cdc_col_t *c = v[i]->vals[t->key[k]];
            size_t len;
            if (c && c->state == CDC_VAL_PRESENT)
                cdc_pg_append_array_elem(&arrs[k + 1],
                                         cdc_value_text(t->cols[t->key[k]].type, c, &len));
            else
                cdc_buf_puts(&arrs[k + 1], i ? ",NULL" : "{NULL");
        }
    }
    for (size_t k = 0; k <= t->nkey; k++) {
        cdc_buf_putc(&arrs[k], '}');
        params[k] = arrs[k].data;
    }
    cdc_buf_puts(&q, "SELECT s.ord FROM unnest($1::int[]");
    for (size_t k = 0; k < t->nkey; k++)
        cdc_buf_printf(&q, ", $%zu::text[]", k + 2);
    cdc_buf_puts(&q, ") AS s(ord");
    for (size_t k = 0; k < t->nkey; k++)
        cdc_buf_printf(&q, ", k%zu", k);
    cdc_buf_printf(&q, ") WHERE NOT EXISTS (SELECT 1 FROM %s t WHERE ", t->qname);
    for (size_t k = 0; k < t->nkey; k++) {
        const cdc_tcol_t *col = &t->cols[t->key[k]];
        if (k)
            cdc_buf_puts(&q, " AND ");
        cdc_buf_puts(&q, "t.");
        cdc_pg_append_ident(&q, col->name);
        /* The cast names a type from the catalog (format_type), never data. */
        cdc_buf_printf(&q, " %s s.k%zu::%s", nulls ? "IS NOT DISTINCT FROM" : "=", k, col->type);
    }
    cdc_buf_puts(&q, ") ORDER BY s.ord LIMIT 1");
    PGresult *r = cdc_pg_exec_params(w->conn, q.data, (int)t->nkey + 1, params, NULL, NULL,
                                     PGRES_TUPLES_OK, cls, errstr, errstr_size);
    int rc = r ? 0 : -1;
    if (r && PQntuples(r) > 0) {
        size_t i = (size_t)atol(PQgetvalue(r, 0, 0));
        const cdc_item_t *it = &b->items[v[i < n ? i : 0]->item];
        cdc_buf_t names = CDC_BUF_INIT;
        placeholder_cols(t, v[i < n ? i : 0], it->ev, &names);
        snprintf(errstr, errstr_size,
                 "%s[%d]@%lld: an update of a row %s does not have carries the unchanged-TOAST "
                 "placeholder for column(s) %s, so the row cannot be written without losing "
                 "that value: the target is missing rows the source has (re-snapshot the "
                 "table; REPLICA IDENTITY FULL on the source avoids placeholders)",
                 it->rec.topic, it->rec.partition, (long long)it->rec.offset, t->label,
                 names.data ? names.data : "?");
        cdc_buf_free(&names);
        *cls = CDC_ERR_POISON;
        if (w->isolating)
            w->placeholder_rows++; /* counted once: the batch path is always isolated after */
        rc = -1;
    }
    PQclear(r);
    for (size_t k = 0; k <= t->nkey; k++)
        cdc_buf_free(&arrs[k]);
    free(arrs);
    free(params);
    cdc_buf_free(&q);
    return rc;
}

/* Per-table memory of the direct path: after a key conflict, skip it for a
 * while (a replay after a crash, an incremental snapshot re-reading rows). */
static int *direct_skip(cdc_writer_t *w, const cdc_table_t *t)
{
    for (size_t i = 0; i < w->ndirect; i++)
        if (w->direct[i].table == t)
            return &w->direct[i].skip;
    w->direct = realloc(w->direct, (w->ndirect + 1) * sizeof(*w->direct));
    if (!w->direct)
        abort();
    w->direct[w->ndirect].table = t;
    w->direct[w->ndirect].skip = 0;
    return &w->direct[w->ndirect++].skip;
}

/* Rows whose last change is a create ('c', or a snapshot read 'r') are
 * almost always new: COPY them straight into the table, as fast as a raw
 * COPY, under a savepoint. A key that exists after all (records re-read
 * after a crash) fails the COPY with unique_violation: roll back to the
 * savepoint and let the staging merge (idempotent) do it.
 * Returns 1 applied, 0 not tried or rolled back, -1 error. */
static int direct_copy(cdc_writer_t *w, const cdc_batch_t *b, const cdc_table_t *t,
                       cdc_entry_t *const *v, size_t n, const uint8_t *mask, bool partial,
                       bool nulls, cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    /* A NULL key part never conflicts in a unique index: not this path. */
    if (!t->key_unique || t->identity_always || partial || nulls || n < 16)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char op = b->items[v[i]->item].ev->op;
        if (op != 'c' && op != 'r')
            return 0;
    }
    int *skip = direct_skip(w, t);
    if (*skip > 0) {
        (*skip)--;
        return 0;
    }
    if (run(w, "SAVEPOINT cdc_direct", cls, errstr, errstr_size) != 0)
        return -1;
    cdc_buf_t *q = &w->sql;
    cdc_buf_reset(q);
    cdc_buf_printf(q, "COPY %s (", t->qname);
    col_list(q, t, mask, NULL);
    cdc_buf_puts(q, ") FROM STDIN");
    PGresult *res = PQexec(w->conn, q->data);
    int rc = -1;
    if (PQresultStatus(res) == PGRES_COPY_IN) {
        PQclear(res);
        int ok = PQputCopyData(w->conn, w->copy.data ? w->copy.data : "", (int)w->copy.len) == 1 &&
                 PQputCopyEnd(w->conn, NULL) == 1;
        res = PQgetResult(w->conn);
        if (ok && PQresultStatus(res) == PGRES_COMMAND_OK)
            rc = 1;
    }
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    bool conflict = rc != 1 && st && !strcmp(st, "23505");
    if (rc != 1 && !conflict) {
        cdc_pg_error(res, w->conn, errstr, errstr_size);
        *cls = cdc_pg_classify(res, w->conn);
        if (*cls == CDC_ERR_POISON)
            copy_error(res, t, v, n, errstr, errstr_size);
    }
    PQclear(res);
    while ((res = PQgetResult(w->conn)) != NULL)
        PQclear(res);
    if (rc == 1) {
        cdc_log_debug("direct COPY of %zu new rows into %s", n, t->label);
        return run(w, "RELEASE SAVEPOINT cdc_direct", cls, errstr, errstr_size) == 0 ? 1 : -1;
    }
    if (!conflict)
        return -1;
    cdc_log_info("%s already holds some of the %zu keys created in this batch: merging them "
                 "instead (direct COPY paused for 16 batches)",
                 t->label, n);
    *skip = 16;
    return run(w, "ROLLBACK TO SAVEPOINT cdc_direct", cls, errstr, errstr_size) == 0 ? 0 : -1;
}

/* A value PostgreSQL would round or cut to fit the column (see
 * cdc_value_loss()): a poison record, named, instead of a silent change. */
static int value_fits(const cdc_batch_t *b, const cdc_table_t *t, const cdc_entry_t *e, size_t c,
                      cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    const cdc_col_t *val = e->vals[c];
    const char *loss =
        val && val->state == CDC_VAL_PRESENT ? cdc_value_loss(t->cols[c].type, val) : NULL;
    if (!loss)
        return 0;
    const cdc_item_t *it = &b->items[e->item];
    snprintf(errstr, errstr_size,
             "%s[%d]@%lld: %s.%s: a column of type %s cannot hold the event's value (%s) "
             "exactly, it would lose %s: change the column's type to one that holds it%s%s",
             it->rec.topic, it->rec.partition, (long long)it->rec.offset, t->label, t->cols[c].name,
             t->cols[c].type, val->semantic, loss, val->pg_type ? ", e.g. " : "",
             val->pg_type ? val->pg_type : "");
    *cls = CDC_ERR_POISON;
    return -1;
}

static int apply_upserts(cdc_writer_t *w, const cdc_batch_t *b, cdc_table_t *t, cdc_entry_t **v,
                         size_t n, const uint8_t *mask, bool append, bool partial, bool nulls,
                         cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    cdc_buf_reset(&w->copy);
    for (size_t i = 0; i < n; i++) {
        bool first = true;
        for (size_t c = 0; c < t->ncols; c++) {
            if (!mask[c])
                continue;
            if (value_fits(b, t, v[i], c, cls, errstr, errstr_size) != 0)
                return -1;
            if (!first)
                cdc_buf_putc(&w->copy, '\t');
            first = false;
            copy_value(&w->copy, v[i]->vals[c], t->cols[c].type);
        }
        cdc_buf_putc(&w->copy, '\n');
    }
    cdc_buf_t *q = &w->sql;
    cdc_buf_reset(q);
    if (append) {
        /* Rows of a table without a key go straight into it. */
        cdc_buf_printf(q, "COPY %s (", t->qname);
        col_list(q, t, mask, NULL);
        cdc_buf_puts(q, ") FROM STDIN");
        return copy_in(w, q->data, t, v, n, cls, errstr, errstr_size);
    }
    if (partial && check_present(w, b, t, v, n, nulls, cls, errstr, errstr_size) != 0)
        return -1;
    int d = direct_copy(w, b, t, v, n, mask, partial, nulls, cls, errstr, errstr_size);
    if (d < 0)
        return -1;
    if (d == 1)
        goto check;
    cdc_buf_reset(q);
    cdc_buf_printf(q, "COPY pg_temp.cdc_stg_%u (", t->id);
    col_list(q, t, mask, NULL);
    cdc_buf_puts(q, ") FROM STDIN");
    if (copy_in(w, q->data, t, v, n, cls, errstr, errstr_size) != 0)
        return -1;

    uint8_t *nonkey = malloc(t->ncols ? t->ncols : 1);
    if (!nonkey)
        abort();
    bool any_nonkey = false;
    for (size_t c = 0; c < t->ncols; c++) {
        nonkey[c] = mask[c] && !t->cols[c].key;
        any_nonkey |= nonkey[c];
    }
    cdc_buf_reset(q);
    if (partial) {
        /* Every row exists (check_present): set what the records carry. */
        if (any_nonkey) {
            cdc_buf_printf(q, "UPDATE %s t SET ", t->qname);
            set_list(q, t, nonkey, "s.");
            cdc_buf_printf(q, " FROM pg_temp.cdc_stg_%u s WHERE ", t->id);
            key_match(q, t, "t", "s", nulls);
            cdc_buf_puts(q, "; ");
        }
    } else if (t->key_unique && !nulls) {
        cdc_buf_printf(q, "INSERT INTO %s AS t (", t->qname);
        col_list(q, t, mask, NULL);
        cdc_buf_printf(q, ") %sSELECT ", t->identity_always ? "OVERRIDING SYSTEM VALUE " : "");
        col_list(q, t, mask, NULL);
        cdc_buf_printf(q, " FROM pg_temp.cdc_stg_%u ON CONFLICT (", t->id);
        for (size_t k = 0; k < t->nkey; k++) {
            if (k)
                cdc_buf_puts(q, ", ");
            cdc_pg_append_ident(q, t->cols[t->key[k]].name);
        }
        if (!any_nonkey) {
            cdc_buf_puts(q, ") DO NOTHING; ");
        } else {
            cdc_buf_puts(q, ") DO UPDATE SET ");
            set_list(q, t, nonkey, "EXCLUDED.");
            cdc_buf_puts(q, "; ");
        }
    } else {
        /* No unique index on the key, or a NULL key part (which a unique
         * index never finds): update what exists, insert the rest. */
        if (any_nonkey) {
            cdc_buf_printf(q, "UPDATE %s t SET ", t->qname);
            set_list(q, t, nonkey, "s.");
            cdc_buf_printf(q, " FROM pg_temp.cdc_stg_%u s WHERE ", t->id);
            key_match(q, t, "t", "s", nulls);
            cdc_buf_puts(q, "; ");
        }
        cdc_buf_printf(q, "INSERT INTO %s (", t->qname);
        col_list(q, t, mask, NULL);
        cdc_buf_printf(q, ") %sSELECT ", t->identity_always ? "OVERRIDING SYSTEM VALUE " : "");
        col_list(q, t, mask, "s.");
        cdc_buf_printf(q, " FROM pg_temp.cdc_stg_%u s WHERE NOT EXISTS (SELECT 1 FROM %s t WHERE ",
                       t->id, t->qname);
        key_match(q, t, "t", "s", nulls);
        cdc_buf_puts(q, "); ");
    }
    free(nonkey);
    cdc_buf_printf(q, "TRUNCATE pg_temp.cdc_stg_%u", t->id);
    if (run(w, q->data, cls, errstr, errstr_size) != 0)
        return -1;
check:
    if (w->live_max && cdc_livecheck_rows(w->conn, t, v, n, mask, w->live_max, b, live_slot(w, t),
                                          errstr, errstr_size) != 0) {
        *cls = cdc_pg_classify(NULL, w->conn);
        return -1;
    }
    return 0;
}

static void entry_mask(const cdc_table_t *t, const cdc_entry_t *e, uint8_t *mask)
{
    for (size_t c = 0; c < t->ncols; c++)
        mask[c] = e->vals[c] != NULL;
}

static int apply_rows(cdc_writer_t *w, const cdc_batch_t *b, cdc_step_t *s, cdc_err_class_t *cls,
                      char *errstr, size_t errstr_size)
{
    cdc_table_t *t = s->table;
    if (ensure_staging(w, t, cls, errstr, errstr_size) != 0)
        return -1;
    size_t n = s->nentries;
    cdc_entry_t **v = malloc((n ? n : 1) * sizeof(*v));
    uint8_t *mask = malloc(t->ncols ? t->ncols : 1), *m2 = malloc(t->ncols ? t->ncols : 1);
    bool *done = calloc(n ? n : 1, sizeof(bool));
    if (!v || !mask || !m2 || !done)
        abort();
    int rc = 0;

    /* Deletes, in key order (all consumers lock rows in the same order);
     * a replace ('r') deletes first, then inserts with the upserts. */
    size_t nd = 0;
    for (size_t i = 0; i < n; i++)
        if (s->entries[i].kind == 'd' || s->entries[i].kind == 'r')
            v[nd++] = &s->entries[i];
    if (nd) {
        qsort(v, nd, sizeof(*v), cmp_entry_key);
        rc = apply_deletes(w, t, v, nd, cls, errstr, errstr_size);
    }
    /* Upserts and appends, grouped by the set of columns they write:
     * usually one group; more when TOAST placeholders or a schema change
     * leave columns out of some rows. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        cdc_entry_t *e = &s->entries[i];
        if (e->kind == 'd' || done[i])
            continue;
        entry_mask(t, e, mask);
        size_t m = 0;
        bool append = e->kind == 'i';
        /* Rows with a left-out placeholder column update only, and rows
         * with a NULL key part need NULL-safe matching: their own groups. */
        bool partial = e->partial, nulls = !append && entry_null_key(t, e);
        for (size_t j = i; j < n; j++) {
            cdc_entry_t *f = &s->entries[j];
            if (f->kind == 'd' || (f->kind == 'i') != append || done[j] || f->partial != partial ||
                (!append && entry_null_key(t, f) != nulls))
                continue;
            entry_mask(t, f, m2);
            if (memcmp(mask, m2, t->ncols) == 0) {
                v[m++] = f;
                done[j] = true;
            }
        }
        if (!append)
            qsort(v, m, sizeof(*v), cmp_entry_key);
        rc = apply_upserts(w, b, t, v, m, mask, append, partial, nulls, cls, errstr, errstr_size);
    }
    free(v);
    free(mask);
    free(m2);
    free(done);
    return rc;
}

static int apply_steps(cdc_writer_t *w, cdc_batch_t *b, cdc_err_class_t *cls, char *errstr,
                       size_t errstr_size)
{
    for (size_t i = 0; i < b->nsteps; i++) {
        cdc_step_t *s = &b->steps[i];
        int rc;
        if (s->kind == CDC_STEP_TRUNCATE) {
            cdc_buf_reset(&w->sql);
            cdc_buf_printf(&w->sql, "TRUNCATE %s", s->table->qname);
            rc = run(w, w->sql.data, cls, errstr, errstr_size);
        } else {
            rc = apply_rows(w, b, s, cls, errstr, errstr_size);
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* BEGIN and the fence, shared by both ways of applying a batch. */
static cdc_write_status_t begin_fenced(cdc_writer_t *w, const cdc_batch_t *b, cdc_err_class_t *cls,
                                       char *errstr, size_t errstr_size)
{
    if (!cdc_writer_connected(w)) {
        snprintf(errstr, errstr_size, "not connected to the target");
        *cls = CDC_ERR_RETRIABLE;
        return CDC_WRITE_ERROR;
    }
    w->nlive = 0; /* results count only once their transaction commits */
    if (run(w, "BEGIN", cls, errstr, errstr_size) != 0)
        return CDC_WRITE_ERROR;
    w->txn_mark = w->ntxn_staged;
    int f = fence(w, b, cls, errstr, errstr_size);
    if (f != 0) {
        rollback(w);
        return f == -2 ? CDC_WRITE_CONFLICT : CDC_WRITE_ERROR;
    }
    return CDC_WRITE_OK;
}

/* The SQLSTATE cdc_pg_error() put at the end of @p err into @p st, or
 * false when the failure had none (no server answer). */
static bool err_sqlstate(const char *err, char st[6])
{
    const char *p = strstr(err, "(SQLSTATE ");
    if (!p || strlen(p) < 16 || p[15] != ')')
        return false;
    memcpy(st, p + 10, 5);
    st[5] = '\0';
    return true;
}

/* Failures that come and go with other sessions or the server's state:
 * always retried, however often they repeat. */
static bool sqlstate_transient(const char *st)
{
    return !strncmp(st, "08", 2) ||  /* connection exception */
           !strncmp(st, "40", 2) ||  /* serialization failure, deadlock */
           !strncmp(st, "57P", 3) || /* shutdown, cannot connect now */
           !strncmp(st, "53", 2) ||  /* out of disk, memory, connections */
           !strcmp(st, "55P03");     /* lock held by another session */
}

/* Identical retriable failures of the same batch after this many tries
 * are the data's doing (a statement that always exceeds statement_timeout
 * for one record): isolate the record instead of retrying forever. */
#define REPEAT_MAX 5

/* After a failed cdc_writer_apply() of @p b: count identical retriable
 * failures that the server answered (the session is still up) and turn the
 * REPEAT_MAX-th into a poison error, so the batch is isolated. */
static void repeat_check(cdc_writer_t *w, const cdc_batch_t *b, cdc_err_class_t *cls,
                         const char *errstr)
{
    char st[6];
    const cdc_record_t *first = b->nitems ? &b->items[0].rec : NULL;
    if (*cls != CDC_ERR_RETRIABLE || !first || !cdc_writer_connected(w) ||
        !err_sqlstate(errstr, st) || sqlstate_transient(st)) {
        w->rep.count = 0;
        return;
    }
    if (w->rep.count && !strcmp(w->rep.sqlstate, st) && !strcmp(w->rep.topic, first->topic) &&
        w->rep.partition == first->partition && w->rep.offset == first->offset) {
        w->rep.count++;
    } else {
        snprintf(w->rep.topic, sizeof(w->rep.topic), "%s", first->topic);
        w->rep.partition = first->partition;
        w->rep.offset = first->offset;
        memcpy(w->rep.sqlstate, st, sizeof(st));
        w->rep.count = 1;
    }
    if (w->rep.count < REPEAT_MAX)
        return;
    cdc_log_warn("the batch from %s[%d]@%lld failed %d times in a row with SQLSTATE %s (%s): "
                 "treating it as bad data, isolating the record",
                 first->topic, first->partition, (long long)first->offset, w->rep.count, st,
                 errstr);
    w->rep.count = 0;
    w->rep.isolate = true;
    *cls = CDC_ERR_POISON;
}

cdc_write_status_t cdc_writer_apply(cdc_writer_t *w, cdc_batch_t *b, cdc_err_class_t *cls,
                                    char *errstr, size_t errstr_size)
{
    cdc_write_status_t st = begin_fenced(w, b, cls, errstr, errstr_size);
    if (st != CDC_WRITE_OK)
        return st;
    if (apply_steps(w, b, cls, errstr, errstr_size) != 0 ||
        save_dead_letters(w, b, cls, errstr, errstr_size) != 0 ||
        save_offsets(w, b, b->nitems, cls, errstr, errstr_size) != 0 ||
        run(w, "COMMIT", cls, errstr, errstr_size) != 0) {
        rollback(w);
        repeat_check(w, b, cls, errstr);
        return CDC_WRITE_ERROR;
    }
    w->txn_mark = w->ntxn_staged; /* committed: they stay for the session */
    w->rep.count = 0;
    return CDC_WRITE_OK;
}

cdc_write_status_t cdc_writer_apply_isolated(cdc_writer_t *w, cdc_batch_t *b, bool dead_letter,
                                             size_t *bad, cdc_err_class_t *cls, char *errstr,
                                             size_t errstr_size)
{
    *bad = SIZE_MAX;
    cdc_write_status_t st = begin_fenced(w, b, cls, errstr, errstr_size);
    if (st != CDC_WRITE_OK)
        return st;
    /* Savepoints roll records back, their live-check counts would not be:
     * skip the check on this (rare) path. */
    size_t live_max = w->live_max;
    w->live_max = 0;
    w->isolating = true;
    char rep_state[6] = "";
    if (w->rep.isolate)
        memcpy(rep_state, w->rep.sqlstate, sizeof(rep_state));
    w->rep.isolate = false;
    /* A scratch batch borrows the items and holds one record's step at a
     * time; record order is kept, so per-key order still holds. */
    cdc_batch_t one;
    cdc_batch_init(&one, NULL);
    one.items = b->items;
    one.nitems = b->nitems;
    size_t upto = b->nitems;
    char err[CDC_ERRSTR_SIZE];
    cdc_err_class_t c2_last = CDC_ERR_NONE;
    for (size_t i = 0; i < b->nitems; i++) {
        cdc_item_t *it = &b->items[i];
        if (!it->ev || !it->table || it->error || it->skipped)
            continue;
        cdc_err_class_t c2 = CDC_ERR_NONE;
        err[0] = '\0';
        one.nsteps = 0;
        one.barrier = 0;
        size_t mark = w->ntxn_staged;
        int rc = run(w, "SAVEPOINT cdc_one", &c2, err, sizeof(err));
        if (rc == 0)
            rc = cdc_batch_rebuild(&one, 0, &c2, err, sizeof(err));
        if (rc == 0)
            rc = cdc_batch_add_change(&one, i, it->table, &c2, err, sizeof(err));
        if (rc == 0)
            rc = apply_steps(w, &one, &c2, err, sizeof(err));
        cdc_err_class_t unused;
        cdc_batch_rebuild(&one, 0, &unused, NULL, 0); /* frees this record's step */
        if (rc == 0) {
            rc = run(w, "RELEASE SAVEPOINT cdc_one", &c2, err, sizeof(err));
            c2_last = c2;
            if (rc != 0)
                goto fail;
            continue;
        }
        c2_last = c2;
        /* The failure that repeated on the whole batch is this record's. */
        char sqlst[6];
        if (c2 == CDC_ERR_RETRIABLE && rep_state[0] && cdc_writer_connected(w) &&
            err_sqlstate(err, sqlst) && !strcmp(sqlst, rep_state))
            c2 = CDC_ERR_POISON;
        if (c2 != CDC_ERR_POISON || !cdc_writer_connected(w))
            goto fail;
        if (run(w, "ROLLBACK TO SAVEPOINT cdc_one", &c2, err, sizeof(err)) != 0)
            goto fail;
        staged_forget(w, mark); /* staging created under the savepoint is gone */
        /* Staging tables may have been left half-filled by the failed
         * statement; the savepoint rolled that back too. */
        char full[1400], pos[300];
        snprintf(pos, sizeof(pos), "%s[%d]@%lld: ", it->rec.topic, it->rec.partition,
                 (long long)it->rec.offset);
        /* Errors of our own already name the record. */
        snprintf(full, sizeof(full), "%s%s", strncmp(err, pos, strlen(pos)) ? pos : "", err);
        if (dead_letter) {
            cdc_batch_set_dead(b, i, full);
            continue;
        }
        *bad = i;
        upto = i;
        snprintf(errstr, errstr_size, "%s", full);
        *cls = CDC_ERR_POISON;
        break;
    }
    one.items = NULL;
    one.nitems = 0;
    cdc_batch_free(&one);
    w->live_max = live_max;
    w->isolating = false;
    if (save_dead_letters(w, b, cls, errstr, errstr_size) != 0 ||
        save_offsets(w, b, upto, cls, errstr, errstr_size) != 0 ||
        run(w, "COMMIT", cls, errstr, errstr_size) != 0) {
        rollback(w);
        return CDC_WRITE_ERROR;
    }
    w->txn_mark = w->ntxn_staged;
    return *bad == SIZE_MAX ? CDC_WRITE_OK : CDC_WRITE_ERROR;
fail:
    one.items = NULL;
    one.nitems = 0;
    cdc_batch_free(&one);
    w->live_max = live_max;
    w->isolating = false;
    snprintf(errstr, errstr_size, "%s", err);
    *cls = cdc_writer_connected(w) && c2_last != CDC_ERR_NONE ? c2_last : CDC_ERR_RETRIABLE;
    rollback(w);
    return CDC_WRITE_ERROR;
}

void cdc_writer_set_live_check(cdc_writer_t *w, size_t max_rows)
{
    w->live_max = max_rows;
}

size_t cdc_writer_live_results(const cdc_writer_t *w, const cdc_writer_live_t **res)
{
    *res = w->live;
    return w->nlive;
}

uint64_t cdc_writer_placeholder_rows(const cdc_writer_t *w)
{
    return w->placeholder_rows;
}
