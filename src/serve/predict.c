#include <stdlib.h>

#include "common/predict_json.h"
#include "handler.h"
#include "predict_request.h"

void serve_predict(serve_state *st, served_store *s, const serve_route *r,
                   const serve_request *req, serve_response *res)
{
    if (serve_check_model(st, s, r, res)) return;
    predict_request pr;
    char err[256];
    if (predict_request_parse(req->body, req->body_len, st->config->max_users, &pr, err, sizeof err)) {
        serve_error(res, 400, "%s", err);
        return;
    }
    mfkv_list *lists = malloc(pr.n_users * sizeof *lists);
    if (!lists) {
        serve_error(res, 500, "out of memory");
        predict_request_free(&pr);
        return;
    }
    size_t found = 0;
    for (int fallback; found < pr.n_users; found++)
        if (serve_lookup(st, s, pr.users[found].id, pr.users[found].id_len, &lists[found], &fallback, res)) break;
    if (found == pr.n_users) {
        int rc = mfkv_format_predict(s->store, lists, pr.n_users, pr.max_items,
                                     pr.columnar ? MFKV_PREDICT_COLUMNS : MFKV_PREDICT_ROWS, &res->body);
        if (rc) serve_error(res, 500, "store item table: %s", mfkv_strerror(rc));
    }
    free(lists);
    predict_request_free(&pr);
}
