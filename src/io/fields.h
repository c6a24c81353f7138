/*
 * fields.h - checks for single values read from text inputs.
 *
 * Each function takes the place the value came from (file, line, field
 * name) so the error it reports reads "FILE:LINE: field NAME: problem".
 */
#ifndef MFKV_IO_FIELDS_H
#define MFKV_IO_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/diag.h"

typedef struct mfkv_where {
    const char *path;
    size_t line;
    const char *field;
} mfkv_where;

/* 1 when s[0..len) is well-formed UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF). */
int mfkv_utf8_valid(const char *s, size_t len);

/* An external id: 1..MFKV_MAX_ID_LEN bytes of UTF-8 without NUL or line
 * breaks (ids are written back one per line). */
int mfkv_check_id(const mfkv_where *w, const char *s, size_t len, mfkv_diag *d);

/* A finite decimal number ("-1.5e-3"; no "nan", "inf" or hex). */
int mfkv_parse_finite(const mfkv_where *w, const char *s, size_t len, double *out, mfkv_diag *d);

/* Like mfkv_parse_finite, and also finite once rounded to float. */
int mfkv_parse_float(const mfkv_where *w, const char *s, size_t len, float *out, mfkv_diag *d);

/* An unsigned decimal integer (digits only) in min..max. */
int mfkv_parse_uint(const mfkv_where *w, const char *s, size_t len, uint32_t min, uint32_t max,
                    uint32_t *out, mfkv_diag *d);

/* @p s shortened and with control bytes replaced, for quoting input in a
 * message; returns @p buf. */
#define MFKV_QUOTE_LEN 48
const char *mfkv_quote(char buf[MFKV_QUOTE_LEN], const char *s, size_t len);

/* Shorthand for the usual parse error at @p w. */
int mfkv_fail_at(mfkv_diag *d, const mfkv_where *w, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
