/*
 * user_json.h - one user's list as JSON: the one shape of
 * `GET /v1/users/ID/recommendations` (mfkv serve) and `mfkv get -f json`.
 *
 *   {"user_id":"1","fallback":false,"items":[{"item_id":"3382",
 *    "title":"Song of Freedom (1936)","genres":["Drama"],"score":7.1595457}]}\n
 *
 * One line, no whitespace.  "fallback" is true when the list is the store's
 * list for unknown users standing in for this one.  Every item has a title
 * ("" when the store has none) and its genres as an array (split at '|';
 * [] when none).  Scores are mfkv_format_float's float32 text (numfmt.h).
 */
#ifndef MFKV_USER_JSON_H
#define MFKV_USER_JSON_H

#include <stddef.h>

#include "buf.h"
#include "mfkv.h"

/* {"user_id":...,"fallback":...,"items":[ */
void mfkv_user_json_open(mfkv_buf *b, const char *user, size_t user_len, int fallback);
/* One entry; @p first for the first of the list. */
void mfkv_user_json_item(mfkv_buf *b, int first, const mfkv_item_info *it, const char *score, size_t score_len);
/* ]}\n */
void mfkv_user_json_close(mfkv_buf *b);

#endif
