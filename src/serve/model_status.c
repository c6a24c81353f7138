#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"

int serve_check_model(serve_state *st, served_store *s, const serve_route *r, serve_response *res)
{
    const char *name = st->config->model_name;
    if (r->model_len != strlen(name) || memcmp(r->model, name, r->model_len)) {
        serve_error(res, 404, "Servable not found for request: Latest(%.*s)",
                    (int)(r->model_len > 64 ? 64 : r->model_len), r->model);
        return -1;
    }
    if (r->version && (r->version_len != strlen(s->version) || memcmp(r->version, s->version, r->version_len))) {
        serve_error(res, 404, "Servable not found for request: Specific(%s, %.*s)", name,
                    (int)(r->version_len > 32 ? 32 : r->version_len), r->version);
        return -1;
    }
    return 0;
}

/* Serialize @p doc (stolen) compactly as the response body. */
static void send_json(json_t *doc, serve_response *res)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        serve_error(res, 500, "out of memory");
        return;
    }
    mfkv_buf_puts(&res->body, text);
    mfkv_buf_puts(&res->body, "\n");
    free(text);
}

void serve_model_status(serve_state *st, served_store *s, const serve_route *r, serve_response *res)
{
    if (serve_check_model(st, s, r, res)) return;
    send_json(json_pack("{s:[{s:s,s:s,s:{s:s,s:s}}]}", "model_version_status",
                        "version", s->version, "state", "AVAILABLE",
                        "status", "error_code", "OK", "error_message", ""),
              res);
}

/* TF Serving's description of one tensor: dtype and shape, -1 = any. */
static json_t *tensor(const char *name, const char *dtype, int rank)
{
    json_t *dims = json_array();
    for (int i = 0; i < rank; i++) json_array_append_new(dims, json_pack("{s:s,s:s}", "size", "-1", "name", ""));
    return json_pack("{s:s,s:{s:o,s:b},s:s}", "dtype", dtype, "tensor_shape", "dim", dims,
                     "unknown_rank", 0, "name", name);
}

void serve_model_metadata(serve_state *st, served_store *s, const serve_route *r, serve_response *res)
{
    if (serve_check_model(st, s, r, res)) return;
    json_t *signature = json_pack(
        "{s:{s:o},s:{s:o,s:o},s:s}",
        "inputs", "user_id", tensor("user_id:0", "DT_STRING", 1),
        "outputs", "predicted_rating", tensor("predicted_rating:0", "DT_FLOAT", 2),
        "predicted_item_id", tensor("predicted_item_id:0", "DT_STRING", 2),
        "method_name", "tensorflow/serving/predict");
    send_json(json_pack("{s:{s:s,s:s,s:s},s:{s:{s:{s:o}}},s:{s:I,s:I,s:I,s:b}}",
                        "model_spec", "name", st->config->model_name, "signature_name", "",
                        "version", s->version,
                        "metadata", "signature_def", "signature_def", "serving_default", signature,
                        "mfkv", "k", (json_int_t)s->info.k, "n_users", (json_int_t)s->info.n_users,
                        "n_items", (json_int_t)s->info.n_items, "has_fallback", s->info.has_fallback != 0),
              res);
}
