#include "lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mfkv.h"

int mfkv_lines_open(mfkv_lines *r, const char *path, mfkv_diag *d)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->f = fopen(path, "rb");
    if (!r->f) return mfkv_fail_errno(d, "%s: cannot open", path);
    return MFKV_OK;
}

int mfkv_lines_next(mfkv_lines *r, const char **s, size_t *len, mfkv_diag *d)
{
    *s = NULL;
    *len = 0;
    errno = 0;
    ssize_t n = getline(&r->buf, &r->cap, r->f);
    if (n < 0) {
        if (errno == ENOMEM)
            return mfkv_fail(d, MFKV_NOMEM, "%s:%zu: out of memory", r->path, r->line + 1);
        if (ferror(r->f)) return mfkv_fail_errno(d, "%s:%zu: read error", r->path, r->line + 1);
        return MFKV_OK;
    }
    char *p = r->buf;
    size_t k = (size_t)n;
    if (r->line++ == 0 && k >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3;
        k -= 3;
    }
    if (k && p[k - 1] == '\n') k--;
    if (k && p[k - 1] == '\r') k--;
    *s = p;
    *len = k;
    return MFKV_OK;
}

void mfkv_lines_close(mfkv_lines *r)
{
    if (r->f) fclose(r->f);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

int mfkv_lines_each(const char *path, mfkv_line_fn fn, void *ctx, size_t *n_lines, mfkv_diag *d)
{
    mfkv_lines in;
    int rc = mfkv_lines_open(&in, path, d);
    if (rc) return rc;
    for (;;) {
        const char *s;
        size_t len;
        if ((rc = mfkv_lines_next(&in, &s, &len, d)) || !s) break;
        if ((rc = fn(ctx, &in, s, len, d))) break;
    }
    *n_lines = in.line;
    mfkv_lines_close(&in);
    return rc;
}
