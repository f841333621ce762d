/* cdc-apply's hand-off between the loop and the writer thread.
 *
 * One batch in flight at most: the loop submits batch N to a thread that
 * applies it on its own target connection (cdc_writer_apply(), one target
 * transaction: rows and positions together), while the loop consumes and
 * decodes batch N+1. The loop collects the result before it submits the
 * next batch, and handles every outcome other than success (retries,
 * isolation, the fence's conflict) itself, with the thread idle, exactly
 * as it did without a thread. So batches commit in submission order (per
 * key order holds), and at most two batches are held (bounded memory). */
#ifndef CDC_PIPELINE_INT_H
#define CDC_PIPELINE_INT_H

#include "batch.h"
#include "cdc/err.h"
#include "writer.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct cdc_pipeline_s cdc_pipeline_t;

/** What one cdc_writer_apply() in the thread returned. */
typedef struct cdc_pipeline_result {
    cdc_write_status_t st;
    cdc_err_class_t cls;
    char err[1400];
} cdc_pipeline_result_t;

/** Called in the writer thread as soon as the target answered (before the
 *  loop may collect): lets the loop's signal handlers forget the socket. */
typedef void(cdc_pipeline_done_cb)(void);

/**
 * @brief Start the writer thread for @p w (borrowed; the caller must not
 * use it while a batch is in flight). All signals are blocked in the
 * thread, so the handlers run in the loop's thread.
 *
 * Test only: CDC_APPLY_TEST_WRITER_DELAY_MS=N makes the thread hold each
 * batch N ms before applying it (logged), so a test can act while a batch
 * is handed off but not committed.
 *
 * @returns the pipeline, or NULL with @p errstr set.
 */
cdc_pipeline_t *cdc_pipeline_new(cdc_writer_t *w, cdc_pipeline_done_cb *done, char *errstr,
                                 size_t errstr_size);

/** @brief Stop and join the thread (after collecting any batch in flight). */
void cdc_pipeline_destroy(cdc_pipeline_t *p);

/** @brief Hand @p b (borrowed until collected) to the thread; it must be
 *  idle (nothing in flight). */
void cdc_pipeline_submit(cdc_pipeline_t *p, cdc_batch_t *b);

/** @brief Whether a batch is in flight (submitted, not yet collected). */
bool cdc_pipeline_busy(const cdc_pipeline_t *p);

/** @brief Whether the batch in flight has its result (collect never waits). */
bool cdc_pipeline_ready(cdc_pipeline_t *p);

/** @brief Wait for the batch in flight and collect its result into @p r.
 *  @returns the batch, or NULL when nothing was in flight. */
cdc_batch_t *cdc_pipeline_collect(cdc_pipeline_t *p, cdc_pipeline_result_t *r);

/** @brief Seconds the thread spent applying (target busy), in all. */
double cdc_pipeline_busy_seconds(cdc_pipeline_t *p);

#endif
