/*
 * serve.h - `mfkv serve`: the store behind an HTTP endpoint compatible with
 * TF Serving's REST API, plus cacheable snippets and operational endpoints.
 *
 * serve_run() owns the process while it runs: it takes SIGTERM, SIGINT and
 * SIGHUP, hot-swaps stores and versions on SIGHUP or when the files at the
 * models' paths change (models.h), and returns after a graceful shutdown.  Logs (reloads, failures) go to config.log; one line
 * per request goes to config.access_log when it is set.
 */
#ifndef MFKV_SERVE_H
#define MFKV_SERVE_H

#include <stdint.h>
#include <stdio.h>

#include "common/diag.h"

/* A served model: a store file, or a base directory of numbered versions
 * (models.h). */
typedef struct serve_model_spec {
    const char *name;
    const char *path;
} serve_model_spec;

typedef struct serve_config {
    const serve_model_spec *models; /* the first also answers the routes without a model name */
    size_t n_models;
    unsigned versions_to_keep; /* loaded versions of a base directory */
    const char *listen_host; /* IPv4 or IPv6 address, or a name (its first address) */
    uint16_t listen_port;    /* 0: let the kernel pick (logged) */
    unsigned threads;         /* HTTP worker threads (http.h) */
    int fallback;             /* snippets of unknown users show the store's fallback list
                                 (predict always answers them so, unless asked for 404) */
    size_t max_body;          /* bytes; larger requests get 413 */
    unsigned max_users;       /* users in one predict request */
    unsigned answer_cache;    /* answers kept per store version (answer_cache.h); 0: none */
    unsigned cache_max_age;   /* seconds, snippet Cache-Control */
    unsigned stale_while_revalidate; /* seconds, snippet Cache-Control */
    unsigned connection_limit;
    unsigned connection_timeout; /* seconds idle, or sending one request, before a connection is closed */
    unsigned shutdown_grace;  /* seconds to let open connections finish */
    unsigned poll_ms;         /* how often the store path is checked; 0: never */
    const char *predict_route; /* another path for predict on the latest version (Vertex AI's
                                  $AIP_PREDICT_ROUTE); NULL: none */
    const char *health_route;  /* another path for /readyz (Vertex AI's $AIP_HEALTH_ROUTE); NULL: none */
    const char *cors_origin;   /* Access-Control-Allow-Origin for the GET endpoints: an origin
                                  or "*"; NULL: no CORS (the default) */
    FILE *log;                /* never NULL */
    FILE *access_log;         /* NULL: none */
} serve_config;

/* The defaults documented in `mfkv serve --help`. */
void serve_config_defaults(serve_config *c);

/* Open the models, serve until SIGTERM/SIGINT, shut down.
 * @return MFKV_OK after a clean shutdown, or the status of a start-up
 *         failure (with @p d filled). */
int serve_run(const serve_config *c, mfkv_diag *d);

#endif
