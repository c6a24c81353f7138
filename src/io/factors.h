/*
 * factors.h - loaders for exported model weights.
 *
 * All loaders validate completely before returning: every id has exactly
 * n_factors factors numbered 1..F, no id appears twice, every number is
 * finite, ids are 1..MFKV_MAX_ID_LEN bytes of valid UTF-8.  A UTF-8 BOM and
 * CRLF line ends are accepted.  On failure they return a status, fill the
 * diag with "FILE:LINE: field NAME: problem", and leave *out empty.
 */
#ifndef MFKV_IO_FACTORS_H
#define MFKV_IO_FACTORS_H

#include "../common/diag.h"
#include "../common/model.h"

/* The most factors a model may have; a bound on what one bad factor number
 * can make a loader allocate. */
#define MFKV_MAX_FACTORS 65535u

/*
 * BigQuery ML `SELECT * FROM ML.WEIGHTS(MODEL m)` exported as newline-delimited
 * JSON.  @p user_column names the processed_input of the user side; NULL
 * picks it when the two names make it obvious (one contains "user").  The row
 * whose feature is "global__INTERCEPT__" (any case) gives the global bias.
 */
int mfkv_load_bqml_ndjson(const char *path, const char *user_column, mfkv_model *out,
                          mfkv_diag *d);

/*
 * The unnested long CSV form, one file per side, header
 * `<side>_id,bias,factor,weight` (side "user" or "item", any id column name
 * accepted in first position), one row per (id, factor), factors in any order.
 * The global bias is not in these files and comes from the caller.  Lines
 * are read by @p threads threads (0: one per online CPU, at most 8); what
 * is loaded, and every message, is the same for any.
 */
int mfkv_load_bqml_csv(const char *users_path, const char *items_path, double global_bias,
                       unsigned threads, mfkv_model *out, mfkv_diag *d);

/* numpy inputs: float32/float64 C-order .npy matrices and vectors, and id
 * lists as text files with one id per line.  Biases are optional (zero). */
typedef struct mfkv_npy_paths {
    const char *user_factors, *item_factors; /* required, 2-D */
    const char *user_bias, *item_bias;       /* optional, 1-D */
    const char *user_ids, *item_ids;         /* required text files */
    double global_bias;
} mfkv_npy_paths;

int mfkv_load_npy_model(const mfkv_npy_paths *paths, mfkv_model *out, mfkv_diag *d);

/* A folder of .npy inputs with fixed names, as `mfkv weights --format npy`
 * writes it: user_factors.npy, item_factors.npy, user_bias.npy, item_bias.npy
 * (biases optional), user_ids.txt, item_ids.txt and global_bias.txt (one
 * number; optional, 0 when absent). */
#define MFKV_NPY_USER_FACTORS "user_factors.npy"
#define MFKV_NPY_ITEM_FACTORS "item_factors.npy"
#define MFKV_NPY_USER_BIAS "user_bias.npy"
#define MFKV_NPY_ITEM_BIAS "item_bias.npy"
#define MFKV_NPY_USER_IDS "user_ids.txt"
#define MFKV_NPY_ITEM_IDS "item_ids.txt"
#define MFKV_NPY_GLOBAL_BIAS "global_bias.txt"

int mfkv_load_npy_dir(const char *dir, mfkv_model *out, mfkv_diag *d);

/* Read one .npy file (float32 or float64, little-endian, C order, 1-D or 2-D)
 * into a newly allocated float array.  *cols is 1 for a 1-D array. */
int mfkv_npy_read(const char *path, float **data, uint64_t *rows, uint64_t *cols, mfkv_diag *d);
/* The same, also giving the number of dimensions (1 or 2) in *ndim. */
int mfkv_npy_read_nd(const char *path, float **data, uint64_t *rows, uint64_t *cols, int *ndim,
                     mfkv_diag *d);

/* Write a float32 C-order .npy (cols == 0 writes a 1-D array). */
int mfkv_npy_write(const char *path, const float *data, uint64_t rows, uint64_t cols,
                   mfkv_diag *d);

#endif
