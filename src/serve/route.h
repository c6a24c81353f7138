/*
 * route.h - what a request path names.  Pure string work, no allocation:
 * the fields point into the path given.
 */
#ifndef MFKV_SERVE_ROUTE_H
#define MFKV_SERVE_ROUTE_H

#include <stddef.h>

typedef enum serve_route_kind {
    ROUTE_PREDICT,         /* POST /v1/models/M[/versions/V]:predict */
    ROUTE_MODEL_STATUS,    /* GET  /v1/models/M[/versions/V] */
    ROUTE_MODEL_METADATA,  /* GET  /v1/models/M[/versions/V]/metadata */
    ROUTE_RECOMMENDATIONS, /* GET  /v1/users/U/recommendations */
    ROUTE_PAGE,            /* GET  / */
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_UNKNOWN,
    ROUTE_COUNT
} serve_route_kind;

typedef struct serve_route {
    serve_route_kind kind;
    const char *model;   size_t model_len;
    const char *version; size_t version_len; /* NULL: latest */
    const char *user;    size_t user_len;
} serve_route;

/* Classify @p path (decoded, without the query string). */
void serve_route_parse(const char *path, serve_route *out);

/* Stable lowercase name of a route kind, for metrics and logs. */
const char *serve_route_name(serve_route_kind kind);

/* The methods a route accepts, as an Allow header value. */
const char *serve_route_allow(serve_route_kind kind);

#endif
