#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access_log.h"
#include "linger.h"

/* Per-request state, from the first callback to the completion notice. */
typedef struct request_ctx {
    struct timespec start;
    mfkv_buf body;
    int too_large;
    serve_route_kind route;
    unsigned status;
    size_t bytes;
    char method[16];
    char url[512];
    char version[16];
} request_ctx;

static uint64_t ns_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)(t.tv_sec - t0->tv_sec) * 1000000000u + (uint64_t)t.tv_nsec - (uint64_t)t0->tv_nsec;
}

/* This connection's entry in st->slow (NULL when it could not be made). */
static slow_client *connection_watch(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static enum MHD_Result queue(serve_state *st, struct MHD_Connection *c, request_ctx *rq, serve_response *res)
{
    size_t len;
    char *data = mfkv_buf_take(&res->body, &len);
    struct MHD_Response *r = data ? MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE)
                                  : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    if (res->content_type) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
    if (res->etag[0]) MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, res->etag);
    if (res->cache_control[0]) MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, res->cache_control);
    if (res->allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, res->allow);
    if (res->allow_origin) MHD_add_response_header(r, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, res->allow_origin);
    if (res->vary_origin) MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ORIGIN);
    if (res->preflight && res->allow_origin) {
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, HEAD");
        MHD_add_response_header(r, "Access-Control-Allow-Headers", "If-None-Match");
        MHD_add_response_header(r, "Access-Control-Max-Age", "600");
    }
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (res->status == 503) MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    /* Draining or overloaded: tell keep-alive clients to reconnect later. */
    if (atomic_load(&st->draining) || res->status == 503)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    rq->status = res->status;
    rq->bytes = len;
    slow_client_answered(connection_watch(c));
    enum MHD_Result ok = MHD_queue_response(c, res->status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result queue_error(serve_state *st, struct MHD_Connection *c, request_ctx *rq,
                                   unsigned status, const char *msg)
{
    serve_response res;
    serve_response_init(&res);
    serve_error(&res, status, "%s", msg);
    enum MHD_Result ok = queue(st, c, rq, &res);
    serve_response_free(&res);
    return ok;
}

static request_ctx *begin(struct MHD_Connection *c, const char *url, const char *method, const char *version)
{
    request_ctx *rq = calloc(1, sizeof *rq);
    if (!rq) return NULL;
    clock_gettime(CLOCK_MONOTONIC, &rq->start);
    mfkv_buf_init(&rq->body);
    serve_route r;
    serve_route_parse(url, &r);
    rq->route = r.kind; /* serve_handle sets it again; this is for early 413s */
    snprintf(rq->method, sizeof rq->method, "%s", method);
    snprintf(rq->url, sizeof rq->url, "%s", url);
    snprintf(rq->version, sizeof rq->version, "%s", version);
    return rq;
}

static int declared_too_large(struct MHD_Connection *c, size_t max_body)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl && strtoull(cl, NULL, 10) > max_body;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    serve_state *st = cls;
    request_ctx *rq = *con_cls;
    if (!rq) {
        if (!(rq = begin(c, url, method, version))) return MHD_NO;
        *con_cls = rq;
        unsigned early = 0;
        const char *msg = NULL;
        if (atomic_load(&st->open_connections) > st->config->connection_limit)
            early = 503, msg = "overloaded: more than --connection-limit connections open";
        else if (declared_too_large(c, st->config->max_body)) /* refuse before reading it */
            early = 413, msg = "request body larger than --max-body";
        if (early) {
            /* The body may still be on its way: the close must linger. */
            slow_client *w = connection_watch(c);
            if (w) w->answered_early = 1;
            return queue_error(st, c, rq, early, msg);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (rq->too_large || *upload_size > st->config->max_body - rq->body.len) {
            rq->too_large = 1;
            mfkv_buf_free(&rq->body);
        } else {
            mfkv_buf_put(&rq->body, upload, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->too_large) return queue_error(st, c, rq, 413, "request body larger than --max-body");
    if (mfkv_buf_status(&rq->body)) return queue_error(st, c, rq, 500, "out of memory");

    serve_request req = {
        .method = method,
        .path = url,
        .query_n = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "n"),
        .query_format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format"),
        .query_exclude = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "exclude"),
        .if_none_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
        .origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ORIGIN),
        .body = rq->body.data ? rq->body.data : "",
        .body_len = rq->body.len,
    };
    serve_response res;
    serve_response_init(&res);
    rq->route = serve_handle(st, &req, &res);
    enum MHD_Result ok = queue(st, c, rq, &res);
    serve_response_free(&res);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    serve_state *st = cls;
    request_ctx *rq = *con_cls;
    if (!rq) return;
    *con_cls = NULL;
    uint64_t ns = ns_since(&rq->start);
    /* A request that ended before a response (client gone, timeout) counts
     * as status 0, "other". */
    serve_metrics_request(&st->metrics, rq->route, rq->status, ns);
    slow_client_idle(connection_watch(c));
    if (st->config->access_log) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        serve_access_log(st->config->access_log, ci ? ci->client_addr : NULL, rq->method, rq->url,
                         rq->version, rq->status, rq->bytes, ns);
    }
    mfkv_buf_free(&rq->body);
    free(rq);
}

/* Whether closing now could reset the connection before the client reads
 * the answer: request bytes wait unread (libmicrohttpd's own 431 and 400
 * leave them), or a request was answered before its body came. */
static int must_linger(const slow_client *w)
{
    char byte;
    ssize_t n = recv(w->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return 1;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && w->answered_early;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode what)
{
    serve_state *st = cls;
    if (what == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&st->open_connections, 1);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_ctx = ci ? slow_clients_add(&st->slow, ci->connect_fd) : NULL;
    } else {
        atomic_fetch_sub(&st->open_connections, 1);
        /* libmicrohttpd closes the socket after this notice. */
        slow_client *w = *socket_ctx;
        if (w && st->linger && must_linger(w)) {
            int fd = fcntl(w->fd, F_DUPFD_CLOEXEC, 0);
            if (fd >= 0) serve_linger_add(st->linger, fd);
        }
        slow_clients_remove(&st->slow, w);
        *socket_ctx = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    FILE *log = cls;
    fputs("mfkv serve: http: ", log);
    vfprintf(log, fmt, ap);
    fflush(log);
}

struct MHD_Daemon *serve_http_start(serve_state *st, mfkv_diag *d)
{
    const serve_config *c = st->config;
    /* poll(), not epoll: libmicrohttpd 0.9.75's MHD_quiesce_daemon (the
     * graceful shutdown in serve_http_stop) removes the listening socket
     * from each epoll worker's set while a busy worker may be removing it
     * itself, or may remove it after serve_http_stop closed it.  Neither
     * side holds a lock; the loser's epoll_ctl fails (ENOENT or EBADF) and
     * libmicrohttpd aborts the process: SIGABRT at SIGTERM, "Failed to
     * remove listen FD from epoll set" (daemon.c:5531 or 4940).  With
     * poll() quiescing only sets a flag and wakes the workers, and accept
     * checks that flag first. */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    /* Names ("localhost", a container's hostname) listen on the first
     * address they resolve to, as most servers do. */
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int gai = getaddrinfo(c->listen_host, NULL, &hints, &ai);
    if (gai) {
        mfkv_fail(d, MFKV_INVAL, "--listen: cannot resolve '%s': %s", c->listen_host, gai_strerror(gai));
        return NULL;
    }
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    const void *ip;
    if (addr.ss_family == AF_INET6) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
        v6->sin6_port = htons(c->listen_port);
        ip = &v6->sin6_addr;
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
        v4->sin_port = htons(c->listen_port);
        ip = &v4->sin_addr;
    }
    inet_ntop(addr.ss_family, ip, st->listen_addr, sizeof st->listen_addr);
    struct MHD_Daemon *daemon = MHD_start_daemon(
        flags, c->listen_port, NULL, NULL, on_request, st,
        /* First, so that libmicrohttpd logs nothing through its own logger. */
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, c->log,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(c->threads > 1 ? c->threads : 0),
        MHD_OPTION_CONNECTION_LIMIT, c->connection_limit + SERVE_CONNECTION_HEADROOM,
        MHD_OPTION_CONNECTION_TIMEOUT, c->connection_timeout,
        /* Each connection's memory (request line, headers, read buffer).
         * libmicrohttpd zeroes what it used after every request, and its
         * read buffer grows to fill it, so the default 32 KiB cost a 32 KiB
         * memset per request (7% of the server's CPU per predict in perf).
         * 16 KiB still takes headers of about 14 KiB, more than nginx's
         * default 8 KiB per line; longer ones get 431 as before. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, st,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, st,
        MHD_OPTION_END);
    if (!daemon)
        mfkv_fail_errno(d, "cannot listen on %s port %u", c->listen_host, (unsigned)c->listen_port);
    return daemon;
}

void serve_http_stop(struct MHD_Daemon *daemon, unsigned grace_s)
{
    MHD_socket listen_fd = MHD_quiesce_daemon(daemon);
    if (listen_fd != MHD_INVALID_SOCKET) close(listen_fd);
    struct timespec t0, step = {0, 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (ns_since(&t0) < (uint64_t)grace_s * 1000000000u) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!info || info->num_connections == 0) break;
        nanosleep(&step, NULL);
    }
    MHD_stop_daemon(daemon);
}
