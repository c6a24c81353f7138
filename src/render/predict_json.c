#include "render/predict_json.h"

#include "common/numfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Entries of list @p u that are shown: not dropped by extra->keep, at most
 * max_items of them.  Writes the kept entry positions of the list into @p at
 * (room for l->count) and returns how many. */
static int kept_entries(mfkv_store *store, const mfkv_list *l, size_t u, uint32_t max_items,
                        const mfkv_predict_extra *extra, uint32_t *at, uint32_t *n)
{
    uint32_t limit = max_items ? max_items : UINT32_MAX;
    *n = 0;
    for (uint32_t i = 0; i < l->count && *n < limit; i++) {
        if (extra && extra->keep) {
            mfkv_item_info item;
            int rc = mfkv_item(store, mfkv_list_item_index(l, i), &item);
            if (rc) return rc;
            if (!extra->keep(extra->ctx, u, &item)) continue;
        }
        at[(*n)++] = i;
    }
    return MFKV_OK;
}

static void put_scores(mfkv_buf *out, const mfkv_list *l, const uint32_t *at, uint32_t count)
{
    char text[MFKV_FLOAT_TEXT_MAX];
    mfkv_buf_put(out, "[", 1);
    for (uint32_t i = 0; i < count; i++) {
        if (i) mfkv_buf_put(out, ",", 1);
        mfkv_buf_put(out, text, (size_t)mfkv_format_float(text, mfkv_list_score(l, at[i])));
    }
    mfkv_buf_put(out, "]", 1);
}

static int put_item_ids(mfkv_buf *out, mfkv_store *store, const mfkv_list *l, const uint32_t *at, uint32_t count)
{
    mfkv_buf_put(out, "[", 1);
    for (uint32_t i = 0; i < count; i++) {
        mfkv_item_info item;
        int rc = mfkv_item(store, mfkv_list_item_index(l, at[i]), &item);
        if (rc) return rc;
        if (i) mfkv_buf_put(out, ",", 1);
        mfkv_buf_json_string(out, item.id, item.id_len);
    }
    mfkv_buf_put(out, "]", 1);
    return MFKV_OK;
}

/* A row, with its kept entries already chosen. */
static int put_row(mfkv_store *store, const mfkv_list *list, const uint32_t *at, uint32_t count,
                   int fallback_marker, mfkv_buf *out)
{
    mfkv_buf_puts(out, "{\"predicted_rating\":");
    put_scores(out, list, at, count);
    mfkv_buf_puts(out, ",\"predicted_item_id\":");
    int rc = put_item_ids(out, store, list, at, count);
    if (fallback_marker) mfkv_buf_puts(out, fallback_marker > 0 ? ",\"fallback\":true" : ",\"fallback\":false");
    mfkv_buf_put(out, "}", 1);
    return rc;
}

/* Room for the kept positions of the longest list; NULL when out of memory. */
static uint32_t *positions(const mfkv_list *lists, size_t n_lists)
{
    uint32_t longest = 1;
    for (size_t u = 0; u < n_lists; u++)
        if (lists[u].count > longest) longest = lists[u].count;
    return malloc(longest * sizeof(uint32_t));
}

int mfkv_format_predict_row(mfkv_store *store, const mfkv_list *list, uint32_t max_items, mfkv_buf *out)
{
    uint32_t *at = positions(list, 1), n;
    if (!at) return MFKV_NOMEM;
    int rc = kept_entries(store, list, 0, max_items, NULL, at, &n);
    if (!rc) rc = put_row(store, list, at, n, 0, out);
    free(at);
    return rc ? rc : mfkv_buf_status(out);
}

/* Whether any list stands in for an unknown user: only then are rows marked,
 * so answers without one stay byte-identical to `mfkv get --format predict`. */
static int any_fallback(const mfkv_predict_extra *extra, size_t n_lists)
{
    if (!extra || !extra->fallback) return 0;
    for (size_t u = 0; u < n_lists; u++)
        if (extra->fallback[u]) return 1;
    return 0;
}

static int format_rows(mfkv_store *store, const mfkv_list *lists, size_t n_lists, uint32_t max_items,
                       const mfkv_predict_extra *extra, uint32_t *at, mfkv_buf *out)
{
    int marked = any_fallback(extra, n_lists);
    mfkv_buf_puts(out, "{\"predictions\":[");
    for (size_t u = 0; u < n_lists; u++) {
        if (u) mfkv_buf_put(out, ",", 1);
        uint32_t n;
        int rc = kept_entries(store, &lists[u], u, max_items, extra, at, &n);
        if (!rc) rc = put_row(store, &lists[u], at, n, marked ? (extra->fallback[u] ? 1 : -1) : 0, out);
        if (rc) return rc;
    }
    mfkv_buf_puts(out, "]}\n");
    return MFKV_OK;
}

static int format_columns(mfkv_store *store, const mfkv_list *lists, size_t n_lists, uint32_t max_items,
                          const mfkv_predict_extra *extra, uint32_t *at, mfkv_buf *out)
{
    mfkv_buf_puts(out, "{\"outputs\":{\"predicted_rating\":[");
    for (size_t u = 0; u < n_lists; u++) {
        if (u) mfkv_buf_put(out, ",", 1);
        uint32_t n;
        int rc = kept_entries(store, &lists[u], u, max_items, extra, at, &n);
        if (rc) return rc;
        put_scores(out, &lists[u], at, n);
    }
    mfkv_buf_puts(out, "],\"predicted_item_id\":[");
    for (size_t u = 0; u < n_lists; u++) {
        if (u) mfkv_buf_put(out, ",", 1);
        uint32_t n;
        int rc = kept_entries(store, &lists[u], u, max_items, extra, at, &n);
        if (!rc) rc = put_item_ids(out, store, &lists[u], at, n);
        if (rc) return rc;
    }
    if (any_fallback(extra, n_lists)) {
        mfkv_buf_puts(out, "],\"fallback\":[");
        for (size_t u = 0; u < n_lists; u++)
            mfkv_buf_puts(out, u ? (extra->fallback[u] ? ",true" : ",false") : (extra->fallback[u] ? "true" : "false"));
    }
    mfkv_buf_puts(out, "]}}\n");
    return MFKV_OK;
}

int mfkv_format_predict(mfkv_store *store, const mfkv_list *lists, size_t n_lists,
                        uint32_t max_items, mfkv_predict_layout layout, mfkv_buf *out)
{
    return mfkv_format_predict_extra(store, lists, n_lists, max_items, layout, NULL, out);
}

int mfkv_format_predict_extra(mfkv_store *store, const mfkv_list *lists, size_t n_lists, uint32_t max_items,
                              mfkv_predict_layout layout, const mfkv_predict_extra *extra, mfkv_buf *out)
{
    uint32_t *at = positions(lists, n_lists);
    if (!at) return MFKV_NOMEM;
    int rc = layout == MFKV_PREDICT_COLUMNS
                 ? format_columns(store, lists, n_lists, max_items, extra, at, out)
                 : format_rows(store, lists, n_lists, max_items, extra, at, out);
    free(at);
    return rc ? rc : mfkv_buf_status(out);
}
