/*
 * lines.h - buffered reading of a text file line by line.
 *
 * Rating logs run to tens of millions of lines, so lines are handed out as
 * views into one reusable buffer instead of being copied.  A UTF-8 byte order
 * mark before line 1 and a CR before each LF are dropped; empty lines are
 * skipped (editors and exports often leave one at the end), but still count
 * in line numbers.
 */
#ifndef MFKV_IO_LINES_H
#define MFKV_IO_LINES_H

#include <stddef.h>
#include <stdio.h>

#include "../common/diag.h"

typedef struct mfkv_lines {
    const char *path;
    size_t line;         /* number of the line last returned, from 1 */
    FILE *f;
    char *buf;
    size_t cap, head, tail; /* unread bytes are buf[head..tail) */
    int eof;
} mfkv_lines;

int mfkv_lines_open(mfkv_lines *r, const char *path, mfkv_diag *d);
void mfkv_lines_close(mfkv_lines *r);

/* The next non-empty line, without its line end; valid until the next call.
 * Returns MFKV_OK, MFKV_NOTFOUND at the end of the file, or MFKV_IO,
 * MFKV_NOMEM, MFKV_LIMIT (a line longer than MFKV_MAX_LINE_LEN). */
int mfkv_lines_next(mfkv_lines *r, const char **s, size_t *len, mfkv_diag *d);

#define MFKV_MAX_LINE_LEN ((size_t)64 << 20)

#endif
