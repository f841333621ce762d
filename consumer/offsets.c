/* The positions of cdc-apply: per group, topic and partition the next
 * offset to apply, in <state>.offsets of the target (invariant 1: they
 * commit in the same transaction as the rows they cover).
 *
 * The fence is what makes a zombie harmless (writer.h): every batch
 * first locks its partitions' rows and checks that they still hold the
 * positions the batch starts from. */
#include "writer_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cdc_offsets_load(PGconn *conn, const char *qschema, const char *group, const char *topic,
                     const int32_t *partitions, size_t n, int64_t *next, cdc_err_class_t *cls,
                     char *errstr, size_t errstr_size)
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
                   qschema);
    const char *params[3] = {group, topic, parts.data};
    PGresult *res = cdc_pg_exec_params(conn, q.data, 3, params, NULL, NULL, PGRES_TUPLES_OK, cls,
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

int cdc_offsets_fence(PGconn *conn, const char *qschema, const char *group, const cdc_batch_t *b,
                      cdc_err_class_t *cls, char *errstr, size_t errstr_size)
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
                   qschema);
    const char *params[3] = {group, topics.data, parts.data};
    PGresult *res = PQexecParams(conn, q.data, 3, NULL, params, NULL, NULL, 0);
    cdc_buf_free(&topics);
    cdc_buf_free(&parts);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        cdc_pg_error(res, conn, errstr, errstr_size);
        *cls = cdc_pg_classify(res, conn);
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
                           qschema);
            const char *ip[4] = {group, p->topic, part, off};
            PGresult *r2 = PQexecParams(conn, ins.data, 4, NULL, ip, NULL, NULL, 0);
            cdc_buf_free(&ins);
            if (PQresultStatus(r2) != PGRES_COMMAND_OK) {
                const char *st = PQresultErrorField(r2, PG_DIAG_SQLSTATE);
                cdc_pg_error(r2, conn, errstr, errstr_size);
                *cls = cdc_pg_classify(r2, conn);
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

int cdc_offsets_save(PGconn *conn, const char *qschema, const char *group, const cdc_batch_t *b,
                     size_t n, cdc_err_class_t *cls, char *errstr, size_t errstr_size)
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
                       qschema);
        const char *params[4] = {group, topics.data, parts.data, offs.data};
        PGresult *res = cdc_pg_exec_params(conn, q.data, 4, params, NULL, NULL, PGRES_COMMAND_OK,
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

int cdc_writer_load_offsets(cdc_writer_t *w, const char *topic, const int32_t *partitions, size_t n,
                            int64_t *next, cdc_err_class_t *cls, char *errstr, size_t errstr_size)
{
    return cdc_offsets_load(w->conn, w->qschema, w->group, topic, partitions, n, next, cls, errstr,
                            errstr_size);
}
