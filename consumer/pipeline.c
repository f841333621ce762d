/* The writer thread of cdc-apply (see pipeline_int.h). */
#include "pipeline_int.h"

#include "cdc/log.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cdc_pipeline_s {
    cdc_writer_t *w; /* borrowed; the thread's while busy */
    cdc_pipeline_done_cb *done;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cdc_batch_t *job;  /* submitted, not yet taken by the thread */
    cdc_batch_t *held; /* in flight: submitted, not yet collected */
    bool finished;     /* held has its result */
    bool quit;
    cdc_pipeline_result_t res;
    int delay_ms; /* test only: CDC_APPLY_TEST_WRITER_DELAY_MS */
    double busy_s;
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
    cdc_pipeline_t *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->job && !p->quit)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->quit)
            break;
        cdc_batch_t *b = p->job;
        p->job = NULL;
        pthread_mutex_unlock(&p->mu);
        if (p->delay_ms > 0) {
            cdc_log_info("test: holding a batch of %zu records for %d ms before applying it "
                         "(CDC_APPLY_TEST_WRITER_DELAY_MS)",
                         b->nitems, p->delay_ms);
            struct timespec d = {p->delay_ms / 1000, (long)(p->delay_ms % 1000) * 1000000L};
            while (nanosleep(&d, &d) != 0) {
            }
        }
        cdc_pipeline_result_t r;
        r.cls = CDC_ERR_NONE;
        r.err[0] = '\0';
        double t0 = mono_s();
        r.st = cdc_writer_apply(p->w, b, &r.cls, r.err, sizeof(r.err));
        double t1 = mono_s();
        if (p->done)
            p->done();
        pthread_mutex_lock(&p->mu);
        p->busy_s += t1 - t0;
        p->res = r;
        p->finished = true;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

cdc_pipeline_t *cdc_pipeline_new(cdc_writer_t *w, cdc_pipeline_done_cb *done, char *errstr,
                                 size_t errstr_size)
{
    cdc_pipeline_t *p = calloc(1, sizeof(*p));
    if (!p)
        abort();
    p->w = w;
    p->done = done;
    const char *d = getenv("CDC_APPLY_TEST_WRITER_DELAY_MS");
    p->delay_ms = d ? atoi(d) : 0;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    /* Signals go to the loop's thread: its handlers cut the target waits
     * (this thread's included) and its loop sees the stop request. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&p->thread, NULL, run, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0) /* named for top -H, perf and /proc (bench_apply.sh's CPU split) */
        pthread_setname_np(p->thread, "cdc-writer");
    if (rc != 0) {
        snprintf(errstr, errstr_size, "cannot start the writer thread: %s", strerror(rc));
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
        return NULL;
    }
    return p;
}

void cdc_pipeline_destroy(cdc_pipeline_t *p)
{
    if (!p)
        return;
    cdc_pipeline_result_t r;
    cdc_pipeline_collect(p, &r);
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

void cdc_pipeline_submit(cdc_pipeline_t *p, cdc_batch_t *b)
{
    pthread_mutex_lock(&p->mu);
    if (p->held)
        abort(); /* one in flight: the loop collects first */
    p->held = p->job = b;
    p->finished = false;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

bool cdc_pipeline_busy(const cdc_pipeline_t *p)
{
    return p->held != NULL; /* only the loop's thread changes it */
}

bool cdc_pipeline_ready(cdc_pipeline_t *p)
{
    pthread_mutex_lock(&p->mu);
    bool r = p->held && p->finished;
    pthread_mutex_unlock(&p->mu);
    return r;
}

cdc_batch_t *cdc_pipeline_collect(cdc_pipeline_t *p, cdc_pipeline_result_t *r)
{
    pthread_mutex_lock(&p->mu);
    cdc_batch_t *b = p->held;
    if (b) {
        while (!p->finished)
            pthread_cond_wait(&p->cv, &p->mu);
        *r = p->res;
        p->held = NULL;
        p->finished = false;
    }
    pthread_mutex_unlock(&p->mu);
    return b;
}

double cdc_pipeline_busy_seconds(cdc_pipeline_t *p)
{
    pthread_mutex_lock(&p->mu);
    double s = p->busy_s;
    pthread_mutex_unlock(&p->mu);
    return s;
}
