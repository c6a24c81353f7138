#include "predict_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t mfkv_format_score(float v, char out[MFKV_SCORE_TEXT_MAX])
{
    if (!isfinite(v)) {
        memcpy(out, "null", 5);
        return 4;
    }
    /* Fewest significant digits that read back as v; 9 always do. */
    int digits = 1;
    for (; digits < 9; digits++) {
        snprintf(out, MFKV_SCORE_TEXT_MAX, "%.*e", digits - 1, (double)v);
        if (strtof(out, NULL) == v) break;
    }
    snprintf(out, MFKV_SCORE_TEXT_MAX, "%.*e", digits - 1, (double)v);
    int exp10 = atoi(strchr(out, 'e') + 1);
    /* Positional notation where JavaScript would use it, same digits. */
    if (exp10 >= -6 && exp10 < 21) {
        int decimals = digits - 1 - exp10;
        return (size_t)snprintf(out, MFKV_SCORE_TEXT_MAX, "%.*f", decimals > 0 ? decimals : 0, (double)v);
    }
    return strlen(out);
}

static uint32_t shown(const mfkv_list *l, uint32_t max_items)
{
    return max_items && max_items < l->count ? max_items : l->count;
}

static void put_scores(mfkv_buf *out, const mfkv_list *l, uint32_t count)
{
    char text[MFKV_SCORE_TEXT_MAX];
    mfkv_buf_put(out, "[", 1);
    for (uint32_t i = 0; i < count; i++) {
        if (i) mfkv_buf_put(out, ",", 1);
        mfkv_buf_put(out, text, mfkv_format_score(mfkv_list_score(l, i), text));
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

static int format_rows(mfkv_store *store, const mfkv_list *lists, size_t n_lists,
                       uint32_t max_items, mfkv_buf *out)
{
    mfkv_buf_puts(out, "{\"predictions\":[");
    for (size_t u = 0; u < n_lists; u++) {
        uint32_t count = shown(&lists[u], max_items);
        mfkv_buf_puts(out, u ? ",{\"predicted_rating\":" : "{\"predicted_rating\":");
        put_scores(out, &lists[u], count);
        mfkv_buf_puts(out, ",\"predicted_item_id\":");
        int rc = put_item_ids(out, store, &lists[u], count);
        if (rc) return rc;
        mfkv_buf_put(out, "}", 1);
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
