/*
 * lines.h - reading a text input one line at a time.
 *
 * Every text loader shares the same conventions: lines are counted from 1 so
 * errors can say FILE:LINE, a UTF-8 byte-order mark at the start of the file
 * is skipped, and a line may end in "\n", "\r\n" or nothing (the last line).
 * Lines may be of any length and may hold NUL bytes, so callers get a length.
 */
#ifndef MFKV_IO_LINES_H
#define MFKV_IO_LINES_H

#include <stdio.h>

#include "../common/diag.h"

typedef struct mfkv_lines {
    const char *path;
    FILE *f;
    char *buf;
    size_t cap;
    size_t line; /* number of the line last returned; 0 before the first */
} mfkv_lines;

/* Open @p path for reading; MFKV_IO with the path in the diag on failure. */
int mfkv_lines_open(mfkv_lines *r, const char *path, mfkv_diag *d);

/* Next line, without its line end, in *s and *len; *s is NULL at end of file.
 * The text stays valid until the next call. */
int mfkv_lines_next(mfkv_lines *r, const char **s, size_t *len, mfkv_diag *d);

void mfkv_lines_close(mfkv_lines *r);

/* Call @p fn on every line of @p path (its number in r->line), stopping at
 * the first non-zero status, which is returned; *n_lines receives the
 * number of lines read. */
typedef int (*mfkv_line_fn)(void *ctx, const mfkv_lines *r, const char *s, size_t len,
                            mfkv_diag *d);
int mfkv_lines_each(const char *path, mfkv_line_fn fn, void *ctx, size_t *n_lines, mfkv_diag *d);

#endif
