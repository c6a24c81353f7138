/*
 * split.h - splitting lines of delimited text into fields.
 *
 * Two dialects: MovieLens `.dat` files separate fields by "::" and never
 * quote; CSV and TSV separate by one character and may quote a field in
 * double quotes with "" for a quote (RFC 4180, within one line).  Quoted
 * lines go through libcsv; the many lines without a quote are split directly
 * because they dominate large rating logs.
 */
#ifndef MFKV_IO_SPLIT_H
#define MFKV_IO_SPLIT_H

#include <csv.h>
#include <stddef.h>

#include "../common/diag.h"
#include "fields.h"

typedef struct mfkv_split {
    size_t n;            /* fields of the last split line */
    const char **s;      /* s[i], len[i]: field i; valid until the next split */
    size_t *len;
    size_t cap;
    const char *sep;     /* "::", "," or "\t" */
    int quoted;          /* CSV quoting applies */
    unsigned char stop[256]; /* 1 for the bytes that end a run of plain ones: sep[0], a quote */
    char *scratch;       /* unquoted copies of the fields of a quoted line */
    size_t scratch_len, scratch_cap;
    struct csv_parser csv;
    int csv_ready, status;
} mfkv_split;

/* Choose the dialect from the first line of a file: "::" anywhere means a
 * `.dat` file, which has no header; otherwise the line is a header and a tab
 * in it means TSV, else CSV.  Returns 1 when @p line is a header, 0 if not. */
int mfkv_split_init(mfkv_split *f, const char *line, size_t len);
void mfkv_split_free(mfkv_split *f);

/* Split @p line into f->n fields.  Returns MFKV_OK, MFKV_NOMEM, or MFKV_PARSE
 * for malformed quoting, in which case the bad field is number f->n (from 0). */
int mfkv_split_line(mfkv_split *f, const char *line, size_t len);

/* Split data line @p row (path and line; its field is not used) and check
 * that it has exactly @p expected fields, named by @p names; on failure
 * (MFKV_PARSE) the diag names the field with malformed quoting, the first
 * missing field or the first extra one ("#5" for a field past the names).
 * MFKV_NOMEM otherwise. */
int mfkv_split_row(mfkv_split *f, const char *line, size_t len, size_t expected,
                   const char *const *names, const mfkv_where *row, mfkv_diag *d);

#endif
