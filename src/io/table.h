/*
 * table.h - reading a delimited text file as rows of named columns.
 *
 * What the rating and movie loaders share: open the file, tell a MovieLens
 * `.dat` file (no header, fixed columns) from CSV/TSV with a header by its
 * first line, find columns by name, and hand out lines to be split.  Blank
 * lines are skipped (editors and exports often leave one at the end), but
 * still count in line numbers.
 */
#ifndef MFKV_IO_TABLE_H
#define MFKV_IO_TABLE_H

#include <stddef.h>

#include "../common/diag.h"
#include "lines.h"
#include "split.h"

typedef struct mfkv_table {
    const char *path;
    mfkv_lines lines;
    mfkv_split fields;
    size_t n_cols;            /* fields on every row */
    const char *const *names; /* their names: the header's, or the `.dat` ones */
    int dat;                  /* a `.dat` file: no header */
    const char *line;         /* the current line, lines.line its number */
    size_t len;
    int first_pending;        /* the first line of a `.dat` file is a row not yet returned */
    char **header;            /* owned copies of the header's names */
} mfkv_table;

/* Open @p path and read its first non-blank line.  In a `.dat` file it is the first
 * row, of @p n_dat fields named @p dat_names; otherwise it is the header.
 * An empty file fails naming @p what ("ratings").  Call mfkv_table_close
 * whatever this returns. */
int mfkv_table_open(mfkv_table *t, const char *path, const char *const *dat_names, size_t n_dat,
                    const char *what, mfkv_diag *d);
void mfkv_table_close(mfkv_table *t);

/*
 * The field index of a column in *col.  For a `.dat` file it is @p dat_index.
 * Otherwise it is the header column named @p wanted, or when @p wanted is
 * NULL the first of @p candidates (NULL-terminated, in order of preference)
 * present, comparing names without regard to ASCII case.  A column not there
 * gives *col = -1, which is an error naming @p role when @p required.
 */
int mfkv_table_column(const mfkv_table *t, int dat_index, const char *role, const char *wanted,
                      const char *const *candidates, int required, int *col, mfkv_diag *d);

/* Advance to the next non-blank row's line (t->line, t->len).  MFKV_OK, MFKV_NOTFOUND
 * at the end, or an I/O status. */
int mfkv_table_next(mfkv_table *t, mfkv_diag *d);

/* Split @p s (the current line, or a converted copy of it) into t->fields,
 * checking the field count (see mfkv_split_row). */
int mfkv_table_split(mfkv_table *t, const char *s, size_t len, mfkv_diag *d);

#endif
