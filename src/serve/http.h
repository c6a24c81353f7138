/*
 * http.h - libmicrohttpd in front of serve_handle(): collects the body
 * (refusing more than max_body with 413), fills the headers, counts every
 * request in the metrics and writes the access log.
 *
 * Overload: with more than connection_limit connections open, requests get
 * 503 and a JSON error (Retry-After: 1, Connection: close) instead of a
 * dropped connection; only beyond connection_limit + SERVE_CONNECTION_HEADROOM
 * does libmicrohttpd refuse connections outright.
 */
#ifndef MFKV_SERVE_HTTP_H
#define MFKV_SERVE_HTTP_H

#include <microhttpd.h>

#include "common/diag.h"
#include "handler.h"

#define SERVE_CONNECTION_HEADROOM 64u

/* Listen on the configured address with the configured limits.
 * @return the daemon, or NULL with @p d filled. */
struct MHD_Daemon *serve_http_start(serve_state *st, mfkv_diag *d);

/* Stop accepting connections, let open ones finish for up to @p grace_s
 * seconds, then stop every thread. */
void serve_http_stop(struct MHD_Daemon *daemon, unsigned grace_s);

#endif
