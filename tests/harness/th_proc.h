/**
 * @file th_proc.h
 * @brief Child processes for integration tests: servers on pipes, scripts run
 *        to completion, and cleanup that runs however the test exits.
 *
 * Harness functions report failures on stderr and return -1: tests are
 * programs whose stderr is the report, so there is no errstr here.
 */
#ifndef TH_PROC_H
#define TH_PROC_H

#include <stdbool.h>
#include <sys/types.h>

/**
 * @brief Start @p argv[0] (a path) with stdin and stdout on pipes; stderr is
 *        inherited so server logs land in the test log.
 *
 * The child gets SIGTERM when the test process dies (PR_SET_PDEATHSIG), so
 * even a test killed by SIGKILL leaves no server behind. Call it from the
 * main thread: the signal fires when the spawning *thread* exits.
 * Side effect: the test process ignores SIGPIPE from then on, so writing
 * to a server that died returns EPIPE instead of killing the test.
 *
 * @param argv   borrowed, NULL-terminated.
 * @param in_fd  out: write end of the child's stdin (new, caller closes);
 *               NULL to give the child /dev/null.
 * @param out_fd out: read end of the child's stdout (new, caller closes);
 *               NULL to inherit the test's stdout.
 * @returns the child pid, or -1.
 */
pid_t th_proc_spawn(const char *const argv[], int *in_fd, int *out_fd);

/**
 * @brief Run @p argv to completion, killing it after @p timeout_ms.
 * @param out  out: its stdout (new, caller frees), or NULL to discard.
 * @returns the exit status (0..255), or -1 when it could not run, died on a
 *          signal or timed out.
 */
int th_proc_run(const char *const argv[], int timeout_ms, char **out);

/**
 * @brief SIGTERM @p pid, wait up to @p timeout_ms, then SIGKILL and reap.
 * @returns the exit status, or -1 when it had to be killed or was not ours.
 */
int th_proc_stop(pid_t pid, int timeout_ms);

/**
 * @brief Read one line (without the newline) from @p fd within
 *        @p timeout_ms. Reads byte by byte so no data is buffered between
 *        calls (the fd can be shared with poll()).
 * @returns the line length, -1 on timeout, EOF (with nothing read) or error.
 */
int th_proc_read_line(int fd, char *buf, size_t size, int timeout_ms);

/**
 * @brief Register @p fn(@p arg) to run at exit (exit(), TH_ASSERT, TH_SKIP,
 *        return from main), newest first, only in the registering process
 *        (a forked child that exits does not stop its parent's servers).
 */
void th_cleanup_push(void (*fn)(void *arg), void *arg);

/** @brief Forget a registration made by th_cleanup_push (after a normal stop). */
void th_cleanup_pop(void (*fn)(void *arg), void *arg);

#endif
