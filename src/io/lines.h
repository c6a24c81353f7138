/*
 * lines.h - reading a text file line by line, for every text loader.
 *
 * Rating logs run to tens of millions of lines, so lines are handed out as
 * views into one reusable buffer instead of being copied.  Lines are counted
 * from 1 so errors can say FILE:LINE; a UTF-8 byte order mark before line 1
 * is dropped, and a line may end in "\n", "\r\n" or nothing (the last line).
 * Lines may hold NUL bytes, so callers get a length.  Empty lines are
 * returned too: whether a blank line means anything is the format's call.
 * Files are read, never mapped, so one that shrinks while it is read is an
 * error naming it (MFKV_IO) rather than a SIGBUS.
 */
#ifndef MFKV_IO_LINES_H
#define MFKV_IO_LINES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/diag.h"

typedef struct mfkv_lines {
    const char *path;
    size_t line;            /* number of the line last returned; 0 before the first */
    FILE *f;
    char *buf;
    size_t cap, head, tail; /* unread bytes are buf[head..tail) */
    int eof;
    int regular;            /* a regular file, whose size at open was size */
    uintmax_t size, bytes_read;
} mfkv_lines;

/* The buffer holds this many bytes past the end of every line handed out,
 * zeros past the file's end, so a parser may read a whole word at a time
 * (digits.h) without checking for the line's end first. */
#define MFKV_LINES_SLACK 64

/* A line longer than this is refused rather than buffered whole. */
#define MFKV_MAX_LINE_LEN ((size_t)64 << 20)

/* Open @p path for reading; MFKV_IO with the path in the diag on failure,
 * when nothing is left to close (closing again is harmless). */
int mfkv_lines_open(mfkv_lines *r, const char *path, mfkv_diag *d);
void mfkv_lines_close(mfkv_lines *r);

/* The next line, without its line end, in *s and *len; valid until the next
 * call.  Returns MFKV_OK, MFKV_NOTFOUND at the end of the file, or MFKV_IO
 * (also when a regular file ends before the size it had when opened),
 * MFKV_NOMEM, MFKV_LIMIT (a line longer than MFKV_MAX_LINE_LEN). */
int mfkv_lines_next(mfkv_lines *r, const char **s, size_t *len, mfkv_diag *d);

/* The unread whole lines, for a caller that splits them itself (in
 * parallel): all up to the last "\n" in the buffer, or to the end of the
 * file; MFKV_NOTFOUND at the end.  The buffer is first grown to @p want
 * bytes, so a block is about that long.  The lines are not counted and keep
 * their "\r\n" (and a byte order mark only mfkv_lines_next drops, so line
 * 1 is read with it): the caller adds the lines of the block to r->line, which
 * later messages of mfkv_lines_next and this function name.  Errors as for
 * mfkv_lines_next. */
int mfkv_lines_block(mfkv_lines *r, size_t want, const char **s, size_t *len, mfkv_diag *d);

/* Call @p fn on every line of @p path (its number in r->line), stopping at
 * the first non-zero status, which is returned; *n_lines receives the
 * number of lines read. */
typedef int (*mfkv_line_fn)(void *ctx, const mfkv_lines *r, const char *s, size_t len,
                            mfkv_diag *d);
int mfkv_lines_each(const char *path, mfkv_line_fn fn, void *ctx, size_t *n_lines, mfkv_diag *d);

#endif
