/*
 * BigQuery ML `ML.WEIGHTS` of a matrix-factorization model, exported as
 * newline-delimited JSON: one object per line, a user or item row
 *
 *   {"processed_input": "user_id", "feature": "1", "intercept": 0.04,
 *    "factor_weights": [{"factor": 4, "weight": -0.26}, ...], "trial_id": 3}
 *
 * and one global row with feature "global__INTERCEPT__" and null
 * processed_input and factor_weights.  Which processed_input is the user
 * side is only known once both have been seen, so rows go to two anonymous
 * sides in order of appearance and are named at the end.
 *
 * Two parsers read the lines.  simdjson (json_row.h) takes the user and item
 * rows whose fields all have the expected JSON types, which is every row of a
 * real export but the global one, at GB/s; Jansson reads whatever simdjson
 * declines and words the errors of syntax and type.  Both hand the values to
 * the same checks (pick_side ... put_weight below), called in the same order,
 * so a row gets the same first message whichever parser read it.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "factor_rows.h"
#include "factors.h"
#include "json_row.h"
#include "lines.h"
#include "mfkv.h"

#define GLOBAL_FEATURE "global__INTERCEPT__"

typedef struct ndjson_load {
    const char *path;
    mfkv_factor_k k;
    char *input[2]; /* processed_input names, in order of appearance */
    mfkv_factor_rows side[2];
    int have_global;
    double global_bias;
    size_t global_line;
    int have_trial;
    json_int_t trial_id;
    size_t trial_line;
    mfkv_json_parser *fast;
} ndjson_load;

static const char *const known_fields[] = {"processed_input", "feature", "factor_weights",
                                           "intercept", "trial_id"};

static int check_fields(const mfkv_where *row, json_t *obj, const char *const *known, size_t n,
                        mfkv_diag *d)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        size_t i = 0;
        while (i < n && strcmp(key, known[i]) != 0) i++;
        if (i < n) continue;
        char q[MFKV_QUOTE_LEN], list[128] = "", field[128];
        for (i = 0; i < n; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", known[i]);
        /* inside factor_weights the field is named with its path */
        snprintf(field, sizeof field, "%s%s%s", row->field ? row->field : "", row->field ? "." : "",
                 mfkv_quote(q, key, strlen(key)));
        mfkv_where w = {row->path, row->line, field};
        return mfkv_fail_at(d, &w, "unknown field (expected %s)", list);
    }
    return MFKV_OK;
}

static int to_float(const mfkv_where *w, double x, float *out, mfkv_diag *d)
{
    float f = (float)x;
    if (!isfinite(f)) return mfkv_fail_at(d, w, "%g is out of float range", x);
    *out = f;
    return MFKV_OK;
}

/* The intercept as a float; null (a model trained without biases) reads
 * as 0. */
static int get_intercept(const mfkv_where *w, json_t *v, float *out, mfkv_diag *d)
{
    if (!v) return mfkv_fail_at(d, w, "missing");
    if (json_is_null(v)) {
        *out = 0;
        return MFKV_OK;
    }
    if (!json_is_number(v)) return mfkv_fail_at(d, w, "must be a number");
    return to_float(w, json_number_value(v), out, d);
}

static int trial_value(ndjson_load *ld, const mfkv_where *row, json_int_t t, mfkv_diag *d)
{
    mfkv_where w = {row->path, row->line, "trial_id"};
    if (!ld->have_trial) {
        ld->have_trial = 1;
        ld->trial_id = t;
        ld->trial_line = row->line;
    } else if (t != ld->trial_id) {
        return mfkv_fail_at(d, &w,
                            "%" JSON_INTEGER_FORMAT " differs from %" JSON_INTEGER_FORMAT
                            " on line %zu; export one trial (WHERE trial_id = ...)",
                            t, ld->trial_id, ld->trial_line);
    }
    return MFKV_OK;
}

static int check_trial(ndjson_load *ld, const mfkv_where *row, json_t *v, mfkv_diag *d)
{
    mfkv_where w = {row->path, row->line, "trial_id"};
    if (!v || json_is_null(v)) return MFKV_OK;
    if (!json_is_integer(v)) return mfkv_fail_at(d, &w, "must be an integer");
    return trial_value(ld, row, json_integer_value(v), d);
}

static int global_row(ndjson_load *ld, const mfkv_where *row, json_t *obj, mfkv_diag *d)
{
    mfkv_where w = {row->path, row->line, "processed_input"};
    json_t *input = json_object_get(obj, "processed_input");
    if (!json_is_null(input))
        return mfkv_fail_at(d, &w, "must be null on the " GLOBAL_FEATURE " row");
    json_t *fw = json_object_get(obj, "factor_weights");
    w.field = "factor_weights";
    if (fw && !json_is_null(fw) && !(json_is_array(fw) && json_array_size(fw) == 0))
        return mfkv_fail_at(d, &w, "must be null on the " GLOBAL_FEATURE " row");
    w.field = "feature";
    if (ld->have_global)
        return mfkv_fail_at(d, &w, "a second " GLOBAL_FEATURE " row (first on line %zu)",
                            ld->global_line);
    w.field = "intercept";
    json_t *v = json_object_get(obj, "intercept");
    if (!v) return mfkv_fail_at(d, &w, "missing");
    if (!json_is_null(v) && !json_is_number(v)) return mfkv_fail_at(d, &w, "must be a number");
    ld->global_bias = json_number_value(v); /* 0 for null */
    ld->have_global = 1;
    ld->global_line = row->line;
    return MFKV_OK;
}

/* Which of the two sides a processed_input name belongs to, adding it. */
static int pick_side(ndjson_load *ld, const mfkv_where *row, const char *name, size_t len, int *side,
                     mfkv_diag *d)
{
    for (int i = 0; i < 2; i++) {
        if (!ld->input[i]) {
            if (!(ld->input[i] = strndup(name, len))) return mfkv_fail(d, MFKV_NOMEM, "out of memory");
            ld->side[i].side = ld->input[i];
        }
        if (strlen(ld->input[i]) == len && memcmp(ld->input[i], name, len) == 0) {
            *side = i;
            return MFKV_OK;
        }
    }
    mfkv_where w = {row->path, row->line, "processed_input"};
    char q[MFKV_QUOTE_LEN];
    return mfkv_fail_at(d, &w, "a third column \"%s\" besides \"%s\" and \"%s\"; expected only users and items",
                        mfkv_quote(q, name, len), ld->input[0], ld->input[1]);
}

/* The processed_input field's type, then pick_side. */
static int side_of(ndjson_load *ld, const mfkv_where *row, json_t *input, int *side, mfkv_diag *d)
{
    mfkv_where w = {row->path, row->line, "processed_input"};
    if (!json_is_string(input) || json_string_length(input) == 0)
        return mfkv_fail_at(d, &w, "must be a non-empty string (or null on the %s row)",
                            GLOBAL_FEATURE);
    return pick_side(ld, row, json_string_value(input), json_string_length(input), side, d);
}

/* An integer feature is the id written in decimal. */
static size_t int_text(char num[32], json_int_t v)
{
    return (size_t)snprintf(num, 32, "%" JSON_INTEGER_FORMAT, v);
}

static int feature_text(const mfkv_where *w, json_t *v, char num[32], const char **s, size_t *len,
                        mfkv_diag *d)
{
    if (json_is_string(v)) {
        *s = json_string_value(v);
        *len = json_string_length(v);
    } else if (json_is_integer(v)) {
        *len = int_text(num, json_integer_value(v));
        *s = num;
    } else {
        return mfkv_fail_at(d, w, v ? "must be a string or an integer" : "missing");
    }
    return MFKV_OK;
}

static const char *const weight_fields[] = {"factor", "weight"};

static int check_factor(const mfkv_where *at, json_int_t factor, mfkv_diag *d)
{
    if (factor < 1 || factor > MFKV_MAX_FACTORS)
        return mfkv_fail_at(d, at, "%" JSON_INTEGER_FORMAT " is not in 1..%u", factor, MFKV_MAX_FACTORS);
    return MFKV_OK;
}

/* Element @p i's weight, once its factor passed check_factor. */
static int put_weight(mfkv_factor_rows *r, const mfkv_where *row, uint32_t index, size_t i, uint32_t factor,
                      double weight, mfkv_diag *d)
{
    mfkv_where at = {row->path, row->line, "factor_weights", i, "weight"};
    float f;
    int rc = to_float(&at, weight, &f, d);
    if (rc) return rc;
    at.member = "factor";
    return mfkv_factor_rows_put(r, &at, index, factor, f, d);
}

static int put_factors(mfkv_factor_rows *r, const mfkv_where *row, uint32_t index, json_t *fw,
                       mfkv_diag *d)
{
    char field[64];
    size_t i;
    json_t *e;
    json_array_foreach(fw, i, e) {
        mfkv_where w = {row->path, row->line, field};
        snprintf(field, sizeof field, "factor_weights[%zu]", i);
        if (!json_is_object(e)) return mfkv_fail_at(d, &w, "must be an object {factor, weight}");
        int rc = check_fields(&w, e, weight_fields, 2, d);
        if (rc) return rc;
        mfkv_where at = {row->path, row->line, "factor_weights", i, "factor"};
        json_t *f = json_object_get(e, "factor");
        if (!json_is_integer(f)) return mfkv_fail_at(d, &at, f ? "must be an integer" : "missing");
        json_int_t factor = json_integer_value(f);
        if ((rc = check_factor(&at, factor, d))) return rc;
        at.member = "weight";
        json_t *v = json_object_get(e, "weight");
        if (!json_is_number(v)) return mfkv_fail_at(d, &at, v ? "must be a number" : "missing");
        if ((rc = put_weight(r, row, index, i, (uint32_t)factor, json_number_value(v), d))) return rc;
    }
    return MFKV_OK;
}

/* A row's factor count: fixes K on the first row, must equal it after. */
static int factor_count(ndjson_load *ld, const mfkv_where *row, size_t n, mfkv_diag *d)
{
    mfkv_where w = {row->path, row->line, "factor_weights"};
    if (n == 0 || n > MFKV_MAX_FACTORS)
        return mfkv_fail_at(d, &w, "has %zu factors, expected 1..%u", n, MFKV_MAX_FACTORS);
    mfkv_factor_k_fix(&ld->k, (uint32_t)n, row);
    if (n != ld->k.k)
        return mfkv_fail_at(d, &w, "has %zu factors, but K = %u (from the first id, line %zu)", n, ld->k.k,
                            ld->k.origin.line);
    return MFKV_OK;
}

/* Add the row's id (its feature) to its side; a repeated id is an error. */
static int new_id(mfkv_factor_rows *r, const mfkv_where *row, const char *id, size_t len, float bias,
                  uint32_t *index, mfkv_diag *d)
{
    mfkv_where w = {row->path, row->line, "feature"};
    int added, rc = mfkv_factor_rows_id(r, &w, id, len, bias, index, &added, d);
    if (rc || added) return rc;
    char q[MFKV_QUOTE_LEN];
    return mfkv_fail_at(d, &w, "duplicate %s id \"%s\" (first on line %zu)", r->side, mfkv_quote(q, id, len),
                        r->line[*index]);
}

static int entity_row(ndjson_load *ld, const mfkv_where *row, json_t *obj, mfkv_diag *d)
{
    int s, rc;
    if ((rc = side_of(ld, row, json_object_get(obj, "processed_input"), &s, d))) return rc;
    mfkv_factor_rows *r = &ld->side[s];

    mfkv_where w = {row->path, row->line, "intercept"};
    float bias;
    if ((rc = get_intercept(&w, json_object_get(obj, "intercept"), &bias, d))) return rc;

    w.field = "factor_weights";
    json_t *fw = json_object_get(obj, "factor_weights");
    if (!json_is_array(fw)) return mfkv_fail_at(d, &w, fw ? "must be an array" : "missing");
    if ((rc = factor_count(ld, row, json_array_size(fw), d))) return rc;

    w.field = "feature";
    char num[32];
    const char *id;
    size_t len;
    if ((rc = feature_text(&w, json_object_get(obj, "feature"), num, &id, &len, d))) return rc;
    uint32_t index;
    if ((rc = new_id(r, row, id, len, bias, &index, d))) return rc;
    return put_factors(r, row, index, fw, d);
}

/* A row read by simdjson: entity_row's checks without the type checks. */
static int fast_row(ndjson_load *ld, const mfkv_where *row, const mfkv_json_entity *e, mfkv_diag *d)
{
    int s, rc;
    if (e->has_trial && (rc = trial_value(ld, row, e->trial_id, d))) return rc;
    if ((rc = pick_side(ld, row, e->input, e->input_len, &s, d))) return rc;
    mfkv_factor_rows *r = &ld->side[s];
    mfkv_where w = {row->path, row->line, "intercept"};
    float bias;
    if ((rc = to_float(&w, e->intercept, &bias, d))) return rc;
    if ((rc = factor_count(ld, row, e->n_weights, d))) return rc;
    char num[32];
    const char *id = e->feature;
    size_t len = e->feature_len;
    if (!id) len = int_text(num, e->feature_int), id = num;
    uint32_t index;
    if ((rc = new_id(r, row, id, len, bias, &index, d))) return rc;
    for (size_t i = 0; i < e->n_weights; i++) {
        mfkv_where at = {row->path, row->line, "factor_weights", i, "factor"};
        if ((rc = check_factor(&at, e->weights[i].factor, d)) ||
            (rc = put_weight(r, row, index, i, (uint32_t)e->weights[i].factor, e->weights[i].weight, d)))
            return rc;
    }
    return MFKV_OK;
}

static int is_global(json_t *obj)
{
    json_t *f = json_object_get(obj, "feature");
    return json_is_string(f) && strcasecmp(json_string_value(f), GLOBAL_FEATURE) == 0;
}

static int load_line(ndjson_load *ld, const mfkv_where *row, const char *s, size_t len,
                     mfkv_diag *d)
{
    mfkv_json_entity e;
    if (mfkv_json_entity_parse(ld->fast, s, len, &e)) return fast_row(ld, row, &e, d);
    json_error_t err;
    json_t *obj = json_loadb(s, len, JSON_REJECT_DUPLICATES, &err);
    if (!obj)
        return mfkv_fail(d, MFKV_PARSE, "%s:%zu: column %d: invalid JSON: %s", row->path,
                         row->line, err.column, err.text);
    int rc;
    if (!json_is_object(obj))
        rc = mfkv_fail(d, MFKV_PARSE, "%s:%zu: expected a JSON object", row->path, row->line);
    else if (!(rc = check_fields(row, obj, known_fields, 5, d)) &&
             !(rc = check_trial(ld, row, json_object_get(obj, "trial_id"), d))) {
        mfkv_where w = {row->path, row->line, "processed_input"};
        if (!json_object_get(obj, "processed_input")) rc = mfkv_fail_at(d, &w, "missing");
        else if (is_global(obj)) rc = global_row(ld, row, obj, d);
        else rc = entity_row(ld, row, obj, d);
    }
    json_decref(obj);
    return rc;
}

static int contains_user(const char *s) { return strcasestr(s, "user") != NULL; }

/* Index of the user side, from the caller's column name or the names. */
static int pick_user_side(const ndjson_load *ld, const mfkv_where *end, const char *user_column,
                          int *user, mfkv_diag *d)
{
    if (!ld->input[0]) return mfkv_fail_at(d, end, "no user or item rows");
    if (!ld->input[1])
        return mfkv_fail_at(d, end, "only one column \"%s\"; need user rows and item rows",
                            ld->input[0]);
    if (user_column) {
        for (int i = 0; i < 2; i++)
            if (strcmp(ld->input[i], user_column) == 0) {
                *user = i;
                return MFKV_OK;
            }
        return mfkv_fail_at(d, end, "no rows for user column \"%s\" (found \"%s\" and \"%s\")",
                            user_column, ld->input[0], ld->input[1]);
    }
    int u0 = contains_user(ld->input[0]), u1 = contains_user(ld->input[1]);
    if (u0 == u1)
        return mfkv_fail_at(d, end,
                            "cannot tell which of \"%s\" and \"%s\" is the user column; name it "
                            "(--user-column)",
                            ld->input[0], ld->input[1]);
    *user = u0 ? 0 : 1;
    return MFKV_OK;
}

static int finish(ndjson_load *ld, size_t last_line, const char *user_column, mfkv_model *out,
                  mfkv_diag *d)
{
    mfkv_where end = {ld->path, last_line, "processed_input"};
    if (last_line == 0) return mfkv_fail(d, MFKV_PARSE, "%s:1: the file is empty", ld->path);
    int u, rc;
    if ((rc = pick_user_side(ld, &end, user_column, &u, d))) return rc;
    end.field = "feature";
    if (!ld->have_global) return mfkv_fail_at(d, &end, "no " GLOBAL_FEATURE " row");
    mfkv_factor_rows *users = &ld->side[u], *items = &ld->side[1 - u];
    users->side = "user";
    items->side = "item";
    if ((rc = mfkv_factor_rows_check(users, &end, d)) || (rc = mfkv_factor_rows_check(items, &end, d)))
        return rc;
    return mfkv_factor_rows_to_model(users, items, ld->global_bias, out, d);
}

static int on_line(void *ctx, const mfkv_lines *in, const char *s, size_t len, mfkv_diag *d)
{
    ndjson_load *ld = ctx;
    mfkv_where row = {in->path, in->line, NULL};
    return len ? load_line(ld, &row, s, len, d) : MFKV_OK;
}

int mfkv_load_bqml_ndjson(const char *path, const char *user_column, mfkv_model *out,
                          mfkv_diag *d)
{
    mfkv_model_init(out);
    ndjson_load ld = {.path = path};
    for (int i = 0; i < 2; i++) mfkv_factor_rows_init(&ld.side[i], &ld.k, NULL, "factor_weights");
    size_t n_lines;
    int rc = (ld.fast = mfkv_json_parser_new()) ? MFKV_OK : mfkv_fail(d, MFKV_NOMEM, "out of memory");
    if (!rc) rc = mfkv_lines_each(path, on_line, &ld, &n_lines, d);
    if (!rc) rc = finish(&ld, n_lines, user_column, out, d);
    mfkv_json_parser_free(ld.fast);
    for (int i = 0; i < 2; i++) {
        mfkv_factor_rows_free(&ld.side[i]);
        free(ld.input[i]);
    }
    return rc;
}
