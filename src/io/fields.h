/*
 * fields.h - checking single values read from text inputs.
 *
 * Every loader, of weights or of ratings, reports a bad value the same way:
 * each function takes the place the value came from (file, line, field
 * name) and fails with MFKV_PARSE and "FILE:LINE: field NAME: problem".
 */
#ifndef MFKV_IO_FIELDS_H
#define MFKV_IO_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/diag.h"
#include "../common/idtab.h"

/* Where a value came from, for messages.  With @p member set, the value is
 * that member of element @p index of the array field: "FIELD[INDEX].MEMBER"
 * (named so only when a message is written: formatting it for every value
 * read would cost more than reading it). */
typedef struct mfkv_where {
    const char *path;
    size_t line;
    const char *field;
    size_t index;
    const char *member;
} mfkv_where;

/* An external id: 1..MFKV_MAX_ID_LEN bytes of UTF-8 without NUL or line
 * breaks (ids are written back one per line). */
int mfkv_check_id(const mfkv_where *w, const char *s, size_t len, mfkv_diag *d);

/* Add an id checked with mfkv_check_id to @p ids (see mfkv_idtab_intern);
 * a full table or lack of memory is reported at @p w. */
int mfkv_add_id(const mfkv_where *w, mfkv_idtab *ids, const char *s, size_t len, uint32_t *index,
                int *added, mfkv_diag *d);

/* Text such as a title: valid UTF-8 of at most MFKV_MAX_TEXT_LEN bytes. */
int mfkv_check_text(const mfkv_where *w, const char *s, size_t len, mfkv_diag *d);

/* A finite decimal number ("4", "-1.5e-3"; no "nan", "inf", hex or blanks). */
int mfkv_parse_finite(const mfkv_where *w, const char *s, size_t len, double *out, mfkv_diag *d);

/* Like mfkv_parse_finite, and also finite once rounded to float. */
int mfkv_parse_float(const mfkv_where *w, const char *s, size_t len, float *out, mfkv_diag *d);

/* An optionally signed decimal integer that fits int64_t. */
int mfkv_parse_int64(const mfkv_where *w, const char *s, size_t len, int64_t *out, mfkv_diag *d);

/* An unsigned decimal integer (digits only) in min..max. */
int mfkv_parse_uint(const mfkv_where *w, const char *s, size_t len, uint32_t min, uint32_t max,
                    uint32_t *out, mfkv_diag *d);

/* @p s shortened and with control bytes replaced, for quoting input in a
 * message; returns @p buf. */
#define MFKV_QUOTE_LEN 48
const char *mfkv_quote(char buf[MFKV_QUOTE_LEN], const char *s, size_t len);

/* The usual parse error at @p w: "FILE:LINE: field NAME: " and the message. */
int mfkv_fail_at(mfkv_diag *d, const mfkv_where *w, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
