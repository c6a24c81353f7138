#include "ratings.h"

#include <stdlib.h>
#include <string.h>

#include "../common/u64set.h"
#include "fieldcheck.h"
#include "fields.h"
#include "lines.h"
#include "mfkv.h"

enum { COL_USER, COL_ITEM, COL_RATING, COL_TIMESTAMP, N_COLS };

/* `.dat` files have no header; these names stand in for one in messages. */
static const char *const dat_names[N_COLS] = {"user", "item", "rating", "timestamp"};

static const char *const user_candidates[] = {"user_id", "userId", "user", NULL};
static const char *const item_candidates[] = {"item_id", "movieId", "item", NULL};
static const char *const rating_candidates[] = {"rating", NULL};
static const char *const timestamp_candidates[] = {"timestamp", NULL};

typedef struct loader {
    const char *path;
    mfkv_ratings *out;
    size_t cap;
    mfkv_lines lines;
    mfkv_fields fields;
    mfkv_header header;
    size_t n_fields;          /* fields on every line */
    const char *const *names; /* their names */
    int col[N_COLS];          /* field index of each column; timestamp -1 if absent */
    mfkv_u64set pairs;
} loader;

static int read_header(loader *ld, const mfkv_ratings_opts *opts, const char *s, size_t len,
                       mfkv_diag *d)
{
    int rc = mfkv_header_read(&ld->header, &ld->fields, s, len, ld->path, ld->lines.line, d);
    const char *wanted[] = {opts->user_col, opts->item_col, opts->rating_col};
    const char *const *candidates[] = {user_candidates, item_candidates, rating_candidates};
    for (int c = COL_USER; !rc && c <= COL_RATING; c++)
        rc = mfkv_header_require(&ld->header, dat_names[c], wanted[c], candidates[c], ld->path,
                                 ld->lines.line, &ld->col[c], d);
    ld->col[COL_TIMESTAMP] = mfkv_header_find(&ld->header, NULL, timestamp_candidates);
    ld->n_fields = ld->header.n;
    ld->names = (const char *const *)ld->header.names;
    return rc;
}

static int append(loader *ld, uint32_t user, uint32_t item, float rating, int64_t timestamp)
{
    mfkv_ratings *r = ld->out;
    if (r->n == ld->cap) {
        size_t cap = ld->cap ? ld->cap * 2 : 4096;
        uint32_t *u = realloc(r->user, cap * sizeof *u);
        if (u) r->user = u;
        uint32_t *i = realloc(r->item, cap * sizeof *i);
        if (i) r->item = i;
        float *v = realloc(r->rating, cap * sizeof *v);
        if (v) r->rating = v;
        int64_t *t = realloc(r->timestamp, cap * sizeof *t);
        if (t) r->timestamp = t;
        if (!u || !i || !v || !t) return MFKV_NOMEM;
        ld->cap = cap;
    }
    r->user[r->n] = user;
    r->item[r->n] = item;
    r->rating[r->n] = rating;
    r->timestamp[r->n] = timestamp;
    r->n++;
    return MFKV_OK;
}

/* Only MFKV_PARSE is a fault of the line; anything else stops the load. */
static int load_line(loader *ld, const char *s, size_t len, mfkv_diag *d)
{
    size_t line = ld->lines.line;
    int rc = mfkv_fields_row(&ld->fields, s, len, ld->n_fields, ld->names, ld->path, line, d);
    if (rc) return rc;
    const char *const *f = ld->fields.s;
    const size_t *flen = ld->fields.len;
    int cu = ld->col[COL_USER], ci = ld->col[COL_ITEM], cr = ld->col[COL_RATING],
        ct = ld->col[COL_TIMESTAMP];
    mfkv_fieldloc at = {ld->path, line, ld->names[cu]};
    if ((rc = mfkv_check_id(&at, f[cu], flen[cu], d))) return rc;
    at.field = ld->names[ci];
    if ((rc = mfkv_check_id(&at, f[ci], flen[ci], d))) return rc;
    float rating;
    at.field = ld->names[cr];
    if ((rc = mfkv_parse_float(&at, f[cr], flen[cr], &rating, d))) return rc;
    int64_t timestamp = 0;
    at.field = ct >= 0 ? ld->names[ct] : NULL;
    if (ct >= 0 && flen[ct] && (rc = mfkv_parse_int64(&at, f[ct], flen[ct], &timestamp, d)))
        return rc;

    uint32_t user, item;
    int added;
    if ((rc = mfkv_idtab_intern(&ld->out->users, f[cu], flen[cu], &user, NULL)) ||
        (rc = mfkv_idtab_intern(&ld->out->items, f[ci], flen[ci], &item, NULL)))
        return mfkv_fail(d, rc, "%s:%zu: too many ids or out of memory", ld->path, line);
    if ((rc = mfkv_u64set_add(&ld->pairs, (uint64_t)user << 32 | item, &added)))
        return mfkv_fail(d, rc, "%s: out of memory", ld->path);
    if (!added)
        return mfkv_fail(d, MFKV_PARSE,
                         "%s:%zu: field %s: user \"%s\" rated item \"%s\" on an earlier line too",
                         ld->path, line, ld->names[ci], mfkv_idtab_str(&ld->out->users, user, NULL),
                         mfkv_idtab_str(&ld->out->items, item, NULL));
    if ((rc = append(ld, user, item, rating, timestamp)))
        return mfkv_fail(d, rc, "%s: out of memory", ld->path);
    return MFKV_OK;
}

static int load(loader *ld, mfkv_ratings_opts *opts, mfkv_diag *d)
{
    const char *s;
    size_t len;
    int rc = mfkv_lines_next(&ld->lines, &s, &len, d);
    if (rc == MFKV_NOTFOUND) return mfkv_fail(d, MFKV_PARSE, "%s: empty file, no ratings", ld->path);
    if (rc) return rc;
    if (mfkv_fields_init(&ld->fields, s, len)) {
        if ((rc = read_header(ld, opts, s, len, d))) return rc;
        rc = mfkv_lines_next(&ld->lines, &s, &len, d);
    } else {
        ld->n_fields = N_COLS;
        ld->names = dat_names;
        for (int c = 0; c < N_COLS; c++) ld->col[c] = c;
    }
    /* Under skip_invalid the reason a line is left out is not wanted. */
    mfkv_diag ignored;
    for (; rc == MFKV_OK; rc = mfkv_lines_next(&ld->lines, &s, &len, d)) {
        rc = load_line(ld, s, len, opts->skip_invalid ? &ignored : d);
        if (rc == MFKV_PARSE && opts->skip_invalid) {
            opts->skipped++;
            continue;
        }
        if (rc) return rc;
    }
    if (rc != MFKV_NOTFOUND) return rc;
    if (ld->out->n == 0)
        return mfkv_fail(d, MFKV_PARSE, "%s: no ratings%s", ld->path,
                         opts->skipped ? " (every line was invalid)" : " after the header");
    return MFKV_OK;
}

int mfkv_ratings_load(const char *path, mfkv_ratings_opts *opts, mfkv_ratings *out,
                      mfkv_diag *d)
{
    mfkv_ratings_opts defaults = {0};
    if (!opts) opts = &defaults;
    opts->skipped = 0;
    memset(out, 0, sizeof *out);
    loader ld = {.path = path, .out = out};
    int rc = mfkv_lines_open(&ld.lines, path, d);
    if (rc) return rc;
    rc = load(&ld, opts, d);
    mfkv_lines_close(&ld.lines);
    mfkv_fields_free(&ld.fields);
    mfkv_header_free(&ld.header);
    mfkv_u64set_free(&ld.pairs);
    if (rc) mfkv_ratings_free(out);
    return rc;
}

void mfkv_ratings_free(mfkv_ratings *r)
{
    if (!r) return;
    free(r->user);
    free(r->item);
    free(r->rating);
    free(r->timestamp);
    mfkv_idtab_free(&r->users);
    mfkv_idtab_free(&r->items);
    memset(r, 0, sizeof *r);
}
