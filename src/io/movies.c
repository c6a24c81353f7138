#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "format.h"
#include "mfkv.h"
#include "ratings.h"
#include "table.h"
#include "utf8.h"

enum { COL_ID, COL_TITLE, COL_GENRES, N_COLS };

/* `.dat` files have no header; these names stand in for one in messages. */
static const char *const dat_names[N_COLS] = {"id", "title", "genres"};

static const char *const id_candidates[] = {"movieId", "item_id", "item", "id", NULL};
static const char *const title_candidates[] = {"title", NULL};
static const char *const genres_candidates[] = {"genres", NULL};

typedef struct loader {
    mfkv_table table;
    mfkv_movies *out;
    uint32_t cap;
    int col[N_COLS]; /* field index of each column; genres -1 if absent */
    char *utf8;      /* a `.dat` line converted from Latin-1 */
    size_t utf8_cap;
} loader;

static int find_columns(loader *ld, mfkv_diag *d)
{
    const char *const *candidates[N_COLS] = {id_candidates, title_candidates, genres_candidates};
    int rc = MFKV_OK;
    for (int c = 0; !rc && c < N_COLS; c++)
        rc = mfkv_table_column(&ld->table, c, dat_names[c], NULL, candidates[c], c != COL_GENRES,
                               &ld->col[c], d);
    return rc;
}

/* MovieLens 1M writes Latin-1.  A line that is already valid UTF-8 is kept:
 * Latin-1 accented text is practically never valid UTF-8, while converting
 * UTF-8 again would garble it. */
static int to_utf8(loader *ld, const char **s, size_t *len, mfkv_diag *d)
{
    if (mfkv_utf8_invalid_at(*s, *len) == *len) return MFKV_OK;
    if (ld->utf8_cap < 2 * *len) {
        char *buf = realloc(ld->utf8, 2 * *len);
        if (!buf) return mfkv_fail(d, MFKV_NOMEM, "%s: out of memory", ld->table.path);
        ld->utf8 = buf;
        ld->utf8_cap = 2 * *len;
    }
    *len = mfkv_latin1_to_utf8(*s, *len, ld->utf8);
    *s = ld->utf8;
    return MFKV_OK;
}

static int append(loader *ld, uint32_t title, uint32_t genres)
{
    mfkv_movies *m = ld->out;
    if (m->ids.n > ld->cap) {
        uint32_t cap = ld->cap ? ld->cap * 2 : 1024;
        uint32_t *t = realloc(m->title, cap * sizeof *t);
        if (t) m->title = t;
        uint32_t *g = realloc(m->genres, cap * sizeof *g);
        if (g) m->genres = g;
        if (!t || !g) return MFKV_NOMEM;
        ld->cap = cap;
    }
    m->title[m->ids.n - 1] = title;
    m->genres[m->ids.n - 1] = genres;
    return MFKV_OK;
}

static int load_line(loader *ld, mfkv_diag *d)
{
    mfkv_table *t = &ld->table;
    size_t line = t->lines.line;
    const char *s = t->line;
    size_t len = t->len;
    int rc = t->dat ? to_utf8(ld, &s, &len, d) : MFKV_OK;
    if (!rc) rc = mfkv_table_split(t, s, len, d);
    if (rc) return rc;
    const char *const *f = t->fields.s;
    const size_t *flen = t->fields.len;
    const char *const *names = t->names;
    int ci = ld->col[COL_ID], ct = ld->col[COL_TITLE], cg = ld->col[COL_GENRES];
    mfkv_where at = {t->path, line, names[ci]};
    if ((rc = mfkv_check_id(&at, f[ci], flen[ci], d))) return rc;
    /* A `.dat` line is valid UTF-8 once to_utf8 is done with it, and so is
     * each of its fields (split at ASCII "::"): only a text too long can
     * fail there, and checking the bytes again was a tenth of a load. */
    at.field = names[ct];
    if ((!t->dat || flen[ct] > MFKV_MAX_TEXT_LEN) && (rc = mfkv_check_text(&at, f[ct], flen[ct], d)))
        return rc;
    at.field = cg >= 0 ? names[cg] : NULL;
    if (cg >= 0 && (!t->dat || flen[cg] > MFKV_MAX_TEXT_LEN) &&
        (rc = mfkv_check_text(&at, f[cg], flen[cg], d)))
        return rc;

    mfkv_movies *m = ld->out;
    uint32_t id, title, genres;
    int added;
    at.field = names[ci];
    if ((rc = mfkv_add_id(&at, &m->ids, f[ci], flen[ci], &id, &added, d))) return rc;
    if (!added) {
        char q[MFKV_QUOTE_LEN];
        return mfkv_fail_at(d, &at, "movie \"%s\" appears twice", mfkv_quote(q, f[ci], flen[ci]));
    }
    if ((rc = mfkv_idtab_intern(&m->text, f[ct], flen[ct], &title, NULL)) ||
        (rc = mfkv_idtab_intern(&m->text, cg >= 0 ? f[cg] : "", cg >= 0 ? flen[cg] : 0, &genres,
                                NULL)) ||
        (rc = append(ld, title, genres)))
        return mfkv_fail(d, rc, "%s:%zu: too much text or out of memory", t->path, line);
    return MFKV_OK;
}

static int load(loader *ld, const char *path, mfkv_diag *d)
{
    int rc = mfkv_table_open(&ld->table, path, dat_names, N_COLS, "movies", d);
    if (!rc) rc = find_columns(ld, d);
    while (!rc && (rc = mfkv_table_next(&ld->table, d)) == MFKV_OK) rc = load_line(ld, d);
    if (rc != MFKV_NOTFOUND) return rc;
    if (ld->out->ids.n == 0)
        return mfkv_fail(d, MFKV_PARSE, "%s: no movies after the header", path);
    return MFKV_OK;
}

int mfkv_movies_load(const char *path, mfkv_movies *out, mfkv_diag *d)
{
    memset(out, 0, sizeof *out);
    loader ld = {.out = out};
    int rc = load(&ld, path, d);
    mfkv_table_close(&ld.table);
    free(ld.utf8);
    if (rc) mfkv_movies_free(out);
    return rc;
}

void mfkv_movies_free(mfkv_movies *m)
{
    if (!m) return;
    mfkv_idtab_free(&m->ids);
    mfkv_idtab_free(&m->text);
    free(m->title);
    free(m->genres);
    memset(m, 0, sizeof *m);
}
