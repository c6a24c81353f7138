#include "predict_request.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return -1;
}

/* An id given as a JSON string or integer, into *id, *len (integers are
 * written into @p digits). */
static int take_id(const json_t *v, const char **id, size_t *len, char digits[24])
{
    if (json_is_string(v)) {
        *id = json_string_value(v);
        *len = json_string_length(v);
        return 0;
    }
    if (json_is_integer(v)) {
        *len = (size_t)snprintf(digits, 24, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *id = digits;
        return 0;
    }
    return -1;
}

/* instances[i].exclude: the items this user must not be shown. */
static int take_exclude(const json_t *list, size_t i, predict_user *u, char *err, size_t es)
{
    if (!json_is_array(list)) return fail(err, es, "instances[%zu].exclude must be a list of item ids", i);
    size_t n = json_array_size(list);
    if (!n) return 0;
    u->exclude = calloc(n, sizeof *u->exclude);
    if (!u->exclude) return fail(err, es, "out of memory");
    for (size_t j = 0; j < n; j++) {
        serve_id *x = &u->exclude[j];
        if (take_id(json_array_get(list, j), &x->id, &x->id_len, x->digits))
            return fail(err, es, "instances[%zu].exclude[%zu]: item ids must be integers or strings", i, j);
    }
    u->n_exclude = n;
    serve_ids_sort(u->exclude, n);
    return 0;
}

/* The user ids of a row-format "instances" array or a columnar list. */
static int take_ids(const json_t *arr, int rows, size_t max_users, predict_request *out,
                    char *err, size_t es)
{
    size_t n = json_array_size(arr);
    if (n == 0) return fail(err, es, "no users in the request");
    if (n > max_users) return fail(err, es, "%zu users in one request; the limit is %zu", n, max_users);
    out->users = calloc(n, sizeof *out->users);
    if (!out->users) return fail(err, es, "out of memory");
    out->n_users = n; /* so that a failure part way frees the exclusions taken */
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(arr, i);
        if (rows && json_is_object(v)) {
            const json_t *exclude = json_object_get(v, "exclude");
            if (exclude && take_exclude(exclude, i, &out->users[i], err, es)) return -1;
            v = json_object_get(v, "user_id");
            if (!v) return fail(err, es, "instances[%zu]: missing field user_id", i);
        }
        predict_user *u = &out->users[i];
        if (take_id(v, &u->id, &u->id_len, u->digits))
            return fail(err, es, "%s[%zu]: user_id must be an integer or a string",
                        rows ? "instances" : "inputs.user_id", i);
    }
    return 0;
}

/* The options, from the top level or from Vertex AI's "parameters". */
static int take_options(const json_t *root, predict_request *out, char *err, size_t es)
{
    const json_t *params = json_object_get(root, "parameters");
    const json_t *where = root;
    if (params) {
        if (!json_is_object(params)) return fail(err, es, "parameters must be an object");
        const char *key;
        const json_t *value;
        json_object_foreach((json_t *)params, key, value) {
            if (strcmp(key, "n") && strcmp(key, "unknown_users"))
                return fail(err, es, "parameters: unknown option \"%.64s\" (known: n, unknown_users)", key);
            if (json_object_get(root, key))
                return fail(err, es, "give %s at the top level or in parameters, not both", key);
        }
        where = params;
    }
    const json_t *n = json_object_get(where, "n");
    if (n) {
        if (!json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > UINT32_MAX)
            return fail(err, es, "n must be a positive integer");
        out->max_items = (uint32_t)json_integer_value(n);
    }
    const json_t *unknown = json_object_get(where, "unknown_users");
    if (unknown) {
        const char *u = json_is_string(unknown) ? json_string_value(unknown) : "";
        if (strcmp(u, "fallback") && strcmp(u, "error"))
            return fail(err, es, "unknown_users must be \"fallback\" or \"error\"");
        out->unknown_is_error = !strcmp(u, "error");
    }
    const json_t *sig = json_object_get(root, "signature_name");
    if (sig && (!json_is_string(sig) || strcmp(json_string_value(sig), "serving_default")))
        return fail(err, es, "signature_name: only \"serving_default\" is served");
    return 0;
}

static int parse_root(const json_t *root, size_t max_users, predict_request *out, char *err, size_t es)
{
    if (!json_is_object(root)) return fail(err, es, "request body must be a JSON object");
    const json_t *instances = json_object_get(root, "instances");
    const json_t *inputs = json_object_get(root, "inputs");
    if (instances && inputs) return fail(err, es, "give either \"instances\" or \"inputs\", not both");
    if (!instances && !inputs) return fail(err, es, "missing \"instances\" or \"inputs\"");
    if (take_options(root, out, err, es)) return -1;
    if (instances) {
        if (!json_is_array(instances)) return fail(err, es, "instances must be a list");
        return take_ids(instances, 1, max_users, out, err, es);
    }
    out->columnar = 1;
    if (json_is_object(inputs)) {
        inputs = json_object_get(inputs, "user_id");
        if (!inputs) return fail(err, es, "inputs: missing field user_id");
    }
    if (!json_is_array(inputs)) return fail(err, es, "inputs.user_id must be a list");
    return take_ids(inputs, 0, max_users, out, err, es);
}

int predict_request_parse(const char *body, size_t len, size_t max_users,
                          predict_request *out, char *err, size_t es)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    out->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!out->root) return fail(err, es, "JSON parse error at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    if (parse_root(out->root, max_users, out, err, es)) {
        predict_request_free(out);
        return -1;
    }
    return 0;
}

void predict_request_free(predict_request *r)
{
    for (size_t i = 0; r->users && i < r->n_users; i++) free(r->users[i].exclude);
    free(r->users);
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}
