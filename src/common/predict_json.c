#include "predict_json.h"

#include "numfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t shown(const mfkv_list *l, uint32_t max_items)
{
    return max_items && max_items < l->count ? max_items : l->count;
}

static void put_scores(mfkv_buf *out, const mfkv_list *l, uint32_t count)
{
    char text[MFKV_FLOAT_TEXT_MAX];
    mfkv_buf_put(out, "[", 1);
    for (uint32_t i = 0; i < count; i++) {
        if (i) mfkv_buf_put(out, ",", 1);
        mfkv_buf_put(out, text, (size_t)mfkv_format_float(text, mfkv_list_score(l, i)));
    }
    mfkv_buf_put(out, "]", 1);
}

static int put_item_ids(mfkv_buf *out, mfkv_store *store, const mfkv_list *l, uint32_t count)
{
    mfkv_buf_put(out, "[", 1);
    for (uint32_t i = 0; i < count; i++) {
        mfkv_item_info item;
        int rc = mfkv_item(store, mfkv_list_item_index(l, i), &item);
        if (rc) return rc;
        if (i) mfkv_buf_put(out, ",", 1);
        mfkv_buf_json_string(out, item.id, item.id_len);
    }
    mfkv_buf_put(out, "]", 1);
    return MFKV_OK;
}

int mfkv_format_predict_row(mfkv_store *store, const mfkv_list *list, uint32_t max_items, mfkv_buf *out)
{
    uint32_t count = shown(list, max_items);
    mfkv_buf_puts(out, "{\"predicted_rating\":");
    put_scores(out, list, count);
    mfkv_buf_puts(out, ",\"predicted_item_id\":");
    int rc = put_item_ids(out, store, list, count);
    mfkv_buf_put(out, "}", 1);
    return rc ? rc : mfkv_buf_status(out);
}

static int format_rows(mfkv_store *store, const mfkv_list *lists, size_t n_lists,
                       uint32_t max_items, mfkv_buf *out)
{
    mfkv_buf_puts(out, "{\"predictions\":[");
    for (size_t u = 0; u < n_lists; u++) {
        if (u) mfkv_buf_put(out, ",", 1);
        int rc = mfkv_format_predict_row(store, &lists[u], max_items, out);
        if (rc) return rc;
    }
    mfkv_buf_puts(out, "]}\n");
    return MFKV_OK;
}

static int format_columns(mfkv_store *store, const mfkv_list *lists, size_t n_lists,
                          uint32_t max_items, mfkv_buf *out)
{
    mfkv_buf_puts(out, "{\"outputs\":{\"predicted_rating\":[");
    for (size_t u = 0; u < n_lists; u++) {
        if (u) mfkv_buf_put(out, ",", 1);
        put_scores(out, &lists[u], shown(&lists[u], max_items));
    }
    mfkv_buf_puts(out, "],\"predicted_item_id\":[");
    for (size_t u = 0; u < n_lists; u++) {
        if (u) mfkv_buf_put(out, ",", 1);
        int rc = put_item_ids(out, store, &lists[u], shown(&lists[u], max_items));
        if (rc) return rc;
    }
    mfkv_buf_puts(out, "]}}\n");
    return MFKV_OK;
}

int mfkv_format_predict(mfkv_store *store, const mfkv_list *lists, size_t n_lists,
                        uint32_t max_items, mfkv_predict_layout layout, mfkv_buf *out)
{
    int rc = layout == MFKV_PREDICT_COLUMNS
                 ? format_columns(store, lists, n_lists, max_items, out)
                 : format_rows(store, lists, n_lists, max_items, out);
    return rc ? rc : mfkv_buf_status(out);
}
