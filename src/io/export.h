/*
 * export.h - write a model's weights for other tools (and for mfkv build).
 */
#ifndef MFKV_IO_EXPORT_H
#define MFKV_IO_EXPORT_H

#include <stddef.h>
#include <stdio.h>

#include "common/diag.h"
#include "common/model.h"

/* BigQuery ML's `SELECT * FROM ML.WEIGHTS(MODEL m)` as newline-delimited
 * JSON: the global__INTERCEPT__ row, then one row per user ("user_id") and
 * per item ("item_id"), factor_weights listed F..1.  @p name names @p f in
 * the message.  MFKV_OK, MFKV_IO (a write failed) or MFKV_NOMEM. */
int mfkv_export_ndjson(FILE *f, const char *name, const mfkv_model *m, mfkv_diag *d);

/* users.csv and items.csv in folder @p dir: the unnested long form
 * `<side>_id,bias,factor,weight`, one row per (id, factor).  MFKV_OK,
 * MFKV_IO or MFKV_NOMEM. */
int mfkv_export_long_csv(const char *dir, const mfkv_model *m, mfkv_diag *d);

/* The npy folder layout of factors.h (MFKV_NPY_*), float32.  MFKV_OK,
 * MFKV_IO, MFKV_NOMEM or MFKV_INVAL (an id holds a line break). */
int mfkv_export_npy_dir(const char *dir, const mfkv_model *m, mfkv_diag *d);

/* Write @p s as one CSV field into @p dst (room for 2 * len + 2 bytes): as
 * is, or in double quotes with quotes doubled when it holds a comma, quote,
 * CR or LF.  Returns the bytes written. */
size_t mfkv_csv_field(char *dst, const char *s, size_t len);

#endif
