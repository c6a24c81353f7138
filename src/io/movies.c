#include <stdlib.h>
#include <string.h>

#include "fieldcheck.h"
#include "fields.h"
#include "lines.h"
#include "mfkv.h"
#include "ratings.h"
#include "utf8.h"

enum { COL_ID, COL_TITLE, COL_GENRES, N_COLS };

/* `.dat` files have no header; these names stand in for one in messages. */
static const char *const dat_names[N_COLS] = {"id", "title", "genres"};

static const char *const id_candidates[] = {"movieId", "item_id", "item", "id", NULL};
static const char *const title_candidates[] = {"title", NULL};
static const char *const genres_candidates[] = {"genres", NULL};

typedef struct loader {
    const char *path;
    mfkv_movies *out;
    uint32_t cap;
    mfkv_lines lines;
    mfkv_fields fields;
    mfkv_header header;
    size_t n_fields;          /* fields on every line */
    const char *const *names; /* their names */
    int col[N_COLS];          /* field index of each column; genres -1 if absent */
    int latin1;               /* a `.dat` file: text is Latin-1 */
    char *utf8;               /* a line converted from Latin-1 */
    size_t utf8_cap;
} loader;

static int read_header(loader *ld, const char *s, size_t len, mfkv_diag *d)
{
    int rc = mfkv_header_read(&ld->header, &ld->fields, s, len, ld->path, ld->lines.line, d);
    if (!rc)
        rc = mfkv_header_require(&ld->header, dat_names[COL_ID], NULL, id_candidates, ld->path,
                                 ld->lines.line, &ld->col[COL_ID], d);
    if (!rc)
        rc = mfkv_header_require(&ld->header, dat_names[COL_TITLE], NULL, title_candidates,
                                 ld->path, ld->lines.line, &ld->col[COL_TITLE], d);
    ld->col[COL_GENRES] = mfkv_header_find(&ld->header, NULL, genres_candidates);
    ld->n_fields = ld->header.n;
    ld->names = (const char *const *)ld->header.names;
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
        if (!buf) return mfkv_fail(d, MFKV_NOMEM, "%s: out of memory", ld->path);
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

static int load_line(loader *ld, const char *s, size_t len, mfkv_diag *d)
{
    size_t line = ld->lines.line;
    int rc = ld->latin1 ? to_utf8(ld, &s, &len, d) : MFKV_OK;
    if (!rc) rc = mfkv_fields_row(&ld->fields, s, len, ld->n_fields, ld->names, ld->path, line, d);
    if (rc) return rc;
    const char *const *f = ld->fields.s;
    const size_t *flen = ld->fields.len;
    int ci = ld->col[COL_ID], ct = ld->col[COL_TITLE], cg = ld->col[COL_GENRES];
    mfkv_fieldloc at = {ld->path, line, ld->names[ci]};
    if ((rc = mfkv_check_id(&at, f[ci], flen[ci], d))) return rc;
    at.field = ld->names[ct];
    if ((rc = mfkv_check_text(&at, f[ct], flen[ct], d))) return rc;
    at.field = cg >= 0 ? ld->names[cg] : NULL;
    if (cg >= 0 && (rc = mfkv_check_text(&at, f[cg], flen[cg], d))) return rc;

    mfkv_movies *m = ld->out;
    uint32_t id, title, genres;
    int added;
    if ((rc = mfkv_idtab_intern(&m->ids, f[ci], flen[ci], &id, &added)))
        return mfkv_fail(d, rc, "%s:%zu: too many ids or out of memory", ld->path, line);
    if (!added)
        return mfkv_fail(d, MFKV_PARSE, "%s:%zu: field %s: movie \"%s\" appears twice", ld->path,
                         line, ld->names[ci], mfkv_idtab_str(&m->ids, id, NULL));
    if ((rc = mfkv_idtab_intern(&m->text, f[ct], flen[ct], &title, NULL)) ||
        (rc = mfkv_idtab_intern(&m->text, cg >= 0 ? f[cg] : "", cg >= 0 ? flen[cg] : 0, &genres,
                                NULL)) ||
        (rc = append(ld, title, genres)))
        return mfkv_fail(d, rc, "%s:%zu: too much text or out of memory", ld->path, line);
    return MFKV_OK;
}

static int load(loader *ld, mfkv_diag *d)
{
    const char *s;
    size_t len;
    int rc = mfkv_lines_next(&ld->lines, &s, &len, d);
    if (rc == MFKV_NOTFOUND) return mfkv_fail(d, MFKV_PARSE, "%s: empty file, no movies", ld->path);
    if (rc) return rc;
    if (mfkv_fields_init(&ld->fields, s, len)) {
        if ((rc = read_header(ld, s, len, d))) return rc;
        rc = mfkv_lines_next(&ld->lines, &s, &len, d);
    } else {
        ld->n_fields = N_COLS;
        ld->names = dat_names;
        for (int c = 0; c < N_COLS; c++) ld->col[c] = c;
        ld->latin1 = 1;
    }
    for (; rc == MFKV_OK; rc = mfkv_lines_next(&ld->lines, &s, &len, d))
        if ((rc = load_line(ld, s, len, d))) return rc;
    if (rc != MFKV_NOTFOUND) return rc;
    if (ld->out->ids.n == 0)
        return mfkv_fail(d, MFKV_PARSE, "%s: no movies after the header", ld->path);
    return MFKV_OK;
}

int mfkv_movies_load(const char *path, mfkv_movies *out, mfkv_diag *d)
{
    memset(out, 0, sizeof *out);
    loader ld = {.path = path, .out = out};
    int rc = mfkv_lines_open(&ld.lines, path, d);
    if (rc) return rc;
    rc = load(&ld, d);
    mfkv_lines_close(&ld.lines);
    mfkv_fields_free(&ld.fields);
    mfkv_header_free(&ld.header);
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
