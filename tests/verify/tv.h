/**
 * @file tv.h
 * @brief Helpers shared by the cdc-verify integration tests.
 */
#ifndef TV_H
#define TV_H

#include "th_pg.h"

/**
 * @brief Run build/cdc-verify --source/--target @p pg (borrowed)
 *        --output json --progress never, then @p more and @p extra
 *        (borrowed, NULL-terminated; either may be NULL).
 * @param out  its stdout (new, caller frees).
 * @returns its exit status, -1 on timeout.
 */
int tv_run_verify(const th_pg_t *pg, const char *const *more, const char *const *extra,
                  int timeout_ms, char **out);

/**
 * @brief The whole file at @p path ("" when absent).
 * @returns new, caller frees.
 */
char *tv_slurp_path(const char *path);

/**
 * @brief Run @p cmd (borrowed, NULL-terminated, at most 40 words) through
 *        sh so that its stderr lands in @p errfile.
 * @param out  its stdout (new, caller frees; "" when none).
 * @param err  that stderr (new, caller frees; "" when none).
 * @returns its exit status, -1 on timeout.
 */
int tv_run_err(const char *errfile, const char *const *cmd, int timeout_ms, char **out, char **err);

#endif
