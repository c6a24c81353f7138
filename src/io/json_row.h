/*
 * json_row.h - the fast path of the BigQuery ML NDJSON loader: one line
 * parsed by simdjson (a C++ library, behind this C interface; see
 * json_row.cpp) into plain values.
 *
 * It only takes the common case, a user or item row in which every field
 * has the JSON type the loader expects.  Anything else (invalid JSON, the
 * global row, a null, a missing, unknown or repeated field, a number the
 * other parser would refuse) is declined, and the loader parses that line
 * with Jansson, which words every message; so messages do not depend on
 * which parser read a line.
 */
#ifndef MFKV_IO_JSON_ROW_H
#define MFKV_IO_JSON_ROW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mfkv_json_parser mfkv_json_parser;

typedef struct mfkv_json_weight {
    int64_t factor;
    double weight;
} mfkv_json_weight;

/* A user or item row's values; strings are not NUL-terminated, and with the
 * weights they stay valid until the parser's next call. */
typedef struct mfkv_json_entity {
    const char *input, *feature; /* feature is NULL when it is an integer */
    size_t input_len, feature_len;
    int64_t feature_int;
    double intercept;            /* 0 for null, as the loader reads it */
    int has_trial;               /* trial_id present and not null */
    int64_t trial_id;
    const mfkv_json_weight *weights;
    size_t n_weights;
} mfkv_json_entity;

/* NULL when out of memory. */
mfkv_json_parser *mfkv_json_parser_new(void);
void mfkv_json_parser_free(mfkv_json_parser *p);

/* 1 with @p out filled when s[0..len) is such a row, 0 when declined. */
int mfkv_json_entity_parse(mfkv_json_parser *p, const char *s, size_t len, mfkv_json_entity *out);

#ifdef __cplusplus
}
#endif

#endif
