/*
 * id_set.h - a small sorted set of id strings (request-time exclusions).
 *
 * The ids point into the request (JSON strings, the query string) or into
 * each entry's own digits (JSON integers); nothing is copied.  Sets are
 * sorted once and searched by bisection: a request excludes a few to a few
 * hundred items, and each shown entry is checked once.
 */
#ifndef MFKV_SERVE_ID_SET_H
#define MFKV_SERVE_ID_SET_H

#include <stddef.h>

typedef struct serve_id {
    const char *id; /* into the request, or into digits */
    size_t id_len;
    char digits[24]; /* decimal text of an integer id */
} serve_id;

/* Sort @p ids (n entries) for serve_ids_contain. */
void serve_ids_sort(serve_id *ids, size_t n);

/* Whether the sorted @p ids hold @p id. */
int serve_ids_contain(const serve_id *ids, size_t n, const char *id, size_t len);

#endif
