#include "lines.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "mfkv.h"

enum { READ_CHUNK = 1 << 20 };

int mfkv_lines_open(mfkv_lines *r, const char *path, mfkv_diag *d)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->f = fopen(path, "rb");
    if (!r->f) return mfkv_fail_errno(d, "%s: cannot open", path);
    struct stat st;
    /* A file that one read fills is read: mapping and faulting in its pages
     * costs more than copying them (movies.dat loaded ~20% slower mapped). */
    if (fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > READ_CHUNK &&
        (uintmax_t)st.st_size <= SIZE_MAX) {
        /* MAP_POPULATE: the pages are all wanted, one call maps them. */
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fileno(r->f), 0);
        if (map != MAP_FAILED) {
            r->buf = map;
            r->cap = r->tail = (size_t)st.st_size;
            r->eof = r->mapped = 1;
            return MFKV_OK;
        }
        /* Not mappable (some file systems): read it instead. */
    }
    r->cap = READ_CHUNK;
    r->buf = malloc(r->cap);
    if (!r->buf) {
        mfkv_lines_close(r);
        return mfkv_fail(d, MFKV_NOMEM, "%s: out of memory", path);
    }
    return MFKV_OK;
}

void mfkv_lines_close(mfkv_lines *r)
{
    if (r->f) fclose(r->f);
    if (r->mapped)
        munmap(r->buf, r->cap);
    else
        free(r->buf);
    r->mapped = 0;
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
        char *buf = realloc(r->buf, r->cap * 2);
        if (!buf) return mfkv_fail(d, MFKV_NOMEM, "%s:%zu: out of memory", r->path, r->line + 1);
        r->buf = buf;
        r->cap *= 2;
    }
    size_t got = fread(r->buf + r->tail, 1, r->cap - r->tail, r->f);
    r->tail += got;
    if (got == 0) {
        if (ferror(r->f)) return mfkv_fail_errno(d, "%s:%zu: read error", r->path, r->line + 1);
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
    /* The limit a read file meets when a line fills the largest buffer. */
    if (r->mapped && n >= MFKV_MAX_LINE_LEN)
        return mfkv_fail(d, MFKV_LIMIT, "%s:%zu: line longer than %zu bytes", r->path, r->line + 1,
                         (size_t)MFKV_MAX_LINE_LEN);
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
