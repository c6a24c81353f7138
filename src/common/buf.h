/*
 * buf.h - a growable byte buffer for building responses and output text.
 *
 * Appends never fail loudly: the first allocation failure makes the buffer
 * "failed", later appends do nothing, and mfkv_buf_status() reports
 * MFKV_NOMEM once at the end.  That keeps formatting code a straight line.
 */
#ifndef MFKV_BUF_H
#define MFKV_BUF_H

#include <stddef.h>

typedef struct mfkv_buf {
    char *data; /* NUL-terminated when len > 0 or after any append */
    size_t len, cap;
    int failed;
} mfkv_buf;

void mfkv_buf_init(mfkv_buf *b);
/* Release the memory; the buffer is left empty and reusable. NULL-safe. */
void mfkv_buf_free(mfkv_buf *b);
/* Hand the data to the caller (who frees it) and leave @p b empty. */
char *mfkv_buf_take(mfkv_buf *b, size_t *len);

/* MFKV_OK, or MFKV_NOMEM if any append failed. */
int mfkv_buf_status(const mfkv_buf *b);

void mfkv_buf_put(mfkv_buf *b, const void *p, size_t n);
void mfkv_buf_puts(mfkv_buf *b, const char *s);
void mfkv_buf_printf(mfkv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* @p s as a quoted JSON string (RFC 8259 escapes; other bytes as given). */
void mfkv_buf_json_string(mfkv_buf *b, const char *s, size_t n);
/* @p s as HTML text, safe in element content and in quoted attributes. */
void mfkv_buf_html_text(mfkv_buf *b, const char *s, size_t n);

#endif
