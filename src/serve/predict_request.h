/*
 * predict_request.h - the body of a TF Serving predict request.
 *
 * Accepted (user and item ids as JSON integers or strings):
 *   {"instances": [{"user_id": 1}, {"user_id": "2"}]}   row format
 *   {"instances": [{"user_id": 1, "exclude": ["3382", 50]}]}
 *                                                      row, with items to hide
 *   {"instances": [1, "2"]}                            row, single input
 *   {"inputs": {"user_id": [1, "2"]}}                  columnar format
 *   {"inputs": [1, "2"]}                               columnar, single input
 * plus the request options, at the top level (TF Serving) or inside a
 * "parameters" object (Vertex AI), not both:
 *   "n"             a positive integer: keep the first n items
 *   "unknown_users" "fallback" (default): an unknown user gets the store's
 *                   fallback list, marked "fallback": true; "error": the
 *                   whole request fails with 404, as TF Serving does
 * and "signature_name" (must be "serving_default" when present).
 */
#ifndef MFKV_SERVE_PREDICT_REQUEST_H
#define MFKV_SERVE_PREDICT_REQUEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "id_set.h"

typedef struct predict_user {
    const char *id; /* into the parsed JSON, the request body, or digits */
    size_t id_len;
    char digits[24]; /* decimal text of an integer id */
    serve_id *exclude; /* sorted items to hide from this user; NULL: none */
    size_t n_exclude;
} predict_user;

typedef struct predict_request {
    json_t *root;
    predict_user *users;
    size_t n_users;
    uint32_t max_items; /* 0: all */
    int columnar;
    int unknown_is_error; /* "unknown_users": "error" */
} predict_request;

/*
 * Parse @p body; at most @p max_users users.  On failure returns -1 with a
 * message for a 400 response in @p err; the request is then empty.
 */
int predict_request_parse(const char *body, size_t len, size_t max_users,
                          predict_request *out, char *err, size_t err_size);

/* The same with jansson for every shape, which predict_request_parse uses
 * for all but the common ones; separate so that tests can check that both
 * read every body alike. */
int predict_request_parse_json(const char *body, size_t len, size_t max_users,
                               predict_request *out, char *err, size_t err_size);

void predict_request_free(predict_request *r);

#endif
