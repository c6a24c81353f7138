/* GET /v1/users/U/recommendations[?n=N][&format=json|html]: a cacheable list
 * with titles, for CDNs and pages, as JSON or as an HTML fragment.
 * &exclude=ID,ID hides items (already bought, out of stock): the next items
 * of the stored top-K take their place, and the ETag, a hash of the bytes
 * sent, differs whenever the shown list does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer_cache.h"
#include "common/numfmt.h"
#include "common/user_json.h"
#include "etag.h"
#include "format.h"
#include "handler.h"
#include "id_set.h"

#define DEFAULT_ITEMS 10u

typedef struct snippet_item {
    mfkv_item_info info;
    char score[MFKV_FLOAT_TEXT_MAX];
    size_t score_len;
} snippet_item;

/* The one JSON shape of a user's list, shared with `mfkv get -f json`. */
static void render_json(mfkv_buf *b, const char *user, size_t user_len, int fallback,
                        const snippet_item *items, uint32_t n)
{
    mfkv_user_json_open(b, user, user_len, fallback);
    for (uint32_t i = 0; i < n; i++) mfkv_user_json_item(b, i == 0, &items[i].info, items[i].score, items[i].score_len);
    mfkv_user_json_close(b);
}

/* Genres are shown "A, B": every '|' becomes ", ", every byte escaped. */
static void html_genres(mfkv_buf *b, const char *g, size_t len)
{
    for (size_t start = 0; start < len;) {
        const char *bar = memchr(g + start, '|', len - start);
        size_t end = bar ? (size_t)(bar - g) : len;
        if (start) mfkv_buf_puts(b, ", ");
        mfkv_buf_html_text(b, g + start, end - start);
        start = end + 1;
    }
}

static void render_html(mfkv_buf *b, const char *user, size_t user_len, int fallback,
                        const snippet_item *items, uint32_t n)
{
    mfkv_buf_puts(b, "<ol class=\"mfkv-recommendations\" data-user-id=\"");
    mfkv_buf_html_text(b, user, user_len);
    mfkv_buf_puts(b, fallback ? "\" data-fallback=\"true\">\n" : "\">\n");
    for (uint32_t i = 0; i < n; i++) {
        const mfkv_item_info *it = &items[i].info;
        mfkv_buf_puts(b, "<li data-item-id=\"");
        mfkv_buf_html_text(b, it->id, it->id_len);
        mfkv_buf_puts(b, "\"><span class=\"title\">");
        if (it->title_len) {
            mfkv_buf_html_text(b, it->title, it->title_len);
        } else {
            mfkv_buf_puts(b, "item ");
            mfkv_buf_html_text(b, it->id, it->id_len);
        }
        mfkv_buf_puts(b, "</span> <span class=\"genres\">");
        html_genres(b, it->genres, it->genres_len);
        mfkv_buf_puts(b, "</span> <span class=\"score\">");
        mfkv_buf_put(b, items[i].score, items[i].score_len);
        mfkv_buf_puts(b, "</span></li>\n");
    }
    mfkv_buf_puts(b, "</ol>\n");
}

static int parse_n(const char *text, uint32_t *n)
{
    if (!text) {
        *n = DEFAULT_ITEMS;
        return 0;
    }
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end || v < 1 || v > MFKV_MAX_K) return -1;
    *n = (uint32_t)v;
    return 0;
}

/* ?exclude=ID,ID,...: the ids point into @p text; empty ids are skipped. */
static int parse_exclude(const char *text, serve_id **out, size_t *n)
{
    size_t cap = 1;
    for (const char *p = text; *p; p++) cap += *p == ',';
    serve_id *ids = calloc(cap, sizeof *ids);
    if (!ids) return -1;
    size_t k = 0;
    for (const char *p = text;;) {
        size_t len = strcspn(p, ",");
        if (len) ids[k++] = (serve_id){.id = p, .id_len = len};
        if (!p[len]) break;
        p += len + 1;
    }
    serve_ids_sort(ids, k);
    *out = ids;
    *n = k;
    return 0;
}

/* The kind of snippet answers in the answer cache. */
#define SNIPPET_ANSWER 's'

/* What a snippet answer depends on besides the store: each query value as
 * '-' (absent) or '=' and its text, NUL-terminated, then the user's bytes.
 * @return the key's length, or 0 when it does not fit. */
static size_t snippet_key(const serve_route *r, const serve_request *req, char key[ANSWER_CACHE_MAX_KEY])
{
    const char *values[] = {req->query_n, req->query_format, req->query_exclude};
    size_t len = 0;
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        size_t vlen = values[i] ? strlen(values[i]) : 0;
        if (len + vlen + 2 > ANSWER_CACHE_MAX_KEY) return 0;
        key[len++] = values[i] ? '=' : '-';
        if (vlen) memcpy(key + len, values[i], vlen);
        len += vlen;
        key[len++] = '\0';
    }
    if (len + r->user_len > ANSWER_CACHE_MAX_KEY) return 0;
    memcpy(key + len, r->user, r->user_len);
    return len + r->user_len;
}

/* The 200 answer for the snippet, without the caching headers. */
static void render_snippet(serve_state *st, served_store *s, const serve_route *r, const serve_request *req,
                           serve_response *res)
{
    uint32_t n;
    if (parse_n(req->query_n, &n)) {
        serve_error(res, 400, "n must be an integer from 1 to %u", MFKV_MAX_K);
        return;
    }
    const char *format = req->query_format ? req->query_format : "json";
    int html = !strcmp(format, "html");
    if (!html && strcmp(format, "json")) {
        serve_error(res, 400, "format must be json or html");
        return;
    }
    serve_id *excluded = NULL;
    size_t n_excluded = 0;
    if (req->query_exclude && parse_exclude(req->query_exclude, &excluded, &n_excluded)) {
        serve_error(res, 500, "out of memory");
        return;
    }
    mfkv_list list;
    int fallback;
    snippet_item *items = NULL;
    if (serve_lookup(s, r->user, r->user_len, st->config->fallback, &list, &fallback, res)) goto done;
    if (n > list.count) n = list.count;
    if (!(items = malloc((n ? n : 1) * sizeof *items))) {
        serve_error(res, 500, "out of memory");
        goto done;
    }
    /* Excluded items make room for the next ones of the stored list. */
    uint32_t shown = 0;
    for (uint32_t i = 0; i < list.count && shown < n; i++) {
        snippet_item *it = &items[shown];
        int rc = mfkv_item(s->store, mfkv_list_item_index(&list, i), &it->info);
        if (rc) {
            serve_error(res, 500, "store item table: %s", mfkv_strerror(rc));
            goto done;
        }
        if (serve_ids_contain(excluded, n_excluded, it->info.id, it->info.id_len)) continue;
        it->score_len = (size_t)mfkv_format_float(it->score, mfkv_list_score(&list, i));
        shown++;
    }
    n = shown;
    if (html) {
        res->content_type = "text/html; charset=utf-8";
        render_html(&res->body, r->user, r->user_len, fallback, items, n);
    } else {
        render_json(&res->body, r->user, r->user_len, fallback, items, n);
    }

    serve_etag(s->info.digest, res->body.data, res->body.len, res->etag);
done:
    free(items);
    free(excluded);
}

void serve_recommendations(serve_state *st, served_store *s, const serve_route *r,
                           const serve_request *req, serve_response *res)
{
    char key[ANSWER_CACHE_MAX_KEY];
    size_t key_len = snippet_key(r, req, key);
    /* See serve_predict for the damaged store. */
    int cached = key_len && !atomic_load(&s->damaged);
    if (cached && answer_cache_get(s->answers, SNIPPET_ANSWER, key, key_len, res)) {
        serve_metrics_answer_kept(&st->metrics);
    } else {
        render_snippet(st, s, r, req, res);
        if (res->status != 200) return;
        if (cached) answer_cache_put(s->answers, SNIPPET_ANSWER, key, key_len, res);
    }
    snprintf(res->cache_control, sizeof res->cache_control, "public, max-age=%u, stale-while-revalidate=%u",
             st->config->cache_max_age, st->config->stale_while_revalidate);
    if (req->if_none_match && serve_etag_matches(req->if_none_match, res->etag)) {
        /* 304 carries the validators and caching headers of the 200.  The body
         * stays: http.c sends none for a 304 but derives Content-Length from
         * it, and RFC 9110 8.6 allows only the length the 200 would have. */
        res->status = 304;
        res->content_type = NULL;
    }
}
