/*
 * fieldcheck.h - converting one field of a text input into a checked value.
 *
 * Each function fails with MFKV_PARSE and "FILE:LINE: field NAME: problem"
 * in the diag, so loaders report every bad value the same way.
 */
#ifndef MFKV_IO_FIELDCHECK_H
#define MFKV_IO_FIELDCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "../common/diag.h"

/* Where a field came from, for messages. */
typedef struct mfkv_fieldloc {
    const char *path;
    size_t line;
    const char *field;
} mfkv_fieldloc;

/* An id: 1..MFKV_MAX_ID_LEN bytes of valid UTF-8. */
int mfkv_check_id(const mfkv_fieldloc *at, const char *s, size_t len, mfkv_diag *d);

/* Text such as a title: valid UTF-8 of at most MFKV_MAX_TEXT_LEN bytes. */
int mfkv_check_text(const mfkv_fieldloc *at, const char *s, size_t len, mfkv_diag *d);

/* A finite decimal number that fits a float ("4", "3.5", "-1e-3"). */
int mfkv_parse_float(const mfkv_fieldloc *at, const char *s, size_t len, float *out,
                     mfkv_diag *d);

/* An optionally signed decimal integer that fits int64_t. */
int mfkv_parse_int64(const mfkv_fieldloc *at, const char *s, size_t len, int64_t *out,
                     mfkv_diag *d);

#endif
