/*
 * Internals shared by the verify steps, one file each, run in this order
 * by cdc_verify_table() (verify.c):
 *   plan.c     resolve the table, key, columns, types
 *   ranges.c   (--jobs) split points that cut a table into key ranges
 *   scan.c     stream both sides ordered by key, one digest per row
 *   compare.c  merge-join the two streams into mismatched keys (per key range)
 *   recheck.c  fetch mismatched keys again after the replication lag
 *   report.c   row JSON of the reported mismatches, the score, output
 *              (report_gauges.c: the gauges, textfile and Pushgateway)
 * with fetch.c (rows by key, for recheck, report and repair) and repair.c
 * (the --repair-sql statements).
 * jobs.c runs several tables at once (--jobs). Not installed.
 */
#ifndef CDC_VERIFY_INT_H
#define CDC_VERIFY_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cdc/buf.h"
#include "cdc/canon.h"
#include "verify.h"

/** One compared column, in canonical order (key columns first). */
typedef struct vcol {
    char *name;
    cdc_canon_type_t stype, ttype; /* each side's own type */
    bool collate_c;                /* collatable: ORDER BY ... COLLATE "C" */
    bool sbin, tbin;               /* each side sends it in binary (else ::text) */
    int key_pos;                   /* -1 for non-key columns */
} vcol_t;

typedef struct vplan {
    char *schema, *table, *display; /* display: "schema.table" */
    vcol_t *cols;
    size_t ncols, nkeys;
    char *select_list;              /* "k1", "k2", "a", ... (quoted) */
    char *select_bin[2];            /* per side (0 source, 1 target) for binary COPY */
    char *from;                     /* "schema"."table" */
    char *where;                    /* operator's predicate or NULL */
    char *order_by;                 /* _cdc_t."k1" COLLATE "C", _cdc_t."k2" (FROM ... AS _cdc_t) */
    double reltuples;               /* source estimate, for progress */
    struct cdc_pgtype_mem *typemem; /* owns the sub-types of the columns' types */
    char **target_only;             /* columns only the target has, not excluded (not compared) */
    size_t ntarget_only;
} vplan_t;

/** @brief Split a --table name "[schema.]table" into its parts (new
 *  strings); a part may be double-quoted ("my.schema"."t", "" for a quote),
 *  unquoted parts are taken as written. @returns 0, or -1 with errstr. */
int vtable_split(const char *name, char **schema, char **table, char *errstr, size_t errstr_size);

/** @brief Build the plan from both catalogs. conn_s/conn_t borrowed. */
int vplan_build(vplan_t *plan, PGconn *conn_s, PGconn *conn_t, const cdc_verify_opts_t *opts,
                char *errstr, size_t errstr_size);
void vplan_free(vplan_t *plan);

/** One key range of a table split under --jobs. Ranges are consecutive
 *  in the scan's ORDER BY (text keys COLLATE "C", the same on both sides)
 *  and cover every row exactly once: range i holds lo <= key < hi, on all
 *  key columns as a row value when none is nullable, else on the first
 *  one, whose NULLs (sorted last) belong to the last range. */
typedef struct vrange {
    size_t index, count; /* 0-based position, number of ranges */
    size_t ncols;        /* key columns the bounds cover: 1 or plan->nkeys */
    char **lo, **hi;     /* ncols text values each (owned), NULL: unbounded */
    bool nulls;          /* also the rows whose first key column is NULL */
} vrange_t;

/** @brief Split points for @p want ranges, sampled from the source's key
 *  distribution on @p conn_s (TABLESAMPLE, in the caller's snapshot);
 *  @p conn_t NULL: the target lacks the table. One range (and a log line
 *  saying why) when the key cannot be split the same way on both sides.
 *  @returns 0 with a new array (vranges_free), or -1 with errstr. */
int vranges_plan(PGconn *conn_s, PGconn *conn_t, const vplan_t *plan, size_t want,
                 vrange_t **ranges, size_t *nranges, char *errstr, size_t errstr_size);
void vranges_free(vrange_t *r, size_t n);
/** @brief The key columns of @p plan as a text[] literal ({"a","b"}), into an empty @p names. */
void vkey_names(const vplan_t *plan, cdc_buf_t *names);
/** @brief Run catalog query @p sql on @p conn with $1 the schema and $2 the
 *  table of @p plan and, with @p keys, $3 its key's names (vkey_names()).
 *  @returns the result (new: PQclear it), or NULL with errstr set. */
PGresult *vplan_catalog(PGconn *conn, const vplan_t *plan, const char *sql, bool keys, char *errstr,
                        size_t errstr_size);
/** @brief Append the predicate of @p r (literals escaped for @p conn) to
 *  @p out; @returns false (nothing appended) for an unbounded range. */
bool vrange_where(const vplan_t *plan, const vrange_t *r, PGconn *conn, cdc_buf_t *out);

/* A batch of scanned rows: records of
 *   u64 digest | u32 keylen | u32 rawlen | key canon bytes | raw key text
 * where the raw key text holds the key fields that travel as text (those
 * not binary on that side, see binary_ok()), as COPY text fields, unescaped
 * only for the few rows that mismatch; binary key fields are recovered
 * from their canonical bytes (vrec_keyvals()). */
typedef struct vbatch {
    cdc_buf_t data;
    size_t nrec;
    struct vbatch *next;
} vbatch_t;

typedef struct vrec {
    uint64_t digest;
    const unsigned char *key;
    size_t keylen;
    const char *raw;
    size_t rawlen;
} vrec_t;

/** @brief Decode the record at @p off of @p b; returns the next offset. */
size_t vbatch_read(const vbatch_t *b, size_t off, vrec_t *rec);

/** One side's scanner: a thread reading COPY into a bounded queue. */
typedef struct vscan {
    const char *conninfo;
    const vplan_t *plan;
    bool target;
    const vrange_t *range; /* NULL: every row */
    const char *snapshot;  /* exported snapshot to scan in, or NULL: the COPY's own */
    pthread_t thr;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    vbatch_t *head, *tail;
    int queued;
    bool eof; /* producer finished (check failed) */
    bool failed;
    volatile bool stop; /* consumer asks the producer to stop */
    char err[700];
    /* totals, final once eof is seen */
    int64_t rows;
    uint64_t digest_sum;
} vscan_t;

int vscan_start(vscan_t *s, const char *conninfo, const vplan_t *plan, bool target,
                const vrange_t *range, const char *snapshot, char *errstr, size_t errstr_size);

/** @brief Open a REPEATABLE READ transaction on @p conn and export its
 *  snapshot (new string, for SET TRANSACTION SNAPSHOT), or NULL with
 *  errstr (then no transaction is left open). End it with vsnapshot_end. */
char *vsnapshot_export(PGconn *conn, char *errstr, size_t errstr_size);
void vsnapshot_end(PGconn *conn);
/** @brief Next batch (new, free with vbatch_free) or NULL at the end or on
 *  error (then s->failed). Blocks. */
vbatch_t *vscan_next(vscan_t *s);
void vscan_stop(vscan_t *s);
void vbatch_free(vbatch_t *b);

/** @brief The key values of @p rec, scanned on side @p target, in text form
 *  (new array of plan->nkeys, NULL for SQL NULL; free with vfields_free). */
char **vrec_keyvals(const vplan_t *plan, bool target, const vrec_t *rec);

/** @brief Unescape COPY text fields of @p raw into NUL-terminated strings
 *  (new array of @p n, NULL for \N; free with vfields_free). */
char **vcopy_fields(const char *raw, size_t rawlen, size_t n);
void vfields_free(char **f, size_t n);

/** A mismatched key kept for recheck, repair and reporting. Under a key
 *  rows are a multiset: one key may stand for several rows on a side (a
 *  keyless target with a double-applied insert), so a key carries counts. */
typedef struct vmis {
    int64_t n[3]; /* rows missing, extra, different under this key (by kind) */
    bool converged;
    char **keyvals; /* nkeys strings (text form) */
} vmis_t;

/** Mismatched keys kept, in key order, with each key's canonical bytes
 *  (koff[i] .. koff[i + 1] or keys.len) for a later pass's start. */
typedef struct misvec {
    vmis_t *v;
    size_t n, cap;
    cdc_buf_t keys;
    size_t *koff;
} misvec_t;

void vmisvec_clear(misvec_t *mv, size_t nkeys);
void vmisvec_free(misvec_t *mv, size_t nkeys);

/** @brief Match two multisets of row digests: @p n[kind] is set to the
 *  rows missing (only in @p a), extra (only in @p b) and different
 *  (unmatched pairs). @p ua / @p ub, when not NULL, get true for the
 *  unmatched entries. Reorders neither array. */
void vmatch(const uint64_t *a, size_t na, const uint64_t *b, size_t nb, int64_t n[3], bool *ua,
            bool *ub);

/** One fetched row: digest of the canonical row, its JSON, its values. */
typedef struct vrow {
    uint64_t digest;
    char *json;
    char **vals; /* ncols */
} vrow_t;

/** Every row of one key on one side (all new; n = 0 when absent). */
typedef struct vfetch {
    size_t n;
    vrow_t *rows;
} vfetch_t;

/** Keys fetched per statement (and per round trip): enough to amortise
 *  the round trip, few enough for the planner to keep the index lookup
 *  (a nested loop over the keys) rather than a scan of the table. */
#define VFETCH_BATCH 1000

/** One side's by-key fetcher: the type each key value is cast to on that
 *  side, so that the key predicates are the column's own "=" (which the
 *  primary key or any index on the key answers). */
typedef struct vfetcher {
    PGconn *conn; /* borrowed; NULL: a side without the table (no rows) */
    bool target;  /* side: decodes with the target's types */
    char **casts; /* nkeys "::type" suffixes (new) */
    size_t nkeys;
} vfetcher_t;

/** @brief Read the key columns' types of one side. @p conn borrowed
 *  (NULL: a side without the table). @returns 0, or -1 with errstr. */
int vfetcher_init(vfetcher_t *f, PGconn *conn, const vplan_t *plan, bool target, char *errstr,
                  size_t errstr_size);
void vfetcher_free(vfetcher_t *f);

/** @brief The statement that fetches every row of a batch of keys that
 *  share one pattern of NULL key values (@p null: nkeys flags): the keys
 *  come as arrays ($1 int[] of positions, then one text[] per non-NULL key
 *  column) joined to the table by "=" on each non-NULL column and
 *  "IS NULL" on the others, both of which an index on the key answers.
 *  Result columns: the key's position, @p inner's columns (a select list
 *  over _cdc_t), then the row's JSON unless @p inner is not the plan's
 *  (@p json false). @p text_image: the JSON of every column's text (for
 *  rows whose jsonb image fails). Appends to @p sql. */
void vfetch_sql(cdc_buf_t *sql, const vfetcher_t *f, const vplan_t *plan, const bool *null,
                const char *inner, bool json, bool text_image);

/** @brief The parameters of vfetch_sql() for @p idx (positions into
 *  @p keyvals, @p n of them, all with the NULL pattern @p null): new
 *  strings in @p params (1 + non-NULL columns), free with vfields_free. */
size_t vfetch_params(const vplan_t *plan, const bool *null, char **const *keyvals,
                     const size_t *idx, size_t n, char **params);

/** @brief Every row of each of @p n keys (@p keyvals[i]: nkeys strings,
 *  NULL for SQL NULL) on both sides at once (@p fs / @p ft, either may be
 *  NULL: that side is not fetched), in as many statements a side as there
 *  are patterns of NULL key values among them (usually one): @p outs[i] /
 *  @p outt[i] get key i's rows (new; n = 0 when absent).
 *  @returns 0, or -1 with errstr (then every out[i] is empty). */
int vfetch_keys(const vfetcher_t *fs, const vfetcher_t *ft, const vplan_t *plan,
                char **const *keyvals, size_t n, vfetch_t *outs, vfetch_t *outt, char *errstr,
                size_t errstr_size);
void vfetch_clear(vfetch_t *f, size_t ncols);

/** @brief The cast a value of @p c needs after its literal or parameter
 *  ("" or e.g. "::real"; static storage). */
const char *vliteral_cast(const vcol_t *c);
/** @brief True when key values @p a and @p b are NULL in the same columns. */
bool vsame_nulls(const vplan_t *plan, char *const *a, char *const *b);

/** @brief Key JSON of a mismatch (new). */
char *vkey_json(const vplan_t *plan, char *const *keyvals);

/** @brief Recheck lag from the state schema, seconds (5 when unknown). */
double vrecheck_auto_delay(PGconn *conn_t, const char *schema);

/** Repair statements: the columns a full row is inserted with (those of
 *  the source the target has and can take), the source's key fetcher, and
 *  the target's unique index on key columns when there is one. */
typedef struct vrepair {
    char **cols;
    size_t ncols;
    size_t *plan_idx; /* each column's place in the plan, or NULL: not all compared */
    vfetcher_t src;   /* else the full rows come from the source */
    char **conflict;  /* columns of a unique index of the target, all key columns (new) */
    size_t nconflict; /* 0: the key is not unique in the target */
    bool noted;       /* the file says how rows are replaced */
    FILE *later;      /* UPDATEs and INSERTs, written after every DELETE (vrepair_flush) */
} vrepair_t;

/** @brief Read the columns (from both catalogs) and the target's unique
 *  indexes. conn_s/conn_t borrowed. @returns 0, or -1 with errstr. */
int vrepair_prepare(vrepair_t *r, PGconn *conn_s, PGconn *conn_t, const vplan_t *plan, char *errstr,
                    size_t errstr_size);
void vrepair_free(vrepair_t *r);

/** @brief Append the statements that make the target's rows of @p n keys
 *  equal the source's (@p src[i] / @p tgt[i]: key i's rows as fetched
 *  now; nothing for a key whose rows match). A different row is an UPDATE
 *  of the columns that differ; a missing row an INSERT of the source's
 *  whole row (never only the compared columns), ON CONFLICT on the
 *  target's unique key; an extra row a DELETE; copies under a key that is
 *  not unique: DELETE of the key's rows and INSERT of the source's. Every
 *  predicate is "=" or "IS NULL" on the key columns. The full rows of a
 *  batch come from the source in one statement. @returns 0, or -1 with
 *  errstr. */
/** Append the UPDATEs and INSERTs held back by vrepair_keys() to @p out:
 *  every DELETE comes first, so a row removed from the target frees its
 *  unique values before a repaired row takes them. 0, or -1 with errstr. */
int vrepair_flush(FILE *out, vrepair_t *r, char *errstr, size_t errstr_size);
int vrepair_keys(FILE *out, vrepair_t *r, PGconn *conn_t, const vplan_t *plan,
                 char **const *keyvals, size_t n, const vfetch_t *src, const vfetch_t *tgt,
                 char *errstr, size_t errstr_size);

/** @brief Digests of the fetched rows (new array). */
uint64_t *vdigests(const vfetch_t *f);

/** One table's run, handed from step to step by cdc_verify_table(). */
typedef struct vrun {
    const cdc_verify_opts_t *opts;
    PGconn *cs, *ct; /* owned: catalog, snapshot export, fetches, recheck, repair */
    PGconn *ctf;     /* ct, or NULL: the target lacks the table (no target rows) */
    bool absent;
    vplan_t plan;
    misvec_t mv;     /* mismatched keys kept (at most max_keep) */
    cdc_buf_t last;  /* the last key kept */
    int64_t ngroups; /* mismatched keys seen */
    size_t max_keep;
    vrepair_t rep;
    vfetcher_t fsrc, ftgt; /* by-key fetchers of each side (steps 4 and 5) */
    size_t *bidx;          /* a batch of kept keys: their positions, keys and rows */
    char ***bkeys;
    vfetch_t *bfs, *bft;
    cdc_verify_result_t *res; /* owned until handed to the caller */
} vrun_t;

/** @brief Step 1: connect, plan, result header (plan.c). */
int vrun_plan(vrun_t *run, char *errstr, size_t errstr_size);
/** @brief Steps 2-3: scan both sides and merge them, in opts->jobs key
 *  ranges at once (compare.c). */
int vrun_compare(vrun_t *run, char *errstr, size_t errstr_size);
/** @brief One scan and merge, serial. Counts and totals go to @p res
 *  (NULL: a later repair pass, which only collects). Mismatched keys after
 *  @p after (NULL: from the start) are kept in @p mv up to @p max_keep;
 *  @p last gets the last kept key, @p ngroups the mismatched keys seen
 *  after @p after. */
int vmerge_pass(const vrun_t *run, const cdc_buf_t *after, misvec_t *mv, cdc_buf_t *last,
                int64_t *ngroups, cdc_verify_result_t *res, char *errstr, size_t errstr_size);
/** @brief Step 4: recheck the kept keys after the lag (recheck.c). */
int vrun_recheck(vrun_t *run, char *errstr, size_t errstr_size);
/** @brief Step 5: score, row JSON of the reported mismatches, repair
 *  statements (report.c). */
int vrun_report(vrun_t *run, char *errstr, size_t errstr_size);

#endif
