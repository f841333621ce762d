/*
 * --jobs: several tables verified at once. Each table runs on a worker
 * thread of its own with its own connections (cdc_verify_table() opens
 * them; no PGconn is shared between threads), its repair statements go to
 * a buffer of its own, and the caller sees the outcomes in table order on
 * its own thread, so the output is that of a serial run.
 */
#include "verify_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    int rc;
    cdc_verify_result_t *res;
    char err[1024];
    char *repair; /* this table's repair statements (open_memstream) */
    size_t repair_len;
    bool done;
} slot_t;

typedef struct pool {
    const cdc_verify_opts_t *opts;
    const char *const *tables;
    size_t n, next;
    int ranges;
    slot_t *slots;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} pool_t;

static void run_one(const pool_t *p, size_t i, slot_t *s, FILE *repair)
{
    cdc_verify_opts_t o = *p->opts;
    o.table = p->tables[i];
    o.jobs = p->ranges;
    o.repair_sql = repair;
    s->rc = cdc_verify_table(&o, &s->res, s->err, sizeof s->err);
}

static void *worker_main(void *arg)
{
    pool_t *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next++;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->n)
            break;
        slot_t *s = &p->slots[i];
        FILE *mem = NULL;
        if (p->opts->repair_sql && !(mem = open_memstream(&s->repair, &s->repair_len))) {
            s->rc = -1;
            snprintf(s->err, sizeof s->err, "out of memory for the repair statements");
        } else {
            run_one(p, i, s, mem);
        }
        if (mem)
            fclose(mem);
        pthread_mutex_lock(&p->mu);
        s->done = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

int cdc_verify_tables(const cdc_verify_opts_t *opts, const char *const *tables, size_t n, int jobs,
                      cdc_verify_done_fn done, void *arg)
{
    if (jobs < 1)
        jobs = 1;
    size_t nw = n < (size_t)jobs ? n : (size_t)jobs;
    pool_t p = {opts,
                tables,
                n,
                0,
                nw ? jobs / (int)nw : 1,
                NULL,
                PTHREAD_MUTEX_INITIALIZER,
                PTHREAD_COND_INITIALIZER};
    p.slots = calloc(n ? n : 1, sizeof *p.slots);
    pthread_t *thr = calloc(nw ? nw : 1, sizeof *thr);
    size_t started = 0;
    if (!p.slots || !thr) {
        free(p.slots);
        free(thr);
        return -1;
    }
    /* One table at a time: this thread runs it (the repair statements go
     * straight to the file), in opts->jobs key ranges. */
    for (size_t w = 0; nw > 1 && w < nw; w++) {
        if (pthread_create(&thr[w], NULL, worker_main, &p) != 0)
            break;
        started++;
    }
    for (size_t i = 0; i < n; i++) {
        slot_t *s = &p.slots[i];
        if (!started) {
            run_one(&p, i, s, opts->repair_sql);
        } else {
            pthread_mutex_lock(&p.mu);
            while (!s->done)
                pthread_cond_wait(&p.cv, &p.mu);
            pthread_mutex_unlock(&p.mu);
            if (s->repair_len && opts->repair_sql)
                fwrite(s->repair, 1, s->repair_len, opts->repair_sql);
            free(s->repair);
            s->repair = NULL;
        }
        done(arg, i, s->rc, s->rc ? NULL : s->res, s->rc ? s->err : NULL);
    }
    for (size_t w = 0; w < started; w++)
        pthread_join(thr[w], NULL);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    free(thr);
    free(p.slots);
    return 0;
}
