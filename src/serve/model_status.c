#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"

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

static int is_version(const char *v, size_t len, const serve_route *r)
{
    return !r->version || (len == r->version_len && !memcmp(v, r->version, len));
}

/* TF Serving's GetModelStatus: every loaded version AVAILABLE (newest
 * first), then the versions that failed to load, END with their error. */
void serve_model_status(const served_model *m, const served_versions *v, const serve_route *r,
                        serve_response *res)
{
    json_t *list = json_array();
    for (size_t i = 0; i < v->n; i++) {
        const served_store *s = v->stores[i];
        if (is_version(s->version, strlen(s->version), r))
            json_array_append_new(list, json_pack("{s:s,s:s,s:{s:s,s:s}}", "version", s->version, "state",
                                                  "AVAILABLE", "status", "error_code", "OK", "error_message", ""));
    }
    for (size_t i = 0; i < v->n_failed; i++) {
        char version[24];
        int len = snprintf(version, sizeof version, "%llu", (unsigned long long)v->failed[i].number);
        if (is_version(version, (size_t)len, r))
            json_array_append_new(list, json_pack("{s:s,s:s,s:{s:s,s:s}}", "version", version, "state", "END",
                                                  "status", "error_code", "DATA_LOSS", "error_message",
                                                  v->failed[i].message));
    }
    if (!json_array_size(list)) {
        json_decref(list);
        serve_error(res, 404, "Servable not found for request: Specific(%.64s, %.*s)", m->name,
                    (int)(r->version_len > 32 ? 32 : r->version_len), r->version);
        return;
    }
    send_json(json_pack("{s:o}", "model_version_status", list), res);
}

/* TF Serving's description of one tensor: dtype and shape, -1 = any. */
static json_t *tensor(const char *name, const char *dtype, int rank)
{
    json_t *dims = json_array();
    for (int i = 0; i < rank; i++) json_array_append_new(dims, json_pack("{s:s,s:s}", "size", "-1", "name", ""));
    return json_pack("{s:s,s:{s:o,s:b},s:s}", "dtype", dtype, "tensor_shape", "dim", dims,
                     "unknown_rank", 0, "name", name);
}

void serve_model_metadata(const served_model *m, served_store *s, serve_response *res)
{
    json_t *signature = json_pack(
        "{s:{s:o},s:{s:o,s:o},s:s}",
        "inputs", "user_id", tensor("user_id:0", "DT_STRING", 1),
        "outputs", "predicted_rating", tensor("predicted_rating:0", "DT_FLOAT", 2),
        "predicted_item_id", tensor("predicted_item_id:0", "DT_STRING", 2),
        "method_name", "tensorflow/serving/predict");
    send_json(json_pack("{s:{s:s,s:s,s:s},s:{s:{s:{s:o}}},s:{s:I,s:I,s:I,s:b,s:s}}",
                        "model_spec", "name", m->name, "signature_name", "",
                        "version", s->version,
                        "metadata", "signature_def", "signature_def", "serving_default", signature,
                        "mfkv", "k", (json_int_t)s->info.k, "n_users", (json_int_t)s->info.n_users,
                        "n_items", (json_int_t)s->info.n_items, "has_fallback", s->info.has_fallback != 0,
                        "digest", s->digest_hex),
              res);
}
