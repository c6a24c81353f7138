#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mfkv.h"

/* The next line that is not blank. */
static int next_line(mfkv_table *t, mfkv_diag *d)
{
    int rc;
    while ((rc = mfkv_lines_next(&t->lines, &t->line, &t->len, d)) == MFKV_OK && t->len == 0)
        ;
    return rc;
}

static int read_header(mfkv_table *t, mfkv_diag *d)
{
    int rc = mfkv_split_line(&t->fields, t->line, t->len);
    if (rc == MFKV_PARSE) {
        char num[24];
        snprintf(num, sizeof num, "#%zu", t->fields.n + 1);
        mfkv_where w = {t->path, t->lines.line, num};
        return mfkv_fail_at(d, &w, "malformed quoting in the header");
    }
    if (!rc && !(t->header = calloc(t->fields.n, sizeof *t->header))) rc = MFKV_NOMEM;
    for (size_t i = 0; !rc && i < t->fields.n; i++, t->n_cols++)
        if (!(t->header[i] = strndup(t->fields.s[i], t->fields.len[i]))) rc = MFKV_NOMEM;
    if (rc) return mfkv_fail(d, rc, "%s: out of memory", t->path);
    t->names = (const char *const *)t->header;
    return MFKV_OK;
}

int mfkv_table_open(mfkv_table *t, const char *path, const char *const *dat_names, size_t n_dat,
                    const char *what, mfkv_diag *d)
{
    memset(t, 0, sizeof *t);
    t->path = path;
    int rc = mfkv_lines_open(&t->lines, path, d);
    if (!rc) rc = next_line(t, d);
    if (rc == MFKV_NOTFOUND) return mfkv_fail(d, MFKV_PARSE, "%s: empty file, no %s", path, what);
    if (rc) return rc;
    if (mfkv_split_init(&t->fields, t->line, t->len)) return read_header(t, d);
    t->dat = 1;
    t->first_pending = 1;
    t->n_cols = n_dat;
    t->names = dat_names;
    return MFKV_OK;
}

void mfkv_table_close(mfkv_table *t)
{
    mfkv_lines_close(&t->lines);
    mfkv_split_free(&t->fields);
    if (t->header)
        for (size_t i = 0; i < t->n_cols; i++) free(t->header[i]);
    free(t->header);
    t->header = NULL;
}

int mfkv_table_column(const mfkv_table *t, int dat_index, const char *role, const char *wanted,
                      const char *const *candidates, int required, int *col, mfkv_diag *d)
{
    *col = -1;
    if (t->dat) {
        *col = dat_index;
        return MFKV_OK;
    }
    const char *one[] = {wanted, NULL};
    for (const char *const *c = wanted ? one : candidates; *c && *col < 0; c++)
        for (size_t i = 0; i < t->n_cols && *col < 0; i++)
            if (strcasecmp(t->names[i], *c) == 0) *col = (int)i;
    if (*col >= 0 || !required) return MFKV_OK;
    /* The header is the first line read: a `.dat` file never gets here. */
    mfkv_where w = {t->path, t->lines.line, wanted ? wanted : role};
    if (wanted) return mfkv_fail_at(d, &w, "no such column in the header");
    char list[128] = "";
    for (const char *const *c = candidates; *c; c++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                 c == candidates ? "" : (c[1] ? ", " : " or "), *c);
    return mfkv_fail_at(d, &w, "the header has no column named %s", list);
}

int mfkv_table_next(mfkv_table *t, mfkv_diag *d)
{
    if (t->first_pending) {
        t->first_pending = 0;
        return MFKV_OK;
    }
    return next_line(t, d);
}

int mfkv_table_split(mfkv_table *t, const char *s, size_t len, mfkv_diag *d)
{
    mfkv_where row = {t->path, t->lines.line, NULL};
    return mfkv_split_row(&t->fields, s, len, t->n_cols, t->names, &row, d);
}
