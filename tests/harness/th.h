/**
 * @file th.h
 * @brief Test harness: assertions, deadlines, unique names, and the servers
 *        integration tests start for themselves (th_pg.h, th_kafka.h,
 *        th_registry.h).
 *
 * Tests are small programs: exit 0 pass, 1 fail, 77 skip (meson's rule).
 */
#ifndef TH_H
#define TH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int th_failures;

/** Fail the test (and go on) when @p expr is false; prints file:line. */
#define TH_CHECK(expr)                                                                             \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr);               \
            th_failures++;                                                                         \
        }                                                                                          \
    } while (0)

/** Stop the test at once when @p expr is false. */
#define TH_ASSERT(expr)                                                                            \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #expr);           \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/** Compare two strings (NULL-safe); prints both on mismatch. */
#define TH_CHECK_STR(got, want)                                                                    \
    do {                                                                                           \
        const char *th_g_ = (got), *th_w_ = (want);                                                \
        if (!((th_g_ == NULL && th_w_ == NULL) ||                                                  \
              (th_g_ && th_w_ && strcmp(th_g_, th_w_) == 0))) {                                    \
            fprintf(stderr, "%s:%d: %s\n  got:  %s\n  want: %s\n", __FILE__, __LINE__, #got,       \
                    th_g_ ? th_g_ : "(null)", th_w_ ? th_w_ : "(null)");                           \
            th_failures++;                                                                         \
        }                                                                                          \
    } while (0)

/** Compare two integers; prints both on mismatch. */
#define TH_CHECK_INT(got, want)                                                                    \
    do {                                                                                           \
        long long th_g_ = (long long)(got), th_w_ = (long long)(want);                             \
        if (th_g_ != th_w_) {                                                                      \
            fprintf(stderr, "%s:%d: %s\n  got:  %lld\n  want: %lld\n", __FILE__, __LINE__, #got,   \
                    th_g_, th_w_);                                                                 \
            th_failures++;                                                                         \
        }                                                                                          \
    } while (0)

/** Skip the whole test with a reason (exit 77). */
#define TH_SKIP(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "SKIP: " __VA_ARGS__);                                                     \
        fputc('\n', stderr);                                                                       \
        exit(77);                                                                                  \
    } while (0)

/** End of main: 0 when every check passed. */
#define TH_DONE() return th_failures ? 1 : 0

/** @brief Monotonic milliseconds. */
int64_t th_now_ms(void);

/** @brief A name unique to this test process ("<prefix>_<pid>_<n>"),
 *  safe as a topic, table or group name. Returns a static buffer rotated
 *  over 8 slots. */
const char *th_unique(const char *prefix);

/** @brief Poll @p cond(arg) every 20 ms until it returns true or
 *  @p timeout_ms passes. Returns true when the condition held. */
bool th_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms);

/** @brief Everything written to @p f so far (rewinds it); new, caller
 *  frees. For tests that capture output in a tmpfile(). */
char *th_slurp(FILE *f);

/** @brief The whole file @p path, NUL-terminated (it may hold NULs:
 *  *@p len, if not NULL, says how many bytes); NULL when it cannot be
 *  opened. New, caller frees. */
char *th_read_file(const char *path, size_t *len);

/** @brief The text of file @p path, "" when it cannot be opened. New,
 *  caller frees. */
char *th_read_text(const char *path);

/** @brief Number of newlines in @p s. */
int th_count_lines(const char *s);

/** A NULL-terminated argument list (a compound literal: it lives as long
 *  as the enclosing block). */
#define TH_ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/** @brief Path of the build tree (from the CDC_BUILD_ROOT environment
 *  variable meson sets), to find the programs under test. */
const char *th_build_root(void);

/** @brief Path of the source tree (CDC_SOURCE_ROOT). */
const char *th_source_root(void);

#endif
