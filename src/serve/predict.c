#include <stdlib.h>

#include "answer_cache.h"
#include "render/predict_json.h"
#include "handler.h"
#include "predict_request.h"

/* mfkv_predict_extra.keep: hide the items the instance excluded. */
static int not_excluded(void *ctx, size_t list, const mfkv_item_info *item)
{
    const predict_user *u = &((const predict_request *)ctx)->users[list];
    return !serve_ids_contain(u->exclude, u->n_exclude, item->id, item->id_len);
}

/* The kind of predict answers in the answer cache: keyed by the whole body. */
#define PREDICT_ANSWER 'p'

void serve_predict(serve_state *st, served_store *s, const serve_request *req, serve_response *res)
{
    /* A store a lookup found changed on disk answers from the file (503s)
     * until it is reloaded, not from answers kept before. */
    int cached = !atomic_load(&s->damaged);
    if (cached && answer_cache_get(s->answers, PREDICT_ANSWER, req->body, req->body_len, res)) {
        serve_metrics_answer_kept(&st->metrics);
        return;
    }
    predict_request pr;
    char err[256];
    if (predict_request_parse(req->body, req->body_len, st->config->max_users, &pr, err, sizeof err)) {
        serve_error(res, 400, "%s", err);
        return;
    }
    mfkv_list *lists = malloc(pr.n_users * sizeof *lists);
    unsigned char *fallback = malloc(pr.n_users);
    if (!lists || !fallback) {
        serve_error(res, 500, "out of memory");
        goto done;
    }
    int any_exclude = 0;
    size_t found = 0;
    for (int used; found < pr.n_users; found++) {
        const predict_user *u = &pr.users[found];
        if (serve_lookup(s, u->id, u->id_len, !pr.unknown_is_error, &lists[found], &used, res)) break;
        fallback[found] = (unsigned char)used;
        any_exclude |= u->n_exclude > 0;
    }
    if (found == pr.n_users) {
        mfkv_predict_extra extra = {.fallback = fallback, .keep = any_exclude ? not_excluded : NULL, .ctx = &pr};
        int rc = mfkv_format_predict_extra(s->store, lists, pr.n_users, pr.max_items,
                                           pr.columnar ? MFKV_PREDICT_COLUMNS : MFKV_PREDICT_ROWS, &extra,
                                           &res->body);
        if (rc) serve_error(res, 500, "store item table: %s", mfkv_strerror(rc));
        else if (cached) answer_cache_put(s->answers, PREDICT_ANSWER, req->body, req->body_len, res);
    }
done:
    free(lists);
    free(fallback);
    predict_request_free(&pr);
}
