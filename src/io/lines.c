#include "lines.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mfkv.h"

/* Read, not mapped: a mapped file that shrinks while it is parsed kills the
 * process with SIGBUS on the first vanished page, and no check before a read
 * can rule that out.  Copying 1 MiB blocks out of the page cache cost about
 * as much as faulting in a populated mapping (within the noise of a ratings
 * load, tools/BENCHMARKS.md), and a short read is an error like any other. */
enum { READ_CHUNK = 1 << 20 };

int mfkv_lines_open(mfkv_lines *r, const char *path, mfkv_diag *d)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->f = fopen(path, "rb");
    if (!r->f) return mfkv_fail_errno(d, "%s: cannot open", path);
    struct stat st;
    if (fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode)) {
        r->regular = 1;
        r->size = (uintmax_t)st.st_size;
    }
    r->cap = READ_CHUNK;
    r->buf = malloc(r->cap + MFKV_LINES_SLACK);
    if (!r->buf) {
        mfkv_lines_close(r);
        return mfkv_fail(d, MFKV_NOMEM, "%s: out of memory", path);
    }
    return MFKV_OK;
}

void mfkv_lines_close(mfkv_lines *r)
{
    if (r->f) fclose(r->f);
    free(r->buf);
    r->f = NULL;
    r->buf = NULL;
}

/* Move the unread bytes to the front, grow the buffer when a single line
 * fills it, and read more. */
static int refill(mfkv_lines *r, mfkv_diag *d)
{
    size_t unread = r->tail - r->head;
    memmove(r->buf, r->buf + r->head, unread);
    r->head = 0;
    r->tail = unread;
    if (r->tail == r->cap) {
        if (r->cap >= MFKV_MAX_LINE_LEN)
            return mfkv_fail(d, MFKV_LIMIT, "%s:%zu: line longer than %zu bytes", r->path,
                             r->line + 1, (size_t)MFKV_MAX_LINE_LEN);
        char *buf = realloc(r->buf, r->cap * 2 + MFKV_LINES_SLACK);
        if (!buf) return mfkv_fail(d, MFKV_NOMEM, "%s:%zu: out of memory", r->path, r->line + 1);
        r->buf = buf;
        r->cap *= 2;
    }
    size_t got = fread(r->buf + r->tail, 1, r->cap - r->tail, r->f);
    r->tail += got;
    r->bytes_read += got;
    memset(r->buf + r->tail, 0, MFKV_LINES_SLACK);
    if (got == 0) {
        if (ferror(r->f)) return mfkv_fail_errno(d, "%s:%zu: read error", r->path, r->line + 1);
        /* A file that grew is read to its new end; one that shrank has lost
         * lines that were there when it was opened. */
        if (r->regular && r->bytes_read < r->size)
            return mfkv_fail(d, MFKV_IO, "%s: the file shrank while it was read (%ju of %ju bytes)",
                             r->path, r->bytes_read, r->size);
        r->eof = 1;
    }
    return MFKV_OK;
}

int mfkv_lines_next(mfkv_lines *r, const char **s, size_t *len, mfkv_diag *d)
{
    size_t scanned = 0; /* bytes of the current line already searched */
    char *nl;
    while (!(nl = memchr(r->buf + r->head + scanned, '\n', r->tail - r->head - scanned))) {
        if (r->eof) break;
        scanned = r->tail - r->head;
        int rc = refill(r, d);
        if (rc) return rc;
    }
    if (!nl && r->head == r->tail) return MFKV_NOTFOUND;
    char *start = r->buf + r->head;
    size_t n = nl ? (size_t)(nl - start) : r->tail - r->head;
    r->head += nl ? n + 1 : n;
    if (++r->line == 1 && n >= 3 && memcmp(start, "\xEF\xBB\xBF", 3) == 0) {
        start += 3;
        n -= 3;
    }
    if (n && start[n - 1] == '\r') n--;
    *s = start;
    *len = n;
    return MFKV_OK;
}

int mfkv_lines_block(mfkv_lines *r, size_t want, const char **s, size_t *len, mfkv_diag *d)
{
    /* Powers of two, as refill doubles from READ_CHUNK: the buffer then
     * reaches MFKV_MAX_LINE_LEN exactly, and the longest line is the same
     * whatever the block. */
    while (want & (want - 1)) want += want & -want;
    if (want > MFKV_MAX_LINE_LEN) want = MFKV_MAX_LINE_LEN;
    if (r->cap < want) {
        char *buf = realloc(r->buf, want + MFKV_LINES_SLACK);
        if (!buf) return mfkv_fail(d, MFKV_NOMEM, "%s:%zu: out of memory", r->path, r->line + 1);
        r->buf = buf;
        r->cap = want;
    }
    /* Read only when no whole line is left, as mfkv_lines_next does: a read
     * error or a shrunk file is then reported after every line before it. */
    for (;;) {
        size_t unread = r->tail - r->head;
        const char *nl = unread ? memrchr(r->buf + r->head, '\n', unread) : NULL;
        if (nl || (r->eof && unread)) {
            *s = r->buf + r->head;
            *len = nl ? (size_t)(nl - *s) + 1 : unread;
            r->head += *len;
            return MFKV_OK;
        }
        if (r->eof) return MFKV_NOTFOUND;
        int rc = refill(r, d);
        if (rc) return rc;
    }
}

int mfkv_lines_each(const char *path, mfkv_line_fn fn, void *ctx, size_t *n_lines, mfkv_diag *d)
{
    mfkv_lines in;
    int rc = mfkv_lines_open(&in, path, d);
    while (!rc) {
        const char *s;
        size_t len;
        rc = mfkv_lines_next(&in, &s, &len, d);
        if (rc == MFKV_NOTFOUND) {
            rc = MFKV_OK;
            break;
        }
        if (!rc) rc = fn(ctx, &in, s, len, d);
    }
    *n_lines = in.line;
    mfkv_lines_close(&in);
    return rc;
}
