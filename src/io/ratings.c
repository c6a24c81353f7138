#include "ratings.h"

#include <stdlib.h>
#include <string.h>

#include "../common/u64set.h"
#include "fields.h"
#include "mfkv.h"
#include "table.h"

enum { COL_USER, COL_ITEM, COL_RATING, COL_TIMESTAMP, N_COLS };

/* `.dat` files have no header; these names stand in for one in messages. */
static const char *const dat_names[N_COLS] = {"user", "item", "rating", "timestamp"};

static const char *const user_candidates[] = {"user_id", "userId", "user", NULL};
static const char *const item_candidates[] = {"item_id", "movieId", "item", NULL};
static const char *const rating_candidates[] = {"rating", NULL};
static const char *const timestamp_candidates[] = {"timestamp", NULL};

typedef struct loader {
    mfkv_table table;
    mfkv_ratings *out;
    size_t cap;
    int col[N_COLS]; /* field index of each column; timestamp -1 if absent */
    mfkv_u64set pairs;
} loader;

static int find_columns(loader *ld, const mfkv_ratings_opts *opts, mfkv_diag *d)
{
    const char *wanted[N_COLS] = {opts->user_col, opts->item_col, opts->rating_col, NULL};
    const char *const *candidates[N_COLS] = {user_candidates, item_candidates, rating_candidates,
                                             timestamp_candidates};
    int rc = MFKV_OK;
    for (int c = 0; !rc && c < N_COLS; c++)
        rc = mfkv_table_column(&ld->table, c, dat_names[c], wanted[c], candidates[c],
                               c != COL_TIMESTAMP, &ld->col[c], d);
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
static int load_line(loader *ld, mfkv_diag *d)
{
    mfkv_table *t = &ld->table;
    size_t line = t->lines.line;
    int rc = mfkv_table_split(t, t->line, t->len, d);
    if (rc) return rc;
    const char *const *f = t->fields.s;
    const size_t *flen = t->fields.len;
    const char *const *names = t->names;
    int cu = ld->col[COL_USER], ci = ld->col[COL_ITEM], cr = ld->col[COL_RATING],
        ct = ld->col[COL_TIMESTAMP];
    mfkv_where at = {t->path, line, names[cu]};
    if ((rc = mfkv_check_id(&at, f[cu], flen[cu], d))) return rc;
    at.field = names[ci];
    if ((rc = mfkv_check_id(&at, f[ci], flen[ci], d))) return rc;
    float rating;
    at.field = names[cr];
    if ((rc = mfkv_parse_float(&at, f[cr], flen[cr], &rating, d))) return rc;
    int64_t timestamp = 0;
    at.field = ct >= 0 ? names[ct] : NULL;
    if (ct >= 0 && flen[ct] && (rc = mfkv_parse_int64(&at, f[ct], flen[ct], &timestamp, d)))
        return rc;

    uint32_t user, item;
    int added;
    at.field = names[cu];
    if ((rc = mfkv_add_id(&at, &ld->out->users, f[cu], flen[cu], &user, NULL, d))) return rc;
    at.field = names[ci];
    if ((rc = mfkv_add_id(&at, &ld->out->items, f[ci], flen[ci], &item, NULL, d))) return rc;
    if ((rc = mfkv_u64set_add(&ld->pairs, (uint64_t)user << 32 | item, &added)))
        return mfkv_fail(d, rc, "%s: out of memory", t->path);
    if (!added) {
        char qu[MFKV_QUOTE_LEN], qi[MFKV_QUOTE_LEN];
        return mfkv_fail_at(d, &at, "user \"%s\" rated item \"%s\" on an earlier line too",
                            mfkv_quote(qu, f[cu], flen[cu]), mfkv_quote(qi, f[ci], flen[ci]));
    }
    if ((rc = append(ld, user, item, rating, timestamp)))
        return mfkv_fail(d, rc, "%s: out of memory", t->path);
    return MFKV_OK;
}

static int load(loader *ld, const char *path, mfkv_ratings_opts *opts, mfkv_diag *d)
{
    int rc = mfkv_table_open(&ld->table, path, dat_names, N_COLS, "ratings", d);
    if (!rc) rc = find_columns(ld, opts, d);
    if (rc) return rc;
    /* Under skip_invalid the reason a line is left out is not wanted. */
    mfkv_diag ignored;
    while ((rc = mfkv_table_next(&ld->table, d)) == MFKV_OK) {
        rc = load_line(ld, opts->skip_invalid ? &ignored : d);
        if (rc == MFKV_PARSE && opts->skip_invalid)
            opts->skipped++;
        else if (rc)
            return rc;
    }
    if (rc != MFKV_NOTFOUND) return rc;
    if (ld->out->n == 0)
        return mfkv_fail(d, MFKV_PARSE, "%s: no ratings%s", path,
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
    loader ld = {.out = out};
    int rc = load(&ld, path, opts, d);
    mfkv_table_close(&ld.table);
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
