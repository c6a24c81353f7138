/*
 * predict_json.h - the JSON of a TF Serving predict response, shared by
 * `mfkv serve` and `mfkv get --format predict` so the two are byte-identical.
 * It reads item ids from an open store, so it sits above the reader
 * (src/render/), not in src/common/, which the reader's users share below it.
 *
 * Row layout (TF Serving "instances" requests), one object per user:
 *   {"predictions":[{"predicted_rating":[7.1595457,3.2],"predicted_item_id":["3382","1"]}]}\n
 * Column layout ("inputs" requests), one inner array per user:
 *   {"outputs":{"predicted_rating":[[7.1595457,3.2]],"predicted_item_id":[["3382","1"]]}}\n
 * No whitespace except the final newline.  Item ids are JSON strings.
 *
 * Scores are written by mfkv_format_float (numfmt.h): the fewest digits
 * that read back as the stored float32 (numfmt.h says where that is one
 * digit more than Dragonbox's).
 */
#ifndef MFKV_PREDICT_JSON_H
#define MFKV_PREDICT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "mfkv.h"

typedef enum mfkv_predict_layout {
    MFKV_PREDICT_ROWS,    /* {"predictions":[...]} */
    MFKV_PREDICT_COLUMNS, /* {"outputs":{...}} */
} mfkv_predict_layout;

/*
 * Append the predict response for @p n_lists users' lists (in request order)
 * to @p out, each list cut to its first @p max_items entries (0: all).
 * Item ids come from @p store's item table.
 * @return MFKV_OK, MFKV_CORRUPT (an item row failed its check),
 *         MFKV_NOTFOUND (an item index outside the table) or MFKV_NOMEM.
 */
int mfkv_format_predict(mfkv_store *store, const mfkv_list *lists, size_t n_lists,
                        uint32_t max_items, mfkv_predict_layout layout, mfkv_buf *out);

/* What `mfkv serve` adds to a predict answer; mfkv get passes none. */
typedef struct mfkv_predict_extra {
    /* Per list, 1 when it is the fallback list standing in for an unknown
     * user.  When any is 1, every row gets "fallback":true|false (columns:
     * "outputs" gets "fallback":[...]); otherwise nothing is added. */
    const unsigned char *fallback;
    /* Whether item @p item may be shown in list @p list (request-time
     * exclusions); NULL: every item.  Dropped entries are replaced by the
     * next ones of the stored list, up to max_items. */
    int (*keep)(void *ctx, size_t list, const mfkv_item_info *item);
    void *ctx;
} mfkv_predict_extra;

/* mfkv_format_predict with @p extra (NULL: none).  Same returns. */
int mfkv_format_predict_extra(mfkv_store *store, const mfkv_list *lists, size_t n_lists, uint32_t max_items,
                              mfkv_predict_layout layout, const mfkv_predict_extra *extra, mfkv_buf *out);

/*
 * Append one user's object of the row layout,
 * {"predicted_rating":[...],"predicted_item_id":[...]}, for callers that
 * stream users one by one between their own "{\"predictions\":[" and "]}\n"
 * (`mfkv get`).  Same returns as mfkv_format_predict.
 */
int mfkv_format_predict_row(mfkv_store *store, const mfkv_list *list, uint32_t max_items, mfkv_buf *out);

#endif
