/*
 * modelfile.h - mfkv's own model file: a trained model with its ids,
 * hyperparameters and training-info table, in one checksummed file.
 *
 * Layout, version 2 (all integers and floats little-endian, no padding):
 *
 *   offset  size  field
 *   0       8     magic "MFKVMODL"
 *   8       4     u32 format version (2); a reader refuses a newer one
 *   12      4     u32 flags (0)
 *   16      8     u64 file size in bytes, trailer included
 *   24      8     u64 reserved (0)
 *   32            body:
 *                 u32 n_factors F, u32 n_users, u32 n_items, u32 n_info_rows
 *                 f64 global bias
 *                 u32 has_info (0: a model without training record; the
 *                     fields up to the rows are then zero)
 *                 u32 factors, f64 l2, f64 l2_per_rating (not in
 *                     version 1, whose models read as 0), u32 iterations,
 *                 u32 early_stop,
 *                 f64 min_rel_progress, f64 holdout, u64 seed, u32 threads
 *                 u64 n_ratings, u64 n_train, u64 n_holdout, u64 ratings_hash
 *                 n_info_rows x { u32 training_run, u32 iteration,
 *                                 f64 loss, f64 eval_loss, f64 duration_ms }
 *                 n_users x { u32 length, id bytes }, then n_items likewise
 *                 f32 user_factors[n_users * F] (row-major)
 *                 f32 item_factors[n_items * F]
 *                 f32 user_bias[n_users], f32 item_bias[n_items]
 *   size-8  8     u64 XXH3-64 (seed 0) of every byte before it
 *
 * The checksum covers the header too, so any flipped byte is refused.
 */
#ifndef MFKV_TRAIN_MODELFILE_H
#define MFKV_TRAIN_MODELFILE_H

#include "common/diag.h"
#include "common/model.h"
#include "train/als.h"

#define MFKV_MODELFILE_MAGIC "MFKVMODL"
#define MFKV_MODELFILE_VERSION 2u

/*
 * Write @p m (and @p info, which may be NULL) to @p path atomically: a
 * temporary file beside it is written, fsynced and renamed over it.  On
 * failure @p path is unchanged and no temporary remains.
 */
int mfkv_modelfile_write(const char *path, const mfkv_model *m, const mfkv_train_info *info,
                         mfkv_diag *d);

/*
 * Read and verify a model file.  @p info may be NULL; otherwise it receives
 * the training record (zeroed when the file has none).
 * Returns MFKV_OK, MFKV_IO, MFKV_FORMAT (bad magic: not a model file; or a
 * body inconsistent with its counts), MFKV_CORRUPT (checksum mismatch:
 * any changed byte after the magic, or a truncated file), MFKV_VERSION
 * (newer format) or MFKV_NOMEM; on failure @p m and @p info are left empty.
 */
int mfkv_modelfile_read(const char *path, mfkv_model *m, mfkv_train_info *info, mfkv_diag *d);

#endif
