/*
 * handler.h - request handling, independent of the HTTP library.
 *
 * serve_handle() turns one complete request (method, decoded path, the few
 * query and header values that matter, body) into a response (status,
 * headers, body).  http.c calls it for each request read; unit tests call it
 * directly.
 */
#ifndef MFKV_SERVE_HANDLER_H
#define MFKV_SERVE_HANDLER_H

#include <stdatomic.h>
#include <stddef.h>

#include "common/buf.h"
#include "metrics.h"
#include "route.h"
#include "serve.h"
#include "models.h"
#include "store_slot.h"

typedef struct serve_request {
    const char *method;
    const char *path;          /* decoded, no query string */
    const char *query_n;       /* ?n=, NULL when absent */
    const char *query_format;  /* ?format=, NULL when absent */
    const char *query_exclude; /* ?exclude=, NULL when absent */
    const char *if_none_match; /* header, NULL when absent */
    const char *origin;        /* header, NULL when absent */
    const char *body;
    size_t body_len;
} serve_request;

typedef struct serve_response {
    unsigned status;
    const char *content_type; /* static string */
    mfkv_buf body;
    char etag[48];            /* quoted entity tag; empty: none */
    char cache_control[96];   /* empty: none */
    const char *allow;        /* Allow header (405), static; NULL: none */
    const char *allow_origin; /* Access-Control-Allow-Origin, from the config; NULL: none */
    int vary_origin;          /* Vary: Origin (the CORS headers depend on it) */
    int preflight;            /* answer to a CORS preflight: the Allow-Methods/Headers/Max-Age too */
} serve_response;

typedef struct serve_state {
    const serve_config *config;
    served_model *models; /* config->n_models of them */
    size_t n_models;
    serve_metrics metrics;
    atomic_int draining; /* shutting down: /readyz says so */
    atomic_uint open_connections;
    struct serve_linger *linger; /* lingering close; NULL in unit tests */
    char listen_addr[46];        /* numeric, as resolved from config->listen_host */
} serve_state;

void serve_response_init(serve_response *res);
void serve_response_free(serve_response *res);

/* Handle @p req with the current store; returns the route, for metrics. */
serve_route_kind serve_handle(serve_state *st, const serve_request *req, serve_response *res);

/* Replace whatever @p res holds with a JSON error {"error":"..."}. */
void serve_error(serve_response *res, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Find user @p id's list or, when @p fallback is set and the user is
 * unknown, the store's fallback list (empty when the store has none; then
 * *used_fallback is 1).  On failure fills @p res with the error (404, 400
 * or 500) and returns -1. */
int serve_lookup(served_store *s, const char *id, size_t id_len, int fallback,
                 mfkv_list *list, int *used_fallback, serve_response *res);

/* The route handlers, given the model and version the route names. */
void serve_predict(serve_state *st, served_store *s, const serve_request *req, serve_response *res);
void serve_model_status(const served_model *m, const served_versions *v, const serve_route *r,
                        serve_response *res);
void serve_model_metadata(const served_model *m, served_store *s, serve_response *res);
void serve_recommendations(serve_state *st, served_store *s, const serve_route *r,
                           const serve_request *req, serve_response *res);
void serve_page(serve_response *res);

#endif
