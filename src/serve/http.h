/*
 * http.h - HTTP/1.1 in front of serve_handle(): an epoll loop per worker
 * thread over Debian's http-parser (libhttp-parser, nodejs' parser).
 *
 * Each worker owns its connections outright (no locks on the request path):
 * it reads into the connection's buffer, parses, calls serve_handle() for
 * each complete request, and writes the answers (several when the client
 * pipelines) from one buffer with one send.  Keep-alive follows the request
 * (HTTP/1.1 by default, HTTP/1.0 with "Connection: keep-alive").
 *
 * Limits: the request line and headers must fit SERVE_HEAD_MAX bytes (431),
 * the body --max-body (413: on a declared Content-Length before any of it is
 * read, on a chunked body as soon as it passes the limit).  A connection is
 * closed when it has waited --timeout seconds since it opened or its last
 * answer went out without sending a whole request (idle keep-alive, and
 * slowloris clients that trickle header bytes), or when a client stops
 * reading an answer for that long.  With more than connection_limit
 * connections open, requests get 503 and a JSON error (Retry-After: 1,
 * Connection: close) instead of a dropped connection; only beyond
 * connection_limit + SERVE_CONNECTION_HEADROOM are connections refused
 * outright (closed at accept).  Every request is counted in the metrics and
 * written to the access log.
 */
#ifndef MFKV_SERVE_HTTP_H
#define MFKV_SERVE_HTTP_H

#include "common/diag.h"
#include "handler.h"

#define SERVE_CONNECTION_HEADROOM 64u
/* Request line plus headers, per connection (nginx's default for one
 * header line is 8 KiB). */
#define SERVE_HEAD_MAX 16384u

typedef struct serve_http serve_http;

/* Listen on the configured address and start config->threads workers.
 * @return the server, or NULL with @p d filled. */
serve_http *serve_http_start(serve_state *st, mfkv_diag *d);

/* The port listened on (the kernel's pick when the config said 0). */
unsigned serve_http_port(const serve_http *h);

/* Stop accepting connections, let open ones finish for up to @p grace_s
 * seconds, then close them and stop every worker. */
void serve_http_stop(serve_http *h, unsigned grace_s);

/* What one connection would be sent for the byte stream @p in, read @p piece
 * bytes at a time (0: all at once), appended to @p out: the loop's parsing
 * and answering without a socket, deadlines or lingering, for tests and
 * fuzzing.  @return 1 if the server would close the connection after it, 0
 * if it would wait for more, -1 when out of memory. */
int serve_http_replay(serve_state *st, const char *in, size_t len, size_t piece, mfkv_buf *out);

#endif
