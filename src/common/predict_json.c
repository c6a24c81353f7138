#include "predict_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "d.ddde+X" (from %e) rewritten positionally with the same digits. */
static size_t positional(const char *sci, int exp10, char out[MFKV_SCORE_TEXT_MAX])
{
    char digits[16];
    size_t nd = 0, o = 0;
    const char *p = sci;
    if (*p == '-') out[o++] = *p++;
    for (; *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    if (exp10 < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int z = -1; z > exp10; z--) out[o++] = '0';
        memcpy(out + o, digits, nd);
        o += nd;
    } else if ((size_t)exp10 + 1 >= nd) {
        memcpy(out + o, digits, nd);
        o += nd;
        for (size_t z = nd; z < (size_t)exp10 + 1; z++) out[o++] = '0';
    } else {
        memcpy(out + o, digits, (size_t)exp10 + 1);
        o += (size_t)exp10 + 1;
        out[o++] = '.';
        memcpy(out + o, digits + exp10 + 1, nd - (size_t)exp10 - 1);
        o += nd - (size_t)exp10 - 1;
    }
    out[o] = '\0';
    return o;
}

size_t mfkv_format_score(float v, char out[MFKV_SCORE_TEXT_MAX])
{
    if (!isfinite(v)) {
        memcpy(out, "null", 5);
        return 4;
    }
    /* Fewest significant digits that read back as v; 9 always do. */
    char sci[MFKV_SCORE_TEXT_MAX];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(sci, sizeof sci, "%.*e", digits - 1, (double)v);
        if (strtof(sci, NULL) == v) break;
    }
    int exp10 = atoi(strchr(sci, 'e') + 1);
    /* Positional where JavaScript would write it so, else C's "%e" form. */
    if (exp10 >= -6 && exp10 < 21) return positional(sci, exp10, out);
    size_t n = strlen(sci);
    memcpy(out, sci, n + 1);
    return n;
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
