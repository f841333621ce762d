/**
 * @file buf.h
 * @brief Growable byte buffer used everywhere text or binary is assembled.
 *
 * A cdc_buf_t is a plain struct (no handle) so it can live on the stack or
 * inside other structs. The data is always NUL-terminated after len bytes,
 * so it can be handed to C string APIs when it holds text.
 */
#ifndef CDC_BUF_H
#define CDC_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cdc_buf {
    char *data; /**< owned; NULL until the first append */
    size_t len; /**< bytes used, not counting the terminating NUL */
    size_t cap; /**< bytes allocated */
} cdc_buf_t;

#define CDC_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/** @brief Make room for @p extra more bytes (plus the NUL). Aborts on OOM. */
void cdc_buf_reserve(cdc_buf_t *buf, size_t extra);
/** @brief Append @p len bytes of @p data (borrowed). */
void cdc_buf_append(cdc_buf_t *buf, const void *data, size_t len);
/** @brief Append a NUL-terminated string (borrowed). */
void cdc_buf_puts(cdc_buf_t *buf, const char *s);
/** @brief Append one byte. */
void cdc_buf_putc(cdc_buf_t *buf, char c);
/** @brief Append printf-formatted text. */
void cdc_buf_printf(cdc_buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** @brief va_list form of cdc_buf_printf(). */
void cdc_buf_vprintf(cdc_buf_t *buf, const char *fmt, va_list ap);
/** @brief Forget the content, keep the allocation. */
void cdc_buf_reset(cdc_buf_t *buf);
/** @brief Free the allocation; the buffer is empty and reusable afterwards. */
void cdc_buf_free(cdc_buf_t *buf);
/** @brief Take the data out (new, caller frees); the buffer becomes empty.
 *  Never returns NULL: an empty buffer yields "". */
char *cdc_buf_steal(cdc_buf_t *buf);

#endif
