#include "user_json.h"

#include <string.h>

/* "A|B" -> ["A","B"]; "" -> []. */
static void genres_array(mfkv_buf *b, const char *g, size_t len)
{
    mfkv_buf_put(b, "[", 1);
    for (size_t start = 0; start < len;) {
        const char *bar = memchr(g + start, '|', len - start);
        size_t end = bar ? (size_t)(bar - g) : len;
        if (start) mfkv_buf_put(b, ",", 1);
        mfkv_buf_json_string(b, g + start, end - start);
        start = end + 1;
    }
    mfkv_buf_put(b, "]", 1);
}

void mfkv_user_json_open(mfkv_buf *b, const char *user, size_t user_len, int fallback)
{
    mfkv_buf_puts(b, "{\"user_id\":");
    mfkv_buf_json_string(b, user, user_len);
    mfkv_buf_puts(b, fallback ? ",\"fallback\":true,\"items\":[" : ",\"fallback\":false,\"items\":[");
}

void mfkv_user_json_item(mfkv_buf *b, int first, const mfkv_item_info *it, const char *score, size_t score_len)
{
    mfkv_buf_puts(b, first ? "{\"item_id\":" : ",{\"item_id\":");
    mfkv_buf_json_string(b, it->id, it->id_len);
    mfkv_buf_puts(b, ",\"title\":");
    mfkv_buf_json_string(b, it->title, it->title_len);
    mfkv_buf_puts(b, ",\"genres\":");
    genres_array(b, it->genres, it->genres_len);
    mfkv_buf_puts(b, ",\"score\":");
    mfkv_buf_put(b, score, score_len);
    mfkv_buf_put(b, "}", 1);
}

void mfkv_user_json_close(mfkv_buf *b)
{
    mfkv_buf_puts(b, "]}\n");
}
