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

/*
 * The common shapes without a DOM: nearly every request is
 *   {"instances":[{"user_id":ID},...]}, {"instances":[ID,...]},
 *   {"inputs":{"user_id":[ID,...]}} or {"inputs":[ID,...]}
 * and building jansson's tree for them cost more than answering from kept
 * answers.  This scanner accepts only what jansson would read to the same
 * users (ids are strings of printable ASCII without escapes, or integers
 * written as jansson's "%lld" writes them back), so the ids can point into
 * the body itself; anything else - other keys, escapes, exclusions, an
 * empty or over-long list, any error - goes to the jansson parser, which
 * keeps every error message.  tests/unit/test_serve.c and the serve_request
 * fuzz target check both parsers agree.
 */
typedef struct scanner {
    const char *p, *end;
} scanner;

static void skip_ws(scanner *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

/* The character @p c (after whitespace). */
static int eat(scanner *s, char c)
{
    skip_ws(s);
    if (s->p == s->end || *s->p != c) return 0;
    s->p++;
    return 1;
}

/* The key @p key with its colon; keys are compared as written (no escapes). */
static int eat_key(scanner *s, const char *key)
{
    size_t n = strlen(key);
    skip_ws(s);
    if ((size_t)(s->end - s->p) < n + 2 || s->p[0] != '"' || memcmp(s->p + 1, key, n) || s->p[n + 1] != '"')
        return 0;
    s->p += n + 2;
    return eat(s, ':');
}

/* An id: "printable ASCII" or an integer jansson would print back the same:
 * no "-0" or leading zeros (not JSON), at most 18 digits (always in range). */
static int eat_id(scanner *s, predict_user *u)
{
    skip_ws(s);
    const char *start = s->p;
    if (s->p < s->end && *s->p == '"') {
        for (s->p++; s->p < s->end && *s->p != '"'; s->p++)
            if (*s->p < 0x20 || *s->p > 0x7e || *s->p == '\\') return 0;
        if (s->p == s->end) return 0;
        u->id = start + 1;
        u->id_len = (size_t)(s->p++ - start - 1);
        return 1;
    }
    if (s->p < s->end && *s->p == '-') s->p++;
    const char *digits = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
    size_t nd = (size_t)(s->p - digits);
    if (nd == 0 || nd > 18 || (*digits == '0' && (nd > 1 || digits != start))) return 0;
    /* A fraction or exponent makes it a real, which jansson reports. */
    if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E')) return 0;
    u->id_len = (size_t)(s->p - start);
    memcpy(u->digits, start, u->id_len);
    u->digits[u->id_len] = '\0';
    u->id = u->digits;
    return 1;
}

/* [ID, ...] or, with @p rows, [{"user_id": ID}, ...] also mixed with bare
 * ids, as take_ids reads them; at most @p max_users. */
static int eat_ids(scanner *s, int rows, size_t max_users, predict_request *out)
{
    if (!eat(s, '[')) return 0;
    size_t room = 0;
    do {
        if (out->n_users == max_users) return 0;
        if (out->n_users == room) {
            room = room ? 2 * room : 4;
            if (room > max_users) room = max_users;
            predict_user *grown = realloc(out->users, room * sizeof *grown);
            if (!grown) return 0;
            out->users = grown;
        }
        predict_user *u = &out->users[out->n_users];
        memset(u, 0, sizeof *u);
        skip_ws(s);
        int object = rows && s->p < s->end && *s->p == '{';
        if (object && !(eat(s, '{') && eat_key(s, "user_id"))) return 0;
        if (!eat_id(s, u) || (object && !eat(s, '}'))) return 0;
        out->n_users++;
    } while (eat(s, ','));
    return eat(s, ']');
}

/* 1: @p body is one of the common shapes, parsed into @p out; 0: it is not
 * (out is then empty again). */
static int parse_common(const char *body, size_t len, size_t max_users, predict_request *out)
{
    scanner s = {body, body + len};
    int ok = eat(&s, '{');
    if (ok && eat_key(&s, "instances")) {
        ok = eat_ids(&s, 1, max_users, out);
    } else if (ok && eat_key(&s, "inputs")) {
        out->columnar = 1;
        int object = eat(&s, '{');
        ok = (!object || eat_key(&s, "user_id")) && eat_ids(&s, 0, max_users, out) && (!object || eat(&s, '}'));
    } else {
        ok = 0;
    }
    ok = ok && eat(&s, '}');
    skip_ws(&s);
    if (ok && s.p == s.end) return 1;
    free(out->users);
    memset(out, 0, sizeof *out);
    return 0;
}

int predict_request_parse(const char *body, size_t len, size_t max_users,
                          predict_request *out, char *err, size_t es)
{
    memset(out, 0, sizeof *out);
    if (parse_common(body, len, max_users, out)) return 0;
    return predict_request_parse_json(body, len, max_users, out, err, es);
}

int predict_request_parse_json(const char *body, size_t len, size_t max_users,
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
