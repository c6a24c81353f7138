/*
 * writer.h - write an mfkv store file atomically.
 *
 * The store is written into a temporary file beside the target, synced, and
 * renamed over the target (common/atomic_file.h), so readers and a crash only
 * ever see the old complete file or the new complete file.
 */
#ifndef MFKV_WRITER_H
#define MFKV_WRITER_H

#include <stdint.h>

#include "builder/topk.h"
#include "common/diag.h"
#include "common/model.h"

typedef struct mfkv_store_contents {
    const mfkv_model *model;          /* items sorted by id (mfkv_model_sort_items) */
    const mfkv_topk_result *lists;    /* one list per model user */
    const char *const *titles;        /* per item, UTF-8, NULL for none; whole array may be NULL */
    const char *const *genres;        /* likewise */
    const uint32_t *fallback_item;    /* NULL for no fallback list */
    const float *fallback_score;
    uint32_t fallback_count;
    const char *provenance;           /* "key=value\n" lines */
    int64_t build_time;
} mfkv_store_contents;

/* Write @p c to @p path.  On any failure the target is untouched and the
 * temporary file removed.  Returns MFKV_OK, MFKV_IO, MFKV_NOMEM, MFKV_LIMIT. */
int mfkv_store_write(const char *path, const mfkv_store_contents *c, mfkv_diag *d);

#endif
