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

/* Users handed to the writer one at a time, already in LMDB key order (bytes,
 * then length), so a store can be written from lists that never all sit in
 * memory at once (mfkv merge).  next() fills one user and returns MFKV_OK,
 * MFKV_NOTFOUND after the last, or another status (with @p d filled). */
typedef struct mfkv_user_list {
    const char *id;
    size_t id_len;
    const uint32_t *item;
    const float *score;
    uint32_t count;
} mfkv_user_list;

typedef struct mfkv_user_source {
    uint32_t n_users; /* exactly how many next() yields: the header and the map size depend on it */
    int (*next)(void *ctx, mfkv_user_list *out, mfkv_diag *d);
    void *ctx;
} mfkv_user_source;

typedef struct mfkv_write_contents {
    const mfkv_model *model;          /* items sorted by id (mfkv_model_sort_items) */
    const mfkv_topk_result *lists;    /* one list per model user; only k is read with users */
    const mfkv_user_source *users;    /* NULL: the model's users with lists; else these users */
    const char *const *titles;        /* per item, UTF-8, NULL for none; whole array may be NULL */
    const char *const *genres;        /* likewise */
    const uint32_t *fallback_item;    /* NULL for no fallback list */
    const float *fallback_score;
    uint32_t fallback_count;
    const char *provenance;           /* "key=value\n" lines */
    int64_t build_time;
} mfkv_write_contents;

/* Write @p c to @p path.  On any failure the target is untouched and the
 * temporary file removed.  Returns MFKV_OK, MFKV_IO, MFKV_NOMEM, MFKV_LIMIT. */
int mfkv_write_file(const char *path, const mfkv_write_contents *c, mfkv_diag *d);

#endif
