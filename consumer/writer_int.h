/* Private to the apply modules behind writer.h: the transaction
 * (apply_txn.c) orchestrates the fence and positions (offsets.c), the
 * rows (apply_merge.c, over the staging tables of apply_stage.c) and the
 * dead letters (dead_letter.c), in that order, inside ONE transaction.
 *
 * offsets.c and dead_letter.c take the connection they use as an
 * argument: they only write the state tables and know nothing else of
 * the writer. */
#ifndef CDC_WRITER_INT_H
#define CDC_WRITER_INT_H

#include "batch.h"
#include "cdc/buf.h"
#include "catalog.h"
#include "cdc/err.h"
#include "livecheck.h"
#include "cdc/pg.h"
#include "writer.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- staging tables (apply_stage.c) ---- */

/* One table description's staging tables. A description is never changed
 * once loaded (catalog.h): a refreshed one is a new pointer and gets its
 * own pair, with its own columns. The catalog frees none before it is
 * destroyed, after the writer, so a pointer never comes back naming
 * another description. */
typedef struct cdc_stage {
    const cdc_table_t *table;
    unsigned id; /* names pg_temp.cdc_stg_<id> and pg_temp.cdc_del_<id> */
    bool staged; /* they exist in the current session */
} cdc_stage_t;

/* The writer's per-session staging state: which descriptions have their
 * temp tables in the current session. Temp tables die with the session,
 * and a ROLLBACK (or ROLLBACK TO SAVEPOINT) drops those created since
 * BEGIN (or the savepoint): their flag must be cleared with them, or the
 * next statement names a temp table that no longer exists ("schema
 * pg_temp does not exist" when the rollback also undid the session's
 * first temp table). */
typedef struct cdc_stage_set {
    cdc_stage_t *ents; /* indexed by id; ids are never reused */
    size_t nents, cap;
    size_t *slots; /* open addressing by table pointer: entry index + 1, 0 empty */
    size_t nslots;
    /* Entries staged in this session, in creation order; from txn_mark on
     * they were created in the open transaction. */
    size_t *made;
    size_t nmade, made_cap, txn_mark;
} cdc_stage_set_t;

/* Free the set's memory (not the temp tables). */
void cdc_stage_set_free(cdc_stage_set_t *s);
/* The session ended: no temp table exists any more. */
void cdc_stage_session_lost(cdc_stage_set_t *s);
/* A transaction starts, or committed (what it created stays). */
void cdc_stage_txn_mark(cdc_stage_set_t *s);
/* How many entries are staged now: pass to cdc_stage_forget() after a
 * ROLLBACK TO SAVEPOINT set after taking it. */
size_t cdc_stage_mark(const cdc_stage_set_t *s);
/* Tables created since @p mark were rolled back. */
void cdc_stage_forget(cdc_stage_set_t *s, size_t mark);

/* Make sure @p t has its staging tables in this session (per-session temp
 * tables: same column types as the target, no constraints, so a row with
 * a column left out never trips NOT NULL); *id names them. */
int cdc_stage_ensure(cdc_writer_t *w, const cdc_table_t *t, unsigned *id, cdc_err_class_t *cls,
                     char *errstr, size_t errstr_size);

/* Append "c1, c2" (each with @p prefix when not NULL) over the columns in
 * @p mask. */
void cdc_stage_col_list(cdc_buf_t *q, const cdc_table_t *t, const uint8_t *mask,
                        const char *prefix);
/* COPY text format escaping of one value, for a column of format_type()
 * @p type. */
void cdc_stage_copy_value(cdc_buf_t *b, const cdc_col_t *c, const char *type);
/* Run COPY statement @p sql with w->copy as its data; a refused value of
 * entry @p v[line - 1] is named (cdc_stage_copy_error()). */
int cdc_stage_copy_in(cdc_writer_t *w, const char *sql, const cdc_table_t *t, cdc_entry_t *const *v,
                      size_t n, cdc_err_class_t *cls, char *errstr, size_t errstr_size);
/* Rewrite the error of a value COPY refused (in errstr) to name the column,
 * both types and the fix. */
void cdc_stage_copy_error(const PGresult *res, const cdc_table_t *t, cdc_entry_t *const *v,
                          size_t n, char *errstr, size_t errstr_size);

/* ---- the writer ---- */

struct cdc_writer_s {
    char *conninfo;
    char *schema;  /* state schema, unquoted */
    char *qschema; /* quoted */
    char *group;
    PGconn *conn;
    cdc_buf_t copy; /* COPY data of one statement */
    cdc_buf_t sql;
    cdc_stage_set_t stage; /* staging tables of this session */
    size_t live_max;       /* rows read back per table and batch (0: off) */
    int lock_pid;          /* backend holding the member lock (--transactions; 0: none) */
    bool lock_lost;        /* a batch found that backend gone or without the lock */
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

/* Run one command; on failure fill errstr/cls and return -1. */
static inline int cdc_writer_run(cdc_writer_t *w, const char *sql, cdc_err_class_t *cls,
                                 char *errstr, size_t errstr_size)
{
    return cdc_pg_exec(w->conn, sql, cls, errstr, errstr_size);
}

/* ---- rows (apply_merge.c) ---- */

/* The batch's steps in order: per table, deletes then upserts, truncates
 * where they fell in the stream. Inside the open transaction. */
int cdc_merge_steps(cdc_writer_t *w, cdc_batch_t *b, cdc_err_class_t *cls, char *errstr,
                    size_t errstr_size);

/* ---- positions (offsets.c) ---- */

/* @p qschema is the quoted state schema, @p group the consumer group. */

/* Stored next offsets of @p n partitions of @p topic; -1 where none. */
int cdc_offsets_load(PGconn *conn, const char *qschema, const char *group, const char *topic,
                     const int32_t *partitions, size_t n, int64_t *next, cdc_err_class_t *cls,
                     char *errstr, size_t errstr_size);
/* The fence: lock the batch's offset rows and check they hold what the
 * batch expects; insert the rows of partitions seen for the first time.
 * Inside the open transaction. Returns 0, -2 on a conflict, -1 on error. */
int cdc_offsets_fence(PGconn *conn, const char *qschema, const char *group, const cdc_batch_t *b,
                      cdc_err_class_t *cls, char *errstr, size_t errstr_size);
/* New positions: last offset + 1 of every partition, over items [0, n). */
int cdc_offsets_save(PGconn *conn, const char *qschema, const char *group, const cdc_batch_t *b,
                     size_t n, cdc_err_class_t *cls, char *errstr, size_t errstr_size);

/* ---- dead letters (dead_letter.c) ---- */

/* Insert a dead letter for every item of @p b with an error. */
int cdc_dead_letter_save(PGconn *conn, const char *qschema, const char *group, const cdc_batch_t *b,
                         cdc_err_class_t *cls, char *errstr, size_t errstr_size);

#endif
