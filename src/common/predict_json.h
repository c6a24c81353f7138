/*
 * predict_json.h - the JSON of a TF Serving predict response, shared by
 * `mfkv serve` and `mfkv get --format predict` so the two are byte-identical.
 *
 * Row layout (TF Serving "instances" requests), one object per user:
 *   {"predictions":[{"predicted_rating":[7.1595457,3.2],"predicted_item_id":["3382","1"]}]}\n
 * Column layout ("inputs" requests), one inner array per user:
 *   {"outputs":{"predicted_rating":[[7.1595457,3.2]],"predicted_item_id":[["3382","1"]]}}\n
 * No whitespace except the final newline.  Item ids are JSON strings.
 *
 * Scores: the stored float32, written with the FEWEST significant digits
 * that read back (strtof, round-to-nearest) as the same float32, positional
 * for decimal exponents -6..20 and "d.ddde+XX" outside that (the cut-offs of
 * JavaScript's Number to string): "7.1595459", "10", "0.5", "1e-07".
 * A float32 parser gets the stored value exactly; a double parser gets the
 * nearest value with those digits, within half a float32 ulp.
 * Non-finite scores (never written by the builder) are written as null.
 */
#ifndef MFKV_PREDICT_JSON_H
#define MFKV_PREDICT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "mfkv.h"

/* Longest text mfkv_format_score writes, terminator included. */
#define MFKV_SCORE_TEXT_MAX 24

/* Write @p v as described above into @p out; returns the length. */
size_t mfkv_format_score(float v, char out[MFKV_SCORE_TEXT_MAX]);

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

#endif
